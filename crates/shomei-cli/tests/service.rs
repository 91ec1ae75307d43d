//! `shomei serve`, `shomei attest` and `shomei demo` as separate processes: the round trip
//! across two processes, two replicas sharing one PostgreSQL database (a nonce is accepted
//! once across them), and a SIGKILL during load that loses nothing committed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use shomei_snp::{Product, Tcb};
use shomei_snp_emu::{EmulatedChip, Guest, KeySizeOpt, ReportRequest, RootOptions, TestRoot};
use shomei_verifier::jwe::EcJwk;

const BIN: &str = env!("CARGO_BIN_EXE_shomei");
const TOKEN: &str = "test-admin-token";
const KEK: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shomei-svc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `shomei serve` child process; killed (SIGKILL) on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, name: &str, store: &str) -> Serve {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nstore = \"{store}\"\nkek = \"{KEK}\"\npolicy_refresh_ms = 0\n\
             [[tokens]]\nname = \"ops\"\ntoken = \"{TOKEN}\"\n\
             scopes = [\"admin:read\", \"admin:write\", \"secrets:write\", \"audit:read\"]\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Serve { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn call(url: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let a = agent();
    let u = format!("{url}{path}");
    let auth = format!("Bearer {TOKEN}");
    let r = match (method, body) {
        ("GET", _) => a.get(&u).header("authorization", &auth).call(),
        ("PUT", Some(b)) => a.put(&u).header("authorization", &auth).send_json(b),
        (_, Some(b)) => a.post(&u).header("authorization", &auth).send_json(b),
        _ => a
            .post(&u)
            .header("authorization", &auth)
            .send_json(json!({})),
    };
    match r {
        Ok(mut r) => {
            let s = r.status().as_u16();
            let t = r.body_mut().read_to_string().unwrap_or_default();
            (s, serde_json::from_str(&t).unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

#[test]
fn the_demo_runs_to_the_end() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("result: affirming"), "{stdout}");
    assert!(stdout.contains("correct horse battery staple"), "{stdout}");
    for check in [
        "nonce_replayed",
        "measurement",
        "debug",
        "nonce_binding",
        "unauthenticated",
    ] {
        assert!(stdout.contains(check), "{check}: {stdout}");
    }
    assert!(
        stdout.contains("All steps ended as they should"),
        "{stdout}"
    );
}

#[test]
fn serve_and_attest_are_two_processes() {
    let dir = tempdir("two");
    let s = serve(
        &dir,
        "a",
        &format!("sqlite://{}", dir.join("db.sqlite").display()),
    );
    let emu = dir.join("emu");
    let attest = |extra: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["attest", "--url", &s.url, "--emu-dir"])
            .arg(&emu)
            .args(extra);
        if !extra.contains(&"--tee") {
            c.args(["--tee", "emulated-snp"]);
        }
        c.output().unwrap()
    };
    // Before the operator trusts the emulated root, the service refuses it (exit 1).
    let o = attest(&[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.starts_with("rejected: "), "{stderr}");
    // The attester wrote its root's certificates; the operator registers them and a secret.
    let pem = std::fs::read_to_string(emu.join("trust-root.pem")).unwrap();
    assert_eq!(
        call(
            &s.url,
            "PUT",
            "/v1/admin/anchors/emu",
            Some(&json!({"family": "snp", "pem": pem}))
        )
        .0,
        204
    );
    assert_eq!(
        call(
            &s.url,
            "PUT",
            "/v1/admin/secrets/app-key",
            Some(&json!({"value": "s3cret"}))
        )
        .0,
        204
    );
    let out = dir.join("secret.txt");
    let o = attest(&["--resource", "app-key", "-o", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("attestation result: affirming"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "s3cret");
    // A guest launched with debugging allowed is refused, and gets nothing.
    let o = attest(&["--debug-policy", "--resource", "app-key"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("rejected: debug:"));
    // The emulated confidential VM attests through both steps and gets the secret.
    let o = attest(&["--tee", "emulated-cvm", "--resource", "app-key", "--json"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("\"cvm\""), "{stdout}");
    // No service: exit 2.
    let o = Command::new(BIN)
        .args([
            "attest",
            "--url",
            "http://127.0.0.1:9",
            "--tee",
            "emulated-snp",
            "--emu-dir",
        ])
        .arg(&emu)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

struct Emu {
    root: Arc<TestRoot>,
    guest: Guest,
}

fn emu() -> Emu {
    let root = Arc::new(
        TestRoot::generate(
            Product::Milan,
            RootOptions {
                rsa_bits: KeySizeOpt::Rsa2048,
                ..RootOptions::default()
            },
        )
        .unwrap(),
    );
    let tcb = Tcb {
        fmc: None,
        bootloader: 4,
        tee: 0,
        snp: 22,
        microcode: 213,
    };
    let chip = Arc::new(EmulatedChip::new(Arc::clone(&root), [9; 32], tcb));
    let guest = chip.launch_start(0x30000).finish([0; 32], None).unwrap();
    Emu { root, guest }
}

fn trust_pem(root: &TestRoot) -> String {
    [&root.ark, &root.ask, &root.asvk]
        .iter()
        .map(|c| shomei_core::x509::pem_encode("CERTIFICATE", c.der()).unwrap())
        .collect()
}

fn attest_body(e: &Emu, nonce: &[u8], point: &[u8]) -> Value {
    let rd = shomei_verifier::appraise::report_data(nonce, point);
    let report = e.guest.report(&ReportRequest::new(rd)).unwrap();
    let vcek = shomei_core::x509::pem_encode(
        "CERTIFICATE",
        e.guest.chip().vcek().unwrap().certificate.der(),
    )
    .unwrap();
    json!({"nonce": Base64UrlUnpadded::encode_string(nonce),
           "tee_pubkey": EcJwk::from_point(point).unwrap(),
           "evidence": [{"family": "snp", "report": Base64::encode_string(&report), "certs": vcek}]})
}

fn nonce(url: &str) -> Vec<u8> {
    let (s, v) = call(url, "POST", "/v1/challenge", None);
    assert_eq!(s, 200, "{v}");
    Base64UrlUnpadded::decode_vec(v["nonce"].as_str().unwrap()).unwrap()
}

fn point() -> Vec<u8> {
    let k = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::ECDH_P256).unwrap();
    k.compute_public_key().unwrap().as_ref().to_vec()
}

fn postgres() -> (tokio::runtime::Runtime, shomei_store::testing::TempPostgres) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pg = rt
        .block_on(shomei_store::testing::TempPostgres::start())
        .unwrap_or_else(|e| panic!("PostgreSQL for the replica tests: {e}"));
    (rt, pg)
}

#[test]
fn two_replicas_on_one_postgresql_accept_a_nonce_once() {
    let dir = tempdir("pg");
    let (_rt, pg) = postgres();
    let a = serve(&dir, "a", pg.url());
    let b = serve(&dir, "b", pg.url());
    let e = emu();
    let anchor = json!({"family": "snp", "pem": trust_pem(&e.root)});
    assert_eq!(
        call(&a.url, "PUT", "/v1/admin/anchors/emu", Some(&anchor)).0,
        204
    );
    assert_eq!(
        call(
            &a.url,
            "PUT",
            "/v1/admin/secrets/k",
            Some(&json!({"value": "shared"}))
        )
        .0,
        204
    );
    let p = point();

    // Issued by A, attested at B, replayed at A.
    let n = nonce(&a.url);
    let body = attest_body(&e, &n, &p);
    let (s, v) = call(&b.url, "POST", "/v1/attest", Some(&body));
    assert_eq!(s, 200, "{v}");
    assert_eq!(call(&a.url, "POST", "/v1/attest", Some(&body)).0, 409);
    // The result B signed is a passport at A (one signing key, shared through the store).
    let (s, v) = call(
        &a.url,
        "POST",
        "/v1/resource/k",
        Some(&json!({"ear": v["ear"]})),
    );
    assert_eq!(s, 200, "{v}");

    // Many nonces, each presented to both replicas at the same moment: exactly one wins.
    let bodies: Vec<Value> = (0..24)
        .map(|i| attest_body(&e, &nonce(if i % 2 == 0 { &a.url } else { &b.url }), &p))
        .collect();
    let mut handles = Vec::new();
    for body in bodies {
        for url in [a.url.clone(), b.url.clone()] {
            let body = body.clone();
            handles.push(std::thread::spawn(move || {
                call(&url, "POST", "/v1/attest", Some(&body)).0
            }));
        }
    }
    let codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for pair in codes.chunks(2) {
        let mut p = pair.to_vec();
        p.sort_unstable();
        assert_eq!(p, vec![200, 409], "{codes:?}");
    }
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes secrets and reference values from 4 threads, SIGKILLs the service mid-load, restarts
/// it on the same store, and checks every acknowledged write.
fn crash_keeps_acknowledged_writes(store: &str, dir: &Path) {
    let s = serve(dir, "crash", store);
    let url = s.url.clone();
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..4 {
        let (url, acked, stop) = (url.clone(), Arc::clone(&acked), Arc::clone(&stop));
        workers.push(std::thread::spawn(move || {
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let id = format!("t{t}-{i}");
                let (kind, path, body) = if i % 2 == 0 {
                    (
                        "secret",
                        format!("/v1/admin/secrets/{id}"),
                        json!({"value": format!("v-{id}")}),
                    )
                } else {
                    let m = format!("{:096x}", t * 100_000 + i);
                    (
                        "rv",
                        format!("/v1/admin/reference-values/{id}"),
                        json!({"family": "snp", "name": "measurement", "value": m}),
                    )
                };
                let (code, _) = call(&url, "PUT", &path, Some(&body));
                if code == 0 {
                    break; // the server is gone
                }
                assert!(code == 200 || code == 204, "{code}");
                acked.lock().unwrap().push((kind.to_owned(), id));
            }
        }));
    }
    while acked.lock().unwrap().len() < 120 {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(s); // SIGKILL, mid-load
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let s = serve(dir, "crash", store);
    let (_, v) = call(&s.url, "GET", "/v1/admin/secrets", None);
    let secrets: Vec<&str> = v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let (_, v) = call(&s.url, "GET", "/v1/admin/reference-values", None);
    let rvs: Vec<&str> = v["reference_values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for (kind, id) in &acked {
        match kind.as_str() {
            "secret" => assert!(
                secrets.contains(&id.as_str()),
                "acknowledged secret {id} lost"
            ),
            _ => assert!(
                rvs.contains(&id.as_str()),
                "acknowledged reference value {id} lost"
            ),
        }
    }
    assert!(acked.len() >= 120);
}

#[test]
fn a_killed_service_loses_no_committed_write_sqlite() {
    let dir = tempdir("crash-sqlite");
    crash_keeps_acknowledged_writes(
        &format!("sqlite://{}", dir.join("db.sqlite").display()),
        &dir,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_service_loses_no_committed_write_postgresql() {
    let dir = tempdir("crash-pg");
    let (_rt, pg) = postgres();
    crash_keeps_acknowledged_writes(pg.url(), &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
