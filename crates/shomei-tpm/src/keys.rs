//! Attestation keys (from a TPM2B_PUBLIC or a PEM/DER SubjectPublicKeyInfo) and signature
//! verification with aws-lc-rs. RSA-PSS salt lengths other than the hash length (which aws-lc-rs
//! does not verify) go through [`pss_verify_any_salt`], RFC 8017 §9.1.2 with the salt length
//! recovered from the encoded message.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use der::{Decode, Encode};
use num_bigint::BigUint;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::Error;
use crate::alg::HashAlg;
use crate::structures::{ALG_ECDSA, ALG_RSAPSS, ALG_RSASSA, Curve, Public, PublicKeyParams};

/// The key material of a verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point.
    Ecc { curve: Curve, point: Vec<u8> },
}

/// A key that verifies TPM signatures, with what the TPM said about it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationKey {
    pub material: KeyMaterial,
    /// The key's signing scheme and hash from its TPMT_PUBLIC (None for a PEM key).
    pub scheme: Option<(u16, HashAlg)>,
    /// The TPM object name (None for a PEM key).
    pub name: Option<Vec<u8>>,
    /// TPMA_OBJECT (None for a PEM key).
    pub attributes: Option<u32>,
}

fn strip(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or(&[]).to_vec()
}

fn pad_left(b: &[u8], len: usize) -> Option<Vec<u8>> {
    let s = strip(b);
    if s.len() > len {
        return None;
    }
    let mut out = vec![0u8; len.saturating_sub(s.len())];
    out.extend_from_slice(&s);
    Some(out)
}

const OID_RSA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");

#[derive(der::Sequence)]
struct RsaPublicKeyRef<'a> {
    n: der::asn1::UintRef<'a>,
    e: der::asn1::UintRef<'a>,
}

impl AttestationKey {
    /// From a parsed TPMT_PUBLIC (RSA or ECC P-256/P-384).
    pub fn from_public(p: &Public<'_>) -> Result<Self, Error> {
        let (material, scheme) = match &p.params {
            PublicKeyParams::Rsa {
                scheme,
                scheme_hash,
                exponent,
                modulus,
                ..
            } => {
                let e = if *exponent == 0 { 65537 } else { *exponent };
                (
                    KeyMaterial::Rsa {
                        n: strip(modulus),
                        e: strip(&e.to_be_bytes()),
                    },
                    scheme_hash.map(|h| (*scheme, h)),
                )
            }
            PublicKeyParams::Ecc {
                scheme,
                scheme_hash,
                curve_id,
                x,
                y,
            } => {
                let curve = Curve::from_id(*curve_id)
                    .ok_or_else(|| Error::Unsupported(format!("ECC curve {curve_id:#06x}")))?;
                let len = curve.field_len();
                let (Some(x), Some(y)) = (pad_left(x, len), pad_left(y, len)) else {
                    return Err(Error::Unsupported(
                        "ECC point coordinate longer than the field".into(),
                    ));
                };
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (
                    KeyMaterial::Ecc { curve, point },
                    scheme_hash.map(|h| (*scheme, h)),
                )
            }
        };
        Ok(Self {
            material,
            scheme,
            name: Some(p.name()),
            attributes: Some(p.attributes),
        })
    }

