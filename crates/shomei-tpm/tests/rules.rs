//! Replay rules, IMA, RSA-PSS salt detection and parser robustness on constructed inputs. Expected
//! values are computed here from the specifications' formulas with aws-lc-rs directly (or by
//! openssl), never by the code under test.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use proptest::prelude::*;
use shomei_tpm::eventlog::Warning;
use shomei_tpm::ima::{self, BankDigest};
use shomei_tpm::{EventLog, HashAlg};

fn sha256(d: &[u8]) -> Vec<u8> {
    digest(&SHA256, d).as_ref().to_vec()
}
fn sha1(d: &[u8]) -> Vec<u8> {
    digest(&SHA1_FOR_LEGACY_USE_ONLY, d).as_ref().to_vec()
}
fn ext256(pcr: &[u8], d: &[u8]) -> Vec<u8> {
    sha256(&[pcr, d].concat())
}

fn header() -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend_from_slice(&0u32.to_le_bytes());
    spec.extend_from_slice(&[0, 2, 0, 2]);
    spec.extend_from_slice(&1u32.to_le_bytes());
    spec.extend_from_slice(&0x000Bu16.to_le_bytes());
    spec.extend_from_slice(&32u16.to_le_bytes());
    spec.push(0);
    let mut log = Vec::new();
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&3u32.to_le_bytes());
    log.extend_from_slice(&[0; 20]);
    log.extend_from_slice(&(spec.len() as u32).to_le_bytes());
    log.extend_from_slice(&spec);
    log
}

fn record(log: &mut Vec<u8>, pcr: u32, ty: u32, d: &[u8], data: &[u8]) {
    log.extend_from_slice(&pcr.to_le_bytes());
    log.extend_from_slice(&ty.to_le_bytes());
    log.extend_from_slice(&1u32.to_le_bytes());
    log.extend_from_slice(&0x000Bu16.to_le_bytes());
    log.extend_from_slice(d);
    log.extend_from_slice(&(data.len() as u32).to_le_bytes());
    log.extend_from_slice(data);
}

#[test]
fn drtm_pcrs_start_at_all_ff_and_no_action_is_not_extended() {
    let mut log = header();
    let d = sha256(b"x");
    record(&mut log, 17, 0xD, &d, b"x");
    record(&mut log, 16, 3, &sha256(b"n"), b"n"); // EV_NO_ACTION
    record(&mut log, 16, 0xD, &d, b"x");
    let l = EventLog::parse(&log).unwrap();
    let r = l.replay();
    assert_eq!(r.pcrs[&HashAlg::Sha256][&17], ext256(&[0xFF; 32], &d));
    assert_eq!(r.pcrs[&HashAlg::Sha256][&16], ext256(&[0; 32], &d));
    assert!(r.warnings.is_empty());
}

#[test]
fn startup_locality_3_and_hcrtm_set_pcr0s_initial_value() {
    let d = sha256(b"fw");
    let mut log = header();
    record(&mut log, 0, 3, &[0; 32], b"StartupLocality\0\x03");
    record(&mut log, 0, 0x8000_0008, &d, &[0; 16]);
    let r = EventLog::parse(&log).unwrap().replay();
    let mut init = [0u8; 32];
    init[31] = 3;
    assert_eq!(r.pcrs[&HashAlg::Sha256][&0], ext256(&init, &d));
    assert_eq!(r.startup_locality, Some(3));

    let mut log = header();
    record(&mut log, 0, 0x8000_0010, &d, b"HCRTM");
    let r = EventLog::parse(&log).unwrap().replay();
    init[31] = 4;
    assert_eq!(r.pcrs[&HashAlg::Sha256][&0], ext256(&init, &d));
    assert!(r.hcrtm);
}

