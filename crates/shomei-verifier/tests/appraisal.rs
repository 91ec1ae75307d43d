//! Appraisal of real and emulated evidence: affirming vectors for good evidence, and for each
//! kind of failure the right non-affirming claim with the check that caused it.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use shomei_snp::bits::GuestPolicy;
use shomei_snp::policy::HexBytes;
use shomei_verifier::ar4si::value;
use shomei_verifier::{
    Anchors, Appraisal, AppraisalContext, Claims, DcapEvidence, Evidence, Family, NamedPolicy,
    NonceBinding, Policies, ReasonSource, SnpEvidence, Tier, TrustClaim, appraise, report_data,
};

const BASE_POLICY: u64 = 0x30000;

/// Every non-affirming claim has at least one reason naming it, and every reason names a claim
/// that holds the value it reports or a worse one.
fn assert_reasons_cover_the_vector(a: &Appraisal) {
    for (claim, v) in a.trust_vector().iter() {
        if Tier::of(v) != Tier::Affirming {
            assert!(
                a.reasons_for(claim).next().is_some(),
                "{claim} = {v} has no reason: {:?}",
                a.reasons()
            );
        }
    }
    for r in a.reasons() {
        assert!(Tier::of(a.trust_vector().get(r.claim)) >= Tier::of(r.value) || r.value == 99);
        assert!(!r.check.is_empty() && !r.detail.is_empty());
    }
}

fn only_reason(a: &Appraisal, claim: TrustClaim) -> (&str, ReasonSource) {
    let rs: Vec<_> = a.reasons_for(claim).collect();
    assert_eq!(rs.len(), 1, "{:?}", a.reasons());
    (rs[0].check.as_str(), rs[0].source)
}

fn snp_policy(p: shomei_snp::Policy) -> Policies {
    Policies {
        snp: NamedPolicy {
            id: "policy:test/snp".into(),
            policy: p,
        },
        ..Policies::default()
    }
}

// ------------------------------------------------------------------ real SEV-SNP vectors

#[test]
fn the_real_milan_report_is_affirming_under_the_default_policy() {
    let a = run(
        &milan_v2(),
        t(MILAN_AT),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.family(), Family::Snp);
    assert_eq!(a.status(), Tier::Affirming, "{:?}", a.reasons());
    assert!(a.reasons().is_empty());
    let v = a.trust_vector();
    assert_eq!(
        v.get(TrustClaim::InstanceIdentity),
        value::TRUSTWORTHY_INSTANCE
    );
    assert_eq!(v.get(TrustClaim::Hardware), value::GENUINE_HARDWARE);
    assert_eq!(v.get(TrustClaim::Configuration), value::APPROVED_CONFIG);
    assert_eq!(
        v.get(TrustClaim::RuntimeOpaque),
        value::ENCRYPTED_MEMORY_RUNTIME
    );
    // No reference values: no claim about the executables.
    assert_eq!(v.get(TrustClaim::Executables), value::NO_CLAIM);
    assert_eq!(a.policy_id(), "policy:shomei/default");
    let Some(Claims::Snp(c)) = a.claims() else {
        panic!("no SNP claims");
    };
    assert_eq!(c.report.version, 2);
    assert_eq!(c.signer.product, shomei_snp::Product::Milan);
    assert_eq!(a.appraised_at(), t(MILAN_AT));
    // The service's JSON form: snake_case keys, AR4SI names for the claims.
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(j["family"], "snp");
    assert_eq!(j["status"], "affirming");
    assert_eq!(j["trust_vector"]["instance-identity"], 2);
    assert_eq!(j["policy_id"], "policy:shomei/default");
    assert_eq!(j["claims"]["report"]["version"], 2);
    assert_eq!(j["reasons"], serde_json::json!([]));
}

#[test]
fn reference_values_affirm_or_fail_the_executables_claim() {
    let e = milan_v2();
    let measurement = match &e {
        Evidence::Snp(s) => shomei_snp::Report::parse(&s.report)
            .unwrap()
            .measurement()
            .to_vec(),
        _ => unreachable!(),
    };
    let good = snp_policy(shomei_snp::Policy {
        measurements: vec![HexBytes(measurement)],
        ..Default::default()
    });
    let a = run(&e, t(MILAN_AT), &good, &Anchors::default(), None);
    assert_eq!(a.status(), Tier::Affirming);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Executables),
        value::APPROVED_RUNTIME
    );
    assert_eq!(a.policy_id(), "policy:test/snp");

    let other = snp_policy(shomei_snp::Policy {
        measurements: vec![HexBytes(vec![0xab; 48])],
        ..Default::default()
    });
    let a = run(&e, t(MILAN_AT), &other, &Anchors::default(), None);
    assert_eq!(a.status(), Tier::Warning);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Executables),
        value::UNRECOGNIZED_RUNTIME
    );
    assert_eq!(
        only_reason(&a, TrustClaim::Executables),
        ("measurement", ReasonSource::Policy)
    );
    // The rest of the vector still stands.
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::GENUINE_HARDWARE
    );
    assert_reasons_cover_the_vector(&a);
}

