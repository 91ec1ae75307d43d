//! Fetches and caches Intel PCS (or PCCS) collateral for `shomei-dcap`, which stays pure: this
//! crate is where DCAP collateral meets the network and the disk.
//!
//! ```text
//! quote bytes ──CollateralRequest::from_quote──▶ (TEE, FMSPC, PCK CA)
//!             ──PcsClient::collateral(anchor, time)──▶ Collateral ──shomei_dcap::verify──▶ VerifiedQuote
//! ```
//!
//! # Requests (PCS API v4)
//!
//! | what | URL | issuer chain header |
//! |---|---|---|
//! | TCB Info | `{base}/{sgx,tdx}/certification/v4/tcb?fmspc={FMSPC}` | `TCB-Info-Issuer-Chain` (PCCS v3: `SGX-TCB-Info-Issuer-Chain`) |
//! | QE Identity | `{base}/{sgx,tdx}/certification/v4/qe/identity` | `SGX-Enclave-Identity-Issuer-Chain` |
//! | PCK CRL | `{base}/sgx/certification/v4/pckcrl?ca={processor,platform}&encoding=der` | `SGX-PCK-CRL-Issuer-Chain` |
//! | Root CA CRL | [`PcsConfig::root_ca_crl_url`] (Intel: `certificates.trustedservices.intel.com/IntelSGXRootCA.der`; PCCS: `{base}/sgx/certification/v4/rootcacrl`, hex) | — |
//!
//! Issuer chains arrive URL-encoded in headers and are decoded here.
//!
//! # What is checked before anything is cached
//!
//! The whole set is verified with [`shomei_dcap::VerifiedCollateral::new`] against the trust
//! anchor given (TCB Info and QE Identity signatures over the bytes received, the TCB Signing
//! chain, both CRLs), and TCB Info must be for the FMSPC and TEE asked for. Anything else is
//! [`PcsError::Invalid`] and the cache is untouched. Cached sets are checked the same way when
//! read; online, an invalid or expired set is fetched again.
//!
//! # Cache layout
//!
//! `{cache}/{sgx,tdx}/{FMSPC}/{processor,platform}/` holds the PCS-format files that
//! `shomei dcap verify --collateral DIR` reads (`tcb_info.json`, `qe_identity.json`,
//! `pck_crl.der`, `root_ca_crl.der`, `tcb_info_issuer_chain.pem`,
//! `qe_identity_issuer_chain.pem`, `pck_crl_issuer_chain.pem`), each the bytes received (PEM
//! chains decoded from their headers), written to a temporary file and renamed.
//!
//! No clock: the caller passes the time ([`shomei_core::UnixTime`]) used to judge expiry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use shomei_core::UnixTime;
use shomei_dcap::collateral::parse_chain;
use shomei_dcap::quote::CertificationDataType;
use shomei_dcap::{
    Collateral, PckExtensions, PcsFiles, Quote, Tee, TrustAnchor, VerifiedCollateral,
};
use ureq::Agent;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

/// Intel's PCS.
pub const INTEL_PCS_URL: &str = "https://api.trustedservices.intel.com";
/// Intel's Root CA CRL (DER).
pub const INTEL_ROOT_CA_CRL_URL: &str =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/// The largest body or header accepted (TCB Info is ~20 KiB).
const MAX_BODY: u64 = 1 << 20;

