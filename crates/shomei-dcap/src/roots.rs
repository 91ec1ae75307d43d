//! The trust anchor: the Intel SGX Root CA, compiled in and pinned by SHA-256, or a root the
//! operator names explicitly (Intel's synthetic sample root, an emulator's test root). Nothing
//! but the anchor given in [`crate::VerifyOptions`] is ever trusted.

use std::sync::OnceLock;

use shomei_core::x509::{Certificate, PublicKey, parse_certificates};

use crate::error::Error;

/// SHA-256 of the DER of the Intel SGX Root CA (self-signed P-256, 2018-05-21 → 2049-12-31),
/// `https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer`.
pub const INTEL_SGX_ROOT_CA_SHA256: &str =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("../roots/intel_sgx_root_ca.der");

/// A root of trust: a self-signed CA certificate and its key.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    cert: Certificate,
    key: PublicKey,
    sha256: [u8; 32],
}

impl TrustAnchor {
    /// The Intel SGX Root CA, compiled in and checked against [`INTEL_SGX_ROOT_CA_SHA256`] once
    /// per process. `None` only if the compiled-in bytes were corrupted (a unit test pins this).
    pub fn intel() -> Option<&'static TrustAnchor> {
        static INTEL: OnceLock<Option<TrustAnchor>> = OnceLock::new();
        INTEL
            .get_or_init(|| {
                let cert = Certificate::from_der(INTEL_SGX_ROOT_CA_DER).ok()?;
                if hex::encode(cert.sha256()) != INTEL_SGX_ROOT_CA_SHA256 {
                    return None;
                }
                Self::from_certificate(cert).ok()
            })
            .as_ref()
    }

    /// An explicitly named root: it must be self-issued and self-signed with a P-256 key.
    pub fn from_certificate(cert: Certificate) -> Result<Self, Error> {
        let key = cert
            .public_key()
            .map_err(|e| Error::certificate("trust anchor", e))?;
        if !matches!(key, PublicKey::EcP256(_)) {
            return Err(Error::collateral(
                "trust anchor",
                "the root key is not an EC P-256 key",
            ));
        }
        if cert.subject_der() != cert.issuer_der() {
            return Err(Error::collateral(
                "trust anchor",
                "the root is not self-issued",
            ));
        }
        cert.verify_signed_by(&key)
            .map_err(|e| Error::certificate("trust anchor self-signature", e))?;
        let sha256 = cert.sha256();
        Ok(Self { cert, key, sha256 })
    }

    /// Reads a root from DER or PEM (the first certificate).
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<Self, Error> {
        let certs = parse_certificates(bytes).map_err(|e| Error::certificate("trust anchor", e))?;
        let first = certs
            .into_iter()
            .next()
            .ok_or_else(|| Error::collateral("trust anchor", "no certificate"))?;
        Self::from_certificate(first)
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Whether this is the pinned Intel SGX Root CA.
    pub fn is_intel(&self) -> bool {
        hex::encode(self.sha256) == INTEL_SGX_ROOT_CA_SHA256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_intel_root_loads_and_matches_its_pin() {
        let root = TrustAnchor::intel();
        assert!(root.is_some());
        if let Some(r) = root {
            assert!(r.is_intel());
            assert_eq!(
                r.certificate().subject_cn().as_deref(),
                Some("Intel SGX Root CA")
            );
        }
    }

    #[test]
    fn a_certificate_that_is_not_self_signed_is_not_an_anchor() {
        assert!(TrustAnchor::from_der_or_pem(b"not a certificate").is_err());
    }
}
