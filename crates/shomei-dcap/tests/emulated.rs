//! The verifier against the emulated platform (`shomei-dcap-emu`): a test PKI with Intel's
//! profile, so that every check can be driven to each outcome — one synthetic case per check,
//! TCB-level matching, the TDX module identity, the QE identity and Intel's status
//! convergence, TD 1.5 relaunch, revocation, and the RTMR/CCEL emulation.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use shomei_core::UnixTime;
use shomei_dcap::quote::SgxReportBody;
use shomei_dcap::{
    Collateral, Error, TcbStatus, Tee, TrustAnchor, VerifiedQuote, VerifyOptions, verify,
};
use shomei_dcap_emu::{AT, CertData, EmulatedPlatform, PkiOptions, QuoteBody, Td, replay_ccel};
use zerocopy::FromZeros;

fn td() -> Td {
    let mut td = Td::new(b"emulated TD image");
    td.extend(0, 0x8000_0001, b"firmware volume").unwrap();
    td.extend(1, 0x8000_0002, b"kernel").unwrap();
    td.extend(2, 0x8000_0003, b"initrd").unwrap();
    td
}

fn run(p: &EmulatedPlatform, quote: &[u8]) -> Result<VerifiedQuote, Error> {
    run_with(p, quote, &p.collateral().unwrap(), AT)
}

fn run_with(
    p: &EmulatedPlatform,
    quote: &[u8],
    c: &Collateral,
    at: UnixTime,
) -> Result<VerifiedQuote, Error> {
    let anchor = p.anchor().unwrap();
    verify(quote, c, &VerifyOptions::at(at).with_anchor(&anchor))
}

fn ok(r: Result<VerifiedQuote, Error>) -> VerifiedQuote {
    r.unwrap_or_else(|e| panic!("expected a verdict: {e}"))
}

fn check(r: Result<VerifiedQuote, Error>) -> &'static str {
    match r {
        Err(Error::Rejected(x)) => x.check(),
        Err(e) => panic!("expected a rejection, got the error {e}"),
        Ok(v) => panic!("expected a rejection, got {}", v.status()),
    }
}

fn tdx_quote(p: &EmulatedPlatform, td: &Td) -> Vec<u8> {
    p.quote(4, &QuoteBody::Td10(td.report([7; 64]))).unwrap()
}

#[test]
fn an_emulated_tdx_quote_verifies_under_its_test_root_only() {
    let p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    let v = ok(run(&p, &q));
    assert_eq!(v.status(), TcbStatus::UpToDate);
    assert_eq!(v.tee(), Tee::Tdx);
    assert!(v.advisory_ids().is_empty());
    assert!(!v.anchor_is_intel());
    // The verifier's default anchor is Intel's: the test root is not trusted.
    let c = p.collateral().unwrap();
    assert_eq!(
        check(verify(&q, &c, &VerifyOptions::at(AT))),
        "root_of_trust"
    );
    // Nor is another test root.
    let other = EmulatedPlatform::tdx().unwrap().anchor().unwrap();
    let r = verify(&q, &c, &VerifyOptions::at(AT).with_anchor(&other));
    assert_eq!(check(r), "root_of_trust");
}

#[test]
fn every_quote_layout_verifies() {
    let p = EmulatedPlatform::tdx().unwrap();
    let t = td();
    for (version, body) in [
        (4, QuoteBody::Td10(t.report([1; 64]))),
        (5, QuoteBody::Td10(t.report([2; 64]))),
        (5, QuoteBody::Td15(t.report15([3; 64]))),
    ] {
        let v = ok(run(&p, &p.quote(version, &body).unwrap()));
        assert_eq!(v.version(), version);
        assert_eq!(v.status(), TcbStatus::UpToDate);
    }
    let s = EmulatedPlatform::sgx().unwrap();
    let mut enclave = SgxReportBody::new_zeroed();
    enclave.mr_enclave = [0xe1; 32];
    enclave.mr_signer = [0x51; 32];
    for version in [3, 4, 5] {
        let v = ok(run(
            &s,
            &s.quote(version, &QuoteBody::Sgx(enclave.clone())).unwrap(),
        ));
        assert_eq!(v.tee(), Tee::Sgx);
        assert_eq!(v.status(), TcbStatus::UpToDate);
        assert_eq!(v.body().sgx().unwrap().mr_enclave, [0xe1; 32]);
    }
}

