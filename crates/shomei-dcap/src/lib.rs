//! Intel DCAP quotes: parse (v3 SGX, v4 and v5 TDX), verify against the pinned Intel SGX Root CA
//! with TCB Info and QE Identity collateral, and appraise the verdict against a policy.
//!
//! ```text
//! bytes ──Quote::parse──▶ Quote ──verify(collateral, time, anchor)──▶ VerifiedQuote ──Policy::appraise──▶ violations
//!                                  │ VerifiedCollateral::new: Root CA CRL, TCB Signing chain,
//!                                  │   TCB Info / QE Identity signatures over the bytes received
//!                                  │ verify_quote: PCK chain + CRL, QE report, quote signature,
//!                                  ▼   QE identity, TDX module, TCB level, Intel's convergence
//! ```
//!
//! ```no_run
//! use shomei_core::UnixTime;
//! use shomei_dcap::{Collateral, Policy, VerifyOptions, verify};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let quote = std::fs::read("quote.dat")?;
//! let collateral = Collateral::from_dcap_qvl_json(&std::fs::read("collateral.json")?)?;
//! let at = UnixTime::now(); // the edge reads the clock; verification never does
//! let verified = verify(&quote, &collateral, &VerifyOptions::at(at))?;
//! println!("{} {:?}", verified.status(), verified.advisory_ids());
//! if verified.collateral().is_expired() {
//!     println!("expired: {:?}", verified.collateral().expired);
//! }
//! let violations = Policy::default().appraise(&verified); // empty: acceptable
//! # let _ = violations;
//! # Ok(())
//! # }
//! ```
//!
//! Pure: no I/O, no clock. Collateral comes from the caller ([`Collateral`]: dcap-qvl's JSON or
//! PCS-format files), the time is an input, and only the anchor in [`VerifyOptions`] is trusted
//! (Intel's root by default; another root only when named).

pub mod claims;
pub mod collateral;
pub mod error;
pub mod pck;
pub mod policy;
pub mod quote;
pub mod roots;
pub mod status;
pub mod tcbinfo;
pub mod verify;

pub use collateral::{Collateral, PcsFiles, SignedJson};
pub use error::{Error, Rejection, SignedDocument};
pub use pck::PckExtensions;
pub use policy::{Policy, Violation};
pub use quote::{Quote, ReportBody, Tee};
pub use roots::TrustAnchor;
pub use status::TcbStatus;
pub use tcbinfo::{QeIdentity, TcbInfo};
pub use verify::{
    CollateralItem, CollateralStatus, TcbVerdict, VerifiedCollateral, VerifiedQuote, VerifyOptions,
    verify,
};
