//! X.509 primitives for purpose-built chain checks (AMD, Intel, TPM vendors), not a WebPKI
//! validator: certificates are decoded with `x509-cert`, but every signature is verified over the
//! TBS bytes *as received* (never a re-encoding), with the algorithm's parameters parsed
//! semantically, so that real vendors' non-canonical encodings (AMD's explicit PSS trailerField,
//! serial 0, missing basicConstraints) are tolerated exactly where they are harmless.

use core::ops::Range;

use aws_lc_rs::{digest, signature};
use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Sequence};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::UnixTime;

pub const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub const OID_SHA256_WITH_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub const OID_SHA384_WITH_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub const OID_SHA512_WITH_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
pub const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Errors from decoding or checking certificates and CRLs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    #[error("{what}: DER decoding failed: {source}")]
    Der {
        what: &'static str,
        #[source]
        source: der::Error,
    },
    #[error("{0}: no certificate found in the input")]
    Empty(&'static str),
    #[error("PEM block {index}: {detail}")]
    Pem { index: usize, detail: String },
    #[error("unsupported signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm { oid: String },
    #[error("unsupported RSASSA-PSS parameters: {0}")]
    UnsupportedPssParameters(String),
    #[error("unsupported public key: {0}")]
    UnsupportedPublicKey(String),
    #[error("the signature does not verify under the issuer's key")]
    BadSignature,
}

fn der_err(what: &'static str) -> impl FnOnce(der::Error) -> X509Error {
    move |source| X509Error::Der { what, source }
}

/// Hash functions used by the signature algorithms we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            OID_SHA256 => Some(Self::Sha256),
            OID_SHA384 => Some(Self::Sha384),
            OID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A signature algorithm, parsed from an AlgorithmIdentifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaPkcs1(HashAlg),
    /// RSASSA-PSS with MGF1 over the same hash; `salt_len` as encoded.
    RsaPss {
        hash: HashAlg,
        salt_len: u32,
    },
    Ecdsa(HashAlg),
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1). Every field is OPTIONAL here rather than DEFAULT so that
/// an explicitly encoded default (AMD's `trailerField [3] INTEGER 1`) decodes instead of failing
/// the canonical-DER rule.
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer: Option<u32>,
}

impl SignatureAlgorithm {
    pub fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, X509Error> {
        let unsupported = || X509Error::UnsupportedSignatureAlgorithm {
            oid: alg.oid.to_string(),
        };
        Ok(match alg.oid {
            OID_SHA256_WITH_RSA => Self::RsaPkcs1(HashAlg::Sha256),
            OID_SHA384_WITH_RSA => Self::RsaPkcs1(HashAlg::Sha384),
            OID_SHA512_WITH_RSA => Self::RsaPkcs1(HashAlg::Sha512),
            OID_ECDSA_SHA256 => Self::Ecdsa(HashAlg::Sha256),
            OID_ECDSA_SHA384 => Self::Ecdsa(HashAlg::Sha384),
            OID_ECDSA_SHA512 => Self::Ecdsa(HashAlg::Sha512),
            OID_RSASSA_PSS => {
                let pss_err = |s: &str| X509Error::UnsupportedPssParameters(s.to_owned());
                let params = alg.parameters.as_ref().ok_or_else(|| {
                    pss_err("parameters absent (SHA-1 defaults are not accepted)")
                })?;
                let p: PssParams = params
                    .decode_as()
                    .map_err(der_err("RSASSA-PSS parameters"))?;
                let hash = p
                    .hash
                    .as_ref()
                    .and_then(|h| HashAlg::from_oid(&h.oid))
                    .ok_or_else(|| pss_err("hash algorithm absent or not SHA-2"))?;
                let mgf = p.mgf.as_ref().ok_or_else(|| pss_err("MGF absent"))?;
                if mgf.oid != OID_MGF1 {
                    return Err(pss_err("mask generation function is not MGF1"));
                }
                let mgf_hash: AlgorithmIdentifierOwned = mgf
                    .parameters
                    .as_ref()
                    .ok_or_else(|| pss_err("MGF1 hash absent"))?
                    .decode_as()
                    .map_err(der_err("MGF1 parameters"))?;
                if HashAlg::from_oid(&mgf_hash.oid) != Some(hash) {
                    return Err(pss_err("MGF1 hash differs from the message hash"));
                }
                if p.trailer.unwrap_or(1) != 1 {
                    return Err(pss_err("trailerField is not 1"));
                }
                let salt_len = p.salt_len.unwrap_or(20);
                Self::RsaPss { hash, salt_len }
            }
            _ => return Err(unsupported()),
        })
    }
}

/// A subject public key we can verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// Uncompressed SEC1 point.
    EcP256(Vec<u8>),
    /// Uncompressed SEC1 point.
    EcP384(Vec<u8>),
}

