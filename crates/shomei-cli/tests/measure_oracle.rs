//! `shomei snp measure` against the oracle, sev-snp-measure 0.0.13 (PyPI), on the real fixtures,
//! Debian's full OVMF images and random inputs: random kernels, initrds, command lines, vCPU counts
//! and types, guest features, VMM types, modes and synthetic firmware. The cases are chosen at
//! random each run; the seed is printed (`SHOMEI_SEED=<seed>` replays a run,
//! `SHOMEI_ORACLE_CASES=<n>` sets how many).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use shomei_snp::measure::{
    FOOTER_GUID, SEV_ES_RESET_BLOCK_GUID, SEV_HASH_TABLE_RV_GUID, SEV_METADATA_GUID, SVSM_INFO_GUID,
};

const ORACLE: &str = "sev-snp-measure";

/// splitmix64: small, seedable, good enough to pick cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next().to_le_bytes()[0]).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

fn require_oracle() {
    let ok = Command::new(ORACLE)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{ORACLE} is not installed: `pip install sev-snp-measure==0.0.13` (scripts/test installs it)"
    );
}

fn run(prog: &str, args: &[String]) -> (bool, String) {
    let out = Command::new(prog).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        stdout.lines().last().unwrap_or("").to_owned(),
    )
}

/// Whether both agree; `digests` counts the cases where both produced one (not both an error).
fn compare_counting(args: &[String], what: &str, digests: &mut u64) -> bool {
    let (ok_py, py) = run(ORACLE, args);
    let (ok_rs, rs) = run(
        env!("CARGO_BIN_EXE_shomei"),
        &[&["snp".to_owned(), "measure".to_owned()], args].concat(),
    );
    if ok_py && ok_rs && py == rs {
        *digests += 1;
    }
    let same = ok_py == ok_rs && (!ok_py || py == rs);
    if !same {
        eprintln!(
            "MISMATCH ({what}): {ORACLE} {}\n  oracle: ok={ok_py} {py}\n  shomei: ok={ok_rs} {rs}",
            args.join(" ")
        );
    }
    same
}

fn compare(args: &[String], what: &str) -> bool {
    let (ok_py, py) = run(ORACLE, args);
    let (ok_rs, rs) = run(
        env!("CARGO_BIN_EXE_shomei"),
        &[&["snp".to_owned(), "measure".to_owned()], args].concat(),
    );
    let same = ok_py == ok_rs && (!ok_py || py == rs);
    if !same {
        eprintln!(
            "MISMATCH ({what}): {ORACLE} {}\n  oracle: ok={ok_py} {py}\n  shomei: ok={ok_rs} {rs}",
            args.join(" ")
        );
    }
    same
}

/// A synthetic firmware image: random pages, an `ASEV` metadata block with random sections, and
/// the GUIDed footer table ending 32 bytes before the end.
fn synthetic_firmware(r: &mut Rng, svsm: bool) -> Vec<u8> {
    let pages = 2 + usize::try_from(r.below(12)).unwrap();
    synthetic_firmware_of(r, svsm, pages)
}

