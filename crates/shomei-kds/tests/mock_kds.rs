//! `shomei-kds` against a mock KDS on 127.0.0.1 that serves the real vectors at the URLs AMD's
//! KDS uses. The expected URLs are computed here independently of `shomei_snp::kds`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{MockKds, Reply, ScratchDir, read};
use der::Encode;
use der::asn1::{BitString, UtcTime};
use shomei_core::UnixTime;
use shomei_core::x509::Crl;
use shomei_kds::{KdsClient, KdsConfig, KdsError, Mode, VcekRequest};
use shomei_snp::{Product, SigningKey, Tcb, TrustAnchors, VerifyOptions, verify};

const MILAN_REPORT: &str = "snp/milan-v2/report.bin";
const MILAN_VCEK: &str = "snp/milan-v2/vcek.der";
const TURIN_REPORT: &str = "snp/turin-v5/report.bin";
const TURIN_VCEK: &str = "snp/turin-v5/vcek.der";
const MILAN_CHAIN: &str = "snp/roots/ask_ark_milan.pem";

const TURIN_PATH: &str =
    "/vcek/v1/Turin/6bb1229b7692b710?fmcSPL=01&blSPL=01&teeSPL=01&snpSPL=04&ucodeSPL=82";

fn t(s: &str) -> UnixTime {
    s.parse().unwrap()
}

fn milan_at() -> UnixTime {
    t("2025-06-01T00:00:00Z")
}

fn turin_at() -> UnixTime {
    t("2026-11-01T00:00:00Z")
}

/// `/vcek/v1/Milan/{CHIP_ID as 128 hex digits}?...`, the CHIP_ID read at report offset 0x1A0.
fn milan_path() -> String {
    let report = read(MILAN_REPORT);
    let chip_id: String = report[0x1A0..0x1E0]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(chip_id.len(), 128);
    format!("/vcek/v1/Milan/{chip_id}?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115")
}

/// A KDS serving both real VCEKs and the Milan chain; 404 for everything else.
fn real_kds() -> MockKds {
    MockKds::routes(vec![
        (milan_path(), read(MILAN_VCEK)),
        (TURIN_PATH.to_owned(), read(TURIN_VCEK)),
        ("/vcek/v1/Milan/cert_chain".to_owned(), read(MILAN_CHAIN)),
    ])
}

/// Fast retries, a short timeout, the mock's URL, and a cache in `dir`.
fn config(kds: &MockKds, dir: Option<&ScratchDir>) -> KdsConfig {
    KdsConfig::default()
        .with_base_url(kds.base_url.clone())
        .with_cache_dir(dir.map(|d| d.path().to_path_buf()))
        .with_timeout(Duration::from_secs(10))
        .with_retry_after_cap(Duration::from_millis(20))
}

fn client(kds: &MockKds, dir: Option<&ScratchDir>) -> KdsClient {
    KdsClient::new(config(kds, dir)).unwrap()
}

fn milan_request() -> VcekRequest {
    VcekRequest::from_report(&read(MILAN_REPORT), Some(Product::Milan)).unwrap()
}

#[test]
fn milan_vcek_is_fetched_from_the_exact_kds_url_and_verifies() {
    let kds = real_kds();
    let dir = ScratchDir::new("milan");
    let c = client(&kds, Some(&dir));
    let report = read(MILAN_REPORT);

    let collateral = c
        .collateral_for_report(&report, Some(Product::Milan), false, milan_at())
        .unwrap();
    assert_eq!(kds.requests(), vec![milan_path()]);
    assert_eq!(collateral.certificates.len(), 1);
    assert_eq!(
        collateral.certificates[0].der(),
        read(MILAN_VCEK).as_slice()
    );
    let verified = verify(&report, &collateral, &VerifyOptions::at(milan_at())).unwrap();
    assert_eq!(verified.product(), Product::Milan);
    assert_eq!(verified.signer().kind, SigningKey::Vcek);

    // Cached under {product}/vcek/{hwid}/bl.._tee.._snp.._ucode...der, bytes as received.
    let hwid = &milan_path()["/vcek/v1/Milan/".len().."/vcek/v1/Milan/".len() + 128];
    let rel = format!("milan/vcek/{hwid}/bl03_tee00_snp08_ucode115.der");
    assert_eq!(dir.files(), vec![rel.clone()]);
    assert_eq!(
        std::fs::read(dir.path().join(&rel)).unwrap(),
        read(MILAN_VCEK)
    );
    let req = milan_request();
    assert_eq!(
        c.vcek_cache_file(req.product, &req.chip_id, &req.tcb),
        Some(dir.path().join(&rel))
    );
}

