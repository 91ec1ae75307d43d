//! `shomei snp measure`: the launch digest, with sev-snp-measure's flags and output, so that a
//! release engineer can switch by changing the program name.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use shomei_snp::measure::{
    self, BSP_EIP, FOUR_GB, Ovmf, SevHashes, SnpLaunch, VmmType, cpu_sig, vcpu_type_sig,
};

use crate::{Outcome, input};

fn auto_int(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else {
        (t, 10)
    };
    u64::from_str_radix(&digits.replace('_', ""), radix).map_err(|e| format!("{s:?}: {e}"))
}

#[derive(Args)]
#[command(
    about = "Calculate the AMD SEV/SEV-ES/SEV-SNP guest launch measurement (sev-snp-measure compatible)"
)]
pub struct MeasureArgs {
    /// Guest mode.
    #[arg(long, value_parser = ["sev", "seves", "snp", "snp:ovmf-hash", "snp:svsm"])]
    mode: String,
    /// Number of guest vCPUs.
    #[arg(long, value_name = "N")]
    vcpus: Option<u32>,
    /// Type of guest vCPU (EPYC, EPYC-v1…v4, EPYC-Rome…, EPYC-Milan…, EPYC-Genoa…, EPYC-Turin).
    #[arg(long, value_name = "CPUTYPE", value_parser = measure::VCPU_TYPES)]
    vcpu_type: Option<String>,
    /// Guest vCPU signature value (CPUID 1 EAX).
    #[arg(long, value_name = "VALUE", value_parser = auto_int)]
    vcpu_sig: Option<u64>,
    #[arg(long, value_name = "FAMILY")]
    vcpu_family: Option<u32>,
    #[arg(long, value_name = "MODEL")]
    vcpu_model: Option<u32>,
    #[arg(long, value_name = "STEPPING")]
    vcpu_stepping: Option<u32>,
    /// Type of guest VMM (QEMU, ec2, gce).
    #[arg(long, value_name = "VMMTYPE", default_value = "QEMU")]
    vmm_type: String,
    /// OVMF file to calculate the hash from.
    #[arg(long, value_name = "PATH")]
    ovmf: PathBuf,
    /// Kernel file (measured direct boot).
    #[arg(long, value_name = "PATH")]
    kernel: Option<PathBuf>,
    /// Initrd file (with --kernel).
    #[arg(long, value_name = "PATH")]
    initrd: Option<PathBuf>,
    /// Kernel command line (with --kernel).
    #[arg(long, value_name = "CMDLINE")]
    append: Option<String>,
    /// Guest SEV features in every VMSA (0x1; 0x21 for SNP + DebugSwap hosts).
    #[arg(long, value_name = "VALUE", value_parser = auto_int, default_value = "0x1")]
    guest_features: u64,
    /// Measurement output format.
    #[arg(long, value_parser = ["hex", "base64"], default_value = "hex")]
    output_format: String,
    /// Precalculated hash of the OVMF binary (hex; from --mode snp:ovmf-hash).
    #[arg(long, value_name = "HASH")]
    snp_ovmf_hash: Option<String>,
    /// Write the measured VMSAs to vmsa<N>.bin.
    #[arg(long)]
    dump_vmsa: bool,
    /// SVSM binary (snp:svsm mode).
    #[arg(long, value_name = "PATH")]
    svsm: Option<PathBuf>,
    /// Size of the OVMF_VARS file in bytes (snp:svsm mode).
    #[arg(long, value_name = "SIZE", conflicts_with = "vars_file")]
    vars_size: Option<u64>,
    /// OVMF_VARS file (snp:svsm mode).
    #[arg(long, value_name = "PATH")]
    vars_file: Option<PathBuf>,
    #[arg(short, long)]
    verbose: bool,
}