#[test]
fn certification_data_types_1_and_3_need_the_supplied_pck_chain() {
    let p = EmulatedPlatform::tdx().unwrap();
    let body = QuoteBody::Td10(td().report([0; 64]));
    for cd in [CertData::PpidCleartext, CertData::PpidRsa3072] {
        let q = p.qe.quote(&p.pki, 4, &body, cd).unwrap();
        let mut c = p.collateral().unwrap();
        let e = run_with(&p, &q, &c, AT).unwrap_err();
        assert!(matches!(e, Error::MissingCollateral(_)), "{e}");
        c.pck_cert_chain = p.pck_chain();
        assert_eq!(ok(run_with(&p, &q, &c, AT)).status(), TcbStatus::UpToDate);
    }
    // A cleartext PPID that is not the PCK certificate's.
    let mut other = EmulatedPlatform::tdx().unwrap();
    other.qe.pck_spec.ppid = [0x22; 16];
    let q = other
        .qe
        .quote(&other.pki, 4, &body, CertData::PpidCleartext)
        .unwrap();
    let mut c = other.collateral().unwrap();
    c.pck_cert_chain = other.pck_chain();
    assert_eq!(check(run_with(&other, &q, &c, AT)), "certification_data");
}

// ---------------------------------------------------------------- revocation and the chain

#[test]
fn a_revoked_pck_certificate_is_rejected() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    p.pck_crl_revoked = vec![p.qe.pck.certificate.serial().to_vec()];
    assert_eq!(check(run(&p, &q)), "revocation");
}

#[test]
fn a_revoked_pck_ca_or_tcb_signing_certificate_is_rejected() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    p.root_crl_revoked = vec![p.pki.pck_ca.serial().to_vec()];
    assert_eq!(check(run(&p, &q)), "revocation");
    p.root_crl_revoked = vec![p.pki.tcb_signing.serial().to_vec()];
    assert_eq!(check(run(&p, &q)), "revocation");
    // Revoking someone else changes nothing.
    p.root_crl_revoked = vec![vec![0x7f, 0x7f]];
    assert!(run(&p, &q).is_ok());
}

#[test]
fn a_ca_used_as_the_tcb_signing_certificate_is_rejected() {
    let p = EmulatedPlatform::new(
        Tee::Tdx,
        PkiOptions {
            tcb_signing_is_ca: true,
            ..PkiOptions::default()
        },
    )
    .unwrap();
    assert_eq!(check(run(&p, &tdx_quote(&p, &td()))), "certificate_profile");
}

#[test]
fn a_crl_signed_by_someone_else_is_rejected() {
    let p = EmulatedPlatform::tdx().unwrap();
    let other = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    let mut c = p.collateral().unwrap();
    c.pck_crl = other.collateral().unwrap().pck_crl;
    assert_eq!(check(run_with(&p, &q, &c, AT)), "crl");
    let mut c = p.collateral().unwrap();
    c.root_ca_crl = other.collateral().unwrap().root_ca_crl;
    assert_eq!(check(run_with(&p, &q, &c, AT)), "crl");
}

#[test]
fn collateral_signed_by_another_key_is_rejected() {
    let p = EmulatedPlatform::tdx().unwrap();
    let other = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    let mut c = p.collateral().unwrap();
    c.tcb_info = other.pki.sign_json(&p.tcb_info.to_json()).unwrap();
    assert_eq!(check(run_with(&p, &q, &c, AT)), "tcb_info_signature");
    let mut c = p.collateral().unwrap();
    c.qe_identity = other.pki.sign_json(&p.qe_identity.to_json()).unwrap();
    assert_eq!(check(run_with(&p, &q, &c, AT)), "qe_identity_signature");
}

#[test]
fn an_expired_crl_is_reported_not_fatal_and_a_future_one_is_rejected() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    p.crl_next_update = UnixTime(AT.secs() - 1);
    let v = ok(run(&p, &q));
    assert_eq!(v.status(), TcbStatus::UpToDate);
    assert!(
        v.collateral()
            .expired
            .contains(&shomei_dcap::CollateralItem::PckCrl)
    );
    assert!(
        v.collateral()
            .expired
            .contains(&shomei_dcap::CollateralItem::RootCaCrl)
    );
    p.crl_this_update = UnixTime(AT.secs() + 1);
    p.crl_next_update = UnixTime(AT.secs() + 100);
    assert_eq!(check(run(&p, &q)), "not_yet_valid");
}

