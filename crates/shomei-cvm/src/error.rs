//! Errors of the two-step CVM family. Input that cannot be read (exit 2) is an [`Error`] naming
//! the field and offset; evidence that was read and refused is [`Error::Rejected`], carrying the
//! whole [`CvmReport`] so that every check (passed, failed or skipped) can be shown.

use shomei_core::ParseError;

use crate::report::{Check, CvmReport};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binary structure is malformed (`what` names the structure: `HCL report`, `TPMS_ATTEST`,
    /// `event log`, …; the parse error names the field and offset).
    #[error("{what}: {source}")]
    Parse {
        what: &'static str,
        #[source]
        source: ParseError,
    },
    /// The evidence document is malformed: a JSON field is missing, has the wrong type, or its
    /// encoding (hex, base64, PEM, JWK) does not decode.
    #[error("{field}: {detail}")]
    Evidence { field: String, detail: String },
    /// A key, certificate or algorithm this crate cannot use.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// SEV-SNP input that is not a rejection: missing collateral (no VCEK) or a certificate
    /// that cannot be decoded.
    #[error("{0}")]
    Snp(shomei_snp::Error),
    /// Collateral the evidence needs was not supplied (TDX: DCAP collateral in
    /// [`crate::CvmOptions::dcap`]).
    #[error("missing collateral: {0}")]
    MissingCollateral(String),
    /// The evidence was read and at least one check failed.
    #[error("{}", rejected_line(.0))]
    Rejected(Box<CvmReport>),
}

fn rejected_line(r: &CvmReport) -> String {
    match r.first_failure() {
        Some(c) => format!("{}.{}: {}", c.step.name(), c.check, c.detail),
        None => "rejected".to_owned(),
    }
}

impl Error {
    pub(crate) fn evidence(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Evidence {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn parse(what: &'static str) -> impl FnOnce(ParseError) -> Self {
        move |source| Self::Parse { what, source }
    }

    /// The full report, when the evidence was read and refused.
    pub fn report(&self) -> Option<&CvmReport> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// The first failed check, when the evidence was read and refused.
    pub fn rejection(&self) -> Option<&Check> {
        self.report().and_then(CvmReport::first_failure)
    }
}

impl From<shomei_tpm::Error> for Error {
    fn from(e: shomei_tpm::Error) -> Self {
        match e {
            shomei_tpm::Error::Parse(p) => Self::Parse {
                what: "TPM structure",
                source: p,
            },
            other => Self::Unsupported(other.to_string()),
        }
    }
}
