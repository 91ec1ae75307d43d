//! Local attestation end to end on emulated CPUs: the seed's flow, every refusal the issue
//! lists (MITM key substitution, a REPORT from another CPU, tampered msg2/msg3, wrong identity,
//! replayed channel messages, state-machine misuse), for LAv1 and LAv2.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::cmac;
use shomei_sgx::*;

const VERSIONS: [LaVersion; 2] = [LaVersion::V1, LaVersion::V2];

struct World {
    cpu: SgxCpu,
    a: Enclave, // responder / verifier
    b: Enclave, // initiator / prover
}

fn launch(cpu: &SgxCpu, code: &[u8], key: TestIsv, prod: u16, svn: u16) -> Enclave {
    let img = demo_image(code).unwrap();
    let sig = SigningKey::test_isv(key)
        .unwrap()
        .sign(&SigStructFields::new(img.mr_enclave(), prod, svn))
        .unwrap();
    cpu.launch(&img, &sig, &LaunchOptions::from_sigstruct(&sig))
        .unwrap()
}

fn world() -> World {
    let cpu = SgxCpu::boot().unwrap();
    let a = launch(&cpu, b"enclave A: the verifier", TestIsv::One, 1, 3);
    let b = launch(&cpu, b"enclave B: the prover", TestIsv::One, 2, 1);
    World { cpu, a, b }
}

fn policy_for_b(w: &World) -> IdentityPolicy {
    IdentityPolicy::default()
        .mr_enclave(w.b.mr_enclave())
        .mr_signer(w.b.mr_signer())
        .isv_prod_id(2)
        .min_isv_svn(1)
}

fn policy_for_a(w: &World) -> IdentityPolicy {
    IdentityPolicy::default()
        .mr_signer(w.a.mr_signer())
        .isv_prod_id(1)
        .min_isv_svn(3)
}

fn check_of(e: &Error) -> &'static str {
    match e {
        Error::Rejected(r) => r.check(),
        Error::Parse(_) => "parse",
        other => panic!("not a rejection: {other}"),
    }
}

#[test]
fn two_enclaves_on_one_cpu_attest_each_other_and_exchange_a_secret() {
    let w = world();
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        assert_eq!(msg1.len(), 576);
        let (i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1).unwrap();
        assert_eq!(msg2.len(), 512);
        let (mut at_a, msg3) = r.finish_with(&msg2, b"props").unwrap();
        assert_eq!(msg3.len(), 452 + 5);
        let mut at_b = i.finish(&msg3).unwrap();

        assert_eq!(at_a.peer.version(), v);
        assert_eq!(at_a.peer.report_body().mr_enclave(), w.b.mr_enclave());
        assert_eq!(at_b.peer.report_body().mr_enclave(), w.a.mr_enclave());
        assert_eq!(at_b.peer.additional_prop(), b"props");
        assert_eq!(at_a.channel.session_id(), at_b.channel.session_id());

        let sealed = at_a.channel.seal(b"4-digit secret: 1234").unwrap();
        assert!(!sealed.windows(4).any(|x| x == b"1234"));
        assert_eq!(at_b.channel.open(&sealed).unwrap(), b"4-digit secret: 1234");
        let reply = at_b.channel.seal(b"ack").unwrap();
        assert_eq!(at_a.channel.open(&reply).unwrap(), b"ack");
    }
}

#[test]
fn replayed_channel_message_is_refused_end_to_end() {
    let w = world();
    let (mut at_a, mut at_b) = attest_in_process(
        &w.a,
        policy_for_b(&w),
        &w.b,
        policy_for_a(&w),
        LaVersion::V2,
    )
    .unwrap();
    let m = at_b.channel.seal(b"transfer 100").unwrap();
    assert_eq!(at_a.channel.open(&m).unwrap(), b"transfer 100");
    let e = at_a.channel.open(&m).unwrap_err();
    assert_eq!(e.check(), "channel_replay");
    // A message of another session (same enclaves, new handshake) does not open either.
    let (mut at_a2, _) = attest_in_process(
        &w.a,
        policy_for_b(&w),
        &w.b,
        policy_for_a(&w),
        LaVersion::V2,
    )
    .unwrap();
    assert!(matches!(
        at_a2.channel.open(&m).unwrap_err().check(),
        "channel_session" | "channel_auth"
    ));
}

