//! The real Azure CVM evidence (`vectors/snp/azure-hcl-milan/evidence-v0.json`, trustee) through
//! both steps, with the verdicts of vectors/README.md; and the HCL parser on every truncation and
//! on random bytes.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use base64ct::{Base64Url, Base64UrlUnpadded, Encoding};
use shomei_core::UnixTime;
use shomei_core::policy::HexBytes;
use shomei_cvm::hcl::{HclReport, RuntimeData};
use shomei_cvm::{CvmEvidence, CvmOptions, CvmReferenceValues, Error, Outcome, Step, verify};
use shomei_snp::Policy;

/// Inside the VCEK's validity (2025-01-28 .. 2032-01-28).
const AT: i64 = 1_748_736_000; // 2025-06-01
const PCR0: &str = "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced";

fn evidence_bytes() -> Vec<u8> {
    shomei_core::vectors::read("snp/azure-hcl-milan/evidence-v0.json").unwrap()
}

fn evidence() -> CvmEvidence {
    CvmEvidence::from_json(&evidence_bytes()).unwrap()
}

fn provisional_ok() -> Policy {
    Policy {
        allow_provisional_firmware: true,
        ..Policy::default()
    }
}

fn opts() -> CvmOptions<'static> {
    CvmOptions::new(UnixTime::from_secs(AT))
        .with_nonce(b"challenge")
        .with_policy(provisional_ok())
}

fn failure(e: Result<shomei_cvm::CvmReport, Error>) -> (Step, String) {
    match e {
        Err(Error::Rejected(r)) => {
            let c = r.first_failure().unwrap();
            (c.step, c.check.clone())
        }
        Err(other) => panic!("expected a rejection, got the error {other}"),
        Ok(_) => panic!("expected a rejection, got acceptance"),
    }
}

#[test]
fn real_azure_evidence_verifies_end_to_end_with_every_check_shown() {
    let mut reference = CvmReferenceValues::default();
    reference
        .pcrs
        .entry("sha256".into())
        .or_default()
        .insert(0, vec![HexBytes(hex::decode(PCR0).unwrap())]);
    let r = verify(&evidence(), &opts().with_reference(reference)).unwrap();
    assert!(r.accepted);
    for (step, check) in [
        (Step::Snp, "report_signature"),
        (Step::Snp, "vmpl"),
        (Step::Snp, "debug"),
        (Step::Snp, "provisional_firmware"),
        (Step::Link, "runtime_data"),
        (Step::Link, "ak_binding"),
        (Step::Tpm, "signature"),
        (Step::Tpm, "nonce"),
        (Step::Tpm, "pcr_selection"),
        (Step::Tpm, "pcr_digest"),
        (Step::Tpm, "required_pcrs"),
        (Step::Tpm, "pcr_values"),
    ] {
        let c = r
            .check(step, check)
            .unwrap_or_else(|| panic!("{step:?}.{check} missing"));
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
    }
    assert_eq!(
        r.quote_nonce.as_deref(),
        Some(hex::encode("challenge").as_str())
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["pcrs"]["sha256"]["0"], PCR0);
    assert_eq!(json["pcrs"]["sha256"].as_object().unwrap().len(), 24);
    assert_eq!(json["format"], "azure_hcl");
    assert_eq!(json["snp"]["vmpl"], 0);
    assert_eq!(json["ak"]["source"], "runtime_data.HCLAkPub");
    assert_eq!(json["ak"]["kind"], "rsa-2048");
}

#[test]
fn report_data_binds_the_runtime_json_as_received() {
    let CvmEvidence::Azure(a) = evidence() else {
        panic!("not Azure")
    };
    let hcl = HclReport::parse(&a.hcl_report).unwrap();
    assert_eq!(hcl.runtime_data().len(), 1110);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, hcl.runtime_data());
    let report = shomei_snp::Report::parse(hcl.hw_report()).unwrap();
    assert_eq!(&report.report_data()[..32], digest.as_ref());
    assert!(report.report_data()[32..].iter().all(|b| *b == 0));
    let rt = RuntimeData::parse(hcl.runtime_data()).unwrap();
    assert!(rt.key("HCLAkPub").is_some() && rt.key("HCLEkPub").is_some());
    assert_eq!(
        rt.vm_configuration.unwrap().vm_unique_id.as_deref(),
        Some("26F8BC30-774E-4290-8E7A-535F3B672AEE")
    );

    // One byte of the runtime JSON changed: the link fails (the SNP signature still verifies).
    let mut a2 = a.clone();
    let at = shomei_cvm::hcl::RUNTIME_DATA_OFFSET + 0x300;
    a2.hcl_report[at] ^= 0x01;
    let e = verify(&CvmEvidence::Azure(a2), &opts());
    let r = e.as_ref().err().and_then(Error::report).unwrap();
    assert_eq!(
        r.check(Step::Snp, "report_signature").unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(failure(e), (Step::Link, "runtime_data".into()));
}

