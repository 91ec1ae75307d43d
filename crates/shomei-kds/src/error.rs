//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

use shomei_core::x509::Crl;
use shomei_core::{ParseError, UnixTime};
use shomei_snp::Product;

/// Everything that can go wrong while obtaining KDS collateral.
///
/// [`KdsError::is_unavailable`] separates "the collateral cannot be had right now" (network,
/// KDS, cache; retryable, a 5xx for a service) from "the input is wrong" (final, a 4xx).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KdsError {
    /// The KDS answered with a status other than 200 (after the retries, for 503).
    #[error("GET {url}: HTTP {status}")]
    Http { url: String, status: u16 },

    /// The KDS kept answering 429 Too Many Requests. `retry_after` is its last `Retry-After`
    /// (seconds form; uncapped), when it sent one.
    #[error(
        "GET {url}: the KDS is throttling requests (HTTP 429 on all {attempts} attempts){}",
        retry_hint(*retry_after)
    )]
    Throttled {
        url: String,
        retry_after: Option<Duration>,
        attempts: u32,
    },

    /// The request did not complete: DNS, connection, TLS, timeout, or an oversized body.
    #[error("GET {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },

    /// The KDS answered 200 with something that is not what was asked for (not a certificate,
    /// another chip's or TCB's VCEK, a chain or CRL that does not check out). Nothing was cached.
    #[error("GET {url}: invalid response: {detail}")]
    Invalid { url: String, detail: String },

    /// Reading or writing the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Offline mode, and the entry is not in the cache.
    #[error("{}: not in the cache, and offline mode does not contact the KDS", path.display())]
    NotCached { path: PathBuf },

    /// A cache entry exists but does not check out (offline mode; online modes re-download).
    #[error("{}: invalid cache entry: {detail}", path.display())]
    InvalidCache { path: PathBuf, detail: String },

    /// Offline mode, and the cached CRL's nextUpdate is not after `now`. The stale CRL is
    /// carried in `crl`, for a caller that chooses to use it anyway (verification will then
    /// reject it as stale, which is the honest answer).
    #[error(
        "{}: the cached CRL is stale at {now} (nextUpdate {}), and offline mode cannot refresh it",
        path.display(),
        next_update.map(|t| t.to_rfc3339()).unwrap_or_else(|| "absent".into())
    )]
    StaleCrl {
        path: PathBuf,
        now: UnixTime,
        next_update: Option<UnixTime>,
        crl: Box<Crl>,
    },

    /// The report bytes do not parse.
    #[error("report: {0}")]
    Report(#[from] ParseError),

    /// Neither the report (CPUID, v3+) nor the caller names the product.
    #[error(
        "the report does not name its product (CPUID fields exist from report v3 on): \
         give the product (milan, genoa or turin)"
    )]
    UnknownProduct,

    /// The caller's product disagrees with the report's CPUID.
    #[error("the report's CPUID says {report}, but the product given is {given}")]
    ProductMismatch { report: Product, given: Product },

    /// The report is signed by a VLEK, whose certificate AMD does not publish.
    #[error(
        "the report is signed by a VLEK, and VLEK certificates are not public on the KDS: \
         supply the VLEK from the extended report's certificate table (configfs-tsm auxblob, \
         /dev/sev-guest extended report) or from the cloud provider"
    )]
    VlekNotPublic,

    /// The report is not signed, so there is no key to fetch.
    #[error("the report is not signed ({why}): there is no VCEK to fetch")]
    Unsigned { why: &'static str },

    /// CHIP_ID is all zero (MASK_CHIP_ID), so the VCEK's KDS URL cannot be formed.
    #[error(
        "CHIP_ID is all zero (MASK_CHIP_ID is set): the VCEK cannot be looked up on the KDS; \
         supply it from the extended report's certificate table"
    )]
    ChipIdMasked,

    /// The configuration cannot work (e.g. offline mode without a cache directory).
    #[error("invalid KDS configuration: {0}")]
    Config(&'static str),
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; it asks to retry after {} s", d.as_secs()))
        .unwrap_or_default()
}

impl KdsError {
    /// Whether the collateral is unavailable for now (network, KDS, cache), as opposed to the
    /// request itself being wrong. A service answers the former with 503, the latter with 4xx.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Http { .. }
                | Self::Throttled { .. }
                | Self::Transport { .. }
                | Self::Invalid { .. }
                | Self::Io { .. }
                | Self::NotCached { .. }
                | Self::InvalidCache { .. }
                | Self::StaleCrl { .. }
                | Self::Config(_)
        )
    }
}
