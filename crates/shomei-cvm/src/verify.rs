//! Appraisal of both layers and the link between them.
//!
//! ```text
//! snp       shomei_snp::verify (signature, VEK chain to a trusted AMD root at `at`, TCB, chip)
//!           · VMPL 0 (the paravisor/SVSM that hosts the vTPM) · the SNP policy (debug,
//!           provisional firmware, measurement = reference launch digest, …)
//! link      Azure: REPORT_DATA = H(runtime data as received); the AK is that data's HCLAkPub;
//!                  evidence v2: user-data begins with the challenge
//!           composite: the report's nonce is the challenge; REPORT_DATA = SHA-512(nonce ‖ AK)
//! tpm       shomei_tpm::verify_quote with that AK (signature, extraData = challenge, signed
//!           selection = supplied PCRs, pcrDigest) · the selection covers every PCR the
//!           reference values need · PCR values = reference values
//! eventlog  replay of the TCG log = the quoted PCRs
//! ```
//!
//! Every check is recorded, pass or fail; checks whose inputs did not verify are skipped.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shomei_core::UnixTime;
use shomei_core::policy::HexBytes;
use shomei_snp::claims::ReportClaims;
use shomei_snp::{
    Collateral, GuestPolicy, Policy, Product, Report, TrustAnchors, VerifiedReport, VerifyOptions,
};
use shomei_tpm::decode::{Decoded, decode};
use shomei_tpm::eventlog::{EV_EFI_BOOT_SERVICES_APPLICATION, EV_S_CRTM_VERSION};
use shomei_tpm::keys::KeyMaterial;
use shomei_tpm::structures::Attest;
use shomei_tpm::{
    AnySignature, AttestationKey, EventLog, HashAlg, PcrValues, QuoteOptions, VerifiedQuote,
    verify_quote,
};

use crate::Error;
use crate::evidence::{AzureEvidence, CompositeEvidence, CvmEvidence};
use crate::hcl::{AK_KID, EK_KID, HclReport, HwReportType, RuntimeData};
use crate::report::{AkClaims, CvmReport, EventLogClaims, EvidenceFormat, RuntimeDataClaims, Step};

/// Reference values for both layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CvmReferenceValues {
    /// Accepted SNP launch digests (`shomei snp measure`); added to the SNP policy's list.
    pub measurements: Vec<HexBytes>,
    /// Accepted PCR values: bank (`sha256`, …) → index → accepted values. Every PCR listed here
    /// must be in the quote's selection.
    pub pcrs: BTreeMap<String, BTreeMap<u32, Vec<HexBytes>>>,
    /// PCRs the quote must cover even without a reference value: bank → indices.
    pub required_pcrs: BTreeMap<String, Vec<u32>>,
}

impl CvmReferenceValues {
    /// Reads reference values from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::evidence("reference values", e.to_string()))
    }

    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::evidence("reference values", e.to_string()))
    }

    fn bank(name: &str) -> Result<HashAlg, Error> {
        HashAlg::from_name(name).ok_or_else(|| {
            Error::evidence("reference values", format!("unknown PCR bank {name:?}"))
        })
    }

    /// Every (bank, index) the quote must cover.
    fn required(&self) -> Result<BTreeSet<(HashAlg, u32)>, Error> {
        let mut out = BTreeSet::new();
        for (bank, m) in &self.pcrs {
            let h = Self::bank(bank)?;
            out.extend(m.keys().map(|i| (h, *i)));
        }
        for (bank, v) in &self.required_pcrs {
            let h = Self::bank(bank)?;
            out.extend(v.iter().map(|i| (h, *i)));
        }
        Ok(out)
    }
}

/// What a TDX step needs: Intel collateral, the root to trust and the DCAP policy.
#[derive(Debug, Clone)]
pub struct DcapInputs<'a> {
    pub collateral: &'a shomei_dcap::Collateral,
    /// The Intel SGX Root CA ([`shomei_dcap::TrustAnchor::intel`]) or a test root, named.
    pub anchor: &'a shomei_dcap::TrustAnchor,
    pub policy: shomei_dcap::Policy,
}

