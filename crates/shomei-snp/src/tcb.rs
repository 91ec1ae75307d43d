//! TCB_VERSION: eight raw bytes whose meaning depends on the product.
//!
//! | byte | Milan/Genoa | Turin/Venice |
//! |---|---|---|
//! | 0 | BOOT_LOADER | FMC |
//! | 1 | TEE | BOOT_LOADER |
//! | 2 | reserved | TEE |
//! | 3 | reserved | SNP |
//! | 4–5 | reserved | reserved |
//! | 6 | SNP | reserved |
//! | 7 | MICROCODE | MICROCODE |

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::Product;

/// The raw 8 bytes of a TCB_VERSION, kept as received and decoded on demand with a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawTcb(pub [u8; 8]);

/// A decoded TCB. `fmc` is present only for Turin and later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Tcb {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

/// One TCB component, for error messages and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcbComponent {
    Fmc,
    Bootloader,
    Tee,
    Snp,
    Microcode,
}

impl TcbComponent {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fmc => "fmc",
            Self::Bootloader => "bootloader",
            Self::Tee => "tee",
            Self::Snp => "snp",
            Self::Microcode => "microcode",
        }
    }
}

impl fmt::Display for TcbComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl RawTcb {
    /// Decodes with the product's layout. The reserved bytes are not interpreted.
    pub fn decode(self, product: Product) -> Tcb {
        let b = self.0;
        if product.has_fmc() {
            Tcb {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            Tcb {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            }
        }
    }

    pub fn hex(self) -> String {
        hex::encode(self.0)
    }
}

impl Tcb {
    /// Encodes with the product's layout (reserved bytes zero).
    pub fn encode(self, product: Product) -> RawTcb {
        if product.has_fmc() {
            RawTcb([
                self.fmc.unwrap_or(0),
                self.bootloader,
                self.tee,
                self.snp,
                0,
                0,
                0,
                self.microcode,
            ])
        } else {
            RawTcb([
                self.bootloader,
                self.tee,
                0,
                0,
                0,
                0,
                self.snp,
                self.microcode,
            ])
        }
    }

    /// The components in a fixed order, with FMC only when present.
    pub fn components(&self) -> impl Iterator<Item = (TcbComponent, u8)> + '_ {
        self.fmc.map(|f| (TcbComponent::Fmc, f)).into_iter().chain([
            (TcbComponent::Bootloader, self.bootloader),
            (TcbComponent::Tee, self.tee),
            (TcbComponent::Snp, self.snp),
            (TcbComponent::Microcode, self.microcode),
        ])
    }

    pub fn get(&self, c: TcbComponent) -> Option<u8> {
        match c {
            TcbComponent::Fmc => self.fmc,
            TcbComponent::Bootloader => Some(self.bootloader),
            TcbComponent::Tee => Some(self.tee),
            TcbComponent::Snp => Some(self.snp),
            TcbComponent::Microcode => Some(self.microcode),
        }
    }
}

impl fmt::Display for Tcb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bl={} tee={} snp={} ucode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turin_layout_puts_fmc_first_and_snp_at_byte_3() {
        let t = RawTcb([1, 1, 1, 4, 0, 0, 0, 0x52]).decode(Product::Turin);
        assert_eq!(
            t,
            Tcb {
                fmc: Some(1),
                bootloader: 1,
                tee: 1,
                snp: 4,
                microcode: 82
            }
        );
    }

    #[test]
    fn milan_layout_puts_snp_at_byte_6() {
        let t = RawTcb([3, 0, 0, 0, 0, 0, 8, 0x73]).decode(Product::Milan);
        assert_eq!(
            t,
            Tcb {
                fmc: None,
                bootloader: 3,
                tee: 0,
                snp: 8,
                microcode: 115
            }
        );
    }

    #[test]
    fn encode_inverts_decode() {
        for p in Product::ALL {
            let raw = RawTcb([7, 6, 5, 4, 0, 0, 3, 2]);
            let t = raw.decode(p);
            assert_eq!(t.encode(p).decode(p), t);
        }
    }
}
