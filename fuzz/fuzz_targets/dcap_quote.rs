//! `Quote::parse` (DCAP v3/v4/v5) on arbitrary bytes. When it parses: the view is of exactly the
//! input; the signed region is the header, \[v5 descriptor\] and body, of the length the version
//! and body type fix; every part lies inside the input; padding is zero and cutting it off
//! parses to the same quote; the claims serialize.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_dcap::Quote;
use shomei_dcap::claims::{EnclaveClaims, TdClaims};
use shomei_dcap::quote::BodyRef;

fn inside(data: &[u8], part: &[u8]) -> bool {
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let p = part.as_ptr() as usize;
    part.is_empty() || (p >= start && p + part.len() <= end)
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = Quote::parse(data) else {
        return;
    };
    assert_eq!(q.bytes(), data, "a parsed quote is a view of its input");
    let signed = q.signed_bytes();
    assert_eq!(signed, &data[..signed.len()]);
    let expected = match (q.version(), q.body()) {
        (3 | 4, BodyRef::Sgx(_)) => 48 + 384,
        (4, BodyRef::Td10(_)) => 48 + 584,
        (5, BodyRef::Sgx(_)) => 48 + 6 + 384,
        (5, BodyRef::Td10(_)) => 48 + 6 + 584,
        (5, BodyRef::Td15(_)) => 48 + 6 + 648,
        (v, _) => panic!("version {v} with an unexpected body"),
    };
    assert_eq!(signed.len(), expected);
    for part in [
        &q.signature()[..],
        &q.attestation_key()[..],
        q.qe_report_bytes(),
        &q.qe_report_signature()[..],
        q.qe_auth_data(),
        q.certification_data().data,
    ] {
        assert!(inside(data, part));
    }
    assert_eq!(q.qe_report_bytes().len(), 384);
    let pad = q.padding();
    assert!(data[data.len() - pad..].iter().all(|b| *b == 0));
    let trimmed = Quote::parse(&data[..data.len() - pad]).expect("cutting the padding parses");
    assert_eq!(trimmed.padding(), 0);
    assert_eq!(trimmed.signed_bytes(), signed);

    let owned = q.body().to_owned();
    assert_eq!(owned.tee(), q.tee());
    if let Some(td) = TdClaims::new(&owned) {
        serde_json::to_string(&td).expect("TD claims serialize");
    }
    if let Some(sgx) = owned.sgx() {
        serde_json::to_string(&EnclaveClaims::new(sgx)).expect("enclave claims serialize");
    }
    serde_json::to_string(&EnclaveClaims::new(q.qe_report())).expect("QE claims serialize");
});