/// Errors of the fetcher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcsError {
    #[error("{0}")]
    Quote(#[source] shomei_dcap::Error),
    #[error("the quote does not say which platform it is: {0}")]
    Request(String),
    #[error("GET {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("GET {url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("GET {url}: no {header} header")]
    MissingHeader { url: String, header: &'static str },
    #[error("the collateral received does not verify, nothing cached: {0}")]
    Invalid(#[source] shomei_dcap::Error),
    #[error("not cached (offline): {}", .0.display())]
    NotCached(PathBuf),
    #[error("the cached collateral in {} does not verify: {source}", .path.display())]
    InvalidCache {
        path: PathBuf,
        #[source]
        source: shomei_dcap::Error,
    },
    #[error("the cached collateral in {} has expired (offline)", .0.display())]
    Expired(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where collateral comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The cache when it holds a valid, unexpired set; else PCS, then cache it.
    Online,
    /// The cache only.
    Offline,
    /// PCS always, then update the cache.
    Refresh,
}

/// The PCK CA that issued the platform's PCK certificate (and its CRL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PckCa {
    Processor,
    Platform,
}

impl PckCa {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processor => "processor",
            Self::Platform => "platform",
        }
    }
}

/// What to fetch: the collateral of one platform family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollateralRequest {
    pub tee: Tee,
    pub fmspc: [u8; 6],
    pub ca: PckCa,
}

impl CollateralRequest {
    /// Reads TEE, FMSPC and PCK CA from a quote whose certification data is the PCK chain.
    pub fn from_quote(bytes: &[u8]) -> Result<Self, PcsError> {
        let q = Quote::parse(bytes).map_err(|e| PcsError::Quote(e.into()))?;
        let cd = q.certification_data();
        if cd.kind != CertificationDataType::PckCertChain {
            return Err(PcsError::Request(format!(
                "certification data type {} carries no PCK certificate",
                cd.kind.code()
            )));
        }
        let chain =
            parse_chain("PCK certificate chain in the quote", cd.data).map_err(PcsError::Quote)?;
        let leaf = chain
            .iter()
            .find(|c| {
                c.subject_cn()
                    .is_some_and(|n| n.contains("SGX PCK Certificate"))
            })
            .ok_or_else(|| PcsError::Request("no PCK certificate in the chain".into()))?;
        let ext = PckExtensions::from_certificate(leaf).map_err(PcsError::Quote)?;
        let issuer = leaf.issuer_cn().unwrap_or_default();
        let ca = if issuer.contains("Platform") {
            PckCa::Platform
        } else if issuer.contains("Processor") {
            PckCa::Processor
        } else {
            return Err(PcsError::Request(format!(
                "PCK issuer {issuer:?} is neither the Processor nor the Platform CA"
            )));
        };
        Ok(Self {
            tee: q.tee(),
            fmspc: ext.fmspc,
            ca,
        })
    }

    fn tee_path(&self) -> &'static str {
        match self.tee {
            Tee::Sgx => "sgx",
            Tee::Tdx => "tdx",
        }
    }
}

/// How the client reaches PCS and where it caches.
#[derive(Debug, Clone)]
pub struct PcsConfig {
    /// PCS or PCCS base URL (no trailing slash).
    pub base_url: String,
    pub root_ca_crl_url: String,
    pub cache_dir: Option<PathBuf>,
    pub mode: Mode,
    pub timeout: Duration,
}

impl Default for PcsConfig {
    fn default() -> Self {
        Self {
            base_url: INTEL_PCS_URL.into(),
            root_ca_crl_url: INTEL_ROOT_CA_CRL_URL.into(),
            cache_dir: Self::default_cache_dir(),
            mode: Mode::Online,
            timeout: Duration::from_secs(30),
        }
    }
}

impl PcsConfig {
    /// A PCCS (or mirror) at `base`: everything, the Root CA CRL included, from there.
    pub fn pccs(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Self {
            root_ca_crl_url: format!("{base}/sgx/certification/v4/rootcacrl"),
            base_url: base,
            ..Self::default()
        }
    }

    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// `$XDG_CACHE_HOME/shomei/pcs`, else `~/.cache/shomei/pcs`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(base.join("shomei").join("pcs"))
    }
}

/// The PCS-format file names of a collateral directory.
pub const FILES: [&str; 7] = [
    "tcb_info.json",
    "qe_identity.json",
    "pck_crl.der",
    "root_ca_crl.der",
    "tcb_info_issuer_chain.pem",
    "qe_identity_issuer_chain.pem",
    "pck_crl_issuer_chain.pem",
];

