//! Secret release (DESIGN.md flow 6): a secret encrypted to the public key that the attested
//! evidence binds, as a JWE (RFC 7516) compact serialisation with `alg` = `ECDH-ES+A256KW`
//! (RFC 7518 §4.6) and `enc` = `A256GCM`, on P-256.
//!
//! Why JWE ECDH-ES+A256KW and not HPKE (RFC 9180): every JOSE library (jose, jwcrypto,
//! go-jose, Nimbus) decrypts it, trustee's KBS speaks it, and it needs only primitives that
//! aws-lc-rs already gives us (ECDH P-256, AES key wrap, AES-GCM, SHA-256). aws-lc-rs does not
//! expose HPKE, and the HPKE crates would add a second elliptic-curve stack.
//!
//! The key a TEE binds is its P-256 public key as the uncompressed SEC1 point
//! (`04 ‖ x ‖ y`, 65 bytes); on the wire it is an EC JWK. REPORT_DATA =
//! `SHA-512(nonce ‖ point)` (see [`crate::appraise::report_data`]).
//!
//! Steps: an ephemeral key pair; Z = ECDH(ephemeral, recipient); KEK = Concat KDF (NIST SP
//! 800-56A, SHA-256) over Z with AlgorithmID = "ECDH-ES+A256KW", empty PartyUInfo/PartyVInfo
//! and SuppPubInfo = 256; a random 256-bit CEK wrapped with AES-KW (RFC 3394); the payload
//! sealed with AES-256-GCM under the CEK, a random 96-bit IV and AAD = the encoded protected
//! header.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The longest JWE [`decrypt`] reads.
pub const MAX_JWE_LEN: usize = 1 << 22;

/// Why a JWE could not be produced or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    #[error("public key: {0}")]
    PublicKey(&'static str),
    #[error("not a JWE compact serialisation: {0}")]
    Format(&'static str),
    #[error("{part} is not valid base64url or JSON")]
    Encoding { part: &'static str },
    #[error("unsupported {field} {value:?} (expected {expected})")]
    Unsupported {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the content encryption key does not unwrap: not encrypted to this key, or altered")]
    Unwrap,
    #[error("the ciphertext does not authenticate: altered, or not for this key")]
    Decrypt,
    #[error("cryptographic failure")]
    Crypto,
}

/// An EC P-256 public key as a JWK (RFC 7518 §6.2.1), public part only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl EcJwk {
    /// The JWK of an uncompressed SEC1 P-256 point.
    pub fn from_point(point: &[u8]) -> Result<Self, JweError> {
        match point {
            [4, rest @ ..] if rest.len() == 64 => {
                let (x, y) = rest.split_at(32);
                Ok(Self {
                    kty: "EC".into(),
                    crv: "P-256".into(),
                    x: Base64UrlUnpadded::encode_string(x),
                    y: Base64UrlUnpadded::encode_string(y),
                })
            }
            _ => Err(JweError::PublicKey(
                "expected an uncompressed P-256 point (65 bytes, 04 ‖ x ‖ y)",
            )),
        }
    }

    /// The uncompressed SEC1 point (`04 ‖ x ‖ y`); checks kty, crv and the coordinate sizes
    /// (whether the point is on the curve is checked when it is used).
    pub fn to_point(&self) -> Result<Vec<u8>, JweError> {
        if self.kty != "EC" {
            return Err(JweError::PublicKey("kty must be \"EC\""));
        }
        if self.crv != "P-256" {
            return Err(JweError::PublicKey("crv must be \"P-256\""));
        }
        let x = Base64UrlUnpadded::decode_vec(&self.x)
            .map_err(|_| JweError::PublicKey("x is not base64url"))?;
        let y = Base64UrlUnpadded::decode_vec(&self.y)
            .map_err(|_| JweError::PublicKey("y is not base64url"))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(JweError::PublicKey("x and y must be 32 bytes each"));
        }
        let mut p = Vec::with_capacity(65);
        p.push(4);
        p.extend_from_slice(&x);
        p.extend_from_slice(&y);
        Ok(p)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    enc: String,
    epk: EcJwk,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cty: Option<String>,
}

const ALG: &str = "ECDH-ES+A256KW";
const ENC: &str = "A256GCM";

/// Concat KDF (NIST SP 800-56A §5.8.1, RFC 7518 §4.6.2) for a 256-bit key: one SHA-256 round.
fn concat_kdf(z: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&1u32.to_be_bytes());
    ctx.update(z);
    // AlgorithmID, PartyUInfo, PartyVInfo: 32-bit big-endian length, then the bytes.
    let alg = ALG.as_bytes();
    ctx.update(&u32::try_from(alg.len()).unwrap_or(0).to_be_bytes());
    ctx.update(alg);
    ctx.update(&0u32.to_be_bytes());
    ctx.update(&0u32.to_be_bytes());
    // SuppPubInfo: keydatalen in bits.
    ctx.update(&256u32.to_be_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Encrypts `plaintext` to the P-256 public key `recipient` (uncompressed SEC1 point).
pub fn encrypt(recipient: &[u8], plaintext: &[u8], kid: Option<&str>) -> Result<String, JweError> {
    let rng = SystemRandom::new();
    let eph = PrivateKey::generate(&ECDH_P256).map_err(|_| JweError::Crypto)?;
    let epk = eph.compute_public_key().map_err(|_| JweError::Crypto)?;
    let kek = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&ECDH_P256, recipient),
        JweError::PublicKey("not a point on P-256"),
        |z| Ok(concat_kdf(z)),
    )?;
    let header = Header {
        alg: ALG.into(),
        enc: ENC.into(),
        epk: EcJwk::from_point(epk.as_ref())?,
        kid: kid.map(str::to_owned),
        cty: None,
    };
    let header_b64 = Base64UrlUnpadded::encode_string(
        &serde_json::to_vec(&header).map_err(|_| JweError::Crypto)?,
    );
    let mut cek = Zeroizing::new([0u8; 32]);
    rng.fill(cek.as_mut()).map_err(|_| JweError::Crypto)?;
    let mut wrapped = [0u8; 40];
    let wrapped = AesKek::new(&AES_256, kek.as_ref())
        .and_then(|k| k.wrap(cek.as_ref(), &mut wrapped))
        .map_err(|_| JweError::Crypto)?;
    let mut iv = [0u8; 12];
    rng.fill(&mut iv).map_err(|_| JweError::Crypto)?;
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, cek.as_ref()).map_err(|_| JweError::Crypto)?,
    );
    let mut ct = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(header_b64.as_bytes()),
            &mut ct,
        )
        .map_err(|_| JweError::Crypto)?;
    Ok(format!(
        "{header_b64}.{}.{}.{}.{}",
        Base64UrlUnpadded::encode_string(wrapped),
        Base64UrlUnpadded::encode_string(&iv),
        Base64UrlUnpadded::encode_string(&ct),
        Base64UrlUnpadded::encode_string(tag.as_ref()),
    ))
}