impl PublicKey {
    pub fn from_spki(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<Self, X509Error> {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| X509Error::UnsupportedPublicKey("unaligned key bit string".into()))?
            .to_vec();
        match spki.algorithm.oid {
            OID_RSA_ENCRYPTION => Ok(Self::Rsa(bits)),
            OID_EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .ok_or_else(|| X509Error::UnsupportedPublicKey("EC key without curve".into()))?
                    .decode_as()
                    .map_err(der_err("EC curve parameters"))?;
                match curve {
                    OID_P256 => Ok(Self::EcP256(bits)),
                    OID_P384 => Ok(Self::EcP384(bits)),
                    other => Err(X509Error::UnsupportedPublicKey(format!("EC curve {other}"))),
                }
            }
            other => Err(X509Error::UnsupportedPublicKey(format!(
                "algorithm {other}"
            ))),
        }
    }

    /// Verifies `sig` (in the encoding X.509 uses: ASN.1 DER for ECDSA) over `msg`.
    pub fn verify(&self, alg: SignatureAlgorithm, msg: &[u8], sig: &[u8]) -> Result<(), X509Error> {
        use SignatureAlgorithm as S;
        let (va, key): (&'static dyn signature::VerificationAlgorithm, &[u8]) = match (alg, self) {
            (S::RsaPkcs1(h), Self::Rsa(k)) => (
                match h {
                    HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                },
                k,
            ),
            (S::RsaPss { hash, salt_len }, Self::Rsa(k)) => {
                if usize::try_from(salt_len).ok() != Some(hash.output_len()) {
                    return Err(X509Error::UnsupportedPssParameters(format!(
                        "salt length {salt_len} differs from the hash length"
                    )));
                }
                (
                    match hash {
                        HashAlg::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
                        HashAlg::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
                        HashAlg::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
                    },
                    k,
                )
            }
            (S::Ecdsa(h), Self::EcP256(k)) => (
                match h {
                    HashAlg::Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
                    HashAlg::Sha384 => &signature::ECDSA_P256_SHA384_ASN1,
                    HashAlg::Sha512 => return Err(unsupported_combo(alg)),
                },
                k,
            ),
            (S::Ecdsa(h), Self::EcP384(k)) => (
                match h {
                    HashAlg::Sha256 => &signature::ECDSA_P384_SHA256_ASN1,
                    HashAlg::Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
                    HashAlg::Sha512 => return Err(unsupported_combo(alg)),
                },
                k,
            ),
            _ => return Err(unsupported_combo(alg)),
        };
        signature::UnparsedPublicKey::new(va, key)
            .verify(msg, sig)
            .map_err(|_| X509Error::BadSignature)
    }
}

fn unsupported_combo(alg: SignatureAlgorithm) -> X509Error {
    X509Error::UnsupportedPublicKey(format!("issuer key cannot verify {alg:?}"))
}

/// Splits a DER SEQUENCE `{ tbs, algorithm, signature }` and returns the byte range of `tbs`
/// within `der` — the bytes the signature covers, exactly as received.
fn tbs_range(der: &[u8], what: &'static str) -> Result<Range<usize>, X509Error> {
    let mut outer = der::SliceReader::new(der).map_err(der_err(what))?;
    let header = der::Header::decode(&mut outer).map_err(der_err(what))?;
    if header.tag != der::Tag::Sequence {
        return Err(X509Error::Der {
            what,
            source: der::Error::new(
                der::ErrorKind::TagUnexpected {
                    expected: Some(der::Tag::Sequence),
                    actual: header.tag,
                },
                der::Length::ZERO,
            ),
        });
    }
    let start = usize::try_from(der::Reader::position(&outer)).map_err(der_err(what))?;
    AnyRef::decode(&mut outer).map_err(der_err(what))?;
    let end = usize::try_from(der::Reader::position(&outer)).map_err(der_err(what))?;
    Ok(start..end)
}

