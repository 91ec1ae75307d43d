//! Intel SGX local attestation: an emulated SGX CPU (EREPORT, EGETKEY, ECREATE/EADD/EEXTEND/EINIT
//! with SIGSTRUCT RSA-3072 e=3), the SDK's `sgx_dh` protocol byte for byte (LAv1 and LAv2), an
//! AES-128-GCM channel with replay protection, and an identity policy.
//!
//! ```text
//! EnclaveImage ──mr_enclave──▶ SigStructFields ──SigningKey::sign──▶ SigStruct
//!                                                                       │
//! SgxCpu::boot ──launch(image, sigstruct, LaunchOptions)──▶ Enclave (EREPORT, EGETKEY)
//!                                                                       │ LocalEnclave
//! la::Responder / la::Initiator (over dh::DhResponder / dh::DhInitiator) ▼
//!    msg1 576 B ─▶ msg2 512 B ◀─ msg3 452+N B ─▶  VerifiedPeer ──IdentityPolicy::appraise──▶
//!                                                  SecureChannel (AES-128-GCM under the AEK)
//! ```
//!
//! Pure: no I/O and no clock. Randomness (key pairs, the per-boot KEYID) comes from aws-lc-rs.
//! Parsers take arbitrary bytes and return a [`ParseError`](shomei_core::ParseError) naming the
//! field and offset; every refusal has a stable `check()` name.

pub mod channel;
pub mod cpu;
pub mod crypto;
pub mod dh;
pub mod error;
pub mod la;
pub mod measure;
pub mod policy;
pub mod sigstruct;
pub mod types;

#[cfg(test)]
mod tests;

pub use channel::{SecureChannel, Side};
pub use cpu::{CpuConfig, Enclave, LaunchOptions, SgxCpu};
pub use crypto::{EcPublicKey, Key128};
pub use dh::{
    DhInitiator, DhResponder, DhState, EnclaveIdentity, Established, LaVersion, LocalEnclave, Msg1,
    Msg2, Msg3, PeerRole, VerifiedPeer,
};
pub use error::{ChannelError, EgetkeyError, Error, LaunchError, Rejection};
pub use la::{Attested, Initiator, Responder, attest_in_process};
pub use measure::{EnclaveImage, secinfo};
pub use policy::{IdentityPolicy, SeenConfigIds, Violation};
pub use sigstruct::{SigStruct, SigStructFields, SigningKey, TestIsv};
pub use types::{
    Attributes, CpuSvn, KeyName, KeyRequest, Measurement, Report, ReportBody, TargetInfo,
    key_policy,
};

/// A small demo enclave: one TCS page and `code` as measured RX pages, in a 64 KiB ELRANGE.
/// Different `code` gives a different MRENCLAVE.
pub fn demo_image(code: &[u8]) -> Result<EnclaveImage, Error> {
    let mut img = EnclaveImage::new(0x10000, 1)?;
    img.add_page(0, secinfo::PT_TCS, &[], true)?;
    img.add_region(
        0x1000,
        secinfo::PT_REG | secinfo::R | secinfo::X,
        code,
        true,
    )?;
    Ok(img)
}
