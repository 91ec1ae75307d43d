//! An emulated Intel DCAP platform, so that every SGX/TDX quote flow runs on machines without
//! TDX: a **test** PKI with Intel's certificate profile (root → PCK Platform CA → PCK
//! certificate with the SGX extension; root → TCB Signing), CRLs, signed TCB Info (v2/v3) and
//! QE Identity, a quoting enclave (attestation key, QE report signed by the PCK key, binding
//! hash), quotes v3/v4/v5, and a TD with MRTD, RTMRs extended through a CCEL event log.
//!
//! A test root is never trusted by default: a verifier must name it
//! ([`EmulatedPlatform::anchor`] with [`shomei_dcap::VerifyOptions::with_anchor`]).

use std::str::FromStr;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use der::asn1::{BitString, ObjectIdentifier, OctetString, UtcTime};
use der::{Any, Encode, Sequence, Tag};
use serde_json::{Value, json};
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, Crl, OID_EC_PUBLIC_KEY, OID_ECDSA_SHA256, OID_P256};
use shomei_dcap::pck::{
    OID_CPUSVN, OID_FMSPC, OID_PCEID, OID_PCESVN, OID_PPID, OID_SGX_EXTENSIONS, OID_SGX_TYPE,
    OID_TCB,
};
use shomei_dcap::quote::{
    INTEL_QE_VENDOR_ID, SgxReportBody, TEE_TYPE_SGX, TEE_TYPE_TDX, Td10ReportBody, Td15ReportBody,
};
use shomei_dcap::{Collateral, SignedJson, TcbStatus, Tee, TrustAnchor};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{TbsCertificate, Version};
use zerocopy::{FromZeros, IntoBytes};

pub mod td;

pub use td::{CcelEvent, Td, replay_ccel};

/// Errors of the emulator (key generation, signing or encoding failures).
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error("key generation or signing failed")]
    Crypto,
    #[error("encoding: {0}")]
    Der(#[from] der::Error),
    #[error("certificate: {0}")]
    X509(#[from] shomei_core::x509::X509Error),
    #[error("{0}")]
    Dcap(#[from] shomei_dcap::Error),
    #[error("{0}")]
    Invalid(&'static str),
}

/// A P-256 key usable for X.509 (ASN.1 signatures) and for DCAP (fixed r ‖ s signatures).
pub struct P256Key {
    asn1: EcdsaKeyPair,
    fixed: EcdsaKeyPair,
}

impl P256Key {
    pub fn generate() -> Result<Self, EmuError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| EmuError::Crypto)?;
        let asn1 =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
                .map_err(|_| EmuError::Crypto)?;
        let fixed =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .map_err(|_| EmuError::Crypto)?;
        Ok(Self { asn1, fixed })
    }

    /// The uncompressed SEC1 point (0x04 ‖ x ‖ y).
    pub fn public_point(&self) -> &[u8] {
        self.fixed.public_key().as_ref()
    }

    /// x ‖ y, as in a quote's attestation key field.
    pub fn raw_public(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (o, b) in out.iter_mut().zip(self.public_point().iter().skip(1)) {
            *o = *b;
        }
        out
    }

    fn sign_asn1(&self, msg: &[u8]) -> Result<Vec<u8>, EmuError> {
        Ok(self
            .asn1
            .sign(&SystemRandom::new(), msg)
            .map_err(|_| EmuError::Crypto)?
            .as_ref()
            .to_vec())
    }

    /// ECDSA P-256/SHA-256, r ‖ s big-endian.
    pub fn sign_fixed(&self, msg: &[u8]) -> Result<[u8; 64], EmuError> {
        let sig = self
            .fixed
            .sign(&SystemRandom::new(), msg)
            .map_err(|_| EmuError::Crypto)?;
        <[u8; 64]>::try_from(sig.as_ref()).map_err(|_| EmuError::Crypto)
    }

    fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, EmuError> {
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: OID_EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&OID_P256)?),
            },
            subject_public_key: BitString::from_bytes(self.public_point())?,
        })
    }
}

fn ecdsa_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_ECDSA_SHA256,
        parameters: None,
    }
}

fn intel_name(cn: &str) -> Result<Name, EmuError> {
    Ok(Name::from_str(&format!(
        "CN={cn},O=shomei test (not Intel),L=Santa Clara,ST=CA,C=US"
    ))?)
}

fn time(t: UnixTime) -> Result<Time, EmuError> {
    let secs = u64::try_from(t.secs()).map_err(|_| EmuError::Invalid("time before 1970"))?;
    Ok(Time::UtcTime(UtcTime::from_unix_duration(
        Duration::from_secs(secs),
    )?))
}

