//! `Report::parse` on arbitrary bytes. When it parses: the view is of exactly the input (the
//! parse is a pure function of the bytes), and every claim decodes and serializes, with no
//! product and with each product's TCB layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_snp::claims::ReportClaims;
use shomei_snp::{Product, Report};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = Report::parse(data) else {
        return;
    };
    assert_eq!(
        report.bytes(),
        data,
        "a parsed report is a view of its input"
    );
    assert_eq!(report.signed_bytes(), &data[..0x2A0]);

    let json = serde_json::to_string(&ReportClaims::new(&report, None)).expect("claims serialize");
    // Parsing the same bytes again gives the same claims.
    let again = Report::parse(data).expect("a second parse of the same bytes succeeds");
    let json_again =
        serde_json::to_string(&ReportClaims::new(&again, None)).expect("claims serialize");
    assert_eq!(json, json_again);

    for product in Product::ALL {
        let claims = ReportClaims::new(&report, Some((product, "caller")));
        serde_json::to_string(&claims).expect("claims serialize");
    }
    let _ = report.signature_fixed();
    let _ = report.is_provisional_firmware();
});
