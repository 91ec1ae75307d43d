//! DCAP quote verification: shomei against the raw aws-lc-rs ECDSA P-256 verifications it
//! cannot avoid, and against dcap-qvl (Phala-Network, 0.7), on the same quote, collateral and
//! time.
//!
//! Real vectors only (`dcap/dcap-qvl/`, read from `$SHOMEI_VECTORS` or
//! `<repo>/../shared/vectors`), each at its pinned time. Per vector:
//!
//! | id              | what is timed, per call                                                  |
//! |-----------------|--------------------------------------------------------------------------|
//! | `raw_aws_lc_3`  | the 3 P-256 verifications a quote needs (PCK cert, QE report, quote), keys pre-parsed |
//! | `shomei_cached` | `VerifiedCollateral::verify_quote` (collateral verified once, outside)   |
//! | `shomei_full`   | `shomei_dcap::verify` (collateral verified in every call)                 |
//! | `dcap_qvl`      | `dcap_qvl::verify::verify` (collateral verified in every call)            |
//!
//! A summary table follows, from the criterion medians of this run, with each verifier's
//! verdict (they must agree).
//!
//! `cargo bench --manifest-path bench-peers/Cargo.toml --bench dcap_verify`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ParsedPublicKey,
};
use criterion::Criterion;
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, PublicKey, parse_certificates};
use shomei_dcap::{Collateral, Quote, TrustAnchor, VerifiedCollateral, VerifyOptions};

const IDS: [&str; 4] = ["raw_aws_lc_3", "shomei_cached", "shomei_full", "dcap_qvl"];

struct Vector {
    name: &'static str,
    quote: Vec<u8>,
    json: Vec<u8>,
    at: u64,
}

struct Prepared {
    collateral: Collateral,
    verified: VerifiedCollateral,
    qvl: dcap_qvl::QuoteCollateralV3,
    ca_key: ParsedPublicKey,
    leaf_tbs: Vec<u8>,
    leaf_sig: Vec<u8>,
    pck_key: ParsedPublicKey,
    att_key: ParsedPublicKey,
    shomei_verdict: String,
    qvl_verdict: String,
}

fn vectors_dir() -> PathBuf {
    shomei_core::vectors::locate().unwrap_or_else(|e| {
        eprintln!("dcap_verify: {e}");
        std::process::exit(2);
    })
}

fn load(name: &'static str, collateral: &str, at: u64) -> Vector {
    let dir = vectors_dir().join("dcap/dcap-qvl");
    let read = |f: &str| {
        std::fs::read(dir.join(f)).unwrap_or_else(|e| {
            eprintln!("dcap_verify: cannot read {}: {e}", dir.join(f).display());
            std::process::exit(2);
        })
    };
    Vector {
        name,
        quote: read(name),
        json: read(collateral),
        at,
    }
}

fn p256(c: &Certificate) -> Vec<u8> {
    match c.public_key() {
        Ok(PublicKey::EcP256(p)) => p,
        _ => panic!("not a P-256 key"),
    }
}

