//! `shomei snp …`

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use shomei_core::UnixTime;
use shomei_snp::claims::{ReportClaims, TcbClaim};
use shomei_snp::policy::{HexBytes, MinTcb};
use shomei_snp::{Collateral, Error, Policy, Product, Report, SigningKey, VerifyOptions, verify};

use crate::Outcome;
use crate::input;

#[derive(Subcommand)]
pub enum SnpCommand {
    /// Print every field of a report (raw 1184 bytes, hex, or an Azure HCL report).
    Display(DisplayArgs),
    /// Verify a report's signature and certificate chain, then appraise it against a policy.
    Verify(Box<VerifyArgs>),
    /// Fetch collateral from AMD's Key Distribution Service into the cache.
    #[command(subcommand)]
    Fetch(crate::fetch::FetchCommand),
    /// Calculate the launch digest (sev-snp-measure's flags and output).
    Measure(Box<crate::measure::MeasureArgs>),
    /// Launch a guest on an emulated AMD-SP and write its report, certificates and test root.
    Emulate(Box<crate::emulate::EmulateArgs>),
}

#[derive(Args)]
pub struct DisplayArgs {
    report: PathBuf,
    /// Product whose TCB layout to use (default: from CPUID, report v3+).
    #[arg(long)]
    product: Option<Product>,
    /// Machine-readable output (snake_case keys).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    report: PathBuf,
    /// The VCEK (DER or PEM; may include the ASK and ARK).
    #[arg(long, conflicts_with = "vlek")]
    vcek: Option<PathBuf>,
    /// The VLEK (DER or PEM; may include the ASVK and ARK).
    #[arg(long)]
    vlek: Option<PathBuf>,
    /// More certificates: a PEM bundle, a DER file, an extended-report certificate table, or a
    /// directory of such files (repeatable). The AMD roots are built in.
    #[arg(long)]
    certs: Vec<PathBuf>,
    /// Trust this root (PEM: ARK with its ASK and ASVK) instead of AMD's built-in roots, e.g. an
    /// emulated one (repeatable). Nothing but AMD's roots is trusted without it.
    #[arg(long)]
    trust_root: Vec<PathBuf>,
    /// A CRL signed by the ARK (DER or PEM; repeatable).
    #[arg(long)]
    crl: Vec<PathBuf>,
    /// Asserted product (milan, genoa, turin); must agree with the report and the VEK.
    #[arg(long)]
    product: Option<Product>,
    /// Verification time: RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    at: Option<UnixTime>,
    /// Policy file (TOML); the flags below override it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Accept reports whose guest policy allows debugging.
    #[arg(long)]
    allow_debug: bool,
    /// Accept firmware whose committed version/TCB differs from the current one.
    #[arg(long)]
    allow_provisional_firmware: bool,
    /// Accepted launch measurement, hex (repeatable: an allowlist).
    #[arg(long)]
    measurement: Vec<String>,
    /// Expected REPORT_DATA, hex (zero-padded to 64 bytes).
    #[arg(long)]
    report_data: Option<String>,
    /// Expected HOST_DATA, hex (zero-padded to 32 bytes).
    #[arg(long)]
    host_data: Option<String>,
    /// Required VMPL.
    #[arg(long)]
    vmpl: Option<u32>,
    /// Minimum TCB, e.g. `bl=3,tee=0,snp=8,ucode=115` (add `fmc=` on Turin).
    #[arg(long)]
    min_tcb: Option<String>,
    /// Without --vcek/--vlek/--certs the VCEK is taken from the KDS cache; with --fetch it is
    /// downloaded when missing, and the product's CRL is fetched and checked too.
    #[arg(long)]
    fetch: bool,
    #[command(flatten)]
    kds: crate::fetch::KdsArgs,
    /// Machine-readable result on stdout (snake_case keys).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SnpCommand) -> Result<Outcome> {
    match cmd {
        SnpCommand::Display(a) => display(a),
        SnpCommand::Verify(a) => verify_cmd(*a),
        SnpCommand::Fetch(f) => crate::fetch::run(f),
        SnpCommand::Measure(m) => crate::measure::run(*m),
        SnpCommand::Emulate(e) => crate::emulate::run(*e),
    }
}

