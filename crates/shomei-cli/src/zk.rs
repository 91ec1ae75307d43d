//! `shomei zk …`: trustless SEV-SNP verification with a zero-knowledge proof (shomei-zk).
//!
//! `prove` turns a report into a proof that hides it; `verify` checks a proof against the
//! relying party's policy and nonce, and (with `--vcek`) the VCEK's chain to AMD natively — the
//! hybrid design: the proof binds the report to the VCEK's key. `setup` writes the verifier's
//! file (verifying key + three SRS points) that `verify --verifier F` and the service load.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, PublicKey};
use shomei_snp::{Collateral, RawTcb, SigningKey, VerifiedVek, VerifyOptions};
use shomei_zk::prove::{K, ProvingKeys, Srs, VerifyingKeys, check_policy, verify};
use shomei_zk::statement::{MAX_MEASUREMENTS, PublicInputs, ZkPolicy};

use crate::Outcome;
use crate::input;

/// The statement this proof format carries.
const STATEMENT: &str = shomei_zk::statement::STATEMENT_ID;
/// Seed of the built-in *insecure* test parameters (anyone can forge proofs under them).
const INSECURE_SEED: [u8; 32] = *b"shomei-zk insecure local SRS v1!";

#[derive(Subcommand)]
pub enum ZkCommand {
    /// Prove that a report satisfies a policy, without revealing the report.
    Prove(ProveArgs),
    /// Verify a proof against a policy and a nonce (and, with --vcek, the VCEK's chain to AMD).
    Verify(VerifyArgs),
    /// Write the verifier's file (verifying key + the three SRS points verification needs,
    /// about 1.4 KB) for `zk verify --verifier F` and the service's `[zk] verifier`.
    Setup(SetupArgs),
}

#[derive(Args)]
pub struct SetupArgs {
    /// Where to write the verifier's file.
    #[arg(long)]
    verifier_out: PathBuf,
    #[command(flatten)]
    srs: SrsArgs,
}

#[derive(Args)]
pub struct ProveArgs {
    /// The SEV-SNP report (raw 1184 bytes or hex).
    report: PathBuf,
    /// The VCEK that signed it (DER or PEM); its public key becomes a public input.
    #[arg(long)]
    vcek: PathBuf,
    /// The policy (TOML: measurements = ["hex", …], min_tcb = "hex, 8 bytes", vmpl = 0).
    #[arg(long)]
    policy: PathBuf,
    /// The relying party's nonce, hex; REPORT_DATA must equal it zero-padded to 64 bytes.
    #[arg(long)]
    nonce: String,
    /// Where to write the proof (JSON).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Prove on the NVIDIA GPU (CUDA, through halo2-axiom-gpu): the same proof, in seconds.
    /// Only in builds with the `gpu` feature (`cargo build --release --features gpu`, which
    /// needs CUDA's nvcc).
    #[cfg(feature = "gpu")]
    #[arg(long)]
    gpu: bool,
    #[command(flatten)]
    srs: SrsArgs,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The proof file written by `shomei zk prove`.
    proof: PathBuf,
    /// The policy (same format as for prove).
    #[arg(long)]
    policy: PathBuf,
    /// The nonce the relying party issued, hex.
    #[arg(long)]
    nonce: String,
    /// The VCEK (DER or PEM): its chain to AMD's built-in roots is verified natively and its key
    /// and TCB must be the ones the proof is bound to. Without it the proof's key is not checked
    /// against AMD.
    #[arg(long)]
    vcek: Option<PathBuf>,
    /// More certificates for the VCEK's chain (ASK/ARK), as for `snp verify`.
    #[arg(long)]
    certs: Vec<PathBuf>,
    /// Verification time for the certificate chain: RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    at: Option<UnixTime>,
    /// The verifier's file (`zk setup --verifier-out F`): used instead of --srs/--vk, so the
    /// SRS is not read.
    #[arg(long, conflicts_with_all = ["srs", "vk"])]
    verifier: Option<PathBuf>,
    #[command(flatten)]
    srs: SrsArgs,
}

