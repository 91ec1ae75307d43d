//! Azure HCL reports and CVM evidence documents (trustee's JSON shapes, the composite format) on
//! arbitrary bytes: parsing never panics, and a parsed HCL report's parts lie inside its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_cvm::{CvmEvidence, HclReport};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = HclReport::parse(data) {
        let _ = format!("{h:?}");
    }
    let _ = CvmEvidence::from_json(data);
});
