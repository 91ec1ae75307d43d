//! `Evidence::SnpProof` refusals that need no valid proof (fast, debug or release): each check
//! before the proof names itself, and bytes that are not a proof are refused as `zk_proof`.
//! A real proof accepted through the whole service is in `shomei-server/tests/snp_proof.rs`.
//!
//! `tests/data/snp-proof-verifier.bin` is a verifier's file (`shomei zk setup --srs F
//! --verifier-out F` with the insecure test SRS): a real verifying key of the statement circuit.
//! No proof here is meant to verify under it; if the circuit changes, regenerate it.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, OnceLock};

use common::*;
use shomei_core::x509::Certificate;
use shomei_snp::policy::{HexBytes, MinTcb};
use shomei_snp::{Product, Tcb};
use shomei_verifier::ar4si::value;
use shomei_verifier::{
    Anchors, Appraisal, Evidence, Family, NamedPolicy, NonceBinding, Policies, SnpProofEvidence,
    Tier, TrustClaim,
};
use shomei_zk::prove::VerifyingKeys;
use shomei_zk::statement::MAX_MEASUREMENTS;

const TCB: Tcb = Tcb {
    fmc: None,
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 115,
};

/// The fixture's keys, read once (halo2 precomputes the key's evaluation domain, 2^20 rows).
fn keys() -> Arc<VerifyingKeys> {
    static KEYS: OnceLock<Arc<VerifyingKeys>> = OnceLock::new();
    Arc::clone(KEYS.get_or_init(|| {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/snp-proof-verifier.bin"
        ))
        .unwrap();
        Arc::new(VerifyingKeys::from_bytes(&bytes).unwrap())
    }))
}

fn anchors(zk: bool) -> Anchors {
    Anchors {
        zk: zk.then(keys),
        ..snp_test_anchors()
    }
}

fn vcek() -> Certificate {
    milan_chip().vcek().unwrap().certificate
}

fn proof_evidence(proof: &[u8], vek: Certificate, reported: Tcb) -> Evidence {
    Evidence::SnpProof(Box::new(SnpProofEvidence {
        proof: proof.to_vec(),
        vek,
        chain: shomei_snp::Collateral::new(),
        reported_tcb: reported.encode(Product::Milan).0,
        report_data: None,
        product: None,
    }))
}

fn policies(measurements: u8) -> Policies {
    Policies {
        snp: NamedPolicy {
            id: "policy:test/snp".into(),
            policy: shomei_snp::Policy {
                measurements: (0..measurements).map(|i| HexBytes(vec![i; 48])).collect(),
                ..shomei_snp::Policy::default()
            },
        },
        ..Policies::default()
    }
}

fn binding() -> NonceBinding {
    NonceBinding::Key {
        nonce: b"fresh nonce".to_vec(),
        public_key: vec![4; 65],
    }
}

/// The appraisal is contraindicated, carries no claims, and its only reasons are `check` on
/// the given claims.
fn assert_refused(a: &Appraisal, check: &str, claims: &[(TrustClaim, i8)]) {
    assert_eq!(a.family(), Family::SnpProof);
    assert_eq!(a.status(), Tier::Contraindicated, "{:?}", a.reasons());
    assert!(a.claims().is_none());
    let got: Vec<(&str, TrustClaim, i8)> = a
        .reasons()
        .iter()
        .map(|r| (r.check.as_str(), r.claim, r.value))
        .collect();
    let want: Vec<(&str, TrustClaim, i8)> = claims.iter().map(|(c, v)| (check, *c, *v)).collect();
    assert_eq!(got, want);
}

#[test]
fn proof_evidence_is_refused_where_no_verifying_key_is_configured() {
    let e = proof_evidence(&[0; 2304], vcek(), TCB);
    let a = run(&e, EMU_AT, &policies(1), &anchors(false), Some(&binding()));
    assert_refused(
        &a,
        "zk_not_configured",
        &[(TrustClaim::InstanceIdentity, value::UNEXPECTED_EVIDENCE)],
    );
    assert!(a.reasons()[0].detail.contains("no verifying key"));
}

#[test]
fn a_vek_that_does_not_chain_to_the_anchors_is_refused_before_the_proof() {
    // The emulated chip's VCEK under AMD's pinned roots (the test root not trusted).
    let e = proof_evidence(&[0; 2304], vcek(), TCB);
    let no_test_root = Anchors {
        zk: Some(keys()),
        ..Anchors::default()
    };
    let a = run(&e, EMU_AT, &policies(1), &no_test_root, Some(&binding()));
    assert_eq!(a.status(), Tier::Contraindicated);
    let r = &a.reasons()[0];
    assert_eq!(a.reasons().len(), 1, "{:?}", a.reasons());
    assert!(
        ["root_of_trust", "chain_issuer", "chain_signature"].contains(&r.check.as_str()),
        "{r:?}"
    );
    assert_ne!(r.check, "zk_proof");
    // Outside the chain's validity: the time is an input.
    let late = shomei_core::UnixTime::from_secs(4_000_000_000);
    let a = run(&e, late, &policies(1), &anchors(true), Some(&binding()));
    assert_refused(
        &a,
        "certificate_validity",
        &[(
            TrustClaim::InstanceIdentity,
            value::CRYPTO_VALIDATION_FAILED,
        )],
    );
    // A second VEK in the chain: which key was checked would be ambiguous.
    let Evidence::SnpProof(mut p) = proof_evidence(&[0; 2304], vcek(), TCB) else {
        unreachable!()
    };
    p.chain.certificates.push(
        milan_chip()
            .vcek_for(&Tcb { snp: 9, ..TCB })
            .unwrap()
            .certificate,
    );
    let a = run(
        &Evidence::SnpProof(p),
        EMU_AT,
        &policies(1),
        &anchors(true),
        Some(&binding()),
    );
    assert_eq!(a.reasons()[0].check, "signing_key");
    assert_eq!(a.status(), Tier::Contraindicated);
}