fn prepare(v: &Vector) -> Prepared {
    let collateral = Collateral::from_dcap_qvl_json(&v.json).expect("collateral");
    let anchor = TrustAnchor::intel().expect("the Intel root");
    let verified = VerifiedCollateral::new(&collateral, anchor).expect("collateral verifies");
    let at = UnixTime(i64::try_from(v.at).expect("time"));
    let shomei_verdict = match verified.verify_quote(&v.quote, at) {
        Ok(q) => format!("{} {:?}", q.status(), q.advisory_ids()),
        Err(e) => format!("rejected: {}", e.rejection().map_or("error", |r| r.check())),
    };
    let qvl: dcap_qvl::QuoteCollateralV3 =
        serde_json::from_slice(&v.json).expect("dcap-qvl reads its collateral");
    let qvl_verdict = match dcap_qvl::verify::verify(&v.quote, &qvl, v.at) {
        Ok(r) => format!("{} {:?}", r.status, r.advisory_ids),
        Err(e) => format!("rejected: {e}"),
    };

    let q = Quote::parse(&v.quote).expect("quote");
    let chain = parse_certificates(q.certification_data().data).expect("PCK chain");
    let (leaf, ca) = (&chain[0], &chain[1]);
    let ca_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, p256(ca)).expect("key");
    let pck_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p256(leaf)).expect("key");
    let mut att = vec![4u8];
    att.extend_from_slice(q.attestation_key());
    let att_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, att).expect("key");
    let leaf_sig = leaf.decoded().signature.as_bytes().expect("sig").to_vec();
    Prepared {
        collateral,
        verified,
        qvl,
        ca_key,
        leaf_tbs: leaf.tbs_bytes().to_vec(),
        leaf_sig,
        pck_key,
        att_key,
        shomei_verdict,
        qvl_verdict,
    }
}

fn bench_vector(c: &mut Criterion, v: &Vector, p: &Prepared) {
    let mut g = c.benchmark_group(v.name);
    let q = Quote::parse(&v.quote).expect("quote");
    let at = UnixTime(i64::try_from(v.at).expect("time"));
    g.bench_function("raw_aws_lc_3", |b| {
        b.iter(|| {
            p.ca_key.verify_sig(black_box(&p.leaf_tbs), &p.leaf_sig).is_ok()
                && p
                    .pck_key
                    .verify_sig(black_box(q.qe_report_bytes()), q.qe_report_signature())
                    .is_ok()
                && p
                    .att_key
                    .verify_sig(black_box(q.signed_bytes()), q.signature())
                    .is_ok()
        })
    });
    g.bench_function("shomei_cached", |b| {
        b.iter(|| p.verified.verify_quote(black_box(&v.quote), at))
    });
    let opts = VerifyOptions::at(at);
    g.bench_function("shomei_full", |b| {
        b.iter(|| shomei_dcap::verify(black_box(&v.quote), &p.collateral, &opts))
    });
    g.bench_function("dcap_qvl", |b| {
        b.iter(|| dcap_qvl::verify::verify(black_box(&v.quote), &p.qvl, v.at))
    });
    g.finish();
}

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
    ns.map_or_else(|| "-".into(), |ns| format!("{:.1} µs", ns / 1e3))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn main() {
    let since = SystemTime::now();
    let vectors: Vec<(Vector, Prepared)> = [
        ("tdx_quote", "tdx_quote_collateral.json", 1_751_328_000),
        ("sgx_quote", "sgx_quote_collateral.json", 1_751_328_000),
    ]
    .into_iter()
    .map(|(n, c, at)| {
        let v = load(n, c, at);
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

    let dir = criterion_dir();
    println!();
    println!("## DCAP quote verification: summary (criterion medians from this run)");
    println!();
    println!(
        "| vector | raw aws-lc ×3 | shomei cached | shomei full | dcap-qvl | cached/raw (≤ 1.3) | \
         dcap-qvl/shomei full | dcap-qvl/shomei cached |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (v, _) in &vectors {
        let t: Vec<Option<f64>> = IDS.iter().map(|id| median_ns(&dir, v.name, id, since)).collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            v.name,
            fmt_time(t[0]),
            fmt_time(t[1]),
            fmt_time(t[2]),
            fmt_time(t[3]),
            ratio(t[1], t[0]),
            ratio(t[3], t[2]),
            ratio(t[3], t[1]),
        );
    }
    println!();
    for (v, p) in &vectors {
        println!(
            "- {}: shomei says {}; dcap-qvl says {}",
            v.name, p.shomei_verdict, p.qvl_verdict
        );
    }
    println!(
        "- both full verifications check the collateral in every call (9 ECDSA P-256 \
         verifications); shomei cached verifies it once and then 3 per quote."
    );
}
