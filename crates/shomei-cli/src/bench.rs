//! `shomei bench`: an `openssl speed` for attestation. Every figure is printed next to a
//! baseline measured in the same run (the raw crypto the operation cannot avoid), as a ratio.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_lc_rs::signature::{self, ParsedPublicKey};
use clap::Args;
use serde::Serialize;
use shomei_core::UnixTime;
use shomei_core::x509::{PublicKey, parse_certificates};
use shomei_snp::{Collateral, Report, VerifiedVek, VerifyOptions};

use crate::Outcome;

#[derive(Args)]
pub struct BenchArgs {
    /// Family to measure (default: all but service): snp, measure, dcap, sgx, tpm, service.
    family: Option<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize, Clone, Copy)]
pub struct Entry {
    pub us_per_op: f64,
    pub baseline_us: f64,
    pub ratio: f64,
}

/// Runs `a` and `b` in alternating batches until `total` has elapsed; returns µs/op of each.
pub(crate) fn interleaved(
    total: Duration,
    mut a: impl FnMut() -> bool,
    mut b: impl FnMut() -> bool,
) -> Result<(f64, f64)> {
    const BATCH: u32 = 200;
    let (mut ta, mut tb, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let start = Instant::now();
    while start.elapsed() < total || n == 0 {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            if !a() {
                bail!("baseline operation failed");
            }
        }
        ta += t0.elapsed();
        let t1 = Instant::now();
        for _ in 0..BATCH {
            if !b() {
                bail!("measured operation failed");
            }
        }
        tb += t1.elapsed();
        n = n.saturating_add(BATCH);
    }
    let per = |t: Duration| t.as_secs_f64() * 1e6 / f64::from(n);
    Ok((per(ta), per(tb)))
}

fn snp(seconds: f64) -> Result<Vec<(&'static str, Entry)>> {
    let dir = shomei_core::vectors::locate()?;
    let report = std::fs::read(dir.join("snp/milan-v2/report.bin")).context("milan-v2 report")?;
    let vcek = parse_certificates(&std::fs::read(dir.join("snp/milan-v2/vcek.der"))?)?;
    let at: UnixTime = UnixTime::from_secs(1_748_736_000); // 2025-06-01, inside the VCEK's validity
    let collateral = Collateral {
        certificates: vcek.clone(),
        crls: Vec::new(),
    };
    let opts = VerifyOptions::at(at);
    let parsed = Report::parse(&report)?;
    let hints = [(parsed.product_from_cpuid(), "the report CPUID")];
    let vek = VerifiedVek::new(parsed.signing_key(), &hints, &collateral, &opts)?;

    // Baseline: one raw ECDSA P-384 verification of the same bytes with a pre-parsed key.
    let point = match vcek.first().map(|c| c.public_key()) {
        Some(Ok(PublicKey::EcP384(p))) => p,
        _ => bail!("the VCEK has no P-384 key"),
    };
    let raw = ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
        .map_err(|_| anyhow::anyhow!("bad VCEK key"))?;
    let sig = parsed.signature_fixed();
    let signed = parsed.signed_bytes();

    let per = Duration::from_secs_f64(seconds.max(0.1));
    let (base, cached) = interleaved(
        per,
        || raw.verify_sig(signed, &sig).is_ok(),
        || vek.verify_report(&report, at).is_ok(),
    )?;
    let (base2, full) = interleaved(
        per,
        || raw.verify_sig(signed, &sig).is_ok(),
        || shomei_snp::verify(&report, &collateral, &opts).is_ok(),
    )?;
    Ok(vec![
        (
            "snp_verify",
            Entry {
                us_per_op: cached,
                baseline_us: base,
                ratio: cached / base,
            },
        ),
        (
            "snp_verify_full_chain",
            Entry {
                us_per_op: full,
                baseline_us: base2,
                ratio: full / base2,
            },
        ),
    ])
}