#[test]
fn identities_are_filled_as_the_sdk_fills_them() {
    let w = world();
    for v in VERSIONS {
        let (at_a, at_b) =
            attest_in_process(&w.a, policy_for_b(&w), &w.b, policy_for_a(&w), v).unwrap();
        // Responder side: only ISVSVN, ISVPRODID, ATTRIBUTES, MRSIGNER and MRENCLAVE.
        let id = at_a.peer.identity();
        assert_eq!(id.mr_enclave(), w.b.mr_enclave());
        assert_eq!(id.mr_signer(), w.b.mr_signer());
        assert_eq!((id.isv_prod_id(), id.isv_svn()), (2, 1));
        assert_eq!(id.attributes(), w.b.attributes());
        assert_eq!(id.cpu_svn(), [0; 16]);
        assert_eq!(id.misc_select(), 0);
        // Initiator side: the first 260 bytes of the responder's REPORT body.
        let id = at_b.peer.identity();
        assert_eq!(&id.0[..], &at_b.peer.report_body().as_bytes()[..260]);
        assert_eq!(id.cpu_svn(), w.cpu.cpusvn().0);
        assert_eq!(id.mr_enclave(), w.a.mr_enclave());
    }
}

// ---- man in the middle -----------------------------------------------------------------------

fn sdk_kdf(shared_le: &[u8], label: &[u8]) -> [u8; 16] {
    let zero = cmac::Key::new(cmac::AES_128, &[0; 16]).unwrap();
    let kdk = cmac::sign(&zero, shared_le).unwrap();
    let kdk = cmac::Key::new(cmac::AES_128, kdk.as_ref()).unwrap();
    let mut buf = vec![1u8];
    buf.extend_from_slice(label);
    buf.extend_from_slice(&[0, 0x80, 0]);
    cmac::sign(&kdk, &buf).unwrap().as_ref().try_into().unwrap()
}

/// An attacker's own P-256 key, written with aws-lc-rs directly (no library code).
struct Attacker {
    key: agreement::PrivateKey,
    public_le: [u8; 64],
}

impl Attacker {
    fn new() -> Self {
        let key = agreement::PrivateKey::generate(&ECDH_P256).unwrap();
        let sec1 = key.compute_public_key().unwrap();
        let sec1 = sec1.as_ref();
        let mut public_le = [0u8; 64];
        public_le[..32].copy_from_slice(&sec1[1..33]);
        public_le[32..].copy_from_slice(&sec1[33..65]);
        public_le[..32].reverse();
        public_le[32..].reverse();
        Self { key, public_le }
    }

    fn smk_with(&self, peer_le: &[u8]) -> [u8; 16] {
        let mut sec1 = vec![4u8];
        let mut x = peer_le[..32].to_vec();
        let mut y = peer_le[32..64].to_vec();
        x.reverse();
        y.reverse();
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, &sec1),
            (),
            |s| {
                let mut le = s.to_vec();
                le.reverse();
                Ok(sdk_kdf(&le, b"SMK"))
            },
        )
        .unwrap()
    }
}

fn mac(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let k = cmac::Key::new(cmac::AES_128, key).unwrap();
    let mut c = cmac::Context::with_key(&k);
    for p in parts {
        c.update(p).unwrap();
    }
    c.sign().unwrap().as_ref().try_into().unwrap()
}

#[test]
fn man_in_the_middle_substituting_public_keys_is_refused() {
    let w = world();
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        // Toward B, the attacker replaces g_a with its own g_c.
        let to_b = Attacker::new();
        let mut msg1_b = msg1.clone();
        msg1_b[..64].copy_from_slice(&to_b.public_le);
        let (_i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1_b).unwrap();
        // B's msg2 is MACed with SMK(c, b): the attacker can check and re-MAC everything it
        // knows. Toward A it replaces g_b with its own g_d and re-MACs under SMK(a, d).
        let g_b = &msg2[..64];
        let smk_cb = to_b.smk_with(g_b);
        match v {
            LaVersion::V1 => assert_eq!(&msg2[496..], &mac(&smk_cb, &[&msg2[64..496]])),
            LaVersion::V2 => assert_eq!(&msg2[496..], &mac(&smk_cb, &[g_b])),
        }
        let to_a = Attacker::new();
        let smk_ad = to_a.smk_with(&msg1[..64]);
        let mut forged = msg2.clone();
        forged[..64].copy_from_slice(&to_a.public_le);
        let new_mac = match v {
            LaVersion::V1 => mac(&smk_ad, &[&forged[64..496]]),
            LaVersion::V2 => mac(&smk_ad, &[&to_a.public_le]),
        };
        forged[496..].copy_from_slice(&new_mac);
        let e = r.finish(&forged).unwrap_err();
        // LAv1: report_data = SHA-256(g_c ‖ g_b) does not bind (g_a, g_d). LAv2: the REPORT
        // MAC covers SHA-256(proto_spec ‖ g_b), so rebuilt with g_d it does not verify.
        let want = match v {
            LaVersion::V1 => "report_data",
            LaVersion::V2 => "report_mac",
        };
        assert_eq!(check_of(&e), want, "{v}: {e}");
    }
}

