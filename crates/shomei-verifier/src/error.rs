//! Errors of the verifier. Evidence that was read and found wanting is *not* an error: it is an
//! [`crate::Appraisal`] with non-affirming claims and their reasons. Errors are evidence or
//! collateral that cannot be read (final, 4xx), collateral that is missing (retryable, 5xx),
//! keys that cannot be used, and attestation results that do not verify.

use shomei_core::UnixTime;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SEV-SNP evidence or collateral that cannot be read, or collateral that is missing.
    #[error("snp: {0}")]
    Snp(shomei_snp::Error),
    /// DCAP evidence or collateral that cannot be read, or collateral that is missing.
    #[error("dcap: {0}")]
    Dcap(shomei_dcap::Error),
    /// Two-step CVM evidence that cannot be read (a malformed HCL report, quote, event log or
    /// evidence document).
    #[error("cvm: {0}")]
    Cvm(String),
    /// The proof system failed on SNP proof evidence for another reason than a proof that does
    /// not verify (which is an appraisal, `zk_proof`): public inputs it cannot encode.
    #[error("zk: {0}")]
    Zk(shomei_zk::Error),
    /// A result-signing or result-verification key cannot be used.
    #[error("key: {0}")]
    Key(&'static str),
    /// An attestation result could not be encoded.
    #[error("encoding the attestation result: {0}")]
    Encode(String),
    /// An attestation result (EAR) was refused.
    #[error("attestation result refused: {0}")]
    Ear(#[from] EarRejection),
}

impl Error {
    /// Collateral needed for the appraisal was not supplied: the request may succeed later
    /// (the service answers 503), unlike every other error.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Snp(shomei_snp::Error::MissingCollateral(_))
                | Self::Dcap(shomei_dcap::Error::MissingCollateral(_))
        )
    }
}

/// Why an attestation result (EAR JWT) was refused. [`EarRejection::check`] is the stable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EarRejection {
    #[error("not a JWS compact serialisation: {detail}")]
    Malformed { detail: &'static str },
    #[error("{part} is not valid base64url or JSON: {detail}")]
    Encoding { part: &'static str, detail: String },
    #[error("algorithm {found:?} is not the key's ({expected})")]
    Algorithm {
        found: String,
        expected: &'static str,
    },
    #[error("key id {found:?} is not the verifying key's ({expected})")]
    KeyId { found: String, expected: String },
    #[error("the signature does not verify under the result-signing key")]
    Signature,
    #[error("eat_profile {found:?} is not the EAR profile")]
    Profile { found: String },
    #[error("the result has no exp claim, so it cannot be used as a passport")]
    NoExpiry,
    #[error("the result expired at {exp} (time of use {at})")]
    Expired { exp: UnixTime, at: UnixTime },
    #[error("the result is issued at {iat}, after the time of use {at}")]
    NotYetValid { iat: UnixTime, at: UnixTime },
}

impl EarRejection {
    pub fn check(&self) -> &'static str {
        match self {
            Self::Malformed { .. } | Self::Encoding { .. } => "ear_format",
            Self::Algorithm { .. } => "ear_algorithm",
            Self::KeyId { .. } => "ear_key_id",
            Self::Signature => "ear_signature",
            Self::Profile { .. } => "ear_profile",
            Self::NoExpiry => "ear_no_expiry",
            Self::Expired { .. } => "ear_expired",
            Self::NotYetValid { .. } => "ear_not_yet_valid",
        }
    }
}
