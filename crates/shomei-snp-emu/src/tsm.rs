//! A configfs-tsm-shaped directory (Linux `Documentation/ABI/testing/configfs-tsm-report`) backed
//! by an emulated guest, so code written for `/sys/kernel/config/tsm/report` runs against files:
//! the client creates `report/<name>/`, writes `inblob` (≤ 64 bytes of REPORT_DATA) and
//! `privlevel` (VMPL), and reads `outblob` (the report), `auxblob` (the GHCB certificate
//! table), `provider` (`sev_guest\n`) and `generation`. The kernel's part — producing
//! `outblob`/`auxblob` and bumping `generation` after each write — is [`TsmDir::service`].

use std::path::{Path, PathBuf};

use crate::{EmuError, Guest, ReportRequest};

/// The kernel side of one report entry directory.
pub struct TsmDir {
    entry: PathBuf,
    generation: u64,
}

fn io(e: std::io::Error, p: &Path) -> EmuError {
    EmuError::Launch(format!("{}: {e}", p.display()))
}

impl TsmDir {
    /// Creates `<root>/report/<name>/` with `provider`, `generation` and `privlevel_floor`.
    pub fn create(root: &Path, name: &str) -> Result<Self, EmuError> {
        let entry = root.join("report").join(name);
        std::fs::create_dir_all(&entry).map_err(|e| io(e, &entry))?;
        let d = Self {
            entry,
            generation: 0,
        };
        d.write("provider", b"sev_guest\n")?;
        d.write("privlevel_floor", b"0\n")?;
        d.write("generation", b"0\n")?;
        Ok(d)
    }

    pub fn path(&self) -> &Path {
        &self.entry
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), EmuError> {
        let p = self.entry.join(name);
        std::fs::write(&p, data).map_err(|e| io(e, &p))
    }

    /// Answers the request in the directory: reads `inblob` and `privlevel`, writes `outblob` and
    /// `auxblob`, and increments `generation`. An `inblob` over 64 bytes is refused like the
    /// kernel refuses it (EINVAL), leaving no report.
    pub fn service(&mut self, guest: &Guest, version: u32) -> Result<(), EmuError> {
        let inblob_path = self.entry.join("inblob");
        let inblob = std::fs::read(&inblob_path).unwrap_or_default();
        if inblob.len() > 64 {
            return Err(EmuError::Launch(
                "inblob: more than 64 bytes (EINVAL)".into(),
            ));
        }
        let vmpl = std::fs::read_to_string(self.entry.join("privlevel"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if vmpl > 3 {
            return Err(EmuError::Launch("privlevel: must be 0-3 (EINVAL)".into()));
        }
        let mut report_data = [0u8; 64];
        if let Some(dst) = report_data.get_mut(..inblob.len()) {
            dst.copy_from_slice(&inblob);
        }
        let mut req = ReportRequest::new(report_data);
        req.vmpl = vmpl;
        req.version = version;
        let (report, table) = guest.extended_report(&req)?;
        self.write("outblob", &report)?;
        self.write("auxblob", &table)?;
        self.generation = self.generation.saturating_add(1);
        self.write("generation", format!("{}\n", self.generation).as_bytes())
    }
}
