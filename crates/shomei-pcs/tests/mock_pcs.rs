//! The PCS client against a local PCS-compatible server serving the emulator's collateral
//! (issuer chains URL-encoded in headers, the Root CA CRL in hex as PCCS serves it).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use shomei_core::UnixTime;
use shomei_dcap::{TcbStatus, VerifyOptions, verify};
use shomei_dcap_emu::{AT, EmulatedPlatform, QuoteBody, Td};
use shomei_pcs::{CollateralRequest, Mode, PckCa, PcsClient, PcsConfig, PcsError};

type Routes = Arc<Mutex<HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>>>;

struct Server {
    base: String,
    routes: Routes,
    hits: Arc<AtomicUsize>,
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes: Routes = Arc::default();
    let hits = Arc::new(AtomicUsize::new(0));
    let (r, h) = (routes.clone(), hits.clone());
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
            h.fetch_add(1, Ordering::SeqCst);
            let (status, headers, body) = r.lock().unwrap().get(&path).cloned().unwrap_or((
                404,
                Vec::new(),
                b"not found".to_vec(),
            ));
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
    Server { base, routes, hits }
}

fn urlencode(b: &[u8]) -> String {
    b.iter()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-_.~".contains(c) {
                char::from(*c).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

/// Publishes the platform's collateral on the server, PCCS-style.
fn publish(s: &Server, p: &EmulatedPlatform) {
    let files: HashMap<&str, Vec<u8>> = p.pcs_files().unwrap().into_iter().collect();
    let chain = urlencode(&files["tcb_info_issuer_chain.pem"]);
    let crl_chain = urlencode(&files["pck_crl_issuer_chain.pem"]);
    let mut r = s.routes.lock().unwrap();
    r.insert(
        "/tdx/certification/v4/tcb?fmspc=50806F000000".into(),
        (
            200,
            vec![("TCB-Info-Issuer-Chain".into(), chain.clone())],
            files["tcb_info.json"].clone(),
        ),
    );
    r.insert(
        "/tdx/certification/v4/qe/identity".into(),
        (
            200,
            vec![("SGX-Enclave-Identity-Issuer-Chain".into(), chain)],
            files["qe_identity.json"].clone(),
        ),
    );
    r.insert(
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der".into(),
        (
            200,
            vec![("SGX-PCK-CRL-Issuer-Chain".into(), crl_chain)],
            files["pck_crl.der"].clone(),
        ),
    );
    r.insert(
        "/sgx/certification/v4/rootcacrl".into(),
        (
            200,
            Vec::new(),
            hex::encode(&files["root_ca_crl.der"]).into_bytes(),
        ),
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shomei-pcs-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

fn client(s: &Server, cache: &std::path::Path, mode: Mode) -> PcsClient {
    PcsClient::new(
        PcsConfig::pccs(&s.base)
            .with_cache_dir(Some(cache.to_owned()))
            .with_mode(mode),
    )
}

fn quote(p: &EmulatedPlatform) -> Vec<u8> {
    p.quote(4, &QuoteBody::Td10(Td::new(b"img").report([0; 64])))
        .unwrap()
}

#[test]
fn the_request_comes_from_the_quote() {
    let p = EmulatedPlatform::tdx().unwrap();
    let r = CollateralRequest::from_quote(&quote(&p)).unwrap();
    assert_eq!(r.tee, shomei_dcap::Tee::Tdx);
    assert_eq!(r.fmspc, [0x50, 0x80, 0x6f, 0, 0, 0]);
    assert_eq!(r.ca, PckCa::Platform);
    // And from a real quote: the dcap-qvl SGX vector's PCK is issued by the Processor CA.
    let real = shomei_core::vectors::read("dcap/dcap-qvl/sgx_quote").unwrap();
    let r = CollateralRequest::from_quote(&real).unwrap();
    assert_eq!((r.tee, r.ca), (shomei_dcap::Tee::Sgx, PckCa::Processor));
    assert_eq!(hex::encode_upper(r.fmspc), "00A067110000");
}

#[test]
fn fetched_collateral_verifies_is_cached_and_serves_offline() {
    let s = serve();
    let p = EmulatedPlatform::tdx().unwrap();
    publish(&s, &p);
    let anchor = p.anchor().unwrap();
    let cache = tmp("fetch");
    let q = quote(&p);
    let req = CollateralRequest::from_quote(&q).unwrap();

    let (c, dir) = client(&s, &cache, Mode::Online)
        .collateral(&req, &anchor, AT)
        .unwrap();
    assert_eq!(s.hits.load(Ordering::SeqCst), 4);
    let v = verify(&q, &c, &VerifyOptions::at(AT).with_anchor(&anchor)).unwrap();
    assert_eq!(v.status(), TcbStatus::UpToDate);
    let dir = dir.unwrap();
    assert_eq!(dir, cache.join("tdx").join("50806F000000").join("platform"));
    for f in shomei_pcs::FILES {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // Online again: served from the cache, no request.
    client(&s, &cache, Mode::Online)
        .collateral(&req, &anchor, AT)
        .unwrap();
    assert_eq!(s.hits.load(Ordering::SeqCst), 4);
    // Offline: the cache alone.
    s.routes.lock().unwrap().clear();
    let (c2, _) = client(&s, &cache, Mode::Offline)
        .collateral(&req, &anchor, AT)
        .unwrap();
    assert!(verify(&q, &c2, &VerifyOptions::at(AT).with_anchor(&anchor)).is_ok());
    // Refresh: always asks (and the server now has nothing).
    let e = client(&s, &cache, Mode::Refresh)
        .collateral(&req, &anchor, AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::Http { status: 404, .. }), "{e}");
    // Under another root, the cached set is refused.
    let other = EmulatedPlatform::tdx().unwrap().anchor().unwrap();
    let e = client(&s, &cache, Mode::Offline)
        .collateral(&req, &other, AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::InvalidCache { .. }), "{e}");
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn tampered_collateral_is_not_cached() {
    let s = serve();
    let p = EmulatedPlatform::tdx().unwrap();
    publish(&s, &p);
    {
        let mut r = s.routes.lock().unwrap();
        let e = r
            .get_mut("/tdx/certification/v4/tcb?fmspc=50806F000000")
            .unwrap();
        let text = String::from_utf8(e.2.clone()).unwrap();
        e.2 = text.replace("\"UpToDate\"", "\"OutOfDate\"").into_bytes();
    }
    let cache = tmp("tampered");
    let q = quote(&p);
    let req = CollateralRequest::from_quote(&q).unwrap();
    let e = client(&s, &cache, Mode::Online)
        .collateral(&req, &p.anchor().unwrap(), AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::Invalid(_)), "{e}");
    assert!(!cache.exists());
}

#[test]
fn a_missing_issuer_chain_header_is_an_error() {
    let s = serve();
    let p = EmulatedPlatform::tdx().unwrap();
    publish(&s, &p);
    s.routes
        .lock()
        .unwrap()
        .get_mut("/tdx/certification/v4/qe/identity")
        .unwrap()
        .1
        .clear();
    let cache = tmp("header");
    let req = CollateralRequest::from_quote(&quote(&p)).unwrap();
    let e = client(&s, &cache, Mode::Online)
        .collateral(&req, &p.anchor().unwrap(), AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::MissingHeader { .. }), "{e}");
}

#[test]
fn offline_without_a_cache_or_after_expiry_fails() {
    let s = serve();
    let p = EmulatedPlatform::tdx().unwrap();
    publish(&s, &p);
    let anchor = p.anchor().unwrap();
    let cache = tmp("offline");
    let req = CollateralRequest::from_quote(&quote(&p)).unwrap();
    let e = client(&s, &cache, Mode::Offline)
        .collateral(&req, &anchor, AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::NotCached(_)), "{e}");
    client(&s, &cache, Mode::Online)
        .collateral(&req, &anchor, AT)
        .unwrap();
    let late = UnixTime(AT.secs() + 60 * 24 * 3600);
    let e = client(&s, &cache, Mode::Offline)
        .collateral(&req, &anchor, late)
        .unwrap_err();
    assert!(matches!(e, PcsError::Expired(_)), "{e}");
    // Online after expiry asks again.
    let before = s.hits.load(Ordering::SeqCst);
    client(&s, &cache, Mode::Online)
        .collateral(&req, &anchor, late)
        .unwrap();
    assert_eq!(s.hits.load(Ordering::SeqCst), before + 4);
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn tcb_info_for_another_platform_is_refused() {
    let s = serve();
    let mut p = EmulatedPlatform::tdx().unwrap();
    let req = CollateralRequest::from_quote(&quote(&p)).unwrap();
    // Validly signed, but for FMSPC 50806F000001, served at the URL for 50806F000000.
    p.tcb_info.fmspc[5] = 1;
    publish(&s, &p);
    let cache = tmp("fmspc");
    let e = client(&s, &cache, Mode::Online)
        .collateral(&req, &p.anchor().unwrap(), AT)
        .unwrap_err();
    assert!(matches!(e, PcsError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("50806F000001"), "{e}");
    assert!(!cache.exists());
}
