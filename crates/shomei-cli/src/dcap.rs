//! `shomei dcap …`: Intel DCAP quotes (SGX v3, TDX v4/v5).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use shomei_core::UnixTime;
use shomei_dcap::claims::QuoteClaims;
use shomei_dcap::collateral::parse_chain;
use shomei_dcap::{
    Collateral, Error, PcsFiles, Policy, Quote, TcbStatus, TrustAnchor, VerifyOptions, Violation,
    verify,
};

use crate::Outcome;
use crate::input;

#[derive(Subcommand)]
pub enum DcapCommand {
    /// Verify a quote's signatures, PCK chain and TCB level with its collateral, then appraise
    /// it against a policy (default: TCB status UpToDate only, collateral not expired).
    Verify(Box<VerifyArgs>),
    /// Fetch the collateral for a quote's platform from Intel PCS (or a PCCS) into the cache,
    /// verified before it is cached; prints the cache directory (usable as --collateral).
    Fetch(FetchArgs),
}

/// Where PCS collateral comes from and is cached.
#[derive(Args)]
pub struct PcsArgs {
    /// PCS or PCCS base URL (default: Intel PCS; a PCCS also serves the Root CA CRL).
    #[arg(long)]
    pcs_url: Option<String>,
    /// Cache directory (default: $XDG_CACHE_HOME/shomei/pcs or ~/.cache/shomei/pcs).
    #[arg(long)]
    pcs_cache: Option<PathBuf>,
    /// Use the cache only.
    #[arg(long, conflicts_with = "refresh")]
    offline: bool,
    /// Fetch even when the cache holds a valid set.
    #[arg(long)]
    refresh: bool,
}

#[derive(Args)]
pub struct FetchArgs {
    /// A quote whose certification data is the PCK chain (names the TEE, FMSPC and PCK CA).
    quote: PathBuf,
    #[command(flatten)]
    pcs: PcsArgs,
    /// The root the collateral must verify under (default: the Intel SGX Root CA).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The time that judges expiry (default: now).
    #[arg(long)]
    at: Option<UnixTime>,
}

fn pcs_client(a: &PcsArgs) -> shomei_pcs::PcsClient {
    use shomei_pcs::{Mode, PcsConfig};
    let mut config = match &a.pcs_url {
        Some(url) => PcsConfig::pccs(url),
        None => PcsConfig::default(),
    };
    if let Some(dir) = &a.pcs_cache {
        config.cache_dir = Some(dir.clone());
    }
    config.mode = if a.offline {
        Mode::Offline
    } else if a.refresh {
        Mode::Refresh
    } else {
        Mode::Online
    };
    shomei_pcs::PcsClient::new(config)
}

fn anchor_arg(root: Option<&Path>) -> Result<Option<TrustAnchor>> {
    root.map(|p| {
        TrustAnchor::from_der_or_pem(&input::read(p)?)
            .with_context(|| format!("{}: trust anchor", p.display()))
    })
    .transpose()
}

fn fetch_collateral(
    quote: &[u8],
    pcs: &PcsArgs,
    anchor: Option<&TrustAnchor>,
    at: UnixTime,
) -> Result<(Collateral, Option<PathBuf>)> {
    let req = shomei_pcs::CollateralRequest::from_quote(quote)?;
    let anchor = match anchor {
        Some(a) => a,
        None => TrustAnchor::intel().context("the built-in Intel SGX Root CA did not load")?,
    };
    Ok(pcs_client(pcs).collateral(&req, anchor, at)?)
}

