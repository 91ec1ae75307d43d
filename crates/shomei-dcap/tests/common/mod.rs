//! The real DCAP vectors and how to load their collateral.

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use shomei_core::UnixTime;
use shomei_dcap::{Collateral, PcsFiles, TrustAnchor};

pub fn read(rel: &str) -> Vec<u8> {
    shomei_core::vectors::read(rel).unwrap_or_else(|e| panic!("{e}"))
}

pub fn qvl_collateral(rel: &str) -> Collateral {
    Collateral::from_dcap_qvl_json(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// dcap-rs-tdx: PCS bodies, DER CRLs, the TCB Signing chain and the quote's own PCK chain.
pub fn dcap_rs_collateral() -> Collateral {
    let d = "dcap/dcap-rs-tdx/";
    let tcb = read(&format!("{d}tcbinfov3_00806f050000.json"));
    let qe = read(&format!("{d}qeidentityv2_apiv4.json"));
    let pck_crl = read(&format!("{d}pck_platform_crl.der"));
    let root_crl = read(&format!("{d}intel_root_ca_crl.der"));
    let chain = read(&format!("{d}tcb_signing_cert.pem"));
    let pck_chain = read(&format!("{d}pck_certchain.pem"));
    Collateral::from_pcs(&PcsFiles {
        tcb_info: &tcb,
        qe_identity: &qe,
        pck_crl: &pck_crl,
        root_ca_crl: &root_crl,
        tcb_info_issuer_chain: &chain,
        qe_identity_issuer_chain: None,
        pck_crl_issuer_chain: Some(&pck_chain),
        pck_cert_chain: None,
    })
    .unwrap_or_else(|e| panic!("dcap-rs-tdx: {e}"))
}

/// Intel's QVL sample: cert type 1, so the PCK certificate is supplied.
pub fn intel_sample_collateral() -> Collateral {
    let d = "dcap/intel-qvl-sample-sgx/";
    let tcb = read(&format!("{d}tcbInfo.json"));
    let qe = read(&format!("{d}qeIdentity.json"));
    let pck_crl = read(&format!("{d}intermediateCaCrl.der"));
    let root_crl = read(&format!("{d}rootCaCrl.der"));
    let chain = read(&format!("{d}tcbSignChain.pem"));
    let pck_sign = read(&format!("{d}pckSignChain.pem"));
    let mut pck = read(&format!("{d}pckCert.pem"));
    pck.extend_from_slice(&pck_sign);
    Collateral::from_pcs(&PcsFiles {
        tcb_info: &tcb,
        qe_identity: &qe,
        pck_crl: &pck_crl,
        root_ca_crl: &root_crl,
        tcb_info_issuer_chain: &chain,
        qe_identity_issuer_chain: None,
        pck_crl_issuer_chain: Some(&pck_sign),
        pck_cert_chain: Some(&pck),
    })
    .unwrap_or_else(|e| panic!("intel sample: {e}"))
}

pub fn intel_sample_root() -> TrustAnchor {
    TrustAnchor::from_der_or_pem(&read("dcap/intel-qvl-sample-sgx/trustedRootCaCert.pem"))
        .unwrap_or_else(|e| panic!("{e}"))
}

pub const SGX_AT: UnixTime = UnixTime(1_751_328_000); // 2025-07-01
pub const TDX_AT: UnixTime = UnixTime(1_751_328_000);
pub const TDX_OUTDATED_AT: UnixTime = UnixTime(1_772_323_200); // 2026-03-01
pub const SAMPLE_AT: UnixTime = UnixTime(1_704_067_200); // 2024-01-01
pub const DCAP_RS_AT: UnixTime = UnixTime(1_740_787_200); // 2025-03-01
