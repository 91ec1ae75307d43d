//! The emulated AMD-SP end to end: a chip launches a guest (the launch digest equals `snp
//! measure` and sev-snp-measure's), the guest asks for reports, and the same verifier that checks
//! real reports accepts them — but only under the explicitly trusted test root.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::{Arc, LazyLock};

use shomei_core::UnixTime;
use shomei_snp::measure::{SevHashes, SnpLaunch, VmmType, snp_launch_digest};
use shomei_snp::policy::HexBytes;
use shomei_snp::{
    Collateral, Error, Policy, Product, SigningKey, Tcb, VerifyOptions, certtable, verify,
};
use shomei_snp_emu::{EmulatedChip, IdAuthor, IdBlockInput, ReportRequest, RootOptions, TestRoot};

const AT: UnixTime = UnixTime::from_secs(1_750_000_000);

fn root(p: Product) -> Arc<TestRoot> {
    static ROOTS: LazyLock<Vec<Arc<TestRoot>>> = LazyLock::new(|| {
        [Product::Milan, Product::Genoa, Product::Turin]
            .into_iter()
            .map(|p| Arc::new(TestRoot::generate(p, RootOptions::default()).unwrap()))
            .collect()
    });
    ROOTS.iter().find(|r| r.product == p).unwrap().clone()
}

fn tcb(p: Product) -> Tcb {
    if p.has_fmc() {
        Tcb {
            fmc: Some(1),
            bootloader: 1,
            tee: 1,
            snp: 4,
            microcode: 82,
        }
    } else {
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        }
    }
}

fn amdsev_suffix() -> Vec<u8> {
    shomei_core::vectors::read("snp/measure/ovmf_AmdSev_suffix.bin")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn launch_of(ovmf: &[u8], hashes: Option<SevHashes>) -> SnpLaunch<'_> {
    SnpLaunch {
        ovmf,
        vcpus: 2,
        vcpu_sig: shomei_snp::measure::vcpu_type_sig("EPYC-Milan").unwrap(),
        guest_features: 0x1,
        vmm: VmmType::Qemu,
        hashes,
        ovmf_hash: None,
    }
}

fn chip(p: Product, secret: u8) -> Arc<EmulatedChip> {
    Arc::new(EmulatedChip::new(root(p), [secret; 32], tcb(p)))
}

fn check(r: &[u8], c: &Collateral, p: Product) -> Result<shomei_snp::VerifiedReport, Error> {
    let anchors = root(p).anchors().unwrap();
    verify(r, c, &VerifyOptions::at(AT).with_anchors(&anchors))
}

#[test]
fn the_emulated_launch_digest_is_the_measured_one() {
    let ovmf = amdsev_suffix();
    let hashes = SevHashes::new(b"kernel", Some(b"initrd"), Some("console=ttyS0"));
    let c = chip(Product::Milan, 1);
    let mut launch = c.launch_start(0x30000);
    launch
        .load_ovmf(&launch_of(&ovmf, Some(hashes.clone())))
        .unwrap();
    assert_eq!(
        launch.digest(),
        snp_launch_digest(&launch_of(&ovmf, Some(hashes))).unwrap()
    );
    // The documented sev-snp-measure value for 1 vCPU, EPYC-v4, no kernel, guest features 0x1.
    let mut l = c.launch_start(0x30000);
    l.load_ovmf(&SnpLaunch {
        vcpus: 1,
        vcpu_sig: shomei_snp::measure::vcpu_type_sig("EPYC-v4").unwrap(),
        ..launch_of(&ovmf, None)
    })
    .unwrap();
    assert_eq!(
        hex::encode(l.digest()),
        "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d"
    );
}