fn synthetic_firmware_of(r: &mut Rng, svsm: bool, pages: usize) -> Vec<u8> {
    let mut img = r.bytes(pages * 4096);
    // Sections: random types and sizes in low memory, page aligned; one KERNEL_HASHES page.
    let mut sections: Vec<(u32, u32, u32)> = Vec::new();
    let mut gpa = 0x80_0000u32;
    let n = 1 + r.below(6);
    for _ in 0..n {
        let t = *r.pick(&[1u32, 1, 2, 3, 4]);
        let size = if t == 2 || t == 3 {
            4096
        } else {
            4096 * (1 + u32::try_from(r.below(4)).unwrap())
        };
        sections.push((gpa, size, t));
        gpa += size;
    }
    let kh_gpa = gpa;
    sections.insert(
        usize::try_from(r.below(sections.len() as u64 + 1)).unwrap(),
        (kh_gpa, 4096, 0x10),
    );
    // ASEV header + items at offset 0 of the image.
    let mut meta = Vec::new();
    meta.extend_from_slice(b"ASEV");
    meta.extend_from_slice(
        &u32::try_from(16 + 12 * sections.len())
            .unwrap()
            .to_le_bytes(),
    );
    meta.extend_from_slice(&1u32.to_le_bytes());
    meta.extend_from_slice(&u32::try_from(sections.len()).unwrap().to_le_bytes());
    for (g, s, t) in &sections {
        for v in [g, s, t] {
            meta.extend_from_slice(&v.to_le_bytes());
        }
    }
    img[..meta.len()].copy_from_slice(&meta);
    let len = u32::try_from(img.len()).unwrap();
    let hash_off = u32::try_from(r.below(4096 - 176)).unwrap();
    let mut entries: Vec<([u8; 16], Vec<u8>)> = vec![
        (
            SEV_ES_RESET_BLOCK_GUID,
            u32::try_from(r.below(1 << 32))
                .unwrap()
                .to_le_bytes()
                .to_vec(),
        ),
        (
            SEV_HASH_TABLE_RV_GUID,
            [(kh_gpa + hash_off).to_le_bytes(), 0x400u32.to_le_bytes()].concat(),
        ),
        (SEV_METADATA_GUID, len.to_le_bytes().to_vec()),
    ];
    if svsm {
        entries.push((
            SVSM_INFO_GUID,
            u32::try_from(r.below(u64::from(len)))
                .unwrap()
                .to_le_bytes()
                .to_vec(),
        ));
    }
    // Shuffle the entry order a little.
    if r.chance(50) {
        entries.reverse();
    }
    let mut table = Vec::new();
    for (g, d) in &entries {
        table.extend_from_slice(d);
        table.extend_from_slice(&u16::try_from(d.len() + 18).unwrap().to_le_bytes());
        table.extend_from_slice(g);
    }
    table.extend_from_slice(&u16::try_from(table.len() + 18).unwrap().to_le_bytes());
    table.extend_from_slice(&FOOTER_GUID);
    let end = img.len() - 32;
    img[end - table.len()..end].copy_from_slice(&table);
    img
}

