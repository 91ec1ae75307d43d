//! The emulated vTPM against the verifier and against an independent checker (tpm2_checkquote).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use shomei_core::UnixTime;
use shomei_tpm::credential::make_credential;
use shomei_tpm::ekca::EkCaStore;
use shomei_tpm::{
    AnySignature, AttestationKey, EventLog, HashAlg, PcrValues, Public, QuoteOptions,
    check_event_log, quote_selection, verify_quote,
};
use shomei_tpm_emu::{AkKind, TestEkCa, Vtpm};

fn check_of(e: shomei_tpm::Error) -> &'static str {
    e.rejection()
        .map(|r| r.check())
        .unwrap_or("not a rejection")
}

#[test]
fn emulated_quotes_verify_against_the_replayed_event_log_for_rsa_and_ecc_aks() {
    let mut t = Vtpm::new().unwrap();
    t.measured_boot().unwrap();
    let log = t.event_log().to_vec();
    let parsed = EventLog::parse(&log).unwrap();
    let replay = parsed.replay();
    assert!(replay.warnings.is_empty(), "{:?}", replay.warnings);
    for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        for i in [0u32, 4, 7, 8] {
            assert_eq!(replay.value(bank, i), t.pcr(bank, i).unwrap(), "{bank} {i}");
        }
    }
    for kind in [AkKind::Rsa, AkKind::Ecc] {
        let ak = t.create_ak(kind).unwrap();
        let nonce = b"fresh nonce".to_vec();
        let sel = vec![
            (HashAlg::Sha256, vec![0, 4, 7, 8]),
            (HashAlg::Sha384, vec![0]),
        ];
        let q = t.quote(&ak, &nonce, &sel).unwrap();
        let key = AttestationKey::from_tpm2b_public(&ak.tpm2b_public().unwrap()).unwrap();
        assert_eq!(key.name.as_deref().unwrap(), ak.name().as_slice());
        let pcrs = PcrValues::from_replay(&replay, &quote_selection(&q.message).unwrap()).unwrap();
        let v = verify_quote(
            &q.message,
            &AnySignature::detect(&q.signature),
            &key,
            &nonce,
            &pcrs,
            &QuoteOptions::default(),
        )
        .unwrap();
        check_event_log(&v, &replay).unwrap();
        // PEM form too, and a wrong nonce is refused.
        let pem = AttestationKey::from_any(ak.pem().unwrap().as_bytes()).unwrap();
        let e = verify_quote(
            &q.message,
            &AnySignature::detect(&q.signature),
            &pem,
            b"stale nonce",
            &pcrs,
            &QuoteOptions::default(),
        )
        .unwrap_err();
        assert_eq!(check_of(e), "nonce");
    }
}

#[test]
fn a_measurement_after_the_log_was_taken_breaks_the_replay_check() {
    let mut t = Vtpm::new().unwrap();
    t.measured_boot().unwrap();
    let old_log = t.event_log().to_vec();
    t.extend(8, 0xD, b"grub_cmd: insmod evil").unwrap();
    let ak = t.create_ak(AkKind::Ecc).unwrap();
    let q = t.quote(&ak, b"n", &[(HashAlg::Sha256, vec![8])]).unwrap();
    let key = AttestationKey::from_tpm2b_public(&ak.tpm2b_public().unwrap()).unwrap();
    let replay = EventLog::parse(&old_log).unwrap().replay();
    let pcrs = PcrValues::from_replay(&replay, &quote_selection(&q.message).unwrap()).unwrap();
    let e = verify_quote(
        &q.message,
        &AnySignature::detect(&q.signature),
        &key,
        b"n",
        &pcrs,
        &QuoteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(check_of(e), "pcr_digest");
}

#[test]
fn emulated_quotes_pass_tpm2_checkquote() {
    let have = std::process::Command::new("tpm2_checkquote")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        have,
        "tpm2_checkquote is not installed: apt-get install -y tpm2-tools (scripts/test does)"
    );
    let mut t = Vtpm::new().unwrap();
    t.measured_boot().unwrap();
    let dir = std::env::temp_dir().join(format!("shomei-vtpm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (kind, tag) in [(AkKind::Rsa, "rsa"), (AkKind::Ecc, "ecc")] {
        let ak = t.create_ak(kind).unwrap();
        let nonce = [0x5a; 20];
        let q = t
            .quote(&ak, &nonce, &[(HashAlg::Sha256, vec![0, 7])])
            .unwrap();
        let (m, s, k) = (
            dir.join(format!("{tag}.msg")),
            dir.join(format!("{tag}.sig")),
            dir.join(format!("{tag}.pem")),
        );
        std::fs::write(&m, &q.message).unwrap();
        std::fs::write(&s, &q.signature).unwrap();
        std::fs::write(&k, ak.pem().unwrap()).unwrap();
        let run = |n: &str| {
            std::process::Command::new("tpm2_checkquote")
                .arg("-u")
                .arg(&k)
                .arg("-m")
                .arg(&m)
                .arg("-s")
                .arg(&s)
                .args(["-g", "sha256", "-q", n])
                .output()
                .unwrap()
        };
        let ok = run(&hex::encode(nonce));
        assert!(
            ok.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(
            !run("00").status.success(),
            "{tag}: a wrong nonce must fail"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn credential_made_for_the_ak_activates_only_for_that_ak() {
    let t = Vtpm::new().unwrap();
    let ek_pub = t.ek_public().unwrap();
    let ek = Public::parse_tpm2b(&ek_pub).unwrap();
    let ak = t.create_ak(AkKind::Rsa).unwrap();
    let other = t.create_ak(AkKind::Ecc).unwrap();
    let secret = b"0123456789abcdef0123456789abcdef";
    let cred = make_credential(&ek, &ak.name(), secret).unwrap();
    assert_eq!(t.activate_credential(&ak.name(), &cred).unwrap(), secret);
    assert!(t.activate_credential(&other.name(), &cred).is_err());
    let another_tpm = Vtpm::new().unwrap();
    assert!(another_tpm.activate_credential(&ak.name(), &cred).is_err());
}

#[test]
fn the_ek_certificate_from_the_test_ca_chains_only_when_that_ca_is_named() {
    let (nb, na) = (UnixTime(1_700_000_000), UnixTime(2_000_000_000));
    let ca = TestEkCa::generate(nb, na).unwrap();
    let t = Vtpm::new().unwrap();
    let cert = ca.issue_ek_certificate(&t, nb, na).unwrap();
    let mut store = EkCaStore::new();
    store.add(&ca.certificate).unwrap();
    let v = store.verify(&cert, &[], UnixTime(1_800_000_000)).unwrap();
    v.certifies(&AttestationKey::from_tpm2b_public(&t.ek_public().unwrap()).unwrap())
        .unwrap();
    let other = TestEkCa::generate(nb, na).unwrap();
    let mut wrong = EkCaStore::new();
    wrong.add(&other.certificate).unwrap();
    let e = wrong
        .verify(&cert, &[], UnixTime(1_800_000_000))
        .unwrap_err();
    assert_eq!(check_of(e), "ek_chain_signature");
    let e = store
        .verify(&cert, &[], UnixTime(2_100_000_000))
        .unwrap_err();
    assert_eq!(check_of(e), "ek_chain_validity");
}
