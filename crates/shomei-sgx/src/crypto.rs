//! The primitives the SDK uses, over aws-lc-rs: AES-128-CMAC (`sgx_rijndael128_cmac_msg`),
//! SHA-256, ECDH P-256 with the SDK's little-endian encodings (`sgx_ec256_public_t` = gx ‖ gy,
//! each 32 B little-endian; the shared secret is the x-coordinate, little-endian), and the
//! SDK's key derivation (`common/src/ecp.cpp derive_key`).

use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::{cmac, digest};
use zeroize::Zeroizing;

use crate::error::Error;

/// A 128-bit key (report key, SMK, AEK, seal key) that is zeroised when dropped.
#[derive(Clone)]
pub struct Key128(Zeroizing<[u8; 16]>);

impl Key128 {
    pub(crate) fn new(bytes: [u8; 16]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes. Keep them inside the enclave.
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

impl core::fmt::Debug for Key128 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key128(..)")
    }
}

fn cmac_key(key: &[u8; 16]) -> Result<cmac::Key, Error> {
    cmac::Key::new(cmac::AES_128, key).map_err(|_| Error::Crypto("AES-128-CMAC key"))
}

/// AES-128-CMAC over the concatenation of `parts`.
pub(crate) fn cmac(key: &[u8; 16], parts: &[&[u8]]) -> Result<[u8; 16], Error> {
    let k = cmac_key(key)?;
    let mut ctx = cmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p).map_err(|_| Error::Crypto("AES-128-CMAC"))?;
    }
    let tag = ctx.sign().map_err(|_| Error::Crypto("AES-128-CMAC"))?;
    let mut out = [0u8; 16];
    if tag.as_ref().len() != out.len() {
        return Err(Error::Crypto("AES-128-CMAC tag length"));
    }
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Constant-time check of an AES-128-CMAC tag over the concatenation of `parts`.
pub(crate) fn cmac_verify(key: &[u8; 16], parts: &[&[u8]], tag: &[u8; 16]) -> Result<bool, Error> {
    let k = cmac_key(key)?;
    let mut ctx = cmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p).map_err(|_| Error::Crypto("AES-128-CMAC"))?;
    }
    Ok(ctx.verify(tag).is_ok())
}

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let d = ctx.finish();
    let mut out = [0u8; 32];
    if d.as_ref().len() == out.len() {
        out.copy_from_slice(d.as_ref());
    }
    out
}

/// The SDK's KDF: KDK = CMAC(0¹²⁸, shared_LE); key = CMAC(KDK, 0x01 ‖ label ‖ 0x00 ‖ 0x0080 LE).
pub(crate) fn derive_key(shared_le: &[u8; 32], label: &[u8]) -> Result<Key128, Error> {
    let kdk = Zeroizing::new(cmac(&[0u8; 16], &[shared_le])?);
    let key = cmac(&kdk, &[&[0x01], label, &[0x00, 0x80, 0x00]])?;
    Ok(Key128::new(key))
}

/// `sgx_ec256_public_t`: gx ‖ gy, each 32 bytes little-endian.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EcPublicKey(pub [u8; 64]);

impl EcPublicKey {
    /// The uncompressed SEC1 encoding (0x04 ‖ x BE ‖ y BE).
    pub fn to_sec1(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let (tag, rest) = out.split_at_mut(1);
        let (x, y) = rest.split_at_mut(32);
        let (gx, gy) = self.0.split_at(32);
        tag.copy_from_slice(&[0x04]);
        x.copy_from_slice(gx);
        y.copy_from_slice(gy);
        x.reverse();
        y.reverse();
        out
    }

    /// From an uncompressed SEC1 point.
    pub fn from_sec1(sec1: &[u8]) -> Option<Self> {
        let (tag, rest) = sec1.split_first()?;
        if *tag != 0x04 || rest.len() != 64 {
            return None;
        }
        let mut out = [0u8; 64];
        let (x, y) = out.split_at_mut(32);
        let (sx, sy) = rest.split_at(32);
        x.copy_from_slice(sx);
        y.copy_from_slice(sy);
        x.reverse();
        y.reverse();
        Some(Self(out))
    }
}