fn part(s: &str, name: &'static str) -> Result<Vec<u8>, JweError> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| JweError::Encoding { part: name })
}

/// Decrypts a JWE produced by [`encrypt`] (or any ECDH-ES+A256KW / A256GCM JWE on P-256) with
/// the recipient's private key.
pub fn decrypt(recipient: &PrivateKey, jwe: &str) -> Result<Zeroizing<Vec<u8>>, JweError> {
    if jwe.len() > MAX_JWE_LEN {
        return Err(JweError::Format("longer than the limit"));
    }
    let parts: Vec<&str> = jwe.trim().split('.').collect();
    let [h, ek, iv, ct, tag] = parts.as_slice() else {
        return Err(JweError::Format("expected five dot-separated parts"));
    };
    let header: Header =
        serde_json::from_slice(&part(h, "protected header")?).map_err(|_| JweError::Encoding {
            part: "protected header",
        })?;
    if header.alg != ALG {
        return Err(JweError::Unsupported {
            field: "alg",
            value: header.alg,
            expected: ALG,
        });
    }
    if header.enc != ENC {
        return Err(JweError::Unsupported {
            field: "enc",
            value: header.enc,
            expected: ENC,
        });
    }
    let epk = header.epk.to_point()?;
    let kek = agreement::agree(
        recipient,
        UnparsedPublicKey::new(&ECDH_P256, &epk),
        JweError::PublicKey("epk is not a point on P-256"),
        |z| Ok(concat_kdf(z)),
    )?;
    let ek = part(ek, "encrypted key")?;
    if ek.len() != 40 {
        return Err(JweError::Unwrap);
    }
    let mut cek = Zeroizing::new([0u8; 32]);
    AesKek::new(&AES_256, kek.as_ref())
        .and_then(|k| k.unwrap(&ek, cek.as_mut()).map(|_| ()))
        .map_err(|_| JweError::Unwrap)?;
    let iv: [u8; 12] = part(iv, "iv")?
        .try_into()
        .map_err(|_| JweError::Format("the IV must be 96 bits"))?;
    let tag = part(tag, "tag")?;
    if tag.len() != 16 {
        return Err(JweError::Format("the tag must be 128 bits"));
    }
    let mut buf = Zeroizing::new(part(ct, "ciphertext")?);
    buf.extend_from_slice(&tag);
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, cek.as_ref()).map_err(|_| JweError::Crypto)?,
    );
    let n = key
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(h.as_bytes()),
            buf.as_mut(),
        )
        .map_err(|_| JweError::Decrypt)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn keypair() -> (PrivateKey, Vec<u8>) {
        let k = PrivateKey::generate(&ECDH_P256).unwrap();
        let p = k.compute_public_key().unwrap().as_ref().to_vec();
        (k, p)
    }

    #[test]
    fn round_trip_and_tamper() {
        let (k, p) = keypair();
        let jwe = encrypt(&p, b"the secret", Some("s1")).unwrap();
        assert_eq!(decrypt(&k, &jwe).unwrap().as_slice(), b"the secret");
        // Another key cannot open it.
        let (k2, _) = keypair();
        assert_eq!(decrypt(&k2, &jwe), Err(JweError::Unwrap));
        // Every part altered is refused.
        let parts: Vec<&str> = jwe.split('.').collect();
        for i in 0..5 {
            let mut ps: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
            let mut bytes = Base64UrlUnpadded::decode_vec(&ps[i]).unwrap();
            if bytes.is_empty() {
                continue;
            }
            let j = bytes.len() / 2;
            bytes[j] ^= 1;
            ps[i] = Base64UrlUnpadded::encode_string(&bytes);
            assert!(decrypt(&k, &ps.join(".")).is_err(), "part {i} altered");
        }
    }

    #[test]
    fn jwk_round_trip_and_bad_keys() {
        let (_, p) = keypair();
        let jwk = EcJwk::from_point(&p).unwrap();
        assert_eq!(jwk.to_point().unwrap(), p);
        assert!(EcJwk::from_point(&p[1..]).is_err());
        let mut off = p.clone();
        off[64] ^= 1; // no longer on the curve
        assert!(matches!(
            encrypt(&off, b"x", None),
            Err(JweError::PublicKey(_))
        ));
        let mut bad = jwk.clone();
        bad.crv = "P-384".into();
        assert!(bad.to_point().is_err());
    }
}
