//! The SEV-SNP launch digest (MEASUREMENT), computed exactly as the AMD-SP computes it for a
//! QEMU/EC2/GCE launch of an OVMF image — byte-compatible with `sev-snp-measure` 0.0.13, whose
//! inputs and flag names `shomei snp measure` takes. Also the SEV and SEV-ES launch digests.
//!
//! ```text
//! LD = 0⁴⁸ (or the --snp-ovmf-hash seed)
//! for every page: LD = SHA-384(PAGE_INFO{LD, contents, 0x70, type, 0, 0, 0, 0, 0, gpa})
//!   1. OVMF pages (NORMAL) at 4 GiB − len(OVMF)
//!   2. SEV metadata sections: SEC_MEM (ZERO; GCE: UNMEASURED), SECRETS, CPUID (EC2: last),
//!      SVSM_CAA (ZERO), KERNEL_HASHES (NORMAL page with the SEV hash table, or ZERO)
//!   3. one VMSA per vCPU (BSP at 0xFFFFFFF0, APs at the SEV-ES reset block's EIP)
//! ```
//!
//! Pure: callers pass the bytes of the firmware, kernel and initrd.

mod gctx;
mod hashes;
mod ovmf;
mod vmsa;

pub use gctx::{Gctx, PageType, ReadAt, VMSA_GPA};
pub use hashes::SevHashes;
pub use ovmf::{
    FOOTER_GUID, FOUR_GB, Ovmf, SEV_ES_RESET_BLOCK_GUID, SEV_HASH_TABLE_RV_GUID, SEV_METADATA_GUID,
    SVSM_INFO_GUID, Section, SectionType,
};
pub use vmsa::{BSP_EIP, svsm_vmsa_page, vmsa_page};

use aws_lc_rs::digest;

/// Which hypervisor launches the guest (its initial register state differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmmType {
    Qemu,
    Ec2,
    Gce,
}

impl core::str::FromStr for VmmType {
    type Err = MeasureError;
    /// sev-snp-measure's names: `QEMU`, `ec2`, `gce`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "QEMU" => Ok(Self::Qemu),
            "ec2" => Ok(Self::Ec2),
            "gce" => Ok(Self::Gce),
            other => Err(MeasureError::Usage(format!("unknown VMM type '{other}'"))),
        }
    }
}

/// Why a digest cannot be computed. The messages follow sev-snp-measure's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    #[error("{0}")]
    Firmware(String),
    #[error("Kernel specified but OVMF metadata doesn't include SNP_KERNEL_HASHES section")]
    NoKernelHashesSection,
    #[error("Kernel specified but OVMF doesn't support kernel/initrd/cmdline measurement")]
    NoKernelHashesTable,
    #[error("{0}")]
    Usage(String),
}

/// The CPUID Fn0000_0001_EAX signature for a family, model and stepping (AMD pub. 25481).
pub fn cpu_sig(family: u32, model: u32, stepping: u32) -> u32 {
    let (family_low, family_high) = if family > 0xf {
        (0xf, (family - 0xf) & 0xff)
    } else {
        (family, 0)
    };
    (family_high << 20)
        | (((model >> 4) & 0xf) << 16)
        | (family_low << 8)
        | ((model & 0xf) << 4)
        | (stepping & 0xf)
}

/// QEMU CPU model names sev-snp-measure knows, with their signatures.
pub fn vcpu_type_sig(name: &str) -> Option<u32> {
    let (f, m, s) = match name {
        "EPYC" | "EPYC-v1" | "EPYC-v2" | "EPYC-IBPB" | "EPYC-v3" | "EPYC-v4" => (23, 1, 2),
        "EPYC-Rome" | "EPYC-Rome-v1" | "EPYC-Rome-v2" | "EPYC-Rome-v3" => (23, 49, 0),
        "EPYC-Milan" | "EPYC-Milan-v1" | "EPYC-Milan-v2" => (25, 1, 1),
        "EPYC-Genoa" | "EPYC-Genoa-v1" => (25, 17, 0),
        "EPYC-Turin" => (26, 0, 0),
        _ => return None,
    };
    Some(cpu_sig(f, m, s))
}

