//! AMD EPYC generations that run SEV-SNP, and how to tell them apart.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// A processor generation. It decides the TCB layout, the AMD root of trust and the KDS path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Zen 3 (family 19h, models 00h–0Fh).
    Milan,
    /// Zen 4 (family 19h, models 10h–1Fh and A0h–AFh: Genoa, Bergamo, Siena).
    Genoa,
    /// Zen 5 (family 1Ah, models 00h–11h).
    Turin,
    /// Zen 6 (family 1Ah, models 50h–57h, 90h–AFh, C0h–C7h). No AMD root is published yet.
    Venice,
}

impl Product {
    pub const ALL: [Product; 4] = [Self::Milan, Self::Genoa, Self::Turin, Self::Venice];

    /// The product from the report's CPUID_FAM_ID / CPUID_MOD_ID (report v3+). Matches on model
    /// *ranges*, not single models (go-sev-guest's single-model match misses Turin models 0/1).
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Self::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Self::Genoa),
            (0x1A, 0x00..=0x11) => Some(Self::Turin),
            (0x1A, 0x50..=0x57) | (0x1A, 0x90..=0xAF) | (0x1A, 0xC0..=0xC7) => Some(Self::Venice),
            _ => None,
        }
    }

    /// The product named by a VEK's productName extension (`Milan-B0`, `Genoa`, `Turin`, …).
    pub fn from_product_name(name: &str) -> Option<Self> {
        let base = name.split('-').next().unwrap_or(name);
        match base.to_ascii_lowercase().as_str() {
            "milan" => Some(Self::Milan),
            "genoa" | "siena" | "bergamo" => Some(Self::Genoa),
            "turin" => Some(Self::Turin),
            "venice" => Some(Self::Venice),
            _ => None,
        }
    }

    /// The name in KDS URLs and AMD certificate names (`Milan`, `Genoa`, `Turin`, `Venice`).
    pub fn kds_name(self) -> &'static str {
        match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
            Self::Venice => "Venice",
        }
    }

    /// Whether the TCB uses the Turin layout (FMC first, 8-byte hwID).
    pub fn has_fmc(self) -> bool {
        matches!(self, Self::Turin | Self::Venice)
    }

    /// Length of the hwID in the VCEK and of the meaningful prefix of CHIP_ID.
    pub fn hwid_len(self) -> usize {
        if self.has_fmc() { 8 } else { 64 }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Milan => "milan",
            Self::Genoa => "genoa",
            Self::Turin => "turin",
            Self::Venice => "venice",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown product {0:?}: expected milan, genoa, turin or venice")]
pub struct UnknownProduct(pub String);

impl FromStr for Product {
    type Err = UnknownProduct;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_product_name(s).ok_or_else(|| UnknownProduct(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_ranges_cover_real_parts() {
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x19, 0xA0), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x00), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x1A, 0x11), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x1A, 0x50), Some(Product::Venice));
        assert_eq!(Product::from_cpuid(0x17, 0x31), None);
        assert_eq!(Product::from_cpuid(0, 0), None);
    }

    #[test]
    fn product_names_with_and_without_stepping() {
        assert_eq!(Product::from_product_name("Milan-B0"), Some(Product::Milan));
        assert_eq!(Product::from_product_name("Genoa"), Some(Product::Genoa));
        assert_eq!(Product::from_product_name("Turin"), Some(Product::Turin));
        assert_eq!("GENOA".parse::<Product>().ok(), Some(Product::Genoa));
        assert!("rome".parse::<Product>().is_err());
    }
}