/// What the caller tells the verifier. The time is an input: nothing here reads the clock.
#[derive(Debug, Clone)]
pub struct CvmOptions<'a> {
    pub at: UnixTime,
    /// The verifier's challenge: the quote's extraData (and, for the composite format, the nonce
    /// REPORT_DATA binds) must equal it. `None`: freshness is not checked (reported as skipped).
    pub nonce: Option<Vec<u8>>,
    /// The SNP appraisal policy (debug, provisional firmware, TCB, measurements, …).
    pub policy: Policy,
    /// Trusted AMD roots (an emulator's test root only when named here).
    pub anchors: &'a TrustAnchors,
    /// Asserted product; must agree with the report and the VEK.
    pub product: Option<Product>,
    pub reference: CvmReferenceValues,
    /// Azure TDX evidence only: the DCAP collateral and policy for the TD quote.
    pub dcap: Option<DcapInputs<'a>>,
}

impl CvmOptions<'static> {
    /// AMD's pinned roots, the default SNP policy, no challenge, no reference values, at `at`.
    pub fn new(at: UnixTime) -> Self {
        Self {
            at,
            nonce: None,
            policy: Policy::default(),
            anchors: TrustAnchors::amd(),
            product: None,
            reference: CvmReferenceValues::default(),
            dcap: None,
        }
    }
}

impl<'a> CvmOptions<'a> {
    pub fn with_nonce(mut self, nonce: &[u8]) -> Self {
        self.nonce = Some(nonce.to_vec());
        self
    }

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_anchors<'b>(self, anchors: &'b TrustAnchors) -> CvmOptions<'b>
    where
        'a: 'b,
    {
        CvmOptions {
            at: self.at,
            nonce: self.nonce,
            policy: self.policy,
            anchors,
            product: self.product,
            reference: self.reference,
            dcap: self.dcap,
        }
    }

    pub fn with_dcap(mut self, dcap: DcapInputs<'a>) -> Self {
        self.dcap = Some(dcap);
        self
    }

    pub fn with_reference(mut self, reference: CvmReferenceValues) -> Self {
        self.reference = reference;
        self
    }
}

/// Verifies two-step CVM evidence: `Ok` only when every check passed; otherwise
/// [`Error::Rejected`] with the full report (every check, its step and outcome). Unreadable
/// input is an error naming the field and offset.
pub fn verify(evidence: &CvmEvidence, opts: &CvmOptions<'_>) -> Result<CvmReport, Error> {
    let mut out = match evidence {
        CvmEvidence::Azure(a) => verify_azure(a, opts)?,
        CvmEvidence::Composite(c) => verify_composite(c, opts)?,
    };
    let accepted = out.first_failure().is_none();
    out.accepted = accepted;
    if accepted {
        Ok(out)
    } else {
        Err(Error::Rejected(Box::new(out)))
    }
}