#[test]
fn turin_vcek_uses_the_8_byte_hwid_and_fmc_and_verifies() {
    let kds = real_kds();
    let dir = ScratchDir::new("turin");
    let c = client(&kds, Some(&dir));
    let report = read(TURIN_REPORT);

    // Report v5: the product comes from CPUID.
    let collateral = c
        .collateral_for_report(&report, None, false, turin_at())
        .unwrap();
    assert_eq!(kds.requests(), vec![TURIN_PATH.to_owned()]);
    let verified = verify(&report, &collateral, &VerifyOptions::at(turin_at())).unwrap();
    assert_eq!(verified.product(), Product::Turin);
    assert_eq!(
        dir.files(),
        vec!["turin/vcek/6bb1229b7692b710/fmc01_bl01_tee01_snp04_ucode82.der".to_owned()]
    );
}

#[test]
fn second_fetch_is_served_from_the_cache() {
    let kds = real_kds();
    let dir = ScratchDir::new("second");
    let report = read(TURIN_REPORT);
    let first = client(&kds, Some(&dir))
        .collateral_for_report(&report, None, false, turin_at())
        .unwrap();
    assert_eq!(kds.requests().len(), 1);
    // The same client and a new one over the same directory both use the cache.
    let c = client(&kds, Some(&dir));
    for _ in 0..2 {
        let again = c
            .collateral_for_report(&report, None, false, turin_at())
            .unwrap();
        assert_eq!(again.certificates, first.certificates);
    }
    let req = VcekRequest::from_report(&report, None).unwrap();
    assert_eq!(
        c.vcek(req.product, &req.chip_id, &req.tcb).unwrap(),
        read(TURIN_VCEK)
    );
    assert_eq!(kds.requests().len(), 1, "served from the cache");
}

#[test]
fn without_a_cache_every_fetch_goes_to_the_kds() {
    let kds = real_kds();
    let c = client(&kds, None);
    let req = milan_request();
    for _ in 0..2 {
        assert_eq!(
            c.vcek(req.product, &req.chip_id, &req.tcb).unwrap(),
            read(MILAN_VCEK)
        );
    }
    assert_eq!(kds.requests().len(), 2);
}

#[test]
fn offline_mode_works_from_a_warm_cache() {
    let dir = ScratchDir::new("offline-warm");
    {
        let kds = real_kds();
        client(&kds, Some(&dir))
            .collateral_for_report(&read(MILAN_REPORT), Some(Product::Milan), false, milan_at())
            .unwrap();
        client(&kds, Some(&dir))
            .cert_chain(Product::Milan, SigningKey::Vcek)
            .unwrap();
    }
    // A server that must never be asked.
    let kds = MockKds::start(|_, _| Reply::status(500));
    let c = KdsClient::new(config(&kds, Some(&dir)).with_mode(Mode::Offline)).unwrap();
    let report = read(MILAN_REPORT);
    let collateral = c
        .collateral_for_report(&report, Some(Product::Milan), false, milan_at())
        .unwrap();
    verify(&report, &collateral, &VerifyOptions::at(milan_at())).unwrap();
    let chain = c.cert_chain(Product::Milan, SigningKey::Vcek).unwrap();
    assert_eq!(chain.len(), 2);
    assert!(kds.requests().is_empty());
}

