//! An emulated confidential VM: an emulated AMD-SP launches the firmware (its pages are the
//! launch digest, exactly as `shomei snp measure` computes it), an emulated vTPM — hosted, as an
//! SVSM or paravisor would host it, at VMPL 0 — records a measured boot in a real-format TCG2
//! crypto-agile event log, and `attest(nonce)` returns composite evidence: an SNP report whose
//! REPORT_DATA is SHA-512(nonce ‖ AK TPMT_PUBLIC), the VCEK chain, and a vTPM quote with the PCRs
//! and the log.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use shomei_cvm::emu::{CvmConfig, EmulatedCvm};
//! use shomei_cvm::{CvmEvidence, CvmOptions, verify};
//! let mut cvm = EmulatedCvm::new(CvmConfig::default())?;
//! let reference = cvm.reference_values()?;     // launch digest + PCRs from the event log
//! let anchors = cvm.trust_anchors()?;           // the emulator's test root, named explicitly
//! let evidence = cvm.attest(b"challenge")?;
//! let opts = CvmOptions::new(shomei_core::UnixTime::from_secs(1_750_000_000))
//!     .with_nonce(b"challenge")
//!     .with_reference(reference)
//!     .with_anchors(&anchors);
//! let report = verify(&CvmEvidence::Composite(evidence), &opts)?;
//! assert!(report.accepted);
//! # Ok(()) }
//! ```
//!
//! Attack knobs: another firmware image with the same boot chain ([`CvmConfig::firmware`]), a
//! debug guest policy ([`CvmConfig::policy`]), a quote selection that omits a PCR
//! ([`CvmConfig::quote_selection`]), and [`EmulatedCvm::attest_with_foreign_vtpm`] (this VM's
//! report, another VM's vTPM quote).
//!
//! The measured boot writes what OVMF, shim, GRUB and Linux write (S-CRTM version, firmware
//! volume, Secure Boot variables, boot variables, separators, boot-services applications,
//! Secure Boot authorities, GRUB commands and the kernel command line, ExitBootServices). The
//! emulated vTPM extends `H(event data)`, so the digests of image loads and GRUB file
//! measurements are hashes of their event data rather than of the PE images and files.
//! What the firmware measures into PCR 0 is what the firmware *says* it is
//! ([`BootChain::firmware_version`]): only the SNP launch digest knows which image really ran.

use std::collections::BTreeMap;
use std::sync::Arc;

use shomei_core::policy::HexBytes;
use shomei_snp::measure::{
    FOOTER_GUID, MeasureError, SEV_ES_RESET_BLOCK_GUID, SEV_HASH_TABLE_RV_GUID, SEV_METADATA_GUID,
    SnpLaunch, VmmType, snp_launch_digest, vcpu_type_sig,
};
use shomei_snp::{Product, SigningKey, Tcb, TrustAnchors};
use shomei_snp_emu::{EmulatedChip, Guest, ReportRequest, RootOptions, TestRoot};
use shomei_tpm::{EventLog, HashAlg};
use shomei_tpm_emu::{Ak, AkKind, Vtpm};

use crate::evidence::{
    COMPOSITE_FORMAT, COMPOSITE_VERSION, CompositeEvidence, CompositeQuote, PcrMap,
};
use crate::verify::{CvmReferenceValues, report_data};

