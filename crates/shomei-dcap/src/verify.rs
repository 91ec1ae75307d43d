//! Verification with Intel's QVL semantics: chains to the trust anchor, CRLs, TCB Info and QE
//! Identity signatures over the bytes as received, the PCK certificate and its SGX extension,
//! the QE report (signature by the PCK key, the hash binding the attestation key), the QE
//! identity and TCB level, the quote signature, the platform and TDX module TCB levels, and the
//! status convergence.
//!
//! No clock and no network: the time and all collateral are inputs. Expired collateral is not a
//! rejection: the verdict says which items had expired at the verification time (as Intel's
//! `collateral_expiration_status`), and the appraisal policy decides. Collateral that is not
//! valid *yet* is a rejection.
//!
//! The collateral part is reusable ([`VerifiedCollateral`]) so that a verifier appraising many
//! quotes from one platform family verifies TCB Info, QE Identity, the TCB Signing chain and the
//! CRLs once; each quote then costs its PCK certificate, QE report and quote signatures.

use aws_lc_rs::signature::{self, ParsedPublicKey};
use der::Decode;
use serde::Serialize;
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, Crl, HashAlg, PublicKey, SignatureAlgorithm, X509Error};
use x509_cert::ext::pkix::BasicConstraints;

use crate::collateral::{Collateral, SignedJson};
use crate::error::{Error, Rejection, SignedDocument};
use crate::pck::PckExtensions;
use crate::quote::{
    CertificationDataType, INTEL_QE_VENDOR_ID, Quote, QuoteHeader, ReportBody, SgxReportBody, Tee,
};
use crate::roots::TrustAnchor;
use crate::status::TcbStatus;
use crate::tcbinfo::{EnclaveId, QeIdentity, TcbInfo, TcbLevel, TdxModule};

const ROOT: &str = "Intel SGX Root CA";

/// What the caller tells the verifier: the time and the root of trust.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    pub at: UnixTime,
    /// `None` only when the compiled-in Intel root failed to load: every quote is then rejected.
    pub anchor: Option<&'a TrustAnchor>,
}

impl VerifyOptions<'static> {
    /// The pinned Intel SGX Root CA, at time `at`.
    pub fn at(at: UnixTime) -> Self {
        Self {
            at,
            anchor: TrustAnchor::intel(),
        }
    }
}

impl<'a> VerifyOptions<'a> {
    /// Trusts `anchor` instead of Intel's root (and only it).
    pub fn with_anchor<'b>(self, anchor: &'b TrustAnchor) -> VerifyOptions<'b> {
        VerifyOptions {
            at: self.at,
            anchor: Some(anchor),
        }
    }
}

/// A collateral item with a validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollateralItem {
    RootCaCertificate,
    RootCaCrl,
    TcbSigningCertificate,
    QeIdentitySigningCertificate,
    TcbInfo,
    QeIdentity,
    PckCaCertificate,
    PckCrl,
    PckCertificate,
}

impl CollateralItem {
    pub fn name(self) -> &'static str {
        match self {
            Self::RootCaCertificate => "Root CA certificate",
            Self::RootCaCrl => "Root CA CRL",
            Self::TcbSigningCertificate => "TCB Signing certificate",
            Self::QeIdentitySigningCertificate => "QE Identity signing certificate",
            Self::TcbInfo => "TCB Info",
            Self::QeIdentity => "QE Identity",
            Self::PckCaCertificate => "PCK CA certificate",
            Self::PckCrl => "PCK CRL",
            Self::PckCertificate => "PCK certificate",
        }
    }
}

/// The validity of one collateral item: from its notBefore / thisUpdate / issueDate to its
/// notAfter / nextUpdate (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemValidity {
    pub item: CollateralItem,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub issued: UnixTime,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub expires: UnixTime,
}

/// The collateral's validity at the verification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollateralStatus {
    pub items: Vec<ItemValidity>,
    /// The items whose expiry is before the verification time.
    pub expired: Vec<CollateralItem>,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub earliest_issue: UnixTime,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub latest_issue: UnixTime,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub earliest_expiration: UnixTime,
}

impl CollateralStatus {
    fn new(items: Vec<ItemValidity>, at: UnixTime) -> Self {
        let expired = items
            .iter()
            .filter(|i| at > i.expires)
            .map(|i| i.item)
            .collect();
        let earliest_issue = items.iter().map(|i| i.issued).min().unwrap_or(at);
        let latest_issue = items.iter().map(|i| i.issued).max().unwrap_or(at);
        let earliest_expiration = items.iter().map(|i| i.expires).min().unwrap_or(at);
        Self {
            items,
            expired,
            earliest_issue,
            latest_issue,
            earliest_expiration,
        }
    }

    pub fn is_expired(&self) -> bool {
        !self.expired.is_empty()
    }

    pub fn get(&self, item: CollateralItem) -> Option<&ItemValidity> {
        self.items.iter().find(|i| i.item == item)
    }
}

/// The TDX module's identity and TCB level (TEE_TCB_SVN\[1\] > 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleVerdict {
    pub id: String,
    pub status: TcbStatus,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub tcb_date: UnixTime,
    pub advisory_ids: Vec<String>,
}

