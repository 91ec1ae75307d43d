//! The GHCB extended-report certificate table: `certtable::parse`, then `to_collateral`. When it
//! parses, re-encoding the entries and parsing again gives the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_snp::certtable;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = certtable::parse(data) else {
        return;
    };
    assert!(entries.len() <= certtable::MAX_ENTRIES);
    let _ = certtable::to_collateral(&entries);

    let pairs: Vec<([u8; 16], &[u8])> = entries.iter().map(|e| (e.guid, e.data)).collect();
    let encoded = certtable::encode(&pairs);
    let reparsed = certtable::parse(&encoded).expect("an encoded table parses");
    assert_eq!(reparsed, entries);
});
