//! Known-answer tests that need fixed ephemeral keys (crate-private constructors), and the
//! EREPORT MAC recomputed from the SDK's `dd_report_key_t` layout written out by hand.

use aws_lc_rs::cmac as lc_cmac;

use crate::cpu::CpuConfig;
use crate::dh::{DhInitiator, DhResponder, LAV2_PROTO_SPEC, make_target_info};
use crate::*;

// Reference notes sgx-dcap.md §2: responder priv 0x11×32, initiator priv 0x22×32.
const GA: &str = "edd48202b8e566df6c6ddf2b152c4f3aa2699e99968f27283944b6f017e6170294576e30657c89f252965958c75ff4565a76a85aa83cda2d2d7197cbeb7d4a19";
const GB: &str = "f39c58483add05d5eaba04735760165f469ea757ff5218081b3daa7c97935ad68512c9e9fc33c5c307d55bf05567dbfd73e45775133aea2162df7253895e1850";
const SMK: &str = "9b67748dace0005ee7d341adf2b22c39";
const AEK: &str = "3497e2156021c3c525b7c83e873c13ad";
const V1_M2_RD: &str = "70e0a5a8004d507e3d62d76a6b7022274d009d7f42a0f88ea6d1cbbc3f85131a";
const V1_M3_RD: &str = "4f86cb059d53a0cf5ab389c8f8e8c8496f913c955e97fc3e123faaa3798e4c18";
const PROTO_SPEC: &str = "534758204c410200000605040403400141100201060c00";
const V2_M2_EREPORT_DATA: &str = "90437969e97b74028e193707592f57df5eb742ef2ff1c3b0e81750bda3b59b99";
const V2_M2_CMAC: &str = "029c1f1e4ba19d4a203095ab4b74b6f6";
const V2_M3_RD: &str = "7b1eace86a081aed4c408e7a493a424aa118d5a33745830317b1360bddd3c773";
const V2_M3_CMAC: &str = "2e105ed0951586edd1aa16e05795e6e5";

fn cmac_ref(key_hex: &str, data: &[u8]) -> [u8; 16] {
    let key = lc_cmac::Key::new(lc_cmac::AES_128, &hex::decode(key_hex).unwrap()).unwrap();
    lc_cmac::sign(&key, data)
        .unwrap()
        .as_ref()
        .try_into()
        .unwrap()
}

fn padded(hex32: &str, tail: &[u8]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    let h = hex::decode(hex32).unwrap();
    rd[..32].copy_from_slice(&h);
    rd[32..32 + tail.len()].copy_from_slice(tail);
    rd
}

fn cpu(seed: u8) -> SgxCpu {
    SgxCpu::from_config(&CpuConfig {
        fused_secret: [seed; 16],
        owner_epoch: *b"THISISOWNEREPOCH",
        cpusvn: CpuSvn::SDK_DEFAULT,
        report_key_id: [seed ^ 0x5a; 32],
    })
    .unwrap()
}

fn enclave(cpu: &SgxCpu, code: &[u8], prod: u16) -> Enclave {
    let img = demo_image(code).unwrap();
    let key = SigningKey::test_isv(TestIsv::One).unwrap();
    let sig = key
        .sign(&SigStructFields::new(img.mr_enclave(), prod, 1))
        .unwrap();
    cpu.launch(&img, &sig, &LaunchOptions::from_sigstruct(&sig))
        .unwrap()
}

#[test]
fn proto_spec_constant_is_the_reference_value() {
    let mut want = hex::decode(PROTO_SPEC).unwrap();
    want.resize(64, 0);
    assert_eq!(LAV2_PROTO_SPEC.to_vec(), want);
}

