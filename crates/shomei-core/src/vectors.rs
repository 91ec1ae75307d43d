//! Where the real test vectors are: `$SHOMEI_VECTORS`, else `../shared/vectors` from the working
//! directory (or from the repository root when run in a crate directory), else next to the source
//! tree. Used by tests and `shomei bench`;
//! a missing folder is an error with instructions, never a silent skip.

use std::path::{Path, PathBuf};

/// The vectors folder was not found.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "real vectors not found (looked in {looked}): set SHOMEI_VECTORS or run scripts/fetch-vectors"
)]
pub struct NotFound {
    pub looked: String,
}

/// Locates the vectors folder (it must contain `snp/`).
pub fn locate() -> Result<PathBuf, NotFound> {
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    let candidates: Vec<PathBuf> = match std::env::var_os("SHOMEI_VECTORS") {
        // An explicit setting is the only place looked at.
        Some(v) => vec![PathBuf::from(v)],
        // From the repository root (the CLI), from a crate directory (cargo test), or next to
        // the source tree this was built from.
        None => vec![
            PathBuf::from("../shared/vectors"),
            PathBuf::from("../../../shared/vectors"),
            source_tree,
        ],
    };
    candidates
        .iter()
        .find(|c| c.join("snp").is_dir())
        // Absolute, so that it stays right for a child process in another directory.
        .map(|c| std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()))
        .ok_or_else(|| NotFound {
            looked: candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads `rel` below the vectors folder.
pub fn read(rel: &str) -> Result<Vec<u8>, String> {
    let dir = locate().map_err(|e| e.to_string())?;
    let p = dir.join(rel);
    std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
}
