//! An emulated chip: a per-chip secret from which CHIP_ID and every VCEK (one per TCB) are
//! derived, the launch flow (LAUNCH_START, LAUNCH_UPDATE, ID block, LAUNCH_FINISH) and guest
//! report requests.

// Fixed-size structures the emulator builds itself (no untrusted input): indexing is bounded by
// construction.
#![allow(clippy::indexing_slicing)]

use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use shomei_snp::measure::{Gctx, PageType, SnpLaunch};
use shomei_snp::{Product, REPORT_LEN, SigningKey, Tcb, certtable};

use crate::{EmuError, ReportSpec, TestRoot, TestVek, VekSpec};

/// RFC 5915 ECPrivateKey for a P-384 scalar, without the public key (aws-lc computes it).
fn p384_private_key_der(d: &[u8; 48]) -> Vec<u8> {
    let mut der = vec![0x30, 0x3e, 0x02, 0x01, 0x01, 0x04, 0x30];
    der.extend_from_slice(d);
    der.extend_from_slice(&[0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]);
    der
}

struct Len48;
impl hkdf::KeyType for Len48 {
    fn len(&self) -> usize {
        48
    }
}

/// A P-384 key derived from `secret` and `info` (HKDF-SHA-384, retried until the scalar is
/// in range).
fn derive_p384(secret: &[u8], info: &[u8]) -> Result<EcdsaKeyPair, EmuError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA384, b"shomei emulated AMD-SP").extract(secret);
    for counter in 0u8..=255 {
        let info_parts = [info, &[counter][..]];
        let mut d = [0u8; 48];
        prk.expand(&info_parts, Len48)
            .and_then(|okm| okm.fill(&mut d))
            .map_err(|_| EmuError::Crypto)?;
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &p384_private_key_der(&d),
        ) {
            return Ok(k);
        }
    }
    Err(EmuError::Crypto)
}

/// A key that signs ID blocks (the ID key) or ID keys (the author key).
pub struct IdAuthor {
    key: EcdsaKeyPair,
}

/// SNP's 0x404-byte public key structure: curve 2 (P-384), Qx and Qy little-endian in 72 bytes.
fn sev_public_key(point: &[u8]) -> [u8; 0x404] {
    let mut out = [0u8; 0x404];
    out[..4].copy_from_slice(&2u32.to_le_bytes());
    // point = 04 ‖ X(48) ‖ Y(48), big-endian
    if let (Some(x), Some(y)) = (point.get(1..49), point.get(49..97)) {
        for (i, b) in x.iter().rev().enumerate() {
            out[4 + i] = *b;
        }
        for (i, b) in y.iter().rev().enumerate() {
            out[4 + 72 + i] = *b;
        }
    }
    out
}

/// SNP's 512-byte signature structure: r and s little-endian in 72 bytes each.
fn sev_signature(key: &EcdsaKeyPair, msg: &[u8]) -> Result<[u8; 512], EmuError> {
    let sig = key
        .sign(&SystemRandom::new(), msg)
        .map_err(|_| EmuError::Crypto)?;
    let (r, s) = sig.as_ref().split_at(48);
    let mut out = [0u8; 512];
    for (i, b) in r.iter().rev().enumerate() {
        out[i] = *b;
    }
    for (i, b) in s.iter().rev().enumerate() {
        out[72 + i] = *b;
    }
    Ok(out)
}

impl IdAuthor {
    pub fn generate() -> Result<Self, EmuError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .map_err(|_| EmuError::Crypto)?;
        Ok(Self {
            key: EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                pkcs8.as_ref(),
            )
            .map_err(|_| EmuError::Crypto)?,
        })
    }

    /// The key in SNP's 0x404-byte format.
    pub fn sev_public_key(&self) -> [u8; 0x404] {
        sev_public_key(self.key.public_key().as_ref())
    }

    /// SHA-384 of [`IdAuthor::sev_public_key`]: what the report carries as ID_KEY_DIGEST or
    /// AUTHOR_KEY_DIGEST.
    pub fn digest(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out.copy_from_slice(digest::digest(&digest::SHA384, &self.sev_public_key()).as_ref());
        out
    }
}