/// The TCB verdict: Intel's converged status and what it was made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcbVerdict {
    /// The converged status (platform ⊕ TDX module ⊕ QE, TD 1.5 relaunch).
    pub status: TcbStatus,
    /// Platform, TDX module and QE advisories, deduplicated.
    pub advisory_ids: Vec<String>,
    /// The matched platform TCB level.
    pub platform_status: TcbStatus,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub platform_tcb_date: UnixTime,
    pub platform_advisory_ids: Vec<String>,
    pub tdx_module: Option<ModuleVerdict>,
    /// The QE's TCB status (Revoked when no level matches, as Intel's QVL).
    pub qe_status: TcbStatus,
    #[serde(serialize_with = "crate::claims::ser_opt_time")]
    pub qe_tcb_date: Option<UnixTime>,
    pub qe_advisory_ids: Vec<String>,
    pub tcb_evaluation_data_number: u32,
    pub qe_tcb_evaluation_data_number: u32,
}

/// A quote whose signatures, chain and TCB level verified. Only verification constructs it.
#[derive(Debug, Clone)]
pub struct VerifiedQuote {
    version: u16,
    header: QuoteHeader,
    body: ReportBody,
    qe_report: SgxReportBody,
    certification_data_type: CertificationDataType,
    pck: PckExtensions,
    tcb: TcbVerdict,
    collateral: CollateralStatus,
    verified_at: UnixTime,
    anchor_sha256: [u8; 32],
    anchor_is_intel: bool,
}

impl VerifiedQuote {
    pub fn version(&self) -> u16 {
        self.version
    }

    pub fn tee(&self) -> Tee {
        self.body.tee()
    }

    pub fn header(&self) -> &QuoteHeader {
        &self.header
    }

    pub fn body(&self) -> &ReportBody {
        &self.body
    }

    pub fn qe_report(&self) -> &SgxReportBody {
        &self.qe_report
    }

    pub fn certification_data_type(&self) -> CertificationDataType {
        self.certification_data_type
    }

    /// The PCK certificate's SGX extension.
    pub fn pck(&self) -> &PckExtensions {
        &self.pck
    }

    pub fn tcb(&self) -> &TcbVerdict {
        &self.tcb
    }

    pub fn status(&self) -> TcbStatus {
        self.tcb.status
    }

    pub fn advisory_ids(&self) -> &[String] {
        &self.tcb.advisory_ids
    }

    pub fn collateral(&self) -> &CollateralStatus {
        &self.collateral
    }

    pub fn verified_at(&self) -> UnixTime {
        self.verified_at
    }

    /// SHA-256 of the trust anchor the chains ended at.
    pub fn anchor_sha256(&self) -> [u8; 32] {
        self.anchor_sha256
    }

    /// Whether that anchor is the pinned Intel SGX Root CA.
    pub fn anchor_is_intel(&self) -> bool {
        self.anchor_is_intel
    }
}

fn p256_point(cert: &Certificate, what: &'static str) -> Result<Vec<u8>, Rejection> {
    match cert.public_key() {
        Ok(PublicKey::EcP256(p)) => Ok(p),
        _ => Err(Rejection::CertificateProfile {
            cert: what,
            detail: "the key is not an EC P-256 key".into(),
        }),
    }
}

fn fixed_key(point: &[u8], what: &'static str) -> Result<ParsedPublicKey, Rejection> {
    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).map_err(|_| {
        Rejection::CertificateProfile {
            cert: what,
            detail: "the key is not a valid P-256 point".into(),
        }
    })
}

fn is_self_issued(c: &Certificate) -> bool {
    c.subject_der() == c.issuer_der()
}

/// `basicConstraints.cA`, when the extension is present and decodes.
fn basic_constraints_ca(c: &Certificate) -> Option<bool> {
    let oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");
    c.extension(&oid)
        .and_then(|v| BasicConstraints::from_der(v).ok())
        .map(|b| b.ca)
}

fn cn(c: &Certificate) -> String {
    c.subject_cn().unwrap_or_else(|| "(no CN)".into())
}

/// A certificate verified up to the anchor, with its key (pre-parsed for ECDSA P-256).
#[derive(Clone)]
struct VerifiedCa {
    cert: Certificate,
    subject: Vec<u8>,
    key: PublicKey,
    p256: Option<ParsedPublicKey>,
}

impl core::fmt::Debug for VerifiedCa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedCa")
            .field("subject", &cn(&self.cert))
            .finish_non_exhaustive()
    }
}

impl VerifiedCa {
    fn new(cert: Certificate, key: PublicKey) -> Self {
        let p256 = match &key {
            PublicKey::EcP256(p) => {
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, p).ok()
            }
            _ => None,
        };
        Self {
            subject: cert.subject_der(),
            cert,
            key,
            p256,
        }
    }

    /// Verifies a certificate this CA issued (the pre-parsed key for ECDSA-SHA256).
    fn verifies(&self, c: &Certificate) -> bool {
        let ecdsa256 = matches!(
            c.signature_algorithm(),
            Ok(SignatureAlgorithm::Ecdsa(HashAlg::Sha256))
        );
        match (&self.p256, c.decoded().signature.as_bytes()) {
            (Some(k), Some(sig)) if ecdsa256 => k.verify_sig(c.tbs_bytes(), sig).is_ok(),
            _ => c.verify_signed_by(&self.key).is_ok(),
        }
    }
}

