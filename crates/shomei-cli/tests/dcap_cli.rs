//! `shomei dcap verify` on the real DCAP vectors: exit 0 verified and acceptable, 1 rejected
//! with one `rejected: <check>: <detail>` line on stderr, 2 unreadable input; `--json`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

mod common;

#[allow(unused_imports)]
use common::{Run, assert_rejected, shomei, vectors};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shomei-dcap-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A PCS-format collateral directory: (file name in the directory, vector path).
fn pcs_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = tmp(name);
    let v = vectors();
    for (to, from) in files {
        std::fs::copy(v.join(from), d.join(to)).unwrap();
    }
    d
}

fn dcap_rs_dir(name: &str) -> PathBuf {
    let s = "dcap/dcap-rs-tdx/";
    pcs_dir(
        name,
        &[
            ("tcb_info.json", &format!("{s}tcbinfov3_00806f050000.json")),
            ("qe_identity.json", &format!("{s}qeidentityv2_apiv4.json")),
            ("pck_crl.der", &format!("{s}pck_platform_crl.der")),
            ("root_ca_crl.der", &format!("{s}intel_root_ca_crl.der")),
            (
                "tcb_info_issuer_chain.pem",
                &format!("{s}tcb_signing_cert.pem"),
            ),
            ("pck_crl_issuer_chain.pem", &format!("{s}pck_certchain.pem")),
        ],
    )
}

fn sample_dir(name: &str) -> PathBuf {
    let s = "dcap/intel-qvl-sample-sgx/";
    let d = pcs_dir(
        name,
        &[
            ("tcb_info.json", &format!("{s}tcbInfo.json")),
            ("qe_identity.json", &format!("{s}qeIdentity.json")),
            ("pck_crl.pem", &format!("{s}intermediateCaCrl.pem")),
            ("root_ca_crl.pem", &format!("{s}rootCaCrl.pem")),
            ("tcb_info_issuer_chain.pem", &format!("{s}tcbSignChain.pem")),
            ("pck_crl_issuer_chain.pem", &format!("{s}pckSignChain.pem")),
        ],
    );
    let v = vectors();
    let mut pck = std::fs::read(v.join(format!("{s}pckCert.pem"))).unwrap();
    pck.extend(std::fs::read(v.join(format!("{s}pckSignChain.pem"))).unwrap());
    std::fs::write(d.join("pck_cert_chain.pem"), pck).unwrap();
    d
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

const SGX: [&str; 4] = [
    "dcap",
    "verify",
    "V:dcap/dcap-qvl/sgx_quote",
    "--collateral=V:dcap/dcap-qvl/sgx_quote_collateral.json",
];

fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    v.extend_from_slice(more);
    v
}

fn fix_eq(v: &[&str]) -> Vec<String> {
    // "--collateral=V:x" → "--collateral", "V:x" so the V: prefix is expanded.
    v.iter()
        .flat_map(|a| match a.split_once('=') {
            Some((k, val)) if k.starts_with("--") => vec![k.to_owned(), val.to_owned()],
            _ => vec![(*a).to_owned()],
        })
        .collect()
}

fn run(v: &[&str]) -> Run {
    let owned = fix_eq(v);
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    shomei(&refs)
}

#[test]
fn tdx_v4_is_up_to_date_and_accepted() {
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "1751328000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("verified: TDX quote v4"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("TCB status UpToDate"));
    let j = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "2025-07-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(j.code, 0);
    let j = j.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["status"], "UpToDate");
    assert_eq!(j["tee"], "tdx");
    assert_eq!(j["advisory_ids"], serde_json::json!([]));
    assert_eq!(j["td"]["mr_td"].as_str().map(str::len), Some(96));
    assert_eq!(j["claims"]["collateral_expired"], false);
    assert_eq!(j["claims"]["trust_anchor_is_intel"], true);
}

