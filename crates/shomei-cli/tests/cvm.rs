//! `shomei cvm verify` on the real Azure evidence and `shomei cvm emulate` → `cvm verify` on the
//! emulated CVM, attacks included: exit 0 verified, 1 rejected with one
//! `rejected: <step>.<check>: <detail>` line, 2 unreadable input.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{assert_rejected, shomei};

const AZURE: &str = "V:snp/azure-hcl-milan/evidence-v0.json";
const CHALLENGE: &str = "6368616c6c656e6765"; // "challenge"
const PCR0: &str = "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced";

#[test]
fn azure_evidence_verifies_and_every_check_is_shown() {
    let r = shomei(&[
        "cvm",
        "verify",
        AZURE,
        "--nonce",
        CHALLENGE,
        "--at",
        "2025-06-01",
        "--pcr",
        &format!("sha256:0={PCR0}"),
    ]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    for line in [
        "snp       report_signature       pass",
        "snp       vmpl                   pass",
        "link      runtime_data           pass",
        "link      ak_binding             pass",
        "tpm       signature              pass",
        "tpm       nonce                  pass",
        "tpm       pcr_digest             pass",
        "tpm       pcr_values             pass",
        "verified: two-step CVM evidence",
    ] {
        assert!(r.stdout.contains(line), "{line:?} missing:\n{}", r.stdout);
    }
}

#[test]
fn azure_evidence_json_has_the_pcrs_and_every_check() {
    let r = shomei(&[
        "cvm",
        "verify",
        AZURE,
        "--nonce",
        CHALLENGE,
        "--at",
        "1748736000",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["accepted"], true);
    assert_eq!(j["pcrs"]["sha256"]["0"], PCR0);
    assert_eq!(j["quote_nonce"], CHALLENGE);
    let checks = j["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["step"] == "link" && c["check"] == "ak_binding")
    );
    assert!(checks.iter().all(|c| c["outcome"] != "fail"));
}

#[test]
fn azure_evidence_with_nonce_01020304_is_rejected_by_the_quote() {
    let r = shomei(&[
        "cvm",
        "verify",
        AZURE,
        "--nonce",
        "01020304",
        "--at",
        "2025-06-01",
    ]);
    assert_rejected(&r, "tpm.nonce");
}

#[test]
fn azure_evidence_with_another_pcr0_is_rejected() {
    let r = shomei(&[
        "cvm",
        "verify",
        AZURE,
        "--nonce",
        CHALLENGE,
        "--at",
        "2025-06-01",
        "--pcr",
        &format!("sha256:0={}", "00".repeat(32)),
        "--json",
    ]);
    assert_rejected(&r, "tpm.pcr_values");
    assert_eq!(r.json()["accepted"], false);
}

#[test]
fn azure_evidence_after_the_vcek_expired_is_rejected_and_garbage_is_an_input_error() {
    let r = shomei(&["cvm", "verify", AZURE, "--at", "2033-01-01"]);
    assert_rejected(&r, "snp.certificate_validity");
    let dir = std::env::temp_dir().join(format!("shomei-cvm-garbage-{}", std::process::id()));
    std::fs::write(&dir, b"{\"hello\": 1}").unwrap();
    let r = shomei(&["cvm", "verify", dir.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    std::fs::remove_file(&dir).ok();
}

fn emulate(tag: &str, attack: Option<&str>) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("shomei-cvm-{tag}-{}", std::process::id()));
    let nonce = "00112233445566778899aabbccddeeff";
    let mut args = vec![
        "cvm",
        "emulate",
        "-o",
        dir.to_str().unwrap(),
        "--nonce",
        nonce,
    ];
    if let Some(a) = attack {
        args.extend(["--attack", a]);
    }
    let r = shomei(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("shomei cvm verify"), "{}", r.stdout);
    (dir, nonce.to_owned())
}

fn verify_emulated(dir: &std::path::Path, nonce: &str) -> common::Run {
    let d = dir.to_str().unwrap();
    shomei(&[
        "cvm",
        "verify",
        &format!("{d}/evidence.json"),
        "--nonce",
        nonce,
        "--reference",
        &format!("{d}/reference.json"),
        "--trust-root",
        &format!("{d}/trust-root.pem"),
    ])
}

#[test]
fn emulated_cvm_verifies_through_both_steps() {
    let (dir, nonce) = emulate("ok", None);
    let r = verify_emulated(&dir, &nonce);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("eventlog  replay"), "{}", r.stdout);
    assert!(
        r.stdout.contains("snp       measurement            pass"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("FAIL") && !r.stdout.contains(" skip "),
        "{}",
        r.stdout
    );
    // Without naming the emulator's root, AMD's roots refuse it.
    let d = dir.to_str().unwrap();
    let r = shomei(&[
        "cvm",
        "verify",
        &format!("{d}/evidence.json"),
        "--nonce",
        &nonce,
    ]);
    assert_rejected(&r, "snp.root_of_trust");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_emulated_attack_is_rejected_with_its_step_and_check() {
    for (attack, check) in [
        ("other-firmware", "snp.measurement"),
        ("debug", "snp.debug"),
        ("foreign-vtpm", "link.ak_binding"),
        ("omit-pcr", "tpm.required_pcrs"),
        ("replay-report", "link.nonce"),
    ] {
        let (dir, nonce) = emulate(attack, Some(attack));
        let r = verify_emulated(&dir, &nonce);
        assert_rejected(&r, check);
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Azure TDX evidence in trustee's az-tdx-vtpm shape, built from the emulated DCAP platform and
/// vTPM (no real TDX HCL vector exists here): (evidence JSON, PCS collateral dir, root PEM).
fn azure_tdx(dir: &std::path::Path) -> (String, String, String) {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use shomei_dcap_emu::{EmulatedPlatform, QuoteBody, td::Td};
    use shomei_tpm::HashAlg;
    let platform = EmulatedPlatform::tdx().unwrap();
    let mut vtpm = shomei_tpm_emu::Vtpm::new().unwrap();
    vtpm.measured_boot().unwrap();
    let ak = vtpm.create_ak(shomei_tpm_emu::AkKind::Rsa).unwrap();
    let key = shomei_tpm::AttestationKey::from_tpm2b_public(&ak.tpm2b_public().unwrap()).unwrap();
    let shomei_tpm::keys::KeyMaterial::Rsa { n, e } = key.material else {
        panic!()
    };
    let runtime = format!(
        r#"{{"keys":[{{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"{}","n":"{}"}}],"vm-configuration":{{"tpm-enabled":true}}}}"#,
        Base64UrlUnpadded::encode_string(&e),
        Base64UrlUnpadded::encode_string(&n),
    );
    let mut rd = [0u8; 64];
    rd[..32].copy_from_slice(&HashAlg::Sha256.digest(runtime.as_bytes()));
    let td_quote = platform
        .quote(4, &QuoteBody::Td10(Td::new(b"paravisor").report(rd)))
        .unwrap();
    let mut hcl = b"HCLA".to_vec();
    let len = u32::try_from(runtime.len()).unwrap();
    for v in [2u32, 0x4D4 + len, 2, 0, 0, 0, 0] {
        hcl.extend_from_slice(&v.to_le_bytes());
    }
    let mut td_report = vec![0u8; 1184];
    td_report[128..192].copy_from_slice(&rd);
    hcl.extend_from_slice(&td_report);
    for v in [20 + len, 1, 4, 1, len] {
        hcl.extend_from_slice(&v.to_le_bytes());
    }
    hcl.extend_from_slice(runtime.as_bytes());
    let sel: Vec<u32> = (0..24).collect();
    let q = vtpm
        .quote(&ak, b"challenge", &[(HashAlg::Sha256, sel.clone())])
        .unwrap();
    let pcrs: Vec<String> = sel
        .iter()
        .map(|i| hex::encode(vtpm.pcr(HashAlg::Sha256, *i).unwrap()))
        .collect();
    let doc = serde_json::json!({
        "tpm_quote": {"signature": hex::encode(&q.signature), "message": hex::encode(&q.message), "pcrs": pcrs},
        "hcl_report": Base64UrlUnpadded::encode_string(&hcl),
        "td_quote": Base64UrlUnpadded::encode_string(&td_quote),
    });
    std::fs::create_dir_all(dir.join("collateral")).unwrap();
    let ev = dir.join("evidence.json");
    std::fs::write(&ev, serde_json::to_vec(&doc).unwrap()).unwrap();
    for (name, bytes) in platform.pcs_files().unwrap() {
        std::fs::write(dir.join("collateral").join(name), bytes).unwrap();
    }
    let root = dir.join("intel-test-root.pem");
    std::fs::write(&root, platform.root_pem().unwrap()).unwrap();
    let s = |p: std::path::PathBuf| p.to_str().unwrap().to_owned();
    (s(ev), s(dir.join("collateral")), s(root))
}

#[test]
fn azure_tdx_evidence_verifies_with_its_collateral() {
    let dir = std::env::temp_dir().join(format!("shomei-cvm-tdx-{}", std::process::id()));
    let (ev, coll, root) = azure_tdx(&dir);
    let at = shomei_dcap_emu::AT.secs().to_string();
    let args = |nonce: &'static str| {
        vec![
            "cvm".to_owned(),
            "verify".into(),
            ev.clone(),
            "--nonce".into(),
            nonce.into(),
            "--collateral".into(),
            coll.clone(),
            "--dcap-root".into(),
            root.clone(),
            "--at".into(),
            at.clone(),
        ]
    };
    let run = |v: Vec<String>| shomei(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let r = run(args(CHALLENGE));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("tdx       quote_signature        pass"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("link      runtime_data           pass"),
        "{}",
        r.stdout
    );
    assert_rejected(&run(args("01020304")), "tpm.nonce");
    // Without the collateral the TD quote cannot be verified: an input error.
    let r = shomei(&["cvm", "verify", &ev, "--nonce", CHALLENGE, "--at", &at]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    std::fs::remove_dir_all(&dir).ok();
}