/// The checks every certificate directly under the anchor gets: issuer name, signature, not
/// revoked by the Root CA CRL.
fn verify_under_anchor(
    cert: &Certificate,
    what: &'static str,
    anchor: &TrustAnchor,
    root_crl: &Crl,
) -> Result<(), Rejection> {
    let root = anchor.certificate();
    if cert.issuer_der() != root.subject_der() {
        return Err(Rejection::ChainIssuer {
            cert: what,
            issuer: ROOT,
            detail: format!(
                "issuer {:?}, trust anchor {:?}",
                cert.issuer_cn().unwrap_or_default(),
                cn(root)
            ),
        });
    }
    cert.verify_signed_by(anchor.key())
        .map_err(|_| Rejection::ChainSignature {
            cert: what,
            issuer: ROOT,
        })?;
    if root_crl.is_revoked(cert.serial()) {
        return Err(Rejection::Revoked {
            cert: what,
            serial: hex::encode(cert.serial()),
            crl: "Root CA CRL",
        });
    }
    Ok(())
}

/// Any root that arrives with the collateral or the quote must be the anchor.
fn no_other_root<'c>(
    certs: impl IntoIterator<Item = &'c Certificate>,
    anchor: &TrustAnchor,
) -> Result<(), Rejection> {
    for c in certs {
        if is_self_issued(c) && c != anchor.certificate() {
            return Err(Rejection::RootOfTrust {
                detail: format!(
                    "the chain ends at {:?} (SHA-256 {}), which is not the trusted root (SHA-256 {})",
                    cn(c),
                    hex::encode(c.sha256()),
                    hex::encode(anchor.sha256())
                ),
            });
        }
    }
    Ok(())
}

/// The signing certificate of a chain: its first certificate that is not self-issued.
fn signer_of<'c>(chain: &'c [Certificate], what: &'static str) -> Result<&'c Certificate, Error> {
    chain.iter().find(|c| !is_self_issued(c)).ok_or_else(|| {
        Error::MissingCollateral(format!(
            "the {what} issuer chain has no signing certificate"
        ))
    })
}

fn verify_signed_json(
    doc: &SignedJson,
    key: &ParsedPublicKey,
    what: SignedDocument,
) -> Result<(), Rejection> {
    key.verify_sig(doc.raw(), doc.signature())
        .map_err(|_| Rejection::CollateralSignature { what })
}

fn check_crl_signature(
    crl: &Crl,
    issuer: &VerifiedCa,
    name: &'static str,
) -> Result<(), Rejection> {
    if crl.issuer_der() != issuer.cert.subject_der() {
        return Err(Rejection::Crl {
            crl: name,
            detail: format!("issued by someone other than {:?}", cn(&issuer.cert)),
        });
    }
    crl.verify_signed_by(&issuer.key)
        .map_err(|e| Rejection::Crl {
            crl: name,
            detail: format!("signature does not verify: {e}"),
        })
}

fn crl_times(crl: &Crl, item: CollateralItem) -> Result<ItemValidity, Rejection> {
    let next = crl.next_update().ok_or_else(|| Rejection::Crl {
        crl: item.name(),
        detail: "no nextUpdate".into(),
    })?;
    Ok(ItemValidity {
        item,
        issued: crl.this_update(),
        expires: next,
    })
}

fn cert_times(c: &Certificate, item: CollateralItem) -> ItemValidity {
    ItemValidity {
        item,
        issued: c.not_before(),
        expires: c.not_after(),
    }
}

/// TCB Info, QE Identity, the TCB Signing chain and the CRLs, verified against a trust anchor.
/// Time-independent: [`VerifiedCollateral::verify_quote`] applies the time.
#[derive(Debug, Clone)]
pub struct VerifiedCollateral {
    anchor: TrustAnchor,
    root_crl: Crl,
    pck_crl: Crl,
    /// The PCK CRL's issuer, when the collateral carried it (verified under the anchor).
    pck_ca: Option<VerifiedCa>,
    /// Candidate PCK CAs from the collateral (PCK CRL issuer chain, supplied PCK chain).
    pck_chain: Vec<Certificate>,
    extra_cas: Vec<Certificate>,
    tcb_info: TcbInfo,
    qe_identity: QeIdentity,
    times: Vec<ItemValidity>,
    /// Base64 of the anchor and the cached PCK CA, to skip decoding them in quotes.
    known_b64: Vec<String>,
    pck_ca_b64: Option<String>,
}