/// The SNP step. Returns the verified report, or `None` when it was refused (already recorded).
fn snp_step(
    report: &[u8],
    collateral: &Collateral,
    opts: &CvmOptions<'_>,
    out: &mut CvmReport,
) -> Result<Option<VerifiedReport>, Error> {
    let vopts = VerifyOptions::at(opts.at)
        .with_anchors(opts.anchors)
        .with_product(opts.product);
    let verified = match shomei_snp::verify(report, collateral, &vopts) {
        Ok(v) => v,
        Err(shomei_snp::Error::Rejected(r)) => {
            out.fail(Step::Snp, r.check(), r.to_string());
            for c in ["vmpl", "policy"] {
                out.skip(Step::Snp, c, "the report did not verify");
            }
            if let Ok(r) = Report::parse(report) {
                out.snp = Some(ReportClaims::new(&r, None));
            }
            return Ok(None);
        }
        Err(shomei_snp::Error::Parse(p)) => {
            return Err(Error::Parse {
                what: "SNP report",
                source: p,
            });
        }
        Err(e) => return Err(Error::Snp(e)),
    };
    let s = verified.signer();
    out.pass(
        Step::Snp,
        "report_signature",
        format!(
            "ECDSA P-384 signature by the {} of a {} chip; chain to the {} ARK valid at {}",
            s.kind, s.product, s.product, opts.at
        ),
    );
    let r = verified.report();
    if r.vmpl() == 0 {
        out.pass(
            Step::Snp,
            "vmpl",
            "VMPL 0: requested by the paravisor/SVSM that hosts the vTPM",
        );
    } else {
        out.fail(
            Step::Snp,
            "vmpl",
            format!(
                "VMPL {}: the vTPM's host runs at VMPL 0, so a report from a higher VMPL does not vouch for it",
                r.vmpl()
            ),
        );
    }
    let mut policy = opts.policy.clone();
    policy
        .measurements
        .extend(opts.reference.measurements.iter().cloned());
    let violations = policy.appraise(&verified);
    let violated = |name: &str| violations.iter().any(|v| v.check == name);
    if !violated("debug") {
        let detail = if r.policy().has(GuestPolicy::DEBUG) {
            "DEBUG is set and the policy allows it"
        } else {
            "the guest policy does not allow debugging"
        };
        out.pass(Step::Snp, "debug", detail);
    }
    if !violated("provisional_firmware") {
        let detail = if r.is_provisional_firmware() {
            "provisional firmware (committed ≠ current), allowed by the policy"
        } else {
            "committed firmware = current firmware"
        };
        out.pass(Step::Snp, "provisional_firmware", detail);
    }
    if !violated("measurement") {
        if policy.measurements.is_empty() {
            out.skip(
                Step::Snp,
                "measurement",
                format!(
                    "no reference launch digest given (the report says {})",
                    hex::encode(r.measurement())
                ),
            );
        } else {
            out.pass(
                Step::Snp,
                "measurement",
                format!(
                    "launch digest {} is a reference value",
                    hex::encode(r.measurement())
                ),
            );
        }
    }
    for v in &violations {
        let detail = if v.check == "measurement" {
            format!("unknown firmware: {}", v.detail)
        } else {
            v.detail.clone()
        };
        out.fail(Step::Snp, v.check.clone(), detail);
    }
    if violations.is_empty() {
        out.pass(Step::Snp, "policy", "no violation of the SNP policy");
    }
    out.snp = Some(ReportClaims::new(
        &r,
        Some((verified.product(), "certificate")),
    ));
    Ok(Some(verified))
}

/// The TDX step: the TD quote through DCAP verification and policy. Returns whether it
/// verified, and its REPORTDATA (read from the quote even when it did not verify).
fn tdx_step(
    td_quote: &[u8],
    opts: &CvmOptions<'_>,
    out: &mut CvmReport,
) -> Result<(bool, [u8; 64]), Error> {
    let parsed = shomei_dcap::Quote::parse(td_quote).map_err(|e| Error::Evidence {
        field: "td_quote".into(),
        detail: e.to_string(),
    })?;
    let rd = *parsed.body().to_owned().report_data();
    let Some(d) = &opts.dcap else {
        return Err(Error::MissingCollateral(
            "TDX evidence: DCAP collateral for the TD quote (CvmOptions::dcap)".into(),
        ));
    };
    let vopts = shomei_dcap::VerifyOptions {
        at: opts.at,
        anchor: Some(d.anchor),
    };
    match shomei_dcap::verify(td_quote, d.collateral, &vopts) {
        Ok(v) => {
            if v.tee() != shomei_dcap::Tee::Tdx {
                out.fail(
                    Step::Tdx,
                    "tee",
                    "the quote is an SGX quote, not a TD quote",
                );
                return Ok((false, rd));
            }
            out.pass(
                Step::Tdx,
                "quote_signature",
                format!(
                    "TD quote v{}: QE signature, PCK chain to the trusted root, TCB status {:?}",
                    v.version(),
                    v.status()
                ),
            );
            let violations = d.policy.appraise(&v);
            for x in &violations {
                out.fail(Step::Tdx, x.check.clone(), x.detail.clone());
            }
            if violations.is_empty() {
                out.pass(Step::Tdx, "policy", "no violation of the DCAP policy");
            }
            out.tdx = Some(shomei_dcap::claims::QuoteClaims::new(&v));
            Ok((true, rd))
        }
        Err(shomei_dcap::Error::Rejected(r)) => {
            out.fail(Step::Tdx, r.check(), r.to_string());
            out.skip(Step::Tdx, "policy", "the TD quote did not verify");
            Ok((false, rd))
        }
        Err(e) => Err(Error::Unsupported(format!("TD quote: {e}"))),
    }
}

