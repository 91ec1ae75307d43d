//! `shomei snp emulate`: launch a guest on an emulated AMD-SP and write what a real guest would
//! hand a verifier — the report, its certificate table — plus the test root to name explicitly.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use shomei_snp::measure::{SevHashes, SnpLaunch, VmmType, vcpu_type_sig};
use shomei_snp::{Product, SigningKey, Tcb};
use shomei_snp_emu::{EmulatedChip, KeySizeOpt, ReportRequest, RootOptions, TestRoot};

use crate::{Outcome, input};

#[derive(Args)]
pub struct EmulateArgs {
    /// Output directory (created): trust-root.pem, report.bin, certs.bin, vcek.der or vlek.der.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "milan")]
    product: Product,
    /// Report layout version (2, 3 or 5).
    #[arg(long, default_value_t = 5)]
    report_version: u32,
    /// OVMF image to launch (measured like `snp measure`); without it, no pages are measured.
    #[arg(long)]
    ovmf: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    vcpus: u32,
    #[arg(long, default_value = "EPYC-v4")]
    vcpu_type: String,
    #[arg(long)]
    kernel: Option<PathBuf>,
    #[arg(long)]
    initrd: Option<PathBuf>,
    #[arg(long)]
    append: Option<String>,
    /// Guest policy (hex); 0x30000 = SMT allowed, debug off.
    #[arg(long, default_value = "0x30000")]
    policy: String,
    /// REPORT_DATA (hex, up to 64 bytes).
    #[arg(long)]
    report_data: Option<String>,
    /// HOST_DATA (hex, up to 32 bytes).
    #[arg(long)]
    host_data: Option<String>,
    #[arg(long, default_value_t = 0)]
    vmpl: u32,
    /// Sign with a VLEK issued to this cloud provider instead of the VCEK.
    #[arg(long)]
    vlek: Option<String>,
    #[arg(long)]
    mask_chip_id: bool,
    /// Microcode SPL of CURRENT_TCB above the committed one (provisional firmware).
    #[arg(long)]
    current_microcode: Option<u8>,
    /// RSA size of the test ARK/ASK/ASVK (AMD uses 4096).
    #[arg(long, default_value_t = 4096)]
    rsa_bits: u32,
}

fn fixed<const N: usize>(hex: Option<&str>, what: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    if let Some(h) = hex {
        let b = input::hex_arg(h, what)?;
        if b.len() > N {
            bail!("{what}: at most {N} bytes");
        }
        out[..b.len()].copy_from_slice(&b);
    }
    Ok(out)
}

pub fn run(a: EmulateArgs) -> Result<Outcome> {
    let rsa_bits = match a.rsa_bits {
        2048 => KeySizeOpt::Rsa2048,
        4096 => KeySizeOpt::Rsa4096,
        other => bail!("--rsa-bits {other}: 2048 or 4096"),
    };
    let policy = u64::from_str_radix(a.policy.trim_start_matches("0x"), 16).context("--policy")?;
    let root = Arc::new(TestRoot::generate(
        a.product,
        RootOptions {
            rsa_bits,
            ..RootOptions::default()
        },
    )?);
    let tcb = if a.product.has_fmc() {
        Tcb {
            fmc: Some(1),
            bootloader: 1,
            tee: 1,
            snp: 4,
            microcode: 82,
        }
    } else {
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        }
    };
    let mut chip = EmulatedChip::new(root.clone(), *b"shomei emulated chip secret, v1!", tcb);
    chip.mask_chip_id = a.mask_chip_id;
    chip.current_tcb = a.current_microcode.map(|m| Tcb {
        microcode: m,
        ..tcb
    });
    if let Some(csp) = &a.vlek {
        chip.load_vlek(csp)?;
    }
    let chip = Arc::new(chip);
    let mut launch = chip.launch_start(policy);
    if let Some(ovmf_path) = &a.ovmf {
        let ovmf = input::read(ovmf_path)?;
        let hashes = match &a.kernel {
            Some(k) => Some(SevHashes::new(
                &input::read(k)?,
                a.initrd
                    .as_ref()
                    .map(|p| input::read(p))
                    .transpose()?
                    .as_deref(),
                a.append.as_deref(),
            )),
            None => None,
        };
        launch.load_ovmf(&SnpLaunch {
            ovmf: &ovmf,
            vcpus: a.vcpus,
            vcpu_sig: vcpu_type_sig(&a.vcpu_type)
                .with_context(|| format!("unknown --vcpu-type {}", a.vcpu_type))?,
            guest_features: 0x1,
            vmm: VmmType::Qemu,
            hashes,
            ovmf_hash: None,
        })?;
    }
    let guest = launch.finish(fixed::<32>(a.host_data.as_deref(), "--host-data")?, None)?;
    let mut req = ReportRequest::new(fixed::<64>(a.report_data.as_deref(), "--report-data")?);
    req.version = a.report_version;
    req.vmpl = a.vmpl;
    req.signer = if a.vlek.is_some() {
        SigningKey::Vlek
    } else {
        SigningKey::Vcek
    };
    let (report, table) = guest.extended_report(&req)?;

    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let write = |name: &str, data: &[u8]| -> Result<()> {
        let p = a.out.join(name);
        std::fs::write(&p, data).with_context(|| format!("cannot write {}", p.display()))
    };
    let mut pem = String::new();
    for c in [&root.ask, &root.asvk, &root.ark] {
        pem.push_str(&shomei_core::x509::pem_encode("CERTIFICATE", c.der())?);
    }
    write("trust-root.pem", pem.as_bytes())?;
    write("report.bin", &report)?;
    write("certs.bin", &table)?;
    if a.vlek.is_none() {
        write("vcek.der", chip.vcek()?.certificate.der())?;
    }
    println!(
        "emulated {} guest, measurement {}",
        a.product,
        hex::encode(guest.measurement)
    );
    println!(
        "wrote {}/{{trust-root.pem,report.bin,certs.bin}}",
        a.out.display()
    );
    println!(
        "verify: shomei snp verify {0}/report.bin --certs {0}/certs.bin --trust-root {0}/trust-root.pem",
        a.out.display()
    );
    Ok(Outcome::Ok)
}