/// An emulated SNP processor.
pub struct EmulatedChip {
    root: Arc<TestRoot>,
    secret: [u8; 32],
    /// COMMITTED = REPORTED TCB (the one the VCEK is derived from).
    pub tcb: Tcb,
    /// CURRENT TCB when it differs (provisional firmware, a hot-loaded microcode).
    pub current_tcb: Option<Tcb>,
    pub firmware: (u8, u8, u8),
    pub committed_firmware: Option<(u8, u8, u8)>,
    pub platform_info: u64,
    /// MASK_CHIP_ID: CHIP_ID reads as zero in reports.
    pub mask_chip_id: bool,
    vlek: Option<TestVek>,
}

impl EmulatedChip {
    pub fn new(root: Arc<TestRoot>, secret: [u8; 32], tcb: Tcb) -> Self {
        Self {
            root,
            secret,
            tcb,
            current_tcb: None,
            firmware: (1, 55, 40),
            committed_firmware: None,
            platform_info: 0x3,
            mask_chip_id: false,
            vlek: None,
        }
    }

    pub fn product(&self) -> Product {
        self.root.product
    }

    pub fn root(&self) -> &TestRoot {
        &self.root
    }

    /// CHIP_ID: 64 bytes derived from the chip secret (Turin and later: 8 bytes, then zeros).
    pub fn chip_id(&self) -> [u8; 64] {
        let mut id = [0u8; 64];
        let d = digest::digest(
            &digest::SHA512,
            &[b"chip id".as_slice(), &self.secret].concat(),
        );
        let n = self.product().hwid_len();
        id[..n].copy_from_slice(&d.as_ref()[..n]);
        id
    }

    fn vcek_key(&self, tcb: &Tcb) -> Result<EcdsaKeyPair, EmuError> {
        let raw = tcb.encode(self.product()).0;
        derive_p384(&self.secret, &[b"VCEK".as_slice(), &raw].concat())
    }

    /// The VCEK for the chip's REPORTED TCB: the same key every time for the same chip and TCB,
    /// as AMD derives it; the certificate is issued by the test root's ASK.
    pub fn vcek(&self) -> Result<TestVek, EmuError> {
        self.vcek_for(&self.tcb)
    }

    /// The VCEK for any TCB (what a KDS serves when asked for it).
    pub fn vcek_for(&self, tcb: &Tcb) -> Result<TestVek, EmuError> {
        let hwid = self.chip_id()[..self.product().hwid_len()].to_vec();
        let spec = self.root.vcek_spec(*tcb, hwid);
        self.root.issue_vek_for(&spec, self.vcek_key(tcb)?)
    }

    /// Loads a VLEK for a cloud provider (SNP_VLEK_LOAD); reports can then be VLEK-signed.
    pub fn load_vlek(&mut self, csp_id: &str) -> Result<&TestVek, EmuError> {
        let spec = VekSpec {
            hwid: None,
            csp_id: Some(csp_id.to_owned()),
            ..self.root.vcek_spec(self.tcb, Vec::new())
        };
        Ok(self.vlek.insert(self.root.issue_vek(&spec)?))
    }

    /// LAUNCH_START with a guest policy.
    pub fn launch_start(self: &Arc<Self>, policy: u64) -> Launch {
        Launch {
            chip: Arc::clone(self),
            policy,
            gctx: Gctx::new(),
        }
    }
}

/// A guest being launched: LAUNCH_UPDATEs extend the launch digest.
pub struct Launch {
    chip: Arc<EmulatedChip>,
    policy: u64,
    gctx: Gctx,
}

/// What LAUNCH_FINISH takes besides HOST_DATA: an ID block and its authentication.
pub struct IdBlockInput<'a> {
    pub id_key: &'a IdAuthor,
    pub author_key: Option<&'a IdAuthor>,
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub guest_svn: u32,
}

