//! The on-disk cache: bounded reads, atomic writes (a temporary file in the same directory,
//! synced, then renamed over the entry), so that a reader never sees half an entry and a crash
//! leaves either the old entry or the new one.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::KdsError;
use crate::http::MAX_BODY;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KdsError + '_ {
    move |source| KdsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads an entry: `Ok(None)` when it does not exist. Entries larger than any KDS response are
/// reported as invalid rather than read.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, KdsError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BODY.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_BODY {
        return Err(KdsError::InvalidCache {
            path: path.to_path_buf(),
            detail: format!("larger than {MAX_BODY} bytes"),
        });
    }
    Ok(Some(bytes))
}

/// Writes an entry atomically, creating its directories.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), KdsError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = File::create_new(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the entry itself is untouched either way.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}
