//! EK certificate chains to a store of TPM vendor CAs.
//!
//! Real EK and vendor CA certificates are not strict X.509: seven Nuvoton/NTC CAs encode the
//! attribute SETs in their names in non-canonical DER order (which `x509-cert`, enforcing DER SET
//! OF ordering, refuses), EK certificates carry a critical SubjectAltName with a directoryName, and
//! bundles carry openssl's text dump before the PEM block. [`TolerantCert`] therefore walks the
//! certificate with `der`'s low-level reader: the names are kept as the raw DER bytes received
//! (never decoded as SET OF, so their order does not matter; issuer ↔ subject match by bytes),
//! while the parts that must be understood — validity, the SubjectPublicKeyInfo, the signature
//! algorithm and basicConstraints — are decoded with `x509-cert`'s strict types. Signatures are
//! verified over the TBS bytes as received, with `shomei_core::x509::PublicKey`.

use core::ops::Range;

use der::asn1::{AnyRef, BitString, ObjectIdentifier};
use der::{Decode, Encode, Reader as _, SliceReader, Tag, TagNumber};
use shomei_core::UnixTime;
use shomei_core::x509::{PublicKey, SignatureAlgorithm, pem_blocks};
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;

use crate::{Error, Rejection};

/// Longest chain followed (EK → intermediates → root).
pub const MAX_CHAIN: usize = 8;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

/// A certificate read tolerantly (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TolerantCert {
    der: Vec<u8>,
    tbs: Range<usize>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    spki: SubjectPublicKeyInfoOwned,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
    not_before: i64,
    not_after: i64,
    /// basicConstraints.cA, None when the extension is absent.
    ca: Option<bool>,
}

fn derr(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::Unsupported(format!("{what}: {e}"))
}

fn pos(r: &SliceReader<'_>) -> Result<usize, Error> {
    usize::try_from(r.position()).map_err(derr("certificate"))
}

