//! The command-line contract on the real SNP vectors: exit 0 verified, 1 rejected with one
//! `rejected: <check>: <detail>` line on stderr, 2 unreadable input.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

#[allow(unused_imports)]
use common::{Run, assert_rejected, shomei, vectors};

#[test]
fn milan_v2_is_verified() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--at",
        "2025-06-01T00:00:00Z",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("verified"));
}

#[test]
fn milan_v2_is_verified_with_a_certificate_directory() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--certs",
        "V:snp/milan-v2",
        "--at",
        "1748736000",
    ]);
    // The directory also holds report.bin, which is not a certificate: that is an input error.
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--certs",
        "V:snp/milan-v2/vcek.der",
        "--certs",
        "V:snp/milan-v2/cert_chain.pem",
        "--at",
        "1748736000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn turin_v5_is_verified_and_json_has_the_turin_tcb() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/turin-v5/report.bin",
        "--vcek",
        "V:snp/turin-v5/vcek.der",
        "--at",
        "2026-11-01",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["verified"], true);
    assert_eq!(
        j["claims"]["reported_tcb"],
        serde_json::json!({"fmc":1,"bootloader":1,"tee":1,"snp":4,"microcode":82})
    );
    assert_eq!(j["signer"]["kind"], "vcek");
    assert_eq!(j["signer"]["product"], "turin");
}

#[test]
fn provisional_firmware_is_rejected_unless_allowed() {
    let base = [
        "snp",
        "verify",
        "V:snp/milan-v2-provisional/report.bin",
        "--vcek",
        "V:snp/milan-v2-provisional/vcek.der",
        "--at",
        "2025-06-01",
    ];
    assert_rejected(&shomei(&base), "provisional_firmware");
    let mut allowed = base.to_vec();
    allowed.push("--allow-provisional-firmware");
    assert_eq!(shomei(&allowed).code, 0);
}

#[test]
fn vlek_is_verified_before_expiry_and_rejected_after() {
    let base = [
        "snp",
        "verify",
        "V:snp/milan-v3-vlek/report.bin",
        "--vlek",
        "V:snp/milan-v3-vlek/vlek.der",
        "--allow-provisional-firmware",
    ];
    let mut before = base.to_vec();
    before.extend(["--at", "2025-12-10T00:00:00Z"]);
    let r = shomei(&before);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("VLEK"), "{}", r.stdout);
    let mut after = base.to_vec();
    after.extend(["--at", "2025-12-11T00:00:00Z"]);
    assert_rejected(&shomei(&after), "certificate_validity");
    let mut vmpl0 = before.clone();
    vmpl0.extend(["--vmpl", "0"]);
    assert_rejected(&shomei(&vmpl0), "vmpl");
}

#[test]
fn vlek_report_given_as_vcek_is_rejected() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v3-vlek/report.bin",
        "--vcek",
        "V:snp/milan-v3-vlek/vlek.der",
        "--at",
        "2025-06-01",
    ]);
    assert_rejected(&r, "signing_key");
}

#[test]
fn wrong_vcek_is_a_signature_rejection() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2-provisional/vcek.der",
        "--at",
        "2025-06-01",
    ]);
    assert_rejected(&r, "report_signature");
}

#[test]
fn measurement_and_report_data_reference_values() {
    let m = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
    let ok = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--at",
        "2025-06-01",
        "--measurement",
        m,
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let bad = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--at",
        "2025-06-01",
        "--measurement",
        &"00".repeat(48),
    ]);
    assert_rejected(&bad, "measurement");
    let rd = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--at",
        "2025-06-01",
        "--report-data",
        "00",
    ]);
    assert_rejected(&rd, "report_data");
    let tcb = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--at",
        "2025-06-01",
        "--min-tcb",
        "ucode=116",
    ]);
    assert_rejected(&tcb, "min_tcb.microcode");
}

#[test]
fn policy_file_is_read() {
    let dir = std::env::temp_dir().join(format!("shomei-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("policy.toml");
    std::fs::write(&p, "allow_provisional_firmware = true\nvmpl = 0\nmin_tcb = { bootloader = 3, microcode = 115 }\n").unwrap();
    let ps = p.display().to_string();
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2-provisional/report.bin",
        "--vcek",
        "V:snp/milan-v2-provisional/vcek.der",
        "--at",
        "2025-06-01",
        "--policy",
        &ps,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(&p, "no_such_option = 1\n").unwrap();
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/vcek.der",
        "--policy",
        &ps,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn azure_hcl_report_is_accepted_as_input() {
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/azure-hcl-milan/hcl-report.bin",
        "--certs",
        "V:snp/azure-hcl-milan/vcek.pem",
        "--at",
        "2025-01-01",
        "--allow-provisional-firmware",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn unreadable_or_malformed_input_exits_2_with_field_and_offset() {
    let r = shomei(&["snp", "display", "V:snp/milan-v2/vcek.der"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("offset"), "{}", r.stderr);
    let r = shomei(&["snp", "verify", "/nonexistent/report.bin"]);
    assert_eq!(r.code, 2);
    let empty = std::env::temp_dir().join(format!("shomei-empty-cache-{}", std::process::id()));
    let empty = empty.display().to_string();
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--cache",
        &empty,
    ]);
    assert_eq!(r.code, 2, "no VEK is an input error: {}", r.stderr);
    assert!(r.stderr.contains("shomei snp fetch"), "{}", r.stderr);
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--vcek",
        "V:snp/milan-v2/report.bin",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = shomei(&[
        "snp",
        "verify",
        "V:snp/milan-v2/report.bin",
        "--at",
        "yesterday",
    ]);
    assert_eq!(r.code, 2, "usage error: {}", r.stderr);
}

#[test]
fn display_json_has_every_documented_key() {
    let r = shomei(&["snp", "display", "V:snp/milan-v2/report.bin", "--json"]);
    assert_eq!(r.code, 0);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for k in [
        "version",
        "measurement",
        "report_data",
        "chip_id",
        "vmpl",
        "reported_tcb",
        "policy",
        "platform_info",
        "host_data",
        "committed_tcb",
        "current_tcb",
        "launch_tcb",
    ] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    assert_eq!(
        j["reported_tcb"],
        serde_json::json!({"bootloader":3,"tee":0,"snp":8,"microcode":115})
    );
    let r = shomei(&["snp", "display", "V:snp/milan-v3-vlek/report.bin", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["key_info"]["signing_key"], "vlek");
    assert_eq!(j["vmpl"], 1);
    assert_eq!(
        j["cpuid"],
        serde_json::json!({"family": 25, "model": 1, "stepping": 1})
    );
}

#[test]
fn bench_prints_the_ratio() {
    let r = shomei(&["bench", "snp", "--seconds", "0.2", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for k in ["us_per_op", "baseline_us", "ratio"] {
        assert!(
            j["snp_verify"][k].as_f64().is_some_and(|x| x > 0.0),
            "{k}: {}",
            r.stdout
        );
    }
}
