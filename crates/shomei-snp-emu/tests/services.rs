//! The emulator's guest- and network-facing services: a configfs-tsm directory and a
//! KDS-compatible server, driven by the same client code that talks to real ones.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use shomei_core::UnixTime;
use shomei_kds::{KdsClient, KdsConfig, Mode};
use shomei_snp::{Product, Tcb, VerifyOptions, certtable, verify};
use shomei_snp_emu::kds::{EmulatedKds, KdsState};
use shomei_snp_emu::tsm::TsmDir;
use shomei_snp_emu::{EmulatedChip, ReportRequest, RootOptions, TestRoot};

const AT: UnixTime = UnixTime::from_secs(1_750_000_000);

fn chip(p: Product, tcb: Tcb) -> Arc<EmulatedChip> {
    let root = Arc::new(TestRoot::generate(p, RootOptions::default()).unwrap());
    Arc::new(EmulatedChip::new(root, [0x33; 32], tcb))
}

#[test]
fn kds_client_fetches_emulated_vceks_and_crls() {
    let turin = chip(
        Product::Turin,
        Tcb {
            fmc: Some(2),
            bootloader: 1,
            tee: 1,
            snp: 5,
            microcode: 90,
        },
    );
    let milan = chip(
        Product::Milan,
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        },
    );
    let server = EmulatedKds::start(KdsState {
        chips: vec![turin.clone(), milan.clone()],
        revoked_intermediates: vec![milan.root().ask.serial().to_vec()],
        crl_this_update: UnixTime(AT.0 - 86_400),
        crl_next_update: UnixTime(AT.0 + 86_400),
    })
    .unwrap();
    let cache = std::env::temp_dir().join(format!("shomei-emu-kds-{}", std::process::id()));
    for c in [&turin, &milan] {
        let guest = c.launch_start(0x30000).finish([0; 32], None).unwrap();
        let report = guest.report(&ReportRequest::new([5; 64])).unwrap();
        let anchors = c.root().anchors().unwrap();
        let client = KdsClient::new(
            KdsConfig::default()
                .with_base_url(server.url.clone())
                .with_cache_dir(Some(cache.clone()))
                .with_mode(Mode::Online)
                .with_anchors(anchors.clone()),
        )
        .unwrap();
        let coll = client
            .collateral_for_report(&report, None, false, AT)
            .unwrap();
        let v = verify(
            &report,
            &coll,
            &VerifyOptions::at(AT).with_anchors(&anchors),
        );
        assert!(v.is_ok(), "{}: {v:?}", c.product());
        // The CRL: Milan's lists its ASK.
        let with_crl = client
            .collateral_for_report(&report, None, true, AT)
            .unwrap();
        let v = verify(
            &report,
            &with_crl,
            &VerifyOptions::at(AT).with_anchors(&anchors),
        );
        match c.product() {
            Product::Milan => assert_eq!(
                v.unwrap_err().rejection().map(|r| r.check()),
                Some("revocation")
            ),
            _ => assert!(v.is_ok()),
        }
        // A client trusting only AMD refuses to cache the emulated VCEK.
        let amd_only =
            KdsClient::new(KdsConfig::default().with_base_url(server.url.clone())).unwrap();
        assert!(
            amd_only
                .collateral_for_report(&report, None, false, AT)
                .is_err()
        );
    }
    let log = server.requests.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|p| p.starts_with("/vcek/v1/Turin/") && p.contains("fmcSPL=02")),
        "{log:?}"
    );
    assert!(log.iter().any(|p| p == "/vcek/v1/Milan/crl"), "{log:?}");
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn configfs_tsm_directory_serves_reports() {
    let c = chip(
        Product::Genoa,
        Tcb {
            fmc: None,
            bootloader: 4,
            tee: 0,
            snp: 20,
            microcode: 210,
        },
    );
    let guest = c.launch_start(0x30000).finish([0; 32], None).unwrap();
    let root = std::env::temp_dir().join(format!("shomei-tsm-{}", std::process::id()));
    let mut dir = TsmDir::create(&root, "r0").unwrap();
    let entry = dir.path().to_owned();
    assert_eq!(
        std::fs::read_to_string(entry.join("provider")).unwrap(),
        "sev_guest\n"
    );
    // What an attester does: write inblob and privlevel, then read outblob/auxblob/generation.
    std::fs::write(entry.join("inblob"), b"nonce-123").unwrap();
    std::fs::write(entry.join("privlevel"), b"1\n").unwrap();
    dir.service(&guest, 3).unwrap();
    assert_eq!(
        std::fs::read_to_string(entry.join("generation"))
            .unwrap()
            .trim(),
        "1"
    );
    let report = std::fs::read(entry.join("outblob")).unwrap();
    let table = std::fs::read(entry.join("auxblob")).unwrap();
    let coll = certtable::to_collateral(&certtable::parse(&table).unwrap()).unwrap();
    let anchors = c.root().anchors().unwrap();
    let v = verify(
        &report,
        &coll,
        &VerifyOptions::at(AT).with_anchors(&anchors),
    )
    .unwrap();
    assert_eq!(&v.report().report_data()[..9], b"nonce-123");
    assert!(v.report().report_data()[9..].iter().all(|b| *b == 0));
    assert_eq!(v.report().vmpl(), 1);
    assert_eq!(v.report().version(), 3);
    // The kernel refuses more than 64 bytes of inblob.
    std::fs::write(entry.join("inblob"), [1u8; 65]).unwrap();
    assert!(dir.service(&guest, 3).is_err());
    assert_eq!(
        std::fs::read_to_string(entry.join("generation"))
            .unwrap()
            .trim(),
        "1"
    );
    std::fs::remove_dir_all(&root).ok();
}
