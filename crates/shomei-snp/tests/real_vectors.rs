//! The verdicts of `../shared/vectors/README.md` for every SNP vector.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

mod common;

use common::read;
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, parse_certificates};
use shomei_snp::{
    AmdRoot, Collateral, Error, Policy, Product, Rejection, Report, SigningKey, Tcb, TrustAnchors,
    VekInfo, VerifyOptions, verify,
};

fn t(s: &str) -> UnixTime {
    s.parse().unwrap()
}

fn collateral(files: &[&str]) -> Collateral {
    let mut c = Collateral::new();
    for f in files {
        c.certificates.extend(parse_certificates(&read(f)).unwrap());
    }
    c
}

struct Case {
    report: &'static str,
    certs: &'static [&'static str],
    at: &'static str,
}

const MILAN_V2: Case = Case {
    report: "snp/milan-v2/report.bin",
    certs: &["snp/milan-v2/vcek.der"],
    at: "2025-06-01T00:00:00Z",
};
const MILAN_PROVISIONAL: Case = Case {
    report: "snp/milan-v2-provisional/report.bin",
    certs: &["snp/milan-v2-provisional/vcek.der"],
    at: "2025-06-01T00:00:00Z",
};
const MILAN_VLEK: Case = Case {
    report: "snp/milan-v3-vlek/report.bin",
    certs: &["snp/milan-v3-vlek/vlek.der"],
    at: "2025-06-01T00:00:00Z",
};
const TURIN_V5: Case = Case {
    report: "snp/turin-v5/report.bin",
    certs: &["snp/turin-v5/vcek.der"],
    at: "2026-11-01T00:00:00Z",
};
const ALL: [&Case; 4] = [&MILAN_V2, &MILAN_PROVISIONAL, &MILAN_VLEK, &TURIN_V5];

fn run(c: &Case) -> Result<shomei_snp::VerifiedReport, Error> {
    verify(
        &read(c.report),
        &collateral(c.certs),
        &VerifyOptions::at(t(c.at)),
    )
}

#[test]
fn milan_v2_verifies_with_its_vcek_and_the_milan_root() {
    let v = run(&MILAN_V2).unwrap();
    assert_eq!(v.product(), Product::Milan);
    assert_eq!(v.signer().kind, SigningKey::Vcek);
    let r = v.report();
    assert_eq!(r.version(), 2);
    assert_eq!(r.policy().0, 0x30000);
    assert_eq!(
        r.reported_tcb().decode(Product::Milan),
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115
        }
    );
    assert!(Policy::default().appraise(&v).is_empty());
}

#[test]
fn milan_v2_verifies_with_the_chain_supplied_too() {
    let c = collateral(&["snp/milan-v2/vcek.der", "snp/milan-v2/cert_chain.pem"]);
    assert!(
        verify(
            &read(MILAN_V2.report),
            &c,
            &VerifyOptions::at(t(MILAN_V2.at))
        )
        .is_ok()
    );
}

#[test]
fn turin_v5_with_fmc_8_byte_hwid_and_platform_info_bit_6_verifies() {
    let v = run(&TURIN_V5).unwrap();
    assert_eq!(v.product(), Product::Turin);
    let r = v.report();
    assert_eq!(r.version(), 5);
    assert_eq!(r.platform_info().0, 0x64);
    assert_eq!(r.reported_tcb().0, [1, 1, 1, 4, 0, 0, 0, 0x52]);
    assert_eq!(
        r.reported_tcb().decode(Product::Turin),
        Tcb {
            fmc: Some(1),
            bootloader: 1,
            tee: 1,
            snp: 4,
            microcode: 82
        }
    );
    assert_eq!(r.current_version().to_string(), "1.58.0");
    assert_eq!(hex::encode(&r.chip_id()[..8]), "6bb1229b7692b710");
    assert!(Policy::default().appraise(&v).is_empty());
}

#[test]
fn turin_report_is_rejected_against_the_milan_root() {
    let e = verify(
        &read(TURIN_V5.report),
        &collateral(TURIN_V5.certs),
        &VerifyOptions::at(t(TURIN_V5.at)).with_product(Some(Product::Milan)),
    )
    .unwrap_err();
    assert_eq!(e.rejection().map(Rejection::check), Some("product"));
}

#[test]
fn provisional_firmware_is_refused_by_default_and_accepted_when_permitted() {
    let v = run(&MILAN_PROVISIONAL).unwrap();
    let r = v.report();
    assert_eq!(r.current_tcb().decode(Product::Milan).microcode, 0xCE);
    assert_eq!(r.committed_tcb().decode(Product::Milan).microcode, 0x73);
    let violations = Policy::default().appraise(&v);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].check, "provisional_firmware");
    let permissive = Policy {
        allow_provisional_firmware: true,
        ..Policy::default()
    };
    assert!(permissive.appraise(&v).is_empty());
}