#[test]
fn offline_mode_on_a_cold_cache_is_not_cached() {
    let kds = real_kds();
    let dir = ScratchDir::new("offline-cold");
    let c = KdsClient::new(config(&kds, Some(&dir)).with_mode(Mode::Offline)).unwrap();
    let err = c
        .collateral_for_report(&read(MILAN_REPORT), Some(Product::Milan), false, milan_at())
        .unwrap_err();
    match &err {
        KdsError::NotCached { path } => {
            assert!(path.starts_with(dir.path()), "{}", path.display());
            assert!(path.ends_with("bl03_tee00_snp08_ucode115.der"));
        }
        other => panic!("expected NotCached, got {other:?}"),
    }
    assert!(err.is_unavailable());
    assert!(matches!(
        c.cert_chain(Product::Milan, SigningKey::Vcek),
        Err(KdsError::NotCached { .. })
    ));
    assert!(matches!(
        c.crl(Product::Milan, SigningKey::Vcek, milan_at()),
        Err(KdsError::NotCached { .. })
    ));
    assert!(kds.requests().is_empty());
    assert!(dir.files().is_empty());
}

#[test]
fn offline_mode_without_a_cache_dir_is_a_config_error() {
    let kds = real_kds();
    let r = KdsClient::new(config(&kds, None).with_mode(Mode::Offline));
    assert!(matches!(r, Err(KdsError::Config(_))), "{r:?}");
}

#[test]
fn a_429_with_retry_after_zero_then_200_succeeds() {
    let vcek = read(MILAN_VCEK);
    let path = milan_path();
    let kds = MockKds::start(move |target, seen| {
        if target != path {
            Reply::status(404)
        } else if seen == 0 {
            Reply::status(429).header("Retry-After", "0")
        } else {
            Reply::ok(vcek.clone())
        }
    });
    let dir = ScratchDir::new("429-once");
    let report = read(MILAN_REPORT);
    let collateral = client(&kds, Some(&dir))
        .collateral_for_report(&report, Some(Product::Milan), false, milan_at())
        .unwrap();
    verify(&report, &collateral, &VerifyOptions::at(milan_at())).unwrap();
    assert_eq!(kds.requests(), vec![milan_path(), milan_path()]);
}

#[test]
fn retry_after_is_capped() {
    // The server asks for an hour; the cap (20 ms here) wins.
    let vcek = read(MILAN_VCEK);
    let kds = MockKds::start(move |_, seen| {
        if seen == 0 {
            Reply::status(429).header("Retry-After", "3600")
        } else {
            Reply::ok(vcek.clone())
        }
    });
    let req = milan_request();
    let started = std::time::Instant::now();
    client(&kds, None)
        .vcek(req.product, &req.chip_id, &req.tcb)
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(kds.requests().len(), 2);
}

