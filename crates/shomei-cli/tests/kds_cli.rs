//! `shomei snp fetch` and `snp verify` with the KDS cache, against a real HTTP server (Python's
//! http.server) serving the real certificates at KDS paths.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn vectors() -> PathBuf {
    shomei_core::vectors::locate().unwrap_or_else(|e| panic!("{e}"))
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn serve(root: &Path) -> Server {
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 is needed for this test");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

fn shomei(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shomei"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kds_tree(dir: &Path) {
    let v = vectors();
    let report = std::fs::read(v.join("snp/milan-v2/report.bin")).unwrap();
    let milan_hwid = hex::encode(&report[0x1A0..0x1E0]);
    let turin_report = std::fs::read(v.join("snp/turin-v5/report.bin")).unwrap();
    let turin_hwid = hex::encode(&turin_report[0x1A0..0x1A8]);
    for (rel, src) in [
        (
            format!("vcek/v1/Milan/{milan_hwid}"),
            "snp/milan-v2/vcek.der",
        ),
        (
            format!("vcek/v1/Turin/{turin_hwid}"),
            "snp/turin-v5/vcek.der",
        ),
        (
            "vcek/v1/Milan/cert_chain".to_owned(),
            "snp/roots/ask_ark_milan.pem",
        ),
    ] {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(v.join(src), &p).unwrap();
    }
}

#[test]
fn fetched_vceks_are_cached_and_verify_offline() {
    let tmp = std::env::temp_dir().join(format!("shomei-kds-cli-{}", std::process::id()));
    let (www, cache) = (tmp.join("www"), tmp.join("cache"));
    std::fs::remove_dir_all(&tmp).ok();
    kds_tree(&www);
    let server = serve(&www);
    let cache_s = cache.display().to_string();
    let v = vectors();
    // A v2 report does not name its product: the user gives it (the CPUID bytes come with v3).
    let milan = v.join("snp/milan-v2/report.bin").display().to_string();
    let (code, _, err) = shomei(&[
        "snp",
        "fetch",
        "vcek",
        &milan,
        "--kds-url",
        &server.url,
        "--cache",
        &cache_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("product"), "{err}");
    for (report, product, at, url_part) in [
        (
            "snp/milan-v2/report.bin",
            Some("milan"),
            "2025-06-01",
            "/vcek/v1/Milan/d49554ec717f4e5b",
        ),
        (
            "snp/turin-v5/report.bin",
            None,
            "2026-11-01",
            "/vcek/v1/Turin/6bb1229b7692b710?fmcSPL=01&blSPL=01&teeSPL=01&snpSPL=04&ucodeSPL=82",
        ),
    ] {
        let rp = v.join(report).display().to_string();
        let with_product = |mut args: Vec<String>| {
            if let Some(p) = product {
                args.extend(["--product".to_owned(), p.to_owned()]);
            }
            args
        };
        let run = |args: Vec<String>| {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            shomei(&refs)
        };
        let s = |x: &str| x.to_owned();
        // Offline with a cold cache: an input error that says what to do.
        let (code, _, err) = run(with_product(vec![
            s("snp"),
            s("verify"),
            rp.clone(),
            s("--cache"),
            cache_s.clone(),
            s("--at"),
            s(at),
        ]));
        assert_eq!(code, 2, "{err}");
        let (code, out, err) = run(with_product(vec![
            s("snp"),
            s("fetch"),
            s("vcek"),
            rp.clone(),
            s("--kds-url"),
            server.url.clone(),
            s("--cache"),
            cache_s.clone(),
        ]));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(url_part), "{out}");
        // Now verification finds the VCEK in the cache without any network.
        let (code, out, err) = run(with_product(vec![
            s("snp"),
            s("verify"),
            rp.clone(),
            s("--cache"),
            cache_s.clone(),
            s("--offline"),
            s("--at"),
            s(at),
        ]));
        assert_eq!(code, 0, "{out}{err}");
    }
    let out_pem = tmp.join("chain.pem").display().to_string();
    let (code, _, err) = shomei(&[
        "snp",
        "fetch",
        "cert-chain",
        "--product",
        "milan",
        "--kds-url",
        &server.url,
        "--cache",
        &cache_s,
        "-o",
        &out_pem,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out_pem)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    // Nothing served for Genoa: a clear error, exit 2.
    let (code, _, err) = shomei(&[
        "snp",
        "fetch",
        "cert-chain",
        "--product",
        "genoa",
        "--kds-url",
        &server.url,
        "--cache",
        &cache_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("404"), "{err}");
    drop(server);
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn verify_with_fetch_downloads_the_missing_vcek() {
    let tmp = std::env::temp_dir().join(format!("shomei-kds-cli2-{}", std::process::id()));
    std::fs::remove_dir_all(&tmp).ok();
    kds_tree(&tmp.join("www"));
    let server = serve(&tmp.join("www"));
    let rp = vectors()
        .join("snp/milan-v2/report.bin")
        .display()
        .to_string();
    let cache = tmp.join("cache").display().to_string();
    // --fetch also asks for the CRL, which this server does not have: exit 2, naming it.
    let (code, _, err) = shomei(&[
        "snp",
        "verify",
        &rp,
        "--product",
        "milan",
        "--fetch",
        "--kds-url",
        &server.url,
        "--cache",
        &cache,
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/vcek/v1/Milan/crl"), "{err}");
    // The VCEK it fetched on the way is cached.
    let (code, _, err) = shomei(&[
        "snp",
        "verify",
        &rp,
        "--product",
        "milan",
        "--offline",
        "--cache",
        &cache,
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}