#[test]
fn vlek_report_verifies_through_the_asvk_before_expiry() {
    let v = run(&MILAN_VLEK).unwrap();
    assert_eq!(v.signer().kind, SigningKey::Vlek);
    assert_eq!(
        v.signer().csp_id.as_deref(),
        Some("CN=cc-us-east-2.amazonaws.com")
    );
    assert!(v.signer().chip_id_masked);
    assert_eq!(v.report().vmpl(), 1);
    let ok_policy = Policy {
        allow_provisional_firmware: true,
        ..Policy::default()
    };
    assert!(ok_policy.appraise(&v).is_empty());
    // On the last day of the VLEK's validity it still verifies.
    let last = verify(
        &read(MILAN_VLEK.report),
        &collateral(MILAN_VLEK.certs),
        &VerifyOptions::at(t("2025-12-10T00:00:00Z")),
    );
    assert!(last.is_ok());
}

#[test]
fn vlek_report_is_rejected_after_certificate_expiry() {
    let e = verify(
        &read(MILAN_VLEK.report),
        &collateral(MILAN_VLEK.certs),
        &VerifyOptions::at(t("2026-11-22T00:00:00Z")),
    )
    .unwrap_err();
    match e {
        Error::Rejected(Rejection::CertificateValidity { cert, .. }) => assert_eq!(cert, "VLEK"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn vlek_does_not_chain_to_the_ask() {
    // A trust store whose "ASVK" is really the VCEK-issuing ASK: the VLEK must not verify.
    let milan = TrustAnchors::amd().get(Product::Milan).unwrap();
    let bogus = AmdRoot::new(
        Product::Milan,
        milan.ark.clone(),
        milan.ask.clone(),
        milan.ask.clone(),
    )
    .unwrap();
    let anchors = TrustAnchors::empty().with_root(bogus);
    let e = verify(
        &read(MILAN_VLEK.report),
        &collateral(MILAN_VLEK.certs),
        &VerifyOptions::at(t(MILAN_VLEK.at)).with_anchors(&anchors),
    )
    .unwrap_err();
    let check = e.rejection().map(Rejection::check);
    assert!(
        matches!(check, Some("chain_issuer" | "chain_signature")),
        "{e:?}"
    );
}

#[test]
fn vlek_report_fails_a_vmpl_0_policy() {
    let v = run(&MILAN_VLEK).unwrap();
    let p = Policy {
        vmpl: Some(0),
        allow_provisional_firmware: true,
        ..Policy::default()
    };
    let violations = p.appraise(&v);
    assert_eq!(
        violations
            .iter()
            .map(|v| v.check.as_str())
            .collect::<Vec<_>>(),
        ["vmpl"]
    );
}

#[test]
fn a_vcek_from_another_chip_fails_the_signature() {
    let e = verify(
        &read(MILAN_V2.report),
        &collateral(MILAN_PROVISIONAL.certs),
        &VerifyOptions::at(t(MILAN_V2.at)),
    )
    .unwrap_err();
    assert_eq!(
        e.rejection().map(Rejection::check),
        Some("report_signature")
    );
}

#[test]
fn a_vcek_is_not_accepted_for_a_vlek_signed_report() {
    let e = verify(
        &read(MILAN_VLEK.report),
        &collateral(MILAN_V2.certs),
        &VerifyOptions::at(t(MILAN_VLEK.at)),
    )
    .unwrap_err();
    assert_eq!(e.rejection().map(Rejection::check), Some("signing_key"));
}

#[test]
fn missing_vek_is_missing_collateral_not_a_rejection() {
    let e = verify(
        &read(MILAN_V2.report),
        &Collateral::new(),
        &VerifyOptions::at(t(MILAN_V2.at)),
    )
    .unwrap_err();
    assert!(matches!(e, Error::MissingCollateral(_)), "{e:?}");
}

#[test]
fn vcek_before_its_not_before_is_rejected() {
    let e = verify(
        &read(TURIN_V5.report),
        &collateral(TURIN_V5.certs),
        &VerifyOptions::at(t("2026-01-01T00:00:00Z")),
    )
    .unwrap_err();
    assert_eq!(
        e.rejection().map(Rejection::check),
        Some("certificate_validity")
    );
}

#[test]
fn a_foreign_ark_is_refused() {
    // The Genoa ARK supplied with a Milan report is not the pinned Milan ARK.
    let mut c = collateral(MILAN_V2.certs);
    let genoa = parse_certificates(&read("snp/roots/ask_ark_genoa.pem")).unwrap();
    c.certificates.push(genoa[1].clone());
    let e = verify(
        &read(MILAN_V2.report),
        &c,
        &VerifyOptions::at(t(MILAN_V2.at)),
    )
    .unwrap_err();
    assert_eq!(e.rejection().map(Rejection::check), Some("root_of_trust"));
}

#[test]
fn azure_hcl_embedded_report_verifies_with_its_vcek() {
    let hcl = read("snp/azure-hcl-milan/hcl-report.bin");
    let report = &hcl[0x20..0x20 + shomei_snp::REPORT_LEN];
    let c = collateral(&["snp/azure-hcl-milan/vcek.pem"]);
    let v = verify(report, &c, &VerifyOptions::at(t("2025-01-01"))).unwrap();
    assert_eq!(v.report().vmpl(), 0);
    assert!(v.report().is_provisional_firmware());
}

#[test]
fn hwid_encodings_parse_to_the_same_hwid_and_do_not_verify() {
    let expected: Vec<u8> = (0u8..64).collect();
    for f in [
        "snp/hwid-encodings/test-vcek-invalid-legacy.der",
        "snp/hwid-encodings/test-vcek-invalid-new.der",
    ] {
        let cert = Certificate::from_der(&read(f)).unwrap();
        let info = VekInfo::from_certificate(&cert).unwrap();
        assert_eq!(info.hwid.as_deref(), Some(&expected[..]), "{f}");
        let milan = TrustAnchors::amd().get(Product::Milan).unwrap();
        assert!(
            cert.verify_signed_by(&milan.ask.public_key().unwrap())
                .is_err(),
            "{f}"
        );
    }
}

#[test]
fn every_root_bundle_chains_and_matches_the_pins() {
    for (f, p) in [
        ("snp/roots/ask_ark_milan.pem", Product::Milan),
        ("snp/roots/ask_ark_milan_vlek.pem", Product::Milan),
        ("snp/roots/ask_ark_genoa.pem", Product::Genoa),
        ("snp/roots/ask_ark_genoa_vlek.pem", Product::Genoa),
        ("snp/roots/ask_ark_turin_vcek.pem", Product::Turin),
        ("snp/roots/ask_ark_turin_vlek.pem", Product::Turin),
    ] {
        let chain = parse_certificates(&read(f)).unwrap();
        let root = TrustAnchors::amd().get(p).unwrap();
        assert_eq!(chain[1], root.ark, "{f}");
        assert!(chain[0] == root.ask || chain[0] == root.asvk, "{f}");
        chain[0]
            .verify_signed_by(&chain[1].public_key().unwrap())
            .unwrap();
    }
}

// ---- Robustness on every real report ----

#[test]
fn every_single_byte_change_in_the_signed_region_and_signature_fails() {
    for c in ALL {
        let orig = read(c.report);
        let coll = collateral(c.certs);
        let opts = VerifyOptions::at(t(c.at));
        assert!(verify(&orig, &coll, &opts).is_ok(), "{}", c.report);
        // 0x000..0x2A0 is signed; 0x2A0..0x330 holds r and s with their padding.
        for i in 0..0x330 {
            let mut b = orig.clone();
            b[i] ^= 0x01;
            assert!(
                verify(&b, &coll, &opts).is_err(),
                "{}: flip at {i:#x} still verifies",
                c.report
            );
        }
    }
}

#[test]
fn every_truncation_fails_to_parse() {
    for c in ALL {
        let orig = read(c.report);
        for n in 0..orig.len() {
            assert!(
                Report::parse(&orig[..n]).is_err(),
                "{} truncated to {n}",
                c.report
            );
        }
        let mut longer = orig.clone();
        longer.push(0);
        assert!(Report::parse(&longer).is_err());
    }
}

#[test]
fn a_non_zero_reserved_byte_fails_to_parse() {
    for c in ALL {
        let orig = read(c.report);
        let v = u32::from_le_bytes(orig[0..4].try_into().unwrap());
        let mut reserved: Vec<usize> = vec![0x4C, 0x4D, 0x4E, 0x4F, 0x1EB, 0x1EF];
        reserved.extend(if v == 2 { 0x188..0x1A0 } else { 0x18B..0x1A0 });
        reserved.extend(if v >= 5 { 0x208..0x2A0 } else { 0x1F8..0x2A0 });
        reserved.extend(0x2A0 + 48..0x2A0 + 72);
        reserved.extend(0x2E8 + 48..0x2E8 + 72);
        reserved.extend(0x330..0x4A0);
        for i in reserved {
            let mut b = orig.clone();
            b[i] = 0x80;
            let e = Report::parse(&b).unwrap_err();
            assert!(e.offset == i, "{}: byte {i:#x} gave {e}", c.report);
        }
    }
}

#[test]
fn claims_decode_as_documented() {
    let b = read(TURIN_V5.report);
    let r = Report::parse(&b).unwrap();
    let claims = shomei_snp::claims::ReportClaims::new(&r, None);
    let j = serde_json::to_value(&claims).unwrap();
    assert_eq!(
        j["reported_tcb"],
        serde_json::json!({"fmc":1,"bootloader":1,"tee":1,"snp":4,"microcode":82})
    );
    assert_eq!(j["version"], 5);
    assert_eq!(j["product"], "turin");
    assert_eq!(j["product_source"], "cpuid");
    assert_eq!(j["platform_info"]["iommu_write_safe"], true);
    assert_eq!(j["vmpl"], 0);
    assert_eq!(j["measurement"].as_str().map(str::len), Some(96));
}