#[test]
fn provisional_firmware_is_unsafe_hardware_with_its_reason() {
    let e = snp_vector(
        "snp/milan-v2-provisional/report.bin",
        &["snp/milan-v2-provisional/vcek.der"],
    );
    let a = run(
        &e,
        t(MILAN_AT),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Warning);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::UNSAFE_HARDWARE
    );
    assert_eq!(
        only_reason(&a, TrustClaim::Hardware),
        ("provisional_firmware", ReasonSource::Policy)
    );
    assert_reasons_cover_the_vector(&a);
}

#[test]
fn an_expired_vlek_fails_crypto_validation_and_is_contraindicated() {
    let e = snp_vector(
        "snp/milan-v3-vlek/report.bin",
        &["snp/milan-v3-vlek/vlek.der"],
    );
    // This machine's firmware is provisional (committed below current).
    let policies = snp_policy(shomei_snp::Policy {
        allow_provisional_firmware: true,
        ..Default::default()
    });
    let ok = run(&e, t(MILAN_AT), &policies, &Anchors::default(), None);
    assert_eq!(ok.status(), Tier::Affirming, "{:?}", ok.reasons());
    let a = run(
        &e,
        t("2026-11-22T00:00:00Z"),
        &policies,
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::InstanceIdentity),
        value::CRYPTO_VALIDATION_FAILED
    );
    assert_eq!(
        only_reason(&a, TrustClaim::InstanceIdentity),
        ("certificate_validity", ReasonSource::Verification)
    );
    // Nothing from a rejected report is reported as appraised.
    assert!(a.claims().is_none());
    assert_eq!(a.trust_vector().get(TrustClaim::Hardware), value::NO_CLAIM);
}

#[test]
fn a_changed_signed_byte_fails_the_report_signature() {
    let mut e = milan_v2();
    if let Evidence::Snp(s) = &mut e {
        s.report[0x90] ^= 1; // MEASUREMENT
    }
    let a = run(
        &e,
        t(MILAN_AT),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        only_reason(&a, TrustClaim::InstanceIdentity),
        ("report_signature", ReasonSource::Verification)
    );
}

#[test]
fn a_turin_report_claimed_as_milan_is_unrecognized_hardware() {
    let mut e = snp_vector("snp/turin-v5/report.bin", &["snp/turin-v5/vcek.der"]);
    if let Evidence::Snp(s) = &mut e {
        s.product = Some(shomei_snp::Product::Milan);
    }
    let a = run(
        &e,
        t("2026-11-01T00:00:00Z"),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::UNRECOGNIZED_HARDWARE
    );
    assert_eq!(only_reason(&a, TrustClaim::Hardware).0, "product");
}

#[test]
fn missing_or_unreadable_evidence_is_an_error_not_an_appraisal() {
    let Evidence::Snp(s) = milan_v2() else {
        unreachable!()
    };
    let ctx_policies = Policies::default();
    let anchors = Anchors::default();
    let ctx = AppraisalContext {
        at: t(MILAN_AT),
        nonce: None,
        policies: &ctx_policies,
        anchors: &anchors,
    };
    let no_vek = Evidence::Snp(SnpEvidence {
        collateral: shomei_snp::Collateral::new(),
        ..s.clone()
    });
    let e = appraise(&no_vek, &ctx).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let truncated = Evidence::Snp(SnpEvidence {
        report: s.report[..100].to_vec(),
        ..s
    });
    let e = appraise(&truncated, &ctx).unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}

// ------------------------------------------------------------------ emulated SEV-SNP