fn basic_constraints(ca: bool) -> Result<Extension, EmuError> {
    Ok(Extension {
        extn_id: ObjectIdentifier::new_unwrap("2.5.29.19"),
        critical: true,
        extn_value: OctetString::new(
            BasicConstraints {
                ca,
                path_len_constraint: None,
            }
            .to_der()?,
        )?,
    })
}

struct CertSpec<'a> {
    serial: u32,
    issuer: Name,
    subject: Name,
    key: &'a P256Key,
    not_before: UnixTime,
    not_after: UnixTime,
    extensions: Vec<Extension>,
}

fn issue(spec: CertSpec<'_>, issuer_key: &P256Key) -> Result<Certificate, EmuError> {
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(spec.serial),
        signature: ecdsa_alg(),
        issuer: spec.issuer,
        validity: Validity {
            not_before: time(spec.not_before)?,
            not_after: time(spec.not_after)?,
        },
        subject: spec.subject,
        subject_public_key_info: spec.key.spki()?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let sig = issuer_key.sign_asn1(&tbs.to_der()?)?;
    let cert = x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_alg(),
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(Certificate::from_der(&cert.to_der()?)?)
}

fn crl(
    key: &P256Key,
    issuer: &Certificate,
    revoked: &[&[u8]],
    this_update: UnixTime,
    next_update: UnixTime,
) -> Result<Crl, EmuError> {
    let revoked_certs = revoked
        .iter()
        .map(|s| {
            Ok(x509_cert::crl::RevokedCert {
                serial_number: SerialNumber::new(s)?,
                revocation_date: time(this_update)?,
                crl_entry_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, EmuError>>()?;
    let tbs = x509_cert::crl::TbsCertList {
        version: Version::V2,
        signature: ecdsa_alg(),
        issuer: issuer.decoded().tbs_certificate.subject.clone(),
        this_update: time(this_update)?,
        next_update: Some(time(next_update)?),
        revoked_certificates: (!revoked_certs.is_empty()).then_some(revoked_certs),
        crl_extensions: None,
    };
    let sig = key.sign_asn1(&tbs.to_der()?)?;
    let c = x509_cert::crl::CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: ecdsa_alg(),
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(Crl::from_der(&c.to_der()?)?)
}

/// What the PCK certificate's SGX extension says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckSpec {
    pub ppid: [u8; 16],
    pub tcb_components: [u8; 16],
    pub pce_svn: u16,
    pub cpu_svn: [u8; 16],
    pub pce_id: [u8; 2],
    pub fmspc: [u8; 6],
    pub sgx_type: u8,
    pub serial: u32,
}

#[derive(Sequence)]
struct ExtEntry {
    id: ObjectIdentifier,
    value: Any,
}

fn entry(id: ObjectIdentifier, value: Any) -> ExtEntry {
    ExtEntry { id, value }
}

fn sgx_extension(p: &PckSpec) -> Result<Extension, EmuError> {
    let mut tcb = Vec::new();
    for (i, svn) in p.tcb_components.iter().enumerate() {
        let arc = u32::try_from(i)
            .map_err(|_| EmuError::Invalid("component index"))?
            .saturating_add(1);
        let id = ObjectIdentifier::from_arcs(OID_TCB.arcs().chain([arc]))
            .map_err(|_| EmuError::Invalid("TCB component OID"))?;
        tcb.push(entry(id, Any::encode_from(svn)?));
    }
    tcb.push(entry(OID_PCESVN, Any::encode_from(&p.pce_svn)?));
    tcb.push(entry(
        OID_CPUSVN,
        Any::encode_from(&OctetString::new(p.cpu_svn.to_vec())?)?,
    ));
    let entries = vec![
        entry(
            OID_PPID,
            Any::encode_from(&OctetString::new(p.ppid.to_vec())?)?,
        ),
        entry(OID_TCB, Any::encode_from(&tcb)?),
        entry(
            OID_PCEID,
            Any::encode_from(&OctetString::new(p.pce_id.to_vec())?)?,
        ),
        entry(
            OID_FMSPC,
            Any::encode_from(&OctetString::new(p.fmspc.to_vec())?)?,
        ),
        entry(OID_SGX_TYPE, Any::new(Tag::Enumerated, vec![p.sgx_type])?),
    ];
    Ok(Extension {
        extn_id: OID_SGX_EXTENSIONS,
        critical: false,
        extn_value: OctetString::new(entries.to_der()?)?,
    })
}

/// Knobs for negative tests of the certificate profile.
#[derive(Debug, Clone, Copy)]
pub struct PkiOptions {
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// Issue the TCB Signing certificate as a CA (a profile error verifiers must catch).
    pub tcb_signing_is_ca: bool,
}

impl Default for PkiOptions {
    fn default() -> Self {
        Self {
            not_before: UnixTime::from_secs(1_600_000_000), // 2020-09
            not_after: UnixTime::from_secs(2_400_000_000),  // 2046-01
            tcb_signing_is_ca: false,
        }
    }
}

/// A test root, PCK Platform CA and TCB Signing key, with Intel's names (and the organisation
/// saying it is a test).
pub struct TestPki {
    root_key: P256Key,
    pub root: Certificate,
    pck_ca_key: P256Key,
    pub pck_ca: Certificate,
    tcb_key: P256Key,
    pub tcb_signing: Certificate,
    opts: PkiOptions,
}

/// An issued PCK certificate and its key.
pub struct TestPck {
    pub certificate: Certificate,
    key: P256Key,
}

impl TestPki {
    pub fn generate(opts: PkiOptions) -> Result<Self, EmuError> {
        let (root_key, pck_ca_key, tcb_key) = (
            P256Key::generate()?,
            P256Key::generate()?,
            P256Key::generate()?,
        );
        let root_name = intel_name("Intel SGX Root CA")?;
        let root = issue(
            CertSpec {
                serial: 1,
                issuer: root_name.clone(),
                subject: root_name.clone(),
                key: &root_key,
                not_before: opts.not_before,
                not_after: opts.not_after,
                extensions: vec![basic_constraints(true)?],
            },
            &root_key,
        )?;
        let pck_ca = issue(
            CertSpec {
                serial: 2,
                issuer: root_name.clone(),
                subject: intel_name("Intel SGX PCK Platform CA")?,
                key: &pck_ca_key,
                not_before: opts.not_before,
                not_after: opts.not_after,
                extensions: vec![basic_constraints(true)?],
            },
            &root_key,
        )?;
        let tcb_signing = issue(
            CertSpec {
                serial: 3,
                issuer: root_name,
                subject: intel_name("Intel SGX TCB Signing")?,
                key: &tcb_key,
                not_before: opts.not_before,
                not_after: opts.not_after,
                extensions: vec![basic_constraints(opts.tcb_signing_is_ca)?],
            },
            &root_key,
        )?;
        Ok(Self {
            root_key,
            root,
            pck_ca_key,
            pck_ca,
            tcb_key,
            tcb_signing,
            opts,
        })
    }

    /// A trust anchor holding only this root: what an operator names to trust it.
    pub fn anchor(&self) -> Result<TrustAnchor, EmuError> {
        Ok(TrustAnchor::from_certificate(self.root.clone())?)
    }

    /// Issues a PCK certificate (signed by the PCK Platform CA).
    pub fn issue_pck(&self, spec: &PckSpec) -> Result<TestPck, EmuError> {
        let key = P256Key::generate()?;
        let certificate = issue(
            CertSpec {
                serial: spec.serial,
                issuer: self.pck_ca.decoded().tbs_certificate.subject.clone(),
                subject: intel_name("Intel SGX PCK Certificate")?,
                key: &key,
                not_before: self.opts.not_before,
                not_after: self.opts.not_after,
                extensions: vec![basic_constraints(false)?, sgx_extension(spec)?],
            },
            &self.pck_ca_key,
        )?;
        Ok(TestPck { certificate, key })
    }

    /// The Root CA CRL, listing `revoked` serials (content bytes).
    pub fn root_crl(
        &self,
        revoked: &[&[u8]],
        this: UnixTime,
        next: UnixTime,
    ) -> Result<Crl, EmuError> {
        crl(&self.root_key, &self.root, revoked, this, next)
    }

    /// The PCK Platform CA's CRL.
    pub fn pck_crl(
        &self,
        revoked: &[&[u8]],
        this: UnixTime,
        next: UnixTime,
    ) -> Result<Crl, EmuError> {
        crl(&self.pck_ca_key, &self.pck_ca, revoked, this, next)
    }

    /// Signs a TCB Info or QE Identity text with the TCB Signing key.
    pub fn sign_json(&self, text: &str) -> Result<SignedJson, EmuError> {
        Ok(SignedJson::new(
            text.as_bytes().to_vec(),
            self.tcb_key.sign_fixed(text.as_bytes())?,
        ))
    }
}

/// One platform TCB level of a TCB Info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSpec {
    pub sgx: [u8; 16],
    pub pce_svn: u16,
    pub tdx: Option<[u8; 16]>,
    pub date: UnixTime,
    pub status: TcbStatus,
    pub advisories: Vec<String>,
}

/// One level of a TDX module identity or a QE Identity (`tcb.isvsvn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsvLevelSpec {
    pub isv_svn: u16,
    pub date: UnixTime,
    pub status: TcbStatus,
    pub advisories: Vec<String>,
}

/// A TDX module identity (`TDX_01`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub id: String,
    pub mrsigner: [u8; 48],
    pub attributes: [u8; 8],
    pub attributes_mask: [u8; 8],
    pub levels: Vec<IsvLevelSpec>,
}

