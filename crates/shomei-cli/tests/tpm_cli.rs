//! `shomei tpm eventlog` and `shomei tpm verify-quote` on the real TPM vectors: exit 0 verified,
//! 1 rejected with one `rejected: <check>: <detail>` line on stderr, 2 unreadable input; `--json`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

mod common;

#[allow(unused_imports)]
use common::{Run, assert_rejected, shomei, vectors};

fn expected(folder: &str) -> serde_json::Value {
    let b = std::fs::read(vectors().join(format!("tpm/{folder}/expected.json"))).unwrap();
    serde_json::from_slice(&b).unwrap()
}

#[test]
fn eventlog_json_reproduces_expected_pcrs_and_event_counts_for_every_real_log() {
    for (file, e) in expected("eventlogs").as_object().unwrap() {
        let r = shomei(&[
            "tpm",
            "eventlog",
            &format!("V:tpm/eventlogs/{file}"),
            "--json",
        ]);
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        let j = r.json();
        assert_eq!(j["events"], e["events_incl_specid"], "{file}");
        assert_eq!(j["pcrs"], e["pcrs"], "{file}");
    }
}

#[test]
fn eventlog_json_gives_rtmrs_for_ccel() {
    for (file, e) in expected("ccel").as_object().unwrap() {
        let r = shomei(&["tpm", "eventlog", &format!("V:tpm/ccel/{file}"), "--json"]);
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        let j = r.json();
        assert_eq!(j["format"], "ccel");
        assert_eq!(j["rtmrs"], e["expected_rtmr0_3"], "{file}");
        assert_eq!(j["events"], e["events_incl_specid"], "{file}");
    }
}

#[test]
fn eventlog_rejects_keylime_bogus_and_empty_files_as_input_errors() {
    for f in [
        "keylime__binary_bios_measurements-bogus",
        "keylime__binary_bios_measurements-empty",
    ] {
        let r = shomei(&["tpm", "eventlog", &format!("V:tpm/eventlogs/{f}")]);
        assert_eq!(r.code, 2, "{f}");
        assert!(r.stderr.starts_with("error: "), "{f}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{f}: {}", r.stderr);
    }
}

#[test]
fn eventlog_text_output_decodes_secure_boot_and_boot_applications() {
    let r = shomei(&[
        "tpm",
        "eventlog",
        "V:tpm/eventlogs/go-tpm-tools__glinux-alex.bin",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"name\":\"SecureBoot\""), "{}", r.stdout);
    assert!(r.stdout.contains("GRUBX64.EFI"), "{}", r.stdout);
    assert!(r.stdout.contains("StartupLocality: 3"), "{}", r.stdout);
}

const NONCE: &str = "99741b75bd2a7d5306ccec1122fce3c88eb5d017";
const PCR16: &str = "9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878";

fn quote_pcrs() -> String {
    let zero = "00".repeat(32);
    let mut v: Vec<String> = (0..8).map(|i| format!("sha256:{i}={zero}")).collect();
    v.push(format!("sha256:16={PCR16}"));
    v.join(",")
}

fn verify(msg: &str, sig: &str, ak: &str, nonce: &str, pcrs: &str) -> Run {
    shomei(&[
        "tpm",
        "verify-quote",
        "--message",
        &format!("V:tpm/swtpm/out/{msg}"),
        "--signature",
        &format!("V:tpm/swtpm/out/{sig}"),
        "--ak",
        &format!("V:tpm/swtpm/out/{ak}"),
        "--nonce",
        nonce,
        "--pcrs",
        pcrs,
        "--json",
    ])
}