#[test]
fn substituted_g_a_is_refused_by_the_initiator_in_msg3() {
    // The attacker passes msg2 through unchanged but B computed its keys with g_c: A's
    // proc_msg2 already fails (A cannot verify B's CMAC under SMK(a, b) ≠ SMK(c, b)).
    let w = world();
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        let mut msg1_b = msg1.clone();
        msg1_b[..64].copy_from_slice(&Attacker::new().public_le);
        let (_i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1_b).unwrap();
        let e = r.finish(&msg2).unwrap_err();
        // LAv2 checks the REPORT MAC first; it binds g_b, which is genuine, so both versions
        // stop at the CMAC.
        assert_eq!(check_of(&e), "message_mac", "{v}: {e}");
    }
}

// ---- other CPU -------------------------------------------------------------------------------

#[test]
fn report_from_another_emulated_cpu_is_refused() {
    let w = world();
    let other_cpu = SgxCpu::boot().unwrap();
    assert_ne!(other_cpu.report_key_id(), w.cpu.report_key_id());
    // B's twin: the same image and signer, launched on another CPU.
    let b_elsewhere = launch(&other_cpu, b"enclave B: the prover", TestIsv::One, 2, 1);
    assert_eq!(b_elsewhere.mr_enclave(), w.b.mr_enclave());
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        let (_i, msg2) = Initiator::start(&b_elsewhere, policy_for_a(&w), v, &msg1).unwrap();
        let e = r.finish(&msg2).unwrap_err();
        assert_eq!(check_of(&e), "report_mac", "{v}: {e}");
    }
}

#[test]
fn msg3_report_from_another_emulated_cpu_is_refused_by_the_initiator() {
    let w = world();
    let other_cpu = SgxCpu::boot().unwrap();
    let a_elsewhere = launch(&other_cpu, b"enclave A: the verifier", TestIsv::One, 1, 3);
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        let (i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1).unwrap();
        let (_, msg3) = r.finish(&msg2).unwrap();
        // Same body and report_data, made by A's twin on the other CPU for B's target.
        let genuine = Msg3::parse(&msg3).unwrap();
        let own =
            w.b.ereport(&TargetInfo::parse(&[0; 512]).unwrap(), &[0; 64])
                .unwrap();
        let target = TargetInfo::new(
            own.body().mr_enclave(),
            own.body().attributes(),
            own.body().misc_select(),
            own.body().config_id(),
            own.body().config_svn(),
        );
        let forged_report = a_elsewhere
            .ereport(&target, &genuine.report.body().report_data())
            .unwrap();
        let mut forged = msg3.clone();
        forged[16..448].copy_from_slice(forged_report.as_bytes());
        let e = i.finish(&forged).unwrap_err();
        // LAv1 MACs msg3's body (the REPORT included) under the SMK, so the swap fails there
        // first; LAv2 MACs only additional_prop ‖ g_a, so the REPORT MAC is the defence.
        let want = match v {
            LaVersion::V1 => "message_mac",
            LaVersion::V2 => "report_mac",
        };
        assert_eq!(check_of(&e), want, "{v}: {e}");
    }
}

// ---- tampering -------------------------------------------------------------------------------

