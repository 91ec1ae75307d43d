//! The verifier half of credential activation (TPM2_MakeCredential without a TPM, Part 1 §24):
//! a secret that only the TPM holding the EK can recover, and only for an object named `ak_name`
//! (so recovering it proves the AK lives in the same TPM as the EK). RSA EKs (seed encrypted with
//! RSA-OAEP) and ECC EKs P-256/P-384 (seed from an ephemeral ECDH and KDFe). Output in
//! tpm2-tools' `cred.blob` layout.

use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepPublicEncryptingKey, PublicEncryptingKey,
};
use shomei_core::{ParseError, Reader};

use crate::Error;
use crate::alg::HashAlg;
use crate::keys::AttestationKey;
use crate::structures::{Public, PublicKeyParams};

/// The result of MakeCredential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// TPM2B_ID_OBJECT contents: TPM2B_DIGEST(integrityHMAC) ‖ encIdentity.
    pub id_object: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET contents: the seed, RSA-OAEP-encrypted to the EK.
    pub encrypted_secret: Vec<u8>,
}

fn hmac_alg(h: HashAlg) -> hmac::Algorithm {
    match h {
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    }
}

/// KDFa (Part 1 §11.4.10.2, SP800-108 counter mode with HMAC): `bits` of key material.
pub fn kdfa(
    hash: HashAlg,
    key: &[u8],
    label: &str,
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    let k = hmac::Key::new(hmac_alg(hash), key);
    let want = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
    let mut out = Vec::with_capacity(want);
    let mut counter: u32 = 1;
    while out.len() < want {
        let mut c = hmac::Context::with_key(&k);
        c.update(&counter.to_be_bytes());
        c.update(label.as_bytes());
        c.update(&[0]);
        c.update(context_u);
        c.update(context_v);
        c.update(&bits.to_be_bytes());
        out.extend_from_slice(c.sign().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(want);
    out
}

fn u16_len(b: &[u8]) -> Result<[u8; 2], Error> {
    u16::try_from(b.len())
        .map(u16::to_be_bytes)
        .map_err(|_| Error::Unsupported("value longer than a TPM2B".into()))
}

/// MakeCredential with a random seed.
pub fn make_credential(
    ek: &Public<'_>,
    ak_name: &[u8],
    secret: &[u8],
) -> Result<Credential, Error> {
    let mut seed = vec![0u8; ek.name_alg.len()];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| Error::Crypto("random seed"))?;
    make_credential_with_seed(ek, ak_name, secret, &seed)
}

/// MakeCredential with a given seed (deterministic for RSA EKs, for tests; use
/// [`make_credential`]). For an ECC EK the seed comes from ECDH and `seed` is ignored.
pub fn make_credential_with_seed(
    ek: &Public<'_>,
    ak_name: &[u8],
    secret: &[u8],
    seed: &[u8],
) -> Result<Credential, Error> {
    if secret.len() > ek.name_alg.len() {
        return Err(Error::Unsupported(
            "the credential is longer than the EK's name digest".into(),
        ));
    }
    let sym = ek
        .symmetric
        .ok_or_else(|| Error::Unsupported("EK without a symmetric algorithm".into()))?;
    const AES: u16 = 0x0006;
    const CFB: u16 = 0x0043;
    if sym.alg != AES || sym.mode != CFB {
        return Err(Error::Unsupported(
            "EK symmetric algorithm is not AES-CFB".into(),
        ));
    }
    let h = ek.name_alg;
    if let PublicKeyParams::Ecc { .. } = ek.params {
        // ECC EKs: the seed comes from an ephemeral ECDH; `seed` is not used.
        let (seed, point) = ecc_seed(ek)?;
        let mut c = credential_from_seed(ek, ak_name, secret, &seed, sym)?;
        c.encrypted_secret = point;
        return Ok(c);
    }
    // Seed, encrypted to the EK with OAEP (label "IDENTITY\0").
    let spki = AttestationKey::from_public(ek)?.to_spki_der()?;
    let pk = PublicEncryptingKey::from_der(&spki)
        .map_err(|_| Error::Unsupported("EK RSA key".into()))?;
    let oaep = OaepPublicEncryptingKey::new(pk).map_err(|_| Error::Crypto("OAEP key"))?;
    let alg = match h {
        HashAlg::Sha1 => &OAEP_SHA1_MGF1SHA1,
        HashAlg::Sha256 => &OAEP_SHA256_MGF1SHA256,
        HashAlg::Sha384 => &OAEP_SHA384_MGF1SHA384,
        HashAlg::Sha512 => &OAEP_SHA512_MGF1SHA512,
    };
    let mut ct = vec![0u8; oaep.ciphertext_size()];
    let encrypted_secret = oaep
        .encrypt(alg, seed, &mut ct, Some(b"IDENTITY\0"))
        .map_err(|_| Error::Crypto("OAEP encryption"))?
        .to_vec();
    let mut c = credential_from_seed(ek, ak_name, secret, seed, sym)?;
    c.encrypted_secret = encrypted_secret;
    Ok(c)
}

/// ECDH with a fresh ephemeral key against the EK's point (Part 1 §C.6.4): returns the seed
/// KDFe(nameAlg, Z, "IDENTITY", Qe.x, QEK.x) and the TPMS_ECC_POINT of the ephemeral key.
fn ecc_seed(ek: &Public<'_>) -> Result<(Vec<u8>, Vec<u8>), Error> {
    use aws_lc_rs::agreement::{
        self, ECDH_P256, ECDH_P384, EphemeralPrivateKey, UnparsedPublicKey,
    };
    let key = AttestationKey::from_public(ek)?;
    let crate::keys::KeyMaterial::Ecc { curve, point } = &key.material else {
        return Err(Error::Unsupported("EK is not an ECC key".into()));
    };
    let (alg, len) = match curve {
        crate::structures::Curve::P256 => (&ECDH_P256, 32usize),
        crate::structures::Curve::P384 => (&ECDH_P384, 48usize),
    };
    let eph = EphemeralPrivateKey::generate(alg, &SystemRandom::new())
        .map_err(|_| Error::Crypto("ephemeral ECDH key"))?;
    let qe = eph
        .compute_public_key()
        .map_err(|_| Error::Crypto("ephemeral ECDH key"))?;
    let qe = qe.as_ref();
    let (qe_x, qe_y) = (
        qe.get(1..=len).ok_or(Error::Crypto("ephemeral point"))?,
        qe.get(len.saturating_add(1)..)
            .ok_or(Error::Crypto("ephemeral point"))?,
    );
    let ek_x = point.get(1..=len).ok_or(Error::Crypto("EK point"))?;
    let z = agreement::agree_ephemeral(
        eph,
        UnparsedPublicKey::new(alg, point),
        Error::Unsupported("the EK's ECC point is not on its curve".into()),
        |z| Ok(z.to_vec()),
    )?;
    let bits = u32::try_from(ek.name_alg.len().saturating_mul(8)).unwrap_or(0);
    let seed = kdfe(ek.name_alg, &z, "IDENTITY", qe_x, ek_x, bits);
    let mut pt = u16_len(qe_x)?.to_vec();
    pt.extend_from_slice(qe_x);
    pt.extend_from_slice(&u16_len(qe_y)?);
    pt.extend_from_slice(qe_y);
    Ok((seed, pt))
}

/// KDFe (Part 1 §11.4.10.3, SP800-56A concatenation KDF): `bits` of key material from the
/// shared x-coordinate `z`.
pub fn kdfe(
    hash: HashAlg,
    z: &[u8],
    label: &str,
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    let want = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
    let mut out = Vec::with_capacity(want);
    let mut counter: u32 = 1;
    while out.len() < want {
        let mut c = hash.context();
        c.update(&counter.to_be_bytes());
        c.update(z);
        c.update(label.as_bytes());
        c.update(&[0]);
        c.update(party_u);
        c.update(party_v);
        out.extend_from_slice(c.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(want);
    out
}

/// The ID object for `seed` (the part of MakeCredential shared by RSA and ECC EKs).
fn credential_from_seed(
    ek: &Public<'_>,
    ak_name: &[u8],
    secret: &[u8],
    seed: &[u8],
    sym: crate::structures::SymDef,
) -> Result<Credential, Error> {
    let h = ek.name_alg;
    // encIdentity = AES-CFB(KDFa(STORAGE, name), IV 0)(TPM2B_DIGEST(credential)).
    let sym_key = kdfa(h, seed, "STORAGE", ak_name, &[], u32::from(sym.key_bits));
    let cipher = match sym.key_bits {
        128 => &AES_128,
        256 => &AES_256,
        _ => return Err(Error::Unsupported("AES key size".into())),
    };
    let key = UnboundCipherKey::new(cipher, &sym_key).map_err(|_| Error::Crypto("AES key"))?;
    let enc = EncryptingKey::cfb128(key).map_err(|_| Error::Crypto("AES-CFB"))?;
    let mut enc_identity = u16_len(secret)?.to_vec();
    enc_identity.extend_from_slice(secret);
    enc.less_safe_encrypt(
        &mut enc_identity,
        EncryptionContext::Iv128([0u8; 16].into()),
    )
    .map_err(|_| Error::Crypto("AES-CFB encryption"))?;
    // outerHMAC = HMAC(KDFa(INTEGRITY), encIdentity ‖ name).
    let bits = u32::try_from(h.len().saturating_mul(8)).unwrap_or(0);
    let hmac_key = kdfa(h, seed, "INTEGRITY", &[], &[], bits);
    let mut c = hmac::Context::with_key(&hmac::Key::new(hmac_alg(h), &hmac_key));
    c.update(&enc_identity);
    c.update(ak_name);
    let outer = c.sign();
    let mut id_object = u16_len(outer.as_ref())?.to_vec();
    id_object.extend_from_slice(outer.as_ref());
    id_object.extend_from_slice(&enc_identity);
    Ok(Credential {
        id_object,
        encrypted_secret: Vec::new(),
    })
}

const BLOB_MAGIC: u32 = 0xBADC_C0DE;

impl Credential {
    /// tpm2-tools' file: 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
    pub fn to_tpm2_tools_blob(&self) -> Result<Vec<u8>, Error> {
        let mut out = BLOB_MAGIC.to_be_bytes().to_vec();
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&u16_len(&self.id_object)?);
        out.extend_from_slice(&self.id_object);
        out.extend_from_slice(&u16_len(&self.encrypted_secret)?);
        out.extend_from_slice(&self.encrypted_secret);
        Ok(out)
    }

    /// Reads tpm2-tools' `cred.blob`.
    pub fn from_tpm2_tools_blob(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let at = r.offset();
        let magic = r.u32_be("cred.blob magic")?;
        if magic != BLOB_MAGIC {
            return Err(ParseError::new(
                "cred.blob magic",
                at,
                shomei_core::ParseErrorKind::InvalidValue {
                    value: u64::from(magic),
                },
            ));
        }
        let at = r.offset();
        let v = r.u32_be("cred.blob version")?;
        if v != 1 {
            return Err(ParseError::new(
                "cred.blob version",
                at,
                shomei_core::ParseErrorKind::UnsupportedVersion { found: v },
            ));
        }
        let n = usize::from(r.u16_be("TPM2B_ID_OBJECT.size")?);
        let id_object = r.take(n, "TPM2B_ID_OBJECT.credential")?.to_vec();
        let n = usize::from(r.u16_be("TPM2B_ENCRYPTED_SECRET.size")?);
        let encrypted_secret = r.take(n, "TPM2B_ENCRYPTED_SECRET.secret")?.to_vec();
        r.finish("cred.blob")?;
        Ok(Self {
            id_object,
            encrypted_secret,
        })
    }
}