#[test]
fn evidence_v0_is_committed_firmware_and_needs_no_provisional_switch() {
    let o = CvmOptions::new(UnixTime::from_secs(AT)).with_nonce(b"challenge");
    let r = verify(&evidence(), &o).unwrap();
    assert_eq!(
        r.check(Step::Snp, "provisional_firmware").unwrap().outcome,
        Outcome::Pass
    );
}

/// The other real Azure report (`hcl-report.bin`, another VM, its own VCEK) is provisional
/// firmware (current microcode 0xd2 > committed 0x73); paired with evidence-v0's quote it is a
/// real instance of "a quote from another VM's vTPM with this VM's report".
fn other_vm() -> CvmEvidence {
    let CvmEvidence::Azure(mut a) = evidence() else {
        panic!()
    };
    a.hcl_report = shomei_core::vectors::read("snp/azure-hcl-milan/hcl-report.bin").unwrap();
    a.certificates = shomei_core::x509::parse_certificates(
        &shomei_core::vectors::read("snp/azure-hcl-milan/vcek.pem").unwrap(),
    )
    .unwrap();
    CvmEvidence::Azure(a)
}

#[test]
fn the_other_azure_report_is_provisional_firmware_and_needs_the_switch() {
    let o = CvmOptions::new(UnixTime::from_secs(AT)).with_nonce(b"challenge");
    let r = failure(verify(&other_vm(), &o));
    assert_eq!(r, (Step::Snp, "provisional_firmware".into()));
    let e = verify(&other_vm(), &opts()).err().unwrap();
    let rep = e.report().unwrap();
    for (step, check) in [
        (Step::Snp, "report_signature"),
        (Step::Snp, "provisional_firmware"),
        (Step::Link, "runtime_data"),
        (Step::Link, "ak_binding"),
    ] {
        assert_eq!(
            rep.check(step, check).unwrap().outcome,
            Outcome::Pass,
            "{check}"
        );
    }
}

#[test]
fn a_real_quote_from_another_vms_vtpm_is_refused() {
    // evidence-v0's quote, signed by its VM's AK, against hcl-report.bin's HCLAkPub.
    assert_eq!(
        failure(verify(&other_vm(), &opts())),
        (Step::Tpm, "signature".into())
    );
}

#[test]
fn nonce_01020304_is_refused_by_the_quote() {
    let o = opts().with_nonce(&[1, 2, 3, 4]);
    assert_eq!(
        failure(verify(&evidence(), &o)),
        (Step::Tpm, "nonce".into())
    );
}

#[test]
fn pcr0_reference_mismatch_is_refused() {
    let mut reference = CvmReferenceValues::default();
    reference
        .pcrs
        .entry("sha256".into())
        .or_default()
        .insert(0, vec![HexBytes(vec![0; 32])]);
    assert_eq!(
        failure(verify(&evidence(), &opts().with_reference(reference))),
        (Step::Tpm, "pcr_values".into())
    );
}

#[test]
fn a_changed_pcr_value_breaks_the_quote_digest() {
    let CvmEvidence::Azure(mut a) = evidence() else {
        panic!()
    };
    a.quote.pcrs[5][0] ^= 1;
    assert_eq!(
        failure(verify(&CvmEvidence::Azure(a), &opts())),
        (Step::Tpm, "pcr_digest".into())
    );
}

#[test]
fn a_dropped_pcr_is_a_selection_mismatch() {
    let CvmEvidence::Azure(mut a) = evidence() else {
        panic!()
    };
    a.quote.pcrs.pop();
    assert_eq!(
        failure(verify(&CvmEvidence::Azure(a), &opts())),
        (Step::Tpm, "pcr_selection".into())
    );
}

#[test]
fn a_forged_quote_signature_is_refused() {
    let CvmEvidence::Azure(mut a) = evidence() else {
        panic!()
    };
    a.quote.signature[10] ^= 1;
    assert_eq!(
        failure(verify(&CvmEvidence::Azure(a), &opts())),
        (Step::Tpm, "signature".into())
    );
}

#[test]
fn a_debug_allowing_policy_still_needs_vmpl0_and_amd_roots() {
    // Wrong anchors: the emulator's test root instead of AMD's.
    let root = shomei_snp_emu::TestRoot::generate(
        shomei_snp::Product::Milan,
        shomei_snp_emu::RootOptions::default(),
    )
    .unwrap();
    let anchors = root.anchors().unwrap();
    let o = opts().with_anchors(&anchors);
    let (step, _) = failure(verify(&evidence(), &o));
    assert_eq!(step, Step::Snp);
}

#[test]
fn a_vcek_of_another_chip_is_refused() {
    // The VCEK of the other Azure HCL vector (another chip, another TCB).
    let other = shomei_core::vectors::read("snp/azure-hcl-milan/vcek.pem").unwrap();
    let CvmEvidence::Azure(mut a) = evidence() else {
        panic!()
    };
    a.certificates = shomei_core::x509::parse_certificates(&other).unwrap();
    let (step, check) = failure(verify(&CvmEvidence::Azure(a), &opts()));
    assert_eq!(step, Step::Snp);
    assert!(
        ["report_signature", "vek_tcb", "chip_id"].contains(&check.as_str()),
        "{check}"
    );
}

