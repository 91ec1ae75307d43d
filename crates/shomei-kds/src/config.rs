//! How a [`crate::KdsClient`] talks to the KDS and uses its cache.

use std::path::PathBuf;
use std::time::Duration;

use shomei_snp::TrustAnchors;

/// Where collateral may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The cache first, then the KDS; what is downloaded is validated and cached. Without a
    /// cache directory every call goes to the KDS.
    #[default]
    Online,
    /// The cache only: the KDS is never contacted, and a missing entry is
    /// [`crate::KdsError::NotCached`]. Requires a cache directory.
    Offline,
    /// The KDS first, ignoring what is cached, then the cache is updated (a `--refresh`).
    Refresh,
}

/// Configuration of a [`crate::KdsClient`]. Build it with [`KdsConfig::default`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KdsConfig {
    /// The KDS base URL, `https://` or `http://` (default [`shomei_snp::kds::KDS_BASE`]).
    pub base_url: String,
    /// The cache root (layout in the crate documentation). `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    pub mode: Mode,
    /// Limit for one HTTP request, from connecting to the last body byte (default 30 s).
    pub timeout: Duration,
    /// Retries after a 429, a 503 or a failed connection (default 3, so at most 4 requests).
    pub max_retries: u32,
    /// The longest wait between two attempts, whatever `Retry-After` asks for; also the wait
    /// after a 429 without `Retry-After` (default 10 s: KDS allows about one VCEK per 10 s).
    pub retry_after_cap: Duration,
    /// Roots that downloaded collateral is checked against before it is cached: a VCEK must be
    /// signed by the product's ASK, a chain must end in the product's ARK, a CRL must be signed
    /// by it. Products without a root here are checked structurally only. Default: AMD's
    /// pinned roots ([`TrustAnchors::amd`]).
    pub anchors: TrustAnchors,
}

impl Default for KdsConfig {
    fn default() -> Self {
        Self {
            base_url: shomei_snp::kds::KDS_BASE.to_owned(),
            cache_dir: None,
            mode: Mode::Online,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_after_cap: Duration::from_secs(10),
            anchors: TrustAnchors::amd().clone(),
        }
    }
}

impl KdsConfig {
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    pub fn with_anchors(mut self, anchors: TrustAnchors) -> Self {
        self.anchors = anchors;
        self
    }

    /// The conventional per-user cache root: `$XDG_CACHE_HOME/shomei/kds`, else
    /// `$HOME/.cache/shomei/kds`; `None` when neither variable is set. Not used unless the caller
    /// passes it to [`KdsConfig::with_cache_dir`].
    pub fn default_cache_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(base.join("shomei").join("kds"))
    }
}
