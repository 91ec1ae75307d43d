//! Every verdict for `tpm/` in the real vectors' README, asserted.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::collections::BTreeMap;

use shomei_core::UnixTime;
use shomei_core::vectors::{locate, read};
use shomei_tpm::ccel::{looks_like_ccel, replay_ccel};
use shomei_tpm::ekca::{EkCaStore, read_certificates};
use shomei_tpm::{
    AnySignature, AttestationKey, Error, EventLog, HashAlg, PcrValues, QuoteOptions, Signature,
    verify_quote,
};

fn v(rel: &str) -> Vec<u8> {
    read(rel).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const PCR16: &str = "9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878";

fn swtpm_nonce() -> Vec<u8> {
    let t = String::from_utf8(v("tpm/swtpm/out/nonce.txt")).unwrap();
    h(t.trim().strip_prefix("NONCE=").unwrap())
}

/// sha256 PCR0–7 zero and PCR16, as README says for `quote`.
fn swtpm_pcrs(with_0_7: bool) -> PcrValues {
    let mut p = PcrValues::default();
    if with_0_7 {
        for i in 0..8 {
            p.insert(HashAlg::Sha256, i, vec![0; 32]);
        }
    }
    p.insert(HashAlg::Sha256, 16, h(PCR16));
    p
}

fn check_of(e: Error) -> &'static str {
    e.rejection()
        .map(|r| r.check())
        .unwrap_or("not a rejection")
}

#[test]
fn swtpm_rsassa_quote_verifies_with_nonce_selection_and_digest() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    let sig = AnySignature::detect(&v("tpm/swtpm/out/quote.sig"));
    assert!(matches!(sig, AnySignature::Tpmt(Signature::RsaSsa { .. })));
    let q = verify_quote(
        &v("tpm/swtpm/out/quote.msg"),
        &sig,
        &ak,
        &swtpm_nonce(),
        &swtpm_pcrs(true),
        &QuoteOptions::default(),
    )
    .unwrap();
    assert_eq!(
        hex::encode(q.pcr_digest()),
        "d5ac569217906c005859bf52b247105e542c22d4550b98bd899f286f9fe6ae35"
    );
    assert_eq!(q.selection().describe(), "sha256:0,1,2,3,4,5,6,7,16");
    assert_eq!(q.attest().scheme(), "rsassa-sha256");
}

#[test]
fn swtpm_quote_verifies_with_the_tpm2b_public_ak_and_its_name_matches_tpm2_tools() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.tpm2bpub")).unwrap();
    assert_eq!(
        ak.name.as_deref().unwrap(),
        v("tpm/swtpm/out/ak.name").as_slice()
    );
    let pem = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    assert_eq!(ak.material, pem.material);
    verify_quote(
        &v("tpm/swtpm/out/quote.msg"),
        &AnySignature::detect(&v("tpm/swtpm/out/quote.sig")),
        &ak,
        &swtpm_nonce(),
        &swtpm_pcrs(true),
        &QuoteOptions::default(),
    )
    .unwrap();
}

#[test]
fn swtpm_quote_with_wrong_nonce_is_rejected_by_the_nonce_check() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    let mut nonce = swtpm_nonce();
    nonce[0] ^= 1;
    let e = verify_quote(
        &v("tpm/swtpm/out/quote.msg"),
        &AnySignature::detect(&v("tpm/swtpm/out/quote.sig")),
        &ak,
        &nonce,
        &swtpm_pcrs(true),
        &QuoteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(check_of(e), "nonce");
}

