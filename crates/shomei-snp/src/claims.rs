//! The report's fields as claims: the `snp display --json` shape (snake_case, hex byte strings,
//! TCBs as objects) and the appraised claims later carried in attestation results.

use serde::Serialize;

use crate::bits::{GuestPolicy, PlatformInfo};
use crate::report::FirmwareVersion;
use crate::{Product, RawTcb, Report, SigningKey, Tcb};

/// A TCB decoded with a product's layout, or raw when the product is unknown.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum TcbClaim {
    Decoded(Tcb),
    Raw { raw: String },
}

impl TcbClaim {
    fn new(t: RawTcb, product: Option<Product>) -> Self {
        match product {
            Some(p) => Self::Decoded(t.decode(p)),
            None => Self::Raw { raw: t.hex() },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyClaim {
    pub raw: String,
    pub abi_major: u8,
    pub abi_minor: u8,
    pub smt: bool,
    pub migrate_ma: bool,
    pub debug: bool,
    pub single_socket: bool,
    pub cxl_allow: bool,
    pub mem_aes_256_xts: bool,
    pub rapl_dis: bool,
    pub ciphertext_hiding: bool,
    pub page_swap_disable: bool,
    pub unknown_bits: String,
}

impl From<GuestPolicy> for PolicyClaim {
    fn from(p: GuestPolicy) -> Self {
        Self {
            raw: format!("{:#x}", p.0),
            abi_major: p.abi_major(),
            abi_minor: p.abi_minor(),
            smt: p.has(GuestPolicy::SMT),
            migrate_ma: p.has(GuestPolicy::MIGRATE_MA),
            debug: p.has(GuestPolicy::DEBUG),
            single_socket: p.has(GuestPolicy::SINGLE_SOCKET),
            cxl_allow: p.has(GuestPolicy::CXL_ALLOW),
            mem_aes_256_xts: p.has(GuestPolicy::MEM_AES_256_XTS),
            rapl_dis: p.has(GuestPolicy::RAPL_DIS),
            ciphertext_hiding: p.has(GuestPolicy::CIPHERTEXT_HIDING),
            page_swap_disable: p.has(GuestPolicy::PAGE_SWAP_DISABLE),
            unknown_bits: format!("{:#x}", p.unknown_bits()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlatformInfoClaim {
    pub raw: String,
    pub smt_enabled: bool,
    pub tsme_enabled: bool,
    pub ecc_enabled: bool,
    pub rapl_disabled: bool,
    pub ciphertext_hiding_enabled: bool,
    pub alias_check_complete: bool,
    pub iommu_write_safe: bool,
    pub tio_enabled: bool,
    pub unknown_bits: String,
}

impl From<PlatformInfo> for PlatformInfoClaim {
    fn from(p: PlatformInfo) -> Self {
        Self {
            raw: format!("{:#x}", p.0),
            smt_enabled: p.has(PlatformInfo::SMT_EN),
            tsme_enabled: p.has(PlatformInfo::TSME_EN),
            ecc_enabled: p.has(PlatformInfo::ECC_EN),
            rapl_disabled: p.has(PlatformInfo::RAPL_DIS),
            ciphertext_hiding_enabled: p.has(PlatformInfo::CIPHERTEXT_HIDING_EN),
            alias_check_complete: p.has(PlatformInfo::ALIAS_CHECK_COMPLETE),
            iommu_write_safe: p.has(PlatformInfo::IOMMU_WRITE_SAFE),
            tio_enabled: p.has(PlatformInfo::TIO_EN),
            unknown_bits: format!("{:#x}", p.unknown_bits()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyInfoClaim {
    pub author_key_en: bool,
    pub mask_chip_key: bool,
    pub signing_key: SigningKey,
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuidClaim {
    pub family: u8,
    pub model: u8,
    pub stepping: u8,
}

/// Every field of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportClaims {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: PolicyClaim,
    pub family_id: String,
    pub image_id: String,
    pub vmpl: u32,
    pub signature_algo: u32,
    pub current_tcb: TcbClaim,
    pub platform_info: PlatformInfoClaim,
    pub key_info: KeyInfoClaim,
    pub report_data: String,
    pub measurement: String,
    pub host_data: String,
    pub id_key_digest: String,
    pub author_key_digest: String,
    pub report_id: String,
    pub report_id_ma: String,
    pub reported_tcb: TcbClaim,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuid: Option<CpuidClaim>,
    /// The product whose TCB layout was used, or null when it could not be determined.
    pub product: Option<Product>,
    /// Where the product came from: `cpuid`, `certificate`, `caller` or `chip_id_heuristic`.
    pub product_source: Option<&'static str>,
    pub chip_id: String,
    pub committed_tcb: TcbClaim,
    pub current_version: FirmwareVersion,
    pub committed_version: FirmwareVersion,
    pub launch_tcb: TcbClaim,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_mit_vector: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_mit_vector: Option<u64>,
    /// Committed TCB or version differs from the current one.
    pub provisional_firmware: bool,
    pub signature: SignatureClaim,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureClaim {
    /// Big-endian.
    pub r: String,
    /// Big-endian.
    pub s: String,
}

/// Guesses the product of a v2 report from CHIP_ID (as virtee does, but never failing): an 8-byte
/// hwID followed by zeros suggests Turin. `None` when CHIP_ID is masked.
pub fn guess_product_from_chip_id(chip_id: &[u8; 64]) -> Option<Product> {
    let (head, tail) = chip_id.split_at(8);
    if head.iter().all(|b| *b == 0) {
        return None;
    }
    if tail.iter().all(|b| *b == 0) {
        Some(Product::Turin)
    } else {
        Some(Product::Milan)
    }
}

impl ReportClaims {
    /// Claims of `r`, with the product from (in order) the caller, CPUID, or — for display only —
    /// the CHIP_ID heuristic.
    pub fn new(r: &Report<'_>, product: Option<(Product, &'static str)>) -> Self {
        let product = product
            .or_else(|| r.product_from_cpuid().map(|p| (p, "cpuid")))
            .or_else(|| guess_product_from_chip_id(r.chip_id()).map(|p| (p, "chip_id_heuristic")));
        let p = product.map(|(p, _)| p);
        let sig = r.signature_fixed();
        Self {
            version: r.version(),
            guest_svn: r.guest_svn(),
            policy: r.policy().into(),
            family_id: hex::encode(r.family_id()),
            image_id: hex::encode(r.image_id()),
            vmpl: r.vmpl(),
            signature_algo: r.signature_algo(),
            current_tcb: TcbClaim::new(r.current_tcb(), p),
            platform_info: r.platform_info().into(),
            key_info: KeyInfoClaim {
                author_key_en: r.key_info().author_key_en(),
                mask_chip_key: r.key_info().mask_chip_key(),
                signing_key: r.signing_key(),
            },
            report_data: hex::encode(r.report_data()),
            measurement: hex::encode(r.measurement()),
            host_data: hex::encode(r.host_data()),
            id_key_digest: hex::encode(r.id_key_digest()),
            author_key_digest: hex::encode(r.author_key_digest()),
            report_id: hex::encode(r.report_id()),
            report_id_ma: hex::encode(r.report_id_ma()),
            reported_tcb: TcbClaim::new(r.reported_tcb(), p),
            cpuid: r.cpuid().map(|(family, model, stepping)| CpuidClaim {
                family,
                model,
                stepping,
            }),
            product: p,
            product_source: product.map(|(_, s)| s),
            chip_id: hex::encode(r.chip_id()),
            committed_tcb: TcbClaim::new(r.committed_tcb(), p),
            current_version: r.current_version(),
            committed_version: r.committed_version(),
            launch_tcb: TcbClaim::new(r.launch_tcb(), p),
            launch_mit_vector: r.launch_mit_vector(),
            current_mit_vector: r.current_mit_vector(),
            provisional_firmware: r.is_provisional_firmware(),
            signature: SignatureClaim {
                r: hex::encode(sig.get(..48).unwrap_or(&[])),
                s: hex::encode(sig.get(48..).unwrap_or(&[])),
            },
        }
    }
}
