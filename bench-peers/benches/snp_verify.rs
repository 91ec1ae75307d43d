//! SEV-SNP report verification: shomei against a raw aws-lc-rs ECDSA P-384 verification of the
//! same bytes (the floor) and against virtee/sev (the `sev` crate, pure-Rust `crypto_nossl`).
//!
//! Real vectors only, read at run time from `$SHOMEI_VECTORS` or `<repo>/../shared/vectors`:
//! `snp/milan-v2` and `snp/turin-v5` (`report.bin` + `vcek.der`). Per vector:
//!
//! | id              | what is timed, per call                                                   |
//! |-----------------|---------------------------------------------------------------------------|
//! | `raw_aws_lc`    | one ECDSA P-384/SHA-384 verification of report[0..0x2A0], key pre-parsed   |
//! | `shomei_cached` | `VerifiedVek::verify_report` (chain verified once, outside the loop)      |
//! | `shomei_full`   | `shomei_snp::verify` (VCEK → pinned ASK signature, RSA-PSS, every call)   |
//! | `sev_vcek`      | sev: `AttestationReport::from_bytes` + `(&vcek, &report).verify()`        |
//! | `sev_chain`     | sev: `from_bytes` + `(&chain, &report).verify()` (ARK, ASK, VCEK, report) |
//!
//! After the criterion groups, a summary table is printed from the estimates criterion wrote
//! in this run (`<target>/criterion/<vector>/<id>/new/estimates.json`, median).
//!
//! `cargo bench --manifest-path bench-peers/Cargo.toml`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, ParsedPublicKey};
use criterion::Criterion;
use sev::certs::snp::{Certificate as SevCertificate, Chain as SevChain, Verifiable, builtin, ca};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, PublicKey};
use shomei_snp::{Collateral, Report, VerifiedVek, VerifyOptions};

/// 2027-01-15: inside both chains (the Turin v5 VCEK is valid from 2026-08-17).
const AT: UnixTime = UnixTime(1_800_000_000);

const IDS: [&str; 5] = [
    "raw_aws_lc",
    "shomei_cached",
    "shomei_full",
    "sev_vcek",
    "sev_chain",
];

#[derive(Clone, Copy)]
enum Family {
    Milan,
    Turin,
}

struct Vector {
    name: &'static str,
    family: Family,
    report: Vec<u8>,
    vcek: Vec<u8>,
}

fn vectors_dir() -> PathBuf {
    shomei_core::vectors::locate().unwrap_or_else(|e| {
        eprintln!("snp_verify: {e}");
        std::process::exit(2);
    })
}

fn load(name: &'static str, family: Family) -> Vector {
    let dir = vectors_dir().join("snp").join(name);
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).unwrap_or_else(|e| {
            eprintln!(
                "snp_verify: cannot read {} ({e}).\n\
                 The benchmarks need the real vectors: set SHOMEI_VECTORS to the shared vectors \
                 folder (the one holding snp/milan-v2 and snp/turin-v5), or put it at \
                 <repo>/../shared/vectors.",
                path.display()
            );
            std::process::exit(2);
        })
    };
    Vector {
        name,
        family,
        report: read("report.bin"),
        vcek: read("vcek.der"),
    }
}

/// Everything each variant needs, prepared (and checked to succeed) outside the timed loops.
struct Prepared {
    raw_key: ParsedPublicKey,
    raw_sig: [u8; 96],
    collateral: Collateral,
    vek: VerifiedVek,
    sev_vcek: SevCertificate,
    sev_chain: SevChain,
    /// Why sev could not verify this vector, when it could not (a finding, not timed).
    sev_vcek_error: Option<String>,
    sev_chain_error: Option<String>,
}

/// The signature as aws-lc-rs's fixed form wants it: r ‖ s, big-endian. The report stores R at
/// 0x2A0 and S at 0x2E8 as 72-byte little-endian fields; P-384 uses the low 48 bytes of each.
fn raw_signature(report: &[u8]) -> [u8; 96] {
    let mut sig = [0u8; 96];
    let (r, s) = sig.split_at_mut(48);
    r.copy_from_slice(&report[0x2A0..0x2A0 + 48]);
    s.copy_from_slice(&report[0x2E8..0x2E8 + 48]);
    r.reverse();
    s.reverse();
    sig
}

fn prepare(v: &Vector) -> Prepared {
    let cert = Certificate::from_der(&v.vcek).expect("the VCEK parses");
    let Ok(PublicKey::EcP384(point)) = cert.public_key() else {
        panic!("{}: the VCEK key is not P-384", v.name);
    };
    let raw_key = ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, &point).expect("P-384 point");
    let raw_sig = raw_signature(&v.report);
    raw_key
        .verify_sig(&v.report[..0x2A0], &raw_sig)
        .unwrap_or_else(|_| panic!("{}: raw aws-lc-rs verification fails", v.name));

    let collateral = Collateral::new().with_certificate(cert);
    let opts = VerifyOptions::at(AT);
    let report = Report::parse(&v.report).expect("the report parses");
    // The hints `shomei_snp::verify` builds.
    let hints = [
        (report.product_from_cpuid(), "the report CPUID"),
        (opts.product, "the caller"),
    ];
    let vek = VerifiedVek::new(report.signing_key(), &hints, &collateral, &opts)
        .unwrap_or_else(|e| panic!("{}: shomei chain: {e}", v.name));
    vek.verify_report(&v.report, AT)
        .unwrap_or_else(|e| panic!("{}: shomei cached verify: {e}", v.name));
    shomei_snp::verify(&v.report, &collateral, &opts)
        .unwrap_or_else(|e| panic!("{}: shomei full verify: {e}", v.name));

    let sev_vcek = SevCertificate::from_der(&v.vcek).expect("sev parses the VCEK");
    let (ark, ask) = match v.family {
        Family::Milan => (builtin::milan::ark(), builtin::milan::ask()),
        Family::Turin => (builtin::turin::ark(), builtin::turin::ask()),
    };
    let sev_chain = SevChain {
        ca: ca::Chain {
            ark: ark.expect("sev builtin ARK"),
            ask: ask.expect("sev builtin ASK"),
        },
        vek: sev_vcek.clone(),
    };
    let sev_vcek_error = sev_verify_vcek(&sev_vcek, &v.report)
        .err()
        .map(|e| e.to_string());
    let sev_chain_error = sev_verify_chain(&sev_chain, &v.report)
        .err()
        .map(|e| e.to_string());

    Prepared {
        raw_key,
        raw_sig,
        collateral,
        vek,
        sev_vcek,
        sev_chain,
        sev_vcek_error,
        sev_chain_error,
    }
}

