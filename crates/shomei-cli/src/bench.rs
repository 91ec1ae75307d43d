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
    /// Family to measure (default: all but service and zk): snp, measure, dcap, sgx, tpm,
    /// service, zk.
    family: Option<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// zk: the SEV-SNP report to prove (default: the Milan v2 vector).
    #[arg(long, requires = "vcek")]
    report: Option<std::path::PathBuf>,
    /// zk: the VCEK that signed --report.
    #[arg(long, requires = "report")]
    vcek: Option<std::path::PathBuf>,
    /// zk: verifications timed for the median.
    #[arg(long, default_value_t = 20)]
    runs: usize,
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
        "zk" => return zk(&a),
        other => {
            bail!("unknown family {other:?} (known: snp, measure, dcap, sgx, tpm, service, zk)")
        }
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

/// The goals for the zero-knowledge proof of an SNP report.
const ZK_GOAL_PROVE_S: f64 = 120.0;
const ZK_GOAL_PROOF_BYTES: f64 = 10_240.0;
const ZK_GOAL_VERIFY_MS: f64 = 20.0;

#[derive(Serialize)]
struct ZkBench {
    report: String,
    k: u32,
    advice_cells: usize,
    srs_s: f64,
    proving_key_s: f64,
    witness_s: f64,
    prove_s: f64,
    prove_over_witness: f64,
    prove_over_goal: f64,
    proof_bytes: usize,
    proof_over_goal: f64,
    verify_runs: usize,
    verify_ms_median: f64,
    verify_over_goal: f64,
    native_verify_us: f64,
    verify_over_native: f64,
    peak_rss_bytes: Option<u64>,
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// A count as a float (exact below 2^32, which is all that is printed here).
fn lossy_f64(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `shomei bench zk`: the whole life of one proof for a real report — insecure local SRS,
/// proving key, witness, proof, size, verification (median of `--runs`), peak memory — against
/// the goals and two baselines measured in the same run: the witness generation alone
/// for proving (the circuit evaluated without commitments: what proving costs over merely
/// computing the statement), and one aws-lc-rs ECDSA P-384 verification of the same report for
/// verification (what trusting no verifier costs a relying party over checking the report).
fn zk(a: &BenchArgs) -> Result<Outcome> {
    use shomei_zk::prove::{K, ProvingKeys, Srs, generate_witness, verify};
    use shomei_zk::statement::{PublicInputs, ZkPolicy};

    let (report_path, vcek_path) = match (&a.report, &a.vcek) {
        (Some(r), Some(v)) => (r.clone(), v.clone()),
        _ => {
            let dir = shomei_core::vectors::locate()?.join("snp/milan-v2");
            (dir.join("report.bin"), dir.join("vcek.der"))
        }
    };
    let report = crate::input::report(&report_path)?;
    let parsed = Report::parse(&report).context("not an SEV-SNP report")?;
    let cert = shomei_core::x509::Certificate::from_der_or_pem(&crate::input::read(&vcek_path)?)
        .with_context(|| format!("{}", vcek_path.display()))?;
    let sec1 = match cert.public_key()? {
        PublicKey::EcP384(p) => p,
        _ => bail!("the VCEK has no P-384 key"),
    };
    let vek: [u8; 96] = sec1
        .get(1..)
        .and_then(|k| k.try_into().ok())
        .context("the VCEK key is not an uncompressed P-384 point")?;
    let field = |at: usize, len: usize| report.get(at..at + len).context("report too short");
    // A policy the report meets: its own measurement, TCB and VMPL, its REPORT_DATA as nonce.
    let vmpl = u8::try_from(parsed.vmpl()).context("VMPL above 3")?;
    let public = PublicInputs {
        vek,
        report_data: field(0x50, 64)?.try_into()?,
        reported_tcb: field(0x180, 8)?.try_into()?,
        policy: ZkPolicy {
            measurements: vec![field(0x90, 48)?.try_into()?],
            min_tcb: field(0x180, 8)?.try_into()?,
            vmpl,
        },
    };
    if let Err(v) = shomei_zk::prove::check_policy(&report, &public) {
        bail!("the report cannot be proven: {v}");
    }

    // Baseline for verification: one raw ECDSA P-384 verification of the same signed bytes.
    let raw = ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, sec1)
        .map_err(|_| anyhow::anyhow!("bad VCEK key"))?;
    let (sig, signed) = (parsed.signature_fixed(), parsed.signed_bytes());
    if raw.verify_sig(signed, &sig).is_err() {
        bail!("the report is not signed by this VCEK");
    }
    let n_native = 2000u32;
    let t = Instant::now();
    for _ in 0..n_native {
        if raw.verify_sig(signed, &sig).is_err() {
            bail!("native verification failed");
        }
    }
    let native_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n_native);

