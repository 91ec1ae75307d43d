//! An emulated SEV-SNP confidential VM for `shomei attest --tee emulated-snp` and `shomei demo`:
//! a test root kept in a directory (so a verifier can be told once to trust it), an emulated
//! chip, and a guest launched from a firmware image measured exactly as `shomei snp measure`
//! measures it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use shomei_snp::measure::{SnpLaunch, VmmType, vcpu_type_sig};
use shomei_snp::{Product, Tcb};
use shomei_snp_emu::{EmulatedChip, Guest, KeySizeOpt, ReportRequest, RootOptions, TestRoot};

/// The file in the state directory that holds the test root with its keys.
pub const ROOT_FILE: &str = "test-root-with-keys.pem";
/// The file in the state directory that holds the test root's certificates (what to trust).
pub const TRUST_FILE: &str = "trust-root.pem";

/// Guest policy: SMT allowed, debug off (what a production guest uses).
pub const POLICY: u64 = 0x30000;
/// Guest policy with debugging allowed.
pub const DEBUG_POLICY: u64 = 0x30000 | (1 << 19);

pub const VCPUS: u32 = 2;
pub const VCPU_TYPE: &str = "EPYC-v4";

/// Loads the root from `dir`, or creates it (RSA-2048 to be quick) and writes both files.
pub fn root_in(dir: &Path) -> Result<Arc<TestRoot>> {
    let path = dir.join(ROOT_FILE);
    if path.exists() {
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(Arc::new(
            TestRoot::from_pem_with_keys(&pem).with_context(|| path.display().to_string())?,
        ));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = TestRoot::generate(
        Product::Milan,
        RootOptions {
            rsa_bits: KeySizeOpt::Rsa2048,
            ..RootOptions::default()
        },
    )?;
    std::fs::write(&path, root.to_pem_with_keys()?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(dir.join(TRUST_FILE), trust_pem(&root)?)
        .with_context(|| format!("cannot write {}", dir.join(TRUST_FILE).display()))?;
    Ok(Arc::new(root))
}

/// The root's certificates (ARK, ASK, ASVK) as PEM.
pub fn trust_pem(root: &TestRoot) -> Result<String> {
    let mut pem = String::new();
    for c in [&root.ark, &root.ask, &root.asvk] {
        pem.push_str(&shomei_core::x509::pem_encode("CERTIFICATE", c.der())?);
    }
    Ok(pem)
}

/// The emulated chip's TCB (Milan, current firmware).
pub fn tcb() -> Tcb {
    Tcb {
        fmc: None,
        bootloader: 4,
        tee: 0,
        snp: 22,
        microcode: 213,
    }
}

/// The launch digest `shomei snp measure --ovmf F --vcpus 2 --vcpu-type EPYC-v4` computes.
pub fn measure(firmware: &[u8]) -> Result<[u8; 48]> {
    Ok(shomei_snp::measure::snp_launch_digest(&launch(firmware)?)?)
}

fn launch(firmware: &[u8]) -> Result<SnpLaunch<'_>> {
    Ok(SnpLaunch {
        ovmf: firmware,
        vcpus: VCPUS,
        vcpu_sig: vcpu_type_sig(VCPU_TYPE).context("vcpu type")?,
        guest_features: 0x1,
        vmm: VmmType::Qemu,
        hashes: None,
        ovmf_hash: None,
    })
}

/// Launches a guest of `firmware` with `policy` on a chip of `root`.
pub fn launch_guest(root: &Arc<TestRoot>, firmware: &[u8], policy: u64) -> Result<Guest> {
    let chip = Arc::new(EmulatedChip::new(
        Arc::clone(root),
        *b"shomei emulated chip secret, v1!",
        tcb(),
    ));
    let mut l = chip.launch_start(policy);
    l.load_ovmf(&launch(firmware)?)?;
    Ok(l.finish([0; 32], None)?)
}

/// A report for `report_data`, as the service's evidence JSON (VCEK, ASK and ARK attached).
pub fn evidence(guest: &Guest, report_data: [u8; 64]) -> Result<Value> {
    let report = guest.report(&ReportRequest::new(report_data))?;
    let root = guest.chip().root();
    let mut certs =
        shomei_core::x509::pem_encode("CERTIFICATE", guest.chip().vcek()?.certificate.der())?;
    for c in [&root.ask, &root.ark] {
        certs.push_str(&shomei_core::x509::pem_encode("CERTIFICATE", c.der())?);
    }
    Ok(json!({
        "family": "snp",
        "report": Base64::encode_string(&report),
        "certs": certs,
    }))
}