#[test]
fn swtpm_quote_negative_cases_name_their_check() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    let msg = v("tpm/swtpm/out/quote.msg");
    let sig = AnySignature::detect(&v("tpm/swtpm/out/quote.sig"));
    let o = QuoteOptions::default();
    // Selection swapped / narrowed: values supplied for PCR 16 only.
    let e = verify_quote(&msg, &sig, &ak, &swtpm_nonce(), &swtpm_pcrs(false), &o).unwrap_err();
    assert_eq!(check_of(e), "pcr_selection");
    // Same indices in another bank.
    let mut other = PcrValues::default();
    for (i, val) in &swtpm_pcrs(true).0[&HashAlg::Sha256] {
        other.insert(HashAlg::Sha384, *i, val.clone());
    }
    let e = verify_quote(&msg, &sig, &ak, &swtpm_nonce(), &other, &o).unwrap_err();
    assert_eq!(check_of(e), "pcr_selection");
    // Tampered PCR value.
    let mut p = swtpm_pcrs(true);
    p.insert(HashAlg::Sha256, 3, vec![1; 32]);
    let e = verify_quote(&msg, &sig, &ak, &swtpm_nonce(), &p, &o).unwrap_err();
    assert_eq!(check_of(e), "pcr_digest");
    // Wrong AK.
    let other_ak = AttestationKey::from_any(&v("tpm/swtpm/out/akpss.pub")).unwrap();
    let e = verify_quote(&msg, &sig, &other_ak, &swtpm_nonce(), &swtpm_pcrs(true), &o).unwrap_err();
    assert_eq!(check_of(e), "signature");
    // Replayed quote: a valid quote from another challenge (q2 has the same nonce, so take
    // quote.msg with the signature of q2: the signature is over other bytes).
    let q2 = AnySignature::detect(&v("tpm/swtpm/out/q2.sig.plain"));
    let e = verify_quote(&msg, &q2, &ak, &swtpm_nonce(), &swtpm_pcrs(true), &o).unwrap_err();
    assert_eq!(check_of(e), "signature");
}

#[test]
fn swtpm_ecdsa_p256_quote_verifies() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/akecc.pub")).unwrap();
    let sig = AnySignature::detect(&v("tpm/swtpm/out/quoteecc.sig"));
    assert!(matches!(sig, AnySignature::Tpmt(Signature::Ecdsa { .. })));
    let q = verify_quote(
        &v("tpm/swtpm/out/quoteecc.msg"),
        &sig,
        &ak,
        &swtpm_nonce(),
        &swtpm_pcrs(false),
        &QuoteOptions::default(),
    )
    .unwrap();
    assert_eq!(q.attest().scheme(), "ecdsa-sha256");
}

#[test]
fn swtpm_rsapss_quote_verifies_with_the_salt_length_detected() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/akpss.pub")).unwrap();
    let sig = AnySignature::detect(&v("tpm/swtpm/out/quotepss.sig"));
    assert!(matches!(sig, AnySignature::Tpmt(Signature::RsaPss { .. })));
    let q = verify_quote(
        &v("tpm/swtpm/out/quotepss.msg"),
        &sig,
        &ak,
        &swtpm_nonce(),
        &swtpm_pcrs(false),
        &QuoteOptions::default(),
    )
    .unwrap();
    assert_eq!(q.attest().pss_salt_len(), Some(32));
}

#[test]
fn swtpm_rsapss_signature_verifies_by_the_any_salt_path_too() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/akpss.pub")).unwrap();
    let Signature::RsaPss { sig, .. } = Signature::parse(&v("tpm/swtpm/out/quotepss.sig")).unwrap()
    else {
        panic!("not PSS")
    };
    let shomei_tpm::keys::KeyMaterial::Rsa { n, e } = &ak.material else {
        panic!("not RSA")
    };
    let msg = v("tpm/swtpm/out/quotepss.msg");
    assert_eq!(
        shomei_tpm::keys::pss_verify_any_salt(n, e, HashAlg::Sha256, &msg, &sig),
        Some(32)
    );
    let mut bad = msg.clone();
    bad[10] ^= 1;
    assert!(shomei_tpm::keys::pss_verify_any_salt(n, e, HashAlg::Sha256, &bad, &sig).is_none());
}

#[test]
fn swtpm_plain_signature_verifies() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    let sig = AnySignature::detect(&v("tpm/swtpm/out/q2.sig.plain"));
    assert!(matches!(sig, AnySignature::Plain(_)));
    verify_quote(
        &v("tpm/swtpm/out/q2.msg"),
        &sig,
        &ak,
        &swtpm_nonce(),
        &swtpm_pcrs(false),
        &QuoteOptions::default(),
    )
    .unwrap();
}

