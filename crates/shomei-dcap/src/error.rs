//! Errors of the DCAP family: input that cannot be read (exit 2) versus evidence or collateral
//! that was read and rejected (exit 1). Every rejection names the check that failed.

use shomei_core::x509::X509Error;
use shomei_core::{ParseError, UnixTime};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The quote bytes are malformed.
    #[error("quote: {0}")]
    Parse(#[from] ParseError),
    /// A certificate or CRL that was supplied cannot be decoded.
    #[error("{what}: {source}")]
    Certificate {
        what: String,
        #[source]
        source: X509Error,
    },
    /// A collateral document (TCB Info, QE Identity, a collateral bundle) cannot be read.
    #[error("{what}: {detail}")]
    Collateral { what: &'static str, detail: String },
    /// Collateral needed for verification was not supplied.
    #[error("missing collateral: {0}")]
    MissingCollateral(String),
    /// The evidence was read and does not verify.
    #[error("{0}")]
    Rejected(#[from] Rejection),
}

impl Error {
    /// The rejection, when the evidence was read and found wanting.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn collateral(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Collateral {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn certificate(what: impl Into<String>, source: X509Error) -> Self {
        Self::Certificate {
            what: what.into(),
            source,
        }
    }
}

/// The two JSON documents signed by the Intel SGX TCB Signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedDocument {
    TcbInfo,
    QeIdentity,
}

impl core::fmt::Display for SignedDocument {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TcbInfo => "TCB Info",
            Self::QeIdentity => "QE Identity",
        })
    }
}

/// Why verification rejected a quote. [`Rejection::check`] is the stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("QE vendor ID {found} is not Intel's")]
    QeVendor { found: String },
    #[error("{detail}")]
    RootOfTrust { detail: String },
    #[error("{cert} is not issued by {issuer}: {detail}")]
    ChainIssuer {
        cert: &'static str,
        issuer: &'static str,
        detail: String,
    },
    #[error("{cert} signature does not verify under the {issuer} key")]
    ChainSignature {
        cert: &'static str,
        issuer: &'static str,
    },
    #[error("{cert}: {detail}")]
    CertificateProfile { cert: &'static str, detail: String },
    #[error("{what} is not valid yet at {at} (valid from {not_before})")]
    NotYetValid {
        what: &'static str,
        at: UnixTime,
        not_before: UnixTime,
    },
    #[error("{crl}: {detail}")]
    Crl { crl: &'static str, detail: String },
    #[error("{cert} (serial {serial}) is revoked by the {crl}")]
    Revoked {
        cert: &'static str,
        serial: String,
        crl: &'static str,
    },
    #[error("the {what} signature does not verify under the TCB Signing key")]
    CollateralSignature { what: SignedDocument },
    #[error("TCB Info does not match the quote: {detail}")]
    TcbInfoMismatch { detail: String },
    #[error("the QE report does not match the QE Identity: {detail}")]
    QeIdentityMismatch { detail: String },
    #[error("the QE report signature does not verify under the PCK certificate key")]
    QeReportSignature,
    #[error(
        "QE report data does not bind the attestation key: SHA-256(key ‖ auth data) is {expected}, the report has {found}"
    )]
    QeReportData { expected: String, found: String },
    #[error("the attestation key is not a valid P-256 point")]
    AttestationKey,
    #[error("the quote signature does not verify under the attestation key")]
    QuoteSignature,
    #[error("TDX module: {detail}")]
    TdxModule { detail: String },
    #[error("signatures and chains verified, but {detail}")]
    TcbNotSupported { detail: String },
    #[error("certification data: {detail}")]
    CertificationData { detail: String },
}

impl Rejection {
    /// The name of the failed check, as printed in `rejected: <check>: <detail>`.
    pub fn check(&self) -> &'static str {
        match self {
            Self::QeVendor { .. } => "qe_vendor_id",
            Self::RootOfTrust { .. } => "root_of_trust",
            Self::ChainIssuer { .. } => "chain_issuer",
            Self::ChainSignature { .. } => "chain_signature",
            Self::CertificateProfile { .. } => "certificate_profile",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::Crl { .. } => "crl",
            Self::Revoked { .. } => "revocation",
            Self::CollateralSignature {
                what: SignedDocument::TcbInfo,
            } => "tcb_info_signature",
            Self::CollateralSignature {
                what: SignedDocument::QeIdentity,
            } => "qe_identity_signature",
            Self::TcbInfoMismatch { .. } => "tcb_info_mismatch",
            Self::QeIdentityMismatch { .. } => "qe_identity_mismatch",
            Self::QeReportSignature => "qe_report_signature",
            Self::QeReportData { .. } => "qe_report_data",
            Self::AttestationKey => "attestation_key",
            Self::QuoteSignature => "quote_signature",
            Self::TdxModule { .. } => "tdx_module",
            Self::TcbNotSupported { .. } => "tcb_not_supported",
            Self::CertificationData { .. } => "certification_data",
        }
    }
}