#[test]
fn lav1_known_answer() {
    let c = cpu(1);
    let (a, b) = (enclave(&c, b"responder", 1), enclave(&c, b"initiator", 2));
    let mut resp = DhResponder::with_fixed_key([0x11; 32]);
    let mut init = DhInitiator::with_fixed_key(LaVersion::V1, [0x22; 32]);

    let msg1 = resp.gen_msg1(&a).unwrap();
    assert_eq!(hex::encode(msg1.g_a.0), GA);
    let msg2 = init.proc_msg1(&b, &msg1).unwrap();
    assert_eq!(hex::encode(msg2.g_b.0), GB);
    assert_eq!(
        msg2.report.body().report_data(),
        padded(V1_M2_RD, &[0x01, 0x00])
    );
    // msg2.cmac = CMAC_SMK(REPORT, 432 bytes), computed here with the reference SMK.
    assert_eq!(msg2.cmac, cmac_ref(SMK, msg2.report.as_bytes()));

    let (msg3, at_resp) = resp.proc_msg2(&a, &msg2, b"").unwrap();
    assert_eq!(msg3.report.body().report_data(), padded(V1_M3_RD, &[]));
    let mut body = msg3.report.as_bytes().to_vec();
    body.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(msg3.cmac, cmac_ref(SMK, &body));
    let at_init = init.proc_msg3(&b, &msg3).unwrap();
    assert_eq!(hex::encode(at_resp.aek.expose()), AEK);
    assert_eq!(hex::encode(at_init.aek.expose()), AEK);
    assert_eq!(at_resp.peer.version(), LaVersion::V1);
}

#[test]
fn lav2_known_answer() {
    let c = cpu(2);
    let (a, b) = (enclave(&c, b"responder", 1), enclave(&c, b"initiator", 2));
    let mut resp = DhResponder::with_fixed_key([0x11; 32]);
    let mut init = DhInitiator::with_fixed_key(LaVersion::V2, [0x22; 32]);

    let msg1 = resp.gen_msg1(&a).unwrap();
    let msg2 = init.proc_msg1(&b, &msg1).unwrap();
    // The sent report_data is the proto_spec; the MAC covers SHA-256(proto_spec ‖ g_b).
    assert_eq!(msg2.report.body().report_data(), LAV2_PROTO_SPEC);
    assert_eq!(hex::encode(msg2.cmac), V2_M2_CMAC);
    let mut as_made = msg2.report;
    as_made.raw_mut().body.report_data = padded(V2_M2_EREPORT_DATA, &[]);
    assert!(a.verify_report(&as_made).unwrap());
    assert!(!a.verify_report(&msg2.report).unwrap());

    let (msg3, at_resp) = resp.proc_msg2(&a, &msg2, b"").unwrap();
    assert_eq!(msg3.report.body().report_data(), padded(V2_M3_RD, &[]));
    assert_eq!(hex::encode(msg3.cmac), V2_M3_CMAC);
    let at_init = init.proc_msg3(&b, &msg3).unwrap();
    assert_eq!(hex::encode(at_resp.aek.expose()), AEK);
    assert_eq!(hex::encode(at_init.aek.expose()), AEK);
    assert_eq!(at_resp.peer.version(), LaVersion::V2);
}

/// EREPORT's MAC, recomputed: report key = CMAC(base report key, dd_report_key_t) with the
/// 192-byte layout of the reference notes (§1.1) filled from the *target's* TARGETINFO, then
/// CMAC(report key, body[0..384]).
#[test]
fn ereport_mac_uses_the_targets_report_key_with_the_sdk_layout() {
    let c = cpu(3);
    let (a, b) = (enclave(&c, b"target", 1), enclave(&c, b"reporter", 2));
    let own = a
        .ereport(&TargetInfo::parse(&[0; 512]).unwrap(), &[0; 64])
        .unwrap();
    let target = make_target_info(&LAV2_PROTO_SPEC, &own).unwrap();
    let report = b.ereport(&target, &[0xAB; 64]).unwrap();

    let base = cmac_ref(&hex::encode([3u8; 16]), b"shomei-sgx-emu base key\x03\x00");
    let mut dd = [0u8; 192];
    dd[0..2].copy_from_slice(&3u16.to_le_bytes());
    dd[8..24].copy_from_slice(&a.attributes().to_bytes());
    dd[24..28].copy_from_slice(&a.misc_select().to_le_bytes());
    dd[28..44].copy_from_slice(b"THISISOWNEREPOCH");
    dd[44..76].copy_from_slice(&a.mr_enclave().0);
    dd[76..92].copy_from_slice(&CpuSvn::SDK_DEFAULT.0);
    dd[92..94].copy_from_slice(&a.config_svn().to_le_bytes());
    dd[94..158].copy_from_slice(&a.config_id());
    dd[158..190].copy_from_slice(&[3 ^ 0x5a; 32]);
    let report_key = cmac_ref(&hex::encode(base), &dd);
    assert_eq!(
        report.mac(),
        cmac_ref(&hex::encode(report_key), &report.as_bytes()[..384])
    );
    // The KEYID is this boot's, not derived from a base key.
    assert_eq!(report.key_id(), [3 ^ 0x5a; 32]);
    // The body is the reporter's SECS.
    let body = report.body();
    assert_eq!(body.mr_enclave(), b.mr_enclave());
    assert_eq!(body.mr_signer(), b.mr_signer());
    assert_eq!(body.isv_prod_id(), 2);
    assert!(body.attributes().has(Attributes::INITTED));
    assert_eq!(body.report_data(), [0xAB; 64]);
    assert_eq!(body.cpu_svn(), CpuSvn::SDK_DEFAULT);
    // Only the target can verify it.
    assert!(a.verify_report(&report).unwrap());
    assert!(!b.verify_report(&report).unwrap());
}

