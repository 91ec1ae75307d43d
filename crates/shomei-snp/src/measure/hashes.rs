//! The SEV hash table for measured direct boot, laid out exactly as QEMU writes it:
//! `{GUID, u16 len}` then `{GUID, u16 len=50, SHA-256}` for the command line, initrd and kernel,
//! padded to 16 bytes. GUIDs in EFI byte order.

use aws_lc_rs::digest;

use super::MeasureError;
use super::ovmf::efi_guid;

/// 9438d606-4f22-4cc9-b479-a793d411fd21
const TABLE_GUID: [u8; 16] = efi_guid([
    0x94, 0x38, 0xd6, 0x06, 0x4f, 0x22, 0x4c, 0xc9, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21,
]);
/// 4de79437-abd2-427f-b835-d5b172d2045b
const KERNEL_GUID: [u8; 16] = efi_guid([
    0x4d, 0xe7, 0x94, 0x37, 0xab, 0xd2, 0x42, 0x7f, 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b,
]);
/// 44baf731-3a2f-4bd7-9af1-41e29169781d
const INITRD_GUID: [u8; 16] = efi_guid([
    0x44, 0xba, 0xf7, 0x31, 0x3a, 0x2f, 0x4b, 0xd7, 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d,
]);
/// 97d02dd8-bd20-4c94-aa78-e7714d36ab2a
const CMDLINE_GUID: [u8; 16] = efi_guid([
    0x97, 0xd0, 0x2d, 0xd8, 0xbd, 0x20, 0x4c, 0x94, 0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a,
]);

const ENTRY_LEN: u16 = 16 + 2 + 32;
const TABLE_LEN: u16 = 16 + 2 + 3 * ENTRY_LEN;
/// The table padded to a multiple of 16 bytes.
pub const PADDED_LEN: usize = 176;

/// The three hashes of a measured direct boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SevHashes {
    pub kernel: [u8; 32],
    pub initrd: [u8; 32],
    pub cmdline: [u8; 32],
}

fn sha256(d: &[u8]) -> [u8; 32] {
    let mut o = [0u8; 32];
    o.copy_from_slice(digest::digest(&digest::SHA256, d).as_ref());
    o
}

impl SevHashes {
    /// An absent initrd hashes as the empty string; the command line is hashed with its NUL
    /// terminator (an absent one as a lone NUL).
    pub fn new(kernel: &[u8], initrd: Option<&[u8]>, append: Option<&str>) -> Self {
        let mut cmdline = append.unwrap_or("").as_bytes().to_vec();
        cmdline.push(0);
        Self {
            kernel: sha256(kernel),
            initrd: sha256(initrd.unwrap_or(&[])),
            cmdline: sha256(&cmdline),
        }
    }

    /// The padded table (176 bytes).
    pub fn table(&self) -> Vec<u8> {
        let mut t = Vec::with_capacity(PADDED_LEN);
        t.extend_from_slice(&TABLE_GUID);
        t.extend_from_slice(&TABLE_LEN.to_le_bytes());
        for (g, h) in [
            (CMDLINE_GUID, &self.cmdline),
            (INITRD_GUID, &self.initrd),
            (KERNEL_GUID, &self.kernel),
        ] {
            t.extend_from_slice(&g);
            t.extend_from_slice(&ENTRY_LEN.to_le_bytes());
            t.extend_from_slice(h);
        }
        t.resize(PADDED_LEN, 0);
        t
    }

    /// A zero page holding the table at `offset`.
    pub fn page(&self, offset: u64) -> Result<[u8; 4096], MeasureError> {
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut page = [0u8; 4096];
        let dst = off
            .checked_add(PADDED_LEN)
            .and_then(|end| page.get_mut(off..end))
            .ok_or_else(|| {
                MeasureError::Firmware(format!(
                    "SEV hash table at page offset {offset:#x} does not fit in the page"
                ))
            })?;
        dst.copy_from_slice(&self.table());
        Ok(page)
    }
}
