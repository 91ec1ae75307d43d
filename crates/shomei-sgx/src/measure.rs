//! An enclave image description and its MRENCLAVE, computed as ECREATE/EADD/EEXTEND do (SDK
//! `sdk/sign_tool/SignTool/enclave_creator_sign.cpp`): SHA-256 over 64-byte records,
//!
//! * ECREATE: `"ECREATE\0"` ‖ SSAFRAMESIZE u32 (pages) ‖ SECS.SIZE u64 ‖ 44 × 0;
//! * EADD per page: `"EADD\0\0\0\0"` ‖ page offset u64 ‖ the first 48 bytes of SECINFO
//!   (FLAGS u64, then zeros);
//! * EEXTEND per 256-byte chunk: `"EEXTEND\0"` ‖ chunk offset u64 ‖ 48 × 0, then the 256 data
//!   bytes (16 chunks per 4 KiB page).
//!
//! Pages are measured in the order they are added, as on hardware.

use std::collections::HashSet;

use aws_lc_rs::digest;

use crate::error::LaunchError;
use crate::types::Measurement;

/// Page size.
pub const PAGE_SIZE: usize = 4096;
const PAGE_SIZE_U64: u64 = 4096;
const CHUNK: usize = 256;

/// SECINFO.FLAGS bits (SDM Vol. 3D, 34.11).
pub mod secinfo {
    pub const R: u64 = 0x1;
    pub const W: u64 = 0x2;
    pub const X: u64 = 0x4;
    /// PAGE_TYPE (bits 15:8) = PT_TCS.
    pub const PT_TCS: u64 = 1 << 8;
    /// PAGE_TYPE (bits 15:8) = PT_REG.
    pub const PT_REG: u64 = 2 << 8;
    pub(crate) const PAGE_TYPE_MASK: u64 = 0xFF00;
    pub(crate) const PERMS: u64 = R | W | X;
}

/// One EADDed page.
#[derive(Clone)]
struct Page {
    offset: u64,
    flags: u64,
    data: Box<[u8; PAGE_SIZE]>,
    measured: bool,
}

/// What the loader adds to an enclave: its ELRANGE size, the SSA frame size and the pages,
/// each with SECINFO flags and whether it is EEXTENDed.
#[derive(Clone)]
pub struct EnclaveImage {
    size: u64,
    ssa_frame_size: u32,
    pages: Vec<Page>,
    offsets: HashSet<u64>,
}

impl EnclaveImage {
    /// ECREATE: `size` is the ELRANGE (a power of two, at least two pages), `ssa_frame_size` is
    /// in pages.
    pub fn new(size: u64, ssa_frame_size: u32) -> Result<Self, LaunchError> {
        if !size.is_power_of_two() || size < 2 * PAGE_SIZE_U64 {
            return Err(LaunchError::EnclaveSize { size });
        }
        if ssa_frame_size == 0 {
            return Err(LaunchError::SsaFrameSize);
        }
        Ok(Self {
            size,
            ssa_frame_size,
            pages: Vec::new(),
            offsets: HashSet::new(),
        })
    }

    /// EADD one page at `offset` (relative to the enclave base) with SECINFO `flags`; `data` is
    /// at most 4 KiB and zero-padded. With `measure`, the page is also EEXTENDed.
    pub fn add_page(
        &mut self,
        offset: u64,
        flags: u64,
        data: &[u8],
        measure: bool,
    ) -> Result<&mut Self, LaunchError> {
        let in_range = offset
            .checked_add(PAGE_SIZE_U64)
            .is_some_and(|end| end <= self.size);
        if offset % PAGE_SIZE_U64 != 0 || !in_range {
            return Err(LaunchError::PageOffset {
                offset,
                size: self.size,
            });
        }
        let page_type = flags & secinfo::PAGE_TYPE_MASK;
        let perms = flags & secinfo::PERMS;
        let reserved = flags & !(secinfo::PAGE_TYPE_MASK | secinfo::PERMS);
        let valid = reserved == 0
            && match page_type {
                secinfo::PT_TCS => perms == 0,
                // W without R is not a valid permission set.
                secinfo::PT_REG => !(perms & secinfo::W != 0 && perms & secinfo::R == 0),
                _ => false,
            };
        if !valid {
            return Err(LaunchError::SecInfo { flags });
        }
        let mut page = Box::new([0u8; PAGE_SIZE]);
        match page.get_mut(..data.len()) {
            Some(dst) => dst.copy_from_slice(data),
            None => {
                return Err(LaunchError::PageOffset {
                    offset,
                    size: self.size,
                });
            }
        }
        if !self.offsets.insert(offset) {
            return Err(LaunchError::PageTwice { offset });
        }
        self.pages.push(Page {
            offset,
            flags,
            data: page,
            measured: measure,
        });
        Ok(self)
    }