/// A certificate: its bytes as received, the range of its TBS, and the decoded fields.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    decoded: x509_cert::Certificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let decoded = x509_cert::Certificate::from_der(der).map_err(der_err("certificate"))?;
        let tbs = tbs_range(der, "certificate")?;
        Ok(Self {
            der: der.to_vec(),
            tbs,
            decoded,
        })
    }

    /// Reads a certificate in DER or PEM (the first `CERTIFICATE` block).
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<Self, X509Error> {
        if contains(bytes, b"-----BEGIN CERTIFICATE-----") {
            let blocks = pem_blocks(bytes, "CERTIFICATE")?;
            let first = blocks.first().ok_or(X509Error::Empty("certificate"))?;
            Self::from_der(first)
        } else {
            Self::from_der(bytes)
        }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signed bytes, as received.
    pub fn tbs_bytes(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or(&[])
    }

    pub fn decoded(&self) -> &x509_cert::Certificate {
        &self.decoded
    }

    pub fn sha256(&self) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, &self.der);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        SignatureAlgorithm::from_identifier(&self.decoded.signature_algorithm)
    }

    pub fn public_key(&self) -> Result<PublicKey, X509Error> {
        PublicKey::from_spki(&self.decoded.tbs_certificate.subject_public_key_info)
    }

    /// Verifies this certificate's signature with `issuer`'s key over the received TBS bytes.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), X509Error> {
        let sig = self
            .decoded
            .signature
            .as_bytes()
            .ok_or(X509Error::BadSignature)?;
        issuer.verify(self.signature_algorithm()?, self.tbs_bytes(), sig)
    }

    pub fn not_before(&self) -> UnixTime {
        time_of(&self.decoded.tbs_certificate.validity.not_before)
    }

    pub fn not_after(&self) -> UnixTime {
        time_of(&self.decoded.tbs_certificate.validity.not_after)
    }

    pub fn is_valid_at(&self, at: UnixTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    pub fn subject_cn(&self) -> Option<String> {
        common_name(&self.decoded.tbs_certificate.subject)
    }

    pub fn issuer_cn(&self) -> Option<String> {
        common_name(&self.decoded.tbs_certificate.issuer)
    }

    pub fn subject_der(&self) -> Vec<u8> {
        self.decoded
            .tbs_certificate
            .subject
            .to_der()
            .unwrap_or_default()
    }

    pub fn issuer_der(&self) -> Vec<u8> {
        self.decoded
            .tbs_certificate
            .issuer
            .to_der()
            .unwrap_or_default()
    }

    /// The serial number's content bytes (big-endian, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.decoded.tbs_certificate.serial_number.as_bytes()
    }

    /// The `extnValue` contents of the extension `oid`, if present.
    pub fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.decoded
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }
}

fn time_of(t: &x509_cert::time::Time) -> UnixTime {
    UnixTime(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

/// The first CN of a name, for display and issuer matching.
pub fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == OID_COMMON_NAME {
                return any_to_string(&atv.value);
            }
        }
    }
    None
}

fn any_to_string(v: &der::Any) -> Option<String> {
    if let Ok(s) = v.decode_as::<der::asn1::Utf8StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = v.decode_as::<der::asn1::PrintableStringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    if let Ok(s) = v.decode_as::<der::asn1::Ia5StringRef<'_>>() {
        return Some(s.as_str().to_owned());
    }
    None
}

/// A certificate revocation list, with its signed bytes as received.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs: Range<usize>,
    decoded: x509_cert::crl::CertificateList,
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let decoded = x509_cert::crl::CertificateList::from_der(der).map_err(der_err("CRL"))?;
        let tbs = tbs_range(der, "CRL")?;
        Ok(Self {
            der: der.to_vec(),
            tbs,
            decoded,
        })
    }

    /// Reads a CRL in DER or PEM (`X509 CRL`).
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<Self, X509Error> {
        if contains(bytes, b"-----BEGIN X509 CRL-----") {
            let blocks = pem_blocks(bytes, "X509 CRL")?;
            let first = blocks.first().ok_or(X509Error::Empty("CRL"))?;
            Self::from_der(first)
        } else {
            Self::from_der(bytes)
        }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn decoded(&self) -> &x509_cert::crl::CertificateList {
        &self.decoded
    }

    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), X509Error> {
        let alg = SignatureAlgorithm::from_identifier(&self.decoded.signature_algorithm)?;
        let sig = self
            .decoded
            .signature
            .as_bytes()
            .ok_or(X509Error::BadSignature)?;
        issuer.verify(alg, self.der.get(self.tbs.clone()).unwrap_or(&[]), sig)
    }

    pub fn issuer_der(&self) -> Vec<u8> {
        self.decoded
            .tbs_cert_list
            .issuer
            .to_der()
            .unwrap_or_default()
    }

    pub fn this_update(&self) -> UnixTime {
        time_of(&self.decoded.tbs_cert_list.this_update)
    }

    pub fn next_update(&self) -> Option<UnixTime> {
        self.decoded.tbs_cert_list.next_update.as_ref().map(time_of)
    }

    /// Whether `serial` (content bytes) is listed.
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.decoded
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .is_some_and(|list| list.iter().any(|r| r.serial_number.as_bytes() == serial))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Extracts the DER of every PEM block with `label`, ignoring any text between blocks (such as
/// openssl's text dump before a certificate).
pub fn pem_blocks(bytes: &[u8], label: &str) -> Result<Vec<Vec<u8>>, X509Error> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    let mut index = 0usize;
    while let Some(b) = rest.find(&begin) {
        let after = rest.get(b..).unwrap_or("");
        let Some(e) = after.find(&end) else {
            return Err(X509Error::Pem {
                index,
                detail: format!("no {end} line"),
            });
        };
        let stop = e.saturating_add(end.len());
        let block = after.get(..stop).unwrap_or("");
        let (found, der) = der::pem::decode_vec(block.as_bytes()).map_err(|e| X509Error::Pem {
            index,
            detail: e.to_string(),
        })?;
        if found != label {
            return Err(X509Error::Pem {
                index,
                detail: format!("label {found:?}"),
            });
        }
        out.push(der);
        rest = after.get(stop..).unwrap_or("");
        index = index.saturating_add(1);
    }
    Ok(out)
}

