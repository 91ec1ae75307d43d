//! Fetches and caches AMD Key Distribution Service (KDS) collateral — VCEKs, certificate chains
//! and CRLs — for `shomei-snp`, which stays pure: this crate is where SNP collateral meets the
//! network and the disk.
//!
//! ```text
//! report bytes ──VcekRequest::from_report──▶ (product, CHIP_ID, REPORTED_TCB)
//!              ──KdsClient::collateral_for_report──▶ Collateral ──shomei_snp::verify──▶ VerifiedReport
//! ```
//!
//! ```no_run
//! use shomei_core::UnixTime;
//! use shomei_kds::{KdsClient, KdsConfig, Mode};
//! use shomei_snp::{VerifyOptions, verify};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let report = std::fs::read("report.bin")?;
//! let client = KdsClient::new(
//!     KdsConfig::default()
//!         .with_cache_dir(KdsConfig::default_cache_dir())
//!         .with_mode(Mode::Online),
//! )?;
//! let now = UnixTime::now(); // the edge reads the clock; this crate never does
//! let collateral = client.collateral_for_report(&report, None, true, now)?;
//! let verified = verify(&report, &collateral, &VerifyOptions::at(now))?;
//! # let _ = verified;
//! # Ok(())
//! # }
//! ```
//!
//! # What is checked before anything is cached
//!
//! Nothing the KDS sends is cached unless it is what was asked for (otherwise
//! [`KdsError::Invalid`], and the cache is untouched):
//!
//! - a VCEK parses as a certificate with `CN=SEV-VCEK`, its productName (when present) is the
//!   product, its SPLs equal the requested TCB (FMC included on Turin), its hwID is the chip's,
//!   and it is signed by the product's ASK when [`KdsConfig::anchors`] has the product;
//! - a chain is two certificates, `SEV-{P}` (or `SEV-VLEK-{P}`) then `ARK-{P}`, the ARK
//!   self-signed and signing the intermediate, and equal to the pinned ARK;
//! - a CRL parses and is issued and signed by the product's ARK.
//!
//! Cached entries are checked the same way when read: online, a bad entry is downloaded again;
//! offline it is [`KdsError::InvalidCache`].
//!
//! # Modes
//!
//! [`Mode::Online`] (cache, then KDS), [`Mode::Offline`] (cache only: a missing entry is
//! [`KdsError::NotCached`], a stale CRL [`KdsError::StaleCrl`], which carries it) and
//! [`Mode::Refresh`] (KDS, then update the cache).
//!
//! # Throttling
//!
//! KDS answers 429 when asked too often (about one VCEK per 10 s per address). A 429 or 503 is
//! retried up to [`KdsConfig::max_retries`] times after its `Retry-After` (delay-seconds form),
//! capped by [`KdsConfig::retry_after_cap`], which is also the wait when a 429 gives no
//! advice; then a 429 is [`KdsError::Throttled`]. Failed connections are retried with backoff.
//!
//! # TLS
//!
//! `ureq` 3 (blocking) over rustls with the aws-lc-rs provider (never ring) and Mozilla's roots
//! from `webpki-roots`. Plain `http://` base URLs work too (mirrors, tests). The
//! `HTTP(S)_PROXY`/`NO_PROXY` environment variables are honoured.
//!
//! # Cache layout
//!
//! Under the cache root ([`KdsConfig::cache_dir`]; [`KdsConfig::default_cache_dir`] is
//! `$XDG_CACHE_HOME/shomei/kds` or `~/.cache/shomei/kds`), `{product}` being `milan`, `genoa`,
//! `turin` or `venice`:
//!
//! ```text
//! {product}/vcek/{hwid}/[fmc{FF}_]bl{BB}_tee{TT}_snp{SS}_ucode{UU}.der   VCEK, DER; never expires
//! {product}/vcek/cert_chain.pem                                      ASK then ARK, PEM
//! {product}/vlek/cert_chain.pem                                      ASVK then ARK, PEM
//! {product}/vcek/crl.der                                             CRL, DER; until nextUpdate
//! {product}/vlek/crl.der                                             CRL, DER; until nextUpdate
//! ```
//!
//! `{hwid}` is the lower-case hex of CHIP_ID (128 digits) or of its first 8 bytes on Turin and
//! later (16 digits); the SPLs are decimal, at least two digits (`ucode115`), FMC only on Turin
//! and later — the key is [`shomei_snp::kds::vcek_cache_path`]. Entries hold the bytes exactly
//! as the KDS sent them, so a cache directory can be copied to an air-gapped verifier and used
//! with [`Mode::Offline`], or filled by hand. Writes are atomic: a temporary
//! `.{name}.tmp-{pid}-{n}` in the same directory, synced, then renamed over the entry.

#![forbid(unsafe_code, unused_must_use)]

mod cache;
mod client;
mod config;
mod error;
mod http;

pub use client::{KdsClient, VcekRequest};
pub use config::{KdsConfig, Mode};
pub use error::KdsError;
