//! Verification: report signature, VEK → ASK/ASVK → ARK chain against the pinned roots, VEK TCB
//! and hwID against the report, validity at a caller-supplied time, and the CRL when supplied.
//!
//! No clock and no network: the time and every certificate are inputs. The chain result is
//! reusable ([`VerifiedVek`]) so that a verifier appraising many reports from one chip pays for
//! one ECDSA verification per report and nothing else.

use aws_lc_rs::signature::{self, ParsedPublicKey};
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, Crl, PublicKey};

use crate::certs::{AmdRoot, TrustAnchors, VekInfo};
use crate::error::{Error, Rejection};
use crate::report::{REPORT_LEN, Report};
use crate::tcb::{Tcb, TcbComponent};
use crate::{Product, SigningKey};

/// Certificates and CRLs supplied with (or for) a report, in any order: a VEK, optionally its
/// ASK/ASVK and ARK (checked against the pins), and CRLs.
#[derive(Debug, Clone, Default)]
pub struct Collateral {
    pub certificates: Vec<Certificate>,
    pub crls: Vec<Crl>,
}

impl Collateral {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_certificate(mut self, c: Certificate) -> Self {
        self.certificates.push(c);
        self
    }

    pub fn with_crl(mut self, c: Crl) -> Self {
        self.crls.push(c);
        self
    }

    /// The VCEK/VLEK among the certificates, preferring the kind the report names.
    fn vek(&self, wanted: SigningKey) -> Result<(&Certificate, VekInfo), Error> {
        let mut found: Option<(&Certificate, VekInfo)> = None;
        for c in &self.certificates {
            let cn = c.subject_cn().unwrap_or_default();
            if cn != "SEV-VCEK" && cn != "SEV-VLEK" {
                continue;
            }
            let info = VekInfo::from_certificate(c)?;
            let better = found.as_ref().is_none_or(|(_, f)| f.kind != wanted);
            if better {
                found = Some((c, info));
            }
        }
        found.ok_or_else(|| {
            Error::MissingCollateral(format!(
                "no {wanted} certificate supplied (fetch it with `shomei snp fetch`, or pass \
                 --vcek/--vlek/--certs)"
            ))
        })
    }
}

/// What the caller tells the verifier: the time, the roots, and optionally the product.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    pub at: UnixTime,
    pub anchors: &'a TrustAnchors,
    /// Asserted product; it must agree with the report's CPUID and the VEK.
    pub product: Option<Product>,
}

impl<'a> VerifyOptions<'a> {
    /// AMD's pinned roots, at time `at`.
    pub fn at(at: UnixTime) -> VerifyOptions<'static> {
        VerifyOptions {
            at,
            anchors: TrustAnchors::amd(),
            product: None,
        }
    }

    pub fn with_anchors(mut self, anchors: &'a TrustAnchors) -> Self {
        self.anchors = anchors;
        self
    }

    pub fn with_product(mut self, product: Option<Product>) -> Self {
        self.product = product;
        self
    }
}

/// Facts about the key that signed a verified report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    pub kind: SigningKey,
    pub product: Product,
    /// The VEK's TCB as certified.
    pub certified_tcb: Tcb,
    /// VLEK only: the cloud provider the key was issued to.
    pub csp_id: Option<String>,
    /// CHIP_ID was all zero (MASK_CHIP_ID), so the hwID could not be compared.
    pub chip_id_masked: bool,
    /// SHA-256 of the VEK certificate.
    #[serde(serialize_with = "shomei_core::hexfmt::serialize")]
    pub vek_sha256: [u8; 32],
    /// Every certificate and CRL in the chain is valid from..until (intersection).
    pub chain_valid_from: i64,
    pub chain_valid_until: i64,
}

/// A VEK whose chain to a trusted AMD root has been verified at some time. Only
/// [`VerifiedVek::new`] constructs one; it is reusable for every report the key signs, at any
/// time inside [`VerifiedVek::window`].
#[derive(Clone)]
pub struct VerifiedVek {
    key: ParsedPublicKey,
    info: VekInfo,
    product: Product,
    vek_sha256: [u8; 32],
    valid_from: UnixTime,
    valid_until: UnixTime,
}

impl core::fmt::Debug for VerifiedVek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedVek")
            .field("kind", &self.info.kind)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

fn validity(cert: &'static str, c: &Certificate, at: UnixTime) -> Result<(), Rejection> {
    if c.is_valid_at(at) {
        Ok(())
    } else {
        Err(Rejection::CertificateValidity {
            cert,
            at,
            not_before: c.not_before(),
            not_after: c.not_after(),
        })
    }
}