fn sev_verify_vcek(vcek: &SevCertificate, bytes: &[u8]) -> std::io::Result<()> {
    let report = AttestationReport::from_bytes(bytes)?;
    (vcek, &report).verify()
}

fn sev_verify_chain(chain: &SevChain, bytes: &[u8]) -> std::io::Result<()> {
    let report = AttestationReport::from_bytes(bytes)?;
    (chain, &report).verify()
}

fn bench_vector(c: &mut Criterion, v: &Vector, p: &Prepared) {
    let mut g = c.benchmark_group(v.name);
    let signed = &v.report[..0x2A0];
    g.bench_function("raw_aws_lc", |b| {
        b.iter(|| {
            p.raw_key
                .verify_sig(black_box(signed), black_box(&p.raw_sig))
        })
    });
    g.bench_function("shomei_cached", |b| {
        b.iter(|| p.vek.verify_report(black_box(&v.report), AT))
    });
    let opts = VerifyOptions::at(AT);
    g.bench_function("shomei_full", |b| {
        b.iter(|| shomei_snp::verify(black_box(&v.report), &p.collateral, &opts))
    });
    if p.sev_vcek_error.is_none() {
        g.bench_function("sev_vcek", |b| {
            b.iter(|| sev_verify_vcek(&p.sev_vcek, black_box(&v.report)))
        });
    }
    if p.sev_chain_error.is_none() {
        g.bench_function("sev_chain", |b| {
            b.iter(|| sev_verify_chain(&p.sev_chain, black_box(&v.report)))
        });
    }
    g.finish();
}

/// Where criterion writes, found the way criterion finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(PathBuf::from(v.get("target_directory")?.as_str()?))
    });
    from_metadata
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// The median (ns) criterion estimated for `group/id`, if it was measured in this run.
fn median_ns(dir: &Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    v.get("median")?.get("point_estimate")?.as_f64()
}

fn fmt_time(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) => format!("{:.1} µs", ns / 1e3),
        None => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn summary(vectors: &[(Vector, Prepared)], since: SystemTime) {
    let dir = criterion_dir();
    println!();
    println!("## SNP report verification: summary (criterion medians from this run)");
    println!();
    println!(
        "| vector | raw aws-lc | shomei cached | shomei full | sev (VCEK) | sev (chain) | \
         cached/raw (≤ 1.15) | sev/cached | sev chain/full |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut missing = false;
    for (v, _) in vectors {
        let t: Vec<Option<f64>> = IDS
            .iter()
            .map(|id| median_ns(&dir, v.name, id, since))
            .collect();
        missing |= t.iter().any(Option::is_none);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.name,
            fmt_time(t[0]),
            fmt_time(t[1]),
            fmt_time(t[2]),
            fmt_time(t[3]),
            fmt_time(t[4]),
            ratio(t[1], t[0]),
            ratio(t[3], t[1]),
            ratio(t[4], t[2]),
        );
    }
    println!();
    for (v, p) in vectors {
        if let Some(e) = &p.sev_vcek_error {
            println!("- FINDING: sev cannot verify {} with its VCEK: {e}", v.name);
        }
        if let Some(e) = &p.sev_chain_error {
            println!(
                "- FINDING: sev cannot verify {} with its chain: {e}",
                v.name
            );
        }
    }
    println!(
        "- shomei full verifies one RSA-PSS signature per call (VCEK by the pinned ASK; ASK and \
         ARK are pinned by hash); sev chain verifies three (ARK self-signature, ARK → ASK, \
         ASK → VCEK) and checks no validity period, TCB or hwID."
    );
    println!(
        "- sev verifies the signature over its re-encoding of the parsed report, not over the \
         bytes received."
    );
    if missing {
        println!(
            "- '-': not measured in this run (filtered out, `--test` mode, or sev failed), or no \
             estimates under {}",
            dir.display()
        );
    }
}

fn main() {
    let since = SystemTime::now();
    let vectors: Vec<(Vector, Prepared)> =
        [("milan-v2", Family::Milan), ("turin-v5", Family::Turin)]
            .into_iter()
            .map(|(name, family)| {
                let v = load(name, family);
                let p = prepare(&v);
                (v, p)
            })
            .collect();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(1000))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    for (v, p) in &vectors {
        bench_vector(&mut c, v, p);
    }
    c.final_summary();
    summary(&vectors, since);
}
