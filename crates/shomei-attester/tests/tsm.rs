//! The configfs-tsm client against the emulator's kernel side: the report it returns carries
//! the REPORT_DATA and VMPL asked for and verifies under the emulated root.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use shomei_attester::tsm::{TsmError, request_report};
use shomei_snp::{Product, Tcb};
use shomei_snp_emu::tsm::TsmDir;
use shomei_snp_emu::{EmulatedChip, KeySizeOpt, RootOptions, TestRoot};

#[test]
fn reports_through_configfs_tsm() {
    let root = Arc::new(
        TestRoot::generate(
            Product::Genoa,
            RootOptions {
                rsa_bits: KeySizeOpt::Rsa2048,
                ..RootOptions::default()
            },
        )
        .unwrap(),
    );
    let tcb = Tcb {
        fmc: None,
        bootloader: 9,
        tee: 0,
        snp: 23,
        microcode: 72,
    };
    let chip = Arc::new(EmulatedChip::new(Arc::clone(&root), [3; 32], tcb));
    let guest = chip.launch_start(0x30000).finish([0; 32], None).unwrap();
    let dir = std::env::temp_dir().join(format!("shomei-tsm-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("report")).unwrap();

    let rd = [0x5a; 64];
    let mut kernel = |entry: &Path| -> Result<(), String> {
        let name = entry.file_name().unwrap().to_str().unwrap().to_owned();
        let mut d = TsmDir::create(&dir, &name).map_err(|e| e.to_string())?;
        d.service(&guest, 5).map_err(|e| e.to_string())
    };
    let r = request_report(&dir, &rd, 1, Some(&mut kernel)).unwrap();
    assert_eq!(r.provider, "sev_guest");
    let report = shomei_snp::Report::parse(&r.outblob).unwrap();
    assert_eq!(report.report_data(), &rd);
    assert_eq!(report.vmpl(), 1);
    assert!(!r.auxblob.is_empty());
    let entries = shomei_snp::certtable::parse(&r.auxblob).unwrap();
    let collateral = shomei_snp::certtable::to_collateral(&entries).unwrap();
    let anchors = root.anchors().unwrap();
    let opts = shomei_snp::VerifyOptions::at(shomei_core::UnixTime::from_secs(1_800_000_000))
        .with_anchors(&anchors);
    shomei_snp::verify(&r.outblob, &collateral, &opts).unwrap();
    // The entry is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.join("report")).unwrap().count(), 0);

    // No configfs-tsm: a clear error.
    let none = request_report(Path::new("/nonexistent-tsm"), &rd, 0, None);
    assert!(matches!(none, Err(TsmError::Unavailable(_))));
    let _ = std::fs::remove_dir_all(&dir);
}
