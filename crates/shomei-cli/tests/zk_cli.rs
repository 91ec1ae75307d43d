//! `shomei zk prove|verify` on the real Milan v2 and Turin v5 reports: exit 0 for a proof that
//! verifies, 1 with a `rejected: <check>: …` line for a rejected one (other nonce, policy,
//! minimum TCB, VCEK, a flipped proof byte), 2 for unreadable input.
//!
//! A real proof costs about two minutes and 4 GB in release, far more in debug: the tests that
//! prove are ignored in debug builds (`scripts/test` runs the workspace tests in release), and
//! the Milan report is proved once per run, in [`real_proofs`]; the Turin proof (a second
//! real proof, ~3 minutes) runs by hand with `-- --ignored`. The SRS and
//! the verifying key are cached in a temporary folder for the run (`--srs`/`--vk`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use common::{Run, shomei, vectors};

/// A real report and what a relying party knows about it.
struct Vector {
    /// Folder under `snp/`.
    dir: &'static str,
    /// A time inside the validity of its VCEK and AMD chain.
    at: &'static str,
}

const MILAN: Vector = Vector {
    dir: "milan-v2",
    at: "2025-06-01T00:00:00Z",
};
const TURIN: Vector = Vector {
    dir: "turin-v5",
    at: "2026-11-01T00:00:00Z",
};

impl Vector {
    fn report_path(&self) -> PathBuf {
        vectors().join("snp").join(self.dir).join("report.bin")
    }
    fn vcek(&self) -> String {
        path(&vectors().join("snp").join(self.dir).join("vcek.der"))
    }
    fn report(&self) -> Vec<u8> {
        std::fs::read(self.report_path()).unwrap()
    }
    /// The nonce the report binds: its REPORT_DATA.
    fn nonce(&self) -> String {
        hex::encode(&self.report()[0x50..0x90])
    }
    fn measurement(&self) -> String {
        hex::encode(&self.report()[0x90..0xC0])
    }
    fn reported_tcb(&self) -> [u8; 8] {
        self.report()[0x180..0x188].try_into().unwrap()
    }
    /// A policy the report meets: its measurement among others, its own TCB as the minimum.
    fn policy(&self) -> String {
        policy(
            &[&"ab".repeat(48), &self.measurement()],
            &hex::encode(self.reported_tcb()),
        )
    }
}

