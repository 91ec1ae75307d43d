//! The service over real HTTP on loopback: every endpoint and every rejection status, with
//! evidence from the emulated AMD-SP.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use shomei_core::UnixTime;
use shomei_server::{Config, Running, config::TokenConfig};
use shomei_snp::{Product, Tcb};
use shomei_snp_emu::{EmulatedChip, Guest, KeySizeOpt, ReportRequest, RootOptions, TestRoot};
use shomei_verifier::appraise::report_data;
use shomei_verifier::ear::{Alg, EarSigner, Jwks};
use shomei_verifier::jwe::{self, EcJwk};

const ADMIN: &str = "admin-token-for-tests";
const READER: &str = "read-only-token";
const KEK: &str = "0101010101010101010101010101010101010101010101010101010101010101";

struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Self { agent, base }
    }
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value, String) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let resp = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = self.agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.call()
            }
            (m, b) => {
                let mut r = if m == "PUT" {
                    self.agent.put(&url)
                } else {
                    self.agent.post(&url)
                };
                r = r.header("content-type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.send(b.unwrap_or("{}"))
            }
        };
        let mut resp = resp.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ct,
        )
    }
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, v, _) = self.send("POST", path, None, Some(&body.to_string()));
        (s, v)
    }
    fn admin(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let b = body.map(Value::to_string);
        let (s, v, _) = self.send(method, path, Some(token), b.as_deref());
        (s, v)
    }
}

struct Platform {
    root: Arc<TestRoot>,
    guest: Guest,
    debug_guest: Guest,
}

fn platform() -> Platform {
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
    let chip = Arc::new(EmulatedChip::new(Arc::clone(&root), [7; 32], tcb));
    let mut l = chip.launch_start(0x30000);
    l.update(
        shomei_snp::measure::PageType::Normal,
        0x1000,
        Some(&[0x90; 4096]),
    );
    let guest = l.finish([0; 32], None).unwrap();
    let mut l = chip.launch_start(0x30000 | (1 << 19));
    l.update(
        shomei_snp::measure::PageType::Normal,
        0x1000,
        Some(&[0x90; 4096]),
    );
    let debug_guest = l.finish([0; 32], None).unwrap();
    Platform {
        root,
        guest,
        debug_guest,
    }
}

fn pem(der: &[u8]) -> String {
    shomei_core::x509::pem_encode("CERTIFICATE", der).unwrap()
}

fn trust_pem(root: &TestRoot) -> String {
    [&root.ark, &root.ask, &root.asvk]
        .iter()
        .map(|c| pem(c.der()))
        .collect()
}

fn evidence(g: &Guest, rd: [u8; 64], with_vek: bool) -> Value {
    let report = g.report(&ReportRequest::new(rd)).unwrap();
    let mut e = json!({"family": "snp", "report": Base64::encode_string(&report)});
    if with_vek {
        e["certs"] = json!(pem(g.chip().vcek().unwrap().certificate.der()));
    }
    e
}

struct Key {
    key: PrivateKey,
    point: Vec<u8>,
}
fn key() -> Key {
    let key = PrivateKey::generate(&ECDH_P256).unwrap();
    let point = key.compute_public_key().unwrap().as_ref().to_vec();
    Key { key, point }
}

fn challenge(h: &Http) -> Vec<u8> {
    let (s, v) = h.post("/v1/challenge", &json!({}));
    assert_eq!(s, 200, "{v}");
    assert!(v["expires_at"].as_i64().unwrap() > UnixTime::now().secs());
    Base64UrlUnpadded::decode_vec(v["nonce"].as_str().unwrap()).unwrap()
}

fn attest_body(nonce: &[u8], k: &Key, ev: Value) -> Value {
    json!({"nonce": Base64UrlUnpadded::encode_string(nonce),
           "tee_pubkey": EcJwk::from_point(&k.point).unwrap(),
           "evidence": [ev]})
}