impl Launch {
    /// LAUNCH_UPDATE of one page.
    pub fn update(&mut self, page_type: PageType, gpa: u64, page: Option<&[u8; 4096]>) {
        let contents = match (page_type, page) {
            (PageType::Normal | PageType::Vmsa, Some(p)) => {
                let mut c = [0u8; 48];
                c.copy_from_slice(digest::digest(&digest::SHA384, p).as_ref());
                c
            }
            _ => [0u8; 48],
        };
        let gpa = if page_type == PageType::Vmsa {
            shomei_snp::measure::VMSA_GPA
        } else {
            gpa
        };
        self.gctx.update(page_type, gpa, &contents);
    }

    /// The pages a VMM loads for an OVMF launch (firmware, metadata sections, VMSAs), in
    /// QEMU/EC2/GCE order — the same sequence `snp measure` computes.
    pub fn load_ovmf(&mut self, l: &SnpLaunch<'_>) -> Result<(), EmuError> {
        shomei_snp::measure::launch_pages(&mut self.gctx, l)
            .map_err(|e| EmuError::Launch(e.to_string()))
    }

    /// The launch digest so far.
    pub fn digest(&self) -> [u8; 48] {
        self.gctx.ld()
    }

    /// LAUNCH_FINISH: seals the digest; with an ID block, the firmware checks that the block names
    /// this digest and this policy, and that its signatures verify, and the report then carries
    /// the block's IDs and the key digests.
    pub fn finish(
        self,
        host_data: [u8; 32],
        id: Option<IdBlockInput<'_>>,
    ) -> Result<Guest, EmuError> {
        let measurement = self.gctx.ld();
        let mut guest = Guest {
            chip: self.chip,
            policy: self.policy,
            measurement,
            host_data,
            family_id: [0; 16],
            image_id: [0; 16],
            guest_svn: 0,
            id_key_digest: [0; 48],
            author_key_digest: [0; 48],
            author_key_en: false,
            report_id: [0; 32],
        };
        SystemRandom::new()
            .fill(&mut guest.report_id)
            .map_err(|_| EmuError::Crypto)?;
        if let Some(id) = id {
            // ID_BLOCK: LD ‖ FAMILY_ID ‖ IMAGE_ID ‖ VERSION=1 ‖ GUEST_SVN ‖ POLICY (96 bytes).
            let mut block = Vec::with_capacity(96);
            block.extend_from_slice(&measurement);
            block.extend_from_slice(&id.family_id);
            block.extend_from_slice(&id.image_id);
            block.extend_from_slice(&1u32.to_le_bytes());
            block.extend_from_slice(&id.guest_svn.to_le_bytes());
            block.extend_from_slice(&self.policy.to_le_bytes());
            // The firmware verifies the ID_AUTH signatures; the emulator signs and verifies them.
            let block_sig = sev_signature(&id.id_key.key, &block)?;
            verify_sev_signature(&id.id_key.sev_public_key(), &block, &block_sig)?;
            if let Some(author) = id.author_key {
                let id_key_sig = sev_signature(&author.key, &id.id_key.sev_public_key())?;
                verify_sev_signature(
                    &author.sev_public_key(),
                    &id.id_key.sev_public_key(),
                    &id_key_sig,
                )?;
                guest.author_key_digest = author.digest();
                guest.author_key_en = true;
            }
            guest.family_id = id.family_id;
            guest.image_id = id.image_id;
            guest.guest_svn = id.guest_svn;
            guest.id_key_digest = id.id_key.digest();
        }
        Ok(guest)
    }
}