fn unix(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

impl TolerantCert {
    pub fn from_der(bytes: &[u8]) -> Result<Self, Error> {
        let mut outer = SliceReader::new(bytes).map_err(derr("certificate"))?;
        let header = der::Header::decode(&mut outer).map_err(derr("certificate"))?;
        if header.tag != Tag::Sequence {
            return Err(Error::Unsupported("certificate: not a SEQUENCE".into()));
        }
        let start = pos(&outer)?;
        let tbs = AnyRef::decode(&mut outer).map_err(derr("tbsCertificate"))?;
        let end = pos(&outer)?;
        let signature_algorithm =
            AlgorithmIdentifierOwned::decode(&mut outer).map_err(derr("signatureAlgorithm"))?;
        let signature = BitString::decode(&mut outer)
            .map_err(derr("signatureValue"))?
            .raw_bytes()
            .to_vec();
        outer.finish(()).map_err(derr("certificate"))?;
        if der::Tagged::tag(&tbs) != Tag::Sequence {
            return Err(Error::Unsupported("tbsCertificate: not a SEQUENCE".into()));
        }
        let mut t = SliceReader::new(tbs.value()).map_err(derr("tbsCertificate"))?;
        let v0 = Tag::ContextSpecific {
            constructed: true,
            number: TagNumber::N0,
        };
        if t.peek_tag().map_err(derr("version"))? == v0 {
            AnyRef::decode(&mut t).map_err(derr("version"))?;
        }
        AnyRef::decode(&mut t).map_err(derr("serialNumber"))?;
        AnyRef::decode(&mut t).map_err(derr("signature"))?;
        let issuer = AnyRef::decode(&mut t)
            .and_then(|a| a.to_der())
            .map_err(derr("issuer"))?;
        let validity = Validity::decode(&mut t).map_err(derr("validity"))?;
        let subject = AnyRef::decode(&mut t)
            .and_then(|a| a.to_der())
            .map_err(derr("subject"))?;
        let spki =
            SubjectPublicKeyInfoOwned::decode(&mut t).map_err(derr("subjectPublicKeyInfo"))?;
        let mut ca = None;
        let mut guard = 0;
        while !t.is_finished() && guard < 4 {
            guard += 1;
            let a = AnyRef::decode(&mut t).map_err(derr("tbsCertificate"))?;
            let ext3 = Tag::ContextSpecific {
                constructed: true,
                number: TagNumber::N3,
            };
            if der::Tagged::tag(&a) == ext3 {
                let exts = Extensions::from_der(a.value()).map_err(derr("extensions"))?;
                for e in exts.iter().filter(|e| e.extn_id == OID_BASIC_CONSTRAINTS) {
                    let bc = BasicConstraints::from_der(e.extn_value.as_bytes())
                        .map_err(derr("basicConstraints"))?;
                    ca = Some(bc.ca);
                }
            }
        }
        Ok(Self {
            der: bytes.to_vec(),
            tbs: start..end,
            issuer,
            subject,
            spki,
            signature_algorithm,
            signature,
            not_before: unix(&validity.not_before),
            not_after: unix(&validity.not_after),
            ca,
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    pub fn tbs_bytes(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or(&[])
    }
    /// The subject Name, DER as received.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject
    }
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer
    }
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }
    pub fn not_before(&self) -> UnixTime {
        UnixTime(self.not_before)
    }
    pub fn not_after(&self) -> UnixTime {
        UnixTime(self.not_after)
    }
    pub fn is_ca(&self) -> Option<bool> {
        self.ca
    }
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }
    /// A readable subject: CN (or O), else the hex of the name.
    pub fn subject_text(&self) -> String {
        name_text(&self.subject)
    }
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        PublicKey::from_spki(&self.spki).map_err(|e| Error::Unsupported(e.to_string()))
    }
    /// Verifies this certificate's signature (over the TBS as received) with `issuer`'s key.
    pub fn verify_signed_by(&self, issuer: &TolerantCert) -> Result<(), Error> {
        let alg = SignatureAlgorithm::from_identifier(&self.signature_algorithm)
            .map_err(|e| Error::Unsupported(e.to_string()))?;
        issuer
            .public_key()?
            .verify(alg, self.tbs_bytes(), &self.signature)
            .map_err(|_| {
                Rejection::EkChainSignature {
                    subject: self.subject_text(),
                    issuer: issuer.subject_text(),
                }
                .into()
            })
    }
}

/// The CN (else O) of a raw Name, walked without the SET OF ordering rule.
pub fn name_text(raw: &[u8]) -> String {
    let walk = || -> Result<Option<String>, der::Error> {
        let name = AnyRef::from_der(raw)?;
        let mut rdns = SliceReader::new(name.value())?;
        let (mut cn, mut o) = (None, None);
        let mut n = 0;
        while !rdns.is_finished() && n < 64 {
            n += 1;
            let set = AnyRef::decode(&mut rdns)?;
            let mut atvs = SliceReader::new(set.value())?;
            while !atvs.is_finished() && n < 128 {
                n += 1;
                let atv = AnyRef::decode(&mut atvs)?;
                let mut f = SliceReader::new(atv.value())?;
                let oid = ObjectIdentifier::decode(&mut f)?;
                let v = AnyRef::decode(&mut f)?;
                let s = String::from_utf8_lossy(v.value()).into_owned();
                if oid == OID_CN {
                    cn = Some(s);
                } else if oid == OID_O {
                    o = Some(s);
                }
            }
        }
        Ok(cn.or(o))
    };
    match walk() {
        Ok(Some(s)) => s,
        _ => format!("name {}", hex::encode(raw.get(..32).unwrap_or(raw))),
    }
}

/// Reads every certificate in a file: PEM blocks (text around them ignored) or one DER.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<TolerantCert>, Error> {
    if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let blocks =
            pem_blocks(bytes, "CERTIFICATE").map_err(|e| Error::Unsupported(e.to_string()))?;
        if blocks.is_empty() {
            return Err(Error::Unsupported("no CERTIFICATE PEM block".into()));
        }
        blocks.iter().map(|b| TolerantCert::from_der(b)).collect()
    } else {
        Ok(vec![TolerantCert::from_der(bytes)?])
    }
}