/// A TCB Info document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbInfoSpec {
    pub tee: Tee,
    /// 2 (SGX only, flat components) or 3.
    pub version: u32,
    pub issue_date: UnixTime,
    pub next_update: UnixTime,
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    pub evaluation_data_number: u32,
    /// `tdxModule`: mrsigner, attributes, attributesMask.
    pub tdx_module: Option<([u8; 48], [u8; 8], [u8; 8])>,
    pub module_identities: Vec<ModuleSpec>,
    pub levels: Vec<LevelSpec>,
}

fn set(v: &mut Value, key: &str, x: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_owned(), x);
    }
}

fn date(t: UnixTime) -> String {
    t.to_rfc3339()
}

fn comps(c: &[u8; 16]) -> Value {
    Value::Array(c.iter().map(|s| json!({ "svn": s })).collect())
}

fn isv_levels(levels: &[IsvLevelSpec]) -> Value {
    Value::Array(
        levels
            .iter()
            .map(|l| {
                let mut v = json!({
                    "tcb": { "isvsvn": l.isv_svn },
                    "tcbDate": date(l.date),
                    "tcbStatus": l.status.as_str(),
                });
                if !l.advisories.is_empty() {
                    set(&mut v, "advisoryIDs", json!(l.advisories));
                }
                v
            })
            .collect(),
    )
}