    /// EADD (and EEXTEND) `data` as consecutive pages from `offset`.
    pub fn add_region(
        &mut self,
        offset: u64,
        flags: u64,
        data: &[u8],
        measure: bool,
    ) -> Result<&mut Self, LaunchError> {
        let mut at = offset;
        for chunk in data.chunks(PAGE_SIZE) {
            self.add_page(at, flags, chunk, measure)?;
            at = at
                .checked_add(PAGE_SIZE_U64)
                .ok_or(LaunchError::PageOffset {
                    offset: at,
                    size: self.size,
                })?;
        }
        Ok(self)
    }

    /// The ELRANGE size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of pages added.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// MRENCLAVE as EINIT finalises it.
    pub fn mr_enclave(&self) -> Measurement {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&record(
            b"ECREATE\0",
            &self.ssa_frame_size.to_le_bytes(),
            &self.size.to_le_bytes(),
        ));
        for page in &self.pages {
            ctx.update(&record(
                b"EADD\0\0\0\0",
                &page.offset.to_le_bytes(),
                &page.flags.to_le_bytes(),
            ));
            if page.measured {
                let mut chunk_offset = page.offset;
                for chunk in page.data.chunks(CHUNK) {
                    ctx.update(&record(b"EEXTEND\0", &chunk_offset.to_le_bytes(), &[]));
                    ctx.update(chunk);
                    chunk_offset = chunk_offset.saturating_add(256);
                }
            }
        }
        let mut out = [0u8; 32];
        for (o, d) in out.iter_mut().zip(ctx.finish().as_ref()) {
            *o = *d;
        }
        Measurement(out)
    }
}

/// A 64-byte measurement record: `tag` ‖ `a` ‖ `b`, zero-filled.
fn record(tag: &[u8; 8], a: &[u8], b: &[u8]) -> [u8; 64] {
    let mut rec = [0u8; 64];
    for (dst, src) in rec.iter_mut().zip(tag.iter().chain(a).chain(b)) {
        *dst = *src;
    }
    rec
}

