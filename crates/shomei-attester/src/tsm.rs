//! SEV-SNP reports through Linux configfs-tsm (`/sys/kernel/config/tsm/report`, kernel 6.7+;
//! ABI in `Documentation/ABI/testing/configfs-tsm-report`): create an entry directory, write
//! `inblob` (REPORT_DATA, at most 64 bytes) and `privlevel` (the VMPL), read `outblob` (the
//! report) and `auxblob` (the GHCB certificate table, when the host supplies one), and check
//! that `generation` did not move between the write and the reads (another writer raced us).
//! The entry is removed afterwards.
//!
//! `/dev/sev-guest` needs an ioctl, which needs `unsafe` (forbidden in this workspace);
//! configfs-tsm is the interface the kernel recommends, and the emulator
//! (`shomei_snp_emu::tsm::TsmDir`) implements the same files for tests.

use std::path::{Path, PathBuf};

/// The kernel's configfs-tsm root.
pub const TSM_ROOT: &str = "/sys/kernel/config/tsm";

/// A report and its certificate table as the kernel returned them.
#[derive(Debug, Clone)]
pub struct TsmReport {
    pub provider: String,
    pub outblob: Vec<u8>,
    /// Empty when the host supplied no certificates.
    pub auxblob: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsmError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the generation changed from {before} to {after}: another writer raced this request; retry"
    )]
    Raced {
        path: PathBuf,
        before: u64,
        after: u64,
    },
    #[error("{0}: configfs-tsm is not available (not a confidential guest, or kernel < 6.7)")]
    Unavailable(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TsmError + '_ {
    move |source| TsmError::Io {
        path: path.to_owned(),
        source,
    }
}

fn generation(entry: &Path) -> Result<u64, TsmError> {
    let p = entry.join("generation");
    let s = std::fs::read_to_string(&p).map_err(io(&p))?;
    Ok(s.trim().parse().unwrap_or(0))
}

/// The entry directory's name: unique per process and request.
fn entry_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "shomei-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The kernel's part, for tests against an emulated directory: given the entry, produce
/// `outblob`/`auxblob`.
pub type Service<'a> = &'a mut dyn FnMut(&Path) -> Result<(), String>;

/// Asks for a report. `service` runs between the write and the reads: `None` on a real kernel
/// (configfs answers synchronously on read); tests pass the emulator's kernel side.
pub fn request_report(
    root: &Path,
    report_data: &[u8; 64],
    privlevel: u32,
    service: Option<Service<'_>>,
) -> Result<TsmReport, TsmError> {
    let reports = root.join("report");
    if !reports.is_dir() {
        return Err(TsmError::Unavailable(reports));
    }
    let entry = reports.join(entry_name());
    std::fs::create_dir(&entry).map_err(io(&entry))?;
    let result = (|| {
        let inblob = entry.join("inblob");
        std::fs::write(&inblob, report_data).map_err(io(&inblob))?;
        let pl = entry.join("privlevel");
        std::fs::write(&pl, format!("{privlevel}\n")).map_err(io(&pl))?;
        if let Some(f) = service {
            f(&entry).map_err(|e| TsmError::Io {
                path: entry.clone(),
                source: std::io::Error::other(e),
            })?;
        }
        let before = generation(&entry)?;
        let out = entry.join("outblob");
        let outblob = std::fs::read(&out).map_err(io(&out))?;
        let aux = entry.join("auxblob");
        let auxblob = std::fs::read(&aux).unwrap_or_default();
        let prov = entry.join("provider");
        let provider = std::fs::read_to_string(&prov)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let after = generation(&entry)?;
        if before != after {
            return Err(TsmError::Raced {
                path: entry.clone(),
                before,
                after,
            });
        }
        Ok(TsmReport {
            provider,
            outblob,
            auxblob,
        })
    })();
    // configfs removes an entry with rmdir; the emulator's plain directory needs its files
    // removed first.
    if std::fs::remove_dir(&entry).is_err() {
        let _ = std::fs::remove_dir_all(&entry);
    }
    result
}
