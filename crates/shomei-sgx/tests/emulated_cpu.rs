//! The emulated CPU: EINIT's checks, EGETKEY's policy rules, and the separation between CPUs.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use shomei_sgx::*;

fn signed(
    code: &[u8],
    f: impl FnOnce(SigStructFields) -> SigStructFields,
) -> (EnclaveImage, SigStruct) {
    let img = demo_image(code).unwrap();
    let sig = SigningKey::test_isv(TestIsv::One)
        .unwrap()
        .sign(&f(SigStructFields::new(img.mr_enclave(), 1, 5)))
        .unwrap();
    (img, sig)
}

fn launch_err(
    cpu: &SgxCpu,
    img: &EnclaveImage,
    sig: &SigStruct,
    opts: &LaunchOptions,
) -> LaunchError {
    match cpu.launch(img, sig, opts) {
        Err(Error::Launch(e)) => e,
        other => panic!("expected a launch error, got {other:?}"),
    }
}

#[test]
fn einit_refuses_a_sigstruct_for_another_image_or_a_bad_signature() {
    let cpu = SgxCpu::boot().unwrap();
    let (img, sig) = signed(b"genuine", |f| f);
    let opts = LaunchOptions::from_sigstruct(&sig);
    let e = cpu.launch(&img, &sig, &opts).unwrap();
    assert_eq!(e.mr_enclave(), img.mr_enclave());
    assert_eq!(
        e.mr_signer(),
        SigningKey::test_isv(TestIsv::One).unwrap().mr_signer()
    );
    assert!(e.attributes().has(Attributes::INITTED));

    let other = demo_image(b"patched").unwrap();
    assert!(matches!(
        launch_err(&cpu, &other, &sig, &opts),
        LaunchError::EnclaveHash { .. }
    ));
    // ISVSVN raised in the body without re-signing.
    let mut b = sig.as_bytes().to_vec();
    b[1026] = 9;
    let forged = SigStruct::parse(&b).unwrap();
    assert_eq!(
        launch_err(&cpu, &img, &forged, &opts),
        LaunchError::Signature
    );
    // Q1 changed: the signature still verifies in software, the CPU's check does not.
    let mut b = sig.as_bytes().to_vec();
    b[1040] ^= 1;
    let forged = SigStruct::parse(&b).unwrap();
    assert_eq!(
        launch_err(&cpu, &img, &forged, &opts),
        LaunchError::SignatureQuotients
    );
}

#[test]
fn einit_enforces_the_signed_attributes_and_miscselect() {
    let cpu = SgxCpu::boot().unwrap();
    let (img, sig) = signed(b"release only", |f| f);
    let opts = LaunchOptions::from_sigstruct(&sig);
    assert!(matches!(
        launch_err(&cpu, &img, &sig, &opts.clone().debug()),
        LaunchError::Attributes { .. }
    ));
    let mut misc = opts.clone();
    misc.misc_select = 1;
    assert!(matches!(
        launch_err(&cpu, &img, &sig, &misc),
        LaunchError::MiscSelect { .. }
    ));
    // ECREATE: INITTED and undefined flags cannot be requested; XFRM needs x87|SSE; KSS
    // configuration needs ATTRIBUTES.KSS.
    let mut initted = opts.clone();
    initted.attributes.flags |= Attributes::INITTED;
    assert!(matches!(
        launch_err(&cpu, &img, &sig, &initted),
        LaunchError::ReservedAttributes { bits: 1 }
    ));
    let mut xfrm = opts.clone();
    xfrm.attributes.xfrm = 0x1;
    assert!(matches!(
        launch_err(&cpu, &img, &sig, &xfrm),
        LaunchError::Xfrm { .. }
    ));
    assert_eq!(
        launch_err(&cpu, &img, &sig, &opts.config([1; 64], 0)),
        LaunchError::KssDisabled
    );
}

#[test]
fn kss_values_reach_the_secs_only_with_kss() {
    let cpu = SgxCpu::boot().unwrap();
    let (img, sig) = signed(b"kss", |f| f.with_kss([3; 16], [4; 16]));
    let e = cpu
        .launch(
            &img,
            &sig,
            &LaunchOptions::from_sigstruct(&sig).config([5; 64], 6),
        )
        .unwrap();
    assert_eq!(
        (
            e.isv_family_id(),
            e.isv_ext_prod_id(),
            e.config_id(),
            e.config_svn()
        ),
        ([3; 16], [4; 16], [5; 64], 6)
    );
    // KSS fields do not enter MRENCLAVE.
    let (img2, _) = signed(b"kss", |f| f);
    assert_eq!(img.mr_enclave(), img2.mr_enclave());
}

