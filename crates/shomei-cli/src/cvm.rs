//! `shomei cvm …`: two-step confidential-VM attestation (an SEV-SNP report that vouches for a
//! vTPM, then the vTPM's quote and event log).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use shomei_core::UnixTime;
use shomei_core::policy::HexBytes;
use shomei_cvm::emu::{CvmConfig, EmulatedCvm, POLICY_DEBUG, synthetic_firmware};
use shomei_cvm::{
    CompositeEvidence, CvmEvidence, CvmOptions, CvmReferenceValues, CvmReport, Error, Outcome,
};
use shomei_snp::Policy;
use shomei_snp::policy::MinTcb;
use shomei_tpm::HashAlg;

use crate::{Outcome as CliOutcome, input};

#[derive(Subcommand)]
pub enum CvmCommand {
    /// Verify two-step CVM evidence: Azure (trustee az-snp-vtpm v0/v1/v2) or shomei composite.
    Verify(Box<VerifyArgs>),
    /// Boot an emulated CVM (emulated AMD-SP + vTPM + measured boot) and write its evidence.
    Emulate(EmulateArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Evidence JSON (format detected from its members).
    evidence: PathBuf,
    /// The challenge (hex): the quote's extraData must equal it (and, for composite evidence,
    /// the nonce the SNP report binds). Without it freshness is not checked.
    #[arg(long)]
    nonce: Option<String>,
    /// Verification time: RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    at: Option<UnixTime>,
    /// SNP policy file (TOML, as `snp verify --policy`); the flags below override it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Reference values (JSON: measurements, pcrs, required_pcrs; `cvm emulate` writes one).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Accept a guest policy that allows debugging.
    #[arg(long)]
    allow_debug: bool,
    /// Accept firmware whose committed version/TCB differs from the current one.
    #[arg(long)]
    allow_provisional_firmware: bool,
    /// Accepted launch measurement, hex (repeatable: an allowlist).
    #[arg(long)]
    measurement: Vec<String>,
    /// Expected PCR value, `BANK:INDEX=HEX` (e.g. `sha256:0=e15c…`; repeatable).
    #[arg(long)]
    pcr: Vec<String>,
    /// Minimum TCB, e.g. `bl=3,tee=0,snp=8,ucode=115` (add `fmc=` on Turin).
    #[arg(long)]
    min_tcb: Option<String>,
    /// Trust this root (PEM: ARK with its ASK and ASVK) instead of AMD's built-in roots, e.g. an
    /// emulated one (repeatable).
    #[arg(long)]
    trust_root: Vec<PathBuf>,
    /// Azure TDX evidence: the TD quote's collateral (dcap-qvl JSON or a PCS-format directory,
    /// as `dcap verify --collateral`).
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// Azure TDX evidence: trust this root for the TD quote instead of the Intel SGX Root CA.
    #[arg(long)]
    dcap_root: Option<PathBuf>,
    /// Azure TDX evidence: DCAP policy file (TOML, as `dcap verify --policy`).
    #[arg(long)]
    dcap_policy: Option<PathBuf>,
    /// Asserted product (milan, genoa, turin).
    #[arg(long)]
    product: Option<shomei_snp::Product>,
    /// Machine-readable result on stdout (snake_case keys).
    #[arg(long)]
    json: bool,
}

/// An attack the emulated CVM can stage.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Attack {
    /// Boot another firmware image that measures the same boot chain into the vTPM.
    OtherFirmware,
    /// A guest policy that allows debugging.
    Debug,
    /// This VM's SNP report with another VM's vTPM quote.
    ForeignVtpm,
    /// A quote whose PCR selection omits `--omit-pcr`.
    OmitPcr,
    /// An SNP report made for an earlier nonce with a fresh quote.
    ReplayReport,
}

#[derive(Args)]
pub struct EmulateArgs {
    /// Output directory (created): evidence.json, reference.json, trust-root.pem.
    #[arg(short, long)]
    out: PathBuf,
    /// The challenge (hex; default: 32 random bytes, printed).
    #[arg(long)]
    nonce: Option<String>,
    /// Stage an attack (the reference values stay those of the honest VM).
    #[arg(long, value_enum)]
    attack: Option<Attack>,
    /// The PCR `--attack omit-pcr` leaves out of the quote.
    #[arg(long, default_value_t = 4)]
    omit_pcr: u32,
}