/// Every single-byte change to msg2 is refused (parse error or rejection), for both versions.
#[test]
fn every_byte_of_msg2_is_protected() {
    let w = world();
    for v in VERSIONS {
        let (_, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        let (_, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for at in 0..msg2.len() {
            // A fresh responder per try: after an error the session is gone.
            let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
            let (_i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1).unwrap();
            let mut t = msg2.clone();
            t[at] ^= 0x01;
            let e = r.finish(&t).unwrap_err();
            seen.insert(check_of(&e));
        }
        // LAv1 MACs the whole REPORT under the SMK, so that check comes first; LAv2 MACs only
        // g_b and leaves the REPORT to its own MAC.
        let want: &[&str] = match v {
            LaVersion::V1 => &["kdf_id", "message_mac", "parse", "peer_public_key"],
            LaVersion::V2 => &[
                "kdf_id",
                "message_mac",
                "parse",
                "peer_public_key",
                "report_mac",
            ],
        };
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), want, "{v}");
    }
}

/// Every single-byte change to msg3 (with additional properties) is refused.
#[test]
fn every_byte_of_msg3_is_protected() {
    let w = world();
    for v in VERSIONS {
        let mut seen = std::collections::BTreeSet::new();
        for at in 0..(452 + 3) {
            let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
            let (i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &msg1).unwrap();
            let (_, msg3) = r.finish_with(&msg2, b"abc").unwrap();
            let mut t = msg3.clone();
            t[at] ^= 0x01;
            let e = i.finish(&t).unwrap_err();
            seen.insert(check_of(&e));
        }
        assert!(seen.contains("message_mac"), "{v}: {seen:?}");
        assert!(seen.contains("parse"), "{v}: {seen:?}");
    }
}

#[test]
fn tampered_msg1_target_makes_the_report_unverifiable() {
    let w = world();
    for v in VERSIONS {
        let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
        let mut t = msg1.clone();
        t[64] ^= 0x01; // MRENCLAVE in TARGETINFO: B's REPORT is now for another enclave
        let (_i, msg2) = Initiator::start(&w.b, policy_for_a(&w), v, &t).unwrap();
        assert_eq!(check_of(&r.finish(&msg2).unwrap_err()), "report_mac");
    }
}

#[test]
fn lav1_kdf_id_other_than_aes_cmac_is_refused() {
    let w = world();
    let mut resp = DhResponder::new();
    let mut init = DhInitiator::new(LaVersion::V1);
    let msg1 = resp.gen_msg1(&w.a).unwrap();
    let mut msg2 = init.proc_msg1(&w.b, &msg1).unwrap();
    let mut bytes = msg2.to_bytes();
    bytes[64 + 320 + 32] = 2;
    msg2 = Msg2::parse(&bytes).unwrap();
    let e = resp.proc_msg2(&w.a, &msg2, &[]).unwrap_err();
    assert_eq!(check_of(&e), "kdf_id");
    assert_eq!(resp.state(), DhState::Error);
}

#[test]
fn invalid_public_key_is_refused() {
    let w = world();
    let (r, msg1) = Responder::start(&w.a, policy_for_b(&w)).unwrap();
    let mut bad1 = msg1.clone();
    bad1[..64].copy_from_slice(&[0x42; 64]);
    assert_eq!(
        check_of(&Initiator::start(&w.b, policy_for_a(&w), LaVersion::V2, &bad1).unwrap_err()),
        "peer_public_key"
    );
    let (_i, msg2) = Initiator::start(&w.b, policy_for_a(&w), LaVersion::V2, &msg1).unwrap();
    let mut bad2 = msg2.clone();
    bad2[..64].copy_from_slice(&[0x42; 64]);
    assert_eq!(check_of(&r.finish(&bad2).unwrap_err()), "peer_public_key");
}

// ---- identity policy -------------------------------------------------------------------------

fn responder_verdict(
    w: &World,
    b: &Enclave,
    policy: IdentityPolicy,
    v: LaVersion,
) -> Result<(), Error> {
    let (r, msg1) = Responder::start(&w.a, policy)?;
    let (_i, msg2) = Initiator::start(b, IdentityPolicy::default(), v, &msg1)?;
    r.finish(&msg2).map(|_| ())
}