fn start(dir: &std::path::Path, f: impl FnOnce(&mut Config)) -> Running {
    let mut c = Config::new(format!("sqlite://{}", dir.join("db.sqlite").display()), KEK);
    c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    c.max_body_bytes = 256 * 1024;
    c.tokens = vec![
        TokenConfig {
            name: "admin".into(),
            sha256: None,
            token: Some(ADMIN.into()),
            scopes: shomei_server::config::SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        },
        TokenConfig {
            name: "reader".into(),
            sha256: Some(hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                READER.as_bytes(),
            ))),
            token: None,
            scopes: vec!["admin:read".into()],
        },
    ];
    f(&mut c);
    shomei_server::spawn(c).unwrap()
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("shomei-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_endpoint_and_every_status() {
    let dir = tempdir("all");
    let p = platform();
    let server = start(&dir, |_| {});
    let h = Http::new(server.url());

    // Health, JWKS, metrics, 404.
    let (s, v, _) = h.send("GET", "/healthz", None, None);
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    assert_eq!(v["store"], "sqlite");
    let (s, jwks, _) = h.send("GET", "/.well-known/jwks.json", None, None);
    assert_eq!(s, 200);
    let jwks: Jwks = serde_json::from_value(jwks).unwrap();
    let (s, _, _) = h.send("GET", "/nope", None, None);
    assert_eq!(s, 404);

    // Admin without a token, with a bad token, with a token lacking the scope.
    let anchor = json!({"family": "snp", "pem": trust_pem(&p.root)});
    let (s, _, _) = h.send(
        "PUT",
        "/v1/admin/anchors/emu",
        None,
        Some(&anchor.to_string()),
    );
    assert_eq!(s, 401);
    assert_eq!(
        h.admin("PUT", "/v1/admin/anchors/emu", "wrong", Some(&anchor))
            .0,
        401
    );
    let (s, v) = h.admin("PUT", "/v1/admin/anchors/emu", READER, Some(&anchor));
    assert_eq!((s, v["check"].as_str()), (403, Some("forbidden")));
    assert_eq!(h.admin("GET", "/v1/admin/anchors", READER, None).0, 200);
    assert_eq!(h.admin("GET", "/v1/admin/audit", READER, None).0, 403);

    // Before the anchor: the emulated root is not AMD's → 403 (hardware unrecognized).
    let k = key();
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/attest",
        &attest_body(&n, &k, evidence(&p.guest, report_data(&n, &k.point), true)),
    );
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["status"], "contraindicated");

    // Provision: anchor, reference value, secret; malformed admin input is a 400.
    assert_eq!(
        h.admin("PUT", "/v1/admin/anchors/emu", ADMIN, Some(&anchor))
            .0,
        204
    );
    let (s, v) = h.admin(
        "PUT",
        "/v1/admin/anchors/bad",
        ADMIN,
        Some(&json!({"family": "snp", "pem": "junk"})),
    );
    assert_eq!((s, v["check"].as_str()), (400, Some("anchor_invalid")));
    let m = hex::encode(p.guest.measurement);
    let (s, _) = h.admin(
        "PUT",
        "/v1/admin/reference-values/img",
        ADMIN,
        Some(&json!({"family": "snp", "name": "measurement", "value": m})),
    );
    assert_eq!(s, 200);
    let (s, _) = h.admin(
        "PUT",
        "/v1/admin/reference-values/bad",
        ADMIN,
        Some(&json!({"family": "snp", "name": "measurement", "value": "zz"})),
    );
    assert_eq!(s, 400);
    let (s, v) = h.admin(
        "PUT",
        "/v1/admin/policies/p",
        ADMIN,
        Some(&json!({"family": "snp", "kind": "native", "body": "allow_debug = \"yes\""})),
    );
    assert_eq!((s, v["check"].as_str()), (400, Some("policy_invalid")));
    assert_eq!(
        h.admin(
            "PUT",
            "/v1/admin/secrets/s1",
            ADMIN,
            Some(&json!({"value": "top secret"}))
        )
        .0,
        204
    );
    let (s, v) = h.admin("GET", "/v1/admin/secrets", READER, None);
    assert_eq!((s, v["secrets"].clone()), (200, json!(["s1"])));

    // Malformed requests: 400 (not JSON, missing field, bad base64), 415, 413.
    let (s, v, ct) = h.send("POST", "/v1/attest", None, Some("{not json"));
    assert_eq!((s, v["check"].as_str()), (400, Some("malformed")));
    assert_eq!(ct, "application/problem+json");
    assert_eq!(h.post("/v1/attest", &json!({"nonce": "AA"})).0, 400);
    assert_eq!(
        h.post(
            "/v1/attest",
            &json!({"nonce": "!!", "evidence": [{"family": "snp", "report": "AA"}]})
        )
        .0,
        400
    );
    let resp = h
        .agent
        .post(format!("{}/v1/attest", h.base))
        .header("content-type", "text/plain")
        .send("{}")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let big =
        json!({"nonce": "AA", "evidence": [{"family": "snp", "report": "A".repeat(300 * 1024)}]});
    let (s, v) = h.post("/v1/attest", &big);
    assert_eq!((s, v["check"].as_str()), (413, Some("too_large")));
    // A report that is not 1184 bytes: 400 naming the problem.
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/attest",
        &attest_body(&n, &k, json!({"family": "snp", "report": "AAAA"})),
    );
    assert_eq!(s, 400, "{v}");

    // Unknown nonce: 401.
    let (s, v) = h.post(
        "/v1/attest",
        &attest_body(
            &[9; 32],
            &k,
            evidence(&p.guest, report_data(&[9; 32], &k.point), true),
        ),
    );
    assert_eq!((s, v["check"].as_str()), (401, Some("nonce_unknown")));

    // Missing collateral (no VCEK and no KDS): 503 with Retry-After.
    let n = challenge(&h);
    let resp = h
        .agent
        .post(format!("{}/v1/attest", h.base))
        .header("content-type", "application/json")
        .send(attest_body(&n, &k, evidence(&p.guest, report_data(&n, &k.point), false)).to_string())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());

    // The genuine guest: 200 and an EAR that verifies under the published JWKS.
    let n = challenge(&h);
    let body = attest_body(&n, &k, evidence(&p.guest, report_data(&n, &k.point), true));
    let (s, v) = h.post("/v1/attest", &body);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "affirming");
    let token = v["ear"].as_str().unwrap().to_owned();
    let verified = jwks.verify(&token, UnixTime::now()).unwrap();
    assert!(verified.is_affirming());
    assert_eq!(
        verified.ear().tee_pubkey,
        Some(EcJwk::from_point(&k.point).unwrap())
    );
    assert_eq!(
        verified.ear().submods["snp"]
            .trust_vector
            .get(shomei_verifier::ar4si::TrustClaim::Executables),
        2
    );

    // Replay: 409.
    let (s, v) = h.post("/v1/attest", &body);
    assert_eq!((s, v["check"].as_str()), (409, Some("nonce_replayed")));

    // Passport: the secret, encrypted to the bound key.
    let (s, v) = h.post("/v1/resource/s1", &json!({"ear": token}));
    assert_eq!(s, 200, "{v}");
    let secret = jwe::decrypt(&k.key, v["jwe"].as_str().unwrap()).unwrap();
    assert_eq!(secret.as_slice(), b"top secret");
    // Unknown secret: 404.
    assert_eq!(h.post("/v1/resource/nope", &json!({"ear": token})).0, 404);

    // An expired result (signed with the service's own key, read from the store): 401.
    let signer = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = shomei_store::Store::open(
                &format!("sqlite://{}", dir.join("db.sqlite").display()),
                shomei_store::Kek::from_hex(KEK).unwrap(),
            )
            .await
            .unwrap();
            let k = store
                .signing_key_or_insert("ear-signing-es256", Vec::new)
                .await
                .unwrap();
            store.close().await;
            EarSigner::from_pkcs8(Alg::Es256, &k).unwrap()
        })
    };
    let mut old = verified.ear().clone();
    old.iat -= 3600;
    old.exp = Some(old.iat + 60);
    let (s, v) = h.post(
        "/v1/resource/s1",
        &json!({"ear": signer.sign(&old).unwrap()}),
    );
    assert_eq!((s, v["check"].as_str()), (401, Some("ear_expired")));
    // A result signed by someone else: 401.
    let other =
        EarSigner::from_pkcs8(Alg::Es256, &EarSigner::generate_pkcs8(Alg::Es256).unwrap()).unwrap();
    let (s, v) = h.post(
        "/v1/resource/s1",
        &json!({"ear": other.sign(verified.ear()).unwrap()}),
    );
    assert_eq!(s, 401, "{v}");
    // A valid result without a bound key: 403.
    let mut nokey = verified.ear().clone();
    nokey.tee_pubkey = None;
    let (s, v) = h.post(
        "/v1/resource/s1",
        &json!({"ear": signer.sign(&nokey).unwrap()}),
    );
    assert_eq!((s, v["check"].as_str()), (403, Some("no_bound_key")));

    // Rejected evidence: debug policy → 403 with reasons and the signed result.
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/attest",
        &attest_body(
            &n,
            &k,
            evidence(&p.debug_guest, report_data(&n, &k.point), true),
        ),
    );
    assert_eq!((s, v["check"].as_str()), (403, Some("debug")), "{v}");
    let r = jwks
        .verify(v["ear"].as_str().unwrap(), UnixTime::now())
        .unwrap();
    assert!(!r.is_affirming());
    // Background check for a secret with rejected evidence: 403, nothing released.
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/resource/s1",
        &attest_body(
            &n,
            &k,
            evidence(&p.debug_guest, report_data(&n, &k.point), true),
        ),
    );
    assert_eq!((s, v.get("jwe")), (403, None));
    // Background check with good evidence: released.
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/resource/s1",
        &attest_body(&n, &k, evidence(&p.guest, report_data(&n, &k.point), true)),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        jwe::decrypt(&k.key, v["jwe"].as_str().unwrap())
            .unwrap()
            .as_slice(),
        b"top secret"
    );

    // A Rego policy applies at once to the next attestation.
    let rego = "package shomei\nimport rego.v1\nviolations contains {\"check\": \"svn\", \"detail\": \"guest SVN must be at least 1\"} if input.claims.report.guest_svn < 1\n";
    assert_eq!(
        h.admin(
            "PUT",
            "/v1/admin/policies/svn",
            ADMIN,
            Some(&json!({"family": "snp", "kind": "rego", "body": rego}))
        )
        .0,
        200
    );
    let n = challenge(&h);
    let (s, v) = h.post(
        "/v1/attest",
        &attest_body(&n, &k, evidence(&p.guest, report_data(&n, &k.point), true)),
    );
    assert_eq!((s, v["check"].as_str()), (403, Some("rego.svn")), "{v}");

    // Dry run: no nonce consumed, no audit entry; a submitted policy replaces the stored one.
    let n = challenge(&h);
    let ev = evidence(&p.guest, report_data(&n, &k.point), true);
    let audit_before = h.admin("GET", "/v1/admin/audit?limit=1000", ADMIN, None).1["entries"]
        .as_array()
        .unwrap()
        .len();
    let ok_rego = "package shomei\nimport rego.v1\nallow := true\n";
    let (s, v) = h.admin(
        "POST",
        "/v1/admin/dry-run",
        READER,
        Some(&json!({
        "evidence": [ev.clone()], "nonce": Base64UrlUnpadded::encode_string(&n),
        "tee_pubkey": EcJwk::from_point(&k.point).unwrap(),
        "policies": [{"family": "snp", "kind": "rego", "body": ok_rego}]})),
    );
    assert_eq!((s, v["affirming"].as_bool()), (200, Some(true)), "{v}");
    let (s, v) = h.admin(
        "POST",
        "/v1/admin/dry-run",
        READER,
        Some(&json!({"evidence": [ev.clone()]})),
    );
    assert_eq!((s, v["affirming"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(v["appraisals"]["snp"]["reasons"][0]["check"], "rego.svn");
    let audit_after = h.admin("GET", "/v1/admin/audit?limit=1000", ADMIN, None).1["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(audit_before, audit_after, "a dry run writes no audit entry");
    assert_eq!(
        h.admin("DELETE", "/v1/admin/policies/svn", ADMIN, None).0,
        204
    );
    assert_eq!(
        h.admin("DELETE", "/v1/admin/policies/svn", ADMIN, None).0,
        404
    );
    let (s, v) = h.post("/v1/attest", &attest_body(&n, &k, ev));
    assert_eq!(s, 200, "the dry run must not consume the nonce: {v}");

    // The audit log has every appraisal and every release decision.
    let (s, v) = h.admin("GET", "/v1/admin/audit?limit=1000", ADMIN, None);
    assert_eq!(s, 200);
    let entries = v["entries"].as_array().unwrap();
    let count = |a: &str, o: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == a && e["outcome"] == o)
            .count()
    };
    assert_eq!(count("appraise", "affirming"), 3);
    assert!(count("appraise", "contraindicated") >= 3);
    assert_eq!(count("release_secret", "released"), 2);
    assert!(count("release_secret", "denied") >= 2);
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "put_trust_anchor" && e["actor"] == "admin")
    );

    // Metrics count what happened.
    let (s, m, _) = h.send("GET", "/metrics", None, None);
    assert_eq!(s, 200);
    let m = m.as_str().unwrap();
    assert!(
        m.contains("shomei_releases_total{outcome=\"released\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("shomei_nonce_rejections_total{reason=\"nonce_replayed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("shomei_appraisals_total{family=\"snp\",status=\"affirming\"} 3"),
        "{m}"
    );
    assert!(m.contains("route=\"/v1/attest\",status=\"409\""), "{m}");

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_signing_key_and_secrets_survive_a_restart() {
    let dir = tempdir("restart");
    let jwks1 = {
        let server = start(&dir, |_| {});
        let h = Http::new(server.url());
        assert_eq!(
            h.admin(
                "PUT",
                "/v1/admin/secrets/keep",
                ADMIN,
                Some(&json!({"value_base64": Base64::encode_string(b"\x00\x01binary")}))
            )
            .0,
            204
        );
        h.send("GET", "/v1/jwks", None, None).1
    };
    let server = start(&dir, |_| {});
    let h = Http::new(server.url());
    assert_eq!(h.send("GET", "/v1/jwks", None, None).1, jwks1);
    assert_eq!(
        h.admin("GET", "/v1/admin/secrets", ADMIN, None).1["secrets"],
        json!(["keep"])
    );
    // A wrong key-encryption key refuses to start.
    drop(server);
    let mut c = Config::new(
        format!("sqlite://{}", dir.join("db.sqlite").display()),
        "02".repeat(32),
    );
    c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    assert!(shomei_server::spawn(c).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn https_when_configured() {
    let dir = tempdir("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian's openssl package) makes the test certificate");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let server = start(&dir, |c| {
        c.tls = Some(shomei_server::config::TlsSection {
            cert: cert.clone(),
            key: key.clone(),
        });
    });
    assert!(server.url().starts_with("https://"));
    let der = shomei_core::x509::pem_blocks(&std::fs::read(&cert).unwrap(), "CERTIFICATE")
        .unwrap()
        .remove(0);
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![
            ureq::tls::Certificate::from_der(&der).to_owned(),
        ])))
        .build();
    let agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(format!("{}/healthz", server.url()))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.body_mut().read_to_string().unwrap().contains("\"ok\""));
    let mut r = agent
        .post(format!("{}/v1/challenge", server.url()))
        .send_json(json!({}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.body_mut().read_to_string().unwrap().contains("nonce"));
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = Http::new(format!("http://{}", server.addr));
    assert!(
        plain
            .agent
            .get(format!("{}/healthz", plain.base))
            .call()
            .is_err()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
