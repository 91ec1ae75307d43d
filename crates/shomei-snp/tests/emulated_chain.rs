//! Checks that real vectors cannot reach (a different TCB, chip, CRL…), exercised with reports and
//! chains from the emulated AMD-SP, which issues certificates with AMD's profile and quirks.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::LazyLock;

use shomei_core::UnixTime;
use shomei_snp::bits::GuestPolicy;
use shomei_snp::policy::{HexBytes, MinTcb};
use shomei_snp::{
    Collateral, Error, Policy, Product, REPORT_LEN, Rejection, Tcb, TrustAnchors, VerifiedReport,
    VerifyOptions, verify,
};
use shomei_snp_emu::{ReportSpec, RootOptions, TestRoot, TestVek, VekSpec};

static MILAN: LazyLock<TestRoot> =
    LazyLock::new(|| TestRoot::generate(Product::Milan, RootOptions::default()).unwrap());
static TURIN: LazyLock<TestRoot> =
    LazyLock::new(|| TestRoot::generate(Product::Turin, RootOptions::default()).unwrap());

const AT: UnixTime = UnixTime::from_secs(1_750_000_000);

const MILAN_TCB: Tcb = Tcb {
    fmc: None,
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 115,
};
const TURIN_TCB: Tcb = Tcb {
    fmc: Some(1),
    bootloader: 1,
    tee: 1,
    snp: 4,
    microcode: 82,
};

fn chip(product: Product) -> [u8; 64] {
    let mut c = [0u8; 64];
    for (i, b) in c.iter_mut().enumerate().take(product.hwid_len()) {
        *b = u8::try_from(i).unwrap() ^ 0x5a;
    }
    c
}

fn hwid(product: Product) -> Vec<u8> {
    chip(product)[..product.hwid_len()].to_vec()
}

fn signed(vek: &TestVek, spec: &ReportSpec) -> [u8; REPORT_LEN] {
    let mut r = spec.build();
    vek.sign_report(&mut r).unwrap();
    r
}

fn check(root: &TestRoot, report: &[u8], c: &Collateral) -> Result<VerifiedReport, Error> {
    let anchors = root.anchors().unwrap();
    verify(report, c, &VerifyOptions::at(AT).with_anchors(&anchors))
}

fn coll(vek: &TestVek) -> Collateral {
    Collateral::new().with_certificate(vek.certificate.clone())
}