// ---------------------------------------------------------------- the quote and QE report

#[test]
fn a_qe_report_that_does_not_bind_the_attestation_key_is_rejected() {
    let p = EmulatedPlatform::tdx().unwrap();
    let body = QuoteBody::Td10(td().report([0; 64]));
    let mut r = p.qe.bound_report();
    r.report_data[0] ^= 1;
    let q =
        p.qe.quote_with(&p.pki, 4, &body, CertData::PckChain, &r)
            .unwrap();
    assert_eq!(check(run(&p, &q)), "qe_report_data");
    // The second half of REPORTDATA is not part of Intel's check.
    let mut r = p.qe.bound_report();
    r.report_data[40] ^= 1;
    let q =
        p.qe.quote_with(&p.pki, 4, &body, CertData::PckChain, &r)
            .unwrap();
    assert!(run(&p, &q).is_ok());
}

// ---------------------------------------------------------------- QE identity

#[test]
fn qe_identity_fields_must_match() {
    type Edit = fn(&mut EmulatedPlatform);
    let edits: [(&str, Edit); 5] = [
        ("mrsigner", |p| p.qe_identity.mrsigner[0] ^= 1),
        ("isvprodid", |p| p.qe_identity.isv_prod_id = 9),
        ("miscselect", |p| p.qe_identity.miscselect = [1, 0, 0, 0]),
        ("attributes", |p| p.qe_identity.attributes[0] = 0x13),
        ("id", |p| p.qe_identity.id = "QE".into()),
    ];
    for (name, edit) in edits {
        let mut p = EmulatedPlatform::tdx().unwrap();
        let q = tdx_quote(&p, &td());
        edit(&mut p);
        assert_eq!(check(run(&p, &q)), "qe_identity_mismatch", "{name}");
    }
    // Bits outside the masks do not matter.
    let mut p = EmulatedPlatform::tdx().unwrap();
    p.qe.report.attributes[0] |= 0x04; // masked off by FB…
    p.qe.report.attributes[8] = 0x03; // XFRM, masked off
    assert!(run(&p, &tdx_quote(&p, &td())).is_ok());
}

#[test]
fn an_out_of_date_qe_converges_with_the_platform_status() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    p.qe.report.isv_svn.set(3);
    let q = tdx_quote(&p, &td());
    let v = ok(run(&p, &q));
    assert_eq!(v.tcb().qe_status, TcbStatus::OutOfDate);
    assert_eq!(v.tcb().platform_status, TcbStatus::UpToDate);
    assert_eq!(v.status(), TcbStatus::OutOfDate);
    assert_eq!(v.advisory_ids(), ["INTEL-SA-00615".to_owned()]);
    // Intel: ConfigurationNeeded + an out-of-date QE is OutOfDateConfigurationNeeded (dcap-qvl
    // 0.5 said OutOfDate).
    p.tcb_info.levels[0].status = TcbStatus::ConfigurationNeeded;
    let v = ok(run(&p, &q));
    assert_eq!(v.status(), TcbStatus::OutOfDateConfigurationNeeded);
    // Below every QE level: Revoked, as Intel's QVL.
    p.qe.report.isv_svn.set(1);
    let v = ok(run(&p, &tdx_quote(&p, &td())));
    assert_eq!(v.tcb().qe_status, TcbStatus::Revoked);
    assert_eq!(v.status(), TcbStatus::Revoked);
}

// ---------------------------------------------------------------- TCB Info and levels

#[test]
fn the_first_matching_level_decides_with_its_advisories() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    let levels = p.tcb_info.levels.clone();
    // Raise the top level above the platform's component 8: the OutOfDate level matches.
    p.tcb_info.levels[0].sgx[7] = 6;
    let v = ok(run(&p, &q));
    assert_eq!(v.status(), TcbStatus::OutOfDate);
    assert_eq!(
        v.advisory_ids(),
        ["INTEL-SA-00960".to_owned(), "INTEL-SA-00982".to_owned()]
    );
    // PCESVN counts too.
    p.tcb_info.levels = levels.clone();
    p.tcb_info.levels[0].pce_svn = 12;
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::OutOfDate);
    // Levels are matched in Intel's order whatever the document's order.
    p.tcb_info.levels = levels.clone();
    p.tcb_info.levels.reverse();
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::UpToDate);
    // No level at all: TCB not supported.
    p.tcb_info.levels = levels;
    for l in &mut p.tcb_info.levels {
        l.sgx[0] = 9;
    }
    assert_eq!(check(run(&p, &q)), "tcb_not_supported");
}

