//! SNP proofs (shomei-zk) as evidence, over real HTTP: an emulated guest's report bound to the
//! service's nonce is proven (not sent), the proof is accepted in its place and yields an EAR;
//! the same proof is refused for another nonce, tampered, with a VCEK outside the anchors or of
//! another TCB, and under reference values its measurement is not in.
//!
//! One real proof serves every test of this binary ([`proved`]). Its tests run in release
//! (`scripts/test` runs `cargo test --release`); set `SHOMEI_ZK_TEST_SRS=/some/file` to keep
//! the insecure 2^20-point test SRS between runs. The tests that need no valid proof run in
//! debug too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
use aws_lc_rs::digest;
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use shomei_core::UnixTime;
use shomei_core::x509::PublicKey;
use shomei_server::config::{TokenConfig, ZkSection};
use shomei_server::{Config, Running};
use shomei_snp::{Product, Tcb};
use shomei_snp_emu::{EmulatedChip, Guest, KeySizeOpt, ReportRequest, RootOptions, TestRoot};
use shomei_verifier::ear::Jwks;
use shomei_verifier::jwe::{self, EcJwk};
use shomei_zk::prove::{K, ProvingKeys, Srs};
use shomei_zk::statement::{MAX_MEASUREMENTS, PublicInputs, ZkPolicy};

const ADMIN: &str = "admin-token-for-zk-tests";
const KEK: &str = "0202020202020202020202020202020202020202020202020202020202020202";

// ------------------------------------------------------------------ HTTP and the service

struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self { agent, base }
    }
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = if method == "PUT" {
            self.agent.put(&url)
        } else {
            self.agent.post(&url)
        };
        r = r.header("content-type", "application/json");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = r.send(body.to_string()).unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, None, body)
    }
    fn admin(&self, path: &str, body: &Value) -> u16 {
        self.call("PUT", path, Some(ADMIN), body).0
    }
    fn challenge(&self) -> Vec<u8> {
        let (s, v) = self.post("/v1/challenge", &json!({}));
        assert_eq!(s, 200, "{v}");
        Base64UrlUnpadded::decode_vec(v["nonce"].as_str().unwrap()).unwrap()
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shomei-zk-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(dir: &Path, verifier: Option<PathBuf>) -> Config {
    let mut c = Config::new(format!("sqlite://{}", dir.join("db.sqlite").display()), KEK);
    c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    c.tokens = vec![TokenConfig {
        name: "admin".into(),
        sha256: None,
        token: Some(ADMIN.into()),
        scopes: shomei_server::config::SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }];
    c.zk = verifier.map(|verifier| ZkSection { verifier });
    // Proving takes minutes: the nonce must outlive it (the default is two minutes).
    c.nonce_ttl_secs = 3600;
    c
}

fn pem(der: &[u8]) -> String {
    shomei_core::x509::pem_encode("CERTIFICATE", der).unwrap()
}

/// A service that trusts `root` and whose reference values are `measurements`.
fn service(
    name: &str,
    verifier: Option<PathBuf>,
    root: &TestRoot,
    measurements: &[[u8; 48]],
) -> Running {
    let dir = tempdir(name);
    let server = shomei_server::spawn(config(&dir, verifier)).unwrap();
    let h = Http::new(server.url());
    let trust: String = [&root.ark, &root.ask, &root.asvk]
        .iter()
        .map(|c| pem(c.der()))
        .collect();
    assert_eq!(
        h.admin(
            "/v1/admin/anchors/emu",
            &json!({"family": "snp", "pem": trust})
        ),
        204
    );
    for (i, m) in measurements.iter().enumerate() {
        assert_eq!(
            h.admin(
                &format!("/v1/admin/reference-values/m{i}"),
                &json!({"family": "snp", "name": "measurement", "value": hex::encode(m)}),
            ),
            200
        );
    }
    assert_eq!(
        h.admin(
            "/v1/admin/secrets/s1",
            &json!({"value": "proof-gated secret"})
        ),
        204
    );
    server
}

// ------------------------------------------------------------------ the emulated platform

fn root() -> Arc<TestRoot> {
    Arc::new(
        TestRoot::generate(
            Product::Milan,
            RootOptions {
                rsa_bits: KeySizeOpt::Rsa2048,
                ..RootOptions::default()
            },
        )
        .unwrap(),
    )
}

const TCB: Tcb = Tcb {
    fmc: None,
    bootloader: 4,
    tee: 0,
    snp: 22,
    microcode: 213,
};

fn guest(root: &Arc<TestRoot>, secret: [u8; 32]) -> Guest {
    let chip = Arc::new(EmulatedChip::new(Arc::clone(root), secret, TCB));
    let mut l = chip.launch_start(0x30000);
    l.update(
        shomei_snp::measure::PageType::Normal,
        0x1000,
        Some(&[0x5a; 4096]),
    );
    l.finish([0; 32], None).unwrap()
}

/// SHA-512(nonce ‖ key): the REPORT_DATA the service binds (computed here, not by the service's
/// code).
fn bound(nonce: &[u8], point: &[u8]) -> [u8; 64] {
    let mut ctx = digest::Context::new(&digest::SHA512);
    ctx.update(nonce);
    ctx.update(point);
    ctx.finish().as_ref().try_into().unwrap()
}

/// The key of a VEK certificate as the statement's `vek` (x ‖ y).
fn vek_of(cert: &shomei_core::x509::Certificate) -> [u8; 96] {
    match cert.public_key().unwrap() {
        PublicKey::EcP384(sec1) => sec1[1..].try_into().unwrap(),
        other => panic!("{other:?}"),
    }
}

fn srs() -> Srs {
    let seed = *b"shomei-server snp_proof test srs";
    match std::env::var_os("SHOMEI_ZK_TEST_SRS") {
        Some(p) if Path::new(&p).exists() => Srs::read(&std::fs::read(&p).unwrap()).unwrap(),
        Some(p) => {
            let srs = Srs::insecure_local(K, seed);
            std::fs::write(&p, srs.to_bytes()).unwrap();
            srs
        }
        None => Srs::insecure_local(K, seed),
    }
}

/// Everything the proof-carrying tests share: one service, one nonce it issued, one proof.
struct Proved {
    server: Running,
    root: Arc<TestRoot>,
    guest: Guest,
    verifier: PathBuf,
    key: PrivateKey,
    point: Vec<u8>,
    nonce: Vec<u8>,
    report_data: [u8; 64],
    reported_tcb: [u8; 8],
    proof: Vec<u8>,
}

fn proved() -> &'static Proved {
    static P: OnceLock<Proved> = OnceLock::new();
    P.get_or_init(|| {
        let t = Instant::now();
        let keys = ProvingKeys::generate(srs()).unwrap();
        eprintln!("SRS and keys: {:.1} s", t.elapsed().as_secs_f64());
        let dir = tempdir("keys");
        let verifier = dir.join("verifier.bin");
        std::fs::write(&verifier, keys.verifying_keys().to_bytes()).unwrap();

        let root = root();
        let guest = guest(&root, [7; 32]);
        let server = service("main", Some(verifier.clone()), &root, &[guest.measurement]);
        let h = Http::new(server.url());
        let key = PrivateKey::generate(&ECDH_P256).unwrap();
        let point = key.compute_public_key().unwrap().as_ref().to_vec();

        // The attester: challenge → report bound to the nonce and its key → proof.
        let nonce = h.challenge();
        let report_data = bound(&nonce, &point);
        let report = guest.report(&ReportRequest::new(report_data)).unwrap();
        let reported_tcb: [u8; 8] = report[0x180..0x188].try_into().unwrap();
        let vcek = guest.chip().vcek().unwrap().certificate;
        // The service's policy as a prover derives it: the one reference value, no minimum
        // TCB, VMPL 0 (the service's SNP policy is the default one).
        let public = PublicInputs {
            vek: vek_of(&vcek),
            report_data,
            reported_tcb,
            policy: ZkPolicy {
                measurements: vec![guest.measurement],
                min_tcb: [0; 8],
                vmpl: 0,
            },
        };
        let t = Instant::now();
        let proof = keys.prove(&report, &public).unwrap();
        eprintln!(
            "prove: {:.1} s, {} bytes",
            t.elapsed().as_secs_f64(),
            proof.len()
        );
        Proved {
            server,
            root,
            guest,
            verifier,
            key,
            point,
            nonce,
            report_data,
            reported_tcb,
            proof,
        }
    })
}