    /// From a TPM2B_PUBLIC (`tpm2_readpublic -f tss`).
    pub fn from_tpm2b_public(bytes: &[u8]) -> Result<Self, Error> {
        let p = Public::parse_tpm2b(bytes)?;
        Self::from_public(&p)
    }

    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<Self, Error> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der_bytes)
            .map_err(|e| Error::Unsupported(format!("SubjectPublicKeyInfo: {e}")))?;
        Self::from_spki(&spki)
    }

    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, Error> {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Unsupported("unaligned key bit string".into()))?;
        let material = match spki.algorithm.oid {
            OID_RSA => {
                let k = RsaPublicKeyRef::from_der(bits)
                    .map_err(|e| Error::Unsupported(format!("RSAPublicKey: {e}")))?;
                KeyMaterial::Rsa {
                    n: strip(k.n.as_bytes()),
                    e: strip(k.e.as_bytes()),
                }
            }
            OID_EC => {
                let curve: der::asn1::ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .ok_or_else(|| Error::Unsupported("EC key without a curve".into()))?
                    .decode_as()
                    .map_err(|e| Error::Unsupported(format!("EC curve: {e}")))?;
                let curve = match curve {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    other => return Err(Error::Unsupported(format!("EC curve {other}"))),
                };
                KeyMaterial::Ecc {
                    curve,
                    point: bits.to_vec(),
                }
            }
            other => return Err(Error::Unsupported(format!("key algorithm {other}"))),
        };
        Ok(Self {
            material,
            scheme: None,
            name: None,
            attributes: None,
        })
    }

    /// From PEM (`PUBLIC KEY`) or DER SPKI, or a TPM2B_PUBLIC.
    pub fn from_any(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.windows(10).any(|w| w == b"-----BEGIN") {
            let blocks = shomei_core::x509::pem_blocks(bytes, "PUBLIC KEY")
                .map_err(|e| Error::Unsupported(e.to_string()))?;
            let der_bytes = blocks
                .first()
                .ok_or_else(|| Error::Unsupported("no PUBLIC KEY PEM block".into()))?;
            return Self::from_spki_der(der_bytes);
        }
        if bytes.first() == Some(&0x30) {
            if let Ok(k) = Self::from_spki_der(bytes) {
                return Ok(k);
            }
        }
        Self::from_tpm2b_public(bytes)
    }

    /// The key as a DER SubjectPublicKeyInfo (for EK matching and PEM output).
    pub fn to_spki_der(&self) -> Result<Vec<u8>, Error> {
        let enc = |e: der::Error| Error::Unsupported(format!("DER encoding: {e}"));
        let spki = match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let mut nn = vec![0u8];
                nn.extend_from_slice(n);
                let inner = RsaPublicKeyRef {
                    n: der::asn1::UintRef::new(&nn).map_err(enc)?,
                    e: der::asn1::UintRef::new(e).map_err(enc)?,
                }
                .to_der()
                .map_err(enc)?;
                SubjectPublicKeyInfoOwned {
                    algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                        oid: OID_RSA,
                        parameters: Some(der::Any::null()),
                    },
                    subject_public_key: der::asn1::BitString::from_bytes(&inner).map_err(enc)?,
                }
            }
            KeyMaterial::Ecc { curve, point } => {
                let c = match curve {
                    Curve::P256 => OID_P256,
                    Curve::P384 => OID_P384,
                };
                SubjectPublicKeyInfoOwned {
                    algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                        oid: OID_EC,
                        parameters: Some(der::Any::encode_from(&c).map_err(enc)?),
                    },
                    subject_public_key: der::asn1::BitString::from_bytes(point).map_err(enc)?,
                }
            }
        };
        spki.to_der().map_err(enc)
    }

    /// The default scheme for a plain signature: the key's own, else RSASSA/ECDSA with SHA-256.
    pub fn default_scheme(&self) -> (u16, HashAlg) {
        self.scheme.unwrap_or(match self.material {
            KeyMaterial::Rsa { .. } => (ALG_RSASSA, HashAlg::Sha256),
            KeyMaterial::Ecc { .. } => (ALG_ECDSA, HashAlg::Sha256),
        })
    }

    /// The modulus length in bytes (RSA).
    pub fn rsa_len(&self) -> Option<usize> {
        match &self.material {
            KeyMaterial::Rsa { n, .. } => Some(n.len()),
            KeyMaterial::Ecc { .. } => None,
        }
    }
}

/// What verified a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    RsaSsa,
    /// RSA-PSS with this salt length.
    RsaPss {
        salt_len: usize,
    },
    Ecdsa,
}

pub(crate) fn verify_rsa_pkcs1(
    n: &[u8],
    e: &[u8],
    hash: HashAlg,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), ()> {
    let params = match hash {
        HashAlg::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
    };
    RsaPublicKeyComponents { n, e }
        .verify(params, msg, sig)
        .map_err(|_| ())
}