impl VerifiedCollateral {
    /// Verifies `collateral` against `anchor`.
    pub fn new(collateral: &Collateral, anchor: &TrustAnchor) -> Result<Self, Error> {
        let root = anchor.certificate();
        let root_verified = VerifiedCa::new(root.clone(), anchor.key().clone());
        no_other_root(
            collateral
                .tcb_info_issuer_chain
                .iter()
                .chain(&collateral.qe_identity_issuer_chain)
                .chain(&collateral.pck_crl_issuer_chain)
                .chain(&collateral.pck_cert_chain),
            anchor,
        )?;

        let mut times = vec![cert_times(root, CollateralItem::RootCaCertificate)];

        // Root CA CRL, signed by the anchor.
        check_crl_signature(&collateral.root_ca_crl, &root_verified, "Root CA CRL")?;
        times.push(crl_times(
            &collateral.root_ca_crl,
            CollateralItem::RootCaCrl,
        )?);
        let root_crl = &collateral.root_ca_crl;

        // TCB Info under the TCB Signing certificate.
        let tcb_signer = signer_of(&collateral.tcb_info_issuer_chain, "TCB Info")?;
        verify_under_anchor(tcb_signer, "TCB Signing certificate", anchor, root_crl)?;
        not_a_ca(tcb_signer, "TCB Signing certificate")?;
        let tcb_key = fixed_key(
            &p256_point(tcb_signer, "TCB Signing certificate")?,
            "TCB Signing certificate",
        )?;
        verify_signed_json(&collateral.tcb_info, &tcb_key, SignedDocument::TcbInfo)?;
        let tcb_info = TcbInfo::from_json(collateral.tcb_info.raw())?;
        times.push(cert_times(
            tcb_signer,
            CollateralItem::TcbSigningCertificate,
        ));
        times.push(ItemValidity {
            item: CollateralItem::TcbInfo,
            issued: tcb_info.issue_date,
            expires: tcb_info.next_update,
        });

        // QE Identity, under its own chain or the TCB Info chain.
        let qe_chain = if collateral.qe_identity_issuer_chain.is_empty() {
            &collateral.tcb_info_issuer_chain
        } else {
            &collateral.qe_identity_issuer_chain
        };
        let qe_signer = signer_of(qe_chain, "QE Identity")?;
        let qe_key = if qe_signer == tcb_signer {
            tcb_key
        } else {
            verify_under_anchor(
                qe_signer,
                "QE Identity signing certificate",
                anchor,
                root_crl,
            )?;
            not_a_ca(qe_signer, "QE Identity signing certificate")?;
            times.push(cert_times(
                qe_signer,
                CollateralItem::QeIdentitySigningCertificate,
            ));
            fixed_key(
                &p256_point(qe_signer, "QE Identity signing certificate")?,
                "QE Identity signing certificate",
            )?
        };
        verify_signed_json(&collateral.qe_identity, &qe_key, SignedDocument::QeIdentity)?;
        let qe_identity = QeIdentity::from_json(collateral.qe_identity.raw())?;
        times.push(ItemValidity {
            item: CollateralItem::QeIdentity,
            issued: qe_identity.issue_date,
            expires: qe_identity.next_update,
        });

        // PCK CRL: verified now if its issuer came with the collateral, else per quote.
        times.push(crl_times(&collateral.pck_crl, CollateralItem::PckCrl)?);
        let crl_issuer = collateral.pck_crl.issuer_der();
        let pck_ca = match collateral
            .pck_crl_issuer_chain
            .iter()
            .chain(&collateral.pck_cert_chain)
            .find(|c| !is_self_issued(c) && c.subject_der() == crl_issuer)
        {
            Some(ca) => {
                let v = verify_pck_ca(ca, anchor, root_crl)?;
                check_crl_signature(&collateral.pck_crl, &v, "PCK CRL")?;
                Some(v)
            }
            None => None,
        };

        let pck_ca_b64 = pck_ca.as_ref().and_then(|c| base64_of(c.cert.der()));
        let known_b64 = base64_of(root.der())
            .into_iter()
            .chain(pck_ca_b64.clone())
            .collect();
        Ok(Self {
            known_b64,
            pck_ca_b64,
            anchor: anchor.clone(),
            root_crl: collateral.root_ca_crl.clone(),
            pck_crl: collateral.pck_crl.clone(),
            pck_ca,
            pck_chain: collateral.pck_cert_chain.clone(),
            extra_cas: collateral.pck_crl_issuer_chain.clone(),
            tcb_info,
            qe_identity,
            times,
        })
    }

    pub fn tcb_info(&self) -> &TcbInfo {
        &self.tcb_info
    }

    pub fn qe_identity(&self) -> &QeIdentity {
        &self.qe_identity
    }

    /// Verifies one quote at time `at`.
    pub fn verify_quote(&self, bytes: &[u8], at: UnixTime) -> Result<VerifiedQuote, Error> {
        let quote = Quote::parse(bytes)?;
        self.verify_parsed(&quote, at)
    }

    /// The PCK chain (from the quote for type 5, else the supplied one), without the anchor
    /// and the cached PCK CA, which are recognised by their bytes and not parsed again; and
    /// whether the cached PCK CA was among them.
    fn pck_chain_of(&self, quote: &Quote<'_>) -> Result<(Vec<Certificate>, bool), Error> {
        let cd = quote.certification_data();
        let anchor_der = self.anchor.certificate().der();
        let cached_der = self.pck_ca.as_ref().map(|c| c.cert.der());
        let mut out = Vec::new();
        let mut has_cached = false;
        match cd.kind {
            CertificationDataType::PckCertChain => {
                const W: &str = "PCK certificate chain in the quote";
                let blocks =
                    pem_certificate_blocks(cd.data).map_err(|e| Error::certificate(W, e))?;
                if blocks.is_empty() {
                    return Err(Error::certificate(
                        W,
                        X509Error::Empty("certification data"),
                    ));
                }
                for (index, block) in blocks.into_iter().enumerate() {
                    // Certificates already known are recognised by their base64 text.
                    if self.known_b64.iter().any(|k| same_base64(block.body, k)) {
                        has_cached |= self
                            .pck_ca_b64
                            .as_deref()
                            .is_some_and(|k| same_base64(block.body, k));
                        continue;
                    }
                    let pem_err =
                        |detail: String| Error::certificate(W, X509Error::Pem { index, detail });
                    let (label, der) = der::pem::decode_vec(block.whole.as_bytes())
                        .map_err(|e| pem_err(e.to_string()))?;
                    if label != "CERTIFICATE" {
                        return Err(pem_err(format!("label {label:?}")));
                    }
                    if Some(der.as_slice()) == cached_der {
                        has_cached = true;
                    } else if der.as_slice() != anchor_der {
                        out.push(
                            Certificate::from_der(&der).map_err(|e| Error::certificate(W, e))?,
                        );
                    }
                }
            }
            other if self.pck_chain.is_empty() => {
                return Err(Error::MissingCollateral(format!(
                    "the quote's certification data (type {}) does not carry the PCK certificate: \
                     supply it (pck_cert_chain)",
                    other.code()
                )));
            }
            _ => {
                for c in &self.pck_chain {
                    if Some(c.der()) == cached_der {
                        has_cached = true;
                    } else if c.der() != anchor_der {
                        out.push(c.clone());
                    }
                }
            }
        }
        Ok((out, has_cached))
    }