/// Errors of the emulated CVM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmuError {
    #[error("emulated AMD-SP: {0}")]
    Snp(#[from] shomei_snp_emu::EmuError),
    #[error("emulated vTPM: {0}")]
    Tpm(#[from] shomei_tpm_emu::EmuError),
    #[error("launch digest: {0}")]
    Measure(#[from] MeasureError),
    #[error("{0}")]
    Usage(String),
}

/// The guest policy bit that allows debugging.
pub const POLICY_DEBUG: u64 = 1 << 19;
/// The default guest policy: SMT allowed, bit 17 (reserved, one), debug off.
pub const DEFAULT_POLICY: u64 = 0x3_0000;

/// What the boot chain is and measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootChain {
    /// What the firmware reports about itself (the S-CRTM version and the volume it measures).
    pub firmware_version: String,
    pub secure_boot: bool,
    /// Boot applications loaded from the ESP, in order (shim, GRUB, …).
    pub efi_applications: Vec<String>,
    /// The kernel GRUB loads.
    pub kernel: String,
    pub initrd: String,
    /// The kernel command line.
    pub cmdline: String,
}

impl Default for BootChain {
    fn default() -> Self {
        Self {
            firmware_version: "edk2-stable202502 OVMF AmdSev (shomei emulated)".into(),
            secure_boot: true,
            efi_applications: vec![
                r"\EFI\BOOT\BOOTX64.EFI".into(),
                r"\EFI\debian\grubx64.efi".into(),
            ],
            kernel: "/boot/vmlinuz-6.12.0-shomei".into(),
            initrd: "/boot/initrd.img-6.12.0-shomei".into(),
            cmdline: "/boot/vmlinuz-6.12.0-shomei root=/dev/vda1 ro console=ttyS0".into(),
        }
    }
}

/// How an emulated CVM is built.
#[derive(Debug, Clone)]
pub struct CvmConfig {
    pub product: Product,
    /// The firmware image the AMD-SP measures (OVMF layout: footer table, SEV metadata).
    pub firmware: Vec<u8>,
    pub vcpus: u32,
    /// QEMU CPU model (`EPYC-v4`, `EPYC-Milan`, …), as `snp measure --vcpu-type`.
    pub vcpu_type: String,
    /// SNP guest policy.
    pub policy: u64,
    pub boot: BootChain,
    pub ak_kind: AkKind,
    /// The PCRs every quote covers.
    pub quote_selection: Vec<(HashAlg, Vec<u32>)>,
    /// The chip's secret (CHIP_ID and VCEK derive from it).
    pub chip_secret: [u8; 32],
}

impl Default for CvmConfig {
    fn default() -> Self {
        Self {
            product: Product::Milan,
            firmware: synthetic_firmware("shomei emulated OVMF"),
            vcpus: 1,
            vcpu_type: "EPYC-v4".into(),
            policy: DEFAULT_POLICY,
            boot: BootChain::default(),
            ak_kind: AkKind::Rsa,
            quote_selection: vec![(HashAlg::Sha256, (0..24).collect())],
            chip_secret: *b"shomei emulated CVM chip secret!",
        }
    }
}

/// The PCRs the measured boot extends (and that reference values therefore cover).
pub const MEASURED_PCRS: [u32; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/// An emulated confidential VM.
pub struct EmulatedCvm {
    config: CvmConfig,
    root: Arc<TestRoot>,
    chip: Arc<EmulatedChip>,
    guest: Guest,
    vtpm: Vtpm,
    ak: Ak,
}

impl core::fmt::Debug for EmulatedCvm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmulatedCvm")
            .field("product", &self.config.product)
            .field("measurement", &hex::encode(self.guest.measurement))
            .finish_non_exhaustive()
    }
}

fn tcb_for(product: Product) -> Tcb {
    if product.has_fmc() {
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
    }
}

fn launch(config: &CvmConfig) -> Result<SnpLaunch<'_>, EmuError> {
    Ok(SnpLaunch {
        ovmf: &config.firmware,
        vcpus: config.vcpus,
        vcpu_sig: vcpu_type_sig(&config.vcpu_type)
            .ok_or_else(|| EmuError::Usage(format!("unknown vCPU type {}", config.vcpu_type)))?,
        guest_features: 0x1,
        vmm: VmmType::Qemu,
        hashes: None,
        ovmf_hash: None,
    })
}

impl EmulatedCvm {
    /// A CVM on a chip under a fresh test root (RSA-2048: quick; never trusted unless named).
    pub fn new(config: CvmConfig) -> Result<Self, EmuError> {
        let root = Arc::new(TestRoot::generate(config.product, RootOptions::default())?);
        Self::with_root(config, root)
    }

    /// A CVM on a chip under `root` (several CVMs can share one root, as machines share AMD's).
    pub fn with_root(config: CvmConfig, root: Arc<TestRoot>) -> Result<Self, EmuError> {
        if root.product != config.product {
            return Err(EmuError::Usage(format!(
                "the root is for {}, the CVM for {}",
                root.product, config.product
            )));
        }
        let chip = Arc::new(EmulatedChip::new(
            Arc::clone(&root),
            config.chip_secret,
            tcb_for(config.product),
        ));
        let mut l = chip.launch_start(config.policy);
        l.load_ovmf(&launch(&config)?)?;
        let guest = l.finish([0u8; 32], None)?;
        let mut vtpm = Vtpm::new()?;
        measured_boot(&mut vtpm, &config.boot)?;
        let ak = vtpm.create_ak(config.ak_kind)?;
        Ok(Self {
            config,
            root,
            chip,
            guest,
            vtpm,
            ak,
        })
    }