fn policy(measurements: &[&str], min_tcb: &str) -> String {
    let list: Vec<String> = measurements.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "measurements = [{}]\nmin_tcb = \"{min_tcb}\"\nvmpl = 0\n",
        list.join(", ")
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Exit 1, and exactly one `rejected:` line on stderr, the last, naming `check` (the other
/// stderr lines are warnings, such as the insecure-parameters one).
fn assert_rejected(r: &Run, check: &str, what: &str) {
    assert_eq!(
        r.code, 1,
        "{what}: stdout: {} stderr: {}",
        r.stdout, r.stderr
    );
    let rejected: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("rejected:"))
        .collect();
    assert_eq!(rejected.len(), 1, "{what}: {}", r.stderr);
    assert_eq!(r.stderr.lines().last(), rejected.first().copied(), "{what}");
    assert!(
        rejected[0].starts_with(&format!("rejected: {check}: ")),
        "{what}: {}",
        r.stderr
    );
    assert!(!r.stdout.contains("verified"), "{what}: {}", r.stdout);
}

/// Exit 2 with an error message that mentions `needle`.
fn assert_input_error(r: &Run, needle: &str, what: &str) {
    assert_eq!(
        r.code, 2,
        "{what}: stdout: {} stderr: {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.to_lowercase().contains(&needle.to_lowercase()),
        "{what}: {}",
        r.stderr
    );
}

/// A folder for this run's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // What an interrupted run left (its process is gone): the 134 MB SRS among others.
        for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("zk-cli-")
                .and_then(|n| n.rsplit('-').next())
            {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = root.join(format!("zk-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        path(&p)
    }
    fn file(&self, name: &str) -> String {
        path(&self.0.join(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- Bad input and refused proofs: no proof is computed, so these run in debug too. ----

/// A proof file of the right shape whose proof is garbage (for the verifier's input checks).
fn fake_proof_file(s: &Scratch, v: &Vector) -> String {
    let der = std::fs::read(v.vcek()).unwrap();
    let cert = shomei_core::x509::Certificate::from_der(&der).unwrap();
    let shomei_core::x509::PublicKey::EcP384(sec1) = cert.public_key().unwrap() else {
        panic!("not P-384")
    };
    let file = serde_json::json!({
        "statement": "shomei-zk/snp-report/v2",
        "k": 20,
        "vek": hex::encode(&sec1[1..]),
        "reported_tcb": hex::encode(v.reported_tcb()),
        "proof": "00".repeat(2304),
    });
    s.write("fake.proof", file.to_string())
}

fn prove(v: &Vector, policy: &str, nonce: &str, vcek: &str, out: &str, extra: &[&str]) -> Run {
    let report = path(&v.report_path());
    let mut args = vec![
        "zk", "prove", &report, "--vcek", vcek, "--policy", policy, "--nonce", nonce, "-o", out,
    ];
    args.extend_from_slice(extra);
    shomei(&args)
}

#[test]
fn zk_prove_refuses_a_report_that_fails_the_policy_without_writing_a_proof() {
    let s = Scratch::new("refuse");
    for v in [&MILAN, &TURIN] {
        let out = s.file("never.proof");
        let good = s.write("good.toml", v.policy());
        let mut tcb = v.reported_tcb();
        tcb[7] += 1; // a newer microcode than the report's
        let cases: [(&str, String, String, String); 4] = [
            (
                "min_tcb",
                s.write(
                    "stricter.toml",
                    policy(&[&v.measurement()], &hex::encode(tcb)),
                ),
                v.nonce(),
                v.vcek(),
            ),
            (
                "measurement",
                s.write(
                    "other.toml",
                    policy(&[&"cd".repeat(48)], "0000000000000000"),
                ),
                v.nonce(),
                v.vcek(),
            ),
            ("report_data", good.clone(), "00".repeat(64), v.vcek()),
            (
                "report_signature",
                good.clone(),
                v.nonce(),
                // The other product's VCEK: not the report's signer.
                if v.dir == MILAN.dir {
                    TURIN.vcek()
                } else {
                    MILAN.vcek()
                },
            ),
        ];
        for (check, policy, nonce, vcek) in &cases {
            let r = prove(v, policy, nonce, vcek, &out, &[]);
            assert_rejected(&r, check, &format!("{}: {check}", v.dir));
            assert!(
                !Path::new(&out).exists(),
                "{}: {check}: a proof file was written",
                v.dir
            );
            // Refused before any parameters or keys are derived.
            assert!(
                !r.stdout.contains("parameters:"),
                "{}: {check}: refused only after loading parameters",
                v.dir
            );
        }
    }
}

#[test]
fn zk_prove_rejects_bad_input_with_exit_2() {
    let s = Scratch::new("prove-input");
    let v = &MILAN;
    let out = s.file("never.proof");
    let good = s.write("good.toml", v.policy());
    let truncated = s.write("truncated.bin", &v.report()[..0x2A0]);
    let r = shomei(&[
        "zk",
        "prove",
        &truncated,
        "--vcek",
        &v.vcek(),
        "--policy",
        &good,
        "--nonce",
        &v.nonce(),
        "-o",
        &out,
    ]);
    assert_input_error(&r, "report", "truncated report");
    let r = prove(v, &good, "not hex", &v.vcek(), &out, &[]);
    assert_input_error(&r, "nonce", "non-hex nonce");
    let r = prove(v, &good, &"00".repeat(65), &v.vcek(), &out, &[]);
    assert_input_error(&r, "nonce", "nonce longer than REPORT_DATA");
    let bad = s.write("bad.toml", "measurements = [\"00\"\nmin_tcb = ");
    let r = prove(v, &bad, &v.nonce(), &v.vcek(), &out, &[]);
    assert_input_error(&r, "bad.toml", "malformed policy TOML");
    let short = s.write("short.toml", policy(&["abcd"], "00"));
    let r = prove(v, &short, &v.nonce(), &v.vcek(), &out, &[]);
    assert_input_error(&r, "48 bytes", "short measurement");
    let empty = s.write("empty.toml", "measurements = []\n");
    let r = prove(v, &empty, &v.nonce(), &v.vcek(), &out, &[]);
    assert_input_error(&r, "measurements", "empty allowlist");
    let r = prove(v, &good, &v.nonce(), &s.file("missing.der"), &out, &[]);
    assert_input_error(&r, "missing.der", "missing VCEK");
    assert!(!Path::new(&out).exists());
}

#[test]
fn zk_verify_rejects_bad_input_with_exit_2() {
    let s = Scratch::new("verify-input");
    let v = &MILAN;
    let good = s.write("good.toml", v.policy());
    let proof = fake_proof_file(&s, v);
    let verify = |proof: &str, policy: &str, nonce: &str| {
        shomei(&["zk", "verify", proof, "--policy", policy, "--nonce", nonce])
    };
    let r = verify(&proof, &good, "zz");
    assert_input_error(&r, "nonce", "non-hex nonce");
    let bad = s.write("bad.toml", "measurements = \"not a list\"");
    let r = verify(&proof, &bad, &v.nonce());
    assert_input_error(&r, "bad.toml", "malformed policy TOML");
    let not_json = s.write("not.json", "proof");
    let r = verify(&not_json, &good, &v.nonce());
    assert_input_error(&r, "proof file", "not a proof file");
    let other = s.write(
        "other.json",
        std::fs::read_to_string(&proof)
            .unwrap()
            .replace("shomei-zk/snp-report/v2", "something/else"),
    );
    let r = verify(&other, &good, &v.nonce());
    assert_input_error(&r, "unsupported proof", "another statement");
    let r = verify(&s.file("missing.proof"), &good, &v.nonce());
    assert_input_error(&r, "missing.proof", "missing proof file");
}

// ---- Real proofs: release only. ----

/// The Milan proof, with the run's SRS and verifying key, made once per run. (The folder stays
/// until the next run's [`Scratch::new`] removes it: statics are never dropped.)
struct Proved {
    scratch: Scratch,
    srs: String,
    vk: String,
    milan: String,
}

static PROVED: OnceLock<Proved> = OnceLock::new();
static TURIN_PROOF: OnceLock<String> = OnceLock::new();

/// `zk prove` of `v` under its own policy, into the run's folder; the proof file's path.
fn prove_real(scratch: &Scratch, v: &Vector, srs: &str, extra: &[&str]) -> String {
    let t = Instant::now();
    let policy = scratch.write(&format!("{}.toml", v.dir), v.policy());
    let out = scratch.file(&format!("{}.proof", v.dir));
    let r = prove(
        v,
        &policy,
        &v.nonce(),
        &v.vcek(),
        &out,
        &[&["--srs", srs], extra].concat(),
    );
    eprintln!(
        "zk prove {} ({:.0} s):\n{}{}",
        v.dir,
        t.elapsed().as_secs_f64(),
        r.stdout,
        r.stderr
    );
    assert!(
        r.code == 0 && r.stdout.contains("proved"),
        "{}: {} {}",
        v.dir,
        r.stdout,
        r.stderr
    );
    out
}

/// Proves the Milan report (deriving the SRS and writing it and the verifying key).
fn real_proofs() -> &'static Proved {
    PROVED.get_or_init(|| {
        let scratch = Scratch::new("proofs");
        let srs = scratch.file("srs.bin");
        let vk = scratch.file("vk.bin");
        let milan = prove_real(&scratch, &MILAN, &srs, &["--vk", &vk]);
        Proved {
            scratch,
            srs,
            vk,
            milan,
        }
    })
}

/// The Turin proof, made after Milan's with the same parameters (a second real proof: these
/// tests run by hand, `-- --ignored`, to keep the test command's run short).
fn turin_proof() -> &'static str {
    let p = real_proofs();
    TURIN_PROOF.get_or_init(|| prove_real(&p.scratch, &TURIN, &p.srs, &[]))
}

/// `zk verify` of `proof` with the run's cached parameters and verifying key.
fn verify(p: &Proved, proof: &str, policy: &str, nonce: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "zk", "verify", proof, "--policy", policy, "--nonce", nonce, "--srs", &p.srs, "--vk", &p.vk,
    ];
    args.extend_from_slice(extra);
    shomei(&args)
}

/// The proof file with `edit` applied to its JSON.
fn edited(
    p: &Proved,
    proof: &str,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> String {
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(proof).unwrap()).unwrap();
    edit(&mut j);
    p.scratch.write(name, j.to_string())
}

fn check_real_proof(v: &Vector, proof: &str, other: &Vector) {
    let p = real_proofs();
    let s = &p.scratch;
    let good = s.write(&format!("{}-good.toml", v.dir), v.policy());
    let chain = [
        "--vcek".to_owned(),
        v.vcek(),
        "--at".to_owned(),
        v.at.to_owned(),
    ];
    let chain: Vec<&str> = chain.iter().map(String::as_str).collect();

    // The proof verifies, with the VCEK's chain checked natively at a time inside its validity.
    let r = verify(p, proof, &good, &v.nonce(), &chain);
    assert_eq!(r.code, 0, "{}: {} {}", v.dir, r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("verified")),
        "{}",
        r.stdout
    );
    // The file hides the report: neither its measurement nor its REPORT_DATA is in it.
    let text = std::fs::read_to_string(proof).unwrap();
    assert!(!text.contains(&v.measurement()) && !text.contains(&v.nonce()));

    // Another nonce.
    let mut nonce = hex::decode(v.nonce()).unwrap();
    nonce[0] ^= 1;
    let r = verify(p, proof, &good, &hex::encode(nonce), &chain);
    assert_rejected(&r, "zk_proof", &format!("{}: other nonce", v.dir));
    // A policy whose allowlist lacks the measurement.
    let lacks = s.write(
        &format!("{}-lacks.toml", v.dir),
        policy(
            &[&"ab".repeat(48), &other.measurement()],
            &hex::encode(v.reported_tcb()),
        ),
    );
    let r = verify(p, proof, &lacks, &v.nonce(), &chain);
    assert_rejected(
        &r,
        "zk_proof",
        &format!("{}: measurement not allowed", v.dir),
    );
    // A stricter minimum TCB: a newer microcode.
    let mut tcb = v.reported_tcb();
    tcb[7] += 1;
    let stricter = s.write(
        &format!("{}-stricter.toml", v.dir),
        policy(&[&v.measurement()], &hex::encode(tcb)),
    );
    let r = verify(p, proof, &stricter, &v.nonce(), &chain);
    assert_rejected(&r, "zk_proof", &format!("{}: stricter min_tcb", v.dir));
    // Another VCEK (the other product's, inside its own validity).
    let r = verify(
        p,
        proof,
        &good,
        &v.nonce(),
        &["--vcek", &other.vcek(), "--at", other.at],
    );
    assert_rejected(&r, "vek", &format!("{}: another VCEK", v.dir));
    // The VCEK's chain at a time after it expired... is checked natively too.
    let r = verify(
        p,
        proof,
        &good,
        &v.nonce(),
        &["--vcek", &v.vcek(), "--at", "2040-01-01T00:00:00Z"],
    );
    assert_rejected(
        &r,
        "certificate_validity",
        &format!("{}: chain checked after its validity", v.dir),
    );
    // A claimed REPORTED_TCB that is not the VCEK's TCB.
    let tampered_tcb = edited(p, proof, &format!("{}-tcb.proof", v.dir), |j| {
        let mut t = v.reported_tcb();
        t[7] -= 1;
        j["reported_tcb"] = hex::encode(t).into();
    });
    let r = verify(p, &tampered_tcb, &good, &v.nonce(), &chain);
    assert_rejected(
        &r,
        "reported_tcb",
        &format!("{}: tampered REPORTED_TCB", v.dir),
    );
    // ... and without --vcek the proof itself refuses it.
    let r = verify(p, &tampered_tcb, &good, &v.nonce(), &[]);
    assert_rejected(
        &r,
        "zk_proof",
        &format!("{}: tampered REPORTED_TCB, no VCEK", v.dir),
    );
    // One byte of the proof flipped: first, middle, last.
    let len = hex::decode(text_field(&text, "proof")).unwrap().len();
    for at in [0, len / 2, len - 1] {
        let flipped = edited(p, proof, &format!("{}-flip{at}.proof", v.dir), |j| {
            let mut b = hex::decode(j["proof"].as_str().unwrap()).unwrap();
            b[at] ^= 0x01;
            j["proof"] = hex::encode(b).into();
        });
        let r = verify(p, &flipped, &good, &v.nonce(), &chain);
        assert_rejected(
            &r,
            "zk_proof",
            &format!("{}: proof byte {at} flipped", v.dir),
        );
    }
}

fn text_field(json: &str, key: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(json).unwrap();
    j[key].as_str().unwrap().to_owned()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn milan_v2_proof_verifies_and_binds_nonce_policy_tcb_and_vcek() {
    check_real_proof(&MILAN, &real_proofs().milan, &TURIN);
}

#[test]
#[ignore = "a second real proof (~3 min on 2 cores): cargo test --release -p shomei-cli --test zk_cli -- --ignored"]
fn turin_v5_proof_verifies_and_binds_nonce_policy_tcb_and_vcek() {
    check_real_proof(&TURIN, turin_proof(), &MILAN);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "real halo2 proofs: run in release (scripts/test runs cargo test --release)"
)]
fn a_proof_of_one_report_does_not_verify_for_the_other() {
    let p = real_proofs();
    // The Milan proof under Turin's policy and nonce (no VCEK: the proof alone decides).
    let turin_policy = p.scratch.write("cross.toml", TURIN.policy());
    let r = verify(p, &p.milan, &turin_policy, &TURIN.nonce(), &[]);
    assert_rejected(&r, "zk_proof", "Milan proof, Turin inputs");
    // A proof that is not one.
    let fake = fake_proof_file(&p.scratch, &MILAN);
    let milan_policy = p.scratch.write("milan-again.toml", MILAN.policy());
    let r = verify(p, &fake, &milan_policy, &MILAN.nonce(), &[]);
    assert_rejected(&r, "zk_proof", "garbage proof");
}