#[test]
fn an_emulated_guest_that_binds_the_nonce_and_its_key_is_affirming() {
    let (nonce, key) = (b"fresh nonce 1".to_vec(), b"guest public key".to_vec());
    let (measurement, e) = emulated_snp(BASE_POLICY, report_data(&nonce, &key));
    let policies = snp_policy(shomei_snp::Policy {
        measurements: vec![HexBytes(measurement.to_vec())],
        vmpl: Some(0),
        ..Default::default()
    });
    let anchors = snp_test_anchors();
    let binding = NonceBinding::Key {
        nonce: nonce.clone(),
        public_key: key.clone(),
    };
    let a = run(&e, EMU_AT, &policies, &anchors, Some(&binding));
    assert_eq!(a.status(), Tier::Affirming, "{:?}", a.reasons());
    assert_eq!(
        a.trust_vector().get(TrustClaim::Executables),
        value::APPROVED_RUNTIME
    );
    // The same value given exactly.
    let exact = NonceBinding::Exact(report_data(&nonce, &key));
    assert!(run(&e, EMU_AT, &policies, &anchors, Some(&exact)).is_affirming());

    // Another nonce (a replay), or another key: the instance is not the one challenged.
    for wrong in [
        NonceBinding::Key {
            nonce: b"fresh nonce 2".to_vec(),
            public_key: key.clone(),
        },
        NonceBinding::Key {
            nonce,
            public_key: b"attacker key".to_vec(),
        },
    ] {
        let a = run(&e, EMU_AT, &policies, &anchors, Some(&wrong));
        assert_eq!(a.status(), Tier::Contraindicated);
        assert_eq!(
            a.trust_vector().get(TrustClaim::InstanceIdentity),
            value::UNTRUSTWORTHY_INSTANCE
        );
        assert_eq!(
            only_reason(&a, TrustClaim::InstanceIdentity),
            ("nonce_binding", ReasonSource::Nonce)
        );
        assert_reasons_cover_the_vector(&a);
    }
}

#[test]
fn a_debuggable_guest_is_contraindicated_for_configuration_and_runtime() {
    let (_, e) = emulated_snp(BASE_POLICY | GuestPolicy::DEBUG, [0; 64]);
    let a = run(&e, EMU_AT, &Policies::default(), &snp_test_anchors(), None);
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Configuration),
        value::UNSUPPORTABLE_CONFIG
    );
    assert_eq!(
        a.trust_vector().get(TrustClaim::RuntimeOpaque),
        value::VISIBLE_MEMORY_RUNTIME
    );
    assert_eq!(only_reason(&a, TrustClaim::Configuration).0, "debug");
    assert_eq!(only_reason(&a, TrustClaim::RuntimeOpaque).0, "debug");
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::GENUINE_HARDWARE
    );
    // Allowed by the policy, it affirms.
    let lenient = snp_policy(shomei_snp::Policy {
        allow_debug: true,
        ..Default::default()
    });
    assert!(run(&e, EMU_AT, &lenient, &snp_test_anchors(), None).is_affirming());
}

#[test]
fn a_guest_below_the_minimum_tcb_is_unsafe_hardware() {
    let (_, e) = emulated_snp(BASE_POLICY, [0; 64]);
    let policies = snp_policy(shomei_snp::Policy {
        min_tcb: shomei_snp::policy::MinTcb::parse("microcode=200").unwrap(),
        ..Default::default()
    });
    let a = run(&e, EMU_AT, &policies, &snp_test_anchors(), None);
    assert_eq!(a.status(), Tier::Warning);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::UNSAFE_HARDWARE
    );
    // CURRENT_TCB, COMMITTED_TCB and REPORTED_TCB each fall short: one reason apiece.
    let rs: Vec<_> = a.reasons_for(TrustClaim::Hardware).collect();
    assert_eq!(rs.len(), 3, "{rs:?}");
    assert!(rs.iter().all(|r| r.check == "min_tcb.microcode"));
}

#[test]
fn emulated_evidence_is_unrecognized_hardware_under_amd_roots() {
    let (_, e) = emulated_snp(BASE_POLICY, [0; 64]);
    let a = run(&e, EMU_AT, &Policies::default(), &Anchors::default(), None);
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::UNRECOGNIZED_HARDWARE
    );
    assert_eq!(
        only_reason(&a, TrustClaim::Hardware),
        ("root_of_trust", ReasonSource::Verification)
    );
}

// ------------------------------------------------------------------ DCAP

#[test]
fn the_real_up_to_date_tdx_quote_is_affirming() {
    let a = run(
        &dcap_vector("tdx_quote"),
        DCAP_AT,
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.family(), Family::Dcap);
    assert_eq!(a.status(), Tier::Affirming, "{:?}", a.reasons());
    assert!(matches!(a.claims(), Some(Claims::Dcap(_))));
}

#[test]
fn the_real_sgx_quote_needing_configuration_is_unsafe_hardware() {
    let a = run(
        &dcap_vector("sgx_quote"),
        DCAP_AT,
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Warning);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::UNSAFE_HARDWARE
    );
    assert!(
        a.reasons_for(TrustClaim::Hardware)
            .any(|r| r.check == "tcb_status")
    );
    assert_reasons_cover_the_vector(&a);
}

#[test]
fn the_real_td15_quote_without_a_tcb_level_is_unrecognized_hardware() {
    let a = run(
        &dcap_vector("tdx_quote_outdated"),
        shomei_core::UnixTime::from_secs(1_772_323_200),
        &Policies::default(),
        &Anchors::default(),
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        only_reason(&a, TrustClaim::Hardware),
        ("tcb_not_supported", ReasonSource::Verification)
    );
}