pub fn run(cmd: CvmCommand) -> Result<CliOutcome> {
    match cmd {
        CvmCommand::Verify(a) => verify_cmd(&a),
        CvmCommand::Emulate(a) => emulate(&a),
    }
}

fn build_policy(a: &VerifyArgs) -> Result<Policy> {
    let mut p = match &a.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Policy::from_toml(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: invalid policy", path.display()))?
        }
        None => Policy::default(),
    };
    p.allow_debug |= a.allow_debug;
    p.allow_provisional_firmware |= a.allow_provisional_firmware;
    for m in &a.measurement {
        p.measurements
            .push(HexBytes(input::hex_arg(m, "--measurement")?));
    }
    if let Some(t) = &a.min_tcb {
        p.min_tcb = MinTcb::parse(t)
            .map_err(anyhow::Error::msg)
            .context("--min-tcb")?;
    }
    Ok(p)
}

fn build_reference(a: &VerifyArgs) -> Result<CvmReferenceValues> {
    let mut r = match &a.reference {
        Some(p) => CvmReferenceValues::from_json(&input::read(p)?)
            .with_context(|| format!("{}", p.display()))?,
        None => CvmReferenceValues::default(),
    };
    for spec in &a.pcr {
        let (sel, value) = spec
            .split_once('=')
            .with_context(|| format!("--pcr {spec:?}: expected BANK:INDEX=HEX"))?;
        let (bank, index) = sel.split_once(':').unwrap_or(("sha256", sel));
        if HashAlg::from_name(bank).is_none() {
            bail!("--pcr {spec:?}: unknown bank {bank:?}");
        }
        let index: u32 = index
            .parse()
            .with_context(|| format!("--pcr {spec:?}: bad index"))?;
        r.pcrs
            .entry(bank.to_lowercase())
            .or_default()
            .entry(index)
            .or_default()
            .push(HexBytes(input::hex_arg(value, "--pcr")?));
    }
    Ok(r)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Skipped => "skip",
    }
}

fn print_report(r: &CvmReport) {
    for c in &r.checks {
        println!(
            "{:<9} {:<22} {:<5} {}",
            c.step.name(),
            c.check,
            outcome_word(c.outcome),
            c.detail
        );
    }
    if let Some(s) = &r.snp {
        println!("measurement  {}", s.measurement);
    }
    if let Some(t) = r.tdx.as_ref().and_then(|t| t.td.as_ref()) {
        println!("mr_td        {}", t.mr_td);
    }
    if let Some(ak) = &r.ak {
        println!(
            "ak           {} from {} (spki sha256 {})",
            ak.kind, ak.source, ak.spki_sha256
        );
    }
    if let Some(ev) = &r.eventlog {
        if let Some(f) = &ev.firmware_version {
            println!("firmware     {f} (as measured into PCR 0)");
        }
        if let Some(sb) = ev.secure_boot {
            println!("secure_boot  {sb}");
        }
        for app in &ev.boot_applications {
            println!("boot_app     {app}");
        }
        if let Some(c) = &ev.kernel_cmdline {
            println!("cmdline      {c}");
        }
    }
    for (bank, m) in &r.pcrs {
        for (i, v) in m {
            println!("pcr          {}:{i:<2} {v}", bank.name());
        }
    }
}