/// A store of trusted EK CAs (roots and intermediates, each trusted as an anchor, as keylime's
/// `tpm_cert_store` is used).
#[derive(Debug, Clone, Default)]
pub struct EkCaStore {
    certs: Vec<TolerantCert>,
}

/// An EK certificate whose chain reached a trusted CA. Only [`EkCaStore::verify`] constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEkCert {
    cert: TolerantCert,
    chain: Vec<String>,
}

impl VerifiedEkCert {
    pub fn certificate(&self) -> &TolerantCert {
        &self.cert
    }
    /// Subjects from the EK certificate to the trusted CA.
    pub fn chain(&self) -> &[String] {
        &self.chain
    }
    /// Whether the certificate's key is `ek` (compared as SubjectPublicKeyInfo DER).
    pub fn certifies(&self, ek: &crate::keys::AttestationKey) -> Result<(), Error> {
        let mine = self
            .cert
            .spki
            .to_der()
            .map_err(derr("subjectPublicKeyInfo"))?;
        let theirs = crate::keys::AttestationKey::from_spki(&self.cert.spki)?;
        if theirs.material == ek.material || mine == ek.to_spki_der()? {
            Ok(())
        } else {
            Err(Rejection::EkKeyMismatch.into())
        }
    }
}

impl EkCaStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every certificate in `bytes` (PEM with any surrounding text, or DER); returns how
    /// many were added.
    pub fn add(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let certs = read_certificates(bytes)?;
        let n = certs.len();
        self.certs.extend(certs);
        Ok(n)
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub fn certificates(&self) -> &[TolerantCert] {
        &self.certs
    }

    fn valid_at(c: &TolerantCert, at: UnixTime) -> Result<(), Error> {
        if c.not_before <= at.0 && at.0 <= c.not_after {
            Ok(())
        } else {
            Err(Rejection::EkChainValidity {
                subject: c.subject_text(),
                at: at.0,
                not_before: c.not_before,
                not_after: c.not_after,
            }
            .into())
        }
    }

    /// Verifies an EK certificate (DER or PEM) through optional untrusted `intermediates` to a
    /// CA in this store, every certificate valid at `at`.
    pub fn verify(
        &self,
        ek_cert: &[u8],
        intermediates: &[TolerantCert],
        at: UnixTime,
    ) -> Result<VerifiedEkCert, Error> {
        let ek = read_certificates(ek_cert)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Unsupported("no EK certificate".into()))?;
        let mut chain = vec![ek.subject_text()];
        let mut cur = ek.clone();
        for _ in 0..MAX_CHAIN {
            Self::valid_at(&cur, at)?;
            let mut last_err = None;
            // A trusted CA first.
            for ca in self.certs.iter().filter(|c| c.subject == cur.issuer) {
                match cur.verify_signed_by(ca) {
                    Ok(()) => {
                        if ca.ca == Some(false) {
                            return Err(Rejection::EkChainNotCa {
                                subject: ca.subject_text(),
                            }
                            .into());
                        }
                        Self::valid_at(ca, at)?;
                        chain.push(ca.subject_text());
                        return Ok(VerifiedEkCert { cert: ek, chain });
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            let next = intermediates
                .iter()
                .filter(|c| c.subject == cur.issuer && *c != &cur)
                .find(|c| cur.verify_signed_by(c).is_ok());
            match next {
                Some(n) => {
                    if n.ca != Some(true) {
                        return Err(Rejection::EkChainNotCa {
                            subject: n.subject_text(),
                        }
                        .into());
                    }
                    chain.push(n.subject_text());
                    cur = n.clone();
                }
                None => {
                    return Err(last_err.unwrap_or_else(|| {
                        Rejection::EkChainIssuer {
                            subject: cur.subject_text(),
                        }
                        .into()
                    }));
                }
            }
        }
        Err(Rejection::EkChainTooLong(MAX_CHAIN).into())
    }
}