impl TcbInfoSpec {
    /// The `tcbInfo` object as compact JSON text.
    pub fn to_json(&self) -> String {
        let levels: Vec<Value> = self
            .levels
            .iter()
            .map(|l| {
                let mut tcb = if self.version == 2 {
                    let mut m = serde_json::Map::new();
                    for (i, s) in l.sgx.iter().enumerate() {
                        m.insert(format!("sgxtcbcomp{:02}svn", i.saturating_add(1)), json!(s));
                    }
                    Value::Object(m)
                } else {
                    json!({ "sgxtcbcomponents": comps(&l.sgx) })
                };
                set(&mut tcb, "pcesvn", json!(l.pce_svn));
                if let Some(t) = &l.tdx {
                    set(&mut tcb, "tdxtcbcomponents", comps(t));
                }
                let mut v = json!({
                    "tcb": tcb,
                    "tcbDate": date(l.date),
                    "tcbStatus": l.status.as_str(),
                });
                if !l.advisories.is_empty() {
                    set(&mut v, "advisoryIDs", json!(l.advisories));
                }
                v
            })
            .collect();
        let mut v = json!({
            "version": self.version,
            "issueDate": date(self.issue_date),
            "nextUpdate": date(self.next_update),
            "fmspc": hex::encode_upper(self.fmspc),
            "pceId": hex::encode_upper(self.pce_id),
            "tcbType": 0,
            "tcbEvaluationDataNumber": self.evaluation_data_number,
            "tcbLevels": levels,
        });
        if self.version >= 3 {
            set(
                &mut v,
                "id",
                json!(match self.tee {
                    Tee::Sgx => "SGX",
                    Tee::Tdx => "TDX",
                }),
            );
        }
        if let Some((s, a, m)) = &self.tdx_module {
            set(
                &mut v,
                "tdxModule",
                json!({
                    "mrsigner": hex::encode_upper(s),
                    "attributes": hex::encode_upper(a),
                    "attributesMask": hex::encode_upper(m),
                }),
            );
        }
        if !self.module_identities.is_empty() {
            set(
                &mut v,
                "tdxModuleIdentities",
                Value::Array(
                    self.module_identities
                        .iter()
                        .map(|m| {
                            json!({
                                "id": m.id,
                                "mrsigner": hex::encode_upper(m.mrsigner),
                                "attributes": hex::encode_upper(m.attributes),
                                "attributesMask": hex::encode_upper(m.attributes_mask),
                                "tcbLevels": isv_levels(&m.levels),
                            })
                        })
                        .collect(),
                ),
            );
        }
        v.to_string()
    }
}