impl core::fmt::Debug for EnclaveImage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EnclaveImage")
            .field("size", &self.size)
            .field("ssa_frame_size", &self.ssa_frame_size)
            .field("pages", &self.pages.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records written out by hand, hashed with an independent SHA-256 call per record.
    #[test]
    fn mrenclave_is_the_hash_of_the_ecreate_eadd_eextend_records() {
        let mut img = EnclaveImage::new(0x4000, 1).unwrap();
        img.add_page(0, secinfo::PT_TCS, &[], true).unwrap();
        img.add_page(
            0x1000,
            secinfo::PT_REG | secinfo::R | secinfo::X,
            b"code",
            true,
        )
        .unwrap();
        img.add_page(
            0x2000,
            secinfo::PT_REG | secinfo::R | secinfo::W,
            &[],
            false,
        )
        .unwrap();

        let mut stream = Vec::new();
        let mut ecreate = b"ECREATE\0".to_vec();
        ecreate.extend_from_slice(&1u32.to_le_bytes());
        ecreate.extend_from_slice(&0x4000u64.to_le_bytes());
        ecreate.resize(64, 0);
        stream.extend_from_slice(&ecreate);
        for (off, flags, data, measured) in [
            (0u64, 0x100u64, vec![], true),
            (0x1000, 0x205, b"code".to_vec(), true),
            (0x2000, 0x203, vec![], false),
        ] {
            let mut eadd = b"EADD\0\0\0\0".to_vec();
            eadd.extend_from_slice(&off.to_le_bytes());
            eadd.extend_from_slice(&flags.to_le_bytes());
            eadd.resize(64, 0);
            stream.extend_from_slice(&eadd);
            if measured {
                let mut page = data.clone();
                page.resize(4096, 0);
                for i in 0..16u64 {
                    let mut ext = b"EEXTEND\0".to_vec();
                    ext.extend_from_slice(&(off + i * 256).to_le_bytes());
                    ext.resize(64, 0);
                    stream.extend_from_slice(&ext);
                    let s = usize::try_from(i * 256).unwrap();
                    stream.extend_from_slice(&page[s..s + 256]);
                }
            }
        }
        let expected = digest::digest(&digest::SHA256, &stream);
        assert_eq!(img.mr_enclave().0.as_slice(), expected.as_ref());
        // 64 + 3 × 64 + 2 × 16 × (64 + 256) bytes were hashed.
        assert_eq!(stream.len(), 64 + 3 * 64 + 2 * 16 * 320);
    }

    #[test]
    fn any_page_byte_changes_mrenclave_but_unmeasured_content_does_not() {
        let build = |code: &[u8], data: &[u8]| {
            let mut img = EnclaveImage::new(0x4000, 1).unwrap();
            img.add_page(
                0x1000,
                secinfo::PT_REG | secinfo::R | secinfo::X,
                code,
                true,
            )
            .unwrap();
            img.add_page(
                0x2000,
                secinfo::PT_REG | secinfo::R | secinfo::W,
                data,
                false,
            )
            .unwrap();
            img.mr_enclave()
        };
        assert_ne!(build(b"code", b""), build(b"cod3", b""));
        assert_eq!(build(b"code", b""), build(b"code", b"heap"));
    }

    #[test]
    fn ecreate_and_eadd_refuse_bad_layouts() {
        assert!(matches!(
            EnclaveImage::new(0x3000, 1),
            Err(LaunchError::EnclaveSize { .. })
        ));
        assert!(matches!(
            EnclaveImage::new(0x1000, 1),
            Err(LaunchError::EnclaveSize { .. })
        ));
        assert!(matches!(
            EnclaveImage::new(0x2000, 0),
            Err(LaunchError::SsaFrameSize)
        ));
        let mut img = EnclaveImage::new(0x2000, 1).unwrap();
        let reg = secinfo::PT_REG | secinfo::R;
        assert!(matches!(
            img.add_page(0x800, reg, &[], true),
            Err(LaunchError::PageOffset { .. })
        ));
        assert!(matches!(
            img.add_page(0x2000, reg, &[], true),
            Err(LaunchError::PageOffset { .. })
        ));
        assert!(matches!(
            img.add_page(0, reg, &[0u8; 4097], true),
            Err(LaunchError::PageOffset { .. })
        ));
        assert!(matches!(
            img.add_page(0, secinfo::PT_TCS | secinfo::R, &[], true),
            Err(LaunchError::SecInfo { .. })
        ));
        assert!(matches!(
            img.add_page(0, secinfo::PT_REG | secinfo::W, &[], true),
            Err(LaunchError::SecInfo { .. })
        ));
        assert!(matches!(
            img.add_page(0, 3 << 8, &[], true),
            Err(LaunchError::SecInfo { .. })
        ));
        assert!(matches!(
            img.add_page(0, reg | 0x8, &[], true),
            Err(LaunchError::SecInfo { .. })
        ));
        img.add_page(0, reg, &[], true).unwrap();
        assert!(matches!(
            img.add_page(0, reg, &[], true),
            Err(LaunchError::PageTwice { offset: 0 })
        ));
    }
}
