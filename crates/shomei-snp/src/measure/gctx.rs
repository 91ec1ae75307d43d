//! The guest context: the launch digest chain over PAGE_INFO records (SNP ABI, PAGE_INFO table).

use aws_lc_rs::digest;

use super::MeasureError;

/// GPA recorded for VMSA pages: (u64)-1, page-aligned, bits above 51 cleared.
pub const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;

/// PAGE_INFO.PAGE_TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageType {
    Normal,
    Vmsa,
    Zero,
    Unmeasured,
    Secrets,
    Cpuid,
}

impl PageType {
    pub fn code(self) -> u8 {
        match self {
            Self::Normal => 1,
            Self::Vmsa => 2,
            Self::Zero => 3,
            Self::Unmeasured => 4,
            Self::Secrets => 5,
            Self::Cpuid => 6,
        }
    }
}

const PAGE: u64 = 4096;

/// The running launch digest.
#[derive(Debug, Clone)]
pub struct Gctx {
    ld: [u8; 48],
}

impl Default for Gctx {
    fn default() -> Self {
        Self::new()
    }
}

fn sha384(data: &[u8]) -> [u8; 48] {
    let mut out = [0u8; 48];
    out.copy_from_slice(digest::digest(&digest::SHA384, data).as_ref());
    out
}

/// SHA-384 of a page, memoized for uniform pages (one byte repeated): firmware images are mostly
/// 0xFF padding (518 of the 892 pages of Debian's OVMF_CODE_4M.fd), so hashing each fill byte
/// once halves the work.
fn page_digest(page: &[u8], uniform: &mut Uniform) -> [u8; 48] {
    if let Some(&first) = page.first() {
        // A comparison with a filled page compiles to memcmp: far cheaper than the hash.
        if page == [first; 4096].as_slice() {
            if let Some(slot) = uniform.get_mut(usize::from(first)) {
                return *slot.get_or_insert_with(|| sha384(page));
            }
        }
    }
    sha384(page)
}

fn hash_pages(part: &[u8], uniform: &mut Uniform) -> Vec<[u8; 48]> {
    part.chunks_exact(4096)
        .map(|p| page_digest(p, uniform))
        .collect()
}

/// Reads `buf.len()` bytes at an offset of a firmware image (a file, for a caller with I/O).
pub type ReadAt<'a> = dyn Fn(u64, &mut [u8]) -> Result<(), String> + Sync + 'a;

/// Pages are hashed in blocks of 64 KiB.
const BLOCK: usize = 16 * 4096;

fn thread_count() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 16)
}

type Uniform = [Option<[u8; 48]>; 256];

/// Hashes the pages of one block: `(offset, length, scratch buffer, memo)` → page digests.
type HashBlock<'a> = dyn Fn(usize, usize, &mut Vec<u8>, &mut Uniform) -> Result<Vec<[u8; 48]>, MeasureError>
    + Sync
    + 'a;

/// SHA-384 of every 4 KiB page of a `len`-byte image, in order. Large images are cut into
/// 64 KiB blocks dealt out round-robin to one thread per core (each with its own scratch buffer
/// and uniform-page memo), so that runs of cheap pages do not leave one thread with all the work.
fn page_digests(len: usize, hash_block: &HashBlock<'_>) -> Result<Vec<[u8; 48]>, MeasureError> {
    const PARALLEL_FROM: usize = 64 * 4096;
    let threads = if len < PARALLEL_FROM {
        1
    } else {
        thread_count()
    };
    let blocks = len.div_ceil(BLOCK);
    let hash_share = |t: usize| -> Result<Vec<Vec<[u8; 48]>>, MeasureError> {
        let (mut buf, mut uniform) = (Vec::new(), [None; 256]);
        (t..blocks)
            .step_by(threads)
            .map(|b| {
                let off = b.saturating_mul(BLOCK);
                hash_block(
                    off,
                    BLOCK.min(len.saturating_sub(off)),
                    &mut buf,
                    &mut uniform,
                )
            })
            .collect()
    };
    let shares: Vec<Vec<Vec<[u8; 48]>>> = if threads == 1 {
        vec![hash_share(0)?]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| (t, scope.spawn(move || hash_share(t))))
                .collect();
            handles
                .into_iter()
                // A hashing thread cannot panic; if one ever did, its share is hashed again here.
                .map(|(t, h)| h.join().unwrap_or_else(|_| hash_share(t)))
                .collect::<Result<_, _>>()
        })?
    };
    let mut iters: Vec<_> = shares.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(len / 4096);
    for i in 0..blocks {
        if let Some(block) = iters.get_mut(i % threads).and_then(Iterator::next) {
            out.extend(block);
        }
    }
    Ok(out)
}

fn page_count(len: u64) -> Result<u64, MeasureError> {
    if len % PAGE != 0 {
        return Err(MeasureError::Firmware(format!(
            "region of {len} bytes is not a whole number of 4 KiB pages"
        )));
    }
    Ok(len / PAGE)
}

impl Gctx {
    pub fn new() -> Self {
        Self { ld: [0; 48] }
    }

    pub fn with_seed(seed: [u8; 48]) -> Self {
        Self { ld: seed }
    }

    pub fn ld(&self) -> [u8; 48] {
        self.ld
    }