#[test]
fn verify_quote_accepts_the_swtpm_quotes() {
    let r = verify("quote.msg", "quote.sig", "ak.pub", NONCE, &quote_pcrs());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["quote"]["pcr_digest"],
        "d5ac569217906c005859bf52b247105e542c22d4550b98bd899f286f9fe6ae35"
    );
    let r = verify(
        "quote.msg",
        "quote.sig",
        "ak.tpm2bpub",
        NONCE,
        &quote_pcrs(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p16 = format!("sha256:16={PCR16}");
    for (m, s, k) in [
        ("quoteecc.msg", "quoteecc.sig", "akecc.pub"),
        ("quotepss.msg", "quotepss.sig", "akpss.pub"),
        ("q2.msg", "q2.sig.plain", "ak.pub"),
    ] {
        let r = verify(m, s, k, NONCE, &p16);
        assert_eq!(r.code, 0, "{m}: {}", r.stderr);
        assert_eq!(r.json()["verified"], true);
    }
}

#[test]
fn verify_quote_rejections_name_their_check() {
    let mut bad_nonce = NONCE.to_owned();
    bad_nonce.replace_range(0..2, "00");
    let cases = [
        (
            verify(
                "quote.msg",
                "quote.sig",
                "ak.pub",
                &bad_nonce,
                &quote_pcrs(),
            ),
            "nonce",
        ),
        (
            verify(
                "quote.msg",
                "quote.sig",
                "ak.pub",
                NONCE,
                &format!("sha256:16={PCR16}"),
            ),
            "pcr_selection",
        ),
        (
            verify(
                "quote.msg",
                "quote.sig",
                "ak.pub",
                NONCE,
                &quote_pcrs().replace(PCR16, &"11".repeat(32)),
            ),
            "pcr_digest",
        ),
        (
            verify("quote.msg", "quote.sig", "akpss.pub", NONCE, &quote_pcrs()),
            "signature",
        ),
    ];
    for (r, check) in cases {
        assert_eq!(r.code, 1, "{check}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("rejected: {check}: ")),
            "{check}: {}",
            r.stderr
        );
        assert_eq!(r.json()["check"], check);
    }
}

#[test]
fn verify_quote_input_errors_exit_2() {
    let r = verify("quote.msg", "quote.sig", "ak.pub", "zz", &quote_pcrs());
    assert_eq!(r.code, 2);
    let r = verify("quote.msg", "quote.sig", "ak.pub", NONCE, "sha256:16=abcd");
    assert_eq!(r.code, 2);
    let r = verify("nonce.txt", "quote.sig", "ak.pub", NONCE, &quote_pcrs());
    assert_eq!(r.code, 2);
}

/// A quote and event log from the emulated vTPM, written to files for the CLI.
fn vtpm_files(tag: &str, extra_after_log: bool) -> (PathBuf, String) {
    use shomei_tpm::HashAlg;
    use shomei_tpm_emu::{AkKind, Vtpm};
    let dir = std::env::temp_dir().join(format!("shomei-cli-vtpm-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut t = Vtpm::new().unwrap();
    t.measured_boot().unwrap();
    let log = t.event_log().to_vec();
    if extra_after_log {
        t.extend(8, 0xD, b"grub_cmd: not in the log").unwrap();
    }
    let ak = t.create_ak(AkKind::Rsa).unwrap();
    let nonce = [7u8; 16];
    let q = t
        .quote(
            &ak,
            &nonce,
            &[(HashAlg::Sha256, vec![0, 4, 7, 8]), (HashAlg::Sha1, vec![])],
        )
        .unwrap();
    std::fs::write(dir.join("quote.msg"), &q.message).unwrap();
    std::fs::write(dir.join("quote.sig"), &q.signature).unwrap();
    std::fs::write(dir.join("ak.tss"), ak.tpm2b_public().unwrap()).unwrap();
    std::fs::write(dir.join("log.bin"), &log).unwrap();
    (dir, hex::encode(nonce))
}

fn verify_with_log(dir: &std::path::Path, nonce: &str) -> Run {
    let p = |f: &str| dir.join(f).display().to_string();
    shomei(&[
        "tpm",
        "verify-quote",
        "--message",
        &p("quote.msg"),
        "--signature",
        &p("quote.sig"),
        "--ak",
        &p("ak.tss"),
        "--nonce",
        nonce,
        "--eventlog",
        &p("log.bin"),
        "--json",
    ])
}

#[test]
fn verify_quote_with_eventlog_accepts_a_log_that_replays_to_the_quote() {
    let (dir, nonce) = vtpm_files("ok", false);
    let r = verify_with_log(&dir, &nonce);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["quote"]["pcr_selection"], "sha256:0,4,7,8+sha1:");
    assert_eq!(j["quote"]["eventlog_events"], 13);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_quote_with_eventlog_rejects_a_log_missing_a_measurement() {
    let (dir, nonce) = vtpm_files("missing", true);
    let r = verify_with_log(&dir, &nonce);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("rejected: pcr_digest: "),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CEL-TLV log written here (TCG Canonical Event Log, TLV encoding): PCR and CC MR records in
/// SHA-256 and SHA-384; the expected values are extended independently with aws-lc-rs.
#[test]
fn cel_tlv_log_replays_pcrs_and_rtmrs() {
    use aws_lc_rs::digest::{Context, SHA256, SHA384, digest};
    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        [
            &[tag][..],
            &u32::try_from(v.len()).unwrap().to_be_bytes(),
            v,
        ]
        .concat()
    }
    fn extend(alg: &'static aws_lc_rs::digest::Algorithm, old: &[u8], d: &[u8]) -> Vec<u8> {
        let mut c = Context::new(alg);
        c.update(old);
        c.update(d);
        c.finish().as_ref().to_vec()
    }
    let d256 = digest(&SHA256, b"kernel").as_ref().to_vec();
    let d384 = digest(&SHA384, b"container image").as_ref().to_vec();
    let log = [
        tlv(0, &[0]),
        tlv(1, &[9]),
        tlv(3, &tlv(0x0B, &d256)),
        tlv(5, b"pcclient event"),
        tlv(0, &[1]),
        tlv(108, &[4]),
        tlv(3, &tlv(0x0C, &d384)),
        tlv(0x50, b"cos event"),
    ]
    .concat();
    let path = std::env::temp_dir().join(format!("shomei-cel-{}.bin", std::process::id()));
    std::fs::write(&path, &log).unwrap();
    let r = shomei(&["tpm", "eventlog", &path.display().to_string(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["format"], "cel_tlv");
    assert_eq!(j["events"], 2);
    assert_eq!(
        j["pcrs"]["sha256"]["9"],
        hex::encode(extend(&SHA256, &[0; 32], &d256))
    );
    assert_eq!(j["rtmrs"][3], hex::encode(extend(&SHA384, &[0; 48], &d384)));
    assert_eq!(j["rtmrs"][0], "00".repeat(48));
    // A truncated log is an input error naming the field.
    std::fs::write(&path, &log[..log.len() - 3]).unwrap();
    let r = shomei(&["tpm", "eventlog", &path.display().to_string()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("CEL"), "{}", r.stderr);
    std::fs::remove_file(&path).ok();
}