#[test]
fn every_platform_status_is_reported_as_intel_names_it() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let q = tdx_quote(&p, &td());
    for s in [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
    ] {
        p.tcb_info.levels[0].status = s;
        let v = ok(run(&p, &q));
        assert_eq!(v.status(), s);
        assert_eq!(v.tcb().platform_status, s);
    }
    // An unknown status name in signed TCB Info is unreadable collateral, not a verdict.
    let text = p.tcb_info.to_json().replace("\"Revoked\"", "\"Fine\"");
    let c = p.collateral_from(&text, &p.qe_identity.to_json()).unwrap();
    assert!(matches!(
        run_with(&p, &q, &c, AT),
        Err(Error::Collateral { .. })
    ));
}

#[test]
fn tcb_info_must_describe_this_platform() {
    type Edit = fn(&mut EmulatedPlatform);
    let edits: [(&str, Edit); 4] = [
        ("fmspc", |p| p.tcb_info.fmspc[5] = 1),
        ("pceid", |p| p.tcb_info.pce_id = [0, 1]),
        ("id SGX", |p| p.tcb_info.tee = Tee::Sgx),
        ("version 2", |p| {
            p.tcb_info.version = 2;
            for l in &mut p.tcb_info.levels {
                l.tdx = None;
            }
            p.tcb_info.tdx_module = None;
            p.tcb_info.module_identities.clear();
        }),
    ];
    for (name, edit) in edits {
        let mut p = EmulatedPlatform::tdx().unwrap();
        let q = tdx_quote(&p, &td());
        edit(&mut p);
        assert_eq!(check(run(&p, &q)), "tcb_info_mismatch", "{name}");
    }
}

#[test]
fn tcb_info_v2_judges_sgx_quotes() {
    let mut p = EmulatedPlatform::sgx().unwrap();
    p.tcb_info.version = 2;
    let q = p
        .quote(3, &QuoteBody::Sgx(SgxReportBody::new_zeroed()))
        .unwrap();
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::UpToDate);
    p.tcb_info.levels[0].sgx[15] = 1;
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::OutOfDate);
}

// ---------------------------------------------------------------- the TDX module

#[test]
fn the_module_identity_judges_tee_tcb_svn_0_and_1() {
    let p = EmulatedPlatform::tdx().unwrap();
    // TEE_TCB_SVN[0] = 4 is below the level's tdxtcbcomponents[0] = 5, but with a module
    // version in [1] Intel compares from index 2 and judges [0] by TDX_01's levels.
    let t = td();
    assert_eq!(t.tee_tcb_svn[..3], [4, 1, 2]);
    let v = ok(run(&p, &tdx_quote(&p, &t)));
    assert_eq!(v.status(), TcbStatus::UpToDate);
    assert_eq!(
        v.tcb().tdx_module.as_ref().map(|m| m.id.as_str()),
        Some("TDX_01")
    );
    // Module ISVSVN 3: TDX_01 says OutOfDate, which the platform status takes on.
    let mut t = td();
    t.tee_tcb_svn[0] = 3;
    let v = ok(run(&p, &tdx_quote(&p, &t)));
    assert_eq!(v.tcb().platform_status, TcbStatus::UpToDate);
    assert_eq!(
        v.tcb().tdx_module.as_ref().map(|m| m.status),
        Some(TcbStatus::OutOfDate)
    );
    assert_eq!(v.status(), TcbStatus::OutOfDate);
    assert_eq!(v.advisory_ids(), ["INTEL-SA-01036".to_owned()]);
    // Module ISVSVN 1: below every TDX_01 level.
    t.tee_tcb_svn[0] = 1;
    assert_eq!(check(run(&p, &tdx_quote(&p, &t))), "tcb_not_supported");
    // Late microcode (index 2) below the level: no match.
    let mut t = td();
    t.tee_tcb_svn[2] = 1;
    assert_eq!(check(run(&p, &tdx_quote(&p, &t))), "tcb_not_supported");
    // Major version 0: every component counts from index 0, and [0] = 4 < 5.
    let mut t = td();
    t.tee_tcb_svn[1] = 0;
    assert_eq!(check(run(&p, &tdx_quote(&p, &t))), "tcb_not_supported");
    t.tee_tcb_svn[0] = 5;
    assert_eq!(
        ok(run(&p, &tdx_quote(&p, &t))).status(),
        TcbStatus::UpToDate
    );
}

