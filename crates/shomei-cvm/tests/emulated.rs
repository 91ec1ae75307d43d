//! The emulated confidential VM through both steps, and the attackers of the issue: each is
//! refused with its step and check.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use shomei_core::UnixTime;
use shomei_cvm::emu::{CvmConfig, EmulatedCvm, POLICY_DEBUG, synthetic_firmware};
use shomei_cvm::{
    CompositeEvidence, CvmEvidence, CvmOptions, CvmReferenceValues, CvmReport, Error, Outcome,
    Step, verify,
};
use shomei_snp::measure::{SnpLaunch, VmmType, snp_launch_digest, vcpu_type_sig};
use shomei_snp::{Policy, Product, TrustAnchors};
use shomei_snp_emu::{RootOptions, TestRoot};
use shomei_tpm::HashAlg;

const AT: i64 = 1_750_000_000;

fn root() -> Arc<TestRoot> {
    Arc::new(TestRoot::generate(Product::Milan, RootOptions::default()).unwrap())
}

fn opts<'a>(
    anchors: &'a TrustAnchors,
    nonce: &[u8],
    reference: CvmReferenceValues,
) -> CvmOptions<'a> {
    CvmOptions::new(UnixTime::from_secs(AT))
        .with_nonce(nonce)
        .with_reference(reference)
        .with_anchors(anchors)
}

fn run(e: &CompositeEvidence, o: &CvmOptions<'_>) -> Result<CvmReport, Error> {
    // Through the JSON document, as a verifier receives it.
    let doc = e.to_json().unwrap();
    let parsed = CvmEvidence::from_json(doc.as_bytes()).unwrap();
    verify(&parsed, o)
}

fn refused(r: Result<CvmReport, Error>) -> CvmReport {
    match r {
        Err(Error::Rejected(r)) => *r,
        Err(e) => panic!("error instead of a rejection: {e}"),
        Ok(r) => panic!("accepted: {:#?}", r.checks),
    }
}

fn first(r: &CvmReport) -> (Step, &str) {
    let c = r.first_failure().unwrap();
    (c.step, c.check.as_str())
}

#[test]
fn emulated_cvm_verifies_through_both_steps_with_every_check_passing() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let reference = cvm.reference_values().unwrap();
    let e = cvm.attest(b"fresh nonce 1").unwrap();
    let r = run(&e, &opts(&anchors, b"fresh nonce 1", reference)).unwrap();
    assert!(r.accepted);
    for c in &r.checks {
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
    }
    for (step, check) in [
        (Step::Snp, "report_signature"),
        (Step::Snp, "measurement"),
        (Step::Link, "nonce"),
        (Step::Link, "ak_binding"),
        (Step::Tpm, "signature"),
        (Step::Tpm, "nonce"),
        (Step::Tpm, "required_pcrs"),
        (Step::Tpm, "pcr_values"),
        (Step::Eventlog, "replay"),
    ] {
        assert!(r.check(step, check).is_some(), "{step:?}.{check}");
    }
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["pcrs"]["sha256"].as_object().unwrap().len(), 24);
    assert_eq!(json["format"], "composite");
    assert_eq!(json["checks"][0]["step"], "snp");
    let ev = r.eventlog.as_ref().unwrap();
    assert_eq!(ev.secure_boot, Some(true));
    assert_eq!(
        ev.kernel_cmdline.as_deref(),
        Some(CvmConfig::default().boot.cmdline.as_str())
    );
    assert_eq!(ev.boot_applications.len(), 3, "{:?}", ev.boot_applications);
    assert!(
        ev.boot_applications[0].contains("BOOTX64.EFI"),
        "{:?}",
        ev.boot_applications
    );
    assert!(ev.firmware_version.as_deref().unwrap().contains("OVMF"));
}

#[test]
fn reference_measurement_is_what_snp_measure_computes_for_the_firmware() {
    let cfg = CvmConfig::default();
    let expected = snp_launch_digest(&SnpLaunch {
        ovmf: &cfg.firmware,
        vcpus: 1,
        vcpu_sig: vcpu_type_sig("EPYC-v4").unwrap(),
        guest_features: 1,
        vmm: VmmType::Qemu,
        hashes: None,
        ovmf_hash: None,
    })
    .unwrap();
    let cvm = EmulatedCvm::with_root(cfg, root()).unwrap();
    assert_eq!(cvm.measurement(), expected);
    assert_eq!(cvm.reference_values().unwrap().measurements[0].0, expected);
}

#[test]
fn the_emulated_event_log_is_a_real_format_log_that_replays_to_the_vtpm_pcrs() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let e = cvm.attest(b"n").unwrap();
    let log = shomei_tpm::EventLog::parse(e.event_log.as_deref().unwrap()).unwrap();
    assert_eq!(log.format, shomei_tpm::eventlog::LogFormat::CryptoAgile);
    let replay = log.replay();
    assert!(replay.warnings.is_empty(), "{:?}", replay.warnings);
    for (i, v) in &e.pcrs["sha256"] {
        assert_eq!(replay.value(HashAlg::Sha256, *i), v.0, "PCR {i}");
    }
    // Boot applications, GRUB and Secure Boot variables are there.
    let types: Vec<u32> = log.events.iter().map(|e| e.event_type).collect();
    for t in [0x8000_0003u32, 0x8000_0001, 0x8000_00E0, 0xD, 0x4, 0x8] {
        assert!(types.contains(&t), "{t:#x}");
    }
}