#[test]
fn launched_guests_attest_and_verify_for_every_version_and_product() {
    let ovmf = amdsev_suffix();
    for p in [Product::Milan, Product::Genoa, Product::Turin] {
        let c = chip(p, 2);
        let mut launch = c.launch_start(0x30000);
        launch.load_ovmf(&launch_of(&ovmf, None)).unwrap();
        let expected = launch.digest();
        let guest = launch.finish([7; 32], None).unwrap();
        for version in [2u32, 3, 5] {
            let mut req = ReportRequest::new([9; 64]);
            req.version = version;
            let (report, table) = guest.extended_report(&req).unwrap();
            let coll = certtable::to_collateral(&certtable::parse(&table).unwrap()).unwrap();
            // A v2 report without a product in its CPUID bytes takes it from the VCEK.
            let v = check(&report, &coll, p).unwrap_or_else(|e| panic!("{p} v{version}: {e}"));
            assert_eq!(v.product(), p);
            let r = v.report();
            assert_eq!(r.version(), version);
            assert_eq!(r.measurement(), &expected);
            assert_eq!(r.host_data(), &[7; 32]);
            assert_eq!(r.report_data(), &[9; 64]);
            assert_eq!(r.reported_tcb().decode(p), tcb(p));
            let policy = Policy {
                measurements: vec![HexBytes(expected.to_vec())],
                vmpl: Some(0),
                ..Policy::default()
            };
            assert!(policy.appraise(&v).is_empty(), "{p} v{version}");
        }
    }
}

#[test]
fn emulated_evidence_is_refused_under_amd_roots() {
    let c = chip(Product::Milan, 3);
    let guest = c.launch_start(0x30000).finish([0; 32], None).unwrap();
    let (report, table) = guest.extended_report(&ReportRequest::new([0; 64])).unwrap();
    let coll = certtable::to_collateral(&certtable::parse(&table).unwrap()).unwrap();
    let e = verify(&report, &coll, &VerifyOptions::at(AT)).unwrap_err();
    // The table carries the emulated ARK, which is not AMD's.
    assert_eq!(
        e.rejection().map(|r| r.check()),
        Some("root_of_trust"),
        "{e}"
    );
    // Without the ARK, the VCEK does not chain to AMD's ASK.
    let vcek_only = Collateral::new().with_certificate(c.vcek().unwrap().certificate);
    let e = verify(&report, &vcek_only, &VerifyOptions::at(AT)).unwrap_err();
    assert_eq!(
        e.rejection().map(|r| r.check()),
        Some("chain_signature"),
        "{e}"
    );
}

#[test]
fn vcek_is_derived_from_the_chip_secret_and_the_tcb() {
    let a = chip(Product::Turin, 4);
    let k1 = a.vcek().unwrap();
    let k2 = a.vcek().unwrap();
    assert_eq!(
        k1.public_key(),
        k2.public_key(),
        "same chip, same TCB: same key"
    );
    let mut higher = EmulatedChip::new(
        root(Product::Turin),
        [4; 32],
        Tcb {
            microcode: 83,
            ..tcb(Product::Turin)
        },
    );
    assert_ne!(
        higher.vcek().unwrap().public_key(),
        k1.public_key(),
        "new TCB: new key"
    );
    higher.tcb = tcb(Product::Turin);
    assert_eq!(
        higher.vcek().unwrap().public_key(),
        k1.public_key(),
        "back to the old TCB: old key"
    );
    assert_ne!(
        chip(Product::Turin, 5).vcek().unwrap().public_key(),
        k1.public_key(),
        "other chip"
    );
    // Turin chip IDs are 8 bytes then zeros.
    let id = a.chip_id();
    assert!(id[..8].iter().any(|b| *b != 0) && id[8..].iter().all(|b| *b == 0));
}

#[test]
fn id_block_and_author_key_reach_the_report() {
    let ovmf = amdsev_suffix();
    let c = chip(Product::Genoa, 6);
    let (id_key, author) = (IdAuthor::generate().unwrap(), IdAuthor::generate().unwrap());
    let mut launch = c.launch_start(0x30000);
    launch.load_ovmf(&launch_of(&ovmf, None)).unwrap();
    let guest = launch
        .finish(
            [0; 32],
            Some(IdBlockInput {
                id_key: &id_key,
                author_key: Some(&author),
                family_id: [0xFA; 16],
                image_id: [0x1A; 16],
                guest_svn: 3,
            }),
        )
        .unwrap();
    let report = guest.report(&ReportRequest::new([0; 64])).unwrap();
    let coll = Collateral::new().with_certificate(c.vcek().unwrap().certificate);
    let v = check(&report, &coll, Product::Genoa).unwrap();
    let r = v.report();
    assert_eq!(r.id_key_digest(), &id_key.digest());
    assert_eq!(r.author_key_digest(), &author.digest());
    assert!(r.key_info().author_key_en());
    assert_eq!(
        (r.family_id(), r.image_id(), r.guest_svn()),
        (&[0xFA; 16], &[0x1A; 16], 3)
    );
    let p = Policy {
        id_key_digests: vec![HexBytes(id_key.digest().to_vec())],
        author_key_digests: vec![HexBytes(author.digest().to_vec())],
        require_author_key: true,
        family_id: Some(HexBytes(vec![0xFA; 16])),
        image_id: Some(HexBytes(vec![0x1A; 16])),
        min_guest_svn: Some(3),
        ..Policy::default()
    };
    assert!(p.appraise(&v).is_empty());
    let other = Policy {
        id_key_digests: vec![HexBytes(IdAuthor::generate().unwrap().digest().to_vec())],
        ..Policy::default()
    };
    assert_eq!(other.appraise(&v)[0].check, "id_key_digest");
}

