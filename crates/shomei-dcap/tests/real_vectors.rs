//! The verdicts of `../shared/vectors/README.md` for every DCAP vector, at its pinned time; the
//! same quotes at the wrong times; and tampering with every signed byte.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

mod common;

use common::*;
use shomei_core::UnixTime;
use shomei_dcap::verify::CollateralItem;
use shomei_dcap::{
    Collateral, Error, Policy, Quote, Rejection, ReportBody, SignedJson, TcbStatus, Tee,
    VerifiedCollateral, VerifiedQuote, VerifyOptions, verify,
};

fn sgx() -> (Vec<u8>, Collateral) {
    (
        read("dcap/dcap-qvl/sgx_quote"),
        qvl_collateral("dcap/dcap-qvl/sgx_quote_collateral.json"),
    )
}

fn tdx() -> (Vec<u8>, Collateral) {
    (
        read("dcap/dcap-qvl/tdx_quote"),
        qvl_collateral("dcap/dcap-qvl/tdx_quote_collateral.json"),
    )
}

fn tdx_outdated() -> (Vec<u8>, Collateral) {
    (
        read("dcap/dcap-qvl/tdx_quote_outdated"),
        qvl_collateral("dcap/dcap-qvl/tdx_quote_outdated_collateral.json"),
    )
}

fn dcap_rs() -> (Vec<u8>, Collateral) {
    (
        read("dcap/dcap-rs-tdx/quote_tdx_00806f050000.dat"),
        dcap_rs_collateral(),
    )
}

fn sample() -> (Vec<u8>, Collateral) {
    (
        read("dcap/intel-qvl-sample-sgx/quote.dat"),
        intel_sample_collateral(),
    )
}

fn ok(r: Result<VerifiedQuote, Error>) -> VerifiedQuote {
    r.unwrap_or_else(|e| panic!("expected a verdict, got: {e}"))
}