fn debian_ovmf() -> Vec<PathBuf> {
    let found: Vec<PathBuf> = [
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_CODE.fd",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.is_file())
    .collect();
    assert!(
        !found.is_empty(),
        "Debian's OVMF images are missing: `apt-get install ovmf` (scripts/test installs it)"
    );
    found
}

fn s(x: impl ToString) -> String {
    x.to_string()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.display().to_string()
}

#[test]
fn random_cases_match_sev_snp_measure() {
    require_oracle();
    let seed = std::env::var("SHOMEI_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let cases: u64 = std::env::var("SHOMEI_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    println!("measure oracle: SHOMEI_SEED={seed} SHOMEI_ORACLE_CASES={cases}");
    eprintln!("measure oracle: SHOMEI_SEED={seed} SHOMEI_ORACLE_CASES={cases}");
    let mut r = Rng(seed);
    let v = shomei_core::vectors::locate().unwrap_or_else(|e| panic!("{e}"));
    let mut firmwares: Vec<String> = vec![
        v.join("snp/measure/ovmf_AmdSev_suffix.bin")
            .display()
            .to_string(),
        v.join("snp/measure/ovmf_OvmfX64_suffix.bin")
            .display()
            .to_string(),
    ];
    firmwares.extend(debian_ovmf().iter().map(|p| p.display().to_string()));
    let dir = std::env::temp_dir().join(format!("shomei-measure-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = 0;
    let mut digests = 0u64;
    let mut per_mode: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for case in 0..cases {
        let mut args: Vec<String> = Vec::new();
        let mode = *r.pick(&[
            "snp",
            "snp",
            "snp",
            "snp",
            "snp:ovmf-hash",
            "seves",
            "sev",
            "snp:svsm",
        ]);
        args.extend([s("--mode"), s(mode)]);
        let ovmf = if r.chance(25) {
            write(
                &dir,
                &format!("fw{case}.fd"),
                &synthetic_firmware(&mut r, false),
            )
        } else {
            r.pick(&firmwares).clone()
        };
        args.extend([s("--ovmf"), ovmf]);
        args.extend([s("--vcpus"), s(1 + r.below(64))]);
        match r.below(3) {
            0 => args.extend([
                s("--vcpu-type"),
                s(r.pick(&shomei_snp::measure::VCPU_TYPES)),
            ]),
            1 => args.extend([s("--vcpu-sig"), format!("{:#x}", r.below(1 << 32))]),
            _ => args.extend([
                s("--vcpu-family"),
                s(1 + r.below(40)),
                s("--vcpu-model"),
                s(r.below(256)),
                s("--vcpu-stepping"),
                s(r.below(16)),
            ]),
        }
        if mode != "snp:svsm" {
            args.extend([s("--vmm-type"), s(r.pick(&["QEMU", "ec2", "gce"]))]);
        }
        let random_features = r.next() | 1;
        args.extend([
            s("--guest-features"),
            format!("{:#x}", *r.pick(&[1, 0x21, random_features, 0])),
        ]);
        if r.chance(50) {
            args.extend([s("--output-format"), s(r.pick(&["hex", "base64"]))]);
        }
        if mode == "snp" && r.chance(15) {
            args.extend([s("--snp-ovmf-hash"), hex::encode(r.bytes(48))]);
        }
        if mode == "snp:svsm" {
            let svsm = write(
                &dir,
                &format!("svsm{case}.bin"),
                &synthetic_firmware(&mut r, true),
            );
            args.extend([
                s("--svsm"),
                svsm,
                s("--vars-size"),
                s(4096 * (1 + r.below(128))),
            ]);
        } else if r.chance(50) {
            let klen = usize::try_from(r.below(300_000)).unwrap();
            let kernel = write(&dir, &format!("k{case}"), &r.bytes(klen));
            args.extend([s("--kernel"), kernel]);
            if r.chance(60) {
                let ilen = usize::try_from(r.below(200_000)).unwrap();
                let initrd = write(&dir, &format!("i{case}"), &r.bytes(ilen));
                args.extend([s("--initrd"), initrd]);
            }
            if r.chance(70) {
                let words = [
                    "console=ttyS0",
                    "root=/dev/sda1",
                    "quiet",
                    "ro",
                    "init=/sbin/init",
                    "é",
                    "a=b c",
                ];
                let n = r.below(6);
                let cmd: Vec<&str> = (0..n).map(|_| *r.pick(&words)).collect();
                args.extend([s("--append"), cmd.join(" ")]);
            }
        }
        let before = digests;
        if !compare_counting(&args, &format!("case {case}"), &mut digests) {
            failures += 1;
        }
        let e = per_mode.entry(mode).or_default();
        e.0 += 1;
        e.1 += digests - before;
    }
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "measure oracle: {digests} of {cases} cases produced the same digest, the rest the same error"
    );
    assert_eq!(
        failures, 0,
        "{failures} of {cases} cases differ (SHOMEI_SEED={seed})"
    );
    println!("measure oracle: per mode (cases, digests): {per_mode:?}");
    // Most cases must exercise a real digest, not just agree on an error; so must every mode.
    assert!(
        digests * 2 >= cases,
        "only {digests} of {cases} cases produced a digest"
    );
    for (mode, (n, d)) in &per_mode {
        assert!(*n < 4 || *d > 0, "mode {mode}: {n} cases and no digest");
    }
}

#[test]
fn readme_vectors_and_errors_match() {
    require_oracle();
    let v = shomei_core::vectors::locate().unwrap_or_else(|e| panic!("{e}"));
    let amd = v
        .join("snp/measure/ovmf_AmdSev_suffix.bin")
        .display()
        .to_string();
    let x64 = v
        .join("snp/measure/ovmf_OvmfX64_suffix.bin")
        .display()
        .to_string();
    // The documented value (vectors/README.md), independent of both implementations' runs.
    let args: Vec<String> = [
        "--mode",
        "snp",
        "--vcpus",
        "1",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        &amd,
        "--guest-features",
        "0x1",
    ]
    .iter()
    .map(s)
    .collect();
    let (ok, out) = run(
        env!("CARGO_BIN_EXE_shomei"),
        &[&[s("snp"), s("measure")], &args[..]].concat(),
    );
    assert!(ok);
    assert_eq!(
        out,
        "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d"
    );
    assert!(compare(&args, "README vector"));
    // OvmfX64 has no SNP_KERNEL_HASHES section: a kernel is an error for both.
    let kernel = std::env::temp_dir().join(format!("shomei-kernel-{}", std::process::id()));
    std::fs::write(&kernel, b"not really a kernel").unwrap();
    let k = kernel.display().to_string();
    let bad: Vec<String> = [
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        &x64,
        "--kernel",
        &k,
    ]
    .iter()
    .map(s)
    .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_shomei"))
        .args(["snp", "measure"])
        .args(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SNP_KERNEL_HASHES"));
    assert!(compare(&bad, "kernel without SNP_KERNEL_HASHES"));
    // A missing vCPU model is a usage error in both.
    let no_cpu: Vec<String> = ["--mode", "snp", "--vcpus", "2", "--ovmf", &amd]
        .iter()
        .map(s)
        .collect();
    assert!(compare(&no_cpu, "no vcpu type"));
    std::fs::remove_file(&kernel).ok();
}

#[test]
fn full_debian_images_match() {
    require_oracle();
    for fw in debian_ovmf() {
        for vmm in ["QEMU", "ec2", "gce"] {
            let args: Vec<String> = [
                "--mode",
                "snp",
                "--vcpus",
                "8",
                "--vcpu-type",
                "EPYC-Milan",
                "--vmm-type",
                vmm,
                "--ovmf",
                &fw.display().to_string(),
            ]
            .iter()
            .map(s)
            .collect();
            assert!(compare(&args, "Debian OVMF"), "{}", fw.display());
        }
    }
}

/// Images of 1 MiB and more are hashed from the file with only their tail in memory; one whose
/// SEV metadata sits at its very start (far outside that tail) must still measure correctly.
#[test]
fn large_image_with_metadata_far_from_the_end_matches() {
    require_oracle();
    let mut r = Rng(0x5eed);
    let dir = std::env::temp_dir().join(format!("shomei-measure-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fw = write(&dir, "large.fd", &synthetic_firmware_of(&mut r, false, 400));
    for vmm in ["QEMU", "ec2", "gce"] {
        let args: Vec<String> = [
            "--mode",
            "snp",
            "--vcpus",
            "3",
            "--vcpu-type",
            "EPYC-Genoa",
            "--vmm-type",
            vmm,
            "--ovmf",
            &fw,
        ]
        .iter()
        .map(s)
        .collect();
        let mut digests = 0;
        assert!(compare_counting(
            &args,
            "large synthetic image",
            &mut digests
        ));
        assert_eq!(digests, 1, "both must produce a digest");
    }
    let hash_args: Vec<String> = ["--mode", "snp:ovmf-hash", "--ovmf", &fw]
        .iter()
        .map(s)
        .collect();
    assert!(compare(&hash_args, "ovmf hash of a large image"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `--dump-vmsa` writes the same VMSA pages as sev-snp-measure, for every VMM type.
#[test]
fn dumped_vmsas_are_byte_identical() {
    require_oracle();
    let v = shomei_core::vectors::locate().unwrap_or_else(|e| panic!("{e}"));
    let ovmf = v
        .join("snp/measure/ovmf_AmdSev_suffix.bin")
        .display()
        .to_string();
    for vmm in ["QEMU", "ec2", "gce"] {
        let base = std::env::temp_dir().join(format!("shomei-vmsa-{}-{vmm}", std::process::id()));
        let (ours, theirs) = (base.join("ours"), base.join("theirs"));
        std::fs::create_dir_all(&ours).unwrap();
        std::fs::create_dir_all(&theirs).unwrap();
        let args = [
            "--mode",
            "snp",
            "--vcpus",
            "2",
            "--vcpu-type",
            "EPYC-Milan",
            "--vmm-type",
            vmm,
            "--ovmf",
            &ovmf,
            "--dump-vmsa",
        ];
        let ok = |o: std::process::Output| o.status.success();
        assert!(ok(Command::new(env!("CARGO_BIN_EXE_shomei"))
            .args(["snp", "measure"])
            .args(args)
            .current_dir(&ours)
            .output()
            .unwrap()));
        assert!(ok(Command::new(ORACLE)
            .args(args)
            .current_dir(&theirs)
            .output()
            .unwrap()));
        for f in ["vmsa0.bin", "vmsa1.bin"] {
            let (a, b) = (
                std::fs::read(ours.join(f)).unwrap(),
                std::fs::read(theirs.join(f)).unwrap(),
            );
            assert_eq!(a.len(), 4096);
            assert!(a == b, "{vmm} {f} differs");
        }
        std::fs::remove_dir_all(&base).ok();
    }
}