#[derive(Args)]
pub struct SrsArgs {
    /// The verifying key for these parameters (written by `zk prove --vk F` or by the first
    /// `zk verify --vk F`): with it, verification skips key generation.
    #[arg(long)]
    vk: Option<PathBuf>,
    /// KZG parameters in halo2's raw format (2^20 rows). Production must use a public
    /// ceremony's parameters. Without this flag, built-in INSECURE test parameters are derived
    /// (and cached here if the path is given but missing).
    #[arg(long)]
    srs: Option<PathBuf>,
}

impl SrsArgs {
    fn load(&self) -> Result<Srs> {
        match &self.srs {
            Some(p) if p.exists() => {
                let bytes = input::read_large(p)?;
                Srs::read(&bytes).with_context(|| format!("{}", p.display()))
            }
            other => {
                eprintln!(
                    "warning: using INSECURE built-in KZG parameters (test only: anyone can forge proofs)"
                );
                let srs = Srs::insecure_local(K, INSECURE_SEED);
                if let Some(p) = other {
                    std::fs::write(p, srs.to_bytes())
                        .with_context(|| format!("writing {}", p.display()))?;
                }
                Ok(srs)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    measurements: Vec<String>,
    #[serde(default)]
    min_tcb: Option<String>,
    #[serde(default)]
    vmpl: u8,
}

fn read_policy(path: &Path) -> Result<ZkPolicy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let file: PolicyFile = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    if file.measurements.is_empty() || file.measurements.len() > MAX_MEASUREMENTS {
        bail!(
            "{}: between 1 and {MAX_MEASUREMENTS} measurements",
            path.display()
        );
    }
    let measurements = file
        .measurements
        .iter()
        .map(|m| {
            let b = input::hex_arg(m, "measurement")?;
            <[u8; 48]>::try_from(b.as_slice()).context("a measurement is 48 bytes")
        })
        .collect::<Result<Vec<_>>>()?;
    let min_tcb = match &file.min_tcb {
        None => [0; 8],
        Some(h) => {
            let b = input::hex_arg(h, "min_tcb")?;
            <[u8; 8]>::try_from(b.as_slice()).context("min_tcb is 8 bytes (REPORTED_TCB layout)")?
        }
    };
    if file.vmpl > 3 {
        bail!("vmpl must be 0 to 3");
    }
    Ok(ZkPolicy {
        measurements,
        min_tcb,
        vmpl: file.vmpl,
    })
}

fn report_data_for(nonce: &str) -> Result<[u8; 64]> {
    let n = input::hex_arg(nonce, "--nonce")?;
    if n.len() > 64 {
        bail!("--nonce: at most 64 bytes");
    }
    let mut out = [0u8; 64];
    for (d, s) in out.iter_mut().zip(n.iter()) {
        *d = *s;
    }
    Ok(out)
}

fn vek_key(cert: &Certificate) -> Result<[u8; 96]> {
    match cert.public_key().context("VCEK public key")? {
        PublicKey::EcP384(sec1) => sec1
            .get(1..)
            .and_then(|k| <[u8; 96]>::try_from(k).ok())
            .context("VCEK key is not an uncompressed P-384 point"),
        _ => bail!("the VCEK key is not ECDSA P-384"),
    }
}

#[derive(Serialize, Deserialize)]
struct ProofFile {
    statement: String,
    k: u32,
    vek: String,
    reported_tcb: String,
    proof: String,
}

pub fn run(c: ZkCommand) -> Result<Outcome> {
    match c {
        ZkCommand::Prove(a) => prove_cmd(a),
        ZkCommand::Verify(a) => verify_cmd(a),
        ZkCommand::Setup(a) => setup_cmd(a),
    }
}

fn prove_cmd(a: ProveArgs) -> Result<Outcome> {
    let report = input::report(&a.report)?;
    let cert = Certificate::from_der_or_pem(&input::read(&a.vcek)?)
        .with_context(|| format!("{}", a.vcek.display()))?;
    let reported_tcb: [u8; 8] = report
        .get(0x180..0x188)
        .and_then(|t| t.try_into().ok())
        .context("report too short")?;
    let public = PublicInputs {
        vek: vek_key(&cert)?,
        report_data: report_data_for(&a.nonce)?,
        reported_tcb,
        policy: read_policy(&a.policy)?,
    };
    if let Some(rejected) = precheck(&report, &public)? {
        return Ok(rejected);
    }
    let t = std::time::Instant::now();
    let srs = a.srs.load()?;
    println!("parameters: {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let keys = ProvingKeys::generate(srs).context("key generation")?;
    println!("proving key: {:.1} s", t.elapsed().as_secs_f64());
    if let Some(p) = a.srs.vk.as_ref().filter(|p| !p.exists()) {
        std::fs::write(p, keys.verifying_keys().vk_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let t = std::time::Instant::now();
    #[cfg(feature = "gpu")]
    let result = if a.gpu {
        keys.gpu_params()
            .and_then(|params| keys.prove_gpu(&params, &report, &public))
    } else {
        keys.prove(&report, &public)
    };
    #[cfg(not(feature = "gpu"))]
    let result = keys.prove(&report, &public);
    println!("prove: {:.1} s", t.elapsed().as_secs_f64());
    let proof = match result {
        Ok(p) => p,
        Err(shomei_zk::Error::Unsatisfied) => {
            return Ok(Outcome::Rejected {
                check: "zk_statement".into(),
                detail: "the report does not satisfy the statement (signature by this VCEK, \
                         policy, nonce): no proof exists"
                    .into(),
            });
        }
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    let file = ProofFile {
        statement: STATEMENT.into(),
        k: K,
        vek: hex::encode(public.vek),
        reported_tcb: hex::encode(public.reported_tcb),
        proof: hex::encode(&proof),
    };
    std::fs::write(&a.output, serde_json::to_string_pretty(&file)?)
        .with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "proved: {} bytes of proof written to {}",
        proof.len(),
        a.output.display()
    );
    Ok(Outcome::Ok)
}

/// Where no proof can exist, says so at once and names the check: a report not signed by this
/// VCEK, or a policy predicate it fails (otherwise minutes of key generation and proving end
/// in the same refusal). The circuit still checks everything itself.
fn precheck(report: &[u8], public: &PublicInputs) -> Result<Option<Outcome>> {
    let parsed = shomei_snp::Report::parse(report).context("not an SEV-SNP report")?;
    let mut sec1 = Vec::with_capacity(97);
    sec1.push(0x04);
    sec1.extend_from_slice(&public.vek);
    let key = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
        &sec1,
    )
    .map_err(|_| anyhow::anyhow!("the VCEK key is not a P-384 point"))?;
    if key
        .verify_sig(parsed.signed_bytes(), &parsed.signature_fixed())
        .is_err()
    {
        return Ok(Some(Outcome::Rejected {
            check: "report_signature".into(),
            detail: "the report is not signed by this VCEK: no proof exists, none written".into(),
        }));
    }
    Ok(check_policy(report, public)
        .err()
        .map(|v| Outcome::Rejected {
            check: v.check().into(),
            detail: format!("{v}: the report does not satisfy the policy, no proof written"),
        }))
}

fn verify_cmd(a: VerifyArgs) -> Result<Outcome> {
    let text =
        std::fs::read_to_string(&a.proof).with_context(|| format!("{}", a.proof.display()))?;
    let file: ProofFile = serde_json::from_str(&text).context("not a shomei zk proof file")?;
    if file.statement != STATEMENT || file.k != K {
        bail!(
            "unsupported proof: statement {:?}, k {}",
            file.statement,
            file.k
        );
    }
    let vek: [u8; 96] = hex::decode(&file.vek)
        .ok()
        .and_then(|v| v.try_into().ok())
        .context("proof file: vek is 96 bytes hex")?;
    let reported_tcb: [u8; 8] = hex::decode(&file.reported_tcb)
        .ok()
        .and_then(|v| v.try_into().ok())
        .context("proof file: reported_tcb is 8 bytes hex")?;
    let proof = hex::decode(&file.proof).context("proof file: proof is hex")?;

    // The hybrid design: the VCEK's chain is checked natively and must carry the proof's key.
    match &a.vcek {
        Some(p) => {
            let mut collateral = Collateral::new();
            input::add_path(&mut collateral, p)?;
            for c in &a.certs {
                input::add_path(&mut collateral, c)?;
            }
            let cert = Certificate::from_der_or_pem(&input::read(p)?)
                .with_context(|| format!("{}", p.display()))?;
            if vek_key(&cert)? != vek {
                return Ok(Outcome::Rejected {
                    check: "vek".into(),
                    detail: "the proof is bound to another key than this VCEK's".into(),
                });
            }
            let at = a.at.unwrap_or_else(UnixTime::now);
            let opts = VerifyOptions::at(at);
            let verified = match VerifiedVek::new(SigningKey::Vcek, &[], &collateral, &opts) {
                Ok(v) => v,
                Err(shomei_snp::Error::Rejected(r)) => {
                    return Ok(Outcome::Rejected {
                        check: r.check().into(),
                        detail: r.to_string(),
                    });
                }
                Err(e) => return Err(anyhow::Error::new(e)),
            };
            let tcb = RawTcb(reported_tcb).decode(verified.product());
            if verified
                .info()
                .tcb()
                .is_some_and(|certified| certified != tcb)
            {
                return Ok(Outcome::Rejected {
                    check: "reported_tcb".into(),
                    detail: format!(
                        "the proof's REPORTED_TCB {} is not the VCEK's TCB",
                        RawTcb(reported_tcb).hex()
                    ),
                });
            }
        }
        None => eprintln!("note: no --vcek: the proof's key is not checked against AMD's roots"),
    }

    let public = PublicInputs {
        vek,
        report_data: report_data_for(&a.nonce)?,
        reported_tcb,
        policy: read_policy(&a.policy)?,
    };
    let t = std::time::Instant::now();
    let keys = match (&a.verifier, &a.srs.vk) {
        (Some(p), _) => VerifyingKeys::from_bytes(&input::read(p)?)
            .with_context(|| format!("{}", p.display()))?,
        (None, Some(p)) if p.exists() => {
            VerifyingKeys::from_vk_bytes(a.srs.load()?, &input::read(p)?)
                .with_context(|| format!("{}", p.display()))?
        }
        (None, other) => {
            let srs = a.srs.load()?;
            let keys = VerifyingKeys::generate(srs).context("key generation")?;
            if let Some(p) = other {
                std::fs::write(p, keys.vk_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            keys
        }
    };
    println!(
        "parameters and verifying key: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let result = verify(&keys, &proof, &public);
    println!("verify: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    match result {
        Ok(()) => {
            println!(
                "verified: a report signed by the key {}… satisfies the policy for this nonce \
                 (REPORTED_TCB {})",
                file.vek.get(..16).unwrap_or_default(),
                RawTcb(reported_tcb).hex()
            );
            Ok(Outcome::Ok)
        }
        Err(shomei_zk::Error::Rejected) => Ok(Outcome::Rejected {
            check: "zk_proof".into(),
            detail: "the proof does not verify for this policy, nonce and key".into(),
        }),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// `zk setup`: derives (or reads, with `--vk`) the verifying key and writes the verifier's file.
fn setup_cmd(a: SetupArgs) -> Result<Outcome> {
    let t = std::time::Instant::now();
    let srs = a.srs.load()?;
    let keys = match &a.srs.vk {
        Some(p) if p.exists() => VerifyingKeys::from_vk_bytes(srs, &input::read(p)?)
            .with_context(|| format!("{}", p.display()))?,
        other => {
            let keys = VerifyingKeys::generate(srs).context("key generation")?;
            if let Some(p) = other {
                std::fs::write(p, keys.vk_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            keys
        }
    };
    let file = keys.to_bytes();
    std::fs::write(&a.verifier_out, &file)
        .with_context(|| format!("writing {}", a.verifier_out.display()))?;
    println!(
        "verifier file: {} bytes written to {} ({:.1} s)",
        file.len(),
        a.verifier_out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(Outcome::Ok)
}
