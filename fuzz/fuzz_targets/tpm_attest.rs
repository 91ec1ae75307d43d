//! TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC and AK loading on arbitrary bytes. A parsed
//! TPMS_ATTEST is a view of exactly its input; a parsed TPMT_SIGNATURE encodes back to its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_tpm::{Attest, AttestationKey, Public, Signature};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Attest::parse(data) {
        assert_eq!(a.raw, data, "a parsed TPMS_ATTEST is a view of its input");
        let _ = a.attested;
    }
    if let Ok(s) = Signature::parse(data) {
        assert_eq!(s.to_bytes(), data, "TPMT_SIGNATURE round-trips");
    }
    if let Ok(p) = Public::parse_tpm2b(data) {
        assert_eq!(p.name().len(), 2 + p.name_alg.len());
    }
    let _ = AttestationKey::from_any(data);
    let _ = shomei_tpm::credential::Credential::from_tpm2_tools_blob(data);
});