/// trustee's v1/v2 shapes: hex quote members, base64url HCL report and DER VCEK.
fn as_v1(version: u32, padded: bool) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(&evidence_bytes()).unwrap();
    let bytes = |x: &serde_json::Value| -> Vec<u8> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|n| u8::try_from(n.as_u64().unwrap()).unwrap())
            .collect()
    };
    let b64 = |b: &[u8]| {
        if padded {
            Base64Url::encode_string(b)
        } else {
            Base64UrlUnpadded::encode_string(b)
        }
    };
    let vcek_der = shomei_core::x509::parse_certificates(v["vcek"].as_str().unwrap().as_bytes())
        .unwrap()[0]
        .der()
        .to_vec();
    let q = &v["quote"];
    serde_json::to_vec(&serde_json::json!({
        "version": version,
        "tpm_quote": {
            "signature": hex::encode(bytes(&q["signature"])),
            "message": hex::encode(bytes(&q["message"])),
            "pcrs": q["pcrs"].as_array().unwrap().iter().map(|p| hex::encode(bytes(p))).collect::<Vec<_>>(),
        },
        "hcl_report": b64(&bytes(&v["report"])),
        "vcek": b64(&vcek_der),
    }))
    .unwrap()
}

#[test]
fn trustee_v1_shape_verifies_like_v0() {
    for padded in [true, false] {
        let e = CvmEvidence::from_json(&as_v1(1, padded)).unwrap();
        let r = verify(&e, &opts()).unwrap();
        assert_eq!(r.runtime_data.as_ref().unwrap().evidence_version, 1);
        assert_eq!(
            r.check(Step::Link, "user_data").unwrap().outcome,
            Outcome::Skipped
        );
    }
}

#[test]
fn trustee_v2_requires_user_data_to_begin_with_the_challenge() {
    // The vector's user-data is all zero, so a v2 reading with the challenge "challenge" fails.
    let e = CvmEvidence::from_json(&as_v1(2, false)).unwrap();
    assert_eq!(
        failure(verify(&e, &opts())),
        (Step::Link, "user_data".into())
    );
}

#[test]
fn unknown_documents_are_errors_not_rejections() {
    for doc in [
        &b"not json"[..],
        b"[]",
        b"{}",
        b"{\"version\": 7, \"tpm_quote\": {\"signature\":\"\",\"message\":\"\",\"pcrs\":[]}, \"hcl_report\": \"\", \"vcek\": \"\"}",
        b"{\"quote\": {}, \"report\": [], \"vcek\": \"\"}",
    ] {
        assert!(
            matches!(CvmEvidence::from_json(doc), Err(Error::Evidence { .. })),
            "{}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn every_truncation_of_the_hcl_report_is_an_error_naming_a_field() {
    let CvmEvidence::Azure(a) = evidence() else {
        panic!()
    };
    let full = &a.hcl_report;
    let end = shomei_cvm::hcl::RUNTIME_DATA_OFFSET + 1110;
    for n in 0..end {
        let e = HclReport::parse(&full[..n]).err();
        assert!(e.is_some(), "truncated to {n} bytes parsed");
        assert!(!e.unwrap().field.is_empty());
        // Through the whole verifier: an error, never a panic or an acceptance.
        let mut t = a.clone();
        t.hcl_report.truncate(n);
        assert!(
            !matches!(
                verify(&CvmEvidence::Azure(t), &opts()),
                Ok(_) | Err(Error::Rejected(_))
            ),
            "{n}"
        );
    }
    // The padding after the runtime data is not part of the report.
    assert!(HclReport::parse(&full[..end]).is_ok());
}

#[test]
fn random_bytes_and_single_byte_changes_never_panic() {
    let CvmEvidence::Azure(a) = evidence() else {
        panic!()
    };
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = usize::try_from(next() % 3000).unwrap();
        let mut b: Vec<u8> = (0..len)
            .map(|_| u8::try_from(next() & 0xff).unwrap())
            .collect();
        if next() % 2 == 0 && b.len() >= 4 {
            b[..4].copy_from_slice(b"HCLA");
        }
        let _ = HclReport::parse(&b);
    }
    // Every byte of the header (but request_type, whose values are not documented), the request
    // data and the runtime JSON changed, through verify.
    let o = opts();
    for i in (0..0x0C).chain(0x10..0x20).chain(0x4C0..0x4D4 + 1110) {
        let mut t = a.clone();
        t.hcl_report[i] ^= 0x5a;
        assert!(
            verify(&CvmEvidence::Azure(t), &o).is_err(),
            "byte {i:#x} changed and still accepted"
        );
    }
}