#[test]
fn a_digest_that_does_not_match_its_data_is_a_warning_not_an_error() {
    let mut log = header();
    let wrong = sha256(b"not the data");
    record(
        &mut log,
        4,
        0x8000_0007,
        &wrong,
        b"Calling EFI Application from Boot Option",
    );
    let r = EventLog::parse(&log).unwrap().replay();
    assert_eq!(r.pcrs[&HashAlg::Sha256][&4], ext256(&[0; 32], &wrong));
    assert!(matches!(
        r.warnings.as_slice(),
        [Warning::DigestMismatch {
            event: 1,
            pcr: 4,
            ..
        }]
    ));
}

#[test]
fn event_logs_refuse_undeclared_algorithms_and_oversized_lengths() {
    let mut log = header();
    // A record whose digest uses SHA-384, which the Spec ID does not declare.
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&0xDu32.to_le_bytes());
    log.extend_from_slice(&1u32.to_le_bytes());
    log.extend_from_slice(&0x000Cu16.to_le_bytes());
    log.extend_from_slice(&[0; 48]);
    log.extend_from_slice(&0u32.to_le_bytes());
    let e = EventLog::parse(&log).unwrap_err();
    assert_eq!(e.field, "TPMT_HA.hashAlg");
    let mut log = header();
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&0xDu32.to_le_bytes());
    log.extend_from_slice(&1u32.to_le_bytes());
    log.extend_from_slice(&0x000Bu16.to_le_bytes());
    log.extend_from_slice(&[0; 32]);
    log.extend_from_slice(&u32::MAX.to_le_bytes());
    let e = EventLog::parse(&log).unwrap_err();
    assert_eq!(e.field, "TCG_PCR_EVENT2.eventSize");
}

/// ima-ng template data from the kernel's layout: u32 len ‖ "sha256:\0" ‖ digest, u32 len ‖ path\0.
fn ima_ng_data(file_digest: &[u8], path: &str) -> Vec<u8> {
    let mut d = b"sha256:\0".to_vec();
    d.extend_from_slice(file_digest);
    let mut n = path.as_bytes().to_vec();
    n.push(0);
    let mut out = Vec::new();
    out.extend_from_slice(&(d.len() as u32).to_le_bytes());
    out.extend_from_slice(&d);
    out.extend_from_slice(&(n.len() as u32).to_le_bytes());
    out.extend_from_slice(&n);
    out
}

#[test]
fn ima_ascii_and_binary_lists_replay_pcr10_in_sha1_and_sha256() {
    let files = [
        ("/usr/bin/true", sha256(b"true")),
        ("/etc/passwd", sha256(b"pw")),
    ];
    let mut ascii = String::new();
    let mut binary = Vec::new();
    let (mut p1, mut p256) = (vec![0u8; 20], vec![0u8; 32]);
    for (path, fd) in &files {
        let data = ima_ng_data(fd, path);
        let th = sha1(&data);
        ascii.push_str(&format!(
            "10 {} ima-ng sha256:{} {path}\n",
            hex::encode(&th),
            hex::encode(fd)
        ));
        binary.extend_from_slice(&10u32.to_le_bytes());
        binary.extend_from_slice(&th);
        binary.extend_from_slice(&6u32.to_le_bytes());
        binary.extend_from_slice(b"ima-ng");
        binary.extend_from_slice(&(data.len() as u32).to_le_bytes());
        binary.extend_from_slice(&data);
        p1 = sha1(&[p1.as_slice(), &th].concat());
        p256 = ext256(&p256, &sha256(&data));
    }
    // A violation: logged as zeros, extended as 0xFF.
    ascii.push_str(&format!(
        "10 {} ima-ng sha256:{} /tmp/violated\n",
        "00".repeat(20),
        "00".repeat(32)
    ));
    p1 = sha1(&[p1.as_slice(), &[0xFF; 20]].concat());
    p256 = ext256(&p256, &[0xFF; 32]);

    let a = ima::parse(ascii.as_bytes()).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0].path, "/usr/bin/true");
    assert_eq!(
        ima::replay(&a, 10, HashAlg::Sha1, BankDigest::TemplateData).value,
        p1
    );
    let r = ima::replay(&a, 10, HashAlg::Sha256, BankDigest::TemplateData);
    assert_eq!(r.value, p256);
    assert!(r.template_hash_mismatches.is_empty());

    let b = ima::parse(&binary).unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].path, "/etc/passwd");
    assert_eq!(b[1].file_digest.as_ref().unwrap().1, files[1].1);
    assert_eq!(b[..2], a[..2]);
}