/// PEM-encodes `der` under `label`.
pub fn pem_encode(label: &str, der: &[u8]) -> Result<String, X509Error> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).map_err(|e| X509Error::Pem {
        index: 0,
        detail: e.to_string(),
    })
}

/// Reads one or more certificates: a PEM bundle (any number of CERTIFICATE blocks) or one DER
/// certificate.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, X509Error> {
    if contains(bytes, b"-----BEGIN") {
        let blocks = pem_blocks(bytes, "CERTIFICATE")?;
        if blocks.is_empty() {
            return Err(X509Error::Empty("PEM input"));
        }
        blocks.iter().map(|d| Certificate::from_der(d)).collect()
    } else {
        Ok(vec![Certificate::from_der(bytes)?])
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn sha384(data: &[u8]) -> [u8; 48] {
    let d = digest::digest(&digest::SHA384, data);
    let mut out = [0u8; 48];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Any, Tag};

    fn pss(body: &[u8]) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: OID_RSASSA_PSS,
            parameters: Some(Any::new(Tag::Sequence, body.to_vec()).unwrap()),
        }
    }

    const HASH384: &[u8] = &[
        0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00,
    ];
    const MGF384: &[u8] = &[
        0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
    ];
    const SALT48: &[u8] = &[0xa2, 0x03, 0x02, 0x01, 0x30];

    fn body(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn pss_with_and_without_explicit_trailer_field() {
        let want = SignatureAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            salt_len: 48,
        };
        let amd = body(&[HASH384, MGF384, SALT48, &[0xa3, 0x03, 0x02, 0x01, 0x01]]);
        assert_eq!(SignatureAlgorithm::from_identifier(&pss(&amd)), Ok(want));
        let canonical = body(&[HASH384, MGF384, SALT48]);
        assert_eq!(
            SignatureAlgorithm::from_identifier(&pss(&canonical)),
            Ok(want)
        );
    }

    #[test]
    fn pss_with_a_wrong_trailer_or_sha1_defaults_is_unsupported() {
        let bad_trailer = body(&[HASH384, MGF384, SALT48, &[0xa3, 0x03, 0x02, 0x01, 0x02]]);
        assert!(matches!(
            SignatureAlgorithm::from_identifier(&pss(&bad_trailer)),
            Err(X509Error::UnsupportedPssParameters(_))
        ));
        // No hash: the SHA-1 default, which we refuse.
        let sha1_default = body(&[MGF384, SALT48]);
        assert!(SignatureAlgorithm::from_identifier(&pss(&sha1_default)).is_err());
        let absent = AlgorithmIdentifierOwned {
            oid: OID_RSASSA_PSS,
            parameters: None,
        };
        assert!(SignatureAlgorithm::from_identifier(&absent).is_err());
    }

    #[test]
    fn pss_salt_other_than_the_hash_length_cannot_verify() {
        let alg = SignatureAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            salt_len: 32,
        };
        let key = PublicKey::Rsa(vec![0x30, 0x00]);
        assert!(matches!(
            key.verify(alg, b"m", b"s"),
            Err(X509Error::UnsupportedPssParameters(_))
        ));
    }

    #[test]
    fn mismatched_key_and_algorithm_is_an_error_not_a_panic() {
        let key = PublicKey::EcP384(vec![4; 97]);
        assert!(
            key.verify(SignatureAlgorithm::RsaPkcs1(HashAlg::Sha256), b"m", b"s")
                .is_err()
        );
    }

    #[test]
    fn pem_blocks_skip_text_around_them() {
        let pem = "openssl text dump\nSubject: x\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\ntrailer\n";
        assert_eq!(
            pem_blocks(pem.as_bytes(), "CERTIFICATE").ok(),
            Some(vec![vec![0, 1, 2]])
        );
        assert!(pem_blocks(b"-----BEGIN CERTIFICATE-----\nAAEC\n", "CERTIFICATE").is_err());
    }

    #[test]
    fn garbage_is_a_der_error() {
        assert!(matches!(
            Certificate::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(X509Error::Der { .. })
        ));
        assert!(parse_certificates(b"").is_err());
        assert!(Crl::from_der(&[0xff; 10]).is_err());
    }
}