#[test]
fn a_claimed_reported_tcb_that_is_not_the_veks_is_refused() {
    let e = proof_evidence(&[0; 2304], vcek(), Tcb { snp: 9, ..TCB });
    let a = run(&e, EMU_AT, &policies(1), &anchors(true), Some(&binding()));
    assert_refused(
        &a,
        "vek_tcb",
        &[(TrustClaim::Hardware, value::CONTRAINDICATED_HARDWARE)],
    );
    assert!(
        a.reasons()[0].detail.contains("0300000000000973"),
        "{:?}",
        a.reasons()
    );
}

#[test]
fn a_policy_a_proof_cannot_show_is_refused_with_what_it_lacks() {
    let e = proof_evidence(&[0; 2304], vcek(), TCB);
    let zk_policy = [(TrustClaim::InstanceIdentity, value::UNEXPECTED_EVIDENCE)];
    let too_many = u8::try_from(MAX_MEASUREMENTS + 1).unwrap();
    let a = run(
        &e,
        EMU_AT,
        &policies(too_many),
        &anchors(true),
        Some(&binding()),
    );
    assert_refused(&a, "zk_policy", &zk_policy);
    assert!(
        a.reasons()[0]
            .detail
            .contains(&format!("at most {MAX_MEASUREMENTS}"))
    );
    let a = run(&e, EMU_AT, &policies(0), &anchors(true), Some(&binding()));
    assert_refused(&a, "zk_policy", &zk_policy);
    assert!(a.reasons()[0].detail.contains("no measurement"));
    let mut p = policies(1);
    p.snp.policy.host_data = Some(HexBytes(vec![1; 32]));
    let a = run(&e, EMU_AT, &p, &anchors(true), Some(&binding()));
    assert_refused(&a, "zk_policy", &zk_policy);
    assert!(a.reasons()[0].detail.contains("host_data"));
}

#[test]
fn a_reported_tcb_below_the_minimum_is_refused_by_component() {
    let e = proof_evidence(&[0; 2304], vcek(), TCB);
    let mut p = policies(1);
    p.snp.policy.min_tcb = MinTcb::parse("snp=10").unwrap();
    let a = run(&e, EMU_AT, &p, &anchors(true), Some(&binding()));
    assert_refused(
        &a,
        "min_tcb.snp",
        &[(TrustClaim::Hardware, value::UNSAFE_HARDWARE)],
    );
}

#[test]
fn without_a_nonce_binding_a_proof_needs_its_report_data() {
    let e = proof_evidence(&[0; 2304], vcek(), TCB);
    let a = run(&e, EMU_AT, &policies(1), &anchors(true), None);
    assert_refused(
        &a,
        "zk_report_data",
        &[(TrustClaim::InstanceIdentity, value::UNEXPECTED_EVIDENCE)],
    );
}

#[test]
fn bytes_that_are_not_a_proof_are_refused_as_the_proof() {
    let proof_claims = [
        (
            TrustClaim::InstanceIdentity,
            value::CRYPTO_VALIDATION_FAILED,
        ),
        (TrustClaim::Executables, value::UNRECOGNIZED_RUNTIME),
    ];
    for proof in [vec![], vec![0xAB; 100], vec![0; 2304], vec![0xFF; 1 << 16]] {
        let e = proof_evidence(&proof, vcek(), TCB);
        let a = run(&e, EMU_AT, &policies(2), &anchors(true), Some(&binding()));
        assert_refused(&a, "zk_proof", &proof_claims);
        // The detail gives the public inputs the proof was checked against.
        assert!(
            a.reasons()[0]
                .detail
                .contains(&hex::encode(binding().expected())),
            "{:?}",
            a.reasons()
        );
    }
    // With a claimed REPORT_DATA and no nonce binding, that value is the public input.
    let Evidence::SnpProof(mut p) = proof_evidence(&[1; 64], vcek(), TCB) else {
        unreachable!()
    };
    p.report_data = Some([9; 64]);
    let a = run(
        &Evidence::SnpProof(p),
        EMU_AT,
        &policies(1),
        &anchors(true),
        None,
    );
    assert_refused(&a, "zk_proof", &proof_claims);
    assert!(a.reasons()[0].detail.contains(&hex::encode([9u8; 64])));
}