fn enclave(cpu: &SgxCpu, code: &[u8], key: TestIsv, svn: u16, kss: bool) -> Enclave {
    let img = demo_image(code).unwrap();
    let mut f = SigStructFields::new(img.mr_enclave(), 1, svn);
    if kss {
        f = f.with_kss([1; 16], [2; 16]);
    }
    f.attributes.flags |= Attributes::PROVISION_KEY * u64::from(code.starts_with(b"prov"));
    let sig = SigningKey::test_isv(key).unwrap().sign(&f).unwrap();
    cpu.launch(&img, &sig, &LaunchOptions::from_sigstruct(&sig))
        .unwrap()
}

fn seal(policy: u16, svn: u16, cpusvn: CpuSvn) -> KeyRequest {
    KeyRequest::seal_key(policy, svn, cpusvn, [9; 32])
}

fn egetkey_err(e: &Enclave, kr: &KeyRequest) -> EgetkeyError {
    match e.egetkey(kr) {
        Err(Error::Egetkey(x)) => x,
        other => panic!("expected an EGETKEY error, got {other:?}"),
    }
}

#[test]
fn seal_keys_follow_the_key_policy() {
    let cpu = SgxCpu::boot().unwrap();
    let svn = cpu.cpusvn();
    let a = enclave(&cpu, b"app v1", TestIsv::One, 5, false);
    let a2 = enclave(&cpu, b"app v2", TestIsv::One, 5, false);
    let other_isv = enclave(&cpu, b"app v1", TestIsv::Two, 5, false);
    let key = |e: &Enclave, p: u16| *e.egetkey(&seal(p, 5, svn)).unwrap().expose();
    // MRSIGNER policy: shared by enclaves of one signer (an upgrade can unseal), not others.
    assert_eq!(
        key(&a, key_policy::MRSIGNER),
        key(&a2, key_policy::MRSIGNER)
    );
    assert_ne!(
        key(&a, key_policy::MRSIGNER),
        key(&other_isv, key_policy::MRSIGNER)
    );
    // MRENCLAVE policy: one image only.
    assert_ne!(
        key(&a, key_policy::MRENCLAVE),
        key(&a2, key_policy::MRENCLAVE)
    );
    assert_eq!(
        key(&a, key_policy::MRENCLAVE),
        key(&a, key_policy::MRENCLAVE)
    );
    // Same enclave on another CPU: another key.
    let cpu2 = SgxCpu::boot().unwrap();
    let a_elsewhere = enclave(&cpu2, b"app v1", TestIsv::One, 5, false);
    assert_ne!(
        key(&a, key_policy::MRENCLAVE),
        key(&a_elsewhere, key_policy::MRENCLAVE)
    );
    // Older SVNs may be requested (and give other keys); newer ones may not.
    let older = *a
        .egetkey(&seal(key_policy::MRSIGNER, 4, svn))
        .unwrap()
        .expose();
    assert_ne!(older, key(&a, key_policy::MRSIGNER));
    assert!(matches!(
        egetkey_err(&a, &seal(key_policy::MRSIGNER, 6, svn)),
        EgetkeyError::InvalidIsvSvn {
            what: "ISVSVN",
            requested: 6,
            current: 5
        }
    ));
    let mut newer = svn;
    newer.0[0] = newer.0[0].wrapping_add(1).max(1);
    if newer.0[0] > svn.0[0] {
        assert!(matches!(
            egetkey_err(&a, &seal(key_policy::MRSIGNER, 5, newer)),
            EgetkeyError::InvalidCpuSvn { .. }
        ));
    }
    let zero = *a
        .egetkey(&seal(key_policy::MRSIGNER, 5, CpuSvn::default()))
        .unwrap()
        .expose();
    assert_ne!(zero, key(&a, key_policy::MRSIGNER));
}