/// RSA-PSS: aws-lc-rs first (salt = hash length, what libtpms and FIPS TPMs use), then any salt
/// length (the TPM spec's "largest allowed") by [`pss_verify_any_salt`].
pub(crate) fn verify_rsa_pss(
    n: &[u8],
    e: &[u8],
    hash: HashAlg,
    msg: &[u8],
    sig: &[u8],
) -> Result<usize, ()> {
    let params = match hash {
        HashAlg::Sha1 => None,
        HashAlg::Sha256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
        HashAlg::Sha384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
        HashAlg::Sha512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
    };
    if let Some(p) = params {
        if (RsaPublicKeyComponents { n, e })
            .verify(p, msg, sig)
            .is_ok()
        {
            return Ok(hash.len());
        }
    }
    pss_verify_any_salt(n, e, hash, msg, sig).ok_or(())
}

fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut c = hash.context();
        c.update(seed);
        c.update(&counter.to_be_bytes());
        out.extend_from_slice(c.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) after the RSA public operation, recovering the salt length
/// from the position of the 0x01 separator in DB. Returns the salt length, None when the
/// signature does not verify. Only public values are
/// involved, so the big-integer arithmetic needs no constant-time care. Keys of 2048–8192 bits.
pub fn pss_verify_any_salt(
    n: &[u8],
    e: &[u8],
    hash: HashAlg,
    msg: &[u8],
    sig: &[u8],
) -> Option<usize> {
    let n_big = BigUint::from_bytes_be(n);
    let mod_bits = n_big.bits();
    if !(2048..=8192).contains(&mod_bits) || e.len() > 8 {
        return None;
    }
    let k = usize::try_from(mod_bits.div_ceil(8)).ok()?;
    if sig.len() != k {
        return None;
    }
    let s = BigUint::from_bytes_be(sig);
    if s >= n_big {
        return None;
    }
    let m = s.modpow(&BigUint::from_bytes_be(e), &n_big);
    let em_bits = mod_bits.saturating_sub(1);
    let em_len = usize::try_from(em_bits.div_ceil(8)).ok()?;
    let em = pad_left(&m.to_bytes_be(), em_len)?;
    let h_len = hash.len();
    if em_len < h_len.saturating_add(2) || em.last() != Some(&0xbc) {
        return None;
    }
    let db_len = em_len.saturating_sub(h_len).saturating_sub(1);
    let masked_db = em.get(..db_len)?;
    let h = em.get(db_len..db_len.saturating_add(h_len))?;
    let unused_bits = u32::try_from(
        (u64::try_from(em_len).ok()?)
            .saturating_mul(8)
            .saturating_sub(em_bits),
    )
    .ok()?;
    let top_mask: u8 = 0xffu8.checked_shr(unused_bits).unwrap_or(0);
    if masked_db.first().is_some_and(|b| b & !top_mask != 0) {
        return None;
    }
    let mask = mgf1(hash, h, db_len);
    let mut db: Vec<u8> = masked_db
        .iter()
        .zip(mask.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    let sep = db.iter().position(|b| *b != 0)?;
    if db.get(sep) != Some(&1) {
        return None;
    }
    let salt = db.get(sep.saturating_add(1)..)?;
    let m_hash = hash.digest(msg);
    let mut c = hash.context();
    c.update(&[0u8; 8]);
    c.update(&m_hash);
    c.update(salt);
    (c.finish().as_ref() == h).then_some(salt.len())
}

fn der_int(out: &mut Vec<u8>, v: &[u8]) {
    let s = strip(v);
    let pad = s.first().is_none_or(|b| b & 0x80 != 0);
    let len = s.len().saturating_add(usize::from(pad));
    out.push(0x02);
    out.push(u8::try_from(len).unwrap_or(0));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(&s);
}

/// ECDSA-Sig-Value DER from r and s (each at most the field length).
pub(crate) fn ecdsa_der(curve: Curve, r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    let (r, s) = (
        pad_left(r, curve.field_len())?,
        pad_left(s, curve.field_len())?,
    );
    let mut body = Vec::new();
    der_int(&mut body, &r);
    der_int(&mut body, &s);
    let mut out = vec![0x30, u8::try_from(body.len()).ok()?];
    out.extend_from_slice(&body);
    Some(out)
}

pub(crate) fn verify_ecdsa_der(
    curve: Curve,
    point: &[u8],
    hash: HashAlg,
    msg: &[u8],
    der_sig: &[u8],
) -> Result<(), ()> {
    let alg: &'static signature::EcdsaVerificationAlgorithm = match (curve, hash) {
        (Curve::P256, HashAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, HashAlg::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (Curve::P256, HashAlg::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
        (Curve::P384, HashAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, HashAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, HashAlg::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
        (Curve::P256, HashAlg::Sha1) => &signature::ECDSA_P256_SHA1_ASN1,
        (Curve::P384, HashAlg::Sha1) => return Err(()),
    };
    signature::UnparsedPublicKey::new(alg, point)
        .verify(msg, der_sig)
        .map_err(|_| ())
}

/// A signature over a message, in whichever form it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnySignature {
    /// TPMT_SIGNATURE.
    Tpmt(crate::structures::Signature),
    /// A plain signature (`tpm2_quote -f plain`): raw RSA bytes, or DER for ECDSA; the scheme
    /// comes from the key.
    Plain(Vec<u8>),
}

impl AnySignature {
    /// A TPMT_SIGNATURE when the bytes parse as one, else plain.
    pub fn detect(bytes: &[u8]) -> Self {
        match crate::structures::Signature::parse(bytes) {
            Ok(s) => Self::Tpmt(s),
            Err(_) => Self::Plain(bytes.to_vec()),
        }
    }
}

/// Verifies `sig` over `msg` with `key`: returns the hash used and how it verified, or the
/// failure (a scheme that does not fit the key, or a signature that does not verify).
pub(crate) fn verify_signature(
    key: &AttestationKey,
    sig: &AnySignature,
    msg: &[u8],
) -> Result<(HashAlg, String, Verified), (String, bool)> {
    use crate::structures::Signature as S;
    // (scheme, hash, raw rsa sig or DER ecdsa sig)
    let (scheme, hash, bytes) = match sig {
        AnySignature::Tpmt(S::RsaSsa { hash, sig }) => (ALG_RSASSA, *hash, sig.clone()),
        AnySignature::Tpmt(S::RsaPss { hash, sig }) => (ALG_RSAPSS, *hash, sig.clone()),
        AnySignature::Tpmt(S::Ecdsa { hash, r, s }) => {
            let KeyMaterial::Ecc { curve, .. } = &key.material else {
                return Err(("an ECDSA signature needs an ECC key".into(), false));
            };
            let d = ecdsa_der(*curve, r, s)
                .ok_or_else(|| ("ECDSA r or s longer than the curve".to_owned(), false))?;
            (ALG_ECDSA, *hash, d)
        }
        AnySignature::Plain(b) => {
            let (scheme, hash) = key.default_scheme();
            (scheme, hash, b.clone())
        }
    };
    let name = match scheme {
        ALG_RSASSA => format!("rsassa-{hash}"),
        ALG_RSAPSS => format!("rsapss-{hash}"),
        _ => format!("ecdsa-{hash}"),
    };
    let ok = match (&key.material, scheme) {
        (KeyMaterial::Rsa { n, e }, ALG_RSASSA) => {
            verify_rsa_pkcs1(n, e, hash, msg, &bytes).map(|()| Verified::RsaSsa)
        }
        (KeyMaterial::Rsa { n, e }, ALG_RSAPSS) => {
            verify_rsa_pss(n, e, hash, msg, &bytes).map(|salt_len| Verified::RsaPss { salt_len })
        }
        (KeyMaterial::Ecc { curve, point }, ALG_ECDSA) => {
            verify_ecdsa_der(*curve, point, hash, msg, &bytes).map(|()| Verified::Ecdsa)
        }
        _ => return Err((format!("scheme {name} does not fit the key"), false)),
    };
    match ok {
        Ok(v) => Ok((hash, name, v)),
        Err(()) => Err((name, true)),
    }
}
