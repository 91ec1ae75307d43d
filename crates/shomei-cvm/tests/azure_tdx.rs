//! The Azure TDX variant (trustee `az-tdx-vtpm` evidence): an HCL report holding a TDREPORT, the
//! TD quote made from it (DCAP v4, REPORTDATA = SHA-256(runtime data)) and a vTPM quote by the
//! runtime data's HCLAkPub. No real TDX HCL vector is in `vectors/`, so the evidence is built
//! here from the emulated DCAP platform (test PKI, never trusted unless named) and the emulated
//! vTPM, in Azure's byte layout.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use shomei_cvm::verify::DcapInputs;
use shomei_cvm::{CvmEvidence, CvmOptions, CvmReport, Error, Outcome, Step, verify};
use shomei_dcap_emu::td::Td;
use shomei_dcap_emu::{EmulatedPlatform, QuoteBody};
use shomei_tpm::HashAlg;
use shomei_tpm::keys::KeyMaterial;
use shomei_tpm_emu::{AkKind, Vtpm};

struct Built {
    doc: Vec<u8>,
    platform: EmulatedPlatform,
}

/// Azure's HCL report around a TDREPORT whose REPORTDATA is `report_data`.
fn hcl(runtime: &[u8], report_data: &[u8; 64]) -> Vec<u8> {
    let mut b = b"HCLA".to_vec();
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&u32::try_from(0x4D4 + runtime.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&[0; 12]);
    let mut td_report = vec![0u8; 1184];
    td_report[128..192].copy_from_slice(report_data);
    b.extend_from_slice(&td_report);
    let len = u32::try_from(runtime.len()).unwrap();
    for v in [20 + len, 1, 4, 1, len] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(runtime);
    b.resize(2600, 0);
    b
}

/// `td_report_data`: what the TD quote's REPORTDATA is (the honest value when `None`).
fn build(td_report_data: Option<[u8; 64]>) -> Built {
    let platform = EmulatedPlatform::tdx().unwrap();
    let mut vtpm = Vtpm::new().unwrap();
    vtpm.measured_boot().unwrap();
    let ak = vtpm.create_ak(AkKind::Rsa).unwrap();
    let key = shomei_tpm::AttestationKey::from_tpm2b_public(&ak.tpm2b_public().unwrap()).unwrap();
    let KeyMaterial::Rsa { n, e } = key.material else {
        panic!()
    };
    let runtime = format!(
        r#"{{"keys":[{{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"{}","n":"{}"}}],"vm-configuration":{{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,"vmUniqueId":"5E1AE3A5-0000-4000-8000-000000000001"}},"user-data":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&e),
        Base64UrlUnpadded::encode_string(&n),
        "0".repeat(128)
    );
    let mut rd = [0u8; 64];
    rd[..32].copy_from_slice(&HashAlg::Sha256.digest(runtime.as_bytes()));
    let td = Td::new(b"Azure TDX paravisor image");
    let td_quote = platform
        .quote(4, &QuoteBody::Td10(td.report(td_report_data.unwrap_or(rd))))
        .unwrap();
    let sel: Vec<u32> = (0..24).collect();
    let q = vtpm
        .quote(&ak, b"challenge", &[(HashAlg::Sha256, sel.clone())])
        .unwrap();
    let pcrs: Vec<String> = sel
        .iter()
        .map(|i| hex::encode(vtpm.pcr(HashAlg::Sha256, *i).unwrap()))
        .collect();
    let doc = serde_json::to_vec(&serde_json::json!({
        "tpm_quote": {
            "signature": hex::encode(&q.signature),
            "message": hex::encode(&q.message),
            "pcrs": pcrs,
        },
        "hcl_report": Base64UrlUnpadded::encode_string(&hcl(runtime.as_bytes(), &rd)),
        "td_quote": Base64UrlUnpadded::encode_string(&td_quote),
    }))
    .unwrap();
    Built { doc, platform }
}

fn run(b: &Built, nonce: &[u8]) -> Result<CvmReport, Error> {
    let collateral = b.platform.collateral().unwrap();
    let anchor = b.platform.anchor().unwrap();
    let o = CvmOptions::new(shomei_dcap_emu::AT)
        .with_nonce(nonce)
        .with_dcap(DcapInputs {
            collateral: &collateral,
            anchor: &anchor,
            policy: shomei_dcap::Policy::default(),
        });
    verify(&CvmEvidence::from_json(&b.doc).unwrap(), &o)
}

fn first(r: Result<CvmReport, Error>) -> (Step, String) {
    match r {
        Err(Error::Rejected(r)) => {
            let c = r.first_failure().unwrap();
            (c.step, c.check.clone())
        }
        Err(e) => panic!("error instead of a rejection: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn azure_tdx_evidence_verifies_through_both_steps() {
    let b = build(None);
    let r = run(&b, b"challenge").unwrap();
    for (step, check) in [
        (Step::Tdx, "quote_signature"),
        (Step::Tdx, "policy"),
        (Step::Link, "td_report"),
        (Step::Link, "runtime_data"),
        (Step::Link, "ak_binding"),
        (Step::Tpm, "signature"),
        (Step::Tpm, "nonce"),
        (Step::Tpm, "pcr_digest"),
    ] {
        assert_eq!(
            r.check(step, check).unwrap().outcome,
            Outcome::Pass,
            "{step:?}.{check}"
        );
    }
    assert!(r.snp.is_none() && r.tdx.is_some());
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["checks"][0]["step"], "tdx");
}

#[test]
fn tdx_nonce_mismatch_is_refused_by_the_quote() {
    assert_eq!(
        first(run(&build(None), b"01020304")),
        (Step::Tpm, "nonce".into())
    );
}

#[test]
fn a_td_quote_for_other_runtime_data_is_refused_at_the_link() {
    let b = build(Some([9u8; 64]));
    assert_eq!(
        first(run(&b, b"challenge")),
        (Step::Link, "td_report".into())
    );
    let r = run(&b, b"challenge").err().unwrap();
    let rep = r.report().unwrap();
    assert_eq!(
        rep.check(Step::Link, "runtime_data").unwrap().outcome,
        Outcome::Fail
    );
    assert_eq!(
        rep.check(Step::Tdx, "quote_signature").unwrap().outcome,
        Outcome::Pass
    );
}

#[test]
fn tdx_collateral_of_another_platform_is_refused_and_none_is_an_error() {
    let b = build(None);
    let other = EmulatedPlatform::tdx().unwrap();
    let collateral = other.collateral().unwrap();
    let anchor = other.anchor().unwrap();
    let o = CvmOptions::new(shomei_dcap_emu::AT)
        .with_nonce(b"challenge")
        .with_dcap(DcapInputs {
            collateral: &collateral,
            anchor: &anchor,
            policy: shomei_dcap::Policy::default(),
        });
    let (step, _) = first(verify(&CvmEvidence::from_json(&b.doc).unwrap(), &o));
    assert_eq!(step, Step::Tdx);
    let o = CvmOptions::new(shomei_dcap_emu::AT).with_nonce(b"challenge");
    assert!(matches!(
        verify(&CvmEvidence::from_json(&b.doc).unwrap(), &o),
        Err(Error::MissingCollateral(_))
    ));
}
