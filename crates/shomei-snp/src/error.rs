//! Errors of the SNP family: input that cannot be read (exit 2) versus evidence that was read and
//! rejected (exit 1). Every rejection names the check that failed.

use shomei_core::x509::X509Error;
use shomei_core::{ParseError, UnixTime};

use crate::tcb::TcbComponent;
use crate::{Product, SigningKey};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The report bytes are malformed.
    #[error("report: {0}")]
    Parse(#[from] ParseError),
    /// A certificate or CRL that was supplied cannot be decoded.
    #[error("{what}: {source}")]
    Certificate {
        what: String,
        #[source]
        source: X509Error,
    },
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
}

/// Why verification rejected a report. [`Rejection::check`] is the stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("SIGNATURE_ALGO is {found}, only 1 (ECDSA P-384 with SHA-384) is defined")]
    SignatureAlgorithm { found: u32 },
    #[error("the report is not signed ({why})")]
    Unsigned { why: &'static str },
    #[error(
        "KEY_INFO says the report is signed by the {report}, but the certificate is a {certificate}"
    )]
    SignerMismatch {
        report: SigningKey,
        certificate: SigningKey,
    },
    #[error("products disagree: {first_source} says {first}, {second_source} says {second}")]
    ProductMismatch {
        first: Product,
        first_source: &'static str,
        second: Product,
        second_source: &'static str,
    },
    #[error(
        "the product cannot be determined (report v2 and no productName in the VEK): pass it explicitly"
    )]
    UnknownProduct,
    #[error("no trusted AMD root for {product}")]
    NoRoot { product: Product },
    #[error(
        "the supplied ARK ({subject}) is not AMD's pinned ARK for {product}; a test or emulated root is trusted only when named as a trust anchor"
    )]
    ArkNotTrusted { subject: String, product: Product },
    #[error("{cert} is not issued by {issuer}: {detail}")]
    ChainIssuer {
        cert: &'static str,
        issuer: &'static str,
        detail: String,
    },
    #[error(
        "{cert} signature does not verify under the trusted {issuer} key (not issued by AMD, or by a root not named as a trust anchor)"
    )]
    ChainSignature {
        cert: &'static str,
        issuer: &'static str,
    },
    #[error("{cert} is not valid at {at} (valid {not_before} to {not_after})")]
    CertificateValidity {
        cert: &'static str,
        at: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    #[error("CRL: {0}")]
    Crl(String),
    #[error("{cert} (serial {serial}) is revoked by the CRL")]
    Revoked { cert: &'static str, serial: String },
    #[error("the VEK key is not an EC P-384 key")]
    VekKey,
    #[error("ECDSA P-384 signature over bytes 0x000-0x29F does not verify with the {signer}")]
    ReportSignature { signer: SigningKey },
    #[error("{component} SPL: the certificate says {certificate:?}, REPORTED_TCB says {report}")]
    VekTcb {
        component: TcbComponent,
        certificate: Option<u8>,
        report: u8,
    },
    #[error("hwID {certificate} in the VCEK does not match CHIP_ID {report}")]
    ChipId { certificate: String, report: String },
}

impl Rejection {
    /// The name of the failed check, as printed in `rejected: <check>: <detail>`.
    pub fn check(&self) -> &'static str {
        match self {
            Self::SignatureAlgorithm { .. } => "signature_algorithm",
            Self::Unsigned { .. } => "unsigned_report",
            Self::SignerMismatch { .. } => "signing_key",
            Self::ProductMismatch { .. } | Self::UnknownProduct => "product",
            Self::NoRoot { .. } | Self::ArkNotTrusted { .. } => "root_of_trust",
            Self::ChainIssuer { .. } => "chain_issuer",
            Self::ChainSignature { .. } => "chain_signature",
            Self::CertificateValidity { .. } => "certificate_validity",
            Self::Crl(_) => "crl",
            Self::Revoked { .. } => "revocation",
            Self::VekKey => "vek_key",
            Self::ReportSignature { .. } => "report_signature",
            Self::VekTcb { .. } => "vek_tcb",
            Self::ChipId { .. } => "chip_id",
        }
    }
}