fn fetch_cmd(a: FetchArgs) -> Result<Outcome> {
    let quote = read_quote(&a.quote)?;
    let anchor = anchor_arg(a.root.as_deref())?;
    let at = a.at.unwrap_or_else(UnixTime::now);
    let (_, dir) = fetch_collateral(&quote, &a.pcs, anchor.as_ref(), at)?;
    match dir {
        Some(d) => println!("{}", d.display()),
        None => bail!("no cache directory (set --pcs-cache, or HOME/XDG_CACHE_HOME)"),
    }
    Ok(Outcome::Ok)
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The quote: raw bytes (trailing zero padding is fine) or hex.
    quote: PathBuf,
    /// dcap-qvl's collateral JSON, or a directory of PCS-format files: tcb_info.json,
    /// qe_identity.json, pck_crl.der|pem, root_ca_crl.der|pem, tcb_info_issuer_chain.pem and
    /// optionally qe_identity_issuer_chain.pem, pck_crl_issuer_chain.pem, pck_cert_chain.pem.
    #[arg(long, required_unless_present = "fetch")]
    collateral: Option<PathBuf>,
    /// Fetch the collateral from Intel PCS or a PCCS (through the cache) instead.
    #[arg(long, conflicts_with = "collateral")]
    fetch: bool,
    #[command(flatten)]
    pcs: PcsArgs,
    /// The PCK certificate (and CA), PEM, for quotes whose certification data is not a PCK
    /// chain (types 1–4).
    #[arg(long)]
    pck_chain: Option<PathBuf>,
    /// Verification time: RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    at: Option<UnixTime>,
    /// Trust this root CA (PEM or DER) instead of the built-in Intel SGX Root CA, e.g. Intel's
    /// synthetic sample root or an emulator's test root. Nothing else is trusted then.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Policy file (TOML); the flags below add to it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Also accept this TCB status (Intel's name; repeatable).
    #[arg(long = "accept-status")]
    accept_status: Vec<TcbStatus>,
    /// Accept debug enclaves and TDs.
    #[arg(long)]
    allow_debug: bool,
    /// Machine-readable result on stdout (snake_case keys).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: DcapCommand) -> Result<Outcome> {
    match cmd {
        DcapCommand::Verify(a) => verify_cmd(*a),
        DcapCommand::Fetch(a) => fetch_cmd(a),
    }
}

/// Reads a quote: the raw bytes, or the same as hex text.
fn read_quote(path: &Path) -> Result<Vec<u8>> {
    let bytes = input::read(path)?;
    if Quote::parse(&bytes).is_err() {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(decoded) = shomei_core::hexfmt::decode(text) {
                if Quote::parse(&decoded).is_ok() {
                    return Ok(decoded);
                }
            }
        }
    }
    Ok(bytes)
}

fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn required(dir: &Path, names: &[&str]) -> Result<Vec<u8>> {
    match first_existing(dir, names) {
        Some(p) => input::read(&p),
        None => bail!(
            "{}: missing collateral file {}",
            dir.display(),
            names.join(" or ")
        ),
    }
}

fn optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    first_existing(dir, &[name])
        .map(|p| input::read(&p))
        .transpose()
}