    eprintln!("zk: SRS (2^{K}, insecure local) …");
    let t = Instant::now();
    let srs = Srs::insecure_local(K, *b"shomei bench zk: insecure SRS!!!");
    let srs_s = t.elapsed().as_secs_f64();
    eprintln!("zk: proving key …");
    let t = Instant::now();
    let keys = ProvingKeys::generate(srs).context("key generation")?;
    let pk_s = t.elapsed().as_secs_f64();
    eprintln!("zk: witness …");
    let t = Instant::now();
    let cells = generate_witness(&report, &public).context("witness generation")?;
    let witness_s = t.elapsed().as_secs_f64();
    eprintln!("zk: proof …");
    let t = Instant::now();
    let proof = keys.prove(&report, &public).context("proving")?;
    let prove_s = t.elapsed().as_secs_f64();
    let vkeys = keys.verifying_keys();
    drop(keys);
    let mut times = Vec::with_capacity(a.runs.max(1));
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        verify(&vkeys, &proof, &public).context("the proof does not verify")?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let verify_ms = median(times);
    let proof_bytes = proof.len();
    let proof_len = lossy_f64(u64::try_from(proof_bytes).unwrap_or(u64::MAX));
    let r = ZkBench {
        report: report_path.display().to_string(),
        k: K,
        advice_cells: cells,
        srs_s,
        proving_key_s: pk_s,
        witness_s,
        prove_s,
        prove_over_witness: prove_s / witness_s,
        prove_over_goal: prove_s / ZK_GOAL_PROVE_S,
        proof_bytes,
        proof_over_goal: proof_len / ZK_GOAL_PROOF_BYTES,
        verify_runs: a.runs.max(1),
        verify_ms_median: verify_ms,
        verify_over_goal: verify_ms / ZK_GOAL_VERIFY_MS,
        native_verify_us: native_us,
        verify_over_native: verify_ms * 1e3 / native_us,
        peak_rss_bytes: peak_rss(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(Outcome::Ok);
    }
    let peak = r.peak_rss_bytes.map_or("?".to_owned(), |b| {
        format!("{:.2} GiB", lossy_f64(b >> 20) / 1024.0)
    });
    println!(
        "zk: {} (k = {}, {:.2} M advice cells, insecure local SRS)",
        r.report,
        r.k,
        lossy_f64(u64::try_from(r.advice_cells).unwrap_or(u64::MAX)) / 1e6
    );
    println!(
        "{:<20} {:>12} {:>10} {:>8}  baseline (same run)",
        "step", "measured", "goal", "x goal"
    );
    println!("{:<20} {:>10.1} s", "srs_generation", r.srs_s);
    println!("{:<20} {:>10.1} s", "proving_key", r.proving_key_s);
    println!(
        "{:<20} {:>10.1} s {:>8.0} s {:>8.2}  witness generation {:.1} s: {:.1}x",
        "prove", r.prove_s, ZK_GOAL_PROVE_S, r.prove_over_goal, r.witness_s, r.prove_over_witness
    );
    println!(
        "{:<20} {:>10} B {:>8.0} B {:>8.2}",
        "proof_size", r.proof_bytes, ZK_GOAL_PROOF_BYTES, r.proof_over_goal
    );
    println!(
        "{:<20} {:>9.2} ms {:>7.0} ms {:>8.2}  one aws-lc-rs ECDSA P-384 verify {:.0} us: {:.1}x",
        "verify",
        r.verify_ms_median,
        ZK_GOAL_VERIFY_MS,
        r.verify_over_goal,
        r.native_verify_us,
        r.verify_over_native
    );
    println!("{:<20} {:>12}", "peak_memory", peak);
    println!(
        "verify: median of {} runs with the keys in memory; prove includes the prover's own \
         verification of its proof; peak memory is the process's VmHWM (SRS, proving key, proof)",
        r.verify_runs
    );
    Ok(Outcome::Ok)
}