/// A QE Identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeIdentitySpec {
    /// "QE", "TD_QE" or "QVE".
    pub id: String,
    pub issue_date: UnixTime,
    pub next_update: UnixTime,
    pub evaluation_data_number: u32,
    pub miscselect: [u8; 4],
    pub miscselect_mask: [u8; 4],
    pub attributes: [u8; 16],
    pub attributes_mask: [u8; 16],
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub levels: Vec<IsvLevelSpec>,
}

impl QeIdentitySpec {
    /// The `enclaveIdentity` object as compact JSON text.
    pub fn to_json(&self) -> String {
        json!({
            "id": self.id,
            "version": 2,
            "issueDate": date(self.issue_date),
            "nextUpdate": date(self.next_update),
            "tcbEvaluationDataNumber": self.evaluation_data_number,
            "miscselect": hex::encode_upper(self.miscselect),
            "miscselectMask": hex::encode_upper(self.miscselect_mask),
            "attributes": hex::encode_upper(self.attributes),
            "attributesMask": hex::encode_upper(self.attributes_mask),
            "mrsigner": hex::encode_upper(self.mrsigner),
            "isvprodid": self.isv_prod_id,
            "tcbLevels": isv_levels(&self.levels),
        })
        .to_string()
    }
}

/// How the quote carries the PCK certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertData {
    /// Type 5: the PEM chain PCK ‖ PCK CA ‖ root, NUL-terminated.
    PckChain,
    /// Type 1: PPID ‖ CPUSVN ‖ PCESVN ‖ PCEID (the verifier needs the PCK certificate supplied).
    PpidCleartext,
    /// Type 3: encrypted PPID (384 bytes, random here) ‖ CPUSVN ‖ PCESVN ‖ PCEID.
    PpidRsa3072,
}

/// The quoting enclave: its report fields, its attestation key, and the PCK that signs its
/// report.
pub struct QuotingEnclave {
    pub pck: TestPck,
    pub pck_spec: PckSpec,
    attestation_key: P256Key,
    pub report: SgxReportBody,
    pub auth_data: Vec<u8>,
    pub tee: Tee,
}

impl QuotingEnclave {
    /// The QE report with REPORTDATA = SHA-256(attestation key ‖ auth data) ‖ 0³², as QE3
    /// makes it.
    pub fn bound_report(&self) -> SgxReportBody {
        let mut r = self.report.clone();
        let mut bound = self.attestation_key.raw_public().to_vec();
        bound.extend_from_slice(&self.auth_data);
        let h = shomei_core::x509::sha256(&bound);
        r.report_data = [0u8; 64];
        for (o, b) in r.report_data.iter_mut().zip(h) {
            *o = b;
        }
        r
    }

    /// Builds and signs a quote over `body` (header ‖ \[descriptor\] ‖ body).
    pub fn quote(
        &self,
        pki: &TestPki,
        version: u16,
        body: &QuoteBody,
        cert: CertData,
    ) -> Result<Vec<u8>, EmuError> {
        self.quote_with(pki, version, body, cert, &self.bound_report())
    }