fn ak_claims(ak: &AttestationKey, source: &str) -> AkClaims {
    let kind = match &ak.material {
        KeyMaterial::Rsa { n, .. } => format!("rsa-{}", n.len().saturating_mul(8)),
        KeyMaterial::Ecc { curve, .. } => format!("ecc-{curve:?}").to_lowercase(),
    };
    AkClaims {
        source: source.to_owned(),
        kind,
        spki_sha256: ak
            .to_spki_der()
            .map(|d| hex::encode(shomei_core::x509::sha256(&d)))
            .unwrap_or_default(),
        name: ak.name.as_ref().map(hex::encode),
    }
}

/// The pieces of the TPM step.
struct TpmInput<'e> {
    ak: &'e AttestationKey,
    message: &'e [u8],
    signature: AnySignature,
    pcrs: PcrValues,
    /// What extraData must be when the caller gave no challenge (the evidence's own nonce).
    fallback_nonce: Option<&'e [u8]>,
}

fn describe(set: &BTreeSet<(HashAlg, u32)>) -> String {
    let mut by_bank: BTreeMap<HashAlg, Vec<String>> = BTreeMap::new();
    for (b, i) in set {
        by_bank.entry(*b).or_default().push(i.to_string());
    }
    by_bank
        .iter()
        .map(|(b, v)| format!("{}:{}", b.name(), v.join(",")))
        .collect::<Vec<_>>()
        .join("+")
}