#[test]
fn lav2_target_info_copies_the_six_fields_from_the_report() {
    let c = cpu(4);
    let img = demo_image(b"kss").unwrap();
    let key = SigningKey::test_isv(TestIsv::One).unwrap();
    let sig = key
        .sign(&SigStructFields::new(img.mr_enclave(), 1, 1).with_kss([1; 16], [2; 16]))
        .unwrap();
    let e = c
        .launch(
            &img,
            &sig,
            &LaunchOptions::from_sigstruct(&sig).config([0xC0; 64], 9),
        )
        .unwrap();
    let mut r = e
        .ereport(&TargetInfo::parse(&[0; 512]).unwrap(), &[0; 64])
        .unwrap();
    r.raw_mut().body.cet_attributes = 0x5;
    r.raw_mut().body.misc_select = 0x1234_5678.into();
    let ti = make_target_info(&LAV2_PROTO_SPEC, &r).unwrap();
    assert_eq!(ti.mr_enclave(), e.mr_enclave());
    assert_eq!(ti.attributes(), e.attributes());
    assert_eq!(ti.cet_attributes(), 5);
    assert_eq!(ti.config_svn(), 9);
    assert_eq!(ti.misc_select(), 0x1234_5678);
    assert_eq!(ti.config_id(), [0xC0; 64]);
    assert!(ti.as_bytes()[128..].iter().all(|b| *b == 0));
    assert_eq!(ti.as_bytes()[49], 0);
    assert_eq!(&ti.as_bytes()[56..64], &[0; 8]);
}

#[test]
fn make_target_info_refuses_malformed_proto_specs() {
    let c = cpu(5);
    let e = enclave(&c, b"x", 1);
    let r = e
        .ereport(&TargetInfo::parse(&[0; 512]).unwrap(), &[0; 64])
        .unwrap();
    let with = |f: &dyn Fn(&mut [u8; 64])| {
        let mut ps = LAV2_PROTO_SPEC;
        f(&mut ps);
        make_target_info(&ps, &r)
    };
    assert!(with(&|ps| ps[6] = 3).is_err()); // version
    assert!(with(&|ps| ps[7] = 1).is_err()); // revision
    assert!(with(&|ps| ps[8] = 1).is_err()); // target_spec[0] low byte
    assert!(with(&|ps| ps[9] = 28).is_err()); // count
    assert!(with(&|ps| ps[9] = 27).is_ok()); // 27 entries: the extra ones are 1-byte copies of REPORT[0]
    // An entry reading past the 432-byte REPORT: 16 bytes from offset 424.
    assert!(
        with(&|ps| {
            ps[9] = 7;
            ps[22..24].copy_from_slice(&((424u16 << 4) | 4).to_le_bytes());
        })
        .is_err()
    );
    // ... but reading the KEYID (offset 384, 32 bytes) is allowed, as in the SDK.
    assert!(
        with(&|ps| {
            ps[9] = 7;
            ps[22..24].copy_from_slice(&((384u16 << 4) | 5).to_le_bytes());
        })
        .is_ok()
    );
    // An entry writing past the 512-byte TARGETINFO.
    assert!(
        with(&|ps| {
            ps[9] = 7;
            ps[22..24].copy_from_slice(&0x0009u16.to_le_bytes()); // 512 bytes at offset 512
        })
        .is_err()
    );
    // Source -1 leaves zero; -2 is refused.
    let ti = with(&|ps| ps[10..12].copy_from_slice(&0xFFF5u16.to_le_bytes())).unwrap();
    assert_eq!(ti.mr_enclave().0, [0; 32]);
    assert!(with(&|ps| ps[10..12].copy_from_slice(&0xFFE5u16.to_le_bytes())).is_err());
}