fn verify_sev_signature(key: &[u8; 0x404], msg: &[u8], sig: &[u8; 512]) -> Result<(), EmuError> {
    let mut point = vec![4u8];
    point.extend(key[4..52].iter().rev());
    point.extend(key[76..124].iter().rev());
    let mut fixed = Vec::with_capacity(96);
    fixed.extend(sig[..48].iter().rev());
    fixed.extend(sig[72..120].iter().rev());
    signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
        .verify(msg, &fixed)
        .map_err(|_| EmuError::Launch("ID block signature does not verify".into()))
}

/// A launched guest, which can ask its chip for attestation reports.
pub struct Guest {
    chip: Arc<EmulatedChip>,
    pub policy: u64,
    pub measurement: [u8; 48],
    pub host_data: [u8; 32],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub guest_svn: u32,
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub author_key_en: bool,
    pub report_id: [u8; 32],
}

/// MSG_REPORT_REQ: what the guest asks for.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub report_data: [u8; 64],
    pub vmpl: u32,
    /// Report layout version: 2, 3 or 5.
    pub version: u32,
    pub signer: SigningKey,
}

impl ReportRequest {
    pub fn new(report_data: [u8; 64]) -> Self {
        Self {
            report_data,
            vmpl: 0,
            version: 5,
            signer: SigningKey::Vcek,
        }
    }
}

impl Guest {
    pub fn chip(&self) -> &EmulatedChip {
        &self.chip
    }

    /// A signed attestation report.
    pub fn report(&self, req: &ReportRequest) -> Result<[u8; REPORT_LEN], EmuError> {
        let c = &self.chip;
        let p = c.product();
        let mut spec =
            ReportSpec::new(p, c.tcb, if c.mask_chip_id { [0; 64] } else { c.chip_id() });
        spec.version = req.version;
        spec.policy = self.policy;
        spec.vmpl = req.vmpl;
        spec.current_tcb = c.current_tcb;
        spec.platform_info = c.platform_info;
        spec.measurement = self.measurement;
        spec.report_data = req.report_data;
        spec.host_data = self.host_data;
        spec.firmware = c.firmware;
        spec.committed_firmware = c.committed_firmware;
        spec.family_id = self.family_id;
        spec.image_id = self.image_id;
        spec.guest_svn = self.guest_svn;
        spec.id_key_digest = self.id_key_digest;
        spec.author_key_digest = self.author_key_digest;
        spec.author_key_en = self.author_key_en;
        spec.report_id = self.report_id;
        let mut report = spec.build();
        match req.signer {
            SigningKey::Vcek => c.vcek()?.sign_report(&mut report)?,
            SigningKey::Vlek => {
                let vlek = c
                    .vlek
                    .as_ref()
                    .ok_or_else(|| EmuError::Launch("no VLEK loaded".into()))?;
                report[0x48] |= 1 << 2;
                vlek.sign_report(&mut report)?;
            }
            SigningKey::None => {
                report[0x48] |= 7 << 2;
            }
        }
        Ok(report)
    }

    /// An extended report: the report and the GHCB certificate table (VCEK or VLEK, ASK or ASVK,
    /// ARK).
    pub fn extended_report(
        &self,
        req: &ReportRequest,
    ) -> Result<([u8; REPORT_LEN], Vec<u8>), EmuError> {
        let report = self.report(req)?;
        let root = self.chip.root();
        let table = match req.signer {
            SigningKey::Vlek => {
                let vlek = self
                    .chip
                    .vlek
                    .as_ref()
                    .ok_or_else(|| EmuError::Launch("no VLEK loaded".into()))?;
                certtable::encode(&[
                    (certtable::GUID_VLEK, vlek.certificate.der()),
                    (certtable::GUID_ASK, root.asvk.der()),
                    (certtable::GUID_ARK, root.ark.der()),
                ])
            }
            _ => {
                let vcek = self.chip.vcek()?;
                certtable::encode(&[
                    (certtable::GUID_VCEK, vcek.certificate.der()),
                    (certtable::GUID_ASK, root.ask.der()),
                    (certtable::GUID_ARK, root.ark.der()),
                ])
            }
        };
        Ok((report, table))
    }
}