    pub fn config(&self) -> &CvmConfig {
        &self.config
    }

    /// The test root this CVM's chip is certified under.
    pub fn root(&self) -> &Arc<TestRoot> {
        &self.root
    }

    /// Trust anchors holding only the test root (what a verifier must be given explicitly).
    pub fn trust_anchors(&self) -> Result<TrustAnchors, EmuError> {
        Ok(self.root.anchors()?)
    }

    /// The test root as PEM (ASK, ASVK, ARK), for `--trust-root`.
    pub fn trust_root_pem(&self) -> Result<String, EmuError> {
        let mut pem = String::new();
        for c in [&self.root.ask, &self.root.asvk, &self.root.ark] {
            pem.push_str(
                &shomei_core::x509::pem_encode("CERTIFICATE", c.der())
                    .map_err(|e| EmuError::Usage(e.to_string()))?,
            );
        }
        Ok(pem)
    }

    /// The launch digest the AMD-SP computed.
    pub fn measurement(&self) -> [u8; 48] {
        self.guest.measurement
    }

    /// The measured-boot event log.
    pub fn event_log(&self) -> &[u8] {
        self.vtpm.event_log()
    }

    /// The AK's TPM2B_PUBLIC.
    pub fn ak_public(&self) -> Result<Vec<u8>, EmuError> {
        Ok(self.ak.tpm2b_public()?)
    }

    /// A signed SNP report at VMPL 0 with `report_data`, and the VCEK chain (PEM).
    fn snp_report(&self, report_data: [u8; 64]) -> Result<(Vec<u8>, String), EmuError> {
        let mut req = ReportRequest::new(report_data);
        req.vmpl = 0;
        req.signer = SigningKey::Vcek;
        let report = self.guest.report(&req)?;
        let vcek = self.chip.vcek()?;
        let mut pem = String::new();
        for der in [
            vcek.certificate.der(),
            self.root.ask.der(),
            self.root.ark.der(),
        ] {
            pem.push_str(
                &shomei_core::x509::pem_encode("CERTIFICATE", der)
                    .map_err(|e| EmuError::Usage(e.to_string()))?,
            );
        }
        Ok((report.to_vec(), pem))
    }

    /// A vTPM quote over the configured selection: (quote, the quoted PCR values).
    pub fn quote(&mut self, nonce: &[u8]) -> Result<(CompositeQuote, PcrMap), EmuError> {
        let q = self
            .vtpm
            .quote(&self.ak, nonce, &self.config.quote_selection)?;
        let mut pcrs = PcrMap::new();
        for (bank, indices) in &self.config.quote_selection {
            for i in indices {
                let v = self
                    .vtpm
                    .pcr(*bank, *i)
                    .ok_or_else(|| EmuError::Usage(format!("no PCR {i}")))?;
                pcrs.entry(bank.name().to_owned())
                    .or_default()
                    .insert(*i, HexBytes(v.to_vec()));
            }
        }
        Ok((
            CompositeQuote {
                message: q.message,
                signature: q.signature,
            },
            pcrs,
        ))
    }

    /// Composite evidence for `nonce`: a fresh SNP report binding SHA-512(nonce ‖ AK
    /// TPMT_PUBLIC), the VCEK chain, a quote with `nonce` as qualifying data, the PCRs and the
    /// event log.
    pub fn attest(&mut self, nonce: &[u8]) -> Result<CompositeEvidence, EmuError> {
        let rd = report_data(nonce, self.ak.tpmt_public());
        let (snp_report, vek_chain) = self.snp_report(rd)?;
        let (quote, pcrs) = self.quote(nonce)?;
        Ok(CompositeEvidence {
            format: COMPOSITE_FORMAT.to_owned(),
            version: COMPOSITE_VERSION,
            nonce: nonce.to_vec(),
            snp_report,
            vek_chain,
            ak_public: self.ak.tpm2b_public()?,
            quote,
            pcrs,
            event_log: Some(self.vtpm.event_log().to_vec()),
        })
    }