fn display(a: DisplayArgs) -> Result<Outcome> {
    let bytes = input::report(&a.report)?;
    let report = Report::parse(&bytes).with_context(|| format!("{}", a.report.display()))?;
    let claims = ReportClaims::new(&report, a.product.map(|p| (p, "caller")));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&claims)?);
    } else {
        print_text(&claims)?;
    }
    Ok(Outcome::Ok)
}

fn tcb_text(t: &TcbClaim) -> String {
    match t {
        TcbClaim::Decoded(t) => t.to_string(),
        TcbClaim::Raw { raw } => format!("raw {raw} (product unknown: pass --product)"),
    }
}

fn print_text(c: &ReportClaims) -> Result<()> {
    let p = &c.policy;
    let flags: Vec<&str> = [
        (p.smt, "SMT"),
        (p.migrate_ma, "MIGRATE_MA"),
        (p.debug, "DEBUG"),
        (p.single_socket, "SINGLE_SOCKET"),
        (p.cxl_allow, "CXL_ALLOW"),
        (p.mem_aes_256_xts, "MEM_AES_256_XTS"),
        (p.rapl_dis, "RAPL_DIS"),
        (p.ciphertext_hiding, "CIPHERTEXT_HIDING"),
        (p.page_swap_disable, "PAGE_SWAP_DISABLE"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    let pi = &c.platform_info;
    let pflags: Vec<&str> = [
        (pi.smt_enabled, "SMT_EN"),
        (pi.tsme_enabled, "TSME_EN"),
        (pi.ecc_enabled, "ECC_EN"),
        (pi.rapl_disabled, "RAPL_DIS"),
        (pi.ciphertext_hiding_enabled, "CIPHERTEXT_HIDING_EN"),
        (pi.alias_check_complete, "ALIAS_CHECK_COMPLETE"),
        (pi.iommu_write_safe, "IOMMU_WRITE_SAFE"),
        (pi.tio_enabled, "TIO_EN"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    let product = match (c.product, c.product_source) {
        (Some(p), Some(s)) => format!("{p} (from {s})"),
        _ => "unknown".into(),
    };
    let mut lines = vec![
        ("version", c.version.to_string()),
        ("product", product),
        ("guest_svn", c.guest_svn.to_string()),
        (
            "policy",
            format!(
                "{} ABI {}.{} [{}] unknown bits {}",
                p.raw,
                p.abi_major,
                p.abi_minor,
                flags.join(" "),
                p.unknown_bits
            ),
        ),
        ("family_id", c.family_id.clone()),
        ("image_id", c.image_id.clone()),
        ("vmpl", c.vmpl.to_string()),
        ("signature_algo", c.signature_algo.to_string()),
        (
            "platform_info",
            format!(
                "{} [{}] unknown bits {}",
                pi.raw,
                pflags.join(" "),
                pi.unknown_bits
            ),
        ),
        (
            "key_info",
            format!(
                "signing key {:?}, author key {}, mask chip key {}",
                c.key_info.signing_key, c.key_info.author_key_en, c.key_info.mask_chip_key
            ),
        ),
        ("report_data", c.report_data.clone()),
        ("measurement", c.measurement.clone()),
        ("host_data", c.host_data.clone()),
        ("id_key_digest", c.id_key_digest.clone()),
        ("author_key_digest", c.author_key_digest.clone()),
        ("report_id", c.report_id.clone()),
        ("report_id_ma", c.report_id_ma.clone()),
        ("current_tcb", tcb_text(&c.current_tcb)),
        ("reported_tcb", tcb_text(&c.reported_tcb)),
        ("committed_tcb", tcb_text(&c.committed_tcb)),
        ("launch_tcb", tcb_text(&c.launch_tcb)),
    ];
    if let Some(cpu) = &c.cpuid {
        lines.push((
            "cpuid",
            format!(
                "family {:#x} model {:#x} stepping {:#x}",
                cpu.family, cpu.model, cpu.stepping
            ),
        ));
    }
    lines.extend([
        ("chip_id", c.chip_id.clone()),
        ("current_version", c.current_version.to_string()),
        ("committed_version", c.committed_version.to_string()),
        ("provisional_firmware", c.provisional_firmware.to_string()),
    ]);
    if let Some(v) = c.launch_mit_vector {
        lines.push(("launch_mit_vector", format!("{v:#x}")));
    }
    if let Some(v) = c.current_mit_vector {
        lines.push(("current_mit_vector", format!("{v:#x}")));
    }
    lines.push(("signature_r", c.signature.r.clone()));
    lines.push(("signature_s", c.signature.s.clone()));
    for (k, v) in lines {
        println!("{k:<22} {v}");
    }
    Ok(())
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
    if let Some(rd) = &a.report_data {
        p.report_data = Some(HexBytes(input::hex_arg(rd, "--report-data")?));
    }
    if let Some(hd) = &a.host_data {
        p.host_data = Some(HexBytes(input::hex_arg(hd, "--host-data")?));
    }
    if let Some(v) = a.vmpl {
        p.vmpl = Some(v);
    }
    if let Some(t) = &a.min_tcb {
        let m = MinTcb::parse(t)
            .map_err(anyhow::Error::msg)
            .context("--min-tcb")?;
        let merge = |a: Option<u8>, b: Option<u8>| b.or(a);
        p.min_tcb = MinTcb {
            fmc: merge(p.min_tcb.fmc, m.fmc),
            bootloader: merge(p.min_tcb.bootloader, m.bootloader),
            tee: merge(p.min_tcb.tee, m.tee),
            snp: merge(p.min_tcb.snp, m.snp),
            microcode: merge(p.min_tcb.microcode, m.microcode),
        };
    }
    Ok(p)
}

#[derive(Serialize)]
struct VerifyJson<'a> {
    verified: bool,
    /// Signature and chain verified (true even when the policy then rejects).
    signature_valid: bool,
    verified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<&'a shomei_snp::Signer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<RejectionJson>,
    violations: Vec<shomei_snp::Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<ReportClaims>,
}

#[derive(Serialize)]
struct RejectionJson {
    check: String,
    detail: String,
}

fn verify_cmd(a: VerifyArgs) -> Result<Outcome> {
    let bytes = input::report(&a.report)?;
    let policy = build_policy(&a)?;
    let mut collateral = Collateral::new();
    let mut asserted: Option<SigningKey> = None;
    if let Some(p) = &a.vcek {
        input::add_path(&mut collateral, p)?;
        asserted = Some(SigningKey::Vcek);
    }
    if let Some(p) = &a.vlek {
        input::add_path(&mut collateral, p)?;
        asserted = Some(SigningKey::Vlek);
    }
    for p in &a.certs {
        input::add_path(&mut collateral, p)?;
    }
    for p in &a.crl {
        input::add_path(&mut collateral, p)?;
    }
    let at = a.at.unwrap_or_else(UnixTime::now);
    let has_vek = collateral
        .certificates
        .iter()
        .any(|c| matches!(c.subject_cn().as_deref(), Some("SEV-VCEK" | "SEV-VLEK")));
    let vcek_signed = Report::parse(&bytes).is_ok_and(|r| r.signing_key() == SigningKey::Vcek);
    if !has_vek && vcek_signed {
        let der = crate::fetch::vcek_for_verify(&a.kds, &bytes, a.product, a.fetch)?;
        collateral
            .certificates
            .push(shomei_core::x509::Certificate::from_der(&der).context("cached VCEK")?);
    }
    if a.fetch {
        if let Some(product) = Report::parse(&bytes)
            .ok()
            .and_then(|r| r.product_from_cpuid())
            .or(a.product)
        {
            let kind = Report::parse(&bytes)
                .map(|r| r.signing_key())
                .unwrap_or(SigningKey::Vcek);
            let client = a.kds.client(None)?;
            collateral.crls.push(client.crl(product, kind, at)?);
        }
    }

    // The flag names the key the user believes signed the report; KEY_INFO decides.
    if let (Some(want), Ok(r)) = (asserted, Report::parse(&bytes)) {
        if r.signing_key() != want && r.signing_key() != SigningKey::None {
            return reject(
                a.json,
                at,
                "signing_key",
                format!(
                    "KEY_INFO says the report is signed by the {}, but --{} was given",
                    r.signing_key(),
                    want.to_string().to_lowercase()
                ),
            );
        }
    }

    let anchors = trust_roots(&a.trust_root)?;
    let opts = VerifyOptions::at(at)
        .with_product(a.product)
        .with_anchors(anchors.as_ref().unwrap_or(shomei_snp::TrustAnchors::amd()));
    match verify(&bytes, &collateral, &opts) {
        Ok(v) => {
            let violations = policy.appraise(&v);
            let claims = ReportClaims::new(&v.report(), Some((v.product(), "certificate")));
            if a.json {
                let out = VerifyJson {
                    verified: violations.is_empty(),
                    signature_valid: true,
                    verified_at: at.to_rfc3339(),
                    signer: Some(v.signer()),
                    rejection: violations.first().map(|x| RejectionJson {
                        check: x.check.clone(),
                        detail: x.detail.clone(),
                    }),
                    violations: violations.clone(),
                    claims: Some(claims),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if violations.is_empty() {
                let s = v.signer();
                println!(
                    "verified: SEV-SNP report v{} from {} signed by the {}{} at {}",
                    v.report().version(),
                    v.product(),
                    s.kind,
                    s.csp_id
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default(),
                    at
                );
                println!("measurement  {}", claims.measurement);
                println!("report_data  {}", claims.report_data);
                println!("reported_tcb {}", tcb_text(&claims.reported_tcb));
            }
            match violations.into_iter().next() {
                None => Ok(Outcome::Ok),
                Some(first) => Ok(Outcome::Rejected {
                    check: first.check,
                    detail: first.detail,
                }),
            }
        }
        Err(Error::Rejected(r)) => reject(a.json, at, r.check(), r.to_string()),
        Err(e @ Error::MissingCollateral(_)) => Err(anyhow::Error::new(e)),
        Err(e) => Err(anyhow::Error::new(e)).with_context(|| format!("{}", a.report.display())),
    }
}

/// The roots named with --trust-root: each file holds an ARK (self-signed) and the ASK and ASVK
/// it signed.
pub(crate) fn trust_roots(paths: &[PathBuf]) -> Result<Option<shomei_snp::TrustAnchors>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut anchors = shomei_snp::TrustAnchors::empty();
    for p in paths {
        let root = shomei_snp::AmdRoot::from_bundle(&input::read(p)?)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{}: trust root", p.display()))?;
        anchors = anchors.with_root(root);
    }
    Ok(Some(anchors))
}

fn reject(json: bool, at: UnixTime, check: &str, detail: String) -> Result<Outcome> {
    if json {
        let out = VerifyJson {
            verified: false,
            signature_valid: false,
            verified_at: at.to_rfc3339(),
            signer: None,
            rejection: Some(RejectionJson {
                check: check.to_owned(),
                detail: detail.clone(),
            }),
            violations: Vec::new(),
            claims: None,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(Outcome::Rejected {
        check: check.to_owned(),
        detail,
    })
}