    fn verify_parsed(&self, quote: &Quote<'_>, at: UnixTime) -> Result<VerifiedQuote, Error> {
        let header = quote.header();
        if header.qe_vendor_id != INTEL_QE_VENDOR_ID {
            return Err(Rejection::QeVendor {
                found: hex::encode(header.qe_vendor_id),
            }
            .into());
        }
        let anchor = &self.anchor;

        // The PCK chain: leaf → PCK CA → anchor, and the CRLs.
        let (chain, has_cached) = self.pck_chain_of(quote)?;
        no_other_root(&chain, anchor)?;
        let leaf = chain
            .iter()
            .find(|c| {
                c.subject_cn()
                    .is_some_and(|n| n.contains("SGX PCK Certificate"))
            })
            .ok_or_else(|| Rejection::CertificateProfile {
                cert: "PCK certificate",
                detail: "no certificate with CN \"Intel SGX PCK Certificate\" in the PCK chain"
                    .into(),
            })?;
        not_a_ca(leaf, "PCK certificate")?;
        let issuer = leaf.issuer_der();
        // The cached PCK CA, unless the chain brings a different certificate of the same name.
        let cached = self.pck_ca.as_ref().filter(|v| {
            v.subject == issuer
                && (has_cached
                    || !chain
                        .iter()
                        .any(|c| !is_self_issued(c) && c.subject_der() == issuer))
        });
        let fresh;
        let ca = match cached {
            Some(v) => v,
            None => {
                let candidate = chain
                    .iter()
                    .chain(&self.extra_cas)
                    .chain(&self.pck_chain)
                    .find(|c| !is_self_issued(c) && c.subject_der() == issuer)
                    .ok_or_else(|| Rejection::ChainIssuer {
                        cert: "PCK certificate",
                        issuer: "PCK CA",
                        detail: format!(
                            "no certificate named {:?} came with the quote or the collateral",
                            leaf.issuer_cn().unwrap_or_default()
                        ),
                    })?;
                let v = verify_pck_ca(candidate, anchor, &self.root_crl)?;
                check_crl_signature(&self.pck_crl, &v, "PCK CRL").map_err(|e| match e {
                    Rejection::Crl { detail, .. } => Rejection::Crl {
                        crl: "PCK CRL",
                        detail: format!("{detail} (the PCK certificate's issuer)"),
                    },
                    other => other,
                })?;
                fresh = v;
                &fresh
            }
        };
        if !ca.verifies(leaf) {
            return Err(Rejection::ChainSignature {
                cert: "PCK certificate",
                issuer: "PCK CA",
            }
            .into());
        }
        if self.pck_crl.is_revoked(leaf.serial()) {
            return Err(Rejection::Revoked {
                cert: "PCK certificate",
                serial: hex::encode(leaf.serial()),
                crl: "PCK CRL",
            }
            .into());
        }

        // Time: nothing may be valid only in the future; expiry is reported, not fatal.
        let mut times = self.times.clone();
        times.push(cert_times(&ca.cert, CollateralItem::PckCaCertificate));
        times.push(cert_times(leaf, CollateralItem::PckCertificate));
        if let Some(t) = times
            .iter()
            .filter(|t| at < t.issued)
            .max_by_key(|t| t.issued)
        {
            return Err(Rejection::NotYetValid {
                what: t.item.name(),
                at,
                not_before: t.issued,
            }
            .into());
        }

        let pck = PckExtensions::from_certificate(leaf)?;
        let cd = quote.certification_data();
        if cd.kind == CertificationDataType::PpidCleartext {
            if let Some(ppid) = cd.data.get(..16) {
                if ppid != pck.ppid {
                    return Err(Rejection::CertificationData {
                        detail: format!(
                            "the cleartext PPID {} is not the PCK certificate's {}",
                            hex::encode(ppid),
                            hex::encode(pck.ppid)
                        ),
                    }
                    .into());
                }
            }
        }

        // The QE report: signed by the PCK key, binding the attestation key.
        let pck_key = fixed_key(&p256_point(leaf, "PCK certificate")?, "PCK certificate")?;
        pck_key
            .verify_sig(quote.qe_report_bytes(), quote.qe_report_signature())
            .map_err(|_| Rejection::QeReportSignature)?;
        let mut bound = Vec::with_capacity(64usize.saturating_add(quote.qe_auth_data().len()));
        bound.extend_from_slice(quote.attestation_key());
        bound.extend_from_slice(quote.qe_auth_data());
        let expected = shomei_core::x509::sha256(&bound);
        let qe = quote.qe_report();
        let found = qe.report_data.get(..32).unwrap_or(&[]);
        if found != expected {
            return Err(Rejection::QeReportData {
                expected: hex::encode(expected),
                found: hex::encode(found),
            }
            .into());
        }

        // The QE against its identity.
        let tee = quote.tee();
        let (qe_status, qe_date, qe_advisories) = self.qe_tcb(qe, tee)?;

        // The quote signature.
        let mut point = [0u8; 65];
        point[0] = 0x04;
        for (o, b) in point.iter_mut().skip(1).zip(quote.attestation_key()) {
            *o = *b;
        }
        let att_key = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| Rejection::AttestationKey)?;
        att_key
            .verify_sig(quote.signed_bytes(), quote.signature())
            .map_err(|_| Rejection::QuoteSignature)?;