fn verify_cmd(a: &VerifyArgs) -> Result<CliOutcome> {
    let bytes = input::read(&a.evidence)?;
    let evidence =
        CvmEvidence::from_json(&bytes).with_context(|| format!("{}", a.evidence.display()))?;
    let anchors = crate::snp::trust_roots(&a.trust_root)?;
    let mut opts = CvmOptions::new(a.at.unwrap_or_else(UnixTime::now))
        .with_policy(build_policy(a)?)
        .with_reference(build_reference(a)?);
    opts.product = a.product;
    if let Some(n) = &a.nonce {
        opts = opts.with_nonce(&input::hex_arg(n, "--nonce")?);
    }
    let collateral = a
        .collateral
        .as_deref()
        .map(crate::dcap::load_collateral)
        .transpose()?;
    let dcap_anchor = match &a.dcap_root {
        Some(p) => Some(
            shomei_dcap::TrustAnchor::from_der_or_pem(&input::read(p)?)
                .with_context(|| format!("{}: trust anchor", p.display()))?,
        ),
        None => None,
    };
    let dcap_policy = match &a.dcap_policy {
        Some(p) => shomei_dcap::Policy::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}: invalid policy", p.display()))?,
        None => shomei_dcap::Policy::default(),
    };
    if let Some(c) = &collateral {
        let anchor = match &dcap_anchor {
            Some(t) => t,
            None => shomei_dcap::TrustAnchor::intel()
                .context("the compiled-in Intel SGX Root CA did not load")?,
        };
        opts = opts.with_dcap(shomei_cvm::verify::DcapInputs {
            collateral: c,
            anchor,
            policy: dcap_policy,
        });
    }
    let opts = match &anchors {
        Some(t) => opts.with_anchors(t),
        None => opts,
    };
    let (report, accepted) = match shomei_cvm::verify(&evidence, &opts) {
        Ok(r) => (r, true),
        Err(Error::Rejected(r)) => (*r, false),
        Err(e) => {
            return Err(anyhow::Error::new(e)).with_context(|| format!("{}", a.evidence.display()));
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
        if accepted {
            println!(
                "verified: two-step CVM evidence ({}) at {}",
                match report.format {
                    shomei_cvm::EvidenceFormat::AzureHcl => "Azure HCL report + vTPM quote",
                    shomei_cvm::EvidenceFormat::Composite => "SNP report + vTPM quote + event log",
                },
                report.verified_at
            );
        }
    }
    match report.first_failure() {
        None => Ok(CliOutcome::Ok),
        Some(c) => Ok(CliOutcome::Rejected {
            check: c.qualified_name(),
            detail: c.detail.clone(),
        }),
    }
}

fn emulate(a: &EmulateArgs) -> Result<CliOutcome> {
    let nonce = match &a.nonce {
        Some(n) => input::hex_arg(n, "--nonce")?,
        None => {
            let mut n = vec![0u8; 32];
            aws_lc_rs::rand::fill(&mut n).map_err(|_| anyhow::anyhow!("random generator"))?;
            n
        }
    };
    let honest = EmulatedCvm::new(CvmConfig::default())?;
    let reference = honest.reference_values()?;
    let root = std::sync::Arc::clone(honest.root());
    let trust_root = honest.trust_root_pem()?;
    let mut config = CvmConfig::default();
    match a.attack {
        Some(Attack::OtherFirmware) => {
            config.firmware = synthetic_firmware("a firmware that lies to the vTPM");
        }
        Some(Attack::Debug) => config.policy |= POLICY_DEBUG,
        Some(Attack::OmitPcr) => {
            config.quote_selection = vec![(
                HashAlg::Sha256,
                (0..24).filter(|i| *i != a.omit_pcr).collect(),
            )];
        }
        _ => {}
    }
    let mut cvm = EmulatedCvm::with_root(config, std::sync::Arc::clone(&root))?;
    let evidence: CompositeEvidence = match a.attack {
        Some(Attack::ForeignVtpm) => {
            let other_cfg = CvmConfig {
                chip_secret: *b"another chip, another VM, vTPM!!",
                ..CvmConfig::default()
            };
            let mut other = EmulatedCvm::with_root(other_cfg, root)?;
            cvm.attest_with_foreign_vtpm(&nonce, &mut other)?
        }
        Some(Attack::ReplayReport) => {
            let old = cvm.attest(b"an earlier challenge")?;
            let fresh = cvm.attest(&nonce)?;
            CompositeEvidence {
                snp_report: old.snp_report,
                nonce: old.nonce,
                ..fresh
            }
        }
        _ => cvm.attest(&nonce)?,
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let write = |name: &str, data: &[u8]| -> Result<()> {
        let p = a.out.join(name);
        std::fs::write(&p, data).with_context(|| format!("cannot write {}", p.display()))
    };
    write("evidence.json", evidence.to_json()?.as_bytes())?;
    write("reference.json", reference.to_json()?.as_bytes())?;
    write("trust-root.pem", trust_root.as_bytes())?;
    println!(
        "emulated CVM: measurement {}, nonce {}",
        hex::encode(cvm.measurement()),
        hex::encode(&nonce)
    );
    println!(
        "wrote {}/{{evidence.json,reference.json,trust-root.pem}}",
        a.out.display()
    );
    println!(
        "verify: shomei cvm verify {0}/evidence.json --nonce {1} --reference {0}/reference.json --trust-root {0}/trust-root.pem",
        a.out.display(),
        hex::encode(&nonce)
    );
    Ok(CliOutcome::Ok)
}