fn rejection(r: Result<VerifiedReport, Error>) -> &'static str {
    match r {
        Err(Error::Rejected(rej)) => rej.check(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

struct Fixture {
    vek: TestVek,
    spec: ReportSpec,
}

fn milan() -> Fixture {
    let vek = MILAN
        .issue_vek(&MILAN.vcek_spec(MILAN_TCB, hwid(Product::Milan)))
        .unwrap();
    Fixture {
        vek,
        spec: ReportSpec::new(Product::Milan, MILAN_TCB, chip(Product::Milan)),
    }
}

fn turin() -> Fixture {
    let vek = TURIN
        .issue_vek(&TURIN.vcek_spec(TURIN_TCB, hwid(Product::Turin)))
        .unwrap();
    Fixture {
        vek,
        spec: ReportSpec::new(Product::Turin, TURIN_TCB, chip(Product::Turin)),
    }
}

#[test]
fn emulated_reports_verify_only_under_an_explicitly_trusted_test_root() {
    for f in [milan(), turin()] {
        let r = signed(&f.vek, &f.spec);
        assert!(
            check(
                if f.spec.product == Product::Milan {
                    &MILAN
                } else {
                    &TURIN
                },
                &r,
                &coll(&f.vek)
            )
            .is_ok()
        );
        // AMD's pinned roots do not know the emulated ASK.
        let e = verify(&r, &coll(&f.vek), &VerifyOptions::at(AT));
        assert_eq!(rejection(e), "chain_signature");
    }
}

#[test]
fn v2_report_takes_its_product_from_the_vek() {
    let mut f = milan();
    f.spec.version = 2;
    let r = signed(&f.vek, &f.spec);
    assert_eq!(
        check(&MILAN, &r, &coll(&f.vek)).unwrap().product(),
        Product::Milan
    );
}

#[test]
fn reported_tcb_differing_from_the_vcek_is_rejected_per_component() {
    for (field, tcb) in [
        (
            "bootloader",
            Tcb {
                bootloader: 4,
                ..MILAN_TCB
            },
        ),
        (
            "tee",
            Tcb {
                tee: 1,
                ..MILAN_TCB
            },
        ),
        (
            "snp",
            Tcb {
                snp: 9,
                ..MILAN_TCB
            },
        ),
        (
            "microcode",
            Tcb {
                microcode: 116,
                ..MILAN_TCB
            },
        ),
    ] {
        let mut f = milan();
        f.spec.tcb = tcb;
        let r = signed(&f.vek, &f.spec);
        match check(&MILAN, &r, &coll(&f.vek)) {
            Err(Error::Rejected(Rejection::VekTcb { component, .. })) => {
                assert_eq!(component.name(), field)
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn turin_fmc_differing_from_the_vcek_is_rejected() {
    let mut f = turin();
    f.spec.tcb = Tcb {
        fmc: Some(2),
        ..TURIN_TCB
    };
    let r = signed(&f.vek, &f.spec);
    match check(&TURIN, &r, &coll(&f.vek)) {
        Err(Error::Rejected(Rejection::VekTcb { component, .. })) => {
            assert_eq!(component.name(), "fmc")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chip_id_differing_from_the_hwid_is_rejected() {
    let mut f = milan();
    f.spec.chip_id[63] ^= 1;
    assert_eq!(
        rejection(check(&MILAN, &signed(&f.vek, &f.spec), &coll(&f.vek))),
        "chip_id"
    );
    // Turin: the 56 bytes after the 8-byte hwID must be zero.
    let mut f = turin();
    f.spec.chip_id[8] = 1;
    assert_eq!(
        rejection(check(&TURIN, &signed(&f.vek, &f.spec), &coll(&f.vek))),
        "chip_id"
    );
}

#[test]
fn der_wrapped_hwid_is_accepted() {
    for root in [&*MILAN, &*TURIN] {
        let p = root.product;
        let tcb = if p == Product::Turin {
            TURIN_TCB
        } else {
            MILAN_TCB
        };
        let vek = root
            .issue_vek(&VekSpec {
                wrap_hwid: true,
                ..root.vcek_spec(tcb, hwid(p))
            })
            .unwrap();
        let spec = ReportSpec::new(p, tcb, chip(p));
        assert!(
            check(root, &signed(&vek, &spec), &coll(&vek)).is_ok(),
            "{p}"
        );
    }
}

#[test]
fn masked_chip_id_skips_the_hwid_and_says_so() {
    let mut f = milan();
    f.spec.chip_id = [0; 64];
    let v = check(&MILAN, &signed(&f.vek, &f.spec), &coll(&f.vek)).unwrap();
    assert!(v.signer().chip_id_masked);
    // A policy pinning the chip then fails.
    let p = Policy {
        chip_ids: vec![HexBytes(chip(Product::Milan).to_vec())],
        ..Policy::default()
    };
    assert_eq!(p.check(&v).unwrap_err().check, "chip_id");
}

#[test]
fn vlek_signed_report_verifies_through_the_asvk() {
    let vlek = MILAN
        .issue_vek(&VekSpec {
            hwid: None,
            csp_id: Some("CN=emulated-csp".into()),
            ..MILAN.vcek_spec(MILAN_TCB, vec![])
        })
        .unwrap();
    let mut spec = ReportSpec::new(Product::Milan, MILAN_TCB, [0; 64]);
    spec.signing_key = 1;
    let v = check(&MILAN, &signed(&vlek, &spec), &coll(&vlek)).unwrap();
    assert_eq!(v.signer().csp_id.as_deref(), Some("CN=emulated-csp"));
    let only_vcek = Policy {
        signing_keys: vec![shomei_snp::SigningKey::Vcek],
        ..Policy::default()
    };
    assert_eq!(only_vcek.check(&v).unwrap_err().check, "signing_key");
}

#[test]
fn unsigned_and_masked_key_reports_are_rejected() {
    let mut f = milan();
    f.spec.signing_key = 7;
    assert_eq!(
        rejection(check(&MILAN, &signed(&f.vek, &f.spec), &coll(&f.vek))),
        "unsigned_report"
    );
}

#[test]
fn signature_algorithm_other_than_1_is_rejected() {
    let f = milan();
    let mut r = f.spec.build();
    r[0x34] = 2;
    f.vek.sign_report(&mut r).unwrap();
    assert_eq!(
        rejection(check(&MILAN, &r, &coll(&f.vek))),
        "signature_algorithm"
    );
}

// ---- CRL ----

#[test]
fn a_current_crl_signed_by_the_ark_is_accepted() {
    let f = milan();
    let crl = MILAN
        .crl(
            &[&[0x7f, 0x01]],
            UnixTime(AT.0 - 86_400),
            Some(UnixTime(AT.0 + 86_400)),
        )
        .unwrap();
    let v = check(
        &MILAN,
        &signed(&f.vek, &f.spec),
        &coll(&f.vek).with_crl(crl),
    );
    assert!(v.is_ok(), "{v:?}");
}

#[test]
fn an_ask_listed_in_the_crl_is_revoked() {
    let f = milan();
    let crl = MILAN
        .crl(
            &[MILAN.ask.serial()],
            UnixTime(AT.0 - 86_400),
            Some(UnixTime(AT.0 + 86_400)),
        )
        .unwrap();
    assert_eq!(
        rejection(check(
            &MILAN,
            &signed(&f.vek, &f.spec),
            &coll(&f.vek).with_crl(crl)
        )),
        "revocation"
    );
}

#[test]
fn forged_stale_future_and_open_ended_crls_are_rejected() {
    let f = milan();
    let r = signed(&f.vek, &f.spec);
    let day = 86_400;
    let cases = [
        (
            "forged",
            MILAN
                .forged_crl(UnixTime(AT.0 - day), UnixTime(AT.0 + day))
                .unwrap(),
        ),
        (
            "stale",
            MILAN
                .crl(&[], UnixTime(AT.0 - 3 * day), Some(UnixTime(AT.0 - day)))
                .unwrap(),
        ),
        (
            "future",
            MILAN
                .crl(&[], UnixTime(AT.0 + day), Some(UnixTime(AT.0 + 3 * day)))
                .unwrap(),
        ),
        (
            "no next update",
            MILAN.crl(&[], UnixTime(AT.0 - day), None).unwrap(),
        ),
        (
            "other product",
            TURIN
                .crl(&[], UnixTime(AT.0 - day), Some(UnixTime(AT.0 + day)))
                .unwrap(),
        ),
    ];
    for (what, crl) in cases {
        assert_eq!(
            rejection(check(&MILAN, &r, &coll(&f.vek).with_crl(crl))),
            "crl",
            "{what}"
        );
    }
}

#[test]
fn emulated_chain_via_certificate_table() {
    let f = milan();
    let r = signed(&f.vek, &f.spec);
    let table = shomei_snp::certtable::encode(&[
        (shomei_snp::certtable::GUID_VCEK, f.vek.certificate.der()),
        (shomei_snp::certtable::GUID_ASK, MILAN.ask.der()),
        (shomei_snp::certtable::GUID_ARK, MILAN.ark.der()),
    ]);
    let entries = shomei_snp::certtable::parse(&table).unwrap();
    let c = shomei_snp::certtable::to_collateral(&entries).unwrap();
    assert!(check(&MILAN, &r, &c).is_ok());
    // The emulated ARK is refused when it arrives with a report checked against AMD's roots.
    let e = verify(
        &r,
        &c,
        &VerifyOptions::at(AT).with_anchors(TrustAnchors::amd()),
    );
    assert_eq!(rejection(e), "root_of_trust");
}

// ---- Policy, one option at a time ----

fn verified_with(edit: impl FnOnce(&mut ReportSpec)) -> VerifiedReport {
    let mut f = milan();
    edit(&mut f.spec);
    check(&MILAN, &signed(&f.vek, &f.spec), &coll(&f.vek)).unwrap()
}

fn violations(p: &Policy, v: &VerifiedReport) -> Vec<String> {
    p.appraise(v).into_iter().map(|x| x.check).collect()
}

#[test]
fn default_policy_accepts_a_plain_report() {
    assert!(violations(&Policy::default(), &verified_with(|_| {})).is_empty());
}

#[test]
fn permission_flags_are_refused_unless_allowed() {
    for (bit, name, allow) in [
        (
            GuestPolicy::DEBUG,
            "debug",
            Policy {
                allow_debug: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::MIGRATE_MA,
            "migration_agent",
            Policy {
                allow_migration_agent: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::CXL_ALLOW,
            "cxl",
            Policy {
                allow_cxl: true,
                ..Policy::default()
            },
        ),
    ] {
        let v = verified_with(|s| s.policy |= bit);
        assert_eq!(violations(&Policy::default(), &v), [name]);
        assert!(violations(&allow, &v).is_empty(), "{name}");
    }
    let v = verified_with(|_| {});
    assert_eq!(
        violations(
            &Policy {
                allow_smt: false,
                ..Policy::default()
            },
            &v
        ),
        ["smt"]
    );
}

#[test]
fn required_guest_policy_flags() {
    for (bit, name, p) in [
        (
            GuestPolicy::SINGLE_SOCKET,
            "single_socket",
            Policy {
                require_single_socket: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::MEM_AES_256_XTS,
            "aes_256_xts",
            Policy {
                require_aes_256_xts: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::RAPL_DIS,
            "rapl_disabled",
            Policy {
                require_rapl_disabled: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::CIPHERTEXT_HIDING,
            "ciphertext_hiding",
            Policy {
                require_ciphertext_hiding: true,
                ..Policy::default()
            },
        ),
        (
            GuestPolicy::PAGE_SWAP_DISABLE,
            "page_swap_disabled",
            Policy {
                require_page_swap_disabled: true,
                ..Policy::default()
            },
        ),
    ] {
        assert_eq!(violations(&p, &verified_with(|_| {})), [name]);
        assert!(
            violations(&p, &verified_with(|s| s.policy |= bit)).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn unknown_guest_policy_bits_are_refused_unless_allowed() {
    let v = verified_with(|s| s.policy |= 1 << 30);
    assert_eq!(violations(&Policy::default(), &v), ["guest_policy_bits"]);
    assert!(
        violations(
            &Policy {
                allow_unknown_policy_bits: 1 << 30,
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
}

#[test]
fn abi_firmware_and_svn_minimums() {
    let v = verified_with(|s| {
        s.policy |= 0x0105; // ABI 1.5
        s.firmware = (1, 55, 22);
    });
    let mm = |a, b| shomei_snp::policy::MajorMinor(a, b);
    assert!(
        violations(
            &Policy {
                min_abi: Some(mm(1, 5)),
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                min_abi: Some(mm(1, 6)),
                ..Policy::default()
            },
            &v
        ),
        ["abi_version"]
    );
    assert!(
        violations(
            &Policy {
                min_firmware_version: Some(mm(1, 55)),
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                min_firmware_version: Some(mm(1, 56)),
                ..Policy::default()
            },
            &v
        ),
        ["firmware_version", "firmware_version"]
    );
    assert_eq!(
        violations(
            &Policy {
                min_build: Some(23),
                ..Policy::default()
            },
            &v
        ),
        ["firmware_build", "firmware_build"]
    );
    assert_eq!(
        violations(
            &Policy {
                min_guest_svn: Some(1),
                ..Policy::default()
            },
            &v
        ),
        ["guest_svn"]
    );
}

#[test]
fn min_tcb_checks_each_component() {
    let v = verified_with(|_| {});
    let ok = MinTcb {
        bootloader: Some(3),
        tee: Some(0),
        snp: Some(8),
        microcode: Some(115),
        fmc: None,
    };
    assert!(
        violations(
            &Policy {
                min_tcb: ok,
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    let high = MinTcb {
        snp: Some(9),
        ..MinTcb::default()
    };
    // CURRENT, COMMITTED and REPORTED all fall short.
    assert_eq!(
        violations(
            &Policy {
                min_tcb: high,
                ..Policy::default()
            },
            &v
        ),
        ["min_tcb.snp"; 3]
    );
    assert_eq!(
        violations(
            &Policy {
                min_launch_tcb: high,
                ..Policy::default()
            },
            &v
        ),
        ["min_launch_tcb.snp"]
    );
}

#[test]
fn provisional_firmware_policy() {
    let v = verified_with(|s| {
        s.current_tcb = Some(Tcb {
            microcode: 120,
            ..MILAN_TCB
        })
    });
    assert_eq!(violations(&Policy::default(), &v), ["provisional_firmware"]);
    assert!(
        violations(
            &Policy {
                allow_provisional_firmware: true,
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
}

#[test]
fn platform_info_required_and_forbidden_bits() {
    let v = verified_with(|s| s.platform_info = 0x1 | 0x40 | 0x100);
    // Unknown bit 8 and bit 6 never fail by themselves.
    assert!(violations(&Policy::default(), &v).is_empty());
    let req = Policy {
        required_platform_info: vec!["tsme_enabled".into()],
        ..Policy::default()
    };
    assert_eq!(violations(&req, &v), ["platform_info"]);
    let req6 = Policy {
        required_platform_info: vec!["iommu_write_safe".into()],
        ..Policy::default()
    };
    assert!(violations(&req6, &v).is_empty());
    let forb = Policy {
        forbidden_platform_info: vec!["smt_enabled".into()],
        ..Policy::default()
    };
    assert_eq!(violations(&forb, &v), ["platform_info"]);
}

#[test]
fn reference_values() {
    let v = verified_with(|s| {
        s.measurement = [0xAB; 48];
        s.report_data = [0; 64];
        s.report_data[..4].copy_from_slice(b"nonc");
        s.host_data[0] = 7;
        s.vmpl = 2;
    });
    let hb = |b: &[u8]| HexBytes(b.to_vec());
    assert!(
        violations(
            &Policy {
                measurements: vec![hb(&[0; 48]), hb(&[0xAB; 48])],
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                measurements: vec![hb(&[0; 48])],
                ..Policy::default()
            },
            &v
        ),
        ["measurement"]
    );
    assert!(
        violations(
            &Policy {
                report_data: Some(hb(b"nonc")),
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                report_data: Some(hb(b"nond")),
                ..Policy::default()
            },
            &v
        ),
        ["report_data"]
    );
    assert!(
        violations(
            &Policy {
                host_data: Some(hb(&[7])),
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                host_data: Some(hb(&[8])),
                ..Policy::default()
            },
            &v
        ),
        ["host_data"]
    );
    assert_eq!(
        violations(
            &Policy {
                vmpl: Some(0),
                ..Policy::default()
            },
            &v
        ),
        ["vmpl"]
    );
    assert_eq!(
        violations(
            &Policy {
                id_key_digests: vec![hb(&[1; 48])],
                ..Policy::default()
            },
            &v
        ),
        ["id_key_digest"]
    );
    assert_eq!(
        violations(
            &Policy {
                author_key_digests: vec![hb(&[1; 48])],
                ..Policy::default()
            },
            &v
        ),
        ["author_key_digest"]
    );
    assert_eq!(
        violations(
            &Policy {
                require_author_key: true,
                ..Policy::default()
            },
            &v
        ),
        ["author_key"]
    );
    assert_eq!(
        violations(
            &Policy {
                family_id: Some(hb(&[1])),
                ..Policy::default()
            },
            &v
        ),
        ["family_id"]
    );
    assert_eq!(
        violations(
            &Policy {
                image_id: Some(hb(&[1])),
                ..Policy::default()
            },
            &v
        ),
        ["image_id"]
    );
}

#[test]
fn mitigation_vectors_on_v5() {
    let f = turin();
    let mut r = f.spec.build();
    r[0x1F8] = 0b11; // LAUNCH_MIT_VECTOR
    r[0x200] = 0b01; // CURRENT_MIT_VECTOR
    f.vek.sign_report(&mut r).unwrap();
    let v = check(&TURIN, &r, &coll(&f.vek)).unwrap();
    assert!(
        violations(
            &Policy {
                required_launch_mit_vector: 0b11,
                ..Policy::default()
            },
            &v
        )
        .is_empty()
    );
    assert_eq!(
        violations(
            &Policy {
                required_current_mit_vector: 0b10,
                ..Policy::default()
            },
            &v
        ),
        ["current_mit_vector"]
    );
}

#[test]
fn policy_toml_round_trip_and_unknown_keys() {
    let p = Policy::from_toml(
        "allow_debug = true\nmeasurements = [\"ab\"]\nmin_tcb = { snp = 8 }\nmin_abi = \"1.51\"\n",
    )
    .unwrap();
    assert!(p.allow_debug);
    assert_eq!(p.min_tcb.snp, Some(8));
    assert_eq!(p.min_abi, Some(shomei_snp::policy::MajorMinor(1, 51)));
    assert!(Policy::from_toml("allow_debugg = true").is_err());
    assert!(Policy::from_toml("measurements = [\"zz\"]").is_err());
}