    /// LD = SHA-384(LD ‖ contents ‖ 0x0070 ‖ type ‖ is_imi=0 ‖ vmpl3..1 perms=0 ‖ 0 ‖ gpa).
    pub fn update(&mut self, page_type: PageType, gpa: u64, contents: &[u8; 48]) {
        let mut info = [0u8; 0x70];
        let (ld, rest) = info.split_at_mut(48);
        ld.copy_from_slice(&self.ld);
        let (c, rest) = rest.split_at_mut(48);
        c.copy_from_slice(contents);
        let (len, rest) = rest.split_at_mut(2);
        len.copy_from_slice(&0x70u16.to_le_bytes());
        let (ty, rest) = rest.split_at_mut(1);
        ty.copy_from_slice(&[page_type.code()]);
        let (_flags_perms, gpa_field) = rest.split_at_mut(5);
        gpa_field.copy_from_slice(&gpa.to_le_bytes());
        self.ld = sha384(&info);
    }

    /// Like [`Gctx::update_normal`] for an image of `len` bytes that is read in 64 KiB blocks by
    /// `read_at(offset, buf)` (which must fill `buf`), one reusable buffer per thread — so a large
    /// firmware file is never held in memory whole.
    pub fn update_normal_from(
        &mut self,
        gpa: u64,
        len: u64,
        read_at: &ReadAt<'_>,
    ) -> Result<(), MeasureError> {
        page_count(len)?;
        let len =
            usize::try_from(len).map_err(|_| MeasureError::Firmware("image too large".into()))?;
        let digests = page_digests(len, &|off, n, buf, uniform| {
            buf.resize(n, 0);
            read_at(u64::try_from(off).unwrap_or(u64::MAX), buf)
                .map_err(|e| MeasureError::Firmware(format!("reading the image: {e}")))?;
            Ok(hash_pages(buf, uniform))
        })?;
        self.chain_normal(gpa, &digests);
        Ok(())
    }

    /// Measures `data` as NORMAL pages from `gpa` on. The page digests are independent, so they
    /// are computed on every available core; only the PAGE_INFO chain is sequential.
    pub fn update_normal(&mut self, gpa: u64, data: &[u8]) -> Result<(), MeasureError> {
        page_count(u64::try_from(data.len()).unwrap_or(u64::MAX))?;
        let digests = page_digests(data.len(), &|off, n, _, uniform| {
            let block = off
                .checked_add(n)
                .and_then(|end| data.get(off..end))
                .ok_or_else(|| MeasureError::Firmware("block outside the image".into()))?;
            Ok(hash_pages(block, uniform))
        })?;
        self.chain_normal(gpa, &digests);
        Ok(())
    }

    fn chain_normal(&mut self, gpa: u64, digests: &[[u8; 48]]) {
        let mut addr = gpa;
        for d in digests {
            self.update(PageType::Normal, addr, d);
            addr = addr.wrapping_add(PAGE);
        }
    }

    fn update_empty(&mut self, t: PageType, gpa: u64, len: u64) -> Result<(), MeasureError> {
        for i in 0..page_count(len)? {
            self.update(t, gpa.wrapping_add(i * PAGE), &[0; 48]);
        }
        Ok(())
    }

    pub fn update_zero(&mut self, gpa: u64, len: u64) -> Result<(), MeasureError> {
        self.update_empty(PageType::Zero, gpa, len)
    }

    pub fn update_unmeasured(&mut self, gpa: u64, len: u64) -> Result<(), MeasureError> {
        self.update_empty(PageType::Unmeasured, gpa, len)
    }

    pub fn update_secrets(&mut self, gpa: u64) {
        self.update(PageType::Secrets, gpa, &[0; 48]);
    }

    pub fn update_cpuid(&mut self, gpa: u64) {
        self.update(PageType::Cpuid, gpa, &[0; 48]);
    }

    pub fn update_vmsa(&mut self, page: &[u8; 4096]) {
        self.update(PageType::Vmsa, VMSA_GPA, &sha384(page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_pages_measure_like_pages_in_memory() {
        // 37 pages: uniform runs and distinct pages, more than one 64 KiB block, a partial block.
        let mut data = vec![0xFFu8; 37 * 4096];
        for (i, b) in data.iter_mut().enumerate().skip(5 * 4096).take(9 * 4096) {
            *b = u8::try_from(i % 251).unwrap_or(0);
        }
        let mut a = Gctx::new();
        a.update_normal(0xFFDB_0000, &data).unwrap();
        let mut b = Gctx::new();
        let read_at = |off: u64, buf: &mut [u8]| {
            let off = usize::try_from(off).map_err(|e| e.to_string())?;
            let src = data.get(off..off + buf.len()).ok_or("out of range")?;
            buf.copy_from_slice(src);
            Ok(())
        };
        b.update_normal_from(0xFFDB_0000, u64::try_from(data.len()).unwrap(), &read_at)
            .unwrap();
        assert_eq!(a.ld(), b.ld());
        let failing = |_: u64, _: &mut [u8]| Err("disk on fire".to_owned());
        assert!(
            Gctx::new()
                .update_normal_from(0, 4096 * 20, &failing)
                .is_err()
        );
    }
}
