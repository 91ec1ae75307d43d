//! `shomei bench service`: the service's attestations per second and latency on loopback, with
//! SQLite and with PostgreSQL, against the crypto an attestation cannot avoid, measured in the
//! same run.
//!
//! Method. The service runs in this process (its own runtime); the load comes from client
//! threads in the same process over real HTTP/1.1 keep-alive connections, so client and server
//! share the machine's cores (the figures are conservative). Each round trip is a challenge
//! (`POST /v1/challenge`) and an attestation (`POST /v1/attest`: nonce consumed, SEV-SNP report
//! verified with its VCEK chain, policy and Rego-free appraisal, EAR signed, audit row
//! committed). The emulated guest's report signing is client work, done between the two phases
//! and not timed. Max load: closed loop, `CLIENTS` threads. Half load: open loop at half the
//! measured maximum, latency measured from each request's scheduled start (no coordinated
//! omission).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, ParsedPublicKey};
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::{Value, json};
use shomei_snp_emu::{Guest, ReportRequest};

use crate::{Outcome, emusnp};

const CLIENTS: usize = 16;
const TOKEN: &str = "bench-admin";

#[derive(Serialize)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Serialize)]
struct BackendReport {
    store: String,
    challenges_per_s: f64,
    attestations_per_s: f64,
    round_trips_per_s: f64,
    max_load_attest: Latency,
    half_load_rate_per_s: f64,
    half_load_attest: Latency,
    half_load_round_trip: Latency,
    crypto_bound_us: f64,
    us_per_attestation_per_core: f64,
    /// CPU time of the service's own threads (tokio workers, SQLite writer) per attestation
    /// at max load; PostgreSQL's server processes are not counted.
    service_cpu_us_per_attestation: f64,
    service_cpu_ratio_to_crypto_bound: f64,
    ratio_to_crypto_bound: f64,
}

/// `n` as f64 (counts here are far below 2^52).
#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn f(n: usize) -> f64 {
    n as f64
}

/// A non-negative f64 rounded to usize (sizes and ranks here are small).
#[allow(
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn u(x: f64) -> usize {
    x.max(0.0).round() as usize
}

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let last = v.len().saturating_sub(1);
    // Nearest rank; the index is within 0..=last by construction.
    let rank = u(p * f(last));
    v.get(rank.min(last)).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn post(a: &ureq::Agent, url: &str, body: &str) -> Result<(u16, String)> {
    let mut r = a
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| anyhow::anyhow!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| anyhow::anyhow!("POST {url}: reading the answer: {e}"))?;
    Ok((status, text))
}

/// Issues `n` challenges from `CLIENTS` threads; returns the nonces, the rate and latencies.
fn challenges(url: &str, n: usize) -> Result<(Vec<Vec<u8>>, f64, Vec<Duration>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut hs = Vec::new();
        for _ in 0..CLIENTS {
            let (next, out) = (Arc::clone(&next), Arc::clone(&out));
            hs.push(s.spawn(move || -> Result<()> {
                let a = agent();
                let u = format!("{url}/v1/challenge");
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let t = Instant::now();
                    let (code, body) = post(&a, &u, "{}")?;
                    let d = t.elapsed();
                    if code != 200 {
                        bail!("challenge: HTTP {code}: {body}");
                    }
                    let v: Value = serde_json::from_str(&body)?;
                    let nonce = Base64UrlUnpadded::decode_vec(
                        v.get("nonce").and_then(Value::as_str).unwrap_or(""),
                    )
                    .map_err(|_| anyhow::anyhow!("bad nonce"))?;
                    if let Ok(mut o) = out.lock() {
                        o.0.push(nonce);
                        o.1.push(d);
                    }
                }
                Ok(())
            }));
        }
        for h in hs {
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        }
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let (nonces, lat) = std::mem::take(&mut *out.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    let rate = f(nonces.len()) / secs;
    Ok((nonces, rate, lat))
}

/// Attestation bodies for the nonces (client work: the emulated AMD-SP signs each report).
fn bodies(guest: &Guest, vcek_pem: &str, point: &[u8], nonces: &[Vec<u8>]) -> Result<Vec<String>> {
    let jwk = shomei_verifier::jwe::EcJwk::from_point(point)?;
    nonces
        .iter()
        .map(|n| {
            let rd = shomei_verifier::appraise::report_data(n, point);
            let report = guest.report(&ReportRequest::new(rd))?;
            Ok(json!({
                "nonce": Base64UrlUnpadded::encode_string(n),
                "tee_pubkey": jwk,
                "evidence": [{"family": "snp", "report": Base64::encode_string(&report), "certs": vcek_pem}],
            })
            .to_string())
        })
        .collect()
}