#[test]
fn quote_from_another_vms_vtpm_is_refused_at_the_link() {
    let root = root();
    let mut this = EmulatedCvm::with_root(CvmConfig::default(), Arc::clone(&root)).unwrap();
    let other_cfg = CvmConfig {
        chip_secret: *b"another chip, another VM, vTPM!!",
        ..CvmConfig::default()
    };
    let mut other = EmulatedCvm::with_root(other_cfg, root).unwrap();
    let anchors = this.trust_anchors().unwrap();
    let reference = this.reference_values().unwrap();
    let e = this.attest_with_foreign_vtpm(b"n2", &mut other).unwrap();
    let r = refused(run(&e, &opts(&anchors, b"n2", reference)));
    assert_eq!(first(&r), (Step::Link, "ak_binding"));
    // The foreign quote itself verifies and its PCRs equal ours (same boot chain): only the
    // link catches it.
    assert_eq!(
        r.check(Step::Tpm, "signature").unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(
        r.check(Step::Tpm, "pcr_values").unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(r.failures().count(), 1);
}

#[test]
fn old_report_replayed_with_a_fresh_quote_is_refused() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let reference = cvm.reference_values().unwrap();
    let old = cvm.attest(b"old nonce").unwrap();
    let fresh = cvm.attest(b"new nonce").unwrap();
    // The old report (and the nonce it was made for) with the fresh quote.
    let spliced = CompositeEvidence {
        snp_report: old.snp_report.clone(),
        nonce: old.nonce.clone(),
        ..fresh.clone()
    };
    let r = refused(run(
        &spliced,
        &opts(&anchors, b"new nonce", reference.clone()),
    ));
    assert_eq!(first(&r), (Step::Link, "nonce"));
    assert_eq!(r.check(Step::Tpm, "nonce").unwrap().outcome, Outcome::Pass);
    // Claiming the new nonce for the old report breaks the binding instead.
    let lying = CompositeEvidence {
        snp_report: old.snp_report.clone(),
        ..fresh
    };
    let r = refused(run(
        &lying,
        &opts(&anchors, b"new nonce", reference.clone()),
    ));
    assert_eq!(first(&r), (Step::Link, "ak_binding"));
    // A whole old evidence replayed against a new challenge: nonce mismatch at the link and in
    // the quote.
    let r = refused(run(&old, &opts(&anchors, b"newest nonce", reference)));
    assert_eq!(first(&r), (Step::Link, "nonce"));
    assert_eq!(r.check(Step::Tpm, "nonce").unwrap().outcome, Outcome::Fail);
}

#[test]
fn quote_whose_selection_omits_a_required_pcr_is_refused() {
    let good = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = good.trust_anchors().unwrap();
    let reference = good.reference_values().unwrap();
    let cfg = CvmConfig {
        quote_selection: vec![(HashAlg::Sha256, (0..24).filter(|i| *i != 4).collect())],
        ..CvmConfig::default()
    };
    let mut cvm = EmulatedCvm::with_root(cfg, Arc::clone(good.root())).unwrap();
    let e = cvm.attest(b"n").unwrap();
    let r = refused(run(&e, &opts(&anchors, b"n", reference)));
    assert_eq!(first(&r), (Step::Tpm, "required_pcrs"));
    assert!(r.first_failure().unwrap().detail.contains("sha256:4"));
    // The quote itself is consistent: signature, selection = supplied, digest all pass.
    for c in ["signature", "pcr_selection", "pcr_digest"] {
        assert_eq!(r.check(Step::Tpm, c).unwrap().outcome, Outcome::Pass, "{c}");
    }
}

#[test]
fn different_firmware_with_the_same_vtpm_and_boot_chain_is_refused_by_the_measurement() {
    let good = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = good.trust_anchors().unwrap();
    let reference = good.reference_values().unwrap();
    let cfg = CvmConfig {
        firmware: synthetic_firmware("a firmware that lies to the vTPM"),
        ..CvmConfig::default()
    };
    let mut evil = EmulatedCvm::with_root(cfg, Arc::clone(good.root())).unwrap();
    let e = evil.attest(b"n").unwrap();
    let r = refused(run(&e, &opts(&anchors, b"n", reference)));
    assert_eq!(first(&r), (Step::Snp, "measurement"));
    assert!(
        r.first_failure()
            .unwrap()
            .detail
            .contains("unknown firmware")
    );
    // The vTPM saw the same boot chain: every TPM and event-log check passes.
    assert_eq!(
        r.check(Step::Tpm, "pcr_values").unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(
        r.check(Step::Eventlog, "replay").unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(r.failures().count(), 1);
}

#[test]
fn debug_policy_is_refused_unless_allowed() {
    let cfg = CvmConfig {
        policy: 0x3_0000 | POLICY_DEBUG,
        ..CvmConfig::default()
    };
    let mut cvm = EmulatedCvm::with_root(cfg, root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let reference = cvm.reference_values().unwrap();
    let e = cvm.attest(b"n").unwrap();
    let r = refused(run(&e, &opts(&anchors, b"n", reference.clone())));
    assert_eq!(first(&r), (Step::Snp, "debug"));
    let allow = Policy {
        allow_debug: true,
        ..Policy::default()
    };
    assert!(run(&e, &opts(&anchors, b"n", reference).with_policy(allow)).is_ok());
}

#[test]
fn a_changed_boot_chain_is_a_pcr_value_mismatch() {
    let good = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = good.trust_anchors().unwrap();
    let reference = good.reference_values().unwrap();
    let mut cfg = CvmConfig::default();
    cfg.boot.cmdline.push_str(" init=/bin/sh");
    let mut cvm = EmulatedCvm::with_root(cfg, Arc::clone(good.root())).unwrap();
    let e = cvm.attest(b"n").unwrap();
    let r = refused(run(&e, &opts(&anchors, b"n", reference)));
    assert_eq!(first(&r), (Step::Tpm, "pcr_values"));
    assert!(r.first_failure().unwrap().detail.contains("PCR 8"));
}

#[test]
fn a_tampered_event_log_fails_the_replay() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let mut e = cvm.attest(b"n").unwrap();
    // Change the last byte of the last event's data (the ExitBootServices string): the event's
    // digests no longer describe it, but the replay uses the digests, so also change a digest.
    let log = e.event_log.as_mut().unwrap();
    let n = log.len();
    // The last record: ... digests ... u32 size, data "Exit Boot Services Returned with Success".
    let data_len = b"Exit Boot Services Returned with Success".len();
    let sha256_digest_end = n - data_len - 4 - 48; // sha384 digest and its alg id precede data
    log[sha256_digest_end - 2 - 1] ^= 1; // a byte of the SHA-256 digest
    let r = refused(run(
        &e,
        &opts(&anchors, b"n", CvmReferenceValues::default()),
    ));
    assert_eq!(first(&r), (Step::Eventlog, "replay"));
}

#[test]
fn the_emulators_test_root_is_not_trusted_unless_named() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let e = cvm.attest(b"n").unwrap();
    let o = CvmOptions::new(UnixTime::from_secs(AT)).with_nonce(b"n");
    let r = refused(run(&e, &o));
    assert_eq!(first(&r), (Step::Snp, "root_of_trust"));
}

#[test]
fn without_a_challenge_freshness_is_reported_as_skipped() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let e = cvm.attest(b"n").unwrap();
    let o = CvmOptions::new(UnixTime::from_secs(AT)).with_anchors(&anchors);
    let r = run(&e, &o).unwrap();
    assert_eq!(
        r.check(Step::Link, "nonce").unwrap().outcome,
        Outcome::Skipped
    );
    assert_eq!(
        r.check(Step::Tpm, "nonce").unwrap().outcome,
        Outcome::Skipped
    );
}

#[test]
fn reference_values_round_trip_through_json() {
    let cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let rv = cvm.reference_values().unwrap();
    let back = CvmReferenceValues::from_json(rv.to_json().unwrap().as_bytes()).unwrap();
    assert_eq!(rv, back);
    let j: serde_json::Value = serde_json::from_str(&rv.to_json().unwrap()).unwrap();
    assert!(j["pcrs"]["sha256"]["0"].is_array());
}

#[test]
fn every_single_byte_change_of_report_quote_or_ak_is_refused_never_accepted() {
    let mut cvm = EmulatedCvm::with_root(CvmConfig::default(), root()).unwrap();
    let anchors = cvm.trust_anchors().unwrap();
    let reference = cvm.reference_values().unwrap();
    let e = cvm.attest(b"n").unwrap();
    let o = opts(&anchors, b"n", reference);
    assert!(verify(&CvmEvidence::Composite(e.clone()), &o).is_ok());
    let mutants = (0..shomei_snp::SIGNED_LEN)
        .map(|i| {
            let mut m = e.clone();
            m.snp_report[i] ^= 0x01;
            m
        })
        .chain((0..e.quote.message.len()).map(|i| {
            let mut m = e.clone();
            m.quote.message[i] ^= 0x01;
            m
        }))
        .chain((0..e.ak_public.len()).map(|i| {
            let mut m = e.clone();
            m.ak_public[i] ^= 0x01;
            m
        }))
        .chain((0..e.quote.signature.len()).map(|i| {
            let mut m = e.clone();
            m.quote.signature[i] ^= 0x01;
            m
        }));
    for (n, m) in mutants.enumerate() {
        assert!(
            verify(&CvmEvidence::Composite(m), &o).is_err(),
            "mutant {n} accepted"
        );
    }
    // Truncated documents are input errors.
    let doc = e.to_json().unwrap();
    for cut in (0..doc.len()).step_by(97) {
        assert!(matches!(
            CvmEvidence::from_json(&doc.as_bytes()[..cut]),
            Err(Error::Evidence { .. })
        ));
    }
}
