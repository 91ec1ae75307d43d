//! The bit fields of a report: guest POLICY, PLATFORM_INFO and KEY_INFO.
//!
//! Unknown bits are kept (`unknown_bits`) and handed to policy; the parser never rejects them.

use serde::Serialize;

/// Guest policy (report offset 0x008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    pub const SMT: u64 = 1 << 16;
    pub const RESERVED_ONE: u64 = 1 << 17;
    pub const MIGRATE_MA: u64 = 1 << 18;
    pub const DEBUG: u64 = 1 << 19;
    pub const SINGLE_SOCKET: u64 = 1 << 20;
    pub const CXL_ALLOW: u64 = 1 << 21;
    pub const MEM_AES_256_XTS: u64 = 1 << 22;
    pub const RAPL_DIS: u64 = 1 << 23;
    pub const CIPHERTEXT_HIDING: u64 = 1 << 24;
    pub const PAGE_SWAP_DISABLE: u64 = 1 << 25;
    /// Every bit with a defined meaning (ABI version in bits 15:0 included).
    pub const KNOWN: u64 = (1 << 26) - 1;

    pub fn abi_major(self) -> u8 {
        self.0.to_le_bytes()[1]
    }
    pub fn abi_minor(self) -> u8 {
        self.0.to_le_bytes()[0]
    }
    pub fn has(self, bit: u64) -> bool {
        self.0 & bit != 0
    }
    pub fn unknown_bits(self) -> u64 {
        self.0 & !Self::KNOWN
    }
}

/// PLATFORM_INFO (report offset 0x040).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    pub const SMT_EN: u64 = 1 << 0;
    pub const TSME_EN: u64 = 1 << 1;
    pub const ECC_EN: u64 = 1 << 2;
    pub const RAPL_DIS: u64 = 1 << 3;
    pub const CIPHERTEXT_HIDING_EN: u64 = 1 << 4;
    pub const ALIAS_CHECK_COMPLETE: u64 = 1 << 5;
    /// Bit 6: "reserved" in older tools, set by real Turin firmware (IOMMU_WRITE_SAFE).
    pub const IOMMU_WRITE_SAFE: u64 = 1 << 6;
    pub const TIO_EN: u64 = 1 << 7;
    pub const KNOWN: u64 = (1 << 8) - 1;

    /// Named bits, for policy files and the CLI.
    pub const NAMES: [(&'static str, u64); 8] = [
        ("smt_enabled", Self::SMT_EN),
        ("tsme_enabled", Self::TSME_EN),
        ("ecc_enabled", Self::ECC_EN),
        ("rapl_disabled", Self::RAPL_DIS),
        ("ciphertext_hiding_enabled", Self::CIPHERTEXT_HIDING_EN),
        ("alias_check_complete", Self::ALIAS_CHECK_COMPLETE),
        ("iommu_write_safe", Self::IOMMU_WRITE_SAFE),
        ("tio_enabled", Self::TIO_EN),
    ];

    pub fn has(self, bit: u64) -> bool {
        self.0 & bit != 0
    }
    pub fn unknown_bits(self) -> u64 {
        self.0 & !Self::KNOWN
    }
    pub fn bit_by_name(name: &str) -> Option<u64> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }
}

/// Which key signed the report (KEY_INFO bits 4:2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key: per chip and TCB.
    Vcek,
    /// Versioned Loaded Endorsement Key: per cloud provider, loaded into the chip.
    Vlek,
    /// The report is not signed.
    None,
}

impl core::fmt::Display for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Vcek => "VCEK",
            Self::Vlek => "VLEK",
            Self::None => "none",
        })
    }
}

/// KEY_INFO (report offset 0x048).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo(pub u32);

impl KeyInfo {
    pub fn author_key_en(self) -> bool {
        self.0 & 1 != 0
    }
    pub fn mask_chip_key(self) -> bool {
        self.0 & 2 != 0
    }
    /// `None` for the reserved encodings 2–6.
    pub fn signing_key(self) -> Option<SigningKey> {
        match (self.0 >> 2) & 7 {
            0 => Some(SigningKey::Vcek),
            1 => Some(SigningKey::Vlek),
            7 => Some(SigningKey::None),
            _ => None,
        }
    }
}
