//! The DCAP collateral readers on arbitrary bytes; the first byte picks the reader: 0 a PCS TCB
//! Info body (then `TcbInfo::from_json` on its signed span), 1 a PCS QE Identity body (then
//! `QeIdentity::from_json`), 2 dcap-qvl's collateral JSON, 3 a PCK certificate's SGX extension.
//! None may panic; a signed span is always a sub-slice of the input, as received.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_dcap::{Collateral, PckExtensions, QeIdentity, SignedJson, TcbInfo};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Ok(s) = SignedJson::tcb_info_from_pcs(rest) {
                assert!(contains(rest, s.raw()), "the signed span is the bytes received");
                if let Ok(t) = TcbInfo::from_json(s.raw()) {
                    assert!(!t.tcb_levels.is_empty());
                    assert!(matches!(t.version, 2 | 3));
                }
            }
        }
        1 => {
            if let Ok(s) = SignedJson::qe_identity_from_pcs(rest) {
                assert!(contains(rest, s.raw()), "the signed span is the bytes received");
                let _ = QeIdentity::from_json(s.raw());
            }
        }
        2 => {
            let _ = Collateral::from_dcap_qvl_json(rest);
        }
        _ => {
            let _ = PckExtensions::from_der(rest);
        }
    }
});