#[test]
fn every_single_byte_change_of_the_signed_message_fails() {
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    let msg = v("tpm/swtpm/out/quote.msg");
    let sig = AnySignature::detect(&v("tpm/swtpm/out/quote.sig"));
    for i in 0..msg.len() {
        let mut m = msg.clone();
        m[i] ^= 0x01;
        assert!(
            verify_quote(
                &m,
                &sig,
                &ak,
                &swtpm_nonce(),
                &swtpm_pcrs(true),
                &QuoteOptions::default()
            )
            .is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn every_truncation_of_quote_and_signature_fails_to_parse() {
    let msg = v("tpm/swtpm/out/quote.msg");
    for n in 0..msg.len() {
        assert!(shomei_tpm::Attest::parse(&msg[..n]).is_err(), "msg len {n}");
    }
    let sig = v("tpm/swtpm/out/quote.sig");
    for n in 0..sig.len() {
        assert!(Signature::parse(&sig[..n]).is_err(), "sig len {n}");
    }
    let p = v("tpm/swtpm/out/ak.tpm2bpub");
    for n in 0..p.len() {
        assert!(
            shomei_tpm::Public::parse_tpm2b(&p[..n]).is_err(),
            "public len {n}"
        );
    }
}

/// `quote.bin` is bincode: u64 length + signature, u64 length + message, u64 count + 32-byte PCRs.
fn azure_quote() -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let b = v("tpm/azure-vtpm/quote.bin");
    let mut at = 0usize;
    let mut take_vec = |n: Option<usize>| {
        let len = match n {
            Some(n) => n,
            None => {
                let l = u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
                at += 8;
                l
            }
        };
        let out = b[at..at + len].to_vec();
        at += len;
        out
    };
    let sig = take_vec(None);
    let msg = take_vec(None);
    let count = u64::from_le_bytes(take_vec(Some(8)).try_into().unwrap()) as usize;
    let pcrs = (0..count).map(|_| take_vec(Some(32))).collect();
    assert_eq!(at, b.len());
    (sig, msg, pcrs)
}

fn azure_pcrs(pcrs: &[Vec<u8>]) -> PcrValues {
    let mut p = PcrValues::default();
    for (i, val) in pcrs.iter().enumerate() {
        p.insert(HashAlg::Sha256, i as u32, val.clone());
    }
    p
}

#[test]
fn azure_vtpm_quote_verifies_with_challenge_nonce_and_its_digest() {
    let (sig, msg, pcrs) = azure_quote();
    assert_eq!(sig.len(), 256);
    assert_eq!(msg.len(), 122);
    let ak = AttestationKey::from_any(&v("tpm/azure-vtpm/akpub.pem")).unwrap();
    let q = verify_quote(
        &msg,
        &AnySignature::Plain(sig),
        &ak,
        b"challenge",
        &azure_pcrs(&pcrs),
        &QuoteOptions::default(),
    )
    .unwrap();
    assert_eq!(
        hex::encode(q.pcr_digest()),
        "04fabd988106412e438c1b93ad3b4b046c760f8f99ec557d87adf2ab02b7a4a0"
    );
}

#[test]
fn azure_vtpm_quote_with_nonce_01020304_is_rejected() {
    let (sig, msg, pcrs) = azure_quote();
    let ak = AttestationKey::from_any(&v("tpm/azure-vtpm/akpub.pem")).unwrap();
    let e = verify_quote(
        &msg,
        &AnySignature::Plain(sig),
        &ak,
        &[1, 2, 3, 4],
        &azure_pcrs(&pcrs),
        &QuoteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(check_of(e), "nonce");
}

fn expected(folder: &str) -> serde_json::Value {
    serde_json::from_slice(&v(&format!("tpm/{folder}/expected.json"))).unwrap()
}

#[test]
fn every_real_event_log_replays_to_expected_json() {
    let exp = expected("eventlogs");
    let obj = exp.as_object().unwrap();
    assert_eq!(obj.len(), 10);
    for (file, e) in obj {
        let bytes = v(&format!("tpm/eventlogs/{file}"));
        let log = EventLog::parse(&bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(
            log.events.len() as u64,
            e["events_incl_specid"].as_u64().unwrap(),
            "{file}: events"
        );
        assert_eq!(
            log.spec_id.is_some(),
            e["agile"].as_bool().unwrap(),
            "{file}: agile"
        );
        let banks: Vec<String> = log.banks().iter().map(|b| b.name().to_owned()).collect();
        let want_banks: Vec<String> = e["banks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(banks, want_banks, "{file}: banks");
        assert_eq!(
            u64::from(log.startup_locality().unwrap_or(0)),
            e["startup_locality"].as_u64().unwrap(),
            "{file}: locality"
        );
        let r = log.replay();
        let mut got: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (bank, m) in &r.pcrs {
            got.entry(bank.name().to_owned()).or_default();
            for (i, val) in m {
                got.entry(bank.name().to_owned())
                    .or_default()
                    .insert(i.to_string(), hex::encode(val));
            }
        }
        let want: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_value(e["pcrs"].clone()).unwrap();
        assert_eq!(got, want, "{file}: PCRs");
    }
}

#[test]
fn keylime_bogus_and_empty_event_logs_are_rejected_with_a_parse_error() {
    for f in [
        "keylime__binary_bios_measurements-bogus",
        "keylime__binary_bios_measurements-empty",
    ] {
        let bytes = v(&format!("tpm/eventlogs/{f}"));
        let e = EventLog::parse(&bytes).unwrap_err();
        assert!(!e.to_string().is_empty(), "{f}");
    }
}

#[test]
fn every_truncation_of_a_real_event_log_fails_or_loses_events() {
    let bytes = v("tpm/eventlogs/tpm2-tools__event-sd-boot-fedora37.bin");
    let full = EventLog::parse(&bytes).unwrap().events.len();
    for n in 0..bytes.len() {
        if let Ok(l) = EventLog::parse(&bytes[..n]) {
            assert!(l.events.len() < full, "len {n}");
        }
    }
}

#[test]
fn ccel_logs_replay_to_expected_rtmrs() {
    let exp = expected("ccel");
    for (file, e) in exp.as_object().unwrap() {
        let bytes = v(&format!("tpm/ccel/{file}"));
        assert_eq!(bytes.len() as u64, e["size"].as_u64().unwrap());
        let log = EventLog::parse(&bytes).unwrap();
        assert!(looks_like_ccel(&log), "{file}");
        assert_eq!(
            log.consumed as u64,
            e["consumed"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            log.events.len() as u64,
            e["events_incl_specid"].as_u64().unwrap(),
            "{file}"
        );
        let r = replay_ccel(&log).unwrap();
        let got: Vec<String> = r.rtmrs.iter().map(hex::encode).collect();
        let want: Vec<String> = serde_json::from_value(e["expected_rtmr0_3"].clone()).unwrap();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn tpm_event_logs_are_not_taken_for_ccel() {
    let bytes = v("tpm/eventlogs/go-tpm-tools__rhel8-uefi.bin");
    assert!(!looks_like_ccel(&EventLog::parse(&bytes).unwrap()));
}

fn ek_ca_store() -> (EkCaStore, usize) {
    let dir = locate().unwrap().join("tpm/ek-ca");
    let mut store = EkCaStore::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        store
            .add(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        files += 1;
    }
    (store, files)
}

#[test]
fn all_51_vendor_ek_cas_load() {
    let (store, files) = ek_ca_store();
    assert_eq!(files, 51);
    assert_eq!(store.len(), 51);
    for c in store.certificates() {
        c.public_key().unwrap();
    }
}

#[test]
fn seven_nuvoton_and_ntc_cas_have_non_canonical_names_kept_as_received() {
    use der::Encode;
    let dir = locate().unwrap().join("tpm/ek-ca");
    let mut reencoded_differently = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let ours = read_certificates(&bytes).unwrap();
        assert_eq!(ours.len(), 1);
        let strict = shomei_core::x509::parse_certificates(&bytes).unwrap();
        let names = &strict[0].decoded().tbs_certificate;
        if names.subject.to_der().unwrap() != ours[0].subject_der()
            || names.issuer.to_der().unwrap() != ours[0].issuer_der()
        {
            reencoded_differently.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    reencoded_differently.sort();
    assert_eq!(reencoded_differently.len(), 7, "{reencoded_differently:?}");
    assert!(
        reencoded_differently
            .iter()
            .all(|f| f.starts_with("NUVO") || f.starts_with("NTC")),
        "{reencoded_differently:?}"
    );
}

#[test]
fn two_vendor_ek_cas_have_expired_by_2026() {
    let (store, _) = ek_ca_store();
    let at = UnixTime(1_767_225_600); // 2026-01-01
    let expired = store
        .certificates()
        .iter()
        .filter(|c| c.not_after() < at)
        .count();
    assert_eq!(expired, 2);
}

/// A time inside the swtpm EK certificate's validity (it was made when the vectors were).
fn swtpm_time() -> UnixTime {
    let c = read_certificates(&v("tpm/swtpm/out/ek_rsa_cert.der")).unwrap();
    UnixTime(c[0].not_before().0 + 3600)
}

fn swtpm_localca() -> EkCaStore {
    let mut s = EkCaStore::new();
    s.add(&v("tpm/swtpm/localca/swtpm-localca-rootca-cert.pem"))
        .unwrap();
    s
}

#[test]
fn swtpm_ek_certificates_chain_to_the_local_ca() {
    let store = swtpm_localca();
    let inter = read_certificates(&v("tpm/swtpm/localca/issuercert.pem")).unwrap();
    let at = swtpm_time();
    for f in ["ek_rsa_cert.der", "ek_ecc_cert.der"] {
        let ek = store
            .verify(&v(&format!("tpm/swtpm/out/{f}")), &inter, at)
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(ek.chain().len(), 3, "{f}");
    }
    // The RSA EK certificate certifies the EK public area tpm2_createek wrote.
    let ek = store
        .verify(&v("tpm/swtpm/out/ek_rsa_cert.der"), &inter, at)
        .unwrap();
    let ek_pub = AttestationKey::from_tpm2b_public(&v("tpm/swtpm/out/ek.pub")).unwrap();
    ek.certifies(&ek_pub).unwrap();
    let ak = AttestationKey::from_any(&v("tpm/swtpm/out/ak.pub")).unwrap();
    assert_eq!(check_of(ek.certifies(&ak).unwrap_err()), "ek_key");
}

#[test]
fn swtpm_ek_certificate_does_not_chain_to_vendor_cas_or_without_its_intermediate() {
    let (vendors, _) = ek_ca_store();
    let inter = read_certificates(&v("tpm/swtpm/localca/issuercert.pem")).unwrap();
    let at = swtpm_time();
    let e = vendors
        .verify(&v("tpm/swtpm/out/ek_rsa_cert.der"), &inter, at)
        .unwrap_err();
    assert_eq!(check_of(e), "ek_chain_issuer");
    let e = swtpm_localca()
        .verify(&v("tpm/swtpm/out/ek_rsa_cert.der"), &[], at)
        .unwrap_err();
    assert_eq!(check_of(e), "ek_chain_issuer");
}

#[test]
fn swtpm_ek_certificate_is_not_valid_before_its_issuance() {
    let inter = read_certificates(&v("tpm/swtpm/localca/issuercert.pem")).unwrap();
    let e = swtpm_localca()
        .verify(
            &v("tpm/swtpm/out/ek_rsa_cert.der"),
            &inter,
            UnixTime(1_000_000_000),
        )
        .unwrap_err();
    assert_eq!(check_of(e), "ek_chain_validity");
}

#[test]
fn swtpm_cred_blob_has_tpm2_tools_layout_and_ours_matches_it() {
    let theirs =
        shomei_tpm::credential::Credential::from_tpm2_tools_blob(&v("tpm/swtpm/out/cred.blob"))
            .unwrap();
    assert_eq!(theirs.id_object.len(), 68);
    assert_eq!(theirs.encrypted_secret.len(), 256);
    let ek = v("tpm/swtpm/out/ek.pub");
    let ek = shomei_tpm::Public::parse_tpm2b(&ek).unwrap();
    let name = v("tpm/swtpm/out/ak.name");
    let ours = shomei_tpm::credential::make_credential(&ek, &name, &v("tpm/swtpm/out/secret.bin"))
        .unwrap();
    assert_eq!(ours.id_object.len(), theirs.id_object.len());
    assert_eq!(ours.encrypted_secret.len(), theirs.encrypted_secret.len());
    let blob = ours.to_tpm2_tools_blob().unwrap();
    assert_eq!(blob.len(), v("tpm/swtpm/out/cred.blob").len());
    assert_eq!(
        shomei_tpm::credential::Credential::from_tpm2_tools_blob(&blob).unwrap(),
        ours
    );
}

#[test]
fn grub_and_shim_records_re_hash_and_only_known_odd_records_warn() {
    use shomei_tpm::eventlog::{EV_EFI_VARIABLE_AUTHORITY, Warning};
    // GRUB's commands (digest over the text after "grub_cmd: ") and shim's PCR 14 records
    // raise no warning.
    for f in [
        "go-tpm-tools__cos-101-amd-sev.bin",
        "go-tpm-tools__rhel8-uefi.bin",
        "go-tpm-tools__arch-linux-workstation.bin",
    ] {
        let bytes = v(&format!("tpm/eventlogs/{f}"));
        let r = EventLog::parse(&bytes).unwrap().replay();
        assert!(r.warnings.is_empty(), "{f}: {:?}", r.warnings);
    }
    // Debian 10's shim measures its EV_EFI_VARIABLE_AUTHORITY with the known off-by-one
    // (go-attestation issue 157): a warning, and the replay still matches expected.json.
    let bytes = v("tpm/eventlogs/go-tpm-tools__debian-10.bin");
    let r = EventLog::parse(&bytes).unwrap().replay();
    assert!(
        matches!(
            r.warnings.as_slice(),
            [Warning::DigestMismatch {
                pcr: 7,
                event_type: EV_EFI_VARIABLE_AUTHORITY,
                ..
            }]
        ),
        "{:?}",
        r.warnings
    );
}
