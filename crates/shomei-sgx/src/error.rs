//! Errors of the SGX family. Input that cannot be read ([`Error::Parse`], exit 2) is kept apart
//! from evidence that was read and refused ([`Error::Rejected`], exit 1); every refusal has a
//! stable [`Rejection::check`] name. Misuse of a protocol state machine, a launch that EINIT
//! refuses and an EGETKEY fault are their own variants.

use shomei_core::ParseError;

use crate::dh::DhState;
use crate::policy::Violation;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message or structure is malformed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The peer's evidence was read and refused.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// A protocol call out of order (the SDK's `SGX_ERROR_INVALID_STATE`); the session has been
    /// zeroised and is now in the ERROR state.
    #[error("{operation} called in state {state:?}; the session is now in the ERROR state")]
    InvalidState {
        operation: &'static str,
        state: DhState,
    },
    /// ECREATE/EADD/EINIT refused the enclave.
    #[error("launch: {0}")]
    Launch(#[from] LaunchError),
    /// EGETKEY refused the key request.
    #[error("EGETKEY: {0}")]
    Egetkey(#[from] EgetkeyError),
    /// The SIGSTRUCT signing key is not usable.
    #[error("signing key: {0}")]
    SigningKey(&'static str),
    /// The crypto library or the random generator failed (not caused by input).
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

impl Error {
    /// The rejection, when the peer's evidence was read and refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Why the local-attestation protocol refused the peer. [`Rejection::check`] is the stable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The peer's public key is not a point on P-256.
    #[error("{message}: the peer's public key is not a P-256 point")]
    PeerPublicKey { message: &'static str },
    /// LAv1 msg2 names a KDF other than 0x0001 (AES-CMAC); `SGX_ERROR_KDF_MISMATCH`.
    #[error("msg2: KDF-ID is {found:#06x}, only 0x0001 (AES-CMAC) is defined")]
    KdfId { found: u16 },
    /// The message's CMAC under the session MAC key does not verify: the sender does not hold
    /// the ECDH secret of this session, or the message was changed.
    #[error("{message}: CMAC under the session MAC key (SMK) does not verify")]
    MessageMac { message: &'static str },
    /// The REPORT MAC does not verify under this enclave's report key: the REPORT was made on
    /// another CPU, for another target enclave, or was changed (for LAv2 also: the public key it
    /// binds was substituted).
    #[error("{message}: REPORT MAC does not verify under this enclave's report key ({why})")]
    ReportMac {
        message: &'static str,
        why: &'static str,
    },
    /// The REPORT's report_data does not bind the public keys of this session (LAv1: a man in
    /// the middle substituted a key).
    #[error("{message}: report_data does not bind this session's public keys ({expected})")]
    ReportData {
        message: &'static str,
        expected: &'static str,
    },
    /// LAv2 proto_spec is not one this protocol defines.
    #[error("msg2: LAv2 proto_spec: {why}")]
    ProtoSpec { why: &'static str },
    /// The peer was authenticated but its identity does not satisfy the caller's policy.
    #[error("{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "))]
    Identity { violations: Vec<Violation> },
}

impl Rejection {
    /// The name of the failed check, as printed in `rejected: <check>: <detail>`.
    pub fn check(&self) -> &'static str {
        match self {
            Self::PeerPublicKey { .. } => "peer_public_key",
            Self::KdfId { .. } => "kdf_id",
            Self::MessageMac { .. } => "message_mac",
            Self::ReportMac { .. } => "report_mac",
            Self::ReportData { .. } => "report_data",
            Self::ProtoSpec { .. } => "proto_spec",
            Self::Identity { violations } => violations.first().map_or("identity", |v| v.check),
        }
    }
}

/// Why ECREATE, EADD or EINIT refused an enclave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    #[error("ELRANGE size {size:#x} is not a power of two of at least 8 KiB")]
    EnclaveSize { size: u64 },
    #[error("SSAFRAMESIZE must be at least one page")]
    SsaFrameSize,
    #[error("page at {offset:#x} is not 4 KiB-aligned inside the {size:#x}-byte ELRANGE")]
    PageOffset { offset: u64, size: u64 },
    #[error("page at {offset:#x} is added twice")]
    PageTwice { offset: u64 },
    #[error("SECINFO flags {flags:#x} have reserved bits or an unknown page type")]
    SecInfo { flags: u64 },
    #[error("requested ATTRIBUTES set reserved or EINIT-only flag bits {bits:#x}")]
    ReservedAttributes { bits: u64 },
    #[error("XFRM {xfrm:#x} lacks the x87 and SSE bits (0x3)")]
    Xfrm { xfrm: u64 },
    #[error("CONFIGID/CONFIGSVN are set but ATTRIBUTES.KSS is not")]
    KssDisabled,
    #[error("SIGSTRUCT: {0}")]
    SigStruct(&'static str),
    #[error("SIGSTRUCT signature does not verify under its modulus")]
    Signature,
    #[error("SIGSTRUCT Q1/Q2 do not match the signature and modulus")]
    SignatureQuotients,
    #[error("ENCLAVEHASH {signed} in SIGSTRUCT differs from the measured MRENCLAVE {measured}")]
    EnclaveHash { signed: String, measured: String },
    #[error(
        "ATTRIBUTES {requested:#x} under ATTRIBUTEMASK {mask:#x} differ from the signed {signed:#x}"
    )]
    Attributes {
        requested: u64,
        signed: u64,
        mask: u64,
    },
    #[error(
        "MISCSELECT {requested:#x} under MISCMASK {mask:#x} differs from the signed {signed:#x}"
    )]
    MiscSelect {
        requested: u32,
        signed: u32,
        mask: u32,
    },
}

/// Why EGETKEY refused a key request (SDK `EGETKEY_INVALID_*`, or a #GP fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgetkeyError {
    /// The instruction would fault (#GP): reserved KEYPOLICY bits, or KSS bits without KSS.
    #[error("#GP: {0}")]
    Fault(&'static str),
    /// The enclave lacks the attribute the key needs (PROVISIONKEY, EINITTOKENKEY).
    #[error("the enclave lacks the attribute {needed} this key requires")]
    InvalidAttribute { needed: &'static str },
    /// The requested CPUSVN is above the CPU's current one.
    #[error("requested CPUSVN {requested} is above the current {current}")]
    InvalidCpuSvn { requested: String, current: String },
    /// The requested ISVSVN or CONFIGSVN is above the enclave's.
    #[error("requested {what} {requested} is above the enclave's {current}")]
    InvalidIsvSvn {
        what: &'static str,
        requested: u16,
        current: u16,
    },
    /// KEYNAME is not one of the five defined keys.
    #[error("KEYNAME {found} is not defined")]
    InvalidKeyName { found: u16 },
}

/// Why the secure channel refused a message. [`ChannelError::check`] is the stable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The message is malformed.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The message belongs to another session.
    #[error("session id {found:#010x}, this session is {expected:#010x}")]
    Session { expected: u32, found: u32 },
    /// The message was sent in the other direction (a reflected message).
    #[error("the message travels {found}, this end receives {expected}")]
    Direction {
        expected: &'static str,
        found: &'static str,
    },
    /// The counter was already used: a replay.
    #[error("counter {found} was already received (next is {expected}): replayed message")]
    Replay { expected: u64, found: u32 },
    /// The counter skips ahead: a message was dropped or reordered.
    #[error("counter {found} is ahead of the next expected {expected}: reordered or dropped")]
    OutOfOrder { expected: u64, found: u32 },
    /// The AES-GCM tag does not verify.
    #[error("AES-128-GCM tag does not verify under the session key")]
    Authentication,
    /// The channel has used every counter value; re-attest to continue.
    #[error(
        "the {direction} counter is exhausted; the session is closed and must be re-established"
    )]
    Closed { direction: &'static str },
    /// The payload does not fit the message format.
    #[error("payload of {len} bytes exceeds the maximum {max}")]
    TooLarge { len: usize, max: usize },
    /// The crypto library failed (not caused by input).
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

impl ChannelError {
    /// The name of the failed check.
    pub fn check(&self) -> &'static str {
        match self {
            Self::Parse(_) => "channel_format",
            Self::Session { .. } => "channel_session",
            Self::Direction { .. } => "channel_direction",
            Self::Replay { .. } => "channel_replay",
            Self::OutOfOrder { .. } => "channel_order",
            Self::Authentication => "channel_auth",
            Self::Closed { .. } => "channel_closed",
            Self::TooLarge { .. } => "channel_size",
            Self::Crypto(_) => "channel_crypto",
        }
    }
}