    /// The attack of a quote from another VM's vTPM: this VM's SNP report (binding this VM's
    /// AK) with `other`'s AK, quote, PCRs and event log.
    pub fn attest_with_foreign_vtpm(
        &mut self,
        nonce: &[u8],
        other: &mut EmulatedCvm,
    ) -> Result<CompositeEvidence, EmuError> {
        let mine = self.attest(nonce)?;
        let theirs = other.attest(nonce)?;
        Ok(CompositeEvidence {
            snp_report: mine.snp_report,
            vek_chain: mine.vek_chain,
            ..theirs
        })
    }

    /// Reference values: the launch digest of the configured firmware (as `shomei snp measure`
    /// computes it) and the SHA-256 PCRs the event log replays to for [`MEASURED_PCRS`].
    pub fn reference_values(&self) -> Result<CvmReferenceValues, EmuError> {
        let ld = snp_launch_digest(&launch(&self.config)?)?;
        let log = EventLog::parse(self.vtpm.event_log())
            .map_err(|e| EmuError::Usage(format!("event log: {e}")))?;
        let replay = log.replay();
        let mut sha256 = BTreeMap::new();
        for i in MEASURED_PCRS {
            sha256.insert(i, vec![HexBytes(replay.value(HashAlg::Sha256, i))]);
        }
        let mut pcrs = BTreeMap::new();
        pcrs.insert("sha256".to_owned(), sha256);
        Ok(CvmReferenceValues {
            measurements: vec![HexBytes(ld.to_vec())],
            pcrs,
            required_pcrs: BTreeMap::new(),
        })
    }
}

// TCG PC Client event types.
const EV_SEPARATOR: u32 = 0x4;
const EV_S_CRTM_VERSION: u32 = 0x8;
const EV_IPL: u32 = 0xD;
const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
const EV_EFI_ACTION: u32 = 0x8000_0007;
const EV_EFI_PLATFORM_FIRMWARE_BLOB2: u32 = 0x8000_000A;
const EV_EFI_HANDOFF_TABLES2: u32 = 0x8000_000B;
const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00E0;

/// EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11D2-AA0D-00E098032B8C}, in memory order.
const EFI_GLOBAL_VARIABLE: [u8; 16] = [
    0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
];
/// EFI_IMAGE_SECURITY_DATABASE_GUID {D719B2CB-3D3A-4596-A3BC-DAD00E67656F}.
const EFI_IMAGE_SECURITY_DATABASE: [u8; 16] = [
    0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f,
];

fn u64_le(n: usize) -> [u8; 8] {
    u64::try_from(n).unwrap_or(u64::MAX).to_le_bytes()
}