/// Sends the bodies; `interval` = None: closed loop; Some(i): open loop, one request every `i`
/// (latency from the scheduled start). Returns the rate and the latencies.
fn attest(
    url: &str,
    bodies: Vec<String>,
    interval: Option<Duration>,
) -> Result<(f64, Vec<Duration>)> {
    let n = bodies.len();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut hs = Vec::new();
        for _ in 0..CLIENTS {
            let (bodies, next, lat) = (Arc::clone(&bodies), Arc::clone(&next), Arc::clone(&lat));
            hs.push(s.spawn(move || -> Result<()> {
                let a = agent();
                let u = format!("{url}/v1/attest");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let scheduled = match interval {
                        Some(iv) => {
                            let at =
                                start + iv.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
                            if let Some(w) = at.checked_duration_since(Instant::now()) {
                                std::thread::sleep(w);
                            }
                            at
                        }
                        None => Instant::now(),
                    };
                    let (code, text) = post(&a, &u, body)?;
                    let d = scheduled.elapsed();
                    if code != 200 {
                        bail!("attest: HTTP {code}: {text}");
                    }
                    if let Ok(mut l) = lat.lock() {
                        l.push(d);
                    }
                }
                Ok(())
            }));
        }
        for h in hs {
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        }
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let lat = std::mem::take(&mut *lat.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    Ok((f(n) / secs, lat))
}

/// CPU seconds (user + system) used so far by this process's service threads: the tokio
/// workers and the SQLite writer (from /proc/self/task/*/stat; 0 where /proc is missing).
fn service_cpu_secs() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid … utime(14) stime(15): comm may contain spaces, so split
        // after its closing parenthesis.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat.get(open + 1..close).unwrap_or("");
        if !(comm.starts_with("tokio-rt-worker") || comm.starts_with("sqlx-sqlite")) {
            continue;
        }
        let fields: Vec<&str> = stat.get(close + 2..).unwrap_or("").split(' ').collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks = ticks.saturating_add(num(11)).saturating_add(num(12));
    }
    // USER_HZ is 100 on Linux.
    f(usize::try_from(ticks).unwrap_or(usize::MAX)) / 100.0
}

/// µs of the crypto one attestation cannot avoid: the report's ECDSA P-384 verification, the
/// VCEK certificate's RSA-PSS verification by the ASK, and the EAR's ES256 signature.
fn crypto_bound(guest: &Guest, seconds: f64) -> Result<f64> {
    let report = guest.report(&ReportRequest::new([1; 64]))?;
    let parsed = shomei_snp::Report::parse(&report)?;
    let vcek = guest.chip().vcek()?.certificate;
    let point = match vcek.public_key() {
        Ok(shomei_core::x509::PublicKey::EcP384(p)) => p,
        _ => bail!("the VCEK has no P-384 key"),
    };
    let vkey = ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
        .map_err(|_| anyhow::anyhow!("bad VCEK key"))?;
    let ask = guest.chip().root().ask.public_key()?;
    let signed = parsed.signed_bytes();
    let sig = parsed.signature_fixed();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("keygen"))?;
    let ear_key =
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("key"))?;
    let _ = ear_key.public_key();
    let payload = vec![0x61u8; 1500];
    let mut ops = 0u32;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds || ops == 0 {
        vkey.verify_sig(signed, &sig)
            .map_err(|_| anyhow::anyhow!("report signature"))?;
        vcek.verify_signed_by(&ask)?;
        ear_key
            .sign(&rng, &payload)
            .map_err(|_| anyhow::anyhow!("sign"))?;
        ops = ops.saturating_add(1);
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(ops))
}

