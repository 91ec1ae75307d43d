//! `shomei serve` and `shomei attest`: the service, and the attester that talks to it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64ct::{Base64, Encoding};
use clap::{Args, ValueEnum};
use serde_json::Value;
use shomei_attester::client::{Client, ClientError, SessionKey};

use crate::{Outcome, emusnp};

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; see `shomei_server::config`). Without it: SQLite in
    /// ./shomei.db, a key-encryption key from $SHOMEI_KEK, no admin tokens. `[zk] verifier = F`
    /// (a file from `shomei zk setup --verifier-out F`) accepts SNP proofs as evidence.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address, overriding the configuration's.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

pub fn serve(a: ServeArgs) -> Result<Outcome> {
    let mut config = match &a.config {
        Some(p) => shomei_server::Config::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| p.display().to_string())?,
        None => {
            let kek = std::env::var("SHOMEI_KEK")
                .context("no --config and no SHOMEI_KEK (64 hex digits) in the environment")?;
            shomei_server::Config::new("sqlite://shomei.db", kek)
        }
    };
    if let Some(l) = a.listen {
        config.listen = l;
    }
    let store = config.store.clone();
    shomei_server::serve(config, |addr| {
        // Scripts wait for this line.
        println!(
            "shomei: listening on http://{addr} (store {})",
            redact(&store)
        );
    })?;
    Ok(Outcome::Ok)
}

/// A store URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Tee {
    /// A real SEV-SNP guest (configfs-tsm) when there is one.
    Auto,
    /// SEV-SNP through configfs-tsm (/sys/kernel/config/tsm/report).
    Snp,
    /// An emulated SEV-SNP guest (test root kept in --emu-dir).
    EmulatedSnp,
    /// An emulated confidential VM: SEV-SNP report vouching for a vTPM, quote and event log.
    EmulatedCvm,
}

#[derive(Args)]
pub struct AttestArgs {
    /// The service's base URL.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "auto")]
    tee: Tee,
    /// Fetch this secret after attesting (passport model: the result is presented).
    #[arg(long)]
    resource: Option<String>,
    /// Write the secret here instead of printing it.
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
    /// Emulated platform state (its test root); created when missing.
    #[arg(long)]
    emu_dir: Option<PathBuf>,
    /// Firmware the emulated guest launches (default: /usr/share/ovmf/OVMF.fd when present,
    /// else a synthetic image).
    #[arg(long)]
    ovmf: Option<PathBuf>,
    /// Launch the emulated guest with debugging allowed (the service should refuse it).
    #[arg(long)]
    debug_policy: bool,
    /// configfs-tsm root for --tee snp.
    #[arg(long, default_value = shomei_attester::tsm::TSM_ROOT)]
    tsm_root: PathBuf,
    /// Print the attestation result as JSON.
    #[arg(long)]
    json: bool,
}

/// The default emulated-platform directory.
pub fn default_emu_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("shomei/emulated-snp")
}

/// The firmware the emulated guest launches.
pub fn firmware(path: Option<&PathBuf>) -> Result<Vec<u8>> {
    match path {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display())),
        None => {
            let debian = PathBuf::from("/usr/share/ovmf/OVMF.fd");
            if debian.exists() {
                std::fs::read(&debian).with_context(|| debian.display().to_string())
            } else {
                Ok(shomei_cvm::emu::synthetic_firmware("shomei emulated OVMF"))
            }
        }
    }
}