/// UEFI_VARIABLE_DATA.
fn efi_variable(guid: &[u8; 16], name: &str, value: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut out = guid.to_vec();
    out.extend_from_slice(&u64_le(units.len()));
    out.extend_from_slice(&u64_le(value.len()));
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out.extend_from_slice(value);
    out
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(core::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A device path: a media file-path node for `path`, then the end node.
fn file_device_path(path: &str) -> Vec<u8> {
    let name = utf16z(path);
    let mut dp = vec![0x04, 0x04];
    dp.extend_from_slice(
        &u16::try_from(name.len().saturating_add(4))
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    dp.extend_from_slice(&name);
    dp.extend_from_slice(&[0x7f, 0xff, 0x04, 0x00]);
    dp
}

/// UEFI_IMAGE_LOAD_EVENT for an image loaded from `path`.
fn image_load_event(base: u64, len: u64, path: &str) -> Vec<u8> {
    let dp = file_device_path(path);
    let mut out = Vec::new();
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&u64_le(dp.len()));
    out.extend_from_slice(&dp);
    out
}

/// An EFI_SIGNATURE_LIST with one X.509 "certificate" (opaque bytes) owned by `owner`.
fn signature_list(owner: &[u8; 16], cert: &[u8]) -> Vec<u8> {
    // EFI_CERT_X509_GUID {A5C059A1-94E4-4AA7-87B5-AB155C2BF072}.
    let x509 = [
        0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0,
        0x72,
    ];
    let sig_size = cert.len().saturating_add(16);
    let mut out = x509.to_vec();
    let u32_le = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    out.extend_from_slice(&u32_le(sig_size.saturating_add(28)));
    out.extend_from_slice(&u32_le(0));
    out.extend_from_slice(&u32_le(sig_size));
    out.extend_from_slice(owner);
    out.extend_from_slice(cert);
    out
}

/// A measured boot as OVMF, shim, GRUB and Linux record it.
fn measured_boot(vtpm: &mut Vtpm, b: &BootChain) -> Result<(), EmuError> {
    // PCR 0: the S-CRTM version and the firmware volume the firmware says it is.
    vtpm.extend(0, EV_S_CRTM_VERSION, &utf16z(&b.firmware_version))?;
    let mut blob = Vec::new();
    let desc = format!(
        "Fv({})",
        hex::encode(
            HashAlg::Sha256
                .digest(b.firmware_version.as_bytes())
                .get(..16)
                .unwrap_or(&[])
        )
    );
    blob.push(u8::try_from(desc.len()).unwrap_or(u8::MAX));
    blob.extend_from_slice(desc.as_bytes());
    blob.extend_from_slice(&0xFFC8_4000u64.to_le_bytes());
    blob.extend_from_slice(&0x0034_8000u64.to_le_bytes());
    vtpm.extend(0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, &blob)?;
    // PCR 7: Secure Boot configuration.
    let owner = [0x11u8; 16];
    vtpm.extend(
        7,
        EV_EFI_VARIABLE_DRIVER_CONFIG,
        &efi_variable(
            &EFI_GLOBAL_VARIABLE,
            "SecureBoot",
            &[u8::from(b.secure_boot)],
        ),
    )?;
    for (name, guid, content) in [
        ("PK", &EFI_GLOBAL_VARIABLE, b"shomei emulated PK".as_slice()),
        ("KEK", &EFI_GLOBAL_VARIABLE, b"shomei emulated KEK"),
        (
            "db",
            &EFI_IMAGE_SECURITY_DATABASE,
            b"shomei emulated db: UEFI CA 2011",
        ),
        ("dbx", &EFI_IMAGE_SECURITY_DATABASE, b""),
    ] {
        let value = if content.is_empty() {
            Vec::new()
        } else {
            signature_list(&owner, content)
        };
        vtpm.extend(
            7,
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            &efi_variable(guid, name, &value),
        )?;
    }
    // PCR 1: ACPI/SMBIOS hand-off and the boot variables.
    let mut handoff = vec![u8::try_from(9usize).unwrap_or(0)];
    handoff.extend_from_slice(b"SMBIOS3.0");
    handoff.extend_from_slice(&1u64.to_le_bytes());
    handoff.extend_from_slice(&0x7f00_0000u64.to_le_bytes());
    vtpm.extend(1, EV_EFI_HANDOFF_TABLES2, &handoff)?;
    vtpm.extend(
        1,
        EV_EFI_VARIABLE_BOOT,
        &efi_variable(&EFI_GLOBAL_VARIABLE, "BootOrder", &[1, 0]),
    )?;
    let first = b.efi_applications.first().map(String::as_str).unwrap_or("");
    let mut option = 1u32.to_le_bytes().to_vec(); // LOAD_OPTION_ACTIVE
    let dp = file_device_path(first);
    option.extend_from_slice(&u16::try_from(dp.len()).unwrap_or(u16::MAX).to_le_bytes());
    option.extend_from_slice(&utf16z("debian"));
    option.extend_from_slice(&dp);
    vtpm.extend(
        1,
        EV_EFI_VARIABLE_BOOT,
        &efi_variable(&EFI_GLOBAL_VARIABLE, "Boot0001", &option),
    )?;
    // Separators: end of the pre-OS configuration.
    for pcr in 0..8 {
        vtpm.extend(pcr, EV_SEPARATOR, &[0, 0, 0, 0])?;
    }
    // PCR 4: boot applications; PCR 7: the authority that verified them.
    vtpm.extend(
        4,
        EV_EFI_ACTION,
        b"Calling EFI Application from Boot Option",
    )?;
    let mut base = 0x7d00_0000u64;
    for (n, app) in b.efi_applications.iter().enumerate() {
        vtpm.extend(
            4,
            EV_EFI_BOOT_SERVICES_APPLICATION,
            &image_load_event(base, 0x0010_0000, app),
        )?;
        base = base.saturating_sub(0x0100_0000);
        if b.secure_boot && n == 0 {
            let db_entry = efi_variable(
                &EFI_IMAGE_SECURITY_DATABASE,
                "db",
                &signature_list(&owner, b"shomei emulated db: UEFI CA 2011"),
            );
            vtpm.extend(7, EV_EFI_VARIABLE_AUTHORITY, &db_entry)?;
        }
    }
    // PCR 8/9: GRUB's commands, the files it reads, and the kernel command line.
    for cmd in [
        format!("grub_cmd: linux {}", b.cmdline),
        format!("grub_cmd: initrd {}", b.initrd),
    ] {
        vtpm.extend(8, EV_IPL, cmd.as_bytes())?;
    }
    vtpm.extend(9, EV_IPL, b.kernel.as_bytes())?;
    vtpm.extend(
        8,
        EV_IPL,
        format!("kernel_cmdline: {}", b.cmdline).as_bytes(),
    )?;
    vtpm.extend(9, EV_IPL, b.initrd.as_bytes())?;
    // The kernel is an EFI application too (EFI stub), then ExitBootServices.
    vtpm.extend(
        4,
        EV_EFI_BOOT_SERVICES_APPLICATION,
        &image_load_event(base, 0x00d0_0000, &b.kernel),
    )?;
    vtpm.extend(5, EV_EFI_ACTION, b"Exit Boot Services Invocation")?;
    vtpm.extend(
        5,
        EV_EFI_ACTION,
        b"Exit Boot Services Returned with Success",
    )?;
    Ok(())
}

/// A synthetic firmware image with OVMF's SNP layout — code pages derived from `label`, SEV
/// metadata (SEC memory, secrets, CPUID, kernel hashes) and the GUIDed footer table — that
/// `shomei snp measure` and sev-snp-measure accept. Different labels give different launch
/// digests.
pub fn synthetic_firmware(label: &str) -> Vec<u8> {
    const PAGES: usize = 4;
    let mut img = Vec::with_capacity(PAGES * 4096);
    let mut counter = 0u32;
    while img.len() < PAGES * 4096 {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(label.as_bytes());
        ctx.update(&counter.to_le_bytes());
        img.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    img.truncate(PAGES * 4096);
    // SEV metadata ("ASEV") at the start of the image: (gpa, size, type).
    let sections: [(u32, u32, u32); 4] = [
        (0x0080_0000, 0x2000, 1),
        (0x0080_2000, 0x1000, 2),
        (0x0080_3000, 0x1000, 3),
        (0x0080_4000, 0x1000, 0x10),
    ];
    let mut meta = b"ASEV".to_vec();
    meta.extend_from_slice(&(16u32 + 12 * 4).to_le_bytes());
    meta.extend_from_slice(&1u32.to_le_bytes());
    meta.extend_from_slice(&4u32.to_le_bytes());
    for (g, s, t) in sections {
        for v in [g, s, t] {
            meta.extend_from_slice(&v.to_le_bytes());
        }
    }
    let len = u32::try_from(img.len()).unwrap_or(u32::MAX);
    let entries: [([u8; 16], Vec<u8>); 3] = [
        (
            SEV_ES_RESET_BLOCK_GUID,
            0xffff_f000u32.to_le_bytes().to_vec(),
        ),
        (
            SEV_HASH_TABLE_RV_GUID,
            [0x0080_4c00u32.to_le_bytes(), 0x400u32.to_le_bytes()].concat(),
        ),
        (SEV_METADATA_GUID, len.to_le_bytes().to_vec()),
    ];
    let mut table = Vec::new();
    for (g, d) in &entries {
        table.extend_from_slice(d);
        table.extend_from_slice(
            &u16::try_from(d.len().saturating_add(18))
                .unwrap_or(0)
                .to_le_bytes(),
        );
        table.extend_from_slice(g);
    }
    table.extend_from_slice(
        &u16::try_from(table.len().saturating_add(18))
            .unwrap_or(0)
            .to_le_bytes(),
    );
    table.extend_from_slice(&FOOTER_GUID);
    if let Some(dst) = img.get_mut(..meta.len()) {
        dst.copy_from_slice(&meta);
    }
    let end = img.len().saturating_sub(32);
    if let Some(dst) = img.get_mut(end.saturating_sub(table.len())..end) {
        dst.copy_from_slice(&table);
    }
    img
}