#[test]
fn wrong_identity_is_refused_by_policy_with_each_check_named() {
    let w = world();
    let other_signer = launch(&w.cpu, b"enclave B: the prover", TestIsv::Two, 2, 1);
    let other_code = launch(&w.cpu, b"enclave B, patched", TestIsv::One, 2, 1);
    let other_product = launch(&w.cpu, b"enclave B: the prover", TestIsv::One, 9, 1);
    let old_svn = launch(&w.cpu, b"enclave B: the prover", TestIsv::One, 2, 0);
    let policy = || {
        IdentityPolicy::default()
            .mr_signer(w.b.mr_signer())
            .isv_prod_id(2)
            .min_isv_svn(1)
    };
    for v in VERSIONS {
        assert!(responder_verdict(&w, &w.b, policy(), v).is_ok());
        let cases: [(&Enclave, IdentityPolicy, &str); 4] = [
            (&other_signer, policy(), "mr_signer"),
            (
                &other_code,
                policy().mr_enclave(w.b.mr_enclave()),
                "mr_enclave",
            ),
            (&other_product, policy(), "isv_prod_id"),
            (&old_svn, policy(), "isv_svn"),
        ];
        for (peer, pol, check) in cases {
            let e = responder_verdict(&w, peer, pol, v).unwrap_err();
            assert_eq!(check_of(&e), check, "{v}: {e}");
        }
    }
}

#[test]
fn debug_enclave_is_refused_unless_allowed() {
    let w = world();
    let img = demo_image(b"debuggable").unwrap();
    let sig = SigningKey::test_isv(TestIsv::One)
        .unwrap()
        .sign(&SigStructFields::new(img.mr_enclave(), 2, 1).allow_debug())
        .unwrap();
    let dbg = w
        .cpu
        .launch(&img, &sig, &LaunchOptions::from_sigstruct(&sig).debug())
        .unwrap();
    assert!(dbg.attributes().is_debug());
    let e = responder_verdict(&w, &dbg, IdentityPolicy::default(), LaVersion::V2).unwrap_err();
    assert_eq!(check_of(&e), "debug");
    assert!(
        responder_verdict(
            &w,
            &dbg,
            IdentityPolicy::default().allow_debug(true),
            LaVersion::V2
        )
        .is_ok()
    );
    // The initiator refuses a debug responder the same way.
    let (r, msg1) = Responder::start(&dbg, IdentityPolicy::default()).unwrap();
    let (i, msg2) =
        Initiator::start(&w.b, IdentityPolicy::default(), LaVersion::V1, &msg1).unwrap();
    let (_, msg3) = r.finish(&msg2).unwrap();
    assert_eq!(check_of(&i.finish(&msg3).unwrap_err()), "debug");
}

fn kss_enclave(
    cpu: &SgxCpu,
    code: &[u8],
    family: [u8; 16],
    ext: [u8; 16],
    config: [u8; 64],
    config_svn: u16,
) -> Enclave {
    let img = demo_image(code).unwrap();
    let sig = SigningKey::test_isv(TestIsv::One)
        .unwrap()
        .sign(&SigStructFields::new(img.mr_enclave(), 2, 1).with_kss(family, ext))
        .unwrap();
    cpu.launch(
        &img,
        &sig,
        &LaunchOptions::from_sigstruct(&sig).config(config, config_svn),
    )
    .unwrap()
}

#[test]
fn kss_fields_are_checked_on_both_sides() {
    let w = world();
    let k = kss_enclave(&w.cpu, b"kss enclave", [1; 16], [2; 16], [7; 64], 4);
    let base = || IdentityPolicy::default();
    for v in VERSIONS {
        let ok = base().config_id([7; 64]).min_config_svn(4);
        let ok = IdentityPolicy {
            isv_family_id: Some([1; 16]),
            isv_ext_prod_id: Some([2; 16]),
            ..ok
        };
        assert!(responder_verdict(&w, &k, ok, v).is_ok());
        for (pol, check) in [
            (base().config_id([8; 64]), "config_id"),
            (base().min_config_svn(5), "config_svn"),
            (
                IdentityPolicy {
                    isv_family_id: Some([9; 16]),
                    ..base()
                },
                "isv_family_id",
            ),
            (
                IdentityPolicy {
                    isv_ext_prod_id: Some([9; 16]),
                    ..base()
                },
                "isv_ext_prod_id",
            ),
        ] {
            assert_eq!(
                check_of(&responder_verdict(&w, &k, pol, v).unwrap_err()),
                check
            );
        }
        // A non-KSS enclave never satisfies a KSS requirement, even with zero values.
        let zero = IdentityPolicy {
            isv_family_id: Some([0; 16]),
            ..base()
        };
        assert_eq!(
            check_of(&responder_verdict(&w, &w.b, zero, v).unwrap_err()),
            "isv_family_id"
        );
    }
}