/// Evidence bound to the nonce and the session key, from the chosen TEE.
fn evidence(a: &AttestArgs, nonce: &[u8], key: &SessionKey) -> Result<Vec<Value>> {
    if a.tee == Tee::EmulatedCvm {
        let dir = a.emu_dir.clone().unwrap_or_else(default_emu_dir);
        let root = emusnp::root_in(&dir)?;
        let mut config = shomei_cvm::emu::CvmConfig {
            firmware: firmware(a.ovmf.as_ref())?,
            vcpus: emusnp::VCPUS,
            ..shomei_cvm::emu::CvmConfig::default()
        };
        if a.debug_policy {
            config.policy |= shomei_cvm::emu::POLICY_DEBUG;
        }
        let mut cvm = shomei_cvm::emu::EmulatedCvm::with_root(config, root)?;
        // The challenge both steps carry: SHA-256(nonce ‖ session key).
        let challenge = key.cvm_challenge(nonce);
        let ev = cvm.attest(&challenge)?;
        return Ok(vec![
            serde_json::json!({"family": "cvm", "evidence": serde_json::to_value(&ev)?}),
        ]);
    }
    let report_data = key.report_data(nonce);
    let tee = match a.tee {
        Tee::Auto if a.tsm_root.join("report").is_dir() => Tee::Snp,
        Tee::Auto => bail!(
            "no TEE found ({} is missing: not a confidential guest); use --tee emulated-snp to try the protocol",
            a.tsm_root.join("report").display()
        ),
        t => t,
    };
    match tee {
        Tee::Snp => {
            let r = shomei_attester::tsm::request_report(&a.tsm_root, &report_data, 0, None)?;
            let e = if r.auxblob.is_empty() {
                serde_json::json!({"family": "snp", "report": Base64::encode_string(&r.outblob)})
            } else {
                serde_json::json!({
                    "family": "snp",
                    "report": Base64::encode_string(&r.outblob),
                    "cert_table": Base64::encode_string(&r.auxblob),
                })
            };
            Ok(vec![e])
        }
        Tee::EmulatedSnp | Tee::EmulatedCvm | Tee::Auto => {
            let dir = a.emu_dir.clone().unwrap_or_else(default_emu_dir);
            let root = emusnp::root_in(&dir)?;
            let policy = if a.debug_policy {
                emusnp::DEBUG_POLICY
            } else {
                emusnp::POLICY
            };
            let guest = emusnp::launch_guest(&root, &firmware(a.ovmf.as_ref())?, policy)?;
            Ok(vec![emusnp::evidence(&guest, report_data)?])
        }
    }
}

fn refused(e: ClientError) -> Result<Outcome> {
    match e {
        ClientError::Refused {
            step,
            status,
            check,
            detail,
            ..
        } if status < 500 && status != 400 && status != 404 && status != 413 => {
            Ok(Outcome::Rejected {
                check,
                detail: format!("{step}: HTTP {status}: {detail}"),
            })
        }
        other => Err(other.into()),
    }
}

pub fn attest(a: AttestArgs) -> Result<Outcome> {
    let client = Client::new(&a.url);
    let key = SessionKey::generate()?;
    let ch = match client.challenge() {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let ev = evidence(&a, &ch.nonce, &key)?;
    let result = match client.attest(&ch.nonce, &key, ev) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let ear = result
        .get("ear")
        .and_then(Value::as_str)
        .context("the service's answer has no ear")?
        .to_owned();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "attestation result: {}",
            result.get("status").and_then(Value::as_str).unwrap_or("?")
        );
        if let Some(subs) = result.pointer("/result/submods").and_then(Value::as_object) {
            for (name, s) in subs {
                println!(
                    "  {name}: {} ({})",
                    s.get("ear.status").and_then(Value::as_str).unwrap_or("?"),
                    s.get("ear.appraisal-policy-id")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                );
                if let Some(m) = s
                    .pointer("/ear.veraison.annotated-evidence/report/measurement")
                    .and_then(Value::as_str)
                {
                    println!("    measurement {m}");
                }
            }
        }
    }
    if let Some(id) = &a.resource {
        let secret = match client.resource_with_ear(id, &ear, &key) {
            Ok(s) => s,
            Err(e) => return refused(e),
        };
        match &a.out {
            Some(p) => {
                std::fs::write(p, secret.as_slice())
                    .with_context(|| format!("cannot write {}", p.display()))?;
                if !a.json {
                    println!(
                        "secret {id:?}: {} bytes written to {}",
                        secret.len(),
                        p.display()
                    );
                }
            }
            None => {
                if !a.json {
                    print!("secret {id:?}: ");
                }
                println!("{}", String::from_utf8_lossy(&secret));
            }
        }
    }
    Ok(Outcome::Ok)
}