impl Proved {
    fn http(&self) -> Http {
        Http::new(self.server.url())
    }
    fn vcek_pem(&self) -> String {
        pem(self.guest.chip().vcek().unwrap().certificate.der())
    }
    /// The `snp_proof` evidence JSON; `report_data` claims the proven REPORT_DATA.
    fn evidence(&self, proof: &[u8], vcek_pem: &str, claim_report_data: bool) -> Value {
        let mut e = json!({
            "family": "snp_proof",
            "proof": Base64::encode_string(proof),
            "vcek": vcek_pem,
            "reported_tcb": hex::encode(self.reported_tcb),
        });
        if claim_report_data {
            e["report_data"] = json!(hex::encode(self.report_data));
        }
        e
    }
    fn body(&self, nonce: &[u8], evidence: Value) -> Value {
        json!({"nonce": Base64UrlUnpadded::encode_string(nonce),
               "tee_pubkey": EcJwk::from_point(&self.point).unwrap(),
               "evidence": [evidence]})
    }
}

/// A 403's first reason: (check, claim, value).
fn refusal(s: u16, v: &Value) -> (String, String, i64) {
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["status"], "contraindicated", "{v}");
    let r = &v["reasons"][0];
    assert_eq!(v["check"], r["check"], "{v}");
    (
        r["check"].as_str().unwrap().to_owned(),
        r["claim"].as_str().unwrap().to_owned(),
        r["value"].as_i64().unwrap(),
    )
}

