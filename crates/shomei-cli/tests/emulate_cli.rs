//! `shomei snp emulate` → `shomei snp verify`: an emulated guest verifies with the same code as a
//! real one, only under the test root named with --trust-root, and its measurement is what
//! `shomei snp measure` computes for the same image.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

fn shomei(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shomei"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(dir: &Path, f: &str) -> String {
    dir.join(f).display().to_string()
}

#[test]
fn emulated_guest_verifies_only_under_its_named_root() {
    let ovmf = shomei_core::vectors::locate()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("snp/measure/ovmf_AmdSev_suffix.bin")
        .display()
        .to_string();
    for (product, version) in [("milan", "2"), ("genoa", "3"), ("turin", "5")] {
        let dir = std::env::temp_dir().join(format!("shomei-emu-{}-{product}", std::process::id()));
        let d = dir.display().to_string();
        let (code, out, err) = shomei(&[
            "snp",
            "emulate",
            "--out",
            &d,
            "--product",
            product,
            "--report-version",
            version,
            "--ovmf",
            &ovmf,
            "--vcpus",
            "2",
            "--report-data",
            "c0ffee",
            "--rsa-bits",
            "2048",
        ]);
        assert_eq!(code, 0, "{err}");
        let (code, measured, _) = shomei(&[
            "snp",
            "measure",
            "--mode",
            "snp",
            "--vcpus",
            "2",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            &ovmf,
        ]);
        assert_eq!(code, 0);
        assert!(
            out.contains(measured.trim()),
            "emulated {out} vs measured {measured}"
        );
        let report = p(&dir, "report.bin");
        let (certs, root) = (p(&dir, "certs.bin"), p(&dir, "trust-root.pem"));
        let mut ok_args = vec![
            "snp",
            "verify",
            &report,
            "--certs",
            &certs,
            "--trust-root",
            &root,
            "--measurement",
            measured.trim(),
            "--report-data",
            "c0ffee",
            "--json",
        ];
        if version == "2" {
            ok_args.extend(["--product", product]);
        }
        let (code, out, err) = shomei(&ok_args);
        assert_eq!(code, 0, "{product}: {err}");
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["signer"]["product"], product);
        assert_eq!(j["claims"]["version"], version.parse::<u32>().unwrap());
        // Not under AMD's roots: the report's table carries the emulated ARK.
        let (code, _, err) = shomei(&["snp", "verify", &report, "--certs", &certs]);
        assert_eq!(code, 1);
        assert!(
            err.starts_with("rejected: root_of_trust: ") && err.contains("not AMD's"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn emulated_policy_violations_are_named() {
    let dir = std::env::temp_dir().join(format!("shomei-emu-pol-{}", std::process::id()));
    let d = dir.display().to_string();
    let (code, _, err) = shomei(&[
        "snp",
        "emulate",
        "--out",
        &d,
        "--policy",
        "0xb0000",
        "--vmpl",
        "1",
        "--current-microcode",
        "120",
        "--rsa-bits",
        "2048",
    ]);
    assert_eq!(code, 0, "{err}");
    let (report, certs, root) = (
        p(&dir, "report.bin"),
        p(&dir, "certs.bin"),
        p(&dir, "trust-root.pem"),
    );
    let base = [
        "snp",
        "verify",
        report.as_str(),
        "--certs",
        certs.as_str(),
        "--trust-root",
        root.as_str(),
    ];
    let (code, _, err) = shomei(&base);
    assert_eq!((code, err.trim()), (1, err.trim()));
    assert!(err.starts_with("rejected: debug: "), "{err}");
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        shomei(&v)
    };
    let (_, _, err) = with(&["--allow-debug"]);
    assert!(err.starts_with("rejected: provisional_firmware: "), "{err}");
    let (_, _, err) = with(&[
        "--allow-debug",
        "--allow-provisional-firmware",
        "--vmpl",
        "0",
    ]);
    assert!(err.starts_with("rejected: vmpl: "), "{err}");
    let (code, _, err) = with(&[
        "--allow-debug",
        "--allow-provisional-firmware",
        "--vmpl",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