#[test]
fn ima_template_hash_that_does_not_match_is_reported() {
    let data = ima_ng_data(&sha256(b"a"), "/a");
    let line = format!(
        "10 {} ima-ng sha256:{} /a\n",
        "11".repeat(20),
        hex::encode(sha256(b"a"))
    );
    let a = ima::parse(line.as_bytes()).unwrap();
    assert_eq!(a[0].template_data, data);
    let r = ima::replay(&a, 10, HashAlg::Sha1, BankDigest::TemplateData);
    assert_eq!(r.template_hash_mismatches, vec![0]);
}

#[test]
fn rsa_pss_with_the_maximum_salt_length_is_detected() {
    let dir = std::env::temp_dir().join(format!("shomei-pss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl is required for this test");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["genrsa", "-out", "k.pem", "2048"]);
    run(&["rsa", "-in", "k.pem", "-pubout", "-out", "p.pem"]);
    std::fs::write(dir.join("m.bin"), b"TPMS_ATTEST stand-in").unwrap();
    run(&[
        "dgst",
        "-sha256",
        "-sign",
        "k.pem",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:max",
        "-out",
        "s.bin",
        "m.bin",
    ]);
    let key =
        shomei_tpm::AttestationKey::from_any(&std::fs::read(dir.join("p.pem")).unwrap()).unwrap();
    let sig = std::fs::read(dir.join("s.bin")).unwrap();
    let shomei_tpm::keys::KeyMaterial::Rsa { n, e } = &key.material else {
        panic!()
    };
    let got =
        shomei_tpm::keys::pss_verify_any_salt(n, e, HashAlg::Sha256, b"TPMS_ATTEST stand-in", &sig);
    assert_eq!(got, Some(256 - 32 - 2));
    assert_eq!(
        shomei_tpm::keys::pss_verify_any_salt(n, e, HashAlg::Sha256, b"TPMS_ATTEST stand-iN", &sig),
        None
    );
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = shomei_tpm::Attest::parse(&b);
        let _ = shomei_tpm::Signature::parse(&b);
        let _ = shomei_tpm::Public::parse_tpm2b(&b);
        let _ = shomei_tpm::AttestationKey::from_any(&b);
        let _ = ima::parse(&b);
        let _ = shomei_tpm::credential::Credential::from_tpm2_tools_blob(&b);
        let _ = shomei_tpm::ekca::read_certificates(&b);
        if let Ok(l) = EventLog::parse(&b) {
            let _ = l.replay();
            for e in &l.events {
                let _ = shomei_tpm::decode::decode(e);
            }
        }
    }

    #[test]
    fn agile_logs_with_any_records_parse_back_and_replay(
        recs in proptest::collection::vec((0u32..24, any::<u32>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..16)
    ) {
        let mut log = header();
        for (pcr, ty, data) in &recs {
            record(&mut log, *pcr, *ty, &sha256(data), data);
        }
        let l = EventLog::parse(&log).unwrap();
        prop_assert_eq!(l.events.len(), recs.len() + 1);
        for (e, (pcr, ty, data)) in l.events[1..].iter().zip(&recs) {
            prop_assert_eq!(e.pcr, *pcr);
            prop_assert_eq!(e.event_type, *ty);
            prop_assert_eq!(e.data, data.as_slice());
        }
        let r = l.replay();
        let mismatches = r.warnings.iter().filter(|w| matches!(w, Warning::DigestMismatch { .. })).count();
        prop_assert_eq!(mismatches, 0);
    }

    #[test]
    fn quote_messages_with_a_changed_byte_never_panic(i in 0usize..133, x in 1u8..=255) {
        let mut m = shomei_core::vectors::read("tpm/swtpm/out/quote.msg").unwrap();
        m[i] ^= x;
        let _ = shomei_tpm::Attest::parse(&m);
    }
}