impl core::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EcPublicKey({})", hex::encode(self.0))
    }
}

/// An ephemeral ECDH P-256 key pair. aws-lc frees (and cleanses) the scalar on drop.
pub(crate) struct Ephemeral {
    key: agreement::PrivateKey,
    public: EcPublicKey,
}

impl Ephemeral {
    pub(crate) fn generate() -> Result<Self, Error> {
        let key = agreement::PrivateKey::generate(&ECDH_P256)
            .map_err(|_| Error::Crypto("P-256 key generation"))?;
        Self::with_key(key)
    }

    /// A fixed scalar (big-endian), for known-answer tests.
    #[cfg(test)]
    pub(crate) fn from_scalar(be: &[u8; 32]) -> Result<Self, Error> {
        let key = agreement::PrivateKey::from_private_key(&ECDH_P256, be)
            .map_err(|_| Error::Crypto("P-256 private key"))?;
        Self::with_key(key)
    }

    fn with_key(key: agreement::PrivateKey) -> Result<Self, Error> {
        let public = key
            .compute_public_key()
            .map_err(|_| Error::Crypto("P-256 public key"))?;
        let public =
            EcPublicKey::from_sec1(public.as_ref()).ok_or(Error::Crypto("P-256 public key"))?;
        Ok(Self { key, public })
    }

    pub(crate) fn public(&self) -> EcPublicKey {
        self.public
    }

    /// ECDH with the peer's key: the shared x-coordinate, little-endian. `None` when the peer's
    /// key is not a point on P-256.
    pub(crate) fn agree(&self, peer: &EcPublicKey) -> Option<Zeroizing<[u8; 32]>> {
        let sec1 = peer.to_sec1();
        agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, &sec1[..]),
            (),
            |x_be| {
                let mut out = Zeroizing::new([0u8; 32]);
                if x_be.len() != 32 {
                    return Err(());
                }
                out.copy_from_slice(x_be);
                out.reverse();
                Ok(out)
            },
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4493 test vectors for AES-128-CMAC, to pin that the aws-lc-rs CMAC is the SDK's.
    #[test]
    fn cmac_matches_rfc4493() {
        let key: [u8; 16] = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(cmac(&key, &[]).unwrap()),
            "bb1d6929e95937287fa37d129b756746"
        );
        let m = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(
            hex::encode(cmac(&key, &[&m[..7], &m[7..]]).unwrap()),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
        let tag: [u8; 16] = hex::decode("070a16b46b4d4144f79bdd9dd04a287c")
            .unwrap()
            .try_into()
            .unwrap();
        assert!(cmac_verify(&key, &[&m], &tag).unwrap());
        let mut bad = tag;
        bad[0] ^= 1;
        assert!(!cmac_verify(&key, &[&m], &bad).unwrap());
    }

    #[test]
    fn sec1_round_trip_reverses_each_coordinate() {
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1] = 0xAA; // most significant byte of x
        sec1[64] = 0xBB; // least significant byte of y
        let p = EcPublicKey::from_sec1(&sec1).unwrap();
        assert_eq!(p.0[31], 0xAA);
        assert_eq!(p.0[32], 0xBB);
        assert_eq!(p.to_sec1(), sec1);
        assert!(EcPublicKey::from_sec1(&sec1[..64]).is_none());
    }

    #[test]
    fn agreement_rejects_points_off_the_curve() {
        let e = Ephemeral::generate().unwrap();
        assert!(e.agree(&EcPublicKey([0x42; 64])).is_none());
        let other = Ephemeral::generate().unwrap();
        let a = e.agree(&other.public()).unwrap();
        let b = other.agree(&e.public()).unwrap();
        assert_eq!(*a, *b);
    }
}
