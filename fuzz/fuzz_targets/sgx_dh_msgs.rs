//! The sgx_dh message parsers (msg1, msg2, msg3), REPORT, TARGETINFO, KEYREQUEST and SIGSTRUCT
//! on arbitrary bytes, and the same bytes fitted to each message's length so the field checks
//! are reached without seeds. When a parse succeeds it re-encodes to exactly its input. A
//! responder and an initiator on an emulated CPU never accept a fuzzed msg2/msg3, and the
//! channel never opens a fuzzed message.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shomei_sgx::{
    DhInitiator, DhResponder, Enclave, KeyRequest, LaVersion, LaunchOptions, Msg1, Msg2, Msg3,
    Report, SecureChannel, SgxCpu, SigStruct, SigStructFields, SigningKey, Side, TargetInfo,
    TestIsv, demo_image,
};

struct World {
    a: Enclave,
    b: Enclave,
    key: shomei_sgx::Key128,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let cpu = SgxCpu::boot().expect("boot");
        let isv = SigningKey::test_isv(TestIsv::One).expect("test key");
        let launch = |code: &[u8]| {
            let img = demo_image(code).expect("image");
            let sig = isv
                .sign(&SigStructFields::new(img.mr_enclave(), 1, 1))
                .expect("sign");
            cpu.launch(&img, &sig, &LaunchOptions::from_sigstruct(&sig))
                .expect("launch")
        };
        let a = launch(b"fuzz responder");
        let b = launch(b"fuzz initiator");
        let key = a
            .egetkey(&KeyRequest::report_key([0; 32]))
            .expect("a key");
        World { a, b, key }
    })
}

fn parse_all(data: &[u8]) {
    if let Ok(m) = Msg1::parse(data) {
        assert_eq!(m.to_bytes(), data);
    }
    if let Ok(m) = Msg2::parse(data) {
        assert_eq!(m.to_bytes(), data);
        let w = world();
        let mut r = DhResponder::new();
        r.gen_msg1(&w.a).expect("msg1");
        assert!(r.proc_msg2(&w.a, &m, &[]).is_err(), "a fuzzed msg2 was accepted");
    }
    if let Ok(m) = Msg3::parse(data) {
        assert_eq!(m.to_bytes().expect("encodes"), data);
        let w = world();
        let mut r = DhResponder::new();
        let mut i = DhInitiator::new(if data.len() % 2 == 0 { LaVersion::V1 } else { LaVersion::V2 });
        let msg1 = r.gen_msg1(&w.a).expect("msg1");
        i.proc_msg1(&w.b, &msg1).expect("msg2");
        assert!(i.proc_msg3(&w.b, &m).is_err(), "a fuzzed msg3 was accepted");
    }
    if let Ok(r) = Report::parse(data) {
        assert_eq!(r.as_bytes(), data);
        let _ = world().a.verify_report(&r);
    }
    if let Ok(t) = TargetInfo::parse(data) {
        assert_eq!(t.as_bytes(), data);
    }
    if let Ok(k) = KeyRequest::parse(data) {
        assert_eq!(&k.to_bytes()[..], data);
        let _ = world().a.egetkey(&k);
    }
    if let Ok(s) = SigStruct::parse(data) {
        assert_eq!(s.as_bytes(), data);
        let _ = s.verify();
    }
    let mut ch = SecureChannel::new(&world().key, 1, Side::Responder).expect("channel");
    assert!(ch.open(data).is_err(), "a fuzzed channel message opened");
}

fuzz_target!(|data: &[u8]| {
    parse_all(data);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let len = match selector % 6 {
        0 => 576,
        1 => 512,
        2 => 432,
        3 => 1808,
        4 => 452,
        _ => 452 + usize::from(selector / 6 % 32),
    };
    let mut fitted = rest.to_vec();
    fitted.resize(len, 0);
    if selector % 6 >= 4 {
        // A msg3 whose length field matches its tail.
        let n = u32::try_from(len - 452).expect("small");
        fitted[448..452].copy_from_slice(&n.to_le_bytes());
    }
    parse_all(&fitted);
});
