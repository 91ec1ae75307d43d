//! The blocking HTTP client: ureq 3 over rustls with the aws-lc-rs provider and Mozilla's roots
//! (`webpki-roots`), with KDS throttling handled (429 + `Retry-After`, bounded retries).

use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;
use ureq::http::HeaderMap;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use crate::config::KdsConfig;
use crate::error::KdsError;

/// The largest body accepted. A VCEK is about 1.4 KiB, a chain about 4 KiB, AMD's CRLs a few
/// KiB; anything near this is not KDS collateral.
pub(crate) const MAX_BODY: u64 = 1 << 20;

/// The first backoff after a failed connection (doubled per attempt, capped).
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: Agent,
    max_retries: u32,
    cap: Duration,
}

/// What one attempt tells the retry loop.
enum Attempt {
    Done(Vec<u8>),
    Retry { wait: Duration, err: KdsError },
    Fail(KdsError),
}

impl Http {
    pub(crate) fn new(config: &KdsConfig) -> Self {
        let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(crypto)
            .root_certs(RootCerts::WebPki)
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            // Statuses are answers here (404, 429, 503), not transport errors.
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("shomei-kds/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            agent,
            max_retries: config.max_retries,
            cap: config.retry_after_cap,
        }
    }

    /// `GET url`, returning the body of a 200. Retries a 429 or 503 (waiting `Retry-After`,
    /// capped) and a failed connection (exponential backoff, capped), at most `max_retries`
    /// times; then a 429 is [`KdsError::Throttled`], anything else its own error.
    pub(crate) fn get(&self, url: &str) -> Result<Vec<u8>, KdsError> {
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            match self.attempt(url, attempts) {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry { wait, err } => {
                    if attempts > self.max_retries {
                        return Err(err);
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn attempt(&self, url: &str, attempts: u32) -> Attempt {
        let mut resp = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(e) => {
                let transient = is_transient(&e);
                let err = KdsError::Transport {
                    url: url.to_owned(),
                    source: Box::new(e),
                };
                return if transient {
                    Attempt::Retry {
                        wait: self.backoff(attempts),
                        err,
                    }
                } else {
                    Attempt::Fail(err)
                };
            }
        };
        let status = resp.status().as_u16();
        if status == 200 {
            return match resp.body_mut().with_config().limit(MAX_BODY).read_to_vec() {
                Ok(body) => Attempt::Done(body),
                Err(e) => Attempt::Fail(KdsError::Transport {
                    url: url.to_owned(),
                    source: Box::new(e),
                }),
            };
        }
        let retry_after = retry_after(resp.headers());
        match status {
            429 => Attempt::Retry {
                // KDS allows about one request per 10 s: without advice, wait the cap.
                wait: retry_after.unwrap_or(self.cap).min(self.cap),
                err: KdsError::Throttled {
                    url: url.to_owned(),
                    retry_after,
                    attempts,
                },
            },
            503 => Attempt::Retry {
                wait: retry_after
                    .unwrap_or_else(|| self.backoff(attempts))
                    .min(self.cap),
                err: KdsError::Http {
                    url: url.to_owned(),
                    status,
                },
            },
            _ => Attempt::Fail(KdsError::Http {
                url: url.to_owned(),
                status,
            }),
        }
    }

    /// 1 s, 2 s, 4 s, … for attempt 1, 2, 3, …, never above the cap.
    fn backoff(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(16);
        FIRST_BACKOFF.saturating_mul(1u32 << shift).min(self.cap)
    }
}

/// Failures worth another attempt: timeouts and dropped or refused connections. TLS failures
/// (which rustls reports as `InvalidData`), DNS failures and protocol errors are final.
fn is_transient(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::Interrupted
        ),
        _ => false,
    }
}

/// `Retry-After` in its delay-seconds form. The HTTP-date form would need the clock, so it is
/// treated as absent (the caller then waits the cap).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_ignores_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn tls_and_dns_failures_are_final_dropped_connections_are_not() {
        use std::io::{Error, ErrorKind};
        assert!(is_transient(&ureq::Error::ConnectionFailed));
        assert!(is_transient(&ureq::Error::Io(Error::from(
            ErrorKind::ConnectionReset
        ))));
        assert!(!is_transient(&ureq::Error::Io(Error::from(
            ErrorKind::InvalidData
        ))));
        assert!(!is_transient(&ureq::Error::HostNotFound));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let http = Http::new(&KdsConfig::default().with_retry_after_cap(Duration::from_secs(5)));
        assert_eq!(http.backoff(1), Duration::from_secs(1));
        assert_eq!(http.backoff(2), Duration::from_secs(2));
        assert_eq!(http.backoff(3), Duration::from_secs(4));
        assert_eq!(http.backoff(4), Duration::from_secs(5));
        assert_eq!(http.backoff(u32::MAX), Duration::from_secs(5));
    }
}