        // The platform TCB level.
        let body = quote.body().to_owned();
        let tcb = self.platform_tcb(&body, &pck, quote.version())?;
        let mut status = tcb.converged;
        status = status.converge(qe_status);
        if let (Some(td15), Some(sgx_status)) = (body.td15(), tcb.sgx_status) {
            if let Some(r) = self.relaunch(td15, sgx_status, tcb.converged, qe_status) {
                status = r;
            }
        }
        let mut advisory_ids: Vec<String> = Vec::new();
        let module_adv = tcb.module.iter().flat_map(|m| m.advisory_ids.iter());
        for a in tcb
            .level
            .advisory_ids
            .iter()
            .chain(module_adv)
            .chain(qe_advisories.iter())
        {
            if !advisory_ids.contains(a) {
                advisory_ids.push(a.clone());
            }
        }

        Ok(VerifiedQuote {
            version: quote.version(),
            header: header.clone(),
            body,
            qe_report: qe.clone(),
            certification_data_type: cd.kind,
            pck,
            tcb: TcbVerdict {
                status,
                advisory_ids,
                platform_status: tcb.level.status,
                platform_tcb_date: tcb.level.tcb_date,
                platform_advisory_ids: tcb.level.advisory_ids.clone(),
                tdx_module: tcb.module,
                qe_status,
                qe_tcb_date: qe_date,
                qe_advisory_ids: qe_advisories,
                tcb_evaluation_data_number: self.tcb_info.tcb_evaluation_data_number,
                qe_tcb_evaluation_data_number: self.qe_identity.tcb_evaluation_data_number,
            },
            collateral: CollateralStatus::new(times, at),
            verified_at: at,
            anchor_sha256: anchor.sha256(),
            anchor_is_intel: anchor.is_intel(),
        })
    }

    /// QE Identity: id, MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their masks, then
    /// the QE TCB level (the first, highest-first, whose ISVSVN the report meets; none: Revoked).
    fn qe_tcb(
        &self,
        qe: &SgxReportBody,
        tee: Tee,
    ) -> Result<(TcbStatus, Option<UnixTime>, Vec<String>), Rejection> {
        let id = &self.qe_identity;
        let want = match tee {
            Tee::Sgx => EnclaveId::Qe,
            Tee::Tdx => EnclaveId::TdQe,
        };
        let mismatch = |detail: String| Rejection::QeIdentityMismatch { detail };
        if id.id != want {
            return Err(mismatch(format!(
                "the QE Identity is for {}, a {tee} quote needs {want}",
                id.id
            )));
        }
        if qe.mr_signer != id.mrsigner {
            return Err(mismatch(format!(
                "MRSIGNER {} is not {}",
                hex::encode(qe.mr_signer),
                hex::encode(id.mrsigner)
            )));
        }
        if qe.isv_prod_id.get() != id.isv_prod_id {
            return Err(mismatch(format!(
                "ISVPRODID {} is not {}",
                qe.isv_prod_id.get(),
                id.isv_prod_id
            )));
        }
        if !masked_eq(&qe.misc_select, &id.miscselect, &id.miscselect_mask) {
            return Err(mismatch(format!(
                "MISCSELECT {} does not match {} under mask {}",
                hex::encode(qe.misc_select),
                hex::encode(id.miscselect),
                hex::encode(id.miscselect_mask)
            )));
        }
        if !masked_eq(&qe.attributes, &id.attributes, &id.attributes_mask) {
            return Err(mismatch(format!(
                "ATTRIBUTES {} do not match {} under mask {}",
                hex::encode(qe.attributes),
                hex::encode(id.attributes),
                hex::encode(id.attributes_mask)
            )));
        }
        let svn = qe.isv_svn.get();
        Ok(match id.tcb_levels.iter().find(|l| svn >= l.isv_svn) {
            Some(l) => (l.status, Some(l.tcb_date), l.advisory_ids.clone()),
            None => (TcbStatus::Revoked, None, Vec::new()),
        })
    }

    /// TCB Info against the quote and PCK: TEE, FMSPC, PCEID, the TDX module, and the first
    /// matching level in canonical order.
    fn platform_tcb(
        &self,
        body: &ReportBody,
        pck: &PckExtensions,
        version: u16,
    ) -> Result<PlatformTcb<'_>, Rejection> {
        let ti = &self.tcb_info;
        let mismatch = |detail: String| Rejection::TcbInfoMismatch { detail };
        match (body.tee(), ti.id) {
            (Tee::Sgx, None | Some(Tee::Sgx)) | (Tee::Tdx, Some(Tee::Tdx)) => {}
            (tee, _) => {
                return Err(mismatch(format!(
                    "TCB Info v{} {} cannot judge a {tee} quote",
                    ti.version,
                    ti.id
                        .map(|t| format!("id {t}"))
                        .unwrap_or_else(|| "(no id)".into())
                )));
            }
        }
        if ti.fmspc != pck.fmspc {
            return Err(mismatch(format!(
                "FMSPC {} is not the PCK certificate's {}",
                hex::encode_upper(ti.fmspc),
                hex::encode_upper(pck.fmspc)
            )));
        }
        if ti.pce_id != pck.pce_id {
            return Err(mismatch(format!(
                "PCEID {} is not the PCK certificate's {}",
                hex::encode_upper(ti.pce_id),
                hex::encode_upper(pck.pce_id)
            )));
        }
        let sgx_ok = |l: &TcbLevel| {
            pck.tcb_components
                .iter()
                .zip(l.sgx_components.iter())
                .all(|(p, l)| p >= l)
                && pck.pce_svn >= l.pce_svn
        };
        let Some(td) = body.td() else {
            let level = ti
                .tcb_levels
                .iter()
                .find(|l| sgx_ok(l))
                .ok_or_else(|| not_supported(ti, pck, None))?;
            return Ok(PlatformTcb {
                level,
                converged: level.status,
                sgx_status: None,
                module: None,
            });
        };

        // TDX: the module identity, then the TDX components (from index 2 when the module's
        // major version is in TEE_TCB_SVN[1], which the module identity judges instead).
        let svn = td.tee_tcb_svn;
        let major = svn.get(1).copied().unwrap_or(0);
        let (module, start) = if version > 3 && major > 0 {
            let id = format!("TDX_{major:02X}");
            let ident = ti
                .tdx_module_identities
                .iter()
                .find(|m| m.id.eq_ignore_ascii_case(&id))
                .ok_or_else(|| Rejection::TdxModule {
                    detail: format!("TCB Info has no TDX module identity {id}"),
                })?;
            check_module(&ident.module, td.mr_signer_seam, td.seam_attributes, &id)?;
            let isv = u16::from(svn.first().copied().unwrap_or(0));
            let level = ident
                .tcb_levels
                .iter()
                .find(|l| isv >= l.isv_svn)
                .ok_or_else(|| Rejection::TcbNotSupported {
                    detail: format!("no TCB level of TDX module {id} matches its ISVSVN {isv}"),
                })?;
            (
                Some(ModuleVerdict {
                    id,
                    status: level.status,
                    tcb_date: level.tcb_date,
                    advisory_ids: level.advisory_ids.clone(),
                }),
                2,
            )
        } else {
            let m = ti.tdx_module.as_ref().ok_or_else(|| {
                mismatch("TCB Info has no tdxModule for a TDX module of major version 0".into())
            })?;
            check_module(m, td.mr_signer_seam, td.seam_attributes, "tdxModule")?;
            (None, 0)
        };
        let tdx_ok = |l: &TcbLevel| {
            l.tdx_components
                .is_some_and(|c| svn.iter().zip(c.iter()).skip(start).all(|(q, l)| q >= l))
        };
        let sgx_status = ti.tcb_levels.iter().find(|l| sgx_ok(l)).map(|l| l.status);
        let level = ti
            .tcb_levels
            .iter()
            .find(|l| sgx_ok(l) && tdx_ok(l))
            .ok_or_else(|| not_supported(ti, pck, Some(&svn)))?;
        let converged = match &module {
            Some(m) => level.status.converge(m.status),
            None => level.status,
        };
        Ok(PlatformTcb {
            level,
            converged,
            sgx_status,
            module,
        })
    }

    /// TD 1.5 (Intel QVL `checkForRelaunch`): the TD runs on an out-of-date TDX TCB while the
    /// SGX part and the QE are current, and TEE_TCB_SVN2 (the module loaded now) meets the
    /// latest level: relaunching would fix it.
    fn relaunch(
        &self,
        td15: &crate::quote::Td15ReportBody,
        sgx_status: TcbStatus,
        tdx_status: TcbStatus,
        qe_status: TcbStatus,
    ) -> Option<TcbStatus> {
        let current = |s: TcbStatus| !s.is_out_of_date() && s != TcbStatus::Revoked;
        if !(current(qe_status) && current(sgx_status) && tdx_status.is_out_of_date()) {
            return None;
        }
        let latest = self.tcb_info.tcb_levels.first()?.tdx_components?;
        let svn2 = td15.tee_tcb_svn2;
        let (isv, major, late) = (svn2.first()?, svn2.get(1)?, svn2.get(2)?);
        let late_ok = late >= latest.get(2)?;
        let module_ok = if *major == 0 {
            isv >= latest.first()?
        } else {
            let id = format!("TDX_{major:02X}");
            let ident = self
                .tcb_info
                .tdx_module_identities
                .iter()
                .find(|m| m.id.eq_ignore_ascii_case(&id))?;
            u16::from(*isv) >= ident.tcb_levels.first()?.isv_svn
        };
        (late_ok && module_ok).then(|| {
            if sgx_status.needs_configuration() || tdx_status.needs_configuration() {
                TcbStatus::TDRelaunchAdvisedConfigurationNeeded
            } else {
                TcbStatus::TDRelaunchAdvised
            }
        })
    }
}