fn tpm_step(
    t: &TpmInput<'_>,
    opts: &CvmOptions<'_>,
    out: &mut CvmReport,
) -> Result<Option<VerifiedQuote>, Error> {
    let attest = Attest::parse(t.message).map_err(Error::parse("TPMS_ATTEST"))?;
    out.quote_nonce = Some(hex::encode(attest.extra_data));
    let (nonce, fresh) = match (&opts.nonce, t.fallback_nonce) {
        (Some(n), _) => (n.as_slice(), true),
        (None, Some(n)) => (n, false),
        (None, None) => (attest.extra_data, false),
    };
    let q = match verify_quote(
        t.message,
        &t.signature,
        t.ak,
        nonce,
        &t.pcrs,
        &QuoteOptions::default(),
    ) {
        Ok(q) => q,
        Err(shomei_tpm::Error::Rejected(r)) => {
            out.fail(Step::Tpm, r.check(), r.to_string());
            for c in ["required_pcrs", "pcr_values"] {
                out.skip(Step::Tpm, c, "the quote did not verify");
            }
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    out.pass(
        Step::Tpm,
        "signature",
        format!(
            "{} signature over the received TPMS_ATTEST by the attestation key",
            q.attest().scheme()
        ),
    );
    if fresh {
        out.pass(
            Step::Tpm,
            "nonce",
            format!("extraData = the challenge {}", hex::encode(nonce)),
        );
    } else {
        out.skip(
            Step::Tpm,
            "nonce",
            format!(
                "no challenge given: freshness not checked (extraData {})",
                hex::encode(q.attest().nonce())
            ),
        );
    }
    out.pass(
        Step::Tpm,
        "pcr_selection",
        format!(
            "signed selection {} = the supplied PCRs",
            q.selection().describe()
        ),
    );
    out.pass(
        Step::Tpm,
        "pcr_digest",
        format!(
            "pcrDigest {} = {}(supplied PCR values)",
            hex::encode(q.pcr_digest()),
            q.attest().signature_hash().name()
        ),
    );

    let required = opts.reference.required()?;
    let quoted: BTreeSet<(HashAlg, u32)> = q
        .pcrs()
        .0
        .iter()
        .flat_map(|(b, m)| m.keys().map(move |i| (*b, *i)))
        .collect();
    let missing: BTreeSet<(HashAlg, u32)> = required.difference(&quoted).copied().collect();
    if required.is_empty() {
        out.skip(
            Step::Tpm,
            "required_pcrs",
            "no PCR required by the reference values",
        );
    } else if missing.is_empty() {
        out.pass(
            Step::Tpm,
            "required_pcrs",
            format!(
                "the selection covers every required PCR ({})",
                describe(&required)
            ),
        );
    } else {
        out.fail(
            Step::Tpm,
            "required_pcrs",
            format!(
                "PCR selection mismatch: the quote's selection {} omits {}, which the reference values need",
                q.selection().describe(),
                describe(&missing)
            ),
        );
    }

    let mut mismatches = Vec::new();
    let mut compared = 0usize;
    for (bank, m) in &opts.reference.pcrs {
        let h = CvmReferenceValues::bank(bank)?;
        for (i, accepted) in m {
            let Some(got) = q.pcrs().get(h, *i) else {
                continue; // reported by required_pcrs
            };
            compared = compared.saturating_add(1);
            if !accepted.iter().any(|a| a.0 == got) {
                mismatches.push(format!(
                    "{bank} PCR {i} is {}, expected {}",
                    hex::encode(got),
                    accepted
                        .iter()
                        .map(|a| hex::encode(&a.0))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        }
    }
    if opts.reference.pcrs.is_empty() {
        out.skip(Step::Tpm, "pcr_values", "no reference PCR values given");
    } else if mismatches.is_empty() {
        if compared > 0 {
            out.pass(
                Step::Tpm,
                "pcr_values",
                format!("{compared} PCR value(s) equal their reference values"),
            );
        } else {
            out.skip(Step::Tpm, "pcr_values", "no referenced PCR is in the quote");
        }
    } else {
        out.fail(
            Step::Tpm,
            "pcr_values",
            format!("PCR value mismatch: {}", mismatches.join("; ")),
        );
    }
    Ok(Some(q))
}

fn eventlog_step(
    log: Option<&[u8]>,
    quote: Option<&VerifiedQuote>,
    out: &mut CvmReport,
) -> Result<(), Error> {
    let Some(log) = log else {
        out.skip(Step::Eventlog, "replay", "no event log supplied");
        return Ok(());
    };
    let parsed = EventLog::parse(log).map_err(Error::parse("event log"))?;
    let replay = parsed.replay();
    let mut claims = EventLogClaims {
        events: parsed.events.len(),
        warnings: replay.warnings.iter().map(|w| format!("{w:?}")).collect(),
        ..EventLogClaims::default()
    };
    for ev in &parsed.events {
        match (ev.event_type, decode(ev)) {
            (EV_S_CRTM_VERSION, Decoded::Action { text }) => claims.firmware_version = Some(text),
            (
                _,
                Decoded::EfiVariable {
                    secure_boot: Some(on),
                    ..
                },
            ) if ev.pcr == 7 => claims.secure_boot = Some(on),
            (EV_EFI_BOOT_SERVICES_APPLICATION, Decoded::Image { device_path, .. }) => {
                claims.boot_applications.push(device_path);
            }
            (_, Decoded::KernelCmdline { cmdline }) => claims.kernel_cmdline = Some(cmdline),
            _ => {}
        }
    }
    out.eventlog = Some(claims);
    let Some(q) = quote else {
        out.skip(Step::Eventlog, "replay", "the quote did not verify");
        return Ok(());
    };
    match shomei_tpm::check_event_log(q, &replay) {
        Ok(()) => out.pass(
            Step::Eventlog,
            "replay",
            format!(
                "{} events replay to every quoted PCR ({} warning(s))",
                parsed.events.len(),
                replay.warnings.len()
            ),
        ),
        Err(r) => out.fail(Step::Eventlog, "replay", r.to_string()),
    }
    Ok(())
}

fn pcr_claims(p: &PcrValues) -> BTreeMap<HashAlg, BTreeMap<u32, String>> {
    p.0.iter()
        .map(|(b, m)| (*b, m.iter().map(|(i, v)| (*i, hex::encode(v))).collect()))
        .collect()
}

fn verify_azure(a: &AzureEvidence, opts: &CvmOptions<'_>) -> Result<CvmReport, Error> {
    let mut out = CvmReport::new(EvidenceFormat::AzureHcl, opts.at.to_rfc3339());
    let hcl = HclReport::parse(&a.hcl_report).map_err(Error::parse("HCL report"))?;
    let runtime = RuntimeData::parse(hcl.runtime_data())?;
    out.runtime_data = Some(RuntimeDataClaims {
        evidence_version: a.version,
        hcl_version: hcl.version,
        hash: hcl.hash_type,
        vm_configuration: runtime.vm_configuration.clone(),
        user_data: runtime.user_data.clone(),
        ek_present: runtime.key(EK_KID).is_some(),
    });

    // Step 1 and the REPORT_DATA it vouches for.
    let (verified, rd, what): (bool, [u8; 64], &str) = match hcl.report_type {
        HwReportType::Snp => {
            let collateral = Collateral {
                certificates: a.certificates.clone(),
                crls: Vec::new(),
            };
            let v = snp_step(hcl.hw_report(), &collateral, opts, &mut out)?;
            let report = Report::parse(hcl.hw_report()).map_err(Error::parse("SNP report"))?;
            (v.is_some(), *report.report_data(), "REPORT_DATA")
        }
        HwReportType::Tdx => {
            let td_quote = a
                .td_quote
                .as_deref()
                .ok_or_else(|| Error::evidence("td_quote", "TDX evidence without a TD quote"))?;
            let (v, rd) = tdx_step(td_quote, opts, &mut out)?;
            // The TD quote was made from the HCL report's TDREPORT: same REPORTDATA.
            let td_report_data = hcl.hw_report().get(128..192).unwrap_or(&[]);
            if td_report_data == rd.as_slice() {
                out.pass(
                    Step::Link,
                    "td_report",
                    "the TD quote's REPORTDATA is the HCL TDREPORT's",
                );
            } else {
                out.fail(
                    Step::Link,
                    "td_report",
                    format!(
                        "the TD quote's REPORTDATA {} differs from the HCL TDREPORT's {}",
                        hex::encode(rd),
                        hex::encode(td_report_data)
                    ),
                );
            }
            (v, rd, "the TD quote's REPORTDATA")
        }
    };

    // The link.
    let digest = hcl.hash_type.digest(hcl.runtime_data());
    let (head, tail) = rd.split_at(digest.len().min(rd.len()));
    let bound = head == digest.as_slice() && tail.iter().all(|b| *b == 0);
    let trusted = if verified { "" } else { " (unverified)" };
    if bound {
        out.pass(
            Step::Link,
            "runtime_data",
            format!(
                "{what} = {}(runtime data, {} bytes as received) ‖ zeros{trusted}",
                hcl.hash_type.name(),
                hcl.runtime_data().len()
            ),
        );
    } else {
        out.fail(
            Step::Link,
            "runtime_data",
            format!(
                "{what} {} is not {}(runtime data) = {} padded with zeros",
                hex::encode(rd),
                hcl.hash_type.name(),
                hex::encode(&digest)
            ),
        );
    }
    let ak = match runtime.key(AK_KID) {
        Some(jwk) => Some(jwk.attestation_key()?),
        None => None,
    };
    match (&ak, bound) {
        (Some(_), true) => out.pass(
            Step::Link,
            "ak_binding",
            format!("the quote is verified with {AK_KID} from the runtime data REPORT_DATA binds"),
        ),
        (Some(_), false) => out.fail(
            Step::Link,
            "ak_binding",
            format!("AK not bound: {AK_KID} comes from runtime data the SNP report does not bind"),
        ),
        (None, _) => out.fail(
            Step::Link,
            "ak_binding",
            format!("AK not bound: the runtime data has no {AK_KID} key"),
        ),
    }
    match (a.version, &opts.nonce) {
        (2, Some(n)) => match runtime.user_data_bytes() {
            Some(Ok(ud)) if ud.starts_with(n) => out.pass(
                Step::Link,
                "user_data",
                "the runtime data's user-data begins with the challenge",
            ),
            Some(Ok(ud)) => out.fail(
                Step::Link,
                "user_data",
                format!(
                    "nonce mismatch: user-data {} does not begin with the challenge {}",
                    hex::encode(ud),
                    hex::encode(n)
                ),
            ),
            Some(Err(e)) => out.fail(Step::Link, "user_data", e.to_string()),
            None => out.fail(
                Step::Link,
                "user_data",
                "evidence v2 without user-data in the runtime data",
            ),
        },
        (2, None) => out.skip(Step::Link, "user_data", "no challenge given"),
        (v, _) => out.skip(
            Step::Link,
            "user_data",
            format!("evidence v{v} does not bind the challenge into user-data"),
        ),
    }

    // Step 2. `pcrs[i]` is SHA-256 PCR i.
    let mut pcrs = PcrValues::default();
    for (i, v) in (0u32..).zip(a.quote.pcrs.iter()) {
        pcrs.insert(HashAlg::Sha256, i, v.clone());
    }
    out.pcrs = pcr_claims(&pcrs);
    let quote = match &ak {
        Some(ak) => {
            out.ak = Some(ak_claims(ak, "runtime_data.HCLAkPub"));
            tpm_step(
                &TpmInput {
                    ak,
                    message: &a.quote.message,
                    signature: AnySignature::detect(&a.quote.signature),
                    pcrs,
                    fallback_nonce: None,
                },
                opts,
                &mut out,
            )?
        }
        None => {
            for c in ["signature", "nonce", "pcr_selection", "pcr_digest"] {
                out.skip(Step::Tpm, c, "no attestation key");
            }
            None
        }
    };
    eventlog_step(None, quote.as_ref(), &mut out)?;
    Ok(out)
}

fn verify_composite(c: &CompositeEvidence, opts: &CvmOptions<'_>) -> Result<CvmReport, Error> {
    let mut out = CvmReport::new(EvidenceFormat::Composite, opts.at.to_rfc3339());
    let certs = shomei_core::x509::parse_certificates(c.vek_chain.as_bytes())
        .map_err(|e| Error::evidence("vek_chain", e.to_string()))?;
    let collateral = Collateral {
        certificates: certs,
        crls: Vec::new(),
    };
    let tpmt = c.ak_tpmt_public()?;
    let ak = AttestationKey::from_tpm2b_public(&c.ak_public).map_err(|e| match e {
        shomei_tpm::Error::Parse(p) => Error::Parse {
            what: "ak_public",
            source: p,
        },
        other => Error::Unsupported(other.to_string()),
    })?;
    let mut pcrs = PcrValues::default();
    for (bank, m) in &c.pcrs {
        let h = HashAlg::from_name(bank)
            .ok_or_else(|| Error::evidence(format!("pcrs.{bank}"), "unknown PCR bank"))?;
        for (i, v) in m {
            pcrs.insert(h, *i, v.0.clone());
        }
    }
    out.pcrs = pcr_claims(&pcrs);

    // Step 1.
    let verified = snp_step(&c.snp_report, &collateral, opts, &mut out)?;

    // The link.
    match &opts.nonce {
        Some(n) if *n == c.nonce => out.pass(
            Step::Link,
            "nonce",
            format!("the report was requested for the challenge {}", hex::encode(n)),
        ),
        Some(n) => out.fail(
            Step::Link,
            "nonce",
            format!(
                "nonce mismatch: the report was requested for {}, the challenge is {} (a replayed report)",
                hex::encode(&c.nonce),
                hex::encode(n)
            ),
        ),
        None => out.skip(
            Step::Link,
            "nonce",
            format!(
                "no challenge given: freshness not checked (the evidence says {})",
                hex::encode(&c.nonce)
            ),
        ),
    }
    let report = Report::parse(&c.snp_report).map_err(Error::parse("SNP report"))?;
    let expected = report_data(&c.nonce, tpmt);
    let trusted = if verified.is_some() {
        ""
    } else {
        " (the report is unverified)"
    };
    if report.report_data() == &expected {
        out.pass(
            Step::Link,
            "ak_binding",
            format!("REPORT_DATA = SHA-512(nonce ‖ AK TPMT_PUBLIC){trusted}"),
        );
    } else {
        out.fail(
            Step::Link,
            "ak_binding",
            format!(
                "AK not bound: REPORT_DATA {} is not SHA-512(nonce ‖ AK TPMT_PUBLIC) = {} \
                 (the quote's key is not the one this report vouches for)",
                hex::encode(report.report_data()),
                hex::encode(expected)
            ),
        );
    }

    // Step 2.
    out.ak = Some(ak_claims(&ak, "evidence.ak_public"));
    let signature = AnySignature::detect(&c.quote.signature);
    let quote = tpm_step(
        &TpmInput {
            ak: &ak,
            message: &c.quote.message,
            signature,
            pcrs,
            fallback_nonce: Some(&c.nonce),
        },
        opts,
        &mut out,
    )?;
    eventlog_step(c.event_log.as_deref(), quote.as_ref(), &mut out)?;
    Ok(out)
}

/// `SHA-512(nonce ‖ key)`: what REPORT_DATA holds in the composite format (the same binding the
/// verifier uses for every family, with the AK's TPMT_PUBLIC as the key).
pub fn report_data(nonce: &[u8], key: &[u8]) -> [u8; 64] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512);
    ctx.update(nonce);
    ctx.update(key);
    let mut out = [0u8; 64];
    let d = ctx.finish();
    if let Some(dst) = out.get_mut(..d.as_ref().len()) {
        dst.copy_from_slice(d.as_ref());
    }
    out
}
