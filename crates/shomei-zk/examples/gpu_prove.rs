//! Proving on the CPU and on the GPU (feature `gpu`), same keys, same report, in one run:
//!
//! ```text
//! cargo run --release -p shomei-zk --features gpu --example gpu_prove -- REPORT VCEK.der [SRS] [RUNS]
//! ```
//!
//! Prints the time of each step, the proof size, verification time and peak memory, and the
//! GPU/CPU proving ratio. Both proofs are verified by the ordinary (CPU) verifier. `SRS`, when
//! given and present, is read instead of generating the insecure local parameters.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use shomei_core::x509::{Certificate, PublicKey};
use shomei_zk::prove::{K, ProvingKeys, Srs, generate_witness, verify};
use shomei_zk::statement::{PublicInputs, ZkPolicy};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn peak_rss_mb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn field<const N: usize>(report: &[u8], at: usize) -> Result<[u8; N]> {
    Ok(report
        .get(at..at + N)
        .ok_or("report too short")?
        .try_into()?)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [report_path, vcek_path, rest @ ..] = args.as_slice() else {
        return Err("usage: gpu_prove REPORT VCEK.der [SRS] [RUNS]".into());
    };
    let report = std::fs::read(report_path)?;
    let cert = Certificate::from_der_or_pem(&std::fs::read(vcek_path)?)?;
    let PublicKey::EcP384(sec1) = cert.public_key()? else {
        return Err("the VCEK's key is not P-384".into());
    };
    let vek: [u8; 96] = sec1.get(1..).ok_or("key")?.try_into()?;
    let public = PublicInputs {
        vek,
        report_data: field(&report, 0x50)?,
        reported_tcb: field(&report, 0x180)?,
        policy: ZkPolicy {
            measurements: vec![field(&report, 0x90)?],
            min_tcb: field(&report, 0x180)?,
            vmpl: field::<1>(&report, 0x30)?[0],
        },
    };
    let runs: usize = rest.get(1).map(|r| r.parse()).transpose()?.unwrap_or(3);
    println!(
        "threads: {} (rayon/available_parallelism)",
        std::thread::available_parallelism()?
    );

    let t = Instant::now();
    let srs = match rest.first() {
        Some(path) if std::path::Path::new(path).exists() => Srs::read(&std::fs::read(path)?)?,
        other => {
            let srs = Srs::insecure_local(K, *b"shomei-zk insecure local SRS v1!");
            if let Some(path) = other {
                std::fs::write(path, srs.to_bytes())?;
            }
            srs
        }
    };
    println!("srs (k = {K}): {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let keys = ProvingKeys::generate(srs)?;
    println!("keygen (vk + pk, CPU): {:.1} s", t.elapsed().as_secs_f64());
    let vks = keys.verifying_keys();

    // Witness generation alone (on the CPU in both provers): the part the GPU does not speed up.
    let t = Instant::now();
    let cells = generate_witness(&report, &public)?;
    println!(
        "witness generation ({cells} advice cells): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let cpu_proof = keys.prove(&report, &public)?;
    let cpu = t.elapsed().as_secs_f64();
    println!(
        "prove, CPU (with its own verification): {cpu:.2} s, {} bytes",
        cpu_proof.len()
    );

    let t = Instant::now();
    let params = keys.gpu_params()?;
    println!("gpu params: {:.2} s", t.elapsed().as_secs_f64());
    let mut gpu_times = Vec::new();
    for i in 0..runs {
        let t = Instant::now();
        let proof = keys.prove_gpu(&params, &report, &public)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "prove, GPU run {i} (with its own verification): {s:.2} s, {} bytes",
            proof.len()
        );
        let t = Instant::now();
        verify(&vks, &proof, &public)?;
        println!("  verify (CPU): {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
        gpu_times.push(s);
    }
    gpu_times.sort_by(f64::total_cmp);
    if let Some(best) = gpu_times.first() {
        println!(
            "GPU/CPU proving: best GPU {best:.2} s vs CPU {cpu:.2} s = {:.1}x faster",
            cpu / best
        );
    }
    // Soundness on the GPU path too: a policy the report does not meet gives no proof.
    let mut stricter = public.clone();
    stricter.policy.measurements = vec![[0xAA; 48]];
    match keys.prove_gpu(&params, &report, &stricter) {
        Err(shomei_zk::Error::Unsatisfied) => println!("GPU, unmet policy: refused (Unsatisfied)"),
        other => {
            return Err(format!("GPU, unmet policy: expected Unsatisfied, got {other:?}").into());
        }
    }
    println!("peak memory (VmHWM): {}", peak_rss_mb());
    Ok(())
}