// ------------------------------------------------------------------ tests with the real proof

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn a_proof_for_the_issued_nonce_yields_an_affirming_ear_and_releases_the_secret() {
    let p = proved();
    let h = p.http();
    let body = p.body(&p.nonce, p.evidence(&p.proof, &p.vcek_pem(), false));
    let (s, v) = h.post("/v1/attest", &body);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "affirming");
    let jwks: Jwks = h
        .agent
        .get(format!("{}/.well-known/jwks.json", h.base))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let token = v["ear"].as_str().unwrap().to_owned();
    let verified = jwks.verify(&token, UnixTime::now()).unwrap();
    assert!(verified.is_affirming());
    let submod = &verified.ear().submods["snp_proof"];
    for (claim, want) in [
        (shomei_verifier::TrustClaim::InstanceIdentity, 2),
        (shomei_verifier::TrustClaim::Hardware, 2),
        (shomei_verifier::TrustClaim::Executables, 2),
    ] {
        assert_eq!(submod.trust_vector.get(claim), want, "{claim}");
    }
    // The claims say what was shown, and nothing of the hidden report.
    let claims = &v["result"]["submods"]["snp_proof"]["ear.veraison.annotated-evidence"];
    assert_eq!(
        claims["shown"]["measurements"],
        json!([hex::encode(p.guest.measurement)])
    );
    assert_eq!(claims["report_data"], hex::encode(p.report_data));
    assert_eq!(claims["signer"]["certified_tcb"]["snp"], 22);
    assert!(claims.get("report").is_none());

    // The same request again: the nonce is spent (409), as for reports.
    let (s, v) = h.post("/v1/attest", &body);
    assert_eq!((s, v["check"].as_str()), (409, Some("nonce_replayed")));

    // The EAR as a passport: the secret, encrypted to the key REPORT_DATA bound.
    let (s, v) = h.post("/v1/resource/s1", &json!({"ear": token}));
    assert_eq!(s, 200, "{v}");
    let secret = jwe::decrypt(&p.key, v["jwe"].as_str().unwrap()).unwrap();
    assert_eq!(secret.as_slice(), b"proof-gated secret");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn the_proof_is_refused_for_another_or_a_foreign_nonce() {
    let p = proved();
    let h = p.http();
    let vcek = p.vcek_pem();
    // Another nonce the service issued: the proof does not verify for its binding.
    let other = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&other, p.evidence(&p.proof, &vcek, false)),
    );
    assert_eq!(
        refusal(s, &v),
        ("zk_proof".into(), "instance-identity".into(), 99)
    );
    // Claiming the REPORT_DATA it was proven for: the proof verifies, the binding does not.
    let other = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&other, p.evidence(&p.proof, &vcek, true)),
    );
    assert_eq!(
        refusal(s, &v),
        ("nonce_binding".into(), "instance-identity".into(), 96)
    );
    // The background-check form of /v1/resource takes proofs, and refuses this one.
    let other = h.challenge();
    let (s, v) = h.post(
        "/v1/resource/s1",
        &p.body(&other, p.evidence(&p.proof, &vcek, false)),
    );
    assert_eq!(refusal(s, &v).0, "zk_proof");
    // A nonce the service never issued: 401 before any appraisal.
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&[0x42; 32], p.evidence(&p.proof, &vcek, false)),
    );
    assert_eq!((s, v["check"].as_str()), (401, Some("nonce_unknown")));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn a_proof_with_one_flipped_byte_is_refused_naming_the_proof() {
    let p = proved();
    let h = p.http();
    let vcek = p.vcek_pem();
    // The REPORT_DATA claim keeps the nonce binding out of the way: only the proof can fail.
    for i in [0, p.proof.len() / 3, p.proof.len() - 1] {
        let mut bad = p.proof.clone();
        bad[i] ^= 0x01;
        let n = h.challenge();
        let (s, v) = h.post("/v1/attest", &p.body(&n, p.evidence(&bad, &vcek, true)));
        assert_eq!(
            refusal(s, &v),
            ("zk_proof".into(), "instance-identity".into(), 99),
            "byte {i}"
        );
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains("proof does not verify")
        );
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn a_vcek_outside_the_anchors_or_of_another_tcb_is_refused() {
    let p = proved();
    let h = p.http();
    // A chip of another (untrusted) root: its VCEK does not chain to the anchor.
    let foreign = guest(&root(), [7; 32]);
    let foreign_vcek = pem(foreign.chip().vcek().unwrap().certificate.der());
    let n = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&n, p.evidence(&p.proof, &foreign_vcek, true)),
    );
    let (check, claim, _) = refusal(s, &v);
    assert_eq!(check, "chain_signature", "{v}");
    assert_eq!(claim, "instance-identity");

    // The right VCEK, but a REPORTED_TCB claim that is not its TCB.
    let mut e = p.evidence(&p.proof, &p.vcek_pem(), true);
    let mut tcb = p.reported_tcb;
    tcb[6] += 1;
    e["reported_tcb"] = json!(hex::encode(tcb));
    let n = h.challenge();
    let (s, v) = h.post("/v1/attest", &p.body(&n, e));
    assert_eq!(refusal(s, &v), ("vek_tcb".into(), "hardware".into(), 96));

    // A genuine VCEK of the same chip at another TCB (it chains to the anchor), with the
    // proof's REPORTED_TCB.
    let newer = Tcb { snp: 23, ..TCB };
    let other_vcek = pem(p.guest.chip().vcek_for(&newer).unwrap().certificate.der());
    let n = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&n, p.evidence(&p.proof, &other_vcek, true)),
    );
    assert_eq!(refusal(s, &v), ("vek_tcb".into(), "hardware".into(), 96));
    // The same VCEK claimed with its own TCB: the chain and TCB pass, the proof (made for
    // another key) does not.
    let mut e = p.evidence(&p.proof, &other_vcek, true);
    e["reported_tcb"] = json!(hex::encode(newer.encode(Product::Milan).0));
    let n = h.challenge();
    let (s, v) = h.post("/v1/attest", &p.body(&n, e));
    assert_eq!(refusal(s, &v).0, "zk_proof");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn a_measurement_outside_the_reference_values_is_refused() {
    let p = proved();
    // Another service with the same verifier and anchor, whose reference values do not hold
    // the guest's measurement.
    let server = service("other-rv", Some(p.verifier.clone()), &p.root, &[[0x11; 48]]);
    let h = Http::new(server.url());
    let n = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&n, p.evidence(&p.proof, &p.vcek_pem(), true)),
    );
    assert_eq!(refusal(s, &v).0, "zk_proof");
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["claim"] == "executables" && r["value"] == 33)
    );
    // More reference values than a proof's allowlist holds.
    for i in 1..=u8::try_from(MAX_MEASUREMENTS).unwrap() {
        assert_eq!(
            h.admin(
                &format!("/v1/admin/reference-values/x{i}"),
                &json!({"family": "snp", "name": "measurement", "value": hex::encode([0x80 | i; 48])}),
            ),
            200
        );
    }
    let n = h.challenge();
    let (s, v) = h.post(
        "/v1/attest",
        &p.body(&n, p.evidence(&p.proof, &p.vcek_pem(), true)),
    );
    let (check, _, _) = refusal(s, &v);
    assert_eq!(check, "zk_policy");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("at most {MAX_MEASUREMENTS}")),
        "{v}"
    );
}