#[test]
fn the_module_signer_attributes_and_version_must_be_known() {
    let p = EmulatedPlatform::tdx().unwrap();
    let mut t = td();
    t.tee_tcb_svn[1] = 2; // no TDX_02 identity
    assert_eq!(check(run(&p, &tdx_quote(&p, &t))), "tdx_module");
    let mut t = td();
    t.mr_signer_seam[0] = 1;
    assert_eq!(check(run(&p, &tdx_quote(&p, &t))), "tdx_module");
    let mut body = td().report([0; 64]);
    body.seam_attributes[0] = 1;
    assert_eq!(
        check(run(&p, &p.quote(4, &QuoteBody::Td10(body)).unwrap())),
        "tdx_module"
    );
}

#[test]
fn a_td15_on_an_updated_module_is_advised_to_relaunch() {
    let mut p = EmulatedPlatform::tdx().unwrap();
    let mut t = td();
    t.tee_tcb_svn[0] = 3; // launched on a module TDX_01 calls OutOfDate
    t.tee_tcb_svn2[0] = 4; // the module loaded now is current
    let q = p.quote(5, &QuoteBody::Td15(t.report15([0; 64]))).unwrap();
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::TDRelaunchAdvised);
    // The same TD report 1.0 cannot say so.
    let q10 = p.quote(5, &QuoteBody::Td10(t.report([0; 64]))).unwrap();
    assert_eq!(ok(run(&p, &q10)).status(), TcbStatus::OutOfDate);
    // With a platform that needs configuration.
    p.tcb_info.levels[0].status = TcbStatus::ConfigurationNeeded;
    assert_eq!(
        ok(run(&p, &q)).status(),
        TcbStatus::TDRelaunchAdvisedConfigurationNeeded
    );
    // When the module loaded now is out of date too, no relaunch helps.
    let mut p = EmulatedPlatform::tdx().unwrap();
    t.tee_tcb_svn2[0] = 3;
    p.tcb_info.levels[0].status = TcbStatus::UpToDate;
    let q = p.quote(5, &QuoteBody::Td15(t.report15([0; 64]))).unwrap();
    assert_eq!(ok(run(&p, &q)).status(), TcbStatus::OutOfDate);
}

// ---------------------------------------------------------------- the TD: RTMRs and CCEL

#[test]
fn rtmrs_replay_from_the_ccel_log() {
    let t = td();
    assert_eq!(replay_ccel(&t.ccel_log()), Some(t.rtmr));
    assert_eq!(t.rtmr[3], [0u8; 48]);
    // RTMR = SHA-384(RTMR ‖ SHA-384(data)), from zero.
    let mut want = [0u8; 96];
    want[48..].copy_from_slice(&shomei_core::x509::sha384(b"kernel"));
    assert_eq!(t.rtmr[1], shomei_core::x509::sha384(&want));
    // The quote carries them.
    let p = EmulatedPlatform::tdx().unwrap();
    let v = ok(run(&p, &tdx_quote(&p, &t)));
    assert_eq!(v.body().td().unwrap().rtmr, t.rtmr);
    assert_eq!(v.body().td().unwrap().mr_td, t.mr_td);
}

#[test]
fn the_ccel_replay_reproduces_real_ccel_logs() {
    // The replay the emulator's log is checked with, against firmware-made CCEL tables.
    let dir = shomei_core::vectors::locate().unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("tpm/ccel/expected.json")).unwrap())
            .unwrap();
    for name in ["CCEL_data", "CCEL_data_ovmf"] {
        let log = std::fs::read(dir.join("tpm/ccel").join(name)).unwrap();
        let got = replay_ccel(&log).unwrap_or_else(|| panic!("{name} did not replay"));
        let want: Vec<String> = expected[name]["expected_rtmr0_3"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let got: Vec<String> = got.iter().map(hex::encode).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_intel_root_is_never_the_emulators() {
    let p = EmulatedPlatform::tdx().unwrap();
    let a = p.anchor().unwrap();
    assert!(!a.is_intel());
    assert_ne!(
        Some(a.sha256()),
        TrustAnchor::intel().map(TrustAnchor::sha256)
    );
}
