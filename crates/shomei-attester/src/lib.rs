//! Evidence collection from real interfaces (the only crate with devices) and the client side of
//! the service protocol ([`client`]). [`tsm`] reads SEV-SNP reports through configfs-tsm; [`tpm`] is a
//! TPM 2.0 client that speaks the TPM command protocol (Part 3) directly to `/dev/tpmrm0` or to
//! swtpm's TCP socket. tss-esapi was not used: it needs libtss2 at build time and its TCTI for
//! swtpm adds nothing for the handful of commands an attester sends.

pub mod client;
pub mod tpm;
pub mod tsm;