// ------------------------------------------------------------------ tests that need no proof

#[test]
fn without_a_verifier_file_proofs_are_refused() {
    let root = root();
    let g = guest(&root, [8; 32]);
    let server = service("no-zk", None, &root, &[g.measurement]);
    let h = Http::new(server.url());
    let n = h.challenge();
    let e = json!({
        "family": "snp_proof",
        "proof": Base64::encode_string(&[0u8; 64]),
        "vcek": Base64::encode_string(g.chip().vcek().unwrap().certificate.der()),
        "reported_tcb": hex::encode(TCB.encode(Product::Milan).0),
    });
    let (s, v) = h.post(
        "/v1/attest",
        &json!({"nonce": Base64UrlUnpadded::encode_string(&n), "evidence": [e]}),
    );
    assert_eq!(
        refusal(s, &v),
        ("zk_not_configured".into(), "instance-identity".into(), 1)
    );
    // Malformed proof evidence: a 400 naming the field.
    let n = h.challenge();
    let mut bad = e.clone();
    bad["reported_tcb"] = json!("0102");
    let (s, v) = h.post(
        "/v1/attest",
        &json!({"nonce": Base64UrlUnpadded::encode_string(&n), "evidence": [bad]}),
    );
    assert_eq!(s, 400, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("evidence[0].reported_tcb"),
        "{v}"
    );
    // A native policy for "snp_proof" is refused: proofs use the snp policy.
    let (s, _) = h.call(
        "PUT",
        "/v1/admin/policies/zk",
        Some(ADMIN),
        &json!({"family": "snp_proof", "kind": "native", "body": ""}),
    );
    assert_eq!(s, 400);
}

#[test]
fn a_service_with_an_unreadable_verifier_file_does_not_start() {
    let dir = tempdir("bad-verifier");
    let f = dir.join("verifier.bin");
    std::fs::write(&f, b"not a verifier file").unwrap();
    let e = shomei_server::spawn(config(&dir, Some(f))).err().unwrap();
    assert!(
        e.to_string().contains("not a shomei-zk verifier file"),
        "{e}"
    );
    let e = shomei_server::spawn(config(&dir, Some(dir.join("missing"))))
        .err()
        .unwrap();
    assert!(e.to_string().contains("zk.verifier"), "{e}");
}