/// Reads `--collateral`: a dcap-qvl JSON file or a PCS-format directory.
pub fn load_collateral(path: &Path) -> Result<Collateral> {
    if path.is_dir() {
        let tcb = required(path, &["tcb_info.json"])?;
        let qe = required(path, &["qe_identity.json"])?;
        let pck_crl = required(path, &["pck_crl.der", "pck_crl.pem", "pck_crl.crl"])?;
        let root_crl = required(
            path,
            &["root_ca_crl.der", "root_ca_crl.pem", "root_ca_crl.crl"],
        )?;
        let tcb_chain = required(path, &["tcb_info_issuer_chain.pem"])?;
        let qe_chain = optional(path, "qe_identity_issuer_chain.pem")?;
        let crl_chain = optional(path, "pck_crl_issuer_chain.pem")?;
        let pck_chain = optional(path, "pck_cert_chain.pem")?;
        Collateral::from_pcs(&PcsFiles {
            tcb_info: &tcb,
            qe_identity: &qe,
            pck_crl: &pck_crl,
            root_ca_crl: &root_crl,
            tcb_info_issuer_chain: &tcb_chain,
            qe_identity_issuer_chain: qe_chain.as_deref(),
            pck_crl_issuer_chain: crl_chain.as_deref(),
            pck_cert_chain: pck_chain.as_deref(),
        })
        .with_context(|| format!("{}", path.display()))
    } else {
        let bytes = input::read(path)?;
        Collateral::from_dcap_qvl_json(&bytes).with_context(|| format!("{}", path.display()))
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
    for s in &a.accept_status {
        if !p.accepted_statuses.contains(s) {
            p.accepted_statuses.push(*s);
        }
    }
    p.allow_debug |= a.allow_debug;
    Ok(p)
}

#[derive(Serialize)]
struct RejectionJson {
    check: String,
    detail: String,
}

#[derive(Serialize)]
struct VerifyJson {
    /// Verified and acceptable to the policy.
    verified: bool,
    /// Every signature and chain verified (true even when the TCB level or the policy rejects).
    signature_valid: bool,
    verified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<RejectionJson>,
    violations: Vec<Violation>,
    /// Intel's converged TCB status (absent when verification rejected the quote).
    status: Option<TcbStatus>,
    advisory_ids: Vec<String>,
    tee: Option<shomei_dcap::Tee>,
    /// SGX: the ISV enclave's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    enclave: Option<shomei_dcap::claims::EnclaveClaims>,
    /// TDX: MRTD, RTMRs and the TD's other measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    td: Option<shomei_dcap::claims::TdClaims>,
    /// Everything else the verified quote says.
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<QuoteClaims>,
}

fn verify_cmd(a: VerifyArgs) -> Result<Outcome> {
    let quote = read_quote(&a.quote)?;
    let policy = build_policy(&a)?;
    let anchor = anchor_arg(a.root.as_deref())?;
    let at = a.at.unwrap_or_else(UnixTime::now);
    let mut collateral = match &a.collateral {
        Some(path) => load_collateral(path)?,
        None => fetch_collateral(&quote, &a.pcs, anchor.as_ref(), at)?.0,
    };
    if let Some(p) = &a.pck_chain {
        collateral.pck_cert_chain = parse_chain("--pck-chain", &input::read(p)?)
            .with_context(|| format!("{}", p.display()))?;
    }
    let opts = match &anchor {
        Some(root) => VerifyOptions::at(at).with_anchor(root),
        None => VerifyOptions::at(at),
    };
    match verify(&quote, &collateral, &opts) {
        Ok(v) => {
            let violations = policy.appraise(&v);
            let claims = QuoteClaims::new(&v);
            if a.json {
                let out = VerifyJson {
                    verified: violations.is_empty(),
                    signature_valid: true,
                    verified_at: at.to_rfc3339(),
                    rejection: violations.first().map(|x| RejectionJson {
                        check: x.check.clone(),
                        detail: x.detail.clone(),
                    }),
                    violations: violations.clone(),
                    status: Some(claims.status),
                    advisory_ids: claims.advisory_ids.clone(),
                    tee: Some(claims.tee),
                    enclave: claims.enclave.clone(),
                    td: claims.td.clone(),
                    claims: Some(claims),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if violations.is_empty() {
                print_text(&claims, at);
            }
            match violations.into_iter().next() {
                None => Ok(Outcome::Ok),
                Some(first) => Ok(Outcome::Rejected {
                    check: first.check,
                    detail: first.detail,
                }),
            }
        }
        Err(Error::Rejected(r)) => {
            let (check, detail) = (r.check().to_owned(), r.to_string());
            if a.json {
                let out = VerifyJson {
                    verified: false,
                    signature_valid: check == "tcb_not_supported",
                    verified_at: at.to_rfc3339(),
                    rejection: Some(RejectionJson {
                        check: check.clone(),
                        detail: detail.clone(),
                    }),
                    violations: Vec::new(),
                    status: None,
                    advisory_ids: Vec::new(),
                    tee: Quote::parse(&quote).ok().map(|q| q.tee()),
                    enclave: None,
                    td: None,
                    claims: None,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(Outcome::Rejected { check, detail })
        }
        Err(e) => Err(anyhow::Error::new(e)).with_context(|| format!("{}", a.quote.display())),
    }
}

fn print_text(c: &QuoteClaims, at: UnixTime) {
    let body = match (&c.td, c.quote_version) {
        (Some(td), v) if td.tee_tcb_svn2.is_some() => format!("TDX quote v{v} (TD 1.5)"),
        (Some(_), v) => format!("TDX quote v{v} (TD 1.0)"),
        (None, v) => format!("SGX quote v{v}"),
    };
    println!(
        "verified: {body}, TCB status {} at {at}{}",
        c.status,
        if c.trust_anchor_is_intel {
            String::new()
        } else {
            format!(
                " (trust anchor {} — not the Intel SGX Root CA)",
                c.trust_anchor_sha256
            )
        }
    );
    let adv = if c.advisory_ids.is_empty() {
        "(none)".to_owned()
    } else {
        c.advisory_ids.join(", ")
    };
    let mut lines: Vec<(&str, String)> = vec![
        ("advisory_ids", adv),
        ("fmspc", hex::encode_upper(c.pck.fmspc)),
    ];
    if let Some(td) = &c.td {
        lines.extend([
            ("mr_td", td.mr_td.clone()),
            ("rtmr0", td.rtmr0.clone()),
            ("rtmr1", td.rtmr1.clone()),
            ("rtmr2", td.rtmr2.clone()),
            ("rtmr3", td.rtmr3.clone()),
            ("td_attributes", td.td_attributes.clone()),
            ("report_data", td.report_data.clone()),
        ]);
    }
    if let Some(e) = &c.enclave {
        lines.extend([
            ("mr_enclave", e.mr_enclave.clone()),
            ("mr_signer", e.mr_signer.clone()),
            ("isv_prod_id", e.isv_prod_id.to_string()),
            ("isv_svn", e.isv_svn.to_string()),
            ("report_data", e.report_data.clone()),
        ]);
    }
    for (k, v) in lines {
        println!("{k:<14} {v}");
    }
}

/// The first element inside a DER SEQUENCE (the TBS of a certificate or CRL), as received.
fn der_first_inner(der: &[u8]) -> Option<&[u8]> {
    fn header(b: &[u8]) -> Option<(usize, usize)> {
        // (header length, content length) of the TLV at the start of `b`.
        let first = *b.get(1)?;
        if first < 0x80 {
            return Some((2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        let bytes = b.get(2..2usize.checked_add(n)?)?;
        let len = bytes.iter().try_fold(0usize, |acc, x| {
            acc.checked_mul(256)?.checked_add(usize::from(*x))
        })?;
        Some((2usize.checked_add(n)?, len))
    }
    let (outer_h, _) = header(der)?;
    let inner = der.get(outer_h..)?;
    let (h, len) = header(inner)?;
    inner.get(..h.checked_add(len)?)
}

/// `shomei bench dcap`: the TDX v4 vector with dcap-qvl's collateral at its pinned time.
///
/// - `dcap_verify`: one quote against collateral verified once ([`VerifiedCollateral`]), vs the
///   three raw ECDSA P-256 verifications a quote cannot avoid (PCK certificate by the PCK CA,
///   QE report by the PCK key, quote by the attestation key).
/// - `dcap_verify_full`: [`verify`] from bytes, collateral included, vs the nine it cannot
///   avoid (those three, plus Root CA CRL, TCB Signing certificate, TCB Info, QE Identity,
///   PCK CA certificate, PCK CRL).
///
/// Baselines use aws-lc-rs with keys parsed in advance.
pub fn bench(seconds: f64) -> Result<Vec<(&'static str, crate::bench::Entry)>> {
    use aws_lc_rs::signature::{self, ParsedPublicKey};
    use shomei_core::x509::{Certificate, Crl, PublicKey};
    use shomei_dcap::VerifiedCollateral;

    let dir = shomei_core::vectors::locate()?;
    let quote_bytes = std::fs::read(dir.join("dcap/dcap-qvl/tdx_quote")).context("tdx_quote")?;
    let collateral = load_collateral(&dir.join("dcap/dcap-qvl/tdx_quote_collateral.json"))?;
    let at = UnixTime::from_secs(1_751_328_000);
    let opts = VerifyOptions::at(at);
    let anchor = opts.anchor.context("the Intel root did not load")?;
    let vc = VerifiedCollateral::new(&collateral, anchor)?;
    vc.verify_quote(&quote_bytes, at)?;
    verify(&quote_bytes, &collateral, &opts)?;

    let q = Quote::parse(&quote_bytes)?;
    let chain = parse_chain("quote PCK chain", q.certification_data().data)?;
    let (leaf, ca) = match chain.as_slice() {
        [leaf, ca, ..] => (leaf, ca),
        _ => bail!("the quote's PCK chain is too short"),
    };
    let tcb_signer = collateral
        .tcb_info_issuer_chain
        .first()
        .context("no TCB Signing certificate")?;
    let point = |c: &Certificate| -> Result<Vec<u8>> {
        match c.public_key()? {
            PublicKey::EcP256(p) => Ok(p),
            _ => bail!("not a P-256 key"),
        }
    };
    let asn1 = |p: Vec<u8>| {
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, p)
            .map_err(|_| anyhow::anyhow!("bad key"))
    };
    let fixed = |p: Vec<u8>| {
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p)
            .map_err(|_| anyhow::anyhow!("bad key"))
    };
    let root_pt = point(anchor.certificate())?;
    let (root_a, ca_a) = (asn1(root_pt)?, asn1(point(ca)?)?);
    let (leaf_f, tcb_f) = (fixed(point(leaf)?)?, fixed(point(tcb_signer)?)?);
    let mut att = vec![0x04u8];
    att.extend_from_slice(q.attestation_key());
    let att_f = fixed(att)?;

    let cert_sig = |c: &Certificate| -> Result<(Vec<u8>, Vec<u8>)> {
        let sig = c.decoded().signature.as_bytes().context("signature")?;
        Ok((c.tbs_bytes().to_vec(), sig.to_vec()))
    };
    let crl_sig = |c: &Crl| -> Result<(Vec<u8>, Vec<u8>)> {
        let sig = c.decoded().signature.as_bytes().context("signature")?;
        let tbs = der_first_inner(c.der()).context("CRL TBS")?;
        Ok((tbs.to_vec(), sig.to_vec()))
    };
    let leaf_s = cert_sig(leaf)?;
    let ca_s = cert_sig(ca)?;
    let tcb_cert_s = cert_sig(tcb_signer)?;
    let root_crl_s = crl_sig(&collateral.root_ca_crl)?;
    let pck_crl_s = crl_sig(&collateral.pck_crl)?;
    let (qe_bytes, qe_sig) = (q.qe_report_bytes(), q.qe_report_signature());
    let (signed, sig) = (q.signed_bytes(), q.signature());
    let tcb_info = &collateral.tcb_info;
    let qe_id = &collateral.qe_identity;

    let per_quote = || {
        ca_a.verify_sig(&leaf_s.0, &leaf_s.1).is_ok()
            && leaf_f.verify_sig(qe_bytes, qe_sig).is_ok()
            && att_f.verify_sig(signed, sig).is_ok()
    };
    let all_nine = || {
        per_quote()
            && root_a.verify_sig(&root_crl_s.0, &root_crl_s.1).is_ok()
            && root_a.verify_sig(&tcb_cert_s.0, &tcb_cert_s.1).is_ok()
            && tcb_f
                .verify_sig(tcb_info.raw(), tcb_info.signature())
                .is_ok()
            && tcb_f.verify_sig(qe_id.raw(), qe_id.signature()).is_ok()
            && root_a.verify_sig(&ca_s.0, &ca_s.1).is_ok()
            && ca_a.verify_sig(&pck_crl_s.0, &pck_crl_s.1).is_ok()
    };

    let per = std::time::Duration::from_secs_f64(seconds.max(0.1));
    let (base, cached) =
        crate::bench::interleaved(per, per_quote, || vc.verify_quote(&quote_bytes, at).is_ok())?;
    let (base9, full) = crate::bench::interleaved(per, all_nine, || {
        verify(&quote_bytes, &collateral, &opts).is_ok()
    })?;
    let entry = |us: f64, b: f64| crate::bench::Entry {
        us_per_op: us,
        baseline_us: b,
        ratio: us / b,
    };
    Ok(vec![
        ("dcap_verify", entry(cached, base)),
        ("dcap_verify_full", entry(full, base9)),
    ])
}
