//! Two-step CVM evidence through the verifier's one interface: the real Azure evidence is
//! affirming with its PCRs among the claims; an emulated CVM's attacks map to their AR4SI claims.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use shomei_core::UnixTime;
use shomei_cvm::emu::{CvmConfig, EmulatedCvm};
use shomei_verifier::appraise::{
    Anchors, AppraisalContext, Claims, CvmPolicy, Evidence, Family, NamedPolicy, NonceBinding,
    Policies, appraise, cvm_challenge,
};
use shomei_verifier::ar4si::{Tier, TrustClaim};

const AZURE_AT: i64 = 1_748_736_000; // 2025-06-01, inside the VCEK's validity

fn azure() -> Evidence {
    let bytes = shomei_core::vectors::read("snp/azure-hcl-milan/evidence-v0.json").unwrap();
    Evidence::Cvm(Box::new(
        shomei_cvm::CvmEvidence::from_json(&bytes).unwrap(),
    ))
}

#[test]
fn the_real_azure_cvm_is_affirming_and_its_nonce_is_checked() {
    let policies = Policies::default();
    let anchors = Anchors::default();
    let binding = NonceBinding::Key {
        nonce: b"challenge".to_vec(),
        public_key: Vec::new(),
    };
    let ctx = AppraisalContext {
        at: UnixTime::from_secs(AZURE_AT),
        nonce: Some(&binding),
        policies: &policies,
        anchors: &anchors,
    };
    let a = appraise(&azure(), &ctx).unwrap();
    assert_eq!(a.family(), Family::Cvm);
    assert!(a.is_affirming(), "{:?}", a.reasons());
    let Some(Claims::Cvm(r)) = a.claims() else {
        panic!("no claims")
    };
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(
        json["pcrs"]["sha256"]["0"],
        "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
    );
    // Another nonce: the quote's extraData does not match.
    let other = NonceBinding::Key {
        nonce: vec![1, 2, 3, 4],
        public_key: Vec::new(),
    };
    let a = appraise(
        &azure(),
        &AppraisalContext {
            nonce: Some(&other),
            ..ctx
        },
    )
    .unwrap();
    assert_eq!(a.status(), Tier::Contraindicated);
    let r: Vec<_> = a.reasons_for(TrustClaim::InstanceIdentity).collect();
    assert_eq!(r[0].check, "tpm.nonce", "{r:?}");
}

#[test]
fn emulated_cvm_attacks_map_to_their_claims() {
    let mut cvm = EmulatedCvm::new(CvmConfig::default()).unwrap();
    let root = Arc::clone(cvm.root());
    let reference = cvm.reference_values().unwrap();
    let policies = Policies {
        cvm: NamedPolicy {
            id: "policy:test/cvm".into(),
            policy: CvmPolicy {
                snp: shomei_snp::Policy::default(),
                reference,
            },
        },
        ..Policies::default()
    };
    let anchors = Anchors {
        snp: Some(cvm.trust_anchors().unwrap()),
        ..Anchors::default()
    };
    let key = vec![4u8; 65];
    let binding = NonceBinding::Key {
        nonce: b"fresh".to_vec(),
        public_key: key.clone(),
    };
    let ctx = AppraisalContext {
        at: UnixTime::from_secs(1_800_000_000),
        nonce: Some(&binding),
        policies: &policies,
        anchors: &anchors,
    };
    let challenge = cvm_challenge(&binding);
    assert_eq!(challenge.len(), 32);
    let good = Evidence::Cvm(Box::new(shomei_cvm::CvmEvidence::Composite(
        cvm.attest(&challenge).unwrap(),
    )));
    let a = appraise(&good, &ctx).unwrap();
    assert!(a.is_affirming(), "{:?}", a.reasons());
    assert_eq!(a.trust_vector().get(TrustClaim::Executables), 2);

    // Bound to another key: the challenge differs.
    let other_key = NonceBinding::Key {
        nonce: b"fresh".to_vec(),
        public_key: vec![5u8; 65],
    };
    let a = appraise(
        &good,
        &AppraisalContext {
            nonce: Some(&other_key),
            ..ctx
        },
    )
    .unwrap();
    assert!(!a.is_affirming());

    // A quote from another VM's vTPM: the link fails, contraindicated, no claims.
    let mut other = EmulatedCvm::with_root(CvmConfig::default(), root).unwrap();
    let relayed = Evidence::Cvm(Box::new(shomei_cvm::CvmEvidence::Composite(
        cvm.attest_with_foreign_vtpm(&challenge, &mut other)
            .unwrap(),
    )));
    let a = appraise(&relayed, &ctx).unwrap();
    assert_eq!(a.status(), Tier::Contraindicated);
    assert!(a.claims().is_none());
    assert!(
        a.reasons().iter().any(|r| r.check == "link.ak_binding"),
        "{:?}",
        a.reasons()
    );

    // Another kernel command line: executables unrecognized, a warning.
    let mut cfg = CvmConfig::default();
    cfg.boot.cmdline.push_str(" init=/bin/sh");
    let mut shell = EmulatedCvm::with_root(cfg, Arc::clone(cvm.root())).unwrap();
    let ev = Evidence::Cvm(Box::new(shomei_cvm::CvmEvidence::Composite(
        shell.attest(&challenge).unwrap(),
    )));
    let a = appraise(&ev, &ctx).unwrap();
    assert_eq!(a.status(), Tier::Warning);
    let r: Vec<_> = a.reasons_for(TrustClaim::Executables).collect();
    assert_eq!(r[0].check, "tpm.pcr_values");
}