#[test]
fn persistent_429_gives_throttled_after_max_retries() {
    let kds = MockKds::start(|_, _| Reply::status(429).header("Retry-After", "1"));
    let dir = ScratchDir::new("429-always");
    let c = KdsClient::new(config(&kds, Some(&dir)).with_max_retries(2)).unwrap();
    let req = milan_request();
    let err = c.vcek(req.product, &req.chip_id, &req.tcb).unwrap_err();
    match &err {
        KdsError::Throttled {
            url,
            retry_after,
            attempts,
        } => {
            assert_eq!(*url, format!("{}{}", kds.base_url, milan_path()));
            assert_eq!(*retry_after, Some(Duration::from_secs(1)));
            assert_eq!(*attempts, 3);
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(err.is_unavailable());
    assert_eq!(kds.requests().len(), 3, "one request and two retries");
    assert!(dir.files().is_empty());
}

#[test]
fn a_503_is_retried_and_then_reported() {
    let kds = MockKds::start(|_, _| Reply::status(503).header("Retry-After", "0"));
    let c = KdsClient::new(config(&kds, None).with_max_retries(1)).unwrap();
    let err = c.cert_chain(Product::Milan, SigningKey::Vcek).unwrap_err();
    assert!(matches!(err, KdsError::Http { status: 503, .. }), "{err:?}");
    assert_eq!(kds.requests().len(), 2);
}

#[test]
fn a_404_gives_http_404_without_retrying() {
    let kds = MockKds::routes(Vec::new());
    let dir = ScratchDir::new("404");
    let req = milan_request();
    let err = client(&kds, Some(&dir))
        .vcek(req.product, &req.chip_id, &req.tcb)
        .unwrap_err();
    match &err {
        KdsError::Http { url, status } => {
            assert_eq!(*status, 404);
            assert_eq!(*url, format!("{}{}", kds.base_url, milan_path()));
        }
        other => panic!("expected Http 404, got {other:?}"),
    }
    assert_eq!(kds.requests().len(), 1);
    assert!(dir.files().is_empty());
}

#[test]
fn garbage_for_the_vcek_is_invalid_and_nothing_is_cached() {
    let kds =
        MockKds::start(|_, _| Reply::ok(b"<html>KDS is down for maintenance</html>".to_vec()));
    let dir = ScratchDir::new("garbage");
    let err = client(&kds, Some(&dir))
        .collateral_for_report(&read(MILAN_REPORT), Some(Product::Milan), false, milan_at())
        .unwrap_err();
    match &err {
        KdsError::Invalid { url, detail } => {
            assert_eq!(*url, format!("{}{}", kds.base_url, milan_path()));
            assert!(detail.contains("not a DER certificate"), "{detail}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(dir.files().is_empty(), "{:?}", dir.files());
}

#[test]
fn another_chips_vcek_is_invalid_and_nothing_is_cached() {
    // A real VCEK, but the Turin one, served at the Milan URL.
    let kds = MockKds::start(|_, _| Reply::ok(read(TURIN_VCEK)));
    let dir = ScratchDir::new("wrong-vcek");
    let req = milan_request();
    let err = client(&kds, Some(&dir))
        .vcek(req.product, &req.chip_id, &req.tcb)
        .unwrap_err();
    assert!(matches!(err, KdsError::Invalid { .. }), "{err:?}");
    assert!(dir.files().is_empty());
}

#[test]
fn a_vcek_for_another_tcb_is_invalid() {
    let kds = MockKds::start(|_, _| Reply::ok(read(MILAN_VCEK)));
    let req = milan_request();
    let newer = Tcb {
        snp: req.tcb.snp + 1,
        ..req.tcb
    };
    let err = client(&kds, None)
        .vcek(req.product, &req.chip_id, &newer)
        .unwrap_err();
    match err {
        KdsError::Invalid { detail, .. } => assert!(detail.contains("TCB"), "{detail}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_corrupt_cache_entry_is_replaced_online_and_reported_offline() {
    let kds = real_kds();
    let dir = ScratchDir::new("corrupt");
    let req = milan_request();
    let c = client(&kds, Some(&dir));
    let path = c
        .vcek_cache_file(req.product, &req.chip_id, &req.tcb)
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"truncated").unwrap();

    let offline = KdsClient::new(config(&kds, Some(&dir)).with_mode(Mode::Offline)).unwrap();
    let err = offline
        .vcek(req.product, &req.chip_id, &req.tcb)
        .unwrap_err();
    assert!(matches!(err, KdsError::InvalidCache { .. }), "{err:?}");
    assert!(kds.requests().is_empty());

    assert_eq!(
        c.vcek(req.product, &req.chip_id, &req.tcb).unwrap(),
        read(MILAN_VCEK)
    );
    assert_eq!(kds.requests().len(), 1);
    assert_eq!(std::fs::read(&path).unwrap(), read(MILAN_VCEK));
    // No temporary files are left behind.
    assert_eq!(dir.files().len(), 1, "{:?}", dir.files());
}

#[test]
fn refresh_mode_downloads_again_and_updates_the_cache() {
    let kds = real_kds();
    let dir = ScratchDir::new("refresh");
    let req = milan_request();
    client(&kds, Some(&dir))
        .vcek(req.product, &req.chip_id, &req.tcb)
        .unwrap();
    let c = KdsClient::new(config(&kds, Some(&dir)).with_mode(Mode::Refresh)).unwrap();
    c.vcek(req.product, &req.chip_id, &req.tcb).unwrap();
    c.vcek(req.product, &req.chip_id, &req.tcb).unwrap();
    assert_eq!(kds.requests().len(), 3);
    assert_eq!(dir.files().len(), 1);
}

#[test]
fn cert_chain_is_fetched_checked_and_cached() {
    let kds = real_kds();
    let dir = ScratchDir::new("chain");
    let c = client(&kds, Some(&dir));
    let chain = c.cert_chain(Product::Milan, SigningKey::Vcek).unwrap();
    let cns: Vec<String> = chain.iter().map(|x| x.subject_cn().unwrap()).collect();
    assert_eq!(cns, ["SEV-Milan", "ARK-Milan"]);
    let root = TrustAnchors::amd().get(Product::Milan).unwrap();
    assert_eq!(chain[0], root.ask);
    assert_eq!(chain[1], root.ark);
    assert_eq!(kds.requests(), vec!["/vcek/v1/Milan/cert_chain".to_owned()]);
    assert_eq!(dir.files(), vec!["milan/vcek/cert_chain.pem".to_owned()]);
    assert_eq!(
        std::fs::read(dir.path().join("milan/vcek/cert_chain.pem")).unwrap(),
        read(MILAN_CHAIN)
    );
    assert_eq!(
        c.cert_chain(Product::Milan, SigningKey::Vcek).unwrap(),
        chain
    );
    assert_eq!(kds.requests().len(), 1, "served from the cache");
}

#[test]
fn vlek_cert_chain_is_requested_at_the_vlek_path() {
    let kds = MockKds::routes(vec![(
        "/vlek/v1/Genoa/cert_chain".to_owned(),
        read("snp/roots/ask_ark_genoa_vlek.pem"),
    )]);
    let dir = ScratchDir::new("vlek-chain");
    let chain = client(&kds, Some(&dir))
        .cert_chain(Product::Genoa, SigningKey::Vlek)
        .unwrap();
    assert_eq!(chain[0].subject_cn().unwrap(), "SEV-VLEK-Genoa");
    assert_eq!(dir.files(), vec!["genoa/vlek/cert_chain.pem".to_owned()]);
}

#[test]
fn a_chain_for_another_product_or_kind_is_invalid_and_not_cached() {
    let dir = ScratchDir::new("wrong-chain");
    for (body, kind) in [
        (read("snp/roots/ask_ark_genoa.pem"), SigningKey::Vcek),
        (read("snp/roots/ask_ark_milan_vlek.pem"), SigningKey::Vcek),
        (read(MILAN_CHAIN), SigningKey::Vlek),
        (read(MILAN_VCEK), SigningKey::Vcek),
    ] {
        let kds = MockKds::start(move |_, _| Reply::ok(body.clone()));
        let err = client(&kds, Some(&dir))
            .cert_chain(Product::Milan, kind)
            .unwrap_err();
        assert!(matches!(err, KdsError::Invalid { .. }), "{err:?}");
    }
    assert!(dir.files().is_empty());
}

#[test]
fn crl_is_requested_at_the_vcek_crl_path_and_garbage_is_invalid() {
    let vcek_path = milan_path();
    let vcek = read(MILAN_VCEK);
    let kds = MockKds::start(move |target, _| {
        if target == vcek_path {
            Reply::ok(vcek.clone())
        } else {
            Reply::ok(vec![0x30, 0x03, 0x02, 0x01, 0x00])
        }
    });
    let dir = ScratchDir::new("crl-garbage");
    let err = client(&kds, Some(&dir))
        .crl(Product::Milan, SigningKey::Vcek, milan_at())
        .unwrap_err();
    match &err {
        KdsError::Invalid { url, detail } => {
            assert_eq!(*url, format!("{}/vcek/v1/Milan/crl", kds.base_url));
            assert!(detail.contains("not a CRL"), "{detail}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(kds.requests(), vec!["/vcek/v1/Milan/crl".to_owned()]);
    assert!(dir.files().is_empty());

    // With the CRL requested for a report too: the VCEK is cached, the CRL is not.
    let err = client(&kds, Some(&dir))
        .collateral_for_report(&read(MILAN_REPORT), Some(Product::Milan), true, milan_at())
        .unwrap_err();
    assert!(matches!(err, KdsError::Invalid { .. }), "{err:?}");
    assert_eq!(
        kds.requests(),
        vec![
            "/vcek/v1/Milan/crl".to_owned(),
            milan_path(),
            "/vcek/v1/Milan/crl".to_owned()
        ]
    );
    assert_eq!(dir.files().len(), 1);
    assert!(dir.files()[0].ends_with("bl03_tee00_snp08_ucode115.der"));
}

/// A well-formed CRL naming the Milan ARK as issuer, with a signature nobody made.
fn synthetic_crl(this_update: UnixTime, next_update: Option<UnixTime>) -> Vec<u8> {
    use x509_cert::crl::{CertificateList, TbsCertList};
    use x509_cert::spki::AlgorithmIdentifierOwned;
    use x509_cert::time::Time;

    let utc = |u: UnixTime| {
        Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(u.secs() as u64)).unwrap())
    };
    let alg = AlgorithmIdentifierOwned {
        oid: shomei_core::x509::OID_ECDSA_SHA384,
        parameters: None,
    };
    let ark = &TrustAnchors::amd().get(Product::Milan).unwrap().ark;
    CertificateList {
        tbs_cert_list: TbsCertList {
            version: x509_cert::Version::V2,
            signature: alg.clone(),
            issuer: ark.decoded().tbs_certificate.subject.clone(),
            this_update: utc(this_update),
            next_update: next_update.map(utc),
            revoked_certificates: None,
            crl_extensions: None,
        },
        signature_algorithm: alg,
        signature: BitString::from_bytes(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])
            .unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn a_crl_not_signed_by_the_ark_is_invalid() {
    let body = synthetic_crl(t("2025-05-01T00:00:00Z"), Some(t("2025-07-01T00:00:00Z")));
    assert!(Crl::from_der(&body).is_ok());
    let kds = MockKds::start(move |_, _| Reply::ok(body.clone()));
    let dir = ScratchDir::new("crl-unsigned");
    let err = client(&kds, Some(&dir))
        .crl(Product::Milan, SigningKey::Vcek, milan_at())
        .unwrap_err();
    match err {
        KdsError::Invalid { detail, .. } => assert!(detail.contains("ARK-Milan"), "{detail}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(dir.files().is_empty());
}

/// Counts CRL requests; serves a CRL valid 2025-05-01 .. 2025-07-01 (checked structurally only:
/// the client is given no anchors).
fn crl_kds() -> (MockKds, Arc<AtomicUsize>) {
    let body = synthetic_crl(t("2025-05-01T00:00:00Z"), Some(t("2025-07-01T00:00:00Z")));
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let kds = MockKds::start(move |target, _| {
        if target == "/vcek/v1/Milan/crl" {
            h.fetch_add(1, Ordering::SeqCst);
            Reply::ok(body.clone())
        } else {
            Reply::status(404)
        }
    });
    (kds, hits)
}

#[test]
fn a_cached_crl_is_reused_until_next_update_then_refetched() {
    let (kds, hits) = crl_kds();
    let dir = ScratchDir::new("crl-cache");
    let c = KdsClient::new(config(&kds, Some(&dir)).with_anchors(TrustAnchors::empty())).unwrap();
    let crl = c.crl(Product::Milan, SigningKey::Vcek, milan_at()).unwrap();
    assert_eq!(crl.next_update(), Some(t("2025-07-01T00:00:00Z")));
    assert_eq!(dir.files(), vec!["milan/vcek/crl.der".to_owned()]);
    c.crl(Product::Milan, SigningKey::Vcek, t("2025-06-30T23:59:59Z"))
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fresh: from the cache");
    c.crl(Product::Milan, SigningKey::Vcek, t("2025-07-01T00:00:00Z"))
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2, "at nextUpdate: refetched");
}

#[test]
fn offline_a_stale_crl_is_an_error_that_carries_it() {
    let (kds, hits) = crl_kds();
    let dir = ScratchDir::new("crl-stale");
    KdsClient::new(config(&kds, Some(&dir)).with_anchors(TrustAnchors::empty()))
        .unwrap()
        .crl(Product::Milan, SigningKey::Vcek, milan_at())
        .unwrap();
    let offline = KdsClient::new(
        config(&kds, Some(&dir))
            .with_anchors(TrustAnchors::empty())
            .with_mode(Mode::Offline),
    )
    .unwrap();
    assert!(
        offline
            .crl(Product::Milan, SigningKey::Vcek, milan_at())
            .is_ok()
    );
    let later = t("2025-08-01T00:00:00Z");
    match offline.crl(Product::Milan, SigningKey::Vcek, later) {
        Err(KdsError::StaleCrl {
            path,
            now,
            next_update,
            crl,
        }) => {
            assert_eq!(path, dir.path().join("milan/vcek/crl.der"));
            assert_eq!(now, later);
            assert_eq!(next_update, Some(t("2025-07-01T00:00:00Z")));
            assert_eq!(crl.next_update(), next_update);
        }
        other => panic!("expected StaleCrl, got {other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn a_vlek_signed_report_is_refused_without_a_request() {
    let kds = real_kds();
    let err = client(&kds, None)
        .collateral_for_report(
            &read("snp/milan-v3-vlek/report.bin"),
            None,
            false,
            milan_at(),
        )
        .unwrap_err();
    assert!(matches!(err, KdsError::VlekNotPublic), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("certificate table") && msg.contains("cloud provider"),
        "{msg}"
    );
    assert!(!err.is_unavailable());
    assert!(kds.requests().is_empty());
}

#[test]
fn the_product_comes_from_cpuid_or_the_caller() {
    // Report v2 has no CPUID fields.
    let milan = read(MILAN_REPORT);
    assert!(matches!(
        VcekRequest::from_report(&milan, None),
        Err(KdsError::UnknownProduct)
    ));
    let req = VcekRequest::from_report(&milan, Some(Product::Milan)).unwrap();
    assert_eq!(
        req.tcb,
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115
        }
    );
    assert_eq!(req.url("http://kds"), format!("http://kds{}", milan_path()));

    // Report v5 names Turin; a caller saying otherwise is refused.
    let turin = read(TURIN_REPORT);
    assert!(matches!(
        VcekRequest::from_report(&turin, Some(Product::Milan)),
        Err(KdsError::ProductMismatch {
            report: Product::Turin,
            given: Product::Milan
        })
    ));
    let req = VcekRequest::from_report(&turin, Some(Product::Turin)).unwrap();
    assert_eq!(req.url("http://kds"), format!("http://kds{TURIN_PATH}"));

    assert!(matches!(
        VcekRequest::from_report(&turin[..100], None),
        Err(KdsError::Report(_))
    ));
}

#[test]
fn https_base_urls_go_through_rustls_and_fail_cleanly_on_a_non_tls_server() {
    // Builds the rustls client config (aws-lc-rs provider, webpki roots) on first use: a
    // misconfigured agent would panic here instead of returning an error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        use std::io::Write;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot tls");
    });
    let c = KdsClient::new(
        KdsConfig::default()
            .with_base_url(format!("https://{addr}"))
            .with_max_retries(0)
            .with_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let err = c.cert_chain(Product::Milan, SigningKey::Vcek).unwrap_err();
    assert!(matches!(err, KdsError::Transport { .. }), "{err:?}");
    assert!(err.is_unavailable());
    // A TLS failure is not retried (one connection accepted, and the call returned).
    server.join().unwrap();
}
