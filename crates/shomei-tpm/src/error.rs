//! Errors of the TPM family. Input that cannot be read ([`Error::Parse`], exit 2) is kept apart
//! from evidence that was read and refused ([`Error::Rejected`], exit 1); every refusal has a
//! stable [`Rejection::check`] name.

use shomei_core::ParseError;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A structure or log is malformed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The evidence was read and refused.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// A key, certificate or algorithm this crate cannot use.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The crypto library or the random generator failed (not caused by input).
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

impl Error {
    /// The rejection, when the evidence was read and refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Why evidence was refused. [`Rejection::check`] is the stable name of the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// TPMS_ATTEST.magic is not TPM_GENERATED_VALUE (0xFF544347).
    #[error("magic is {found:#010x}, not TPM_GENERATED_VALUE 0xff544347")]
    Magic { found: u32 },
    /// TPMS_ATTEST.type is not the one asked for.
    #[error("attestation type is {found:#06x}, expected {expected:#06x}")]
    AttestType { found: u16, expected: u16 },
    /// The signature's scheme or hash is not allowed, or does not fit the key.
    #[error("{0}")]
    SignatureAlgorithm(String),
    /// The signature does not verify over the received TPMS_ATTEST bytes.
    #[error("the signature does not verify under the attestation key ({scheme})")]
    Signature { scheme: String },
    /// extraData differs from the caller's nonce.
    #[error("extraData {found} differs from the expected nonce {expected}")]
    Nonce { found: String, expected: String },
    /// The signed PCR selection differs from the PCRs the caller supplied values for.
    #[error("signed selection {signed} differs from the supplied PCRs {supplied}")]
    PcrSelection { signed: String, supplied: String },
    /// The signed pcrDigest differs from the digest of the supplied PCR values.
    #[error("signed pcrDigest {signed} differs from {hash}(supplied PCRs) = {computed}")]
    PcrDigest {
        signed: String,
        computed: String,
        hash: &'static str,
    },
    /// A quote over SHA-1 or signed with SHA-1 without `allow_sha1`.
    #[error("{0} uses SHA-1 and SHA-1 is not allowed")]
    Sha1NotAllowed(&'static str),
    /// The key is not a restricted signing key (an AK).
    #[error("attestation key attributes {attributes:#010x}: {why}")]
    AkAttributes { attributes: u32, why: &'static str },
    /// The replayed event log does not reproduce a quoted PCR.
    #[error("{bank} PCR {index}: event log replays to {replayed}, the quote says {quoted}")]
    EventLogReplay {
        bank: &'static str,
        index: u32,
        replayed: String,
        quoted: String,
    },
    /// The event log has no values for a quoted bank.
    #[error("the event log has no {0} bank")]
    EventLogBank(&'static str),
    /// A certified/created object's name differs from the expected one.
    #[error("certified object name {found} differs from {expected}")]
    ObjectName { found: String, expected: String },
    /// No EK CA issued this certificate (or an intermediate).
    #[error("no trusted CA issued {subject}")]
    EkChainIssuer { subject: String },
    /// A certificate in the EK chain is outside its validity window at the verification time.
    #[error("{subject} is not valid at {at} (valid {not_before}..{not_after})")]
    EkChainValidity {
        subject: String,
        at: i64,
        not_before: i64,
        not_after: i64,
    },
    /// A certificate's signature does not verify under its issuer's key.
    #[error("the signature on {subject} does not verify under {issuer}")]
    EkChainSignature { subject: String, issuer: String },
    /// An issuer in the EK chain is not a CA.
    #[error("{subject} is not a CA certificate")]
    EkChainNotCa { subject: String },
    /// The chain is longer than the bound.
    #[error("EK chain is longer than {0} certificates")]
    EkChainTooLong(usize),
    /// The EK certificate's key differs from the EK public area.
    #[error("the EK certificate's public key differs from the EK public area")]
    EkKeyMismatch,
}

impl Rejection {
    /// The stable name of the failed check (`rejected: <check>: <detail>`).
    pub fn check(&self) -> &'static str {
        match self {
            Self::Magic { .. } => "magic",
            Self::AttestType { .. } => "attest_type",
            Self::SignatureAlgorithm(_) => "signature_algorithm",
            Self::Signature { .. } => "signature",
            Self::Nonce { .. } => "nonce",
            Self::PcrSelection { .. } => "pcr_selection",
            Self::PcrDigest { .. } => "pcr_digest",
            Self::Sha1NotAllowed(_) => "sha1_not_allowed",
            Self::AkAttributes { .. } => "ak_attributes",
            Self::EventLogReplay { .. } => "eventlog_replay",
            Self::EventLogBank(_) => "eventlog_bank",
            Self::ObjectName { .. } => "object_name",
            Self::EkChainIssuer { .. } => "ek_chain_issuer",
            Self::EkChainValidity { .. } => "ek_chain_validity",
            Self::EkChainSignature { .. } => "ek_chain_signature",
            Self::EkChainNotCa { .. } => "ek_chain_not_ca",
            Self::EkChainTooLong(_) => "ek_chain_length",
            Self::EkKeyMismatch => "ek_key",
        }
    }
}