    /// [`QuotingEnclave::quote`] with a QE report of the caller's choosing (negative tests).
    pub fn quote_with(
        &self,
        pki: &TestPki,
        version: u16,
        body: &QuoteBody,
        cert: CertData,
        qe_report: &SgxReportBody,
    ) -> Result<Vec<u8>, EmuError> {
        let tee_type = match body {
            QuoteBody::Sgx(_) => TEE_TYPE_SGX,
            _ => TEE_TYPE_TDX,
        };
        let mut q = Vec::new();
        q.extend_from_slice(&version.to_le_bytes());
        q.extend_from_slice(&2u16.to_le_bytes());
        q.extend_from_slice(&tee_type.to_le_bytes());
        if version == 3 {
            q.extend_from_slice(&self.report.isv_svn.get().to_le_bytes());
            q.extend_from_slice(&self.pck_spec.pce_svn.to_le_bytes());
        } else {
            q.extend_from_slice(&[0u8; 4]);
        }
        q.extend_from_slice(&INTEL_QE_VENDOR_ID);
        q.extend_from_slice(&[0u8; 20]);
        let bytes: &[u8] = match body {
            QuoteBody::Sgx(b) => b.as_bytes(),
            QuoteBody::Td10(b) => b.as_bytes(),
            QuoteBody::Td15(b) => b.as_bytes(),
        };
        if version == 5 {
            let t: u16 = match body {
                QuoteBody::Sgx(_) => 1,
                QuoteBody::Td10(_) => 2,
                QuoteBody::Td15(_) => 3,
            };
            q.extend_from_slice(&t.to_le_bytes());
            let len = u32::try_from(bytes.len()).map_err(|_| EmuError::Invalid("body size"))?;
            q.extend_from_slice(&len.to_le_bytes());
        }
        q.extend_from_slice(bytes);
        let signature = self.attestation_key.sign_fixed(&q)?;

        let qe_bytes = qe_report.as_bytes();
        let qe_sig = self.pck.key.sign_fixed(qe_bytes)?;
        let (cert_type, cert_data): (u16, Vec<u8>) = match cert {
            CertData::PckChain => {
                let mut pem = String::new();
                for c in [&self.pck.certificate, &pki.pck_ca, &pki.root] {
                    pem.push_str(&shomei_core::x509::pem_encode("CERTIFICATE", c.der())?);
                }
                let mut b = pem.into_bytes();
                b.push(0);
                (5, b)
            }
            CertData::PpidCleartext | CertData::PpidRsa3072 => {
                let mut b = if cert == CertData::PpidCleartext {
                    self.pck_spec.ppid.to_vec()
                } else {
                    vec![0x5a; 384]
                };
                b.extend_from_slice(&self.pck_spec.cpu_svn);
                b.extend_from_slice(&self.pck_spec.pce_svn.to_le_bytes());
                b.extend_from_slice(&self.pck_spec.pce_id);
                (
                    if cert == CertData::PpidCleartext {
                        1
                    } else {
                        3
                    },
                    b,
                )
            }
        };
        let u32_len = |n: usize| u32::try_from(n).map_err(|_| EmuError::Invalid("length"));
        let u16_len = |n: usize| u16::try_from(n).map_err(|_| EmuError::Invalid("length"));
        let mut qe_section = Vec::new();
        qe_section.extend_from_slice(qe_bytes);
        qe_section.extend_from_slice(&qe_sig);
        qe_section.extend_from_slice(&u16_len(self.auth_data.len())?.to_le_bytes());
        qe_section.extend_from_slice(&self.auth_data);
        qe_section.extend_from_slice(&cert_type.to_le_bytes());
        qe_section.extend_from_slice(&u32_len(cert_data.len())?.to_le_bytes());
        qe_section.extend_from_slice(&cert_data);

        let mut sig_data = Vec::new();
        sig_data.extend_from_slice(&signature);
        sig_data.extend_from_slice(&self.attestation_key.raw_public());
        if version == 3 {
            sig_data.extend_from_slice(&qe_section);
        } else {
            sig_data.extend_from_slice(&6u16.to_le_bytes());
            sig_data.extend_from_slice(&u32_len(qe_section.len())?.to_le_bytes());
            sig_data.extend_from_slice(&qe_section);
        }
        q.extend_from_slice(&u32_len(sig_data.len())?.to_le_bytes());
        q.extend_from_slice(&sig_data);
        Ok(q)
    }
}

/// The body a quote carries.
#[derive(Debug, Clone)]
pub enum QuoteBody {
    Sgx(SgxReportBody),
    Td10(Td10ReportBody),
    Td15(Td15ReportBody),
}

/// The QE's MRSIGNER in the emulator (any 32 bytes; the QE Identity names the same).
pub const QE_MRSIGNER: [u8; 32] = [0x8c; 32];

/// A whole emulated platform: the test PKI, one PCK, the quoting enclave, and the collateral
/// specs (edit them, then call [`EmulatedPlatform::collateral`]).
pub struct EmulatedPlatform {
    pub pki: TestPki,
    pub qe: QuotingEnclave,
    pub tcb_info: TcbInfoSpec,
    pub qe_identity: QeIdentitySpec,
    /// Serials (content bytes) the Root CA CRL lists.
    pub root_crl_revoked: Vec<Vec<u8>>,
    /// Serials the PCK CRL lists.
    pub pck_crl_revoked: Vec<Vec<u8>>,
    pub crl_this_update: UnixTime,
    pub crl_next_update: UnixTime,
}

/// The time the default collateral is current at (2025-01-01).
pub const AT: UnixTime = UnixTime::from_secs(1_735_689_600);
const ISSUED: UnixTime = UnixTime::from_secs(1_734_220_800); // 2024-12-15
const NEXT: UnixTime = UnixTime::from_secs(1_736_899_200); // 2025-01-15
const LEVEL_DATE: UnixTime = UnixTime::from_secs(1_710_288_000); // 2024-03-13
const OLD_LEVEL_DATE: UnixTime = UnixTime::from_secs(1_691_539_200); // 2023-08-09

