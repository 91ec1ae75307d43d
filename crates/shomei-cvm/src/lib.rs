//! Two-step confidential-VM attestation: a CPU-rooted SEV-SNP report (step 1, covering the
//! firmware and the paravisor/SVSM that hosts the vTPM) whose REPORT_DATA binds the vTPM's
//! attestation key, and the vTPM's quote with the measured-boot event log (step 2, covering the
//! boot chain and the OS). Neither step alone is enough: the link between them is checked too.
//!
//! ```text
//! evidence JSON ─▶ CvmEvidence::from_json ─▶ Azure (HCL report + quote, trustee v0/v1/v2;
//!                                          │         TDX: + TD quote, verified with shomei-dcap)
//!                                          └▶ Composite (shomei: report + VEK chain + AK + quote + log)
//!        ─▶ verify(&evidence, &CvmOptions{at, nonce, policy, anchors, reference})
//!        ─▶ CvmReport: every check as (step snp|tdx|link|tpm|eventlog, name,
//!                      pass|fail|skipped, detail); Err(Error::Rejected(report)) if any failed
//! ```
//!
//! Pure: no I/O, no clock (the time is an input), no network. SEV-SNP verification and policy are
//! `shomei-snp`'s; quote verification and event-log replay are `shomei-tpm`'s. The emulated CVM
//! ([`emu`], feature `emu`, on by default) produces composite evidence and its reference values
//! on machines without SNP.

pub mod encoding;
pub mod error;
pub mod evidence;
pub mod hcl;
pub mod report;
pub mod verify;

#[cfg(feature = "emu")]
pub mod emu;

pub use error::Error;
pub use evidence::{AzureEvidence, AzureQuote, CompositeEvidence, CompositeQuote, CvmEvidence};
pub use hcl::HclReport;
pub use report::{Check, CvmReport, EvidenceFormat, Outcome, Step};
pub use verify::{CvmOptions, CvmReferenceValues, DcapInputs, report_data, verify};