/// A blocking PCS client with a cache.
#[derive(Debug, Clone)]
pub struct PcsClient {
    config: PcsConfig,
    agent: Agent,
}

/// Decodes `%XX` escapes (the issuer-chain headers are URL-encoded PEM).
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = s.get(i.checked_add(1)?..i.checked_add(3)?)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i = i.checked_add(3)?;
        } else {
            out.push(c);
            i = i.checked_add(1)?;
        }
    }
    Some(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PcsError> {
    let io = |source| PcsError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io)
}

/// The fetched (or cached) files, by [`FILES`] name.
struct Files(Vec<(&'static str, Vec<u8>)>);

impl Files {
    fn get(&self, name: &str) -> &[u8] {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_slice())
            .unwrap_or(&[])
    }

    fn collateral(&self) -> Result<Collateral, shomei_dcap::Error> {
        Collateral::from_pcs(&PcsFiles {
            tcb_info: self.get("tcb_info.json"),
            qe_identity: self.get("qe_identity.json"),
            pck_crl: self.get("pck_crl.der"),
            root_ca_crl: self.get("root_ca_crl.der"),
            tcb_info_issuer_chain: self.get("tcb_info_issuer_chain.pem"),
            qe_identity_issuer_chain: Some(self.get("qe_identity_issuer_chain.pem")),
            pck_crl_issuer_chain: Some(self.get("pck_crl_issuer_chain.pem")),
            pck_cert_chain: None,
        })
    }
}

/// Verifies a set and that it describes the platform asked for; returns whether it has expired
/// at `at`.
fn check(
    files: &Files,
    req: &CollateralRequest,
    anchor: &TrustAnchor,
    at: UnixTime,
) -> Result<(Collateral, bool), shomei_dcap::Error> {
    let c = files.collateral()?;
    let v = VerifiedCollateral::new(&c, anchor)?;
    let ti = v.tcb_info();
    if ti.fmspc != req.fmspc || ti.tee() != req.tee {
        return Err(shomei_dcap::Error::Collateral {
            what: "TCB Info",
            detail: format!(
                "for {} FMSPC {}, not the {} FMSPC {} asked for",
                ti.tee(),
                hex::encode_upper(ti.fmspc),
                req.tee,
                hex::encode_upper(req.fmspc)
            ),
        });
    }
    let expired = at > ti.next_update
        || at > v.qe_identity().next_update
        || c.pck_crl.next_update().is_none_or(|n| at > n)
        || c.root_ca_crl.next_update().is_none_or(|n| at > n);
    Ok((c, expired))
}

impl PcsClient {
    pub fn new(config: PcsConfig) -> Self {
        let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(crypto)
            .root_certs(RootCerts::WebPki)
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("shomei-pcs/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { config, agent }
    }

    pub fn config(&self) -> &PcsConfig {
        &self.config
    }

    /// The cache directory of `req`, when there is a cache.
    pub fn cache_path(&self, req: &CollateralRequest) -> Option<PathBuf> {
        self.config.cache_dir.as_ref().map(|d| {
            d.join(req.tee_path())
                .join(hex::encode_upper(req.fmspc))
                .join(req.ca.as_str())
        })
    }

    fn get(
        &self,
        url: &str,
        header: Option<&'static [&'static str]>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), PcsError> {
        let mut resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| PcsError::Transport {
                url: url.to_owned(),
                source: Box::new(e),
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(PcsError::Http {
                url: url.to_owned(),
                status,
            });
        }
        let chain = match header {
            None => None,
            Some(names) => {
                let value = names
                    .iter()
                    .find_map(|n| resp.headers().get(*n))
                    .and_then(|v| v.to_str().ok())
                    .and_then(percent_decode)
                    .ok_or_else(|| PcsError::MissingHeader {
                        url: url.to_owned(),
                        header: names.first().copied().unwrap_or("issuer chain"),
                    })?;
                Some(value)
            }
        };
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| PcsError::Transport {
                url: url.to_owned(),
                source: Box::new(e),
            })?;
        Ok((body, chain))
    }

    fn fetch(&self, req: &CollateralRequest) -> Result<Files, PcsError> {
        let base = self.config.base_url.trim_end_matches('/');
        let tee = req.tee_path();
        let fmspc = hex::encode_upper(req.fmspc);
        let (tcb, tcb_chain) = self.get(
            &format!("{base}/{tee}/certification/v4/tcb?fmspc={fmspc}"),
            Some(&["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"]),
        )?;
        let (qe, qe_chain) = self.get(
            &format!("{base}/{tee}/certification/v4/qe/identity"),
            Some(&["SGX-Enclave-Identity-Issuer-Chain"]),
        )?;
        let (pck_crl, crl_chain) = self.get(
            &format!(
                "{base}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                req.ca.as_str()
            ),
            Some(&["SGX-PCK-CRL-Issuer-Chain"]),
        )?;
        let (root_crl, _) = self.get(&self.config.root_ca_crl_url, None)?;
        Ok(Files(vec![
            ("tcb_info.json", tcb),
            ("qe_identity.json", qe),
            ("pck_crl.der", pck_crl),
            ("root_ca_crl.der", root_crl),
            ("tcb_info_issuer_chain.pem", tcb_chain.unwrap_or_default()),
            ("qe_identity_issuer_chain.pem", qe_chain.unwrap_or_default()),
            ("pck_crl_issuer_chain.pem", crl_chain.unwrap_or_default()),
        ]))
    }

    fn read_cache(dir: &Path) -> Result<Option<Files>, PcsError> {
        let mut out = Vec::new();
        for name in FILES {
            let p = dir.join(name);
            match std::fs::read(&p) {
                Ok(b) => out.push((name, b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(PcsError::Io { path: p, source }),
            }
        }
        Ok(Some(Files(out)))
    }

    /// The collateral for `req`, verified against `anchor`, from the cache or PCS per
    /// [`PcsConfig::mode`]; `at` judges expiry. Returns the cache directory too, when cached.
    pub fn collateral(
        &self,
        req: &CollateralRequest,
        anchor: &TrustAnchor,
        at: UnixTime,
    ) -> Result<(Collateral, Option<PathBuf>), PcsError> {
        let dir = self.cache_path(req);
        if self.config.mode != Mode::Refresh {
            if let Some(d) = &dir {
                match Self::read_cache(d)? {
                    Some(files) => match check(&files, req, anchor, at) {
                        Ok((c, false)) => return Ok((c, dir)),
                        Ok((_, true)) if self.config.mode == Mode::Offline => {
                            return Err(PcsError::Expired(d.clone()));
                        }
                        Err(source) if self.config.mode == Mode::Offline => {
                            return Err(PcsError::InvalidCache {
                                path: d.clone(),
                                source,
                            });
                        }
                        _ => {}
                    },
                    None if self.config.mode == Mode::Offline => {
                        return Err(PcsError::NotCached(d.clone()));
                    }
                    None => {}
                }
            } else if self.config.mode == Mode::Offline {
                return Err(PcsError::NotCached(PathBuf::new()));
            }
        }
        let files = self.fetch(req)?;
        let (c, _) = check(&files, req, anchor, at).map_err(PcsError::Invalid)?;
        if let Some(d) = &dir {
            for (name, bytes) in &files.0 {
                write_atomic(&d.join(name), bytes)?;
            }
        }
        Ok((c, dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("-----BEGIN%20CERTIFICATE-----%0AAB%2Bc%3D"),
            Some(b"-----BEGIN CERTIFICATE-----\nAB+c=".to_vec())
        );
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode(""), Some(Vec::new()));
    }
}
