//! The result of a two-step appraisal: every check with its step, name and outcome, and the
//! appraised claims. Serialized with snake_case keys; `pcrs` is `{"sha256": {"0": "<hex>", …}}`.

use std::collections::BTreeMap;

use serde::Serialize;
use shomei_snp::claims::ReportClaims;
use shomei_tpm::HashAlg;

use crate::hcl::{RuntimeHash, VmConfiguration};

/// The layer a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Step 1: the CPU-rooted SEV-SNP report (signature, VEK chain, guest policy, measurement).
    Snp,
    /// Step 1 on Intel TDX (Azure): the TD quote (DCAP signature, PCK chain, TCB, policy).
    Tdx,
    /// The link: the SNP report binds the vTPM's attestation key (and the challenge).
    Link,
    /// Step 2: the vTPM quote (signature, nonce, PCR selection and digest, reference PCRs).
    Tpm,
    /// The measured-boot event log replayed against the quoted PCRs.
    Eventlog,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Self::Snp => "snp",
            Self::Tdx => "tdx",
            Self::Link => "link",
            Self::Tpm => "tpm",
            Self::Eventlog => "eventlog",
        }
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not evaluated: nothing to compare against, or a check it depends on failed.
    Skipped,
}

/// One check. The vocabulary, by step (for mapping to AR4SI claims):
///
/// - `snp`: `report_signature` on success, or the failed `shomei_snp::Rejection::check()`
///   (`chain_signature`, `chain_issuer`, `certificate_validity`, `vek_tcb`, `chip_id`,
///   `root_of_trust`, `product`, `signing_key`, …); `vmpl`; every SNP policy violation under its
///   own name (`debug`, `provisional_firmware`, `measurement` — unknown firmware —, `min_tcb.*`,
///   `smt`, …); passes for `debug`, `provisional_firmware`, `measurement` and `policy`.
/// - `link`: Azure `runtime_data` (REPORT_DATA = H(runtime data)), `ak_binding`, `user_data`
///   (evidence v2); composite `nonce` (the report's nonce is the challenge: a replayed report
///   fails here) and `ak_binding` (REPORT_DATA = SHA-512(nonce ‖ AK TPMT_PUBLIC)).
/// - `tpm`: `signature`, `nonce`, `pcr_selection` (signed selection = supplied PCRs),
///   `pcr_digest`, or the failed `shomei_tpm::Rejection::check()` (`ak_attributes`,
///   `signature_algorithm`, `sha1_not_allowed`, `magic`, `attest_type`); `required_pcrs` (the
///   selection covers what the reference values need); `pcr_values` (reference PCR values).
/// - `eventlog`: `replay` (the log replays to every quoted PCR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub step: Step,
    /// Stable name within the step (`report_signature`, `debug`, `measurement`, `ak_binding`,
    /// `nonce`, `signature`, `pcr_selection`, `required_pcrs`, `pcr_values`, `replay`, …).
    pub check: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl Check {
    /// `step.check`, e.g. `link.ak_binding`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.step.name(), self.check)
    }
}

/// Which evidence format was appraised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceFormat {
    /// Azure CVM: HCL report + vTPM quote (trustee's az-snp-vtpm evidence, `version` 0, 1 or 2).
    AzureHcl,
    /// shomei's composite: SNP report binding SHA-512(nonce ‖ AK TPMT_PUBLIC), vTPM quote, log.
    Composite,
}

/// The attestation key the quote was verified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AkClaims {
    /// Where the key came from (`runtime_data.HCLAkPub`, `evidence.ak_public`).
    pub source: String,
    /// `rsa-2048`, `ecc-p256`, …
    pub kind: String,
    /// SHA-256 of the key's DER SubjectPublicKeyInfo.
    pub spki_sha256: String,
    /// The TPM object name, when the key came as a TPM public area.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Azure: what the runtime data says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeDataClaims {
    /// trustee's evidence version (0, 1, 2).
    pub evidence_version: u32,
    pub hcl_version: u32,
    pub hash: RuntimeHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_configuration: Option<VmConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Whether the runtime data carries the vTPM EK (`HCLEkPub`).
    pub ek_present: bool,
}

/// A summary of the replayed event log (trustworthy when `eventlog.replay` passed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventLogClaims {
    pub events: usize,
    pub warnings: Vec<String>,
    /// EV_S_CRTM_VERSION: what the firmware says it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// The SecureBoot variable as measured into PCR 7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// Device paths of the boot-services applications loaded (PCR 4), in order.
    pub boot_applications: Vec<String>,
    /// The kernel command line GRUB measured (PCR 8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_cmdline: Option<String>,
}

/// The result of [`crate::verify()`]: every check, and the claims read from the evidence.
///
/// Claims are reported even when a check failed (they are then unverified: the checks say which
/// layer verified).
#[derive(Debug, Clone, Serialize)]
pub struct CvmReport {
    /// Every check passed (none failed).
    pub accepted: bool,
    pub format: EvidenceFormat,
    /// The verification time (RFC 3339).
    pub verified_at: String,
    pub checks: Vec<Check>,
    /// The SNP report's claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snp: Option<ReportClaims>,
    /// TDX (Azure): the TD quote's claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdx: Option<shomei_dcap::claims::QuoteClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ak: Option<AkClaims>,
    /// The quote's extraData (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_nonce: Option<String>,
    /// The PCR values the evidence carries, by bank and index (hex); covered by the quote when
    /// the `tpm` checks passed.
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u32, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_data: Option<RuntimeDataClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eventlog: Option<EventLogClaims>,
}

impl CvmReport {
    pub(crate) fn new(format: EvidenceFormat, verified_at: String) -> Self {
        Self {
            accepted: false,
            format,
            verified_at,
            checks: Vec::new(),
            snp: None,
            tdx: None,
            ak: None,
            quote_nonce: None,
            pcrs: BTreeMap::new(),
            runtime_data: None,
            eventlog: None,
        }
    }

    pub(crate) fn push(
        &mut self,
        step: Step,
        check: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            step,
            check: check.into(),
            outcome,
            detail: detail.into(),
        });
    }

    pub(crate) fn pass(&mut self, step: Step, check: impl Into<String>, detail: impl Into<String>) {
        self.push(step, check, Outcome::Pass, detail);
    }

    pub(crate) fn fail(&mut self, step: Step, check: impl Into<String>, detail: impl Into<String>) {
        self.push(step, check, Outcome::Fail, detail);
    }

    pub(crate) fn skip(&mut self, step: Step, check: impl Into<String>, detail: impl Into<String>) {
        self.push(step, check, Outcome::Skipped, detail);
    }

    /// Every failed check, in order.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.failures().next()
    }

    /// The check named `step.check`, if it was recorded.
    pub fn check(&self, step: Step, check: &str) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.step == step && c.check == check)
    }
}