/// Every name [`vcpu_type_sig`] accepts.
pub const VCPU_TYPES: [&str; 16] = [
    "EPYC",
    "EPYC-v1",
    "EPYC-v2",
    "EPYC-IBPB",
    "EPYC-v3",
    "EPYC-v4",
    "EPYC-Rome",
    "EPYC-Rome-v1",
    "EPYC-Rome-v2",
    "EPYC-Rome-v3",
    "EPYC-Milan",
    "EPYC-Milan-v1",
    "EPYC-Milan-v2",
    "EPYC-Genoa",
    "EPYC-Genoa-v1",
    "EPYC-Turin",
];

/// Inputs of an SNP launch.
#[derive(Debug, Clone)]
pub struct SnpLaunch<'a> {
    pub ovmf: &'a [u8],
    pub vcpus: u32,
    pub vcpu_sig: u32,
    /// SEV_FEATURES of every VMSA (sev-snp-measure's default 0x1).
    pub guest_features: u64,
    pub vmm: VmmType,
    /// Measured direct boot: the kernel, initrd and command-line hashes.
    pub hashes: Option<SevHashes>,
    /// A precomputed digest of the OVMF pages (`--snp-ovmf-hash`) that replaces hashing them.
    pub ovmf_hash: Option<[u8; 48]>,
}

/// Measures the metadata sections of `fw` (OVMF, or the SVSM in SVSM mode).
fn metadata_pages(
    gctx: &mut Gctx,
    fw: &Ovmf<'_>,
    hashes: Option<&SevHashes>,
    vmm: VmmType,
) -> Result<(), MeasureError> {
    for s in fw.sections() {
        let gpa = u64::from(s.gpa);
        let size = u64::from(s.size);
        match s.kind()? {
            SectionType::SnpSecMem if vmm == VmmType::Gce => gctx.update_unmeasured(gpa, size)?,
            SectionType::SnpSecMem | SectionType::SvsmCaa => gctx.update_zero(gpa, size)?,
            SectionType::SnpSecrets => gctx.update_secrets(gpa),
            SectionType::Cpuid if vmm != VmmType::Ec2 => gctx.update_cpuid(gpa),
            SectionType::Cpuid => {}
            SectionType::SnpKernelHashes => match hashes {
                Some(h) => {
                    let offset = fw.sev_hashes_table_gpa()? & 0xfff;
                    let page = h.page(offset)?;
                    if size != 4096 {
                        return Err(MeasureError::Firmware(format!(
                            "SNP_KERNEL_HASHES section is {size} bytes, expected one page"
                        )));
                    }
                    gctx.update_normal(gpa, &page)?;
                }
                None => gctx.update_zero(gpa, size)?,
            },
        }
    }
    if vmm == VmmType::Ec2 {
        for s in fw.sections() {
            if s.kind()? == SectionType::Cpuid {
                gctx.update_cpuid(u64::from(s.gpa));
            }
        }
    }
    if hashes.is_some() && !fw.has_section(SectionType::SnpKernelHashes) {
        return Err(MeasureError::NoKernelHashesSection);
    }
    Ok(())
}

/// The SNP launch digest (`--mode snp`).
pub fn snp_launch_digest(l: &SnpLaunch<'_>) -> Result<[u8; 48], MeasureError> {
    let mut gctx = match l.ovmf_hash {
        Some(seed) => Gctx::with_seed(seed),
        None => Gctx::new(),
    };
    launch_pages(&mut gctx, l)?;
    Ok(gctx.ld())
}

/// Every LAUNCH_UPDATE a VMM issues for an OVMF launch, applied to `gctx` in order: the OVMF
/// pages (skipped when [`SnpLaunch::ovmf_hash`] seeded `gctx`), the metadata sections and the
/// VMSAs. The emulated AMD-SP runs the same sequence.
pub fn launch_pages(gctx: &mut Gctx, l: &SnpLaunch<'_>) -> Result<(), MeasureError> {
    let ovmf = Ovmf::parse(l.ovmf, FOUR_GB)?;
    if l.ovmf_hash.is_none() {
        gctx.update_normal(ovmf.gpa(), ovmf.data())?;
    }
    metadata_pages(gctx, &ovmf, l.hashes.as_ref(), l.vmm)?;
    let ap_eip = ovmf.sev_es_reset_eip()?;
    let bsp = vmsa_page(BSP_EIP, l.guest_features, l.vcpu_sig, l.vmm);
    let ap = vmsa_page(ap_eip, l.guest_features, l.vcpu_sig, l.vmm);
    for i in 0..l.vcpus {
        gctx.update_vmsa(if i == 0 { &bsp } else { &ap });
    }
    Ok(())
}