fn backend(name: &str, store: &str, seconds: f64) -> Result<BackendReport> {
    let mut kek = [0u8; 32];
    SystemRandom::new()
        .fill(&mut kek)
        .map_err(|_| anyhow::anyhow!("rng"))?;
    let mut config = shomei_server::Config::new(store, hex::encode(kek));
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.tokens.push(shomei_server::config::TokenConfig {
        name: "bench".into(),
        sha256: None,
        token: Some(TOKEN.into()),
        scopes: shomei_server::config::SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    });
    let server = shomei_server::spawn(config)?;
    let url = server.url();
    let dir = std::env::temp_dir().join(format!("shomei-bench-{}-{name}", std::process::id()));
    let root = emusnp::root_in(&dir)?;
    let _ = std::fs::remove_dir_all(&dir);
    let firmware = shomei_cvm::emu::synthetic_firmware("bench");
    let guest = emusnp::launch_guest(&root, &firmware, emusnp::POLICY)?;
    let client = shomei_attester::client::Client::new(&url);
    client.admin(
        "PUT",
        "/v1/admin/anchors/emu",
        TOKEN,
        Some(&json!({"family": "snp", "pem": emusnp::trust_pem(&root)?})),
    )?;
    client.admin(
        "PUT",
        "/v1/admin/reference-values/img",
        TOKEN,
        Some(&json!({"family": "snp", "name": "measurement", "value": hex::encode(guest.measurement)})),
    )?;
    let vcek_pem =
        shomei_core::x509::pem_encode("CERTIFICATE", guest.chip().vcek()?.certificate.der())?;
    let key = shomei_attester::client::SessionKey::generate()?;

    // Calibrate: a short run sizes the batches to about `seconds` each.
    let (n0, _, _) = challenges(&url, 200)?;
    let (r0, _) = attest(&url, bodies(&guest, &vcek_pem, key.point(), &n0)?, None)?;
    let n = u(r0 * seconds).clamp(200, 200_000);

    let (nonces, ch_rate, mut ch_lat) = challenges(&url, n)?;
    let b = bodies(&guest, &vcek_pem, key.point(), &nonces)?;
    let cpu0 = service_cpu_secs();
    let (at_rate, mut at_lat) = attest(&url, b, None)?;
    let service_us = (service_cpu_secs() - cpu0) * 1e6 / f(n);

    let half = at_rate / 2.0;
    let m = u(half * seconds).clamp(100, 100_000);
    let (nonces, _, _) = challenges(&url, m)?;
    let b = bodies(&guest, &vcek_pem, key.point(), &nonces)?;
    let (_, mut half_lat) = attest(&url, b, Some(Duration::from_secs_f64(1.0 / half)))?;
    // Round trip at half load: the challenge's latency at low load plus the attestation's.
    let (_, _, mut ch_low) = challenges(&url, 200)?;
    let ch_p50 = percentile(&mut ch_low, 0.5);
    let ch_p99 = percentile(&mut ch_low, 0.99);
    let bound = crypto_bound(&guest, seconds.min(2.0))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let round_trips = 1.0 / (1.0 / ch_rate + 1.0 / at_rate);
    let per_core_us = 1e6 * f(cores) / at_rate;
    let _ = percentile(&mut ch_lat, 0.5);
    drop(server);
    Ok(BackendReport {
        store: name.to_owned(),
        challenges_per_s: ch_rate,
        attestations_per_s: at_rate,
        round_trips_per_s: round_trips,
        max_load_attest: Latency {
            p50_ms: percentile(&mut at_lat, 0.5),
            p99_ms: percentile(&mut at_lat, 0.99),
        },
        half_load_rate_per_s: half,
        half_load_attest: Latency {
            p50_ms: percentile(&mut half_lat, 0.5),
            p99_ms: percentile(&mut half_lat, 0.99),
        },
        half_load_round_trip: Latency {
            p50_ms: percentile(&mut half_lat, 0.5) + ch_p50,
            p99_ms: percentile(&mut half_lat, 0.99) + ch_p99,
        },
        crypto_bound_us: bound,
        us_per_attestation_per_core: per_core_us,
        ratio_to_crypto_bound: per_core_us / bound,
        service_cpu_us_per_attestation: service_us,
        service_cpu_ratio_to_crypto_bound: service_us / bound,
    })
}

pub fn run(seconds: f64, json_out: bool) -> Result<Outcome> {
    let mut reports = Vec::new();
    let dir = std::env::temp_dir().join(format!("shomei-bench-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    let r = backend("sqlite", &sqlite, seconds);
    let _ = std::fs::remove_dir_all(&dir);
    reports.push(r?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match rt.block_on(shomei_store::testing::TempPostgres::start()) {
        Ok(pg) => reports.push(backend("postgresql", pg.url(), seconds)?),
        Err(e) => eprintln!("postgresql: skipped ({e})"),
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(Outcome::Ok);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "service on loopback, {cores} cores shared by server and {CLIENTS} client threads; one attestation = challenge + attest"
    );
    println!(
        "{:<11} {:>9} {:>9} {:>11} {:>17} {:>9} {:>19} {:>19} {:>9} {:>9}",
        "store",
        "chall/s",
        "attest/s",
        "round/s",
        "max p50/p99 ms",
        "half/s",
        "half attest p50/p99",
        "half round p50/p99",
        "xcrypto",
        "svc-cpu"
    );
    for r in &reports {
        println!(
            "{:<11} {:>9.0} {:>9.0} {:>11.0} {:>8.2}/{:<8.2} {:>9.0} {:>9.2}/{:<9.2} {:>9.2}/{:<9.2} {:>9.1} {:>9.1}",
            r.store,
            r.challenges_per_s,
            r.attestations_per_s,
            r.round_trips_per_s,
            r.max_load_attest.p50_ms,
            r.max_load_attest.p99_ms,
            r.half_load_rate_per_s,
            r.half_load_attest.p50_ms,
            r.half_load_attest.p99_ms,
            r.half_load_round_trip.p50_ms,
            r.half_load_round_trip.p99_ms,
            r.ratio_to_crypto_bound,
            r.service_cpu_ratio_to_crypto_bound
        );
    }
    if let Some(r) = reports.first() {
        println!(
            "crypto bound: {:.0} us per attestation (ECDSA P-384 report verify + RSA-PSS VCEK verify + ES256 EAR sign, aws-lc-rs, same run); xcrypto = all CPU-µs per attestation (cores × wall time, client included) / bound; svc-cpu = the service threads' own CPU-µs per attestation / bound",
            r.crypto_bound_us
        );
    }
    Ok(Outcome::Ok)
}
