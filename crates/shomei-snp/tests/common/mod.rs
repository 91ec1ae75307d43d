//! Locating the real vectors: `$SHOMEI_VECTORS`, else `../shared/vectors` next to the repository.
//! A missing folder is a failure with instructions, never a silent skip.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

pub fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("SHOMEI_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        });
    if !dir.join("snp").is_dir() {
        panic!(
            "real vectors not found at {}: set SHOMEI_VECTORS or run scripts/fetch-vectors",
            dir.display()
        );
    }
    dir
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = vectors_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