struct PlatformTcb<'t> {
    level: &'t TcbLevel,
    /// Platform ⊕ TDX module.
    converged: TcbStatus,
    /// TDX only: the status of the first level the SGX part alone matches.
    sgx_status: Option<TcbStatus>,
    module: Option<ModuleVerdict>,
}

fn not_supported(ti: &TcbInfo, pck: &PckExtensions, tee_tcb_svn: Option<&[u8; 16]>) -> Rejection {
    let tdx = tee_tcb_svn
        .map(|s| format!(", TEE_TCB_SVN {}", hex::encode(s)))
        .unwrap_or_default();
    Rejection::TcbNotSupported {
        detail: format!(
            "no TCB level of FMSPC {} matches the platform (PCK TCB components {:?}, PCESVN {}{tdx})",
            hex::encode_upper(ti.fmspc),
            pck.tcb_components,
            pck.pce_svn
        ),
    }
}

fn masked_eq(got: &[u8], want: &[u8], mask: &[u8]) -> bool {
    got.len() == want.len()
        && got.len() == mask.len()
        && got
            .iter()
            .zip(want)
            .zip(mask)
            .all(|((g, w), m)| g & m == w & m)
}

fn check_module(
    m: &TdxModule,
    mr_signer_seam: [u8; 48],
    seam_attributes: [u8; 8],
    id: &str,
) -> Result<(), Rejection> {
    if mr_signer_seam != m.mrsigner {
        return Err(Rejection::TdxModule {
            detail: format!(
                "MRSIGNERSEAM {} is not {id}'s mrsigner {}",
                hex::encode(mr_signer_seam),
                hex::encode(m.mrsigner)
            ),
        });
    }
    // Intel QVL 1.19: SEAMATTRIBUTES must be zero, and match under the mask.
    if seam_attributes != [0u8; 8]
        || !masked_eq(&seam_attributes, &m.attributes, &m.attributes_mask)
    {
        return Err(Rejection::TdxModule {
            detail: format!(
                "SEAMATTRIBUTES {} (must be zero and match {id}'s {} under {})",
                hex::encode(seam_attributes),
                hex::encode(m.attributes),
                hex::encode(m.attributes_mask)
            ),
        });
    }
    Ok(())
}