/// The seed's mutual-verification idea: B's signer writes A's MRENCLAVE into B's ISVFAMILYID ‖
/// ISVEXTPRODID (signed, but outside B's MRENCLAVE), so B can check A's MRENCLAVE while A
/// checks B's MRENCLAVE directly.
#[test]
fn mutual_mrenclave_verification_through_kss() {
    let w = world();
    let a_mr = w.a.mr_enclave().0;
    let mut family = [0u8; 16];
    let mut ext = [0u8; 16];
    family.copy_from_slice(&a_mr[..16]);
    ext.copy_from_slice(&a_mr[16..]);
    let b = kss_enclave(&w.cpu, b"enclave B: the prover", family, ext, [0; 64], 0);
    // B's KSS fields did not change its MRENCLAVE.
    assert_eq!(b.mr_enclave(), w.b.mr_enclave());
    let expected_a =
        IdentityPolicy::peer_mr_enclave_from_own_kss(b.isv_family_id(), b.isv_ext_prod_id())
            .unwrap();
    assert_eq!(expected_a, w.a.mr_enclave());
    let (at_a, at_b) = attest_in_process(
        &w.a,
        IdentityPolicy::default().mr_enclave(b.mr_enclave()),
        &b,
        IdentityPolicy::default().mr_enclave(expected_a),
        LaVersion::V2,
    )
    .unwrap();
    assert_eq!(at_a.peer.report_body().mr_enclave(), b.mr_enclave());
    assert_eq!(at_b.peer.report_body().mr_enclave(), w.a.mr_enclave());
    // A different responder is refused by B on the same grounds.
    let impostor = launch(&w.cpu, b"not A", TestIsv::One, 1, 3);
    let e = attest_in_process(
        &impostor,
        IdentityPolicy::default(),
        &b,
        IdentityPolicy::default().mr_enclave(expected_a),
        LaVersion::V2,
    )
    .unwrap_err();
    assert_eq!(check_of(&e), "mr_enclave");
}

#[test]
fn a_config_id_is_admitted_once() {
    let w = world();
    let k = kss_enclave(&w.cpu, b"worker", [0; 16], [0; 16], [0x33; 64], 1);
    let mut seen = SeenConfigIds::new();
    for round in 0..2 {
        let (at_a, _) = attest_in_process(
            &w.a,
            IdentityPolicy::default(),
            &k,
            IdentityPolicy::default(),
            LaVersion::V2,
        )
        .unwrap();
        let r = seen.admit(&at_a.peer);
        assert_eq!(r.is_ok(), round == 0);
        if let Err(v) = r {
            assert_eq!(v.check, "config_id_reuse");
        }
    }
}

// ---- state machines --------------------------------------------------------------------------

fn assert_invalid_state(r: Result<impl std::fmt::Debug, Error>, op: &str) {
    match r {
        Err(Error::InvalidState { operation, .. }) => assert_eq!(operation, op),
        other => panic!("{op}: expected InvalidState, got {other:?}"),
    }
}