/// Resolves the product from every source that names one; any two that disagree is a rejection.
fn resolve_product(sources: &[(Option<Product>, &'static str)]) -> Result<Product, Rejection> {
    let mut chosen: Option<(Product, &'static str)> = None;
    for (p, src) in sources {
        if let Some(p) = p {
            match chosen {
                None => chosen = Some((*p, src)),
                Some((c, csrc)) if c != *p => {
                    return Err(Rejection::ProductMismatch {
                        first: c,
                        first_source: csrc,
                        second: *p,
                        second_source: src,
                    });
                }
                Some(_) => {}
            }
        }
    }
    chosen.map(|(p, _)| p).ok_or(Rejection::UnknownProduct)
}

fn product_of_issuer(cn: &str) -> Option<Product> {
    let name = cn
        .strip_prefix("SEV-VLEK-")
        .or_else(|| cn.strip_prefix("SEV-"))?;
    Product::from_product_name(name)
}

impl VerifiedVek {
    /// Verifies `vek` → ASK/ASVK → ARK at `at`. `kind` is the key the report names, `hint` a
    /// product from the report (CPUID) or the caller. `collateral` may carry the intermediate and
    /// ARK (each must be the pinned one, or an intermediate the pinned ARK signed) and CRLs.
    pub fn new(
        kind: SigningKey,
        hint: &[(Option<Product>, &'static str)],
        collateral: &Collateral,
        opts: &VerifyOptions<'_>,
    ) -> Result<Self, Error> {
        let (vek, info) = collateral.vek(kind)?;
        if info.kind != kind {
            return Err(Rejection::SignerMismatch {
                report: kind,
                certificate: info.kind,
            }
            .into());
        }
        let struct_product = match info.struct_version {
            Some(1) => Some(Product::Turin),
            _ => None,
        };
        let mut sources: Vec<(Option<Product>, &'static str)> = hint.to_vec();
        sources.push((info.product(), "the VEK productName"));
        sources.push((
            vek.issuer_cn().as_deref().and_then(product_of_issuer),
            "the VEK issuer",
        ));
        let product = resolve_product(&sources)?;
        if let Some(sp) = struct_product {
            // structVersion 1 is the Turin-family layout (Turin, Venice).
            if !product.has_fmc() {
                return Err(Rejection::ProductMismatch {
                    first: product,
                    first_source: "the report and certificates",
                    second: sp,
                    second_source: "the VEK structVersion",
                }
                .into());
            }
        }
        let root = opts
            .anchors
            .get(product)
            .ok_or(Rejection::NoRoot { product })?;
        let at = opts.at;

        // Any ARK that came with the evidence must be the pinned one.
        for c in &collateral.certificates {
            let cn = c.subject_cn().unwrap_or_default();
            if cn.starts_with("ARK-") && *c != root.ark {
                return Err(Rejection::ArkNotTrusted {
                    subject: cn,
                    product,
                }
                .into());
            }
        }

        let (inter, inter_name) = choose_intermediate(root, kind, vek, collateral)?;
        let vek_name = if kind == SigningKey::Vlek {
            "VLEK"
        } else {
            "VCEK"
        };

        validity("ARK", &root.ark, at)?;
        validity(inter_name, inter, at)?;
        validity(vek_name, vek, at)?;
        let mut valid_from = root
            .ark
            .not_before()
            .max(inter.not_before())
            .max(vek.not_before());
        let mut valid_until = root
            .ark
            .not_after()
            .min(inter.not_after())
            .min(vek.not_after());

        for crl in &collateral.crls {
            let (from, until) = check_crl(crl, root, inter, inter_name, vek, vek_name, at)?;
            valid_from = valid_from.max(from);
            valid_until = valid_until.min(until);
        }

        let key = match vek.public_key() {
            Ok(PublicKey::EcP384(point)) => {
                ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .map_err(|_| Rejection::VekKey)?
            }
            _ => return Err(Rejection::VekKey.into()),
        };
        Ok(Self {
            key,
            info,
            product,
            vek_sha256: vek.sha256(),
            valid_from,
            valid_until,
        })
    }

    pub fn product(&self) -> Product {
        self.product
    }

    pub fn info(&self) -> &VekInfo {
        &self.info
    }

    /// The interval in which every certificate (and CRL) of the chain is valid.
    pub fn window(&self) -> (UnixTime, UnixTime) {
        (self.valid_from, self.valid_until)
    }

    /// Verifies one report signed by this VEK at time `at`.
    pub fn verify_report(&self, bytes: &[u8], at: UnixTime) -> Result<VerifiedReport, Error> {
        let report = Report::parse(bytes)?;
        pre_checks(&report)?;
        if report.signing_key() != self.info.kind {
            return Err(Rejection::SignerMismatch {
                report: report.signing_key(),
                certificate: self.info.kind,
            }
            .into());
        }
        if let Some(p) = report.product_from_cpuid() {
            if p != self.product {
                return Err(Rejection::ProductMismatch {
                    first: self.product,
                    first_source: "the VEK chain",
                    second: p,
                    second_source: "the report CPUID",
                }
                .into());
            }
        }
        if at < self.valid_from || at > self.valid_until {
            return Err(Rejection::CertificateValidity {
                cert: "chain",
                at,
                not_before: self.valid_from,
                not_after: self.valid_until,
            }
            .into());
        }
        self.key
            .verify_sig(report.signed_bytes(), &report.signature_fixed())
            .map_err(|_| Rejection::ReportSignature {
                signer: self.info.kind,
            })?;

        // The VEK is derived from REPORTED_TCB: every certified SPL must equal it.
        let reported = report.reported_tcb().decode(self.product);
        let certified = [
            (TcbComponent::Bootloader, self.info.bootloader),
            (TcbComponent::Tee, self.info.tee),
            (TcbComponent::Snp, self.info.snp),
            (TcbComponent::Microcode, self.info.microcode),
        ];
        for (component, cert) in certified {
            let rep = reported.get(component).unwrap_or(0);
            if cert != Some(rep) {
                return Err(Rejection::VekTcb {
                    component,
                    certificate: cert,
                    report: rep,
                }
                .into());
            }
        }
        if self.product.has_fmc() {
            let rep = reported.fmc.unwrap_or(0);
            if self.info.fmc != Some(rep) {
                return Err(Rejection::VekTcb {
                    component: TcbComponent::Fmc,
                    certificate: self.info.fmc,
                    report: rep,
                }
                .into());
            }
        }

        let chip_id = report.chip_id();
        let chip_id_masked = chip_id.iter().all(|b| *b == 0);
        if self.info.kind == SigningKey::Vcek && !chip_id_masked {
            check_hwid(self.info.hwid.as_deref(), chip_id, self.product)?;
        }

        let mut owned = Box::new([0u8; REPORT_LEN]);
        owned.copy_from_slice(report.bytes());
        Ok(VerifiedReport {
            bytes: owned,
            signer: Signer {
                kind: self.info.kind,
                product: self.product,
                certified_tcb: reported,
                csp_id: self.info.csp_id.clone(),
                chip_id_masked,
                vek_sha256: self.vek_sha256,
                chain_valid_from: self.valid_from.secs(),
                chain_valid_until: self.valid_until.secs(),
            },
            verified_at: at,
        })
    }
}

fn pre_checks(report: &Report<'_>) -> Result<(), Rejection> {
    if report.signature_algo() != 1 {
        return Err(Rejection::SignatureAlgorithm {
            found: report.signature_algo(),
        });
    }
    if report.signing_key() == SigningKey::None {
        return Err(Rejection::Unsigned {
            why: "KEY_INFO.SIGNING_KEY is NONE",
        });
    }
    if report.key_info().mask_chip_key() {
        return Err(Rejection::Unsigned {
            why: "KEY_INFO.MASK_CHIP_KEY is set",
        });
    }
    Ok(())
}

fn check_hwid(hwid: Option<&[u8]>, chip_id: &[u8; 64], product: Product) -> Result<(), Rejection> {
    let n = product.hwid_len();
    let (head, tail) = chip_id.split_at(n.min(64));
    let ok = hwid == Some(head) && tail.iter().all(|b| *b == 0);
    if ok {
        Ok(())
    } else {
        Err(Rejection::ChipId {
            certificate: hwid.map(hex::encode).unwrap_or_else(|| "(absent)".into()),
            report: hex::encode(chip_id),
        })
    }
}

/// The intermediate that issued `vek`: the pinned ASK/ASVK, or — should AMD re-issue one — a
/// certificate supplied with the evidence that bears the VEK's issuer name, is signed by the
/// pinned ARK, and whose key verifies the VEK. The pinned one is tried first.
fn choose_intermediate<'r>(
    root: &'r AmdRoot,
    kind: SigningKey,
    vek: &Certificate,
    collateral: &'r Collateral,
) -> Result<(&'r Certificate, &'static str), Rejection> {
    let name = if kind == SigningKey::Vlek {
        "ASVK"
    } else {
        "ASK"
    };
    let vek_name = if kind == SigningKey::Vlek {
        "VLEK"
    } else {
        "VCEK"
    };
    let (pinned, pinned_key) = root.intermediate(kind);
    let issuer = vek.issuer_der();
    let mut named = false;
    if issuer == pinned.subject_der() {
        named = true;
        if vek.verify_signed_by(pinned_key).is_ok() {
            return Ok((pinned, name));
        }
    }
    for c in &collateral.certificates {
        if c == pinned || c.subject_der() != issuer {
            continue;
        }
        named = true;
        let Ok(key) = c.public_key() else { continue };
        if c.verify_signed_by(&root.ark_key).is_ok() && vek.verify_signed_by(&key).is_ok() {
            return Ok((c, name));
        }
    }
    if named {
        Err(Rejection::ChainSignature {
            cert: vek_name,
            issuer: name,
        })
    } else {
        Err(Rejection::ChainIssuer {
            cert: vek_name,
            issuer: name,
            detail: format!(
                "issuer {:?}, {name} subject {:?}",
                vek.issuer_cn().unwrap_or_default(),
                pinned.subject_cn().unwrap_or_default()
            ),
        })
    }
}

/// Checks one CRL. AMD's CRL is issued and signed by the ARK and lists intermediates; a CRL
/// issued by the intermediate (ASK/ASVK) lists VEKs. Either way it must be current at `at` and
/// must not list the certificate below its issuer. Returns the CRL's validity interval.
fn check_crl(
    crl: &Crl,
    root: &AmdRoot,
    inter: &Certificate,
    inter_name: &'static str,
    vek: &Certificate,
    vek_name: &'static str,
    at: UnixTime,
) -> Result<(UnixTime, UnixTime), Rejection> {
    let issuer = crl.issuer_der();
    let (issuer_key, issuer_name, listed, listed_name) = if issuer == root.ark.subject_der() {
        (root.ark_key.clone(), "ARK", inter, inter_name)
    } else if issuer == inter.subject_der() {
        let key = inter
            .public_key()
            .map_err(|e| Rejection::Crl(format!("{inter_name} key: {e}")))?;
        (key, inter_name, vek, vek_name)
    } else {
        return Err(Rejection::Crl(format!(
            "issued by neither the {} ARK nor the {inter_name}",
            root.product.kds_name()
        )));
    };
    crl.verify_signed_by(&issuer_key).map_err(|e| {
        Rejection::Crl(format!(
            "signature does not verify under the {issuer_name}: {e}"
        ))
    })?;
    let this = crl.this_update();
    let next = crl
        .next_update()
        .ok_or_else(|| Rejection::Crl("no nextUpdate".into()))?;
    if at < this {
        return Err(Rejection::Crl(format!(
            "not yet valid at {at} (thisUpdate {this})"
        )));
    }
    if at > next {
        return Err(Rejection::Crl(format!("stale at {at} (nextUpdate {next})")));
    }
    if crl.is_revoked(listed.serial()) {
        return Err(Rejection::Revoked {
            cert: listed_name,
            serial: hex::encode(listed.serial()),
        });
    }
    Ok((this, next))
}

/// A report whose signature and chain verified. Only verification constructs it.
#[derive(Debug, Clone)]
pub struct VerifiedReport {
    bytes: Box<[u8; REPORT_LEN]>,
    signer: Signer,
    verified_at: UnixTime,
}

impl VerifiedReport {
    pub fn report(&self) -> Report<'_> {
        Report::from_validated(&self.bytes)
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn product(&self) -> Product {
        self.signer.product
    }

    pub fn verified_at(&self) -> UnixTime {
        self.verified_at
    }
}

/// Verifies a report with its collateral: the one-call form of [`VerifiedVek::new`] followed by
/// [`VerifiedVek::verify_report`].
pub fn verify(
    bytes: &[u8],
    collateral: &Collateral,
    opts: &VerifyOptions<'_>,
) -> Result<VerifiedReport, Error> {
    let report = Report::parse(bytes)?;
    pre_checks(&report)?;
    let hints = [
        (report.product_from_cpuid(), "the report CPUID"),
        (opts.product, "the caller"),
    ];
    let vek = VerifiedVek::new(report.signing_key(), &hints, collateral, opts)?;
    vek.verify_report(bytes, opts.at)
}