#[test]
fn sgx_v3_is_configuration_and_sw_hardening_needed() {
    let at = ["--at", "1751328000"];
    // The default policy accepts only UpToDate.
    let r = run(&args(&SGX, &at));
    assert_rejected(&r, "tcb_status");
    assert!(r.stderr.contains("ConfigurationAndSWHardeningNeeded"));
    let r = run(&args(
        &SGX,
        &[
            "--at",
            "1751328000",
            "--accept-status",
            "ConfigurationAndSWHardeningNeeded",
            "--json",
        ],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["status"], "ConfigurationAndSWHardeningNeeded");
    assert_eq!(
        j["advisory_ids"],
        serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(j["tee"], "sgx");
    assert_eq!(j["claims"]["tcb"]["qe_status"], "UpToDate");
    assert_eq!(j["enclave"]["mr_enclave"].as_str().map(str::len), Some(64));
}

#[test]
fn tdx_v5_has_no_matching_tcb_level() {
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote_outdated",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_outdated_collateral.json",
        "--at",
        "1772323200",
    ]);
    assert_rejected(&r, "tcb_not_supported");
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote_outdated",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_outdated_collateral.json",
        "--at",
        "1772323200",
        "--json",
    ]);
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["rejection"]["check"], "tcb_not_supported");
}