/// The emulated TDX module's MRSIGNERSEAM (Intel's module: zero).
pub const MODULE_MRSIGNER: [u8; 48] = [0u8; 48];

impl EmulatedPlatform {
    /// A TDX platform: PCK TCB (2,2,2,2,3,1,0,5, 0…), PCESVN 11, FMSPC 50806F000000, TDX module
    /// major version 1 (identity TDX_01, ISVSVN 4 UpToDate, 2 OutOfDate), TD QE ISVSVN 4.
    /// TCB Info v3: one UpToDate level at exactly the platform's TCB and an OutOfDate level
    /// below it. Collateral current at [`AT`].
    pub fn tdx() -> Result<Self, EmuError> {
        Self::new(Tee::Tdx, PkiOptions::default())
    }

    /// An SGX platform with the same PCK and a QE (id "QE").
    pub fn sgx() -> Result<Self, EmuError> {
        Self::new(Tee::Sgx, PkiOptions::default())
    }

    pub fn new(tee: Tee, opts: PkiOptions) -> Result<Self, EmuError> {
        let pki = TestPki::generate(opts)?;
        let sgx = [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
        let pck_spec = PckSpec {
            ppid: [0x11; 16],
            tcb_components: sgx,
            pce_svn: 11,
            cpu_svn: sgx,
            pce_id: [0, 0],
            fmspc: [0x50, 0x80, 0x6f, 0, 0, 0],
            sgx_type: 1,
            serial: 0x1234_5678,
        };
        let pck = pki.issue_pck(&pck_spec)?;
        let mut report = SgxReportBody::new_zeroed();
        report.mr_signer = QE_MRSIGNER;
        report.isv_prod_id.set(match tee {
            Tee::Sgx => 1,
            Tee::Tdx => 2,
        });
        report.isv_svn.set(4);
        report.attributes = [0x11, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0];
        let qe = QuotingEnclave {
            pck,
            pck_spec: pck_spec.clone(),
            attestation_key: P256Key::generate()?,
            report,
            auth_data: (0u8..32).collect(),
            tee,
        };
        let tdx_comps = [5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let is_tdx = tee == Tee::Tdx;
        let mut low = sgx;
        low[7] = 3;
        let tcb_info = TcbInfoSpec {
            tee,
            version: 3,
            issue_date: ISSUED,
            next_update: NEXT,
            fmspc: pck_spec.fmspc,
            pce_id: pck_spec.pce_id,
            evaluation_data_number: 17,
            tdx_module: is_tdx.then_some((MODULE_MRSIGNER, [0; 8], [0xff; 8])),
            module_identities: if is_tdx {
                vec![ModuleSpec {
                    id: "TDX_01".into(),
                    mrsigner: MODULE_MRSIGNER,
                    attributes: [0; 8],
                    attributes_mask: [0xff; 8],
                    levels: vec![
                        IsvLevelSpec {
                            isv_svn: 4,
                            date: LEVEL_DATE,
                            status: TcbStatus::UpToDate,
                            advisories: Vec::new(),
                        },
                        IsvLevelSpec {
                            isv_svn: 2,
                            date: OLD_LEVEL_DATE,
                            status: TcbStatus::OutOfDate,
                            advisories: vec!["INTEL-SA-01036".into()],
                        },
                    ],
                }]
            } else {
                Vec::new()
            },
            levels: vec![
                LevelSpec {
                    sgx,
                    pce_svn: 11,
                    tdx: is_tdx.then_some(tdx_comps),
                    date: LEVEL_DATE,
                    status: TcbStatus::UpToDate,
                    advisories: Vec::new(),
                },
                LevelSpec {
                    sgx: low,
                    pce_svn: 5,
                    tdx: is_tdx.then_some(tdx_comps),
                    date: OLD_LEVEL_DATE,
                    status: TcbStatus::OutOfDate,
                    advisories: vec!["INTEL-SA-00960".into(), "INTEL-SA-00982".into()],
                },
            ],
        };
        let qe_identity = QeIdentitySpec {
            id: if is_tdx { "TD_QE" } else { "QE" }.into(),
            issue_date: ISSUED,
            next_update: NEXT,
            evaluation_data_number: 17,
            miscselect: [0; 4],
            miscselect_mask: [0xff; 4],
            attributes: [0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            attributes_mask: [
                0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            mrsigner: QE_MRSIGNER,
            isv_prod_id: if is_tdx { 2 } else { 1 },
            levels: vec![
                IsvLevelSpec {
                    isv_svn: 4,
                    date: LEVEL_DATE,
                    status: TcbStatus::UpToDate,
                    advisories: Vec::new(),
                },
                IsvLevelSpec {
                    isv_svn: 2,
                    date: OLD_LEVEL_DATE,
                    status: TcbStatus::OutOfDate,
                    advisories: vec!["INTEL-SA-00615".into()],
                },
            ],
        };
        Ok(Self {
            pki,
            qe,
            tcb_info,
            qe_identity,
            root_crl_revoked: Vec::new(),
            pck_crl_revoked: Vec::new(),
            crl_this_update: ISSUED,
            crl_next_update: NEXT,
        })
    }

    pub fn anchor(&self) -> Result<TrustAnchor, EmuError> {
        self.pki.anchor()
    }

    /// The collateral for the current specs, signed by the test TCB Signing key.
    pub fn collateral(&self) -> Result<Collateral, EmuError> {
        self.collateral_from(&self.tcb_info.to_json(), &self.qe_identity.to_json())
    }

    /// Collateral with TCB Info and QE Identity texts of the caller's choosing (signed as given).
    pub fn collateral_from(
        &self,
        tcb_info: &str,
        qe_identity: &str,
    ) -> Result<Collateral, EmuError> {
        let refs = |v: &[Vec<u8>]| -> Vec<Vec<u8>> { v.to_vec() };
        let root_revoked = refs(&self.root_crl_revoked);
        let pck_revoked = refs(&self.pck_crl_revoked);
        let rr: Vec<&[u8]> = root_revoked.iter().map(Vec::as_slice).collect();
        let pr: Vec<&[u8]> = pck_revoked.iter().map(Vec::as_slice).collect();
        Ok(Collateral {
            tcb_info: self.pki.sign_json(tcb_info)?,
            tcb_info_issuer_chain: vec![self.pki.tcb_signing.clone(), self.pki.root.clone()],
            qe_identity: self.pki.sign_json(qe_identity)?,
            qe_identity_issuer_chain: Vec::new(),
            root_ca_crl: self
                .pki
                .root_crl(&rr, self.crl_this_update, self.crl_next_update)?,
            pck_crl: self
                .pki
                .pck_crl(&pr, self.crl_this_update, self.crl_next_update)?,
            pck_crl_issuer_chain: vec![self.pki.pck_ca.clone(), self.pki.root.clone()],
            pck_cert_chain: Vec::new(),
        })
    }

    /// The supplied PCK chain for quotes with certification data types 1–3.
    pub fn pck_chain(&self) -> Vec<Certificate> {
        vec![self.qe.pck.certificate.clone(), self.pki.pck_ca.clone()]
    }

    /// A quote over `body`, the PCK chain in the quote (type 5).
    pub fn quote(&self, version: u16, body: &QuoteBody) -> Result<Vec<u8>, EmuError> {
        self.qe.quote(&self.pki, version, body, CertData::PckChain)
    }

    /// PCS-format files for a collateral directory: (file name, bytes).
    pub fn pcs_files(&self) -> Result<Vec<(&'static str, Vec<u8>)>, EmuError> {
        let c = self.collateral()?;
        let body = |key: &str, s: &SignedJson| -> Vec<u8> {
            format!(
                "{{\"{key}\":{},\"signature\":\"{}\"}}",
                String::from_utf8_lossy(s.raw()),
                hex::encode(s.signature())
            )
            .into_bytes()
        };
        let pem = |certs: &[Certificate]| -> Result<Vec<u8>, EmuError> {
            let mut out = String::new();
            for c in certs {
                out.push_str(&shomei_core::x509::pem_encode("CERTIFICATE", c.der())?);
            }
            Ok(out.into_bytes())
        };
        Ok(vec![
            ("tcb_info.json", body("tcbInfo", &c.tcb_info)),
            ("qe_identity.json", body("enclaveIdentity", &c.qe_identity)),
            ("pck_crl.der", c.pck_crl.der().to_vec()),
            ("root_ca_crl.der", c.root_ca_crl.der().to_vec()),
            ("tcb_info_issuer_chain.pem", pem(&c.tcb_info_issuer_chain)?),
            ("pck_crl_issuer_chain.pem", pem(&c.pck_crl_issuer_chain)?),
            ("pck_cert_chain.pem", pem(&self.pck_chain())?),
        ])
    }

    /// The root certificate, PEM (for `--root`).
    pub fn root_pem(&self) -> Result<String, EmuError> {
        Ok(shomei_core::x509::pem_encode(
            "CERTIFICATE",
            self.pki.root.der(),
        )?)
    }
}
