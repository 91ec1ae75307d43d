//! Certificate and CRL input as users supply it: a PEM bundle or one DER certificate
//! (`x509::parse_certificates`), and a CRL in DER or PEM (`Crl::from_der_or_pem`). Every
//! accessor the verifier uses runs on whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_core::x509::{Crl, parse_certificates};
use shomei_snp::VekInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = parse_certificates(data) {
        assert!(!certs.is_empty());
        for c in &certs {
            let _ = c.subject_cn();
            let _ = c.issuer_cn();
            let _ = c.subject_der();
            let _ = c.issuer_der();
            let _ = (c.not_before(), c.not_after(), c.serial(), c.tbs_bytes());
            let _ = c.signature_algorithm();
            if let Ok(key) = c.public_key() {
                // Self-signed check: exercises signature decoding for every key type.
                let _ = c.verify_signed_by(&key);
            }
            let _ = VekInfo::from_certificate(c);
        }
    }
    if let Ok(crl) = Crl::from_der_or_pem(data) {
        let _ = (crl.issuer_der(), crl.this_update(), crl.next_update());
        let _ = crl.is_revoked(&[0]);
    }
});