fn rejected(r: Result<VerifiedQuote, Error>) -> Rejection {
    match r {
        Err(Error::Rejected(x)) => x,
        Err(e) => panic!("expected a rejection, got the error {e}"),
        Ok(v) => panic!("expected a rejection, got {}", v.status()),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------- verdicts at the pinned time

#[test]
fn sgx_v3_is_configuration_and_sw_hardening_needed_with_two_advisories() {
    let (q, c) = sgx();
    let v = ok(verify(&q, &c, &VerifyOptions::at(SGX_AT)));
    assert_eq!(v.tee(), Tee::Sgx);
    assert_eq!(v.version(), 3);
    assert_eq!(v.status(), TcbStatus::ConfigurationAndSWHardeningNeeded);
    assert_eq!(
        v.advisory_ids(),
        strings(&["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(v.tcb().qe_status, TcbStatus::UpToDate);
    assert!(v.tcb().tdx_module.is_none());
    assert!(!v.collateral().is_expired());
    assert!(v.anchor_is_intel());
    assert_eq!(hex::encode_upper(v.pck().fmspc), "00A067110000");
    assert!(matches!(v.body(), ReportBody::Sgx(_)));
}

#[test]
fn tdx_v4_with_trailing_zeros_is_up_to_date_without_advisories() {
    let (q, c) = tdx();
    assert_eq!(Quote::parse(&q).unwrap().padding(), 70);
    let v = ok(verify(&q, &c, &VerifyOptions::at(TDX_AT)));
    assert_eq!(v.tee(), Tee::Tdx);
    assert_eq!(v.version(), 4);
    assert_eq!(v.status(), TcbStatus::UpToDate);
    assert!(v.advisory_ids().is_empty());
    assert!(matches!(v.body(), ReportBody::Td10(_)));
    assert_eq!(hex::encode_upper(v.pck().fmspc), "B0C06F000000");
}

#[test]
fn tdx_v5_td15_has_valid_signatures_but_no_matching_tcb_level() {
    let (q, c) = tdx_outdated();
    let parsed = Quote::parse(&q).unwrap();
    assert_eq!(parsed.version(), 5);
    assert!(matches!(
        parsed.body(),
        shomei_dcap::quote::BodyRef::Td15(_)
    ));
    let r = rejected(verify(&q, &c, &VerifyOptions::at(TDX_OUTDATED_AT)));
    assert_eq!(r.check(), "tcb_not_supported", "{r}");
}

#[test]
fn dcap_rs_tdx_is_out_of_date_with_three_advisories() {
    let (q, c) = dcap_rs();
    assert_eq!(Quote::parse(&q).unwrap().padding(), 3065);
    let v = ok(verify(&q, &c, &VerifyOptions::at(DCAP_RS_AT)));
    assert_eq!(v.tee(), Tee::Tdx);
    assert_eq!(v.status(), TcbStatus::OutOfDate);
    assert_eq!(
        v.advisory_ids(),
        strings(&["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
    );
    assert_eq!(hex::encode_upper(v.pck().fmspc), "00806F050000");
}

#[test]
fn intel_sample_with_tcb_info_v2_is_up_to_date_under_its_own_root() {
    let (q, c) = sample();
    let root = intel_sample_root();
    let v = ok(verify(
        &q,
        &c,
        &VerifyOptions::at(SAMPLE_AT).with_anchor(&root),
    ));
    assert_eq!(v.status(), TcbStatus::UpToDate);
    assert!(v.advisory_ids().is_empty());
    assert!(!v.anchor_is_intel());
    assert_eq!(
        v.certification_data_type(),
        shomei_dcap::quote::CertificationDataType::PpidCleartext
    );
}

#[test]
fn intel_sample_fails_the_chain_against_the_real_intel_root() {
    let (q, c) = sample();
    let r = rejected(verify(&q, &c, &VerifyOptions::at(SAMPLE_AT)));
    assert_eq!(r.check(), "root_of_trust", "{r}");
    // Without the fake root in the chains, the name matches but the signature cannot.
    let mut c = intel_sample_collateral();
    for chain in [
        &mut c.tcb_info_issuer_chain,
        &mut c.pck_crl_issuer_chain,
        &mut c.pck_cert_chain,
    ] {
        chain.retain(|x| x.subject_der() != x.issuer_der());
    }
    let r = rejected(verify(&q, &c, &VerifyOptions::at(SAMPLE_AT)));
    assert!(
        matches!(r.check(), "crl" | "chain_signature"),
        "{}: {r}",
        r.check()
    );
}

#[test]
fn intel_sample_needs_its_supplied_pck_certificate() {
    let (q, mut c) = sample();
    c.pck_cert_chain.clear();
    let root = intel_sample_root();
    let e = verify(&q, &c, &VerifyOptions::at(SAMPLE_AT).with_anchor(&root)).unwrap_err();
    assert!(matches!(e, Error::MissingCollateral(_)), "{e}");
}

#[test]
fn default_policy_accepts_only_the_up_to_date_vectors() {
    let p = Policy::default();
    let (q, c) = tdx();
    assert!(
        p.appraise(&ok(verify(&q, &c, &VerifyOptions::at(TDX_AT))))
            .is_empty()
    );
    let (q, c) = sgx();
    let v = p.appraise(&ok(verify(&q, &c, &VerifyOptions::at(SGX_AT))));
    assert_eq!(v.first().map(|v| v.check.as_str()), Some("tcb_status"));
    let (q, c) = dcap_rs();
    let v = p.appraise(&ok(verify(&q, &c, &VerifyOptions::at(DCAP_RS_AT))));
    assert_eq!(v.first().map(|v| v.check.as_str()), Some("tcb_status"));
}

// ---------------------------------------------------------------- the wrong time

#[test]
fn after_next_update_the_verdict_stands_and_the_collateral_is_reported_expired() {
    let (q, c) = sgx();
    let late = UnixTime(1_767_225_600); // 2026-01-01
    let v = ok(verify(&q, &c, &VerifyOptions::at(late)));
    assert_eq!(v.status(), TcbStatus::ConfigurationAndSWHardeningNeeded);
    let expired = &v.collateral().expired;
    for item in [
        CollateralItem::TcbInfo,
        CollateralItem::QeIdentity,
        CollateralItem::PckCrl,
    ] {
        assert!(expired.contains(&item), "{item:?} not in {expired:?}");
    }
    assert!(!expired.contains(&CollateralItem::RootCaCertificate));
    // TCB Info nextUpdate is 2025-07-19T10:56:11Z: one second later it has expired, not before.
    let next = v.collateral().get(CollateralItem::TcbInfo).unwrap().expires;
    assert_eq!(next, "2025-07-19T10:56:11Z".parse().unwrap());
    let at_edge = ok(verify(&q, &c, &VerifyOptions::at(next)));
    assert!(
        !at_edge
            .collateral()
            .expired
            .contains(&CollateralItem::TcbInfo)
    );
    let after = ok(verify(
        &q,
        &c,
        &VerifyOptions::at(UnixTime(next.secs() + 1)),
    ));
    assert!(
        after
            .collateral()
            .expired
            .contains(&CollateralItem::TcbInfo)
    );

    let mut p = Policy::default();
    p.accepted_statuses
        .push(TcbStatus::ConfigurationAndSWHardeningNeeded);
    let in_time = ok(verify(&q, &c, &VerifyOptions::at(SGX_AT)));
    assert!(
        p.appraise(&in_time).is_empty(),
        "{:?}",
        p.appraise(&in_time)
    );
    let viol = p.appraise(&v);
    assert_eq!(
        viol.iter().map(|v| v.check.as_str()).collect::<Vec<_>>(),
        vec!["collateral_expired"]
    );
    // A grace period covering the gap accepts it.
    p.collateral_grace_period = 200 * 24 * 3600;
    assert!(p.appraise(&v).is_empty());
}

#[test]
fn every_vector_is_reported_expired_today() {
    let now = UnixTime(1_800_000_000); // 2027-01-15: after every vector's nextUpdate
    for (q, c) in [sgx(), tdx(), dcap_rs()] {
        let v = ok(verify(&q, &c, &VerifyOptions::at(now)));
        assert!(v.collateral().is_expired());
        let first = Policy::default().check(&v).err().map(|x| x.check);
        assert!(
            matches!(first.as_deref(), Some("collateral_expired" | "tcb_status")),
            "{first:?}"
        );
    }
}

#[test]
fn before_the_collateral_was_issued_the_quote_is_rejected() {
    let (q, c) = tdx();
    // TCB Info was issued 2025-06-19T10:16:03Z.
    let r = rejected(verify(
        &q,
        &c,
        &VerifyOptions::at("2025-06-19T10:16:02Z".parse().unwrap()),
    ));
    assert_eq!(r.check(), "not_yet_valid", "{r}");
    let (q, c) = sgx();
    // The re-issued TCB Signing certificate starts 2025-05-06.
    let r = rejected(verify(
        &q,
        &c,
        &VerifyOptions::at("2025-05-01T00:00:00Z".parse().unwrap()),
    ));
    assert_eq!(r.check(), "not_yet_valid", "{r}");
}

#[test]
fn collateral_for_another_platform_is_a_mismatch() {
    // The SGX quote against the TDX collateral, and the reverse.
    let (sq, sc) = sgx();
    let (tq, tc) = tdx();
    // The SGX platform's PCK is issued by the Processor CA; the TDX collateral's PCK CRL by
    // the Platform CA: Intel requires the CRL issuer to be the PCK issuer.
    let r = rejected(verify(&sq, &tc, &VerifyOptions::at(SGX_AT)));
    assert_eq!(r.check(), "crl", "{r}");
    let mut tc_processor = tc.clone();
    tc_processor.pck_crl = sc.pck_crl.clone();
    tc_processor.pck_crl_issuer_chain = sc.pck_crl_issuer_chain.clone();
    let r = rejected(verify(&sq, &tc_processor, &VerifyOptions::at(SGX_AT)));
    assert_eq!(r.check(), "qe_identity_mismatch", "{r}");
    let r = rejected(verify(&tq, &sc, &VerifyOptions::at(TDX_AT)));
    assert_eq!(r.check(), "crl", "{r}");
    // Two TDX platforms: the FMSPCs differ.
    let (dq, _) = dcap_rs();
    let r = rejected(verify(&dq, &tc, &VerifyOptions::at(TDX_AT)));
    assert_eq!(r.check(), "tcb_info_mismatch", "{r}");
}

// ---------------------------------------------------------------- every signed byte matters

fn sig_region(q: &[u8]) -> std::ops::Range<usize> {
    let p = Quote::parse(q).unwrap();
    let start = p.signed_bytes().len() + 4;
    start..start + 64
}

fn offset_of(q: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - q.as_ptr() as usize
}

#[test]
fn every_byte_of_each_quote_signed_region_matters() {
    for (q, c, at) in [
        (sgx().0, sgx().1, SGX_AT),
        (tdx().0, tdx().1, TDX_AT),
        (dcap_rs().0, dcap_rs().1, DCAP_RS_AT),
    ] {
        let anchor = shomei_dcap::TrustAnchor::intel().unwrap();
        let vc = VerifiedCollateral::new(&c, anchor).unwrap();
        assert!(vc.verify_quote(&q, at).is_ok());
        let p = Quote::parse(&q).unwrap();
        let signed = p.signed_bytes().len();
        let qe_at = offset_of(&q, p.qe_report_bytes());
        let qe_sig_at = offset_of(&q, p.qe_report_signature());
        let key_at = offset_of(&q, p.attestation_key());
        let auth_at = offset_of(&q, p.qe_auth_data());
        let auth_len = p.qe_auth_data().len();
        let mut regions: Vec<(&str, std::ops::Range<usize>)> = vec![
            ("header and body", 0..signed),
            ("quote signature", sig_region(&q)),
            ("attestation key", key_at..key_at + 64),
            ("QE report", qe_at..qe_at + 384),
            ("QE report signature", qe_sig_at..qe_sig_at + 64),
        ];
        if auth_len > 0 {
            regions.push(("QE auth data", auth_at..auth_at + auth_len));
        }
        for (name, range) in regions {
            for i in range {
                for x in [0x01u8, 0x80] {
                    let mut m = q.clone();
                    m[i] ^= x;
                    let r = vc.verify_quote(&m, at);
                    assert!(
                        r.is_err(),
                        "{name}: flipping byte {i:#x} with {x:#x} verified"
                    );
                    if name == "QE report" || name == "QE report signature" {
                        assert_eq!(
                            r.err().and_then(|e| e.rejection().map(|r| r.check())),
                            Some("qe_report_signature"),
                            "{name} byte {i:#x}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_body_is_covered_by_the_quote_signature() {
    let (q, c) = tdx();
    let p = Quote::parse(&q).unwrap();
    let vc = VerifiedCollateral::new(&c, shomei_dcap::TrustAnchor::intel().unwrap()).unwrap();
    // MRTD (TD report offset 136, quote offset 48 + 136).
    let mut m = q.clone();
    m[48 + 136] ^= 1;
    let r = vc.verify_quote(&m, TDX_AT).unwrap_err();
    assert_eq!(r.rejection().map(|r| r.check()), Some("quote_signature"));
    // REPORTDATA.
    let mut m = q.clone();
    m[p.signed_bytes().len() - 1] ^= 1;
    let r = vc.verify_quote(&m, TDX_AT).unwrap_err();
    assert_eq!(r.rejection().map(|r| r.check()), Some("quote_signature"));
    // The attestation key: the QE report no longer binds it.
    let key_at = offset_of(&q, p.attestation_key());
    let mut m = q.clone();
    m[key_at] ^= 1;
    let r = vc.verify_quote(&m, TDX_AT).unwrap_err();
    assert_eq!(r.rejection().map(|r| r.check()), Some("qe_report_data"));
}

fn flip_each(raw: &[u8], mut check: impl FnMut(Vec<u8>, usize)) {
    for i in 0..raw.len() {
        let mut m = raw.to_vec();
        m[i] ^= 0x01;
        check(m, i);
    }
}

#[test]
fn every_byte_of_tcb_info_and_qe_identity_as_received_matters() {
    for (c, rel) in [
        (sgx().1, "sgx"),
        (tdx().1, "tdx"),
        (dcap_rs().1, "dcap-rs"),
        (sample().1, "sample"),
    ] {
        let anchor_sample = intel_sample_root();
        let anchor = if rel == "sample" {
            &anchor_sample
        } else {
            shomei_dcap::TrustAnchor::intel().unwrap()
        };
        assert!(VerifiedCollateral::new(&c, anchor).is_ok(), "{rel}");
        flip_each(c.tcb_info.raw(), |m, i| {
            let mut c2 = c.clone();
            c2.tcb_info = SignedJson::new(m, *c.tcb_info.signature());
            let e = VerifiedCollateral::new(&c2, anchor).unwrap_err();
            assert_eq!(
                e.rejection().map(|r| r.check()),
                Some("tcb_info_signature"),
                "{rel} TCB Info byte {i}: {e}"
            );
        });
        flip_each(c.tcb_info.signature(), |m, i| {
            let mut c2 = c.clone();
            c2.tcb_info = SignedJson::new(c.tcb_info.raw().to_vec(), m.try_into().unwrap());
            assert!(
                VerifiedCollateral::new(&c2, anchor).is_err(),
                "{rel} sig {i}"
            );
        });
        flip_each(c.qe_identity.raw(), |m, i| {
            let mut c2 = c.clone();
            c2.qe_identity = SignedJson::new(m, *c.qe_identity.signature());
            let e = VerifiedCollateral::new(&c2, anchor).unwrap_err();
            assert_eq!(
                e.rejection().map(|r| r.check()),
                Some("qe_identity_signature"),
                "{rel} QE Identity byte {i}: {e}"
            );
        });
    }
}

#[test]
fn a_re_serialised_tcb_info_does_not_verify() {
    // Same JSON value, different bytes: pretty-printed. Verification is over the bytes received.
    let (q, c) = tdx();
    let value: serde_json::Value = serde_json::from_slice(c.tcb_info.raw()).unwrap();
    let mut c2 = c.clone();
    c2.tcb_info = SignedJson::new(
        serde_json::to_vec_pretty(&value).unwrap(),
        *c.tcb_info.signature(),
    );
    let r = rejected(verify(&q, &c2, &VerifyOptions::at(TDX_AT)));
    assert_eq!(r.check(), "tcb_info_signature");
}

#[test]
fn every_byte_of_the_crls_matters() {
    let (q, c) = tdx();
    for which in ["root", "pck"] {
        let der = if which == "root" {
            c.root_ca_crl.der().to_vec()
        } else {
            c.pck_crl.der().to_vec()
        };
        flip_each(&der, |m, i| {
            let Ok(crl) = shomei_core::x509::Crl::from_der(&m) else {
                return; // no longer a CRL: an input error, also fine
            };
            let mut c2 = c.clone();
            if which == "root" {
                c2.root_ca_crl = crl;
            } else {
                c2.pck_crl = crl;
            }
            assert!(
                verify(&q, &c2, &VerifyOptions::at(TDX_AT)).is_err(),
                "{which} CRL byte {i} verified"
            );
        });
    }
}

// ---------------------------------------------------------------- truncation and padding

#[test]
fn every_truncation_inside_the_quote_fails_to_parse() {
    for q in [sgx().0, tdx().0, tdx_outdated().0, dcap_rs().0, sample().0] {
        let p = Quote::parse(&q).unwrap();
        let end = q.len() - p.padding();
        for n in 0..end {
            assert!(Quote::parse(&q[..n]).is_err(), "{n} of {end} bytes parsed");
        }
        // Cutting only padding is fine.
        for n in end..=q.len() {
            assert_eq!(Quote::parse(&q[..n]).unwrap().padding(), n - end);
        }
    }
}

#[test]
fn non_zero_padding_is_refused() {
    let (q, _) = tdx();
    let mut m = q.clone();
    *m.last_mut().unwrap() = 1;
    let e = Quote::parse(&m).unwrap_err();
    assert_eq!(e.field, "trailing padding");
    assert_eq!(e.offset, q.len() - 1);
    let mut m = q;
    m.push(7);
    assert!(Quote::parse(&m).is_err());
}

#[test]
fn a_wrong_qe_vendor_is_rejected() {
    let (q, c) = sgx();
    let mut m = q.clone();
    m[12] ^= 0xff;
    let r = rejected(verify(&m, &c, &VerifyOptions::at(SGX_AT)));
    assert_eq!(r.check(), "qe_vendor_id");
}

#[test]
fn the_quote_v4_sgx_v5_descriptor_and_sizes_are_checked() {
    let (q, _) = tdx_outdated();
    // Body descriptor type 2 (TD 1.0) with the TD 1.5 size.
    let mut m = q.clone();
    m[48] = 2;
    assert_eq!(Quote::parse(&m).unwrap_err().field, "body_descriptor.size");
    // Type 1 (SGX) in a TDX quote.
    let mut m = q.clone();
    m[48] = 1;
    assert_eq!(Quote::parse(&m).unwrap_err().field, "body_descriptor.type");
    let mut m = q;
    m[48] = 9;
    assert_eq!(Quote::parse(&m).unwrap_err().field, "body_descriptor.type");
}

// ---------------------------------------------------------------- appraisal on real verdicts

fn checks(p: &Policy, v: &VerifiedQuote) -> Vec<String> {
    p.appraise(v).into_iter().map(|x| x.check).collect()
}

#[test]
fn platform_grace_period_counts_from_the_matched_levels_tcb_date() {
    let (q, c) = dcap_rs();
    let v = ok(verify(&q, &c, &VerifyOptions::at(DCAP_RS_AT)));
    // The matched level (INTEL-SA-00960, …) is dated 2023-08-09 in the TCB Info.
    assert_eq!(
        v.tcb().platform_tcb_date,
        "2023-08-09T00:00:00Z".parse().unwrap()
    );
    let days = |d: u64| d * 24 * 3600;
    // 2023-08-09 → 2025-03-01 is 570 days.
    let mut p = Policy {
        platform_grace_period: days(571),
        ..Policy::default()
    };
    assert!(checks(&p, &v).is_empty(), "{:?}", p.appraise(&v));
    p.platform_grace_period = days(569);
    assert_eq!(checks(&p, &v), vec!["tcb_status"]);
    // A QE grace period does not cover an out-of-date platform.
    p.platform_grace_period = 0;
    p.qe_grace_period = days(10_000);
    assert_eq!(checks(&p, &v), vec!["tcb_status"]);
}

#[test]
fn advisories_can_be_allowed_or_denied() {
    let (q, c) = sgx();
    let v = ok(verify(&q, &c, &VerifyOptions::at(SGX_AT)));
    let mut p = Policy {
        accepted_statuses: vec![TcbStatus::ConfigurationAndSWHardeningNeeded],
        ..Policy::default()
    };
    assert!(checks(&p, &v).is_empty());
    p.allowed_advisories = Some(strings(&["INTEL-SA-00289"]));
    let viol = p.appraise(&v);
    assert_eq!(viol.len(), 1);
    assert!(
        viol[0].detail.contains("INTEL-SA-00615"),
        "{}",
        viol[0].detail
    );
    p.allowed_advisories = Some(strings(&["intel-sa-00289", "INTEL-SA-00615"]));
    assert!(checks(&p, &v).is_empty());
    p.denied_advisories = strings(&["INTEL-SA-00615"]);
    assert_eq!(checks(&p, &v), vec!["advisory"]);
}

#[test]
fn collateral_age_and_evaluation_number_are_policy() {
    let (q, c) = sgx();
    let v = ok(verify(&q, &c, &VerifyOptions::at(SGX_AT)));
    let mut p = Policy {
        accepted_statuses: vec![TcbStatus::ConfigurationAndSWHardeningNeeded],
        ..Policy::default()
    };
    // TCB Info issued 2025-06-19T10:56:11Z, QE Identity 10:01:18Z, PCK CRL 2025-06-19 too:
    // about 11.6 days before 2025-07-01.
    p.max_collateral_age = Some(12 * 24 * 3600);
    assert!(checks(&p, &v).is_empty(), "{:?}", p.appraise(&v));
    p.max_collateral_age = Some(7 * 24 * 3600);
    let viol = checks(&p, &v);
    assert!(
        viol.len() >= 2 && viol.iter().all(|c| c == "collateral_age"),
        "{viol:?}"
    );
    p.max_collateral_age = None;
    // tcbEvaluationDataNumber is 17 in both documents.
    p.min_tcb_evaluation_data_number = Some(17);
    assert!(checks(&p, &v).is_empty());
    p.min_tcb_evaluation_data_number = Some(18);
    assert_eq!(
        checks(&p, &v),
        vec!["tcb_evaluation_data_number", "tcb_evaluation_data_number"]
    );
}

#[test]
fn td_attributes_and_reference_values_are_policy() {
    let (q, c) = tdx();
    let v = ok(verify(&q, &c, &VerifyOptions::at(TDX_AT)));
    let td = v.body().td().unwrap().clone();
    // This TD sets SEPT_VE_DISABLE (0x10000000) and nothing else.
    assert_eq!(td.td_attributes.get(), 0x1000_0000);
    let mut p = Policy::default();
    assert!(checks(&p, &v).is_empty());
    p.mr_td = vec![shomei_dcap::policy::HexBytes(td.mr_td.to_vec())];
    p.rtmr2 = vec![shomei_dcap::policy::HexBytes(td.rtmr[2].to_vec())];
    p.report_data = Some(shomei_dcap::policy::HexBytes(td.report_data.to_vec()));
    assert!(checks(&p, &v).is_empty());
    let mut other = td.mr_td;
    other[47] ^= 1;
    p.mr_td.push(shomei_dcap::policy::HexBytes(other.to_vec()));
    assert!(
        checks(&p, &v).is_empty(),
        "an allowlist accepts any listed value"
    );
    p.mr_td = vec![shomei_dcap::policy::HexBytes(other.to_vec())];
    p.rtmr0 = vec![shomei_dcap::policy::HexBytes(td.rtmr[1].to_vec())];
    assert_eq!(checks(&p, &v), vec!["mr_td", "rtmr0"]);
}