/// The digest of the OVMF pages alone (`--mode snp:ovmf-hash`), to seed [`SnpLaunch::ovmf_hash`].
pub fn snp_ovmf_hash(ovmf: &[u8]) -> Result<[u8; 48], MeasureError> {
    let o = Ovmf::parse(ovmf, FOUR_GB)?;
    let mut g = Gctx::new();
    g.update_normal(o.gpa(), o.data())?;
    Ok(g.ld())
}

/// [`snp_ovmf_hash`] for an image of `len` bytes read block by block by `read_at(offset, buf)`
/// (see [`Gctx::update_normal_from`]).
pub fn snp_ovmf_hash_from(len: u64, read_at: &ReadAt<'_>) -> Result<[u8; 48], MeasureError> {
    let gpa = FOUR_GB
        .checked_sub(len)
        .ok_or_else(|| MeasureError::Firmware("firmware image does not fit below 4 GiB".into()))?;
    let mut g = Gctx::new();
    g.update_normal_from(gpa, len, read_at)?;
    Ok(g.ld())
}

/// The SNP launch digest with a COCONUT-SVSM below the OVMF and its variable store
/// (`--mode snp:svsm`, QEMU only).
pub fn svsm_launch_digest(
    ovmf: &[u8],
    vars_size: u64,
    svsm: &[u8],
    vcpus: u32,
    vcpu_sig: u32,
) -> Result<[u8; 48], MeasureError> {
    let o = Ovmf::parse(ovmf, FOUR_GB)?;
    let end = o.gpa().checked_sub(vars_size).ok_or_else(|| {
        MeasureError::Usage("--vars-size is larger than the address space below OVMF".into())
    })?;
    let s = Ovmf::parse(svsm, end)?;
    let eip = s.svsm_reset_eip()?;
    let mut g = Gctx::new();
    g.update_normal(o.gpa(), o.data())?;
    g.update_normal(s.gpa(), s.data())?;
    metadata_pages(&mut g, &s, None, VmmType::Qemu)?;
    let page = svsm_vmsa_page(eip, vcpu_sig);
    for _ in 0..vcpus {
        g.update_vmsa(&page);
    }
    Ok(g.ld())
}

/// The SEV launch digest: SHA-256 of the OVMF image and, with a kernel, the hash table.
pub fn sev_launch_digest(
    ovmf: &[u8],
    hashes: Option<&SevHashes>,
) -> Result<[u8; 32], MeasureError> {
    seves_like(ovmf, hashes, None)
}

/// The SEV-ES launch digest: [`sev_launch_digest`]'s input followed by the VMSAs.
pub fn seves_launch_digest(
    ovmf: &[u8],
    hashes: Option<&SevHashes>,
    vcpus: u32,
    vcpu_sig: u32,
    vmm: VmmType,
) -> Result<[u8; 32], MeasureError> {
    seves_like(ovmf, hashes, Some((vcpus, vcpu_sig, vmm)))
}

fn seves_like(
    ovmf: &[u8],
    hashes: Option<&SevHashes>,
    vmsas: Option<(u32, u32, VmmType)>,
) -> Result<[u8; 32], MeasureError> {
    let o = Ovmf::parse(ovmf, FOUR_GB)?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(o.data());
    if let Some(h) = hashes {
        if !o.is_sev_hashes_table_supported() {
            return Err(MeasureError::NoKernelHashesTable);
        }
        ctx.update(&h.table());
    }
    if let Some((vcpus, sig, vmm)) = vmsas {
        let ap_eip = o.sev_es_reset_eip()?;
        let bsp = vmsa_page(BSP_EIP, 0, sig, vmm);
        let ap = vmsa_page(ap_eip, 0, sig, vmm);
        for i in 0..vcpus {
            ctx.update(if i == 0 { &bsp } else { &ap });
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_signatures_match_the_cpuid_spec() {
        assert_eq!(vcpu_type_sig("EPYC-v4"), Some(0x800F12));
        assert_eq!(vcpu_type_sig("EPYC-Rome"), Some(0x830F10));
        assert_eq!(vcpu_type_sig("EPYC-Milan"), Some(0xA00F11));
        assert_eq!(vcpu_type_sig("EPYC-Genoa"), Some(0xA10F10));
        assert_eq!(vcpu_type_sig("EPYC-Turin"), Some(0xB00F00));
        assert_eq!(vcpu_type_sig("epyc-v4"), None);
        assert!(VCPU_TYPES.iter().all(|t| vcpu_type_sig(t).is_some()));
    }
}