#[test]
fn vlek_masked_chip_id_vmpl_and_provisional_firmware() {
    let mut c = EmulatedChip::new(root(Product::Milan), [8; 32], tcb(Product::Milan));
    c.load_vlek("CN=emulated-cloud").unwrap();
    c.mask_chip_id = true;
    c.current_tcb = Some(Tcb {
        microcode: 120,
        ..tcb(Product::Milan)
    });
    let c = Arc::new(c);
    let guest = c
        .launch_start(0x30000 | 1 << 19)
        .finish([0; 32], None)
        .unwrap();
    let mut req = ReportRequest::new([1; 64]);
    req.signer = SigningKey::Vlek;
    req.vmpl = 2;
    let (report, table) = guest.extended_report(&req).unwrap();
    let coll = certtable::to_collateral(&certtable::parse(&table).unwrap()).unwrap();
    let v = check(&report, &coll, Product::Milan).unwrap();
    assert_eq!(v.signer().kind, SigningKey::Vlek);
    assert_eq!(v.signer().csp_id.as_deref(), Some("CN=emulated-cloud"));
    assert!(v.signer().chip_id_masked);
    let checks: Vec<String> = Policy {
        vmpl: Some(0),
        ..Policy::default()
    }
    .appraise(&v)
    .into_iter()
    .map(|x| x.check)
    .collect();
    assert_eq!(checks, ["debug", "provisional_firmware", "vmpl"]);
}

#[test]
fn a_vcek_revoked_by_its_ask_is_refused() {
    let c = chip(Product::Milan, 9);
    let guest = c.launch_start(0x30000).finish([0; 32], None).unwrap();
    let report = guest.report(&ReportRequest::new([0; 64])).unwrap();
    let vcek = c.vcek().unwrap().certificate;
    let r = root(Product::Milan);
    let day = 86_400;
    let crl = r
        .intermediate_crl(
            false,
            &[vcek.serial()],
            UnixTime(AT.0 - day),
            Some(UnixTime(AT.0 + day)),
        )
        .unwrap();
    let coll = Collateral::new()
        .with_certificate(vcek.clone())
        .with_crl(crl);
    let e = check(&report, &coll, Product::Milan).unwrap_err();
    assert_eq!(e.rejection().map(|x| x.check()), Some("revocation"), "{e}");
    let clean = r
        .intermediate_crl(
            false,
            &[&[0x42]],
            UnixTime(AT.0 - day),
            Some(UnixTime(AT.0 + day)),
        )
        .unwrap();
    assert!(
        check(
            &report,
            &Collateral::new().with_certificate(vcek).with_crl(clean),
            Product::Milan
        )
        .is_ok()
    );
}

#[test]
fn rsa_4096_root_like_amds_verifies() {
    let r = Arc::new(
        TestRoot::generate(
            Product::Milan,
            RootOptions {
                rsa_bits: shomei_snp_emu::KeySizeOpt::Rsa4096,
                ..RootOptions::default()
            },
        )
        .unwrap(),
    );
    let c = Arc::new(EmulatedChip::new(r.clone(), [10; 32], tcb(Product::Milan)));
    let guest = c.launch_start(0x30000).finish([0; 32], None).unwrap();
    let report = guest.report(&ReportRequest::new([0; 64])).unwrap();
    let anchors = r.anchors().unwrap();
    let coll = Collateral::new().with_certificate(c.vcek().unwrap().certificate);
    assert!(
        verify(
            &report,
            &coll,
            &VerifyOptions::at(AT).with_anchors(&anchors)
        )
        .is_ok()
    );
    assert_eq!(
        r.ark
            .public_key()
            .map(|k| matches!(k, shomei_core::x509::PublicKey::Rsa(ref n) if n.len() > 500))
            .ok(),
        Some(true)
    );
}
