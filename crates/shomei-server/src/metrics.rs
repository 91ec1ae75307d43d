//! Prometheus text-format metrics: counters by label set and one latency histogram, kept in
//! memory (per replica). Hand-written: a dozen lines of atomics and a mutex-guarded map do
//! what the `prometheus` crate would, without its dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    attest_buckets: [AtomicU64; BUCKETS.len()],
    attest_count: AtomicU64,
    attest_sum_us: AtomicU64,
}

impl Metrics {
    /// Adds one to the counter `name{labels}`; `labels` is already in `k="v",…` form.
    pub fn inc(&self, name: &'static str, labels: String) {
        if let Ok(mut m) = self.counters.lock() {
            *m.entry((name, labels)).or_insert(0) += 1;
        }
    }

    /// Records the duration of one attestation.
    pub fn observe_attest(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (b, bound) in self.attest_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.attest_count.fetch_add(1, Ordering::Relaxed);
        self.attest_sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let help = [
            (
                "shomei_http_requests_total",
                "HTTP requests by route and status",
            ),
            (
                "shomei_appraisals_total",
                "Evidence appraised, by family and status",
            ),
            (
                "shomei_releases_total",
                "Secret release decisions, by outcome",
            ),
            ("shomei_nonce_rejections_total", "Refused nonces, by reason"),
        ];
        let counters = self.counters.lock().map(|m| m.clone()).unwrap_or_default();
        for (name, text) in help {
            let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} counter");
            for ((n, labels), v) in &counters {
                if *n == name {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        }
        let name = "shomei_attest_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to appraise one attestation request\n# TYPE {name} histogram"
        );
        for (b, bound) in self.attest_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.attest_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        // Microseconds as an integer avoid a float conversion lint; print as seconds.
        let sum_us = self.attest_sum_us.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_sum {}.{:06}\n{name}_count {count}",
            sum_us / 1_000_000,
            sum_us % 1_000_000
        );
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.inc("shomei_releases_total", "outcome=\"released\"".into());
        m.inc("shomei_releases_total", "outcome=\"released\"".into());
        m.observe_attest(Duration::from_micros(1500));
        let t = m.render();
        assert!(
            t.contains("shomei_releases_total{outcome=\"released\"} 2"),
            "{t}"
        );
        assert!(t.contains("shomei_attest_duration_seconds_bucket{le=\"0.001\"} 0"));
        assert!(t.contains("shomei_attest_duration_seconds_bucket{le=\"0.002\"} 1"));
        assert!(t.contains("shomei_attest_duration_seconds_count 1"));
        assert!(t.contains("shomei_attest_duration_seconds_sum 0.001500"));
        assert_eq!(label("a\"b"), "a\\\"b");
    }
}