#[test]
fn responder_misuse_is_refused_and_zeroises_the_session() {
    let w = world();
    let mut init = DhInitiator::new(LaVersion::V2);
    let mut donor = DhResponder::new();
    let msg1 = donor.gen_msg1(&w.a).unwrap();
    let msg2 = init.proc_msg1(&w.b, &msg1).unwrap();

    // proc_msg2 before gen_msg1.
    let mut r = DhResponder::new();
    assert_eq!(r.state(), DhState::Reset);
    assert_invalid_state(r.proc_msg2(&w.a, &msg2, &[]), "proc_msg2");
    assert_eq!(r.state(), DhState::Error);
    assert_invalid_state(r.gen_msg1(&w.a), "gen_msg1");

    // gen_msg1 twice.
    let mut r = DhResponder::new();
    r.gen_msg1(&w.a).unwrap();
    assert_eq!(r.state(), DhState::ResponderWaitM2);
    assert_invalid_state(r.gen_msg1(&w.a), "gen_msg1");
    assert_eq!(r.state(), DhState::Error);
    // ...after which even the right call fails: the key pair is gone.
    assert_invalid_state(r.proc_msg2(&w.a, &msg2, &[]), "proc_msg2");

    // proc_msg2 twice.
    let (mut r, mut i) = (DhResponder::new(), DhInitiator::new(LaVersion::V1));
    let m1 = r.gen_msg1(&w.a).unwrap();
    let m2 = i.proc_msg1(&w.b, &m1).unwrap();
    r.proc_msg2(&w.a, &m2, &[]).unwrap();
    assert_eq!(r.state(), DhState::Active);
    assert_invalid_state(r.proc_msg2(&w.a, &m2, &[]), "proc_msg2");
    assert_eq!(r.state(), DhState::Error);

    // A failed proc_msg2 leaves ERROR: retrying with the genuine msg2 is refused.
    let (mut r, mut i) = (DhResponder::new(), DhInitiator::new(LaVersion::V1));
    let m1 = r.gen_msg1(&w.a).unwrap();
    let m2 = i.proc_msg1(&w.b, &m1).unwrap();
    let mut bad = m2.clone();
    bad.cmac[0] ^= 1;
    assert!(r.proc_msg2(&w.a, &bad, &[]).is_err());
    assert_eq!(r.state(), DhState::Error);
    assert_invalid_state(r.proc_msg2(&w.a, &m2, &[]), "proc_msg2");
}

#[test]
fn initiator_misuse_is_refused_and_zeroises_the_session() {
    let w = world();
    let full = || {
        let (mut r, mut i) = (DhResponder::new(), DhInitiator::new(LaVersion::V2));
        let m1 = r.gen_msg1(&w.a).unwrap();
        let m2 = i.proc_msg1(&w.b, &m1).unwrap();
        let (m3, _) = r.proc_msg2(&w.a, &m2, &[]).unwrap();
        (m1, i, m3)
    };
    let (m1, _, m3) = full();

    // proc_msg3 before proc_msg1.
    let mut i = DhInitiator::new(LaVersion::V2);
    assert_eq!(i.state(), DhState::InitiatorWaitM1);
    assert_invalid_state(i.proc_msg3(&w.b, &m3), "proc_msg3");
    assert_eq!(i.state(), DhState::Error);
    assert_invalid_state(i.proc_msg1(&w.b, &m1), "proc_msg1");

    // proc_msg1 twice.
    let mut i = DhInitiator::new(LaVersion::V2);
    i.proc_msg1(&w.b, &m1).unwrap();
    assert_eq!(i.state(), DhState::InitiatorWaitM3);
    assert_invalid_state(i.proc_msg1(&w.b, &m1), "proc_msg1");
    assert_eq!(i.state(), DhState::Error);

    // proc_msg3 twice.
    let (_, mut i, m3) = full();
    i.proc_msg3(&w.b, &m3).unwrap();
    assert_eq!(i.state(), DhState::Active);
    assert_invalid_state(i.proc_msg3(&w.b, &m3), "proc_msg3");
    assert_eq!(i.state(), DhState::Error);

    // A failed proc_msg3 leaves ERROR: retrying with the genuine msg3 is refused.
    let (_, mut i, m3) = full();
    let mut bad = m3.clone();
    bad.cmac[0] ^= 1;
    assert!(i.proc_msg3(&w.b, &bad).is_err());
    assert_eq!(i.state(), DhState::Error);
    assert_invalid_state(i.proc_msg3(&w.b, &m3), "proc_msg3");
}

#[test]
fn an_initiator_speaking_v1_cannot_accept_a_v2_msg3() {
    // The responder answers in the version it detected; a msg3 of the other version fails.
    let w = world();
    let (mut r, mut i1, mut i2) = (
        DhResponder::new(),
        DhInitiator::new(LaVersion::V1),
        DhInitiator::new(LaVersion::V2),
    );
    let m1 = r.gen_msg1(&w.a).unwrap();
    let _ = i1.proc_msg1(&w.b, &m1).unwrap();
    let m2_v2 = i2.proc_msg1(&w.b, &m1).unwrap();
    let (m3_v2, _) = r.proc_msg2(&w.a, &m2_v2, &[]).unwrap();
    assert!(i1.proc_msg3(&w.b, &m3_v2).is_err());
}
