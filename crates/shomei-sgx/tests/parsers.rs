//! Property tests for the message parsers: arbitrary bytes never panic, a parsed message
//! re-encodes to exactly its input, every truncation fails, and a length-prefixed field never
//! claims more than the input holds.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use shomei_sgx::{KeyRequest, Msg1, Msg2, Msg3, Report, SecureChannel, Side, TargetInfo};

/// Bytes shaped like a message: reserved ranges zero, everything else arbitrary.
fn report_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 432).prop_map(|mut b| {
        for r in [21..32, 96..128, 160..192, 262..304] {
            b[r].fill(0);
        }
        b
    })
}

fn target_info_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 512).prop_map(|mut b| {
        b[49] = 0;
        b[56..64].fill(0);
        b[128..].fill(0);
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = Msg1::parse(&b);
        let _ = Msg2::parse(&b);
        let _ = Msg3::parse(&b);
        let _ = Report::parse(&b);
        let _ = TargetInfo::parse(&b);
        let _ = KeyRequest::parse(&b);
        let _ = shomei_sgx::SigStruct::parse(&b);
    }

    #[test]
    fn msg1_round_trips(g in proptest::collection::vec(any::<u8>(), 64), ti in target_info_bytes()) {
        let mut b = g.clone();
        b.extend_from_slice(&ti);
        let m = Msg1::parse(&b).unwrap();
        prop_assert_eq!(&m.g_a.0[..], &g[..]);
        prop_assert_eq!(m.to_bytes(), b.clone());
        for cut in [0, 1, 63, 64, 575] {
            prop_assert!(Msg1::parse(&b[..cut]).is_err());
        }
        b.push(0);
        prop_assert!(Msg1::parse(&b).is_err());
    }

    #[test]
    fn msg2_round_trips(g in proptest::collection::vec(any::<u8>(), 64), r in report_bytes(),
                        mac in proptest::collection::vec(any::<u8>(), 16)) {
        let mut b = g.clone();
        b.extend_from_slice(&r);
        b.extend_from_slice(&mac);
        let m = Msg2::parse(&b).unwrap();
        prop_assert_eq!(m.report.as_bytes(), &r[..]);
        prop_assert_eq!(m.to_bytes(), b.clone());
        for cut in [0usize, 64, 100, 496, 511] {
            prop_assert!(Msg2::parse(&b[..cut]).is_err());
        }
    }

    #[test]
    fn msg3_round_trips(mac in proptest::collection::vec(any::<u8>(), 16), r in report_bytes(),
                        prop in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = mac.clone();
        b.extend_from_slice(&r);
        b.extend_from_slice(&u32::try_from(prop.len()).unwrap().to_le_bytes());
        b.extend_from_slice(&prop);
        let m = Msg3::parse(&b).unwrap();
        prop_assert_eq!(&m.additional_prop, &prop);
        prop_assert_eq!(m.to_bytes().unwrap(), b.clone());
        for cut in 0..b.len() {
            prop_assert!(Msg3::parse(&b[..cut]).is_err());
        }
        b.push(0);
        prop_assert!(Msg3::parse(&b).is_err());
    }

    #[test]
    fn msg3_length_never_exceeds_the_input(len in any::<u32>(), extra in 0usize..64) {
        let mut b = vec![0u8; 448];
        b.extend_from_slice(&len.to_le_bytes());
        b.extend(std::iter::repeat_n(0u8, extra));
        let ok = Msg3::parse(&b).is_ok();
        prop_assert_eq!(ok, usize::try_from(len).unwrap() == extra);
    }

    #[test]
    fn reserved_bytes_in_a_report_are_refused(at in prop_oneof![21usize..32, 96usize..128, 160usize..192, 262usize..304],
                                              v in 1u8..=255) {
        let mut b = vec![0u8; 432];
        b[at] = v;
        let e = Report::parse(&b).unwrap_err();
        prop_assert_eq!(e.offset, at);
    }

    #[test]
    fn channel_messages_never_panic_and_garbage_never_opens(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut ch = SecureChannel::new(key(), 1, Side::Responder).unwrap();
        prop_assert!(ch.open(&b).is_err());
    }
}

fn key() -> &'static shomei_sgx::Key128 {
    static KEY: std::sync::OnceLock<shomei_sgx::Key128> = std::sync::OnceLock::new();
    KEY.get_or_init(make_key)
}

fn make_key() -> shomei_sgx::Key128 {
    // Any key will do: an enclave's report key.
    let cpu = shomei_sgx::SgxCpu::boot().unwrap();
    let img = shomei_sgx::demo_image(b"k").unwrap();
    let sig = shomei_sgx::SigningKey::test_isv(shomei_sgx::TestIsv::One)
        .unwrap()
        .sign(&shomei_sgx::SigStructFields::new(img.mr_enclave(), 1, 1))
        .unwrap();
    let e = cpu
        .launch(&img, &sig, &shomei_sgx::LaunchOptions::from_sigstruct(&sig))
        .unwrap();
    e.egetkey(&KeyRequest::report_key([0; 32])).unwrap()
}
