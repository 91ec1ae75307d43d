//! AMD SEV-SNP attestation reports: parse (v2, v3, v5), verify the signature and the VEK chain
//! against pinned AMD roots, and appraise the claims against a policy.
//!
//! ```text
//! bytes ──Report::parse──▶ Report ──verify(collateral, time)──▶ VerifiedReport ──Policy::appraise──▶ verdict
//! ```
//!
//! Pure: no I/O, no clock. Certificates come from the caller ([`Collateral`], the GHCB
//! [`certtable`], or `shomei-kds`), and the time is an input.

pub mod bits;
pub mod certs;
pub mod certtable;
pub mod claims;
pub mod error;
pub mod kds;
pub mod measure;
pub mod policy;
pub mod product;
pub mod report;
pub mod tcb;
pub mod verify;

pub use bits::{GuestPolicy, KeyInfo, PlatformInfo, SigningKey};
pub use certs::{AmdRoot, TrustAnchors, VekInfo};
pub use error::{Error, Rejection};
pub use policy::{Policy, Violation};
pub use product::Product;
pub use report::{REPORT_LEN, Report, SIGNED_LEN};
pub use tcb::{RawTcb, Tcb, TcbComponent};
pub use verify::{Collateral, Signer, VerifiedReport, VerifiedVek, VerifyOptions, verify};