#[test]
fn egetkey_faults_and_refusals() {
    let cpu = SgxCpu::boot().unwrap();
    let svn = cpu.cpusvn();
    let plain = enclave(&cpu, b"plain", TestIsv::One, 1, false);
    let kss = enclave(&cpu, b"kss", TestIsv::One, 1, true);
    assert!(matches!(
        egetkey_err(&plain, &seal(0x40, 1, svn)),
        EgetkeyError::Fault(_)
    ));
    for bit in [
        key_policy::NOISVPRODID,
        key_policy::CONFIGID,
        key_policy::ISVFAMILYID,
        key_policy::ISVEXTPRODID,
    ] {
        assert!(matches!(
            egetkey_err(&plain, &seal(key_policy::MRSIGNER | bit, 1, svn)),
            EgetkeyError::Fault(_)
        ));
        // With KSS the bit is allowed and changes the key.
        let with = *kss
            .egetkey(&seal(key_policy::MRSIGNER | bit, 1, svn))
            .unwrap()
            .expose();
        let without = *kss
            .egetkey(&seal(key_policy::MRSIGNER, 1, svn))
            .unwrap()
            .expose();
        assert_ne!(with, without, "bit {bit:#x}");
    }
    let mut kr = seal(key_policy::MRSIGNER, 1, svn);
    kr.key_name = 7;
    assert_eq!(
        egetkey_err(&plain, &kr),
        EgetkeyError::InvalidKeyName { found: 7 }
    );
    kr.key_name = KeyName::Provision.code();
    assert_eq!(
        egetkey_err(&plain, &kr),
        EgetkeyError::InvalidAttribute {
            needed: "PROVISIONKEY"
        }
    );
    kr.key_name = KeyName::EinitToken.code();
    assert_eq!(
        egetkey_err(&plain, &kr),
        EgetkeyError::InvalidAttribute {
            needed: "EINITTOKENKEY"
        }
    );
    let prov = enclave(&cpu, b"provisioning", TestIsv::One, 1, false);
    kr.key_name = KeyName::Provision.code();
    assert!(prov.egetkey(&kr).is_ok());
    let mut cfg = seal(key_policy::MRSIGNER | key_policy::CONFIGID, 1, svn);
    cfg.config_svn = 1;
    assert!(matches!(
        egetkey_err(&kss, &cfg),
        EgetkeyError::InvalidIsvSvn {
            what: "CONFIGSVN",
            ..
        }
    ));
}

#[test]
fn report_key_is_the_callers_own_and_the_key_id_selects_it() {
    let cpu = SgxCpu::boot().unwrap();
    let a = enclave(&cpu, b"a", TestIsv::One, 1, false);
    let b = enclave(&cpu, b"b", TestIsv::One, 1, false);
    let ka = *a
        .egetkey(&KeyRequest::report_key(cpu.report_key_id()))
        .unwrap()
        .expose();
    let kb = *b
        .egetkey(&KeyRequest::report_key(cpu.report_key_id()))
        .unwrap()
        .expose();
    assert_ne!(ka, kb);
    let other_id = *a
        .egetkey(&KeyRequest::report_key([0; 32]))
        .unwrap()
        .expose();
    assert_ne!(ka, other_id);
    // A REPORT whose KEYID was changed no longer verifies.
    let self_target = TargetInfo::new(
        a.mr_enclave(),
        a.attributes(),
        a.misc_select(),
        a.config_id(),
        a.config_svn(),
    );
    let r = b.ereport(&self_target, &[1; 64]).unwrap();
    assert!(a.verify_report(&r).unwrap());
    let mut bytes = r.as_bytes().to_vec();
    bytes[400] ^= 1;
    assert!(!a.verify_report(&Report::parse(&bytes).unwrap()).unwrap());
}

#[test]
fn every_boot_has_its_own_key_id_and_secret() {
    let c1 = SgxCpu::boot().unwrap();
    let c2 = SgxCpu::boot().unwrap();
    assert_ne!(c1.report_key_id(), c2.report_key_id());
    assert_ne!(c1.report_key_id(), [0; 32]);
    let a1 = enclave(&c1, b"a", TestIsv::One, 1, false);
    let b1 = enclave(&c1, b"b", TestIsv::One, 1, false);
    let a2 = enclave(&c2, b"a", TestIsv::One, 1, false);
    let target = TargetInfo::new(a1.mr_enclave(), a1.attributes(), 0, [0; 64], 0);
    let r = b1.ereport(&target, &[0; 64]).unwrap();
    assert!(a1.verify_report(&r).unwrap());
    assert!(!a2.verify_report(&r).unwrap());
}