fn print(ld: &[u8], mode_name: &str, a: &MeasureArgs) {
    let m = if a.output_format == "base64" {
        base64(ld)
    } else {
        hex::encode(ld)
    };
    if a.verbose {
        println!("Calculated {mode_name} guest measurement: {m}");
    } else {
        println!("{m}");
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            let idx = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
            if i <= chunk.len() {
                out.push(char::from(T.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn run(a: MeasureArgs) -> Result<Outcome> {
    if a.mode == "snp:ovmf-hash" {
        let digest = match stream_ovmf(&a.ovmf)? {
            Some(s) => s.seed,
            None => measure::snp_ovmf_hash(&input::read_large(&a.ovmf)?)?,
        };
        println!("{}", hex::encode(digest));
        return Ok(Outcome::Ok);
    }
    if a.initrd.is_some() && a.kernel.is_none() {
        bail!("--kernel required when using --initrd");
    }
    if a.append.is_some() && a.kernel.is_none() {
        bail!("--kernel required when using --append");
    }
    let vcpus = match (a.mode.as_str(), a.vcpus) {
        ("sev", v) => v.unwrap_or(0),
        (_, Some(v)) => v,
        (m, None) => bail!("missing --vcpus N in guest mode '{m}'"),
    };
    let vmm: VmmType = a.vmm_type.parse()?;
    let vcpu_sig: u32 = if a.mode == "sev" {
        0
    } else if let Some(f) = a.vcpu_family.filter(|f| *f != 0) {
        cpu_sig(f, a.vcpu_model.unwrap_or(0), a.vcpu_stepping.unwrap_or(0))
    } else if let Some(s) = a.vcpu_sig.filter(|s| *s != 0) {
        u32::try_from(s).context("--vcpu-sig does not fit in 32 bits")?
    } else if let Some(t) = &a.vcpu_type {
        vcpu_type_sig(t).with_context(|| format!("unknown --vcpu-type {t}"))?
    } else if vmm == VmmType::Qemu {
        bail!(
            "missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '{}'",
            a.mode
        );
    } else {
        0
    };
    if a.snp_ovmf_hash.is_some() && a.mode != "snp" {
        bail!("SNP OVMF hash only works with SNP");
    }
    let hashes = match &a.kernel {
        Some(k) => {
            let kernel = input::read(k)?;
            let initrd = a.initrd.as_ref().map(|p| input::read(p)).transpose()?;
            Some(SevHashes::new(
                &kernel,
                initrd.as_deref(),
                a.append.as_deref(),
            ))
        }
        None => None,
    };
    match a.mode.as_str() {
        "snp" => {
            let ovmf_hash = match &a.snp_ovmf_hash {
                Some(h) => {
                    let b = input::hex_arg(h, "--snp-ovmf-hash")?;
                    Some(<[u8; 48]>::try_from(b.as_slice()).map_err(|_| {
                        anyhow::anyhow!("--snp-ovmf-hash must be 48 bytes (96 hex digits)")
                    })?)
                }
                None => None,
            };
            // A large image is hashed from the file block by block and only its tail (footer
            // table, SEV metadata) is kept; if the metadata lies outside that tail, the whole
            // image is read after all.
            let streamed = match ovmf_hash {
                Some(_) => None,
                None => stream_ovmf(&a.ovmf)?,
            };
            let mut launch = SnpLaunch {
                ovmf: &[],
                vcpus,
                vcpu_sig,
                guest_features: a.guest_features,
                vmm,
                hashes,
                ovmf_hash,
            };
            let full;
            let (ld, ovmf) = match streamed.as_ref().and_then(|st| {
                launch.ovmf = &st.tail;
                launch.ovmf_hash = Some(st.seed);
                measure::snp_launch_digest(&launch)
                    .ok()
                    .map(|ld| (ld, st.tail.as_slice()))
            }) {
                Some(done) => done,
                None => {
                    full = input::read_large(&a.ovmf)?;
                    launch.ovmf = &full;
                    launch.ovmf_hash = ovmf_hash;
                    (measure::snp_launch_digest(&launch)?, full.as_slice())
                }
            };
            if a.dump_vmsa {
                let ap = Ovmf::parse(ovmf, FOUR_GB)?.sev_es_reset_eip()?;
                dump((0..vcpus).map(|i| {
                    measure::vmsa_page(
                        if i == 0 { BSP_EIP } else { ap },
                        a.guest_features,
                        vcpu_sig,
                        vmm,
                    )
                }))?;
            }
            print(&ld, "SEV_SNP", &a);
        }
        "snp:svsm" => {
            if vmm != VmmType::Qemu {
                bail!("SVSM mode is only implemented for Qemu.");
            }
            let vars_size = match (&a.vars_file, a.vars_size) {
                (Some(f), _) => std::fs::metadata(f)
                    .with_context(|| format!("cannot read {}", f.display()))?
                    .len(),
                (None, Some(s)) if s != 0 => s,
                _ => bail!("snp:svsm mode requires --vars-size or --vars-file"),
            };
            let svsm_path = a.svsm.as_ref().context("snp:svsm mode requires --svsm")?;
            let svsm = input::read(svsm_path)?;
            let ovmf = input::read_large(&a.ovmf)?;
            let ld = measure::svsm_launch_digest(&ovmf, vars_size, &svsm, vcpus, vcpu_sig)?;
            if a.dump_vmsa {
                let o = Ovmf::parse(&ovmf, FOUR_GB)?;
                let end = o.gpa().saturating_sub(vars_size);
                let eip = Ovmf::parse(&svsm, end)?.svsm_reset_eip()?;
                dump((0..vcpus).map(|_| measure::svsm_vmsa_page(eip, vcpu_sig)))?;
            }
            print(&ld, "SEV_SNP_SVSM", &a);
        }
        "seves" => {
            let ovmf = input::read_large(&a.ovmf)?;
            let ld = measure::seves_launch_digest(&ovmf, hashes.as_ref(), vcpus, vcpu_sig, vmm)?;
            if a.dump_vmsa {
                let ap = Ovmf::parse(&ovmf, FOUR_GB)?.sev_es_reset_eip()?;
                dump((0..vcpus).map(|i| {
                    measure::vmsa_page(if i == 0 { BSP_EIP } else { ap }, 0, vcpu_sig, vmm)
                }))?;
            }
            print(&ld, "SEV_ES", &a);
        }
        _ => {
            if a.dump_vmsa {
                bail!("--dump-vmsa is not available in the selected mode");
            }
            let ovmf = input::read_large(&a.ovmf)?;
            print(
                &measure::sev_launch_digest(&ovmf, hashes.as_ref())?,
                "SEV",
                &a,
            );
        }
    }
    Ok(Outcome::Ok)
}

/// A large image's OVMF-pages digest computed from the file, and its tail.
struct Streamed {
    tail: Vec<u8>,
    seed: [u8; 48],
}

/// For images of 1 MiB and more (whole pages): the digest of the OVMF pages, read 64 KiB at a
/// time per thread, and the last 256 KiB (where the footer table and SEV metadata live).
fn stream_ovmf(path: &std::path::Path) -> Result<Option<Streamed>> {
    use std::os::unix::fs::FileExt;
    const TAIL: u64 = 256 * 1024;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = file.metadata()?.len();
    if len < (1 << 20) || len % 4096 != 0 {
        return Ok(None);
    }
    let mut tail = vec![0u8; usize::try_from(TAIL.min(len)).context("tail size")?];
    file.read_exact_at(&mut tail, len - TAIL.min(len))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let read_at =
        |off: u64, buf: &mut [u8]| file.read_exact_at(buf, off).map_err(|e| e.to_string());
    let seed = measure::snp_ovmf_hash_from(len, &read_at)?;
    Ok(Some(Streamed { tail, seed }))
}

fn dump(pages: impl Iterator<Item = [u8; 4096]>) -> Result<()> {
    for (i, p) in pages.enumerate() {
        let name = format!("vmsa{i}.bin");
        std::fs::write(&name, p).with_context(|| format!("cannot write {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn auto_int_takes_python_prefixes() {
        assert_eq!(super::auto_int("0x21"), Ok(0x21));
        assert_eq!(super::auto_int("33"), Ok(33));
        assert_eq!(super::auto_int("0b101"), Ok(5));
        assert!(super::auto_int("zz").is_err());
    }
}
