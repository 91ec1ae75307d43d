//! `shomei`: remote attestation for confidential computing.
//!
//! Exit status: 0 verified / success, 1 evidence rejected (one stderr line
//! `rejected: <check>: <detail>`), 2 usage, input or I/O error.

mod attest;
mod bench;
mod bench_service;
mod cvm;
mod dcap;
mod demo;
mod emulate;
mod emusnp;
mod fetch;
mod input;
mod measure;
mod sgx;
mod snp;
mod tpm;
mod zk;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Remote attestation for confidential computing: verify, produce and appraise evidence.
#[derive(Parser)]
#[command(name = "shomei", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A full attestation round trip on emulated hardware: service, provisioning, a genuine
    /// guest that gets its secret, and attacks refused with their reasons.
    Demo,
    /// The verifier and relying party over HTTP.
    Serve(attest::ServeArgs),
    /// Attest to a shomei service and fetch a secret: challenge → evidence → result → secret.
    Attest(attest::AttestArgs),
    /// AMD SEV-SNP attestation reports.
    #[command(subcommand)]
    Snp(Box<snp::SnpCommand>),
    /// Intel DCAP quotes: SGX (v3) and TDX (v4, v5).
    #[command(subcommand)]
    Dcap(dcap::DcapCommand),
    /// Intel SGX local attestation on an emulated SGX CPU.
    #[command(subcommand)]
    Sgx(sgx::SgxCommand),
    /// TPM 2.0: measured-boot event logs (TCG, CCEL, IMA) and quote verification.
    #[command(subcommand)]
    Tpm(tpm::TpmCommand),
    /// Two-step confidential-VM attestation: an SEV-SNP report that vouches for a vTPM.
    #[command(subcommand)]
    Cvm(cvm::CvmCommand),
    /// Verifications per second on the real vectors, against the raw crypto in the same run.
    Bench(bench::BenchArgs),
    /// Trustless verification: a zero-knowledge proof that an SEV-SNP report satisfies a policy.
    #[command(subcommand)]
    Zk(zk::ZkCommand),
}

/// How a command ended, mapped to the exit status of DESIGN.md.
pub enum Outcome {
    Ok,
    /// Evidence read and rejected: `rejected: <check>: <detail>`.
    Rejected {
        check: String,
        detail: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Serve(a) => attest::serve(a),
        Command::Attest(a) => attest::attest(a),
        Command::Snp(c) => snp::run(*c),
        Command::Dcap(c) => dcap::run(c),
        Command::Sgx(c) => sgx::run(c),
        Command::Tpm(c) => tpm::run(c),
        Command::Cvm(c) => cvm::run(c),
        Command::Bench(a) => bench::run(a),
        Command::Zk(c) => zk::run(c),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected { check, detail }) => {
            eprintln!("rejected: {check}: {detail}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
