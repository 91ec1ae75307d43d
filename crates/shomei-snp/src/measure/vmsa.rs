//! The initial VMSA (SEV-ES save area, Linux ≥ 6.10 layout) of each vCPU as QEMU, EC2 or GCE
//! create it. Field offsets are those of the `sev_es_save_area` structure.

use super::VmmType;

/// Reset vector of the bootstrap processor.
pub const BSP_EIP: u32 = 0xFFFF_FFF0;

struct Page([u8; 4096]);

impl Page {
    fn put(&mut self, off: usize, bytes: &[u8]) {
        if let Some(dst) = self.0.get_mut(off..off + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
    fn u64(&mut self, off: usize, v: u64) {
        self.put(off, &v.to_le_bytes());
    }
    /// VMCB segment: selector u16, attrib u16, limit u32, base u64.
    fn seg(&mut self, off: usize, selector: u16, attrib: u16, limit: u32, base: u64) {
        self.put(off, &selector.to_le_bytes());
        self.put(off + 2, &attrib.to_le_bytes());
        self.put(off + 4, &limit.to_le_bytes());
        self.u64(off + 8, base);
    }
}

const ES: usize = 0x00;
const CS: usize = 0x10;
const SS: usize = 0x20;
const DS: usize = 0x30;
const FS: usize = 0x40;
const GS: usize = 0x50;
const GDTR: usize = 0x60;
const LDTR: usize = 0x70;
const IDTR: usize = 0x80;
const TR: usize = 0x90;
const EFER: usize = 0xD0;
const CR4: usize = 0x148;
const CR0: usize = 0x158;
const DR7: usize = 0x160;
const DR6: usize = 0x168;
const RFLAGS: usize = 0x170;
const RIP: usize = 0x178;
const G_PAT: usize = 0x268;
const RDX: usize = 0x310;
const SEV_FEATURES: usize = 0x3B0;
const XCR0: usize = 0x3E8;
const MXCSR: usize = 0x408;
const X87_FCW: usize = 0x410;

const PAT_DEFAULT: u64 = 0x0007_0406_0007_0406;

/// The VMSA of a vCPU starting at `eip` (real mode, CS base = eip & 0xFFFF0000).
pub fn vmsa_page(eip: u32, sev_features: u64, vcpu_sig: u32, vmm: VmmType) -> [u8; 4096] {
    let (mut cs_flags, ss_flags, tr_flags) = (0x9b, 0x93, 0x8b);
    let (mut g_pat, mut rdx, mut mxcsr, mut fcw) =
        (PAT_DEFAULT, u64::from(vcpu_sig), 0x1f80u32, 0x37fu16);
    let (mut ss_flags, mut tr_flags) = (ss_flags, tr_flags);
    match vmm {
        VmmType::Qemu => {}
        VmmType::Ec2 => {
            if eip == BSP_EIP {
                cs_flags = 0x9a;
            }
            ss_flags = 0x92;
            tr_flags = 0x83;
            rdx = 0x600;
            mxcsr = 0;
            fcw = 0;
        }
        VmmType::Gce => {
            g_pat = 0x0007_0106;
            rdx = 0x600;
            mxcsr = 0;
            fcw = 0;
        }
    }
    let mut p = Page([0; 4096]);
    p.seg(ES, 0, 0x93, 0xffff, 0);
    p.seg(CS, 0xf000, cs_flags, 0xffff, u64::from(eip & 0xffff_0000));
    p.seg(SS, 0, ss_flags, 0xffff, 0);
    p.seg(DS, 0, 0x93, 0xffff, 0);
    p.seg(FS, 0, 0x93, 0xffff, 0);
    p.seg(GS, 0, 0x93, 0xffff, 0);
    p.seg(GDTR, 0, 0, 0xffff, 0);
    p.seg(IDTR, 0, 0, 0xffff, 0);
    p.seg(LDTR, 0, 0x82, 0xffff, 0);
    p.seg(TR, 0, tr_flags, 0xffff, 0);
    p.u64(EFER, 0x1000);
    p.u64(CR4, 0x40);
    p.u64(CR0, 0x10);
    p.u64(DR7, 0x400);
    p.u64(DR6, 0xffff_0ff0);
    p.u64(RFLAGS, 0x2);
    p.u64(RIP, u64::from(eip & 0xffff));
    p.u64(G_PAT, g_pat);
    p.u64(RDX, rdx);
    p.u64(SEV_FEATURES, sev_features);
    p.u64(XCR0, 0x1);
    p.put(MXCSR, &mxcsr.to_le_bytes());
    p.put(X87_FCW, &fcw.to_le_bytes());
    p.0
}

/// The VMSA of a vCPU entering a COCONUT-SVSM in 64-bit mode at `eip` (QEMU). Like
/// sev-snp-measure 0.0.13, x87 FCW is left zero (its SVSM save area sets an attribute named
/// `fcw` that is not the `x87_fcw` field).
pub fn svsm_vmsa_page(eip: u64, vcpu_sig: u32) -> [u8; 4096] {
    let mut p = Page([0; 4096]);
    p.seg(ES, 16, 0xc93, 0xffff_ffff, 0);
    p.seg(CS, 8, 0xc9b, 0xffff_ffff, 0);
    p.seg(SS, 16, 0xc93, 0xffff_ffff, 0);
    p.seg(DS, 16, 0xc93, 0xffff_ffff, 0);
    p.seg(FS, 16, 0xc93, 0xffff_ffff, 0);
    p.seg(GS, 0, 0x093, 0xffff, 0);
    p.seg(GDTR, 0, 0, 0xffff, 0);
    p.seg(IDTR, 0, 0, 0xffff, 0);
    p.seg(LDTR, 0, 0x82, 0xffff, 0);
    p.seg(TR, 0, 0x8b, 0xffff, 0);
    p.u64(EFER, 0x1000);
    p.u64(CR4, 0x40);
    p.u64(CR0, 0x11);
    p.u64(DR7, 0x400);
    p.u64(DR6, 0xffff_0ff0);
    p.u64(RFLAGS, 0x2);
    p.u64(RIP, eip);
    p.u64(G_PAT, PAT_DEFAULT);
    p.u64(RDX, u64::from(vcpu_sig));
    p.u64(SEV_FEATURES, 0x1);
    p.u64(XCR0, 0x1);
    p.put(MXCSR, &0x1f80u32.to_le_bytes());
    p.0
}