#[test]
fn dcap_rs_tdx_from_a_pcs_directory_is_out_of_date() {
    let d = dcap_rs_dir("dcap-rs");
    let base = [
        "dcap",
        "verify",
        "V:dcap/dcap-rs-tdx/quote_tdx_00806f050000.dat",
        "--collateral",
    ];
    let dir = s(&d);
    let r = run(&args(&base, &[&dir, "--at", "1740787200"]));
    assert_rejected(&r, "tcb_status");
    assert!(r.stderr.contains("OutOfDate"), "{}", r.stderr);
    let r = run(&args(
        &base,
        &[
            &dir,
            "--at",
            "1740787200",
            "--accept-status",
            "OutOfDate",
            "--json",
        ],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["status"], "OutOfDate");
    assert_eq!(
        j["advisory_ids"],
        serde_json::json!(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
    );
    // Advisory deny list.
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        "accepted_statuses = [\"OutOfDate\"]\ndenied_advisories = [\"INTEL-SA-00982\"]\n",
    )
    .unwrap();
    let p = s(&policy);
    let r = run(&args(&base, &[&dir, "--at", "1740787200", "--policy", &p]));
    assert_rejected(&r, "advisory");
    assert!(r.stderr.contains("INTEL-SA-00982"));
    // A PCS directory without tcb_info.json is an input error.
    std::fs::remove_file(d.join("tcb_info.json")).unwrap();
    let r = run(&args(&base, &[&dir, "--at", "1740787200"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("tcb_info.json"), "{}", r.stderr);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn intel_sample_verifies_only_under_its_named_root() {
    let d = sample_dir("sample");
    let dir = s(&d);
    let base = [
        "dcap",
        "verify",
        "V:dcap/intel-qvl-sample-sgx/quote.dat",
        "--collateral",
    ];
    let r = run(&args(
        &base,
        &[
            &dir,
            "--at",
            "2024-01-01",
            "--root",
            "V:dcap/intel-qvl-sample-sgx/trustedRootCaCert.pem",
        ],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("TCB status UpToDate"), "{}", r.stdout);
    assert!(
        r.stdout.contains("not the Intel SGX Root CA"),
        "{}",
        r.stdout
    );
    // The fake root is never trusted by default.
    let r = run(&args(&base, &[&dir, "--at", "2024-01-01"]));
    assert_rejected(&r, "root_of_trust");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn expired_collateral_is_reported_and_refused_by_default() {
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "2026-06-01T00:00:00Z",
        "--json",
    ]);
    assert_rejected(&r, "collateral_expired");
    let j = r.json();
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["status"], "UpToDate");
    assert_eq!(j["claims"]["collateral_expired"], true);
    let expired = j["claims"]["collateral"]["expired"].as_array().unwrap();
    assert!(
        expired.contains(&serde_json::json!("tcb_info")),
        "{expired:?}"
    );
    // Before the collateral existed: rejected.
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "2025-01-01",
    ]);
    assert_rejected(&r, "not_yet_valid");
}

#[test]
fn reference_values_come_from_the_policy() {
    let d = tmp("refvals");
    let quote = [
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "1751328000",
    ];
    let j = run(&args(&quote, &["--json"])).json();
    let mr_td = j["td"]["mr_td"].as_str().unwrap().to_owned();
    let rtmr0 = j["td"]["rtmr0"].as_str().unwrap().to_owned();
    let good = d.join("good.toml");
    std::fs::write(
        &good,
        format!(
            "mr_td = [\"{mr_td}\"]\nrtmr0 = [\"{rtmr0}\"]\nrtmr3 = [\"{}\"]\n",
            "00".repeat(48)
        ),
    )
    .unwrap();
    let g = s(&good);
    let r = run(&args(&quote, &["--policy", &g]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bad = d.join("bad.toml");
    std::fs::write(&bad, format!("rtmr1 = [\"{}\"]\n", "11".repeat(48))).unwrap();
    let b = s(&bad);
    let r = run(&args(&quote, &["--policy", &b]));
    assert_rejected(&r, "rtmr1");
    // An SGX reference value against a TD quote is a violation, not silently ignored.
    let sgx = d.join("sgx.toml");
    std::fs::write(&sgx, format!("mr_enclave = [\"{}\"]\n", "00".repeat(32))).unwrap();
    let x = s(&sgx);
    let r = run(&args(&quote, &["--policy", &x]));
    assert_rejected(&r, "tee");
    // An unknown key is an input error.
    std::fs::write(&bad, "allow_anything = true\n").unwrap();
    let r = run(&args(&quote, &["--policy", &b]));
    assert_eq!(r.code, 2);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn unreadable_input_exits_2() {
    let d = tmp("input");
    let r = run(&[
        "dcap",
        "verify",
        "/nonexistent/quote",
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
    ]);
    assert_eq!(r.code, 2);
    // A truncated quote is a parse error naming the field and offset.
    let q = std::fs::read(vectors().join("dcap/dcap-qvl/tdx_quote")).unwrap();
    let short = d.join("short");
    std::fs::write(&short, &q[..1000]).unwrap();
    let r = run(&[
        "dcap",
        "verify",
        &s(&short),
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "1751328000",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("offset"), "{}", r.stderr);
    // Hex text is read as the quote.
    let hexed = d.join("quote.hex");
    std::fs::write(&hexed, hex::encode(&q)).unwrap();
    let r = run(&[
        "dcap",
        "verify",
        &s(&hexed),
        "--collateral",
        "V:dcap/dcap-qvl/tdx_quote_collateral.json",
        "--at",
        "1751328000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Collateral that is not dcap-qvl JSON.
    let r = run(&[
        "dcap",
        "verify",
        "V:dcap/dcap-qvl/tdx_quote",
        "--collateral",
        "V:dcap/dcap-qvl/TrustedRootCA.der",
    ]);
    assert_eq!(r.code, 2);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn an_emulated_tdx_quote_verifies_only_under_the_named_test_root() {
    use shomei_dcap_emu::{AT, EmulatedPlatform, QuoteBody, Td};
    let p = EmulatedPlatform::tdx().unwrap();
    let d = tmp("emulated");
    for (name, bytes) in p.pcs_files().unwrap() {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let mut td = Td::new(b"image");
    td.extend(2, 1, b"app").unwrap();
    let quote = p.quote(5, &QuoteBody::Td15(td.report15([9; 64]))).unwrap();
    std::fs::write(d.join("quote.bin"), &quote).unwrap();
    std::fs::write(d.join("root.pem"), p.root_pem().unwrap()).unwrap();
    let (q, dir, root) = (s(&d.join("quote.bin")), s(&d), s(&d.join("root.pem")));
    let at = AT.secs().to_string();
    let r = run(&[
        "dcap",
        "verify",
        &q,
        "--collateral",
        &dir,
        "--at",
        &at,
        "--root",
        &root,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["status"], "UpToDate");
    assert_eq!(j["td"]["rtmr2"], hex::encode(td.rtmr[2]));
    assert_eq!(j["td"]["tee_tcb_svn2"].as_str().map(str::len), Some(32));
    assert_eq!(j["claims"]["trust_anchor_is_intel"], false);
    let r = run(&["dcap", "verify", &q, "--collateral", &dir, "--at", &at]);
    assert_rejected(&r, "root_of_trust");
    std::fs::remove_dir_all(&d).ok();
}

/// One route of the test PCCS: path (with query), headers, body.
type Route = (String, Vec<(String, String)>, Vec<u8>);

/// A PCCS-compatible server on 127.0.0.1 serving `routes`.
fn pccs(routes: Vec<Route>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).ok();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                    break;
                }
            }
            let (status, headers, body) = match routes.iter().find(|r| r.0 == path) {
                Some((_, h, b)) => (200, h.clone(), b.clone()),
                None => (404, Vec::new(), Vec::new()),
            };
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).ok();
            stream.write_all(&body).ok();
        }
    });
    base
}

fn urlencode(b: &[u8]) -> String {
    b.iter()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from(*c).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

#[test]
fn collateral_is_fetched_from_a_pccs_cached_and_used_offline() {
    use shomei_dcap_emu::{AT, EmulatedPlatform, QuoteBody, Td};
    let p = EmulatedPlatform::tdx().unwrap();
    let files: std::collections::HashMap<&str, Vec<u8>> =
        p.pcs_files().unwrap().into_iter().collect();
    let chain = urlencode(&files["tcb_info_issuer_chain.pem"]);
    let base = pccs(vec![
        (
            "/tdx/certification/v4/tcb?fmspc=50806F000000".into(),
            vec![("TCB-Info-Issuer-Chain".into(), chain.clone())],
            files["tcb_info.json"].clone(),
        ),
        (
            "/tdx/certification/v4/qe/identity".into(),
            vec![("SGX-Enclave-Identity-Issuer-Chain".into(), chain)],
            files["qe_identity.json"].clone(),
        ),
        (
            "/sgx/certification/v4/pckcrl?ca=platform&encoding=der".into(),
            vec![(
                "SGX-PCK-CRL-Issuer-Chain".into(),
                urlencode(&files["pck_crl_issuer_chain.pem"]),
            )],
            files["pck_crl.der"].clone(),
        ),
        (
            "/sgx/certification/v4/rootcacrl".into(),
            Vec::new(),
            hex::encode(&files["root_ca_crl.der"]).into_bytes(),
        ),
    ]);
    let d = tmp("pccs");
    let quote = p
        .quote(4, &QuoteBody::Td10(Td::new(b"image").report([0; 64])))
        .unwrap();
    std::fs::write(d.join("quote.bin"), &quote).unwrap();
    std::fs::write(d.join("root.pem"), p.root_pem().unwrap()).unwrap();
    let (q, root, cache) = (
        s(&d.join("quote.bin")),
        s(&d.join("root.pem")),
        s(&d.join("cache")),
    );
    let at = AT.secs().to_string();
    let r = run(&[
        "dcap",
        "fetch",
        &q,
        "--pcs-url",
        &base,
        "--pcs-cache",
        &cache,
        "--root",
        &root,
        "--at",
        &at,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = r.stdout.trim().to_owned();
    assert!(dir.ends_with("tdx/50806F000000/platform"), "{dir}");
    let r = run(&[
        "dcap",
        "verify",
        &q,
        "--collateral",
        &dir,
        "--root",
        &root,
        "--at",
        &at,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "dcap",
        "verify",
        &q,
        "--fetch",
        "--offline",
        "--pcs-cache",
        &cache,
        "--root",
        &root,
        "--at",
        &at,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Under Intel's root the test collateral is refused before anything is cached.
    let r = run(&[
        "dcap",
        "fetch",
        &q,
        "--pcs-url",
        &base,
        "--pcs-cache",
        &s(&d.join("cache2")),
        "--at",
        &at,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!d.join("cache2").exists());
    std::fs::remove_dir_all(&d).ok();
}
