//! A report and a VEK certificate through `shomei_snp::verify`: the first 1184 bytes of the
//! input are the report, the rest is the certificate (DER). Seeded with real report ‖ VEK pairs
//! (fuzz/seed), so the fuzzer starts from inputs that verify and mutates both halves. Must never
//! panic; when it verifies, the verdict must be about exactly these bytes and this certificate.
//!
//! Verified at a fixed time (2025-06-15, inside the Milan VCEK and VLEK windows) and at the VEK's
//! own notBefore, so that certificates issued later (the Turin v5 VCEK: 2026-08-17) also reach
//! the report signature, TCB and hwID checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_core::UnixTime;
use shomei_core::x509::Certificate;
use shomei_snp::{Collateral, REPORT_LEN, VekInfo, VerifyOptions, verify};

const AT: UnixTime = UnixTime(1_750_000_000);

fuzz_target!(|data: &[u8]| {
    let Some((report, der)) = data.split_at_checked(REPORT_LEN) else {
        return;
    };
    let Ok(cert) = Certificate::from_der(der) else {
        return;
    };
    let _ = VekInfo::from_certificate(&cert);
    let collateral = Collateral::new().with_certificate(cert.clone());
    for at in [AT, cert.not_before()] {
        if let Ok(verified) = verify(report, &collateral, &VerifyOptions::at(at)) {
            assert_eq!(verified.report().bytes(), report);
            assert_eq!(verified.signer().vek_sha256, cert.sha256());
            assert_eq!(verified.verified_at(), at);
            let (from, until) = (
                verified.signer().chain_valid_from,
                verified.signer().chain_valid_until,
            );
            assert!(from <= at.secs() && at.secs() <= until);
        }
    }
});