fn not_a_ca(c: &Certificate, what: &'static str) -> Result<(), Rejection> {
    if basic_constraints_ca(c) == Some(true) {
        return Err(Rejection::CertificateProfile {
            cert: what,
            detail: "a CA certificate is used as an end-entity certificate".into(),
        });
    }
    Ok(())
}

fn verify_pck_ca(
    ca: &Certificate,
    anchor: &TrustAnchor,
    root_crl: &Crl,
) -> Result<VerifiedCa, Rejection> {
    verify_under_anchor(ca, "PCK CA certificate", anchor, root_crl)?;
    if basic_constraints_ca(ca) != Some(true) {
        return Err(Rejection::CertificateProfile {
            cert: "PCK CA certificate",
            detail: "not a CA (basicConstraints cA is not true)".into(),
        });
    }
    let name = cn(ca);
    if !name.contains("CA") {
        return Err(Rejection::CertificateProfile {
            cert: "PCK CA certificate",
            detail: format!("CN {name:?} does not name a CA"),
        });
    }
    let key = ca.public_key().map_err(|_| Rejection::CertificateProfile {
        cert: "PCK CA certificate",
        detail: "unsupported key".into(),
    })?;
    Ok(VerifiedCa::new(ca.clone(), key))
}

/// One PEM `CERTIFICATE` block: the whole block (for decoding) and its base64 body.
struct PemBlock<'a> {
    whole: &'a str,
    body: &'a str,
}

/// Splits the `CERTIFICATE` blocks out of PEM text (text between blocks and a trailing NUL are
/// ignored), without decoding them.
fn pem_certificate_blocks(data: &[u8]) -> Result<Vec<PemBlock<'_>>, X509Error> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = core::str::from_utf8(data).map_err(|e| X509Error::Pem {
        index: 0,
        detail: format!("not text: {e}"),
    })?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(b) = rest.find(BEGIN) {
        let after = rest.get(b..).unwrap_or("");
        let e = after.find(END).ok_or_else(|| X509Error::Pem {
            index: out.len(),
            detail: format!("no {END} line"),
        })?;
        let stop = e.saturating_add(END.len());
        out.push(PemBlock {
            whole: after.get(..stop).unwrap_or(""),
            body: after.get(BEGIN.len()..e).unwrap_or(""),
        });
        rest = after.get(stop..).unwrap_or("");
    }
    Ok(out)
}

/// The standard base64 of `der` (no line breaks).
fn base64_of(der: &[u8]) -> Option<String> {
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).ok()?;
    Some(
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>(),
    )
}

/// Whether a PEM body is `b64` once whitespace is removed.
fn same_base64(body: &str, b64: &str) -> bool {
    body.bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .eq(b64.bytes())
}

/// Verifies a quote with its collateral: the one-call form of [`VerifiedCollateral::new`]
/// followed by [`VerifiedCollateral::verify_quote`]. The quote is parsed first, so malformed
/// bytes are a parse error whatever the collateral.
pub fn verify(
    bytes: &[u8],
    collateral: &Collateral,
    opts: &VerifyOptions<'_>,
) -> Result<VerifiedQuote, Error> {
    let quote = Quote::parse(bytes)?;
    let anchor = opts.anchor.ok_or_else(|| Rejection::RootOfTrust {
        detail: "the compiled-in Intel SGX Root CA did not load".into(),
    })?;
    let vc = VerifiedCollateral::new(collateral, anchor)?;
    vc.verify_parsed(&quote, opts.at)
}
