//! Evidence for the verifier's tests: the real vectors and the emulated platforms.

#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, LazyLock};

use shomei_core::UnixTime;
use shomei_core::x509::parse_certificates;
use shomei_snp::{Product, Tcb, certtable};
use shomei_snp_emu::{EmulatedChip, ReportRequest, RootOptions, TestRoot};
use shomei_verifier::{
    Anchors, Appraisal, AppraisalContext, DcapEvidence, Evidence, NonceBinding, Policies,
    SnpEvidence, appraise,
};

pub fn read(rel: &str) -> Vec<u8> {
    shomei_core::vectors::read(rel).unwrap_or_else(|e| panic!("{e}"))
}

pub fn t(s: &str) -> UnixTime {
    s.parse().unwrap()
}

/// A real SNP report with its VEK certificate files.
pub fn snp_vector(report: &str, certs: &[&str]) -> Evidence {
    let mut collateral = shomei_snp::Collateral::new();
    for f in certs {
        collateral
            .certificates
            .extend(parse_certificates(&read(f)).unwrap());
    }
    Evidence::Snp(SnpEvidence {
        report: read(report),
        collateral,
        product: None,
    })
}

pub fn milan_v2() -> Evidence {
    snp_vector("snp/milan-v2/report.bin", &["snp/milan-v2/vcek.der"])
}

pub const MILAN_AT: &str = "2025-06-01T00:00:00Z";

/// dcap-qvl's vectors and the time they verify at (2025-07-01).
pub fn dcap_vector(name: &str) -> Evidence {
    let collateral = shomei_dcap::Collateral::from_dcap_qvl_json(&read(&format!(
        "dcap/dcap-qvl/{name}_collateral.json"
    )))
    .unwrap();
    Evidence::Dcap(Box::new(DcapEvidence {
        quote: read(&format!("dcap/dcap-qvl/{name}")),
        collateral,
    }))
}

pub const DCAP_AT: UnixTime = UnixTime::from_secs(1_751_328_000);

/// Appraises with the given policies, anchors and nonce binding.
pub fn run(
    e: &Evidence,
    at: UnixTime,
    policies: &Policies,
    anchors: &Anchors,
    nonce: Option<&NonceBinding>,
) -> Appraisal {
    appraise(
        e,
        &AppraisalContext {
            at,
            nonce,
            policies,
            anchors,
        },
    )
    .unwrap_or_else(|e| panic!("expected an appraisal, got the error {e}"))
}

// ------------------------------------------------------------------ the emulated SNP platform

pub const EMU_AT: UnixTime = UnixTime::from_secs(1_750_000_000);

pub fn milan_root() -> Arc<TestRoot> {
    static ROOT: LazyLock<Arc<TestRoot>> = LazyLock::new(|| {
        Arc::new(TestRoot::generate(Product::Milan, RootOptions::default()).unwrap())
    });
    ROOT.clone()
}

pub fn milan_chip() -> Arc<EmulatedChip> {
    Arc::new(EmulatedChip::new(
        milan_root(),
        [5; 32],
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        },
    ))
}

/// The test root as the operator's SNP anchor.
pub fn snp_test_anchors() -> Anchors {
    Anchors {
        snp: Some(milan_root().anchors().unwrap()),
        ..Anchors::default()
    }
}

/// An emulated guest launched with `policy`, its measurement, and an extended report carrying
/// `report_data`, as evidence.
pub fn emulated_snp(policy: u64, report_data: [u8; 64]) -> ([u8; 48], Evidence) {
    let guest = milan_chip()
        .launch_start(policy)
        .finish([3; 32], None)
        .unwrap();
    let (report, table) = guest
        .extended_report(&ReportRequest::new(report_data))
        .unwrap();
    let collateral = certtable::to_collateral(&certtable::parse(&table).unwrap()).unwrap();
    (
        guest.measurement,
        Evidence::Snp(SnpEvidence {
            report: report.to_vec(),
            collateral,
            product: None,
        }),
    )
}