/// Whole-process launch digest of Debian's full OVMF image, against sev-snp-measure doing the
/// same in the same run (the digests must agree). `ratio` < 1 means faster than the peer.
fn snp_measure(seconds: f64) -> Result<Vec<(&'static str, Entry)>> {
    let ovmf = ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/ovmf/OVMF.fd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .context("Debian's OVMF image is not installed (apt-get install ovmf)")?;
    let args = [
        "--mode",
        "snp",
        "--vcpus",
        "4",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        ovmf,
    ];
    let me = std::env::current_exe().context("cannot find the shomei executable")?;
    let time_one = |peer: bool| -> Result<(Duration, String)> {
        let mut cmd = if peer {
            std::process::Command::new("sev-snp-measure")
        } else {
            let mut c = std::process::Command::new(&me);
            c.args(["snp", "measure"]);
            c
        };
        let t = Instant::now();
        let out = cmd.args(args).output().with_context(|| {
            if peer {
                "sev-snp-measure is not installed (pip install sev-snp-measure==0.0.13)"
            } else {
                "cannot run shomei snp measure"
            }
        })?;
        let elapsed = t.elapsed();
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                if peer {
                    "sev-snp-measure"
                } else {
                    "shomei snp measure"
                },
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let digest = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .to_owned();
        Ok((elapsed, digest))
    };
    let (_, ours) = time_one(false)?;
    let (_, theirs) = time_one(true)?;
    if ours != theirs {
        bail!("digests differ: shomei {ours}, sev-snp-measure {theirs}");
    }
    let (mut t_ours, mut t_peer, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let start = Instant::now();
    while n < 3 || start.elapsed().as_secs_f64() < seconds {
        t_ours += time_one(false)?.0;
        t_peer += time_one(true)?.0;
        n = n.saturating_add(1);
    }
    let per = |t: Duration| t.as_secs_f64() * 1e6 / f64::from(n);
    let (o, p) = (per(t_ours), per(t_peer));
    Ok(vec![(
        "snp_measure",
        Entry {
            us_per_op: o,
            baseline_us: p,
            ratio: o / p,
        },
    )])
}

pub fn run(a: BenchArgs) -> Result<Outcome> {
    let family = a.family.as_deref().unwrap_or("all");
    let mut results: Vec<(&'static str, Entry)> = Vec::new();
    match family {
        "all" => {
            results.extend(snp(a.seconds)?);
            results.extend(crate::dcap::bench(a.seconds)?);
            results.extend(crate::sgx::bench(a.seconds)?);
            results.extend(crate::tpm::bench(a.seconds)?);
        }
        "snp" => results.extend(snp(a.seconds)?),
        "dcap" => results.extend(crate::dcap::bench(a.seconds)?),
        "sgx" => results.extend(crate::sgx::bench(a.seconds)?),
        "tpm" => results.extend(crate::tpm::bench(a.seconds)?),
        "measure" => results.extend(snp_measure(a.seconds)?),
        "service" => return crate::bench_service::run(a.seconds, a.json),
        other => bail!("unknown family {other:?} (known: snp, measure, dcap, sgx, tpm, service)"),
    }
    if a.json {
        let map: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(k, e)| Ok(((*k).to_owned(), serde_json::to_value(e)?)))
            .collect::<Result<_>>()?;
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        println!(
            "{:<24} {:>10} {:>10} {:>14} {:>7}",
            "operation", "us/op", "ops/s", "baseline us/op", "ratio"
        );
        for (k, e) in &results {
            println!(
                "{:<24} {:>10.1} {:>10.0} {:>14.1} {:>7.3}",
                k,
                e.us_per_op,
                1e6 / e.us_per_op,
                e.baseline_us,
                e.ratio
            );
        }
        for (k, e) in &results {
            match *k {
                "snp_verify" | "snp_verify_full_chain" => println!(
                    "{k}: baseline is one aws-lc-rs ECDSA P-384 verification of the same 0x2A0 signed bytes"
                ),
                "dcap_verify" => println!(
                    "{k}: TDX v4 quote, collateral verified once; baseline is the 3 aws-lc-rs ECDSA P-256 verifications per quote (PCK certificate, QE report, quote)"
                ),
                "dcap_verify_full" => println!(
                    "{k}: TDX v4 quote and collateral from bytes; baseline is the 9 aws-lc-rs ECDSA P-256 verifications (+ Root CA CRL, TCB Signing cert, TCB Info, QE Identity, PCK CA cert, PCK CRL)"
                ),
                "sgx_la_handshake" => println!(
                    "{k}: LAv2 msg1/msg2/msg3 between two enclaves on one emulated CPU, policies and channels included; baseline is its crypto (2 P-256 key pairs, 2 ECDH, 22 AES-CMAC, 4 SHA-256, 2 AES-GCM keys)"
                ),
                "tpm_quote_verify" => println!(
                    "{k}: swtpm RSASSA quote (parse, signature, nonce, selection, digest); baseline is the one aws-lc-rs RSA-2048 PKCS#1 verification of the same bytes"
                ),
                "eventlog_replay" => println!(
                    "{k}: parse and replay of a 117-event, 3-bank real log; baseline is one SHA-256 pass over the log bytes"
                ),
                "eventlog_vs_tpm2_eventlog" | "quote_vs_tpm2_checkquote" => println!(
                    "{k}: whole process, same input, baseline is tpm2-tools: {:.1}x faster",
                    1.0 / e.ratio
                ),
                "snp_measure" => println!(
                    "{k}: whole process on Debian's OVMF_CODE_4M.fd, baseline is sev-snp-measure (same digest): {:.1}x faster",
                    1.0 / e.ratio
                ),
                _ => {}
            }
        }
    }
    Ok(Outcome::Ok)
}