#[test]
fn a_real_quote_with_another_report_data_fails_the_nonce_binding() {
    let binding = NonceBinding::Key {
        nonce: b"n".to_vec(),
        public_key: vec![],
    };
    let a = run(
        &dcap_vector("tdx_quote"),
        DCAP_AT,
        &Policies::default(),
        &Anchors::default(),
        Some(&binding),
    );
    assert_eq!(
        only_reason(&a, TrustClaim::InstanceIdentity),
        ("nonce_binding", ReasonSource::Nonce)
    );
}

fn emulated_td() -> shomei_dcap_emu::Td {
    let mut td = shomei_dcap_emu::Td::new(b"emulated TD image");
    td.extend(0, 0x8000_0001, b"firmware volume").unwrap();
    td
}

fn emulated_tdx(
    p: &shomei_dcap_emu::EmulatedPlatform,
    td: &shomei_dcap_emu::Td,
    report_data: [u8; 64],
) -> (Evidence, Anchors) {
    let quote = p
        .quote(4, &shomei_dcap_emu::QuoteBody::Td10(td.report(report_data)))
        .unwrap();
    let e = Evidence::Dcap(Box::new(DcapEvidence {
        quote,
        collateral: p.collateral().unwrap(),
    }));
    let anchors = Anchors {
        dcap: Some(p.anchor().unwrap()),
        ..Anchors::default()
    };
    (e, anchors)
}

#[test]
fn an_emulated_td_is_affirming_with_its_mrtd_and_nonce() {
    let p = shomei_dcap_emu::EmulatedPlatform::tdx().unwrap();
    let td = emulated_td();
    let rd = report_data(b"nonce", b"td key");
    let (e, anchors) = emulated_tdx(&p, &td, rd);
    let mut policies = Policies::default();
    policies.dcap.policy.mr_td = vec![HexBytes(td.mr_td.to_vec())];
    let binding = NonceBinding::Exact(rd);
    let at = shomei_dcap_emu::AT;
    let a = run(&e, at, &policies, &anchors, Some(&binding));
    assert_eq!(a.status(), Tier::Affirming, "{:?}", a.reasons());
    assert_eq!(
        a.trust_vector().get(TrustClaim::Executables),
        value::APPROVED_RUNTIME
    );
    // Another MRTD is an unrecognised runtime.
    policies.dcap.policy.mr_td = vec![HexBytes(vec![0x11; 48])];
    let a = run(&e, at, &policies, &anchors, Some(&binding));
    assert_eq!(
        a.trust_vector().get(TrustClaim::Executables),
        value::UNRECOGNIZED_RUNTIME
    );
    assert_eq!(only_reason(&a, TrustClaim::Executables).0, "mr_td");
}

#[test]
fn an_emulated_debug_td_is_contraindicated() {
    let p = shomei_dcap_emu::EmulatedPlatform::tdx().unwrap();
    let mut td = emulated_td();
    td.td_attributes |= shomei_dcap::quote::td_attributes::DEBUG;
    let (e, anchors) = emulated_tdx(&p, &td, [0; 64]);
    let a = run(
        &e,
        shomei_dcap_emu::AT,
        &Policies::default(),
        &anchors,
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::RuntimeOpaque),
        value::VISIBLE_MEMORY_RUNTIME
    );
    assert!(
        a.reasons_for(TrustClaim::Configuration)
            .any(|r| r.check == "debug")
    );
    assert_reasons_cover_the_vector(&a);
}

#[test]
fn a_revoked_pck_is_contraindicated_hardware_and_instance() {
    let mut p = shomei_dcap_emu::EmulatedPlatform::tdx().unwrap();
    let (e, anchors) = emulated_tdx(&p, &emulated_td(), [0; 64]);
    let ok = run(
        &e,
        shomei_dcap_emu::AT,
        &Policies::default(),
        &anchors,
        None,
    );
    assert!(ok.is_affirming(), "{:?}", ok.reasons());
    p.pck_crl_revoked = vec![p.qe.pck.certificate.serial().to_vec()];
    let Evidence::Dcap(mut d) = e else {
        unreachable!()
    };
    d.collateral = p.collateral().unwrap();
    let a = run(
        &Evidence::Dcap(d),
        shomei_dcap_emu::AT,
        &Policies::default(),
        &anchors,
        None,
    );
    assert_eq!(a.status(), Tier::Contraindicated);
    assert_eq!(
        a.trust_vector().get(TrustClaim::Hardware),
        value::CONTRAINDICATED_HARDWARE
    );
    assert_eq!(
        a.trust_vector().get(TrustClaim::InstanceIdentity),
        value::UNTRUSTWORTHY_INSTANCE
    );
    assert_eq!(only_reason(&a, TrustClaim::Hardware).0, "revocation");
    assert_reasons_cover_the_vector(&a);
}
