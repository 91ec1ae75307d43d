//! The statement on real SEV-SNP reports (Milan v2, Turin v5) with their real VCEKs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use shomei_core::x509::{Certificate, PublicKey};
use shomei_zk::statement::{PublicInputs, ZkPolicy, synthesize};

fn vek_of(vector: &str) -> [u8; 96] {
    let der = shomei_core::vectors::read(&format!("snp/{vector}/vcek.der")).unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let PublicKey::EcP384(sec1) = cert.public_key().unwrap() else {
        panic!("not P-384")
    };
    assert_eq!(sec1.len(), 97);
    sec1[1..].try_into().unwrap()
}

/// The public inputs a relying party would use: its nonce binding (here the report's own
/// REPORT_DATA), the report's TCB, and a policy the report satisfies.
fn conforming(report: &[u8], vek: [u8; 96]) -> PublicInputs {
    PublicInputs {
        vek,
        report_data: report[0x50..0x90].try_into().unwrap(),
        reported_tcb: report[0x180..0x188].try_into().unwrap(),
        policy: ZkPolicy {
            measurements: vec![[0xAA; 48], report[0x90..0xC0].try_into().unwrap()],
            min_tcb: report[0x180..0x188].try_into().unwrap(),
            vmpl: 0,
        },
    }
}

fn satisfied(report: &[u8], public: &PublicInputs) -> bool {
    let k = 20;
    let mut builder = BaseCircuitBuilder::<Fr>::new(false)
        .use_k(k)
        .use_lookup_bits(k - 1)
        .use_instance_columns(1);
    let range = builder.range_chip();
    let cells = synthesize(&range, builder.main(0), report, public).unwrap();
    builder.assigned_instances = vec![cells];
    builder.calculate_params(Some(20));
    let instances = public.instances().unwrap();
    MockProver::run(20, &builder, vec![instances])
        .unwrap()
        .verify()
        .is_ok()
}

fn check(vector: &str) {
    let report = shomei_core::vectors::read(&format!("snp/{vector}/report.bin")).unwrap();
    let vek = vek_of(vector);
    let public = conforming(&report, vek);
    assert!(
        satisfied(&report, &public),
        "{vector}: genuine report under a policy it meets"
    );
    // A policy it does not meet: a newer minimum microcode (byte 7) than the report's.
    let mut stricter = public.clone();
    stricter.policy.min_tcb[7] = report[0x187].saturating_add(1);
    assert!(
        !satisfied(&report, &stricter),
        "{vector}: TCB below the policy's minimum"
    );
    // Another nonce.
    let mut other_nonce = public.clone();
    other_nonce.report_data[0] ^= 0xFF;
    assert!(!satisfied(&report, &other_nonce), "{vector}: other nonce");
}

#[test]
#[ignore = "three mock proofs of the full statement (~1 min in release): cargo test -p shomei-zk --release -- --ignored"]
fn turin_v5_report_satisfies_the_statement_with_its_vcek() {
    check("turin-v5");
}

#[test]
#[ignore = "three mock proofs of the full statement (~1 min in release): cargo test -p shomei-zk --release -- --ignored"]
fn milan_v2_report_satisfies_the_statement_with_its_vcek() {
    check("milan-v2");
}
