//! `shomei sgx la-demo`: exit 0 with the whole flow and every attack refused; exit 1 with one
//! `rejected: <check>: <detail>` line when enclave A's policy refuses enclave B.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn shomei(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_shomei"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn la_demo_attests_exchanges_a_secret_and_refuses_the_attacks() {
    for version in ["v1", "v2"] {
        let r = shomei(&["sgx", "la-demo", "--version", version]);
        assert_eq!(r.code, 0, "{version}: {}", r.stderr);
        assert!(r.stderr.is_empty(), "{}", r.stderr);
        let out = &r.stdout;
        // Both identities are printed.
        let mrenclaves: Vec<&str> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("MRENCLAVE"))
            .map(str::trim)
            .collect();
        assert_eq!(mrenclaves.len(), 2, "{out}");
        assert!(mrenclaves.iter().all(|m| hex64(m)));
        assert_ne!(mrenclaves[0], mrenclaves[1]);
        let mrsigners = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("MRSIGNER "))
            .filter(|m| hex64(m.trim()))
            .count();
        assert_eq!(mrsigners, 2, "{out}");
        // The handshake with the SDK's message sizes, and both verdicts.
        assert!(out.contains("msg1 576 B"), "{out}");
        assert!(out.contains("msg2 512 B"), "{out}");
        assert!(out.contains("msg3 452 B"), "{out}");
        assert!(out.contains("A verified B"), "{out}");
        assert!(out.contains("B verified A"), "{out}");
        assert_eq!(out.matches("policy: accepted").count(), 2, "{out}");
        // The secret arrives; a replay does not.
        assert!(
            out.contains("B decrypted \"database key 7f3a-19c2\""),
            "{out}"
        );
        assert!(out.contains("refused (channel_replay:"), "{out}");
        // Each attack is refused, with its reason.
        let (mitm_check, cpu_check) = match version {
            "v1" => ("report_data", "report_mac"),
            _ => ("report_mac", "report_mac"),
        };
        let attacks = out.split("attacks:").nth(1).unwrap();
        let lines: Vec<&str> = attacks
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 6, "{attacks}");
        assert!(lines[0].starts_with("man in the middle") && lines[0].ends_with("refused by A"));
        assert!(
            lines[1].starts_with(&format!("{mitm_check}: ")),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("another emulated CPU") && lines[2].ends_with("refused by A"));
        assert!(
            lines[3].starts_with(&format!("{cpu_check}: ")),
            "{}",
            lines[3]
        );
        assert!(lines[4].contains("wrong MRSIGNER") && lines[4].ends_with("refused by A"));
        assert!(lines[5].starts_with("mr_signer: "), "{}", lines[5]);
    }
}

#[test]
fn la_demo_json_has_the_verdicts_and_attacks() {
    let r = shomei(&["sgx", "la-demo", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "LAv2");
    assert_eq!(v["msg1_len"], 576);
    assert_eq!(v["msg2_len"], 512);
    assert_eq!(v["msg3_len"], 452);
    assert!(hex64(v["enclaves"][0]["mr_enclave"].as_str().unwrap()));
    assert!(hex64(v["enclaves"][1]["mr_signer"].as_str().unwrap()));
    assert_eq!(v["channel"]["received"], v["channel"]["secret_sent"]);
    assert_eq!(v["channel"]["replay"]["check"], "channel_replay");
    let checks: Vec<&str> = v["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["report_mac", "report_mac", "mr_signer"]);
}

#[test]
fn la_demo_policy_refusal_exits_1_with_one_line() {
    for (args, check) in [
        (&["--min-isvsvn", "2"][..], "isv_svn"),
        (&["--debug-initiator"][..], "debug"),
    ] {
        let mut all = vec!["sgx", "la-demo"];
        all.extend_from_slice(args);
        let r = shomei(&all);
        assert_eq!(r.code, 1, "{args:?}: {} {}", r.stdout, r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{}", r.stderr);
        assert!(
            lines[0].starts_with(&format!("rejected: {check}: enclave A refused enclave B: ")),
            "{}",
            lines[0]
        );
        assert!(r.stdout.is_empty());
    }
    let r = shomei(&["sgx", "la-demo", "--debug-initiator", "--allow-debug"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn la_demo_usage_error_exits_2() {
    let r = shomei(&["sgx", "la-demo", "--version", "v3"]);
    assert_eq!(r.code, 2);
}
