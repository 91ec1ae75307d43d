//! Running the `shomei` binary in tests: `V:<path>` arguments name files in the real vectors.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

/// The real vectors; a missing folder fails the test with instructions.
pub fn vectors() -> PathBuf {
    shomei_core::vectors::locate().unwrap_or_else(|e| panic!("{e}"))
}

/// One run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs `shomei` with `args`; `V:rel` becomes the path of `rel` in the vectors.
pub fn shomei(args: &[&str]) -> Run {
    let v = vectors();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.strip_prefix("V:")
                .map(|rel| v.join(rel).display().to_string())
                .unwrap_or_else(|| (*a).to_owned())
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_shomei"))
        .args(&args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Exit 1 with exactly one stderr line `rejected: <check>: <detail>`.
pub fn assert_rejected(r: &Run, check: &str) {
    assert_eq!(r.code, 1, "stdout: {} stderr: {}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].starts_with(&format!("rejected: {check}: ")),
        "{}",
        r.stderr
    );
}
