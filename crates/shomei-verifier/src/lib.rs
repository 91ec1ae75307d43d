//! Appraisal: evidence of every family behind one interface, reference values and policy,
//! AR4SI trust vectors and signed attestation results (EAR). No HTTP, no storage, no clock.
//!
//! ```text
//! Evidence::{Snp, Dcap, Cvm, SnpProof} ──appraise(&AppraisalContext{at, nonce, policies, anchors})──▶ Appraisal
//!    family verify (signature, chain, collateral)          status + AR4SI trust vector
//!    family Policy::appraise (reference values, TCB, …)    + a Reason per non-affirming claim
//!    nonce binding: REPORT_DATA = SHA-512(nonce ‖ key)     + the appraised claims
//!
//! Ear::new(iat, validity, nonce, [(submod, &Appraisal)]) ──EarSigner::sign──▶ JWT (ES256/ES384)
//! JWT ──EarVerifier::verify(token, at)──▶ VerifiedEar           (the passport model)
//! ```
//!
//! Evidence that was read and found wanting is an [`Appraisal`] (contraindicated, with reasons),
//! never an [`Error`]; errors are unreadable input (final) and missing collateral (retryable).

pub mod appraise;
pub mod ar4si;
pub mod ear;
pub mod error;
pub mod jwe;
pub mod rego;

pub use appraise::{
    Anchors, Appraisal, AppraisalContext, Claims, DcapEvidence, Evidence, Family, NamedPolicy,
    NonceBinding, Policies, SnpClaims, SnpEvidence, SnpProofClaims, SnpProofEvidence, appraise,
    report_data, snp_proof_policy,
};
pub use ar4si::{Reason, ReasonSource, Tier, TrustClaim, TrustVector};
pub use ear::{Alg, Ear, EarSigner, EarVerifier, Jwk, Jwks, VerifiedEar};
pub use error::{EarRejection, Error};
