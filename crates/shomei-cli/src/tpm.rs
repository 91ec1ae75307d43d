//! `shomei tpm …`: measured-boot event logs (TCG, TDX CCEL, Linux IMA) and quote verification.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use shomei_tpm::ccel::{looks_like_ccel, replay_ccel};
use shomei_tpm::decode::{Decoded, decode};
use shomei_tpm::eventlog::{Warning, event_type_name};
use shomei_tpm::ima::{self, BankDigest};
use shomei_tpm::{
    AnySignature, AttestationKey, Error as TpmError, EventLog, HashAlg, PcrValues, QuoteOptions,
    check_event_log, quote_selection, verify_quote,
};

use crate::Outcome;
use crate::input;

#[derive(Subcommand)]
pub enum TpmCommand {
    /// Decode and replay a measured-boot event log (TCG binary, TDX CCEL or Linux IMA): final
    /// PCRs per bank (RTMR0..3 for CCEL).
    Eventlog(EventlogArgs),
    /// Verify a TPM2 quote: signature over TPMS_ATTEST, nonce, signed PCR selection and digest
    /// against the supplied PCR values or a replayed event log.
    VerifyQuote(VerifyQuoteArgs),
}

#[derive(Args)]
pub struct EventlogArgs {
    /// The log (binary_bios_measurements, CCEL data, or an IMA measurement list).
    log: PathBuf,
    /// Treat the log as TDX CCEL (detected when SHA-384 is its only bank and indices are 0..4).
    #[arg(long)]
    ccel: bool,
    /// Treat the log as a Linux IMA measurement list (detected for the ASCII form).
    #[arg(long)]
    ima: bool,
    /// Treat the log as a TCG Canonical Event Log in the TLV encoding (detected).
    #[arg(long)]
    cel: bool,
    /// Machine-readable output (snake_case keys).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyQuoteArgs {
    /// TPMS_ATTEST as `tpm2_quote -m` writes it.
    #[arg(long)]
    message: PathBuf,
    /// TPMT_SIGNATURE (`tpm2_quote -s`) or a plain signature.
    #[arg(long)]
    signature: PathBuf,
    /// The attestation key: PEM/DER SubjectPublicKeyInfo or TPM2B_PUBLIC.
    #[arg(long)]
    ak: PathBuf,
    /// The expected extraData (qualifying data), hex.
    #[arg(long)]
    nonce: String,
    /// PCR values `BANK:IDX=HEX,...` (e.g. `sha256:0=00…,sha256:16=98…`).
    #[arg(long)]
    pcrs: Option<String>,
    /// A measured-boot event log whose replay must match the quoted PCRs.
    #[arg(long)]
    eventlog: Option<PathBuf>,
    /// Accept SHA-1 signatures and PCR banks.
    #[arg(long)]
    allow_sha1: bool,
    /// Machine-readable output (snake_case keys).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: TpmCommand) -> Result<Outcome> {
    match cmd {
        TpmCommand::Eventlog(a) => eventlog(&a),
        TpmCommand::VerifyQuote(a) => verify(&a),
    }
}

type PcrMap = BTreeMap<String, BTreeMap<String, String>>;

fn pcr_map(pcrs: &BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>) -> PcrMap {
    pcrs.iter()
        .map(|(b, m)| {
            (
                b.name().to_owned(),
                m.iter()
                    .map(|(i, v)| (i.to_string(), hex::encode(v)))
                    .collect(),
            )
        })
        .collect()
}

#[derive(Serialize)]
struct EventJson {
    index: usize,
    offset: usize,
    pcr: u32,
    event_type: String,
    digests: BTreeMap<String, String>,
    decoded: Decoded,
}

#[derive(Serialize)]
struct EventlogJson {
    format: &'static str,
    events: usize,
    banks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    startup_locality: Option<u8>,
    pcrs: PcrMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtmrs: Option<Vec<String>>,
    warnings: Vec<Warning>,
    event_list: Vec<EventJson>,
}

fn type_name(t: u32) -> String {
    event_type_name(t).map_or_else(|| format!("{t:#010x}"), str::to_owned)
}

fn looks_like_ascii_ima(bytes: &[u8]) -> bool {
    bytes.starts_with(b"10 ") || bytes.starts_with(b"11 ")
}

fn eventlog(a: &EventlogArgs) -> Result<Outcome> {
    let bytes = input::read(&a.log)?;
    if a.ima || looks_like_ascii_ima(&bytes) {
        return ima_log(a, &bytes);
    }
    if a.cel || shomei_tpm::cel::looks_like_cel(&bytes) {
        return cel_log(a, &bytes);
    }
    let log = EventLog::parse(&bytes).with_context(|| format!("{}: event log", a.log.display()))?;
    let ccel = a.ccel || looks_like_ccel(&log);
    let (replay, rtmrs) = if ccel {
        let c = replay_ccel(&log).with_context(|| format!("{}: CCEL", a.log.display()))?;
        let rtmrs: Vec<String> = c.rtmrs.iter().map(hex::encode).collect();
        (c.replay, Some(rtmrs))
    } else {
        (log.replay(), None)
    };
    let format = match (ccel, log.spec_id.is_some()) {
        (true, _) => "ccel",
        (false, true) => "crypto_agile",
        (false, false) => "sha1_legacy",
    };
    let event_list: Vec<EventJson> = log
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| EventJson {
            index: i,
            offset: e.offset,
            pcr: e.pcr,
            event_type: type_name(e.event_type),
            digests: e
                .digests
                .iter()
                .map(|(id, d)| {
                    let name = HashAlg::from_id(*id)
                        .map_or_else(|| format!("{id:#06x}"), |h| h.name().to_owned());
                    (name, hex::encode(d))
                })
                .collect(),
            decoded: decode(e),
        })
        .collect();
    let out = EventlogJson {
        format,
        events: log.events.len(),
        banks: log.banks().iter().map(|b| b.name().to_owned()).collect(),
        startup_locality: replay.startup_locality,
        pcrs: pcr_map(&replay.pcrs),
        rtmrs,
        warnings: replay.warnings.clone(),
        event_list,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Ok);
    }
    println!(
        "{}: {} events, format {}, banks {}",
        a.log.display(),
        out.events,
        out.format,
        out.banks.join(",")
    );
    for e in &out.event_list {
        let d = serde_json::to_string(&e.decoded)?;
        println!(
            "#{:<3} {}[{}] {} {}",
            e.index,
            if ccel { "MR" } else { "PCR" },
            e.pcr,
            e.event_type,
            d
        );
    }
    for w in &out.warnings {
        println!("warning: {}", serde_json::to_string(w)?);
    }
    if let Some(l) = out.startup_locality {
        println!("StartupLocality: {l}");
    }
    for (bank, m) in &out.pcrs {
        for (i, v) in m {
            println!("{bank} PCR{i:<2} {v}");
        }
    }
    if let Some(r) = &out.rtmrs {
        for (i, v) in r.iter().enumerate() {
            println!("RTMR{i} {v}");
        }
    }
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct ImaJson {
    format: &'static str,
    events: usize,
    pcrs: PcrMap,
    template_hash_mismatches: usize,
}

#[derive(Serialize)]
struct CelJson {
    format: &'static str,
    events: usize,
    pcrs: PcrMap,
    /// RTMR0..3 (CC MR indices 1..4), when the log extends any.
    #[serde(skip_serializing_if = "Option::is_none")]
    rtmrs: Option<Vec<String>>,
    /// NV indices extended: bank → index → value.
    #[serde(skip_serializing_if = "PcrMap::is_empty")]
    nv: PcrMap,
}

fn cel_log(a: &EventlogArgs, bytes: &[u8]) -> Result<Outcome> {
    use shomei_tpm::cel::{self, Register};
    let records = cel::parse(bytes).with_context(|| format!("{}: CEL", a.log.display()))?;
    let banks = cel::replay(&records);
    let (mut pcrs, mut nv) = (PcrMap::new(), PcrMap::new());
    let mut rtmr_bank: Option<&BTreeMap<Register, Vec<u8>>> = None;
    for (bank, regs) in &banks {
        for (reg, v) in regs {
            let (map, i) = match reg {
                Register::Pcr(i) => (&mut pcrs, i),
                Register::NvIndex(i) => (&mut nv, i),
                Register::CcMr(_) => {
                    if *bank == HashAlg::Sha384 || rtmr_bank.is_none() {
                        rtmr_bank = Some(regs);
                    }
                    continue;
                }
            };
            map.entry(bank.name().to_owned())
                .or_default()
                .insert(i.to_string(), hex::encode(v));
        }
    }
    let rtmrs = rtmr_bank.map(|regs| {
        (1..=4u32)
            .map(|i| {
                regs.get(&Register::CcMr(i))
                    .map(hex::encode)
                    .unwrap_or_else(|| "00".repeat(48))
            })
            .collect()
    });
    let out = CelJson {
        format: "cel_tlv",
        events: records.len(),
        pcrs,
        rtmrs,
        nv,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}: {} CEL records", a.log.display(), out.events);
        for (bank, m) in &out.pcrs {
            for (i, v) in m {
                println!("{bank} PCR{i:<2} {v}");
            }
        }
        for (i, v) in out.rtmrs.iter().flatten().enumerate() {
            println!("RTMR{i} {v}");
        }
    }
    Ok(Outcome::Ok)
}

fn ima_log(a: &EventlogArgs, bytes: &[u8]) -> Result<Outcome> {
    let entries = ima::parse(bytes).with_context(|| format!("{}: IMA log", a.log.display()))?;
    let mut pcrs = PcrMap::new();
    let mut mismatches = 0;
    let indices: std::collections::BTreeSet<u32> = entries.iter().map(|e| e.pcr).collect();
    for bank in [HashAlg::Sha1, HashAlg::Sha256] {
        for i in &indices {
            let r = ima::replay(&entries, *i, bank, BankDigest::TemplateData);
            mismatches = r.template_hash_mismatches.len();
            pcrs.entry(bank.name().to_owned())
                .or_default()
                .insert(i.to_string(), hex::encode(r.value));
        }
    }
    let out = ImaJson {
        format: "ima",
        events: entries.len(),
        pcrs,
        template_hash_mismatches: mismatches,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}: {} IMA entries", a.log.display(), out.events);
        for e in &entries {
            println!("PCR[{}] {} {}", e.pcr, e.template, e.path);
        }
        for (bank, m) in &out.pcrs {
            for (i, v) in m {
                println!("{bank} PCR{i:<2} {v}");
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Parses `BANK:IDX=HEX,...`.
pub fn parse_pcrs(s: &str) -> Result<PcrValues> {
    let mut out = PcrValues::default();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let (sel, val) = item
            .split_once('=')
            .with_context(|| format!("--pcrs: {item:?} is not BANK:IDX=HEX"))?;
        let (bank, idx) = sel
            .split_once(':')
            .with_context(|| format!("--pcrs: {item:?} is not BANK:IDX=HEX"))?;
        let bank = HashAlg::from_name(bank).with_context(|| {
            format!("--pcrs: unknown bank {bank:?} (sha1, sha256, sha384, sha512)")
        })?;
        let idx: u32 = idx
            .parse()
            .with_context(|| format!("--pcrs: index {idx:?} is not a number"))?;
        let v = shomei_core::hexfmt::decode(val)
            .with_context(|| format!("--pcrs: {item:?}: bad hex"))?;
        if v.len() != bank.len() {
            bail!(
                "--pcrs: {item:?}: a {bank} value is {} bytes, not {}",
                bank.len(),
                v.len()
            );
        }
        out.insert(bank, idx, v);
    }
    Ok(out)
}

#[derive(Serialize)]
struct VerifyJson {
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quote: Option<QuoteJson>,
}

#[derive(Serialize)]
struct QuoteJson {
    scheme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pss_salt_len: Option<usize>,
    nonce: String,
    pcr_selection: String,
    pcr_digest: String,
    clock: u64,
    reset_count: u32,
    restart_count: u32,
    safe: bool,
    firmware_version: String,
    pcrs: PcrMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    eventlog_events: Option<usize>,
}

fn read_file(p: &Path) -> Result<Vec<u8>> {
    input::read(p)
}

fn verify(a: &VerifyQuoteArgs) -> Result<Outcome> {
    let message = read_file(&a.message)?;
    let signature = AnySignature::detect(&read_file(&a.signature)?);
    let ak = AttestationKey::from_any(&read_file(&a.ak)?)
        .with_context(|| format!("{}: attestation key", a.ak.display()))?;
    let nonce = shomei_core::hexfmt::decode(&a.nonce).context("--nonce: bad hex")?;
    let opts = QuoteOptions {
        allow_sha1: a.allow_sha1,
        ..QuoteOptions::default()
    };
    let log_bytes = a.eventlog.as_deref().map(read_file).transpose()?;
    let log = log_bytes
        .as_deref()
        .map(EventLog::parse)
        .transpose()
        .context("--eventlog")?;
    let replay = log.as_ref().map(EventLog::replay);
    let pcrs = match (&a.pcrs, &replay) {
        (Some(s), _) => parse_pcrs(s)?,
        (None, Some(r)) => {
            let sel = quote_selection(&message).context("--message")?;
            match PcrValues::from_replay(r, &sel) {
                Ok(p) => p,
                Err(e) => return outcome(a.json, Err(e)),
            }
        }
        (None, None) => bail!("give the quoted PCR values with --pcrs or --eventlog"),
    };
    let result = verify_quote(&message, &signature, &ak, &nonce, &pcrs, &opts).and_then(|q| {
        if let Some(r) = &replay {
            check_event_log(&q, r)?;
        }
        Ok(q)
    });
    let result = result.map(|q| QuoteJson {
        scheme: q.attest().scheme().to_owned(),
        pss_salt_len: q.attest().pss_salt_len(),
        nonce: hex::encode(q.attest().nonce()),
        pcr_selection: q.selection().describe(),
        pcr_digest: hex::encode(q.pcr_digest()),
        clock: q.attest().clock_info().clock,
        reset_count: q.attest().clock_info().reset_count,
        restart_count: q.attest().clock_info().restart_count,
        safe: q.attest().clock_info().safe,
        firmware_version: format!("{:#018x}", q.attest().firmware_version()),
        pcrs: pcr_map(&q.pcrs().0),
        eventlog_events: log.as_ref().map(|l| l.events.len()),
    });
    outcome(a.json, result)
}

fn outcome(json: bool, r: Result<QuoteJson, TpmError>) -> Result<Outcome> {
    match r {
        Ok(q) => {
            if json {
                let out = VerifyJson {
                    verified: true,
                    check: None,
                    detail: None,
                    quote: Some(q),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "quote verified: {} over {} (digest {})",
                    q.scheme, q.pcr_selection, q.pcr_digest
                );
                println!(
                    "nonce {}  clock {}  resets {}  restarts {}",
                    q.nonce, q.clock, q.reset_count, q.restart_count
                );
                if let Some(n) = q.eventlog_events {
                    println!("event log: {n} events replay to the quoted PCRs");
                }
            }
            Ok(Outcome::Ok)
        }
        Err(TpmError::Rejected(r)) => {
            let (check, detail) = (r.check().to_owned(), r.to_string());
            if json {
                let out = VerifyJson {
                    verified: false,
                    check: Some(check.clone()),
                    detail: Some(detail.clone()),
                    quote: None,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(Outcome::Rejected { check, detail })
        }
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// `shomei bench tpm`: quote verification (baseline: the one aws-lc-rs RSA PKCS#1 verification
/// it contains) and event-log replay (baseline: one SHA-256 pass over the log bytes).
pub fn bench(seconds: f64) -> Result<Vec<(&'static str, crate::bench::Entry)>> {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let dir = shomei_core::vectors::locate()?;
    let rd = |p: &str| std::fs::read(dir.join(p)).with_context(|| p.to_owned());
    let msg = rd("tpm/swtpm/out/quote.msg")?;
    let sig_bytes = rd("tpm/swtpm/out/quote.sig")?;
    let ak = AttestationKey::from_any(&rd("tpm/swtpm/out/ak.tpm2bpub")?)?;
    let nonce_txt = String::from_utf8(rd("tpm/swtpm/out/nonce.txt")?)?;
    let nonce = shomei_core::hexfmt::decode(nonce_txt.trim().trim_start_matches("NONCE="))?;
    let mut pcrs = PcrValues::default();
    for i in 0..8 {
        pcrs.insert(HashAlg::Sha256, i, vec![0; 32]);
    }
    pcrs.insert(
        HashAlg::Sha256,
        16,
        hex::decode("9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878")?,
    );
    let opts = QuoteOptions::default();
    let quote = || {
        let sig = AnySignature::detect(&sig_bytes);
        verify_quote(&msg, &sig, &ak, &nonce, &pcrs, &opts).is_ok()
    };
    let shomei_tpm::keys::KeyMaterial::Rsa { n, e } = &ak.material else {
        bail!("the swtpm AK is not RSA");
    };
    let raw_sig = match shomei_tpm::Signature::parse(&sig_bytes)? {
        shomei_tpm::Signature::RsaSsa { sig, .. } => sig,
        _ => bail!("the swtpm quote is not RSASSA"),
    };
    let raw = || {
        RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, &msg, &raw_sig)
        .is_ok()
    };
    if !quote() || !raw() {
        bail!("the swtpm quote does not verify");
    }
    let per = std::time::Duration::from_secs_f64(seconds.max(0.1));
    let (b1, q) = crate::bench::interleaved(per, raw, quote)?;
    let log = rd("tpm/eventlogs/go-tpm-tools__ubuntu-2404-amd-sevsnp.bin")?;
    let replay = || {
        EventLog::parse(&log)
            .map(|l| !l.replay().pcrs.is_empty())
            .unwrap_or(false)
    };
    let hash = || {
        !aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &log)
            .as_ref()
            .is_empty()
    };
    let (b2, r) = crate::bench::interleaved(per, hash, replay)?;
    let mut out = peers(seconds, &dir)?;
    out.splice(
        0..0,
        [
            (
                "tpm_quote_verify",
                crate::bench::Entry {
                    us_per_op: q,
                    baseline_us: b1,
                    ratio: q / b1,
                },
            ),
            (
                "eventlog_replay",
                crate::bench::Entry {
                    us_per_op: r,
                    baseline_us: b2,
                    ratio: r / b2,
                },
            ),
        ],
    );
    Ok(out)
}

/// Whole-process comparisons with tpm2-tools on the same inputs (when installed): this binary's
/// `tpm eventlog` against `tpm2_eventlog`, and `tpm verify-quote` against `tpm2_checkquote`.
/// `ratio` < 1 means faster than the peer.
fn peers(seconds: f64, dir: &Path) -> Result<Vec<(&'static str, crate::bench::Entry)>> {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let have = |t: &str| {
        Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !have("tpm2_eventlog") || !have("tpm2_checkquote") {
        eprintln!("bench tpm: tpm2-tools not installed, peer comparisons skipped");
        return Ok(Vec::new());
    }
    let me = std::env::current_exe()?;
    let log = dir.join("tpm/eventlogs/go-tpm-tools__ubuntu-2404-amd-sevsnp.bin");
    let out = dir.join("tpm/swtpm/out");
    let nonce_txt = std::fs::read_to_string(out.join("nonce.txt"))?;
    let nonce = nonce_txt.trim().trim_start_matches("NONCE=").to_owned();
    let zero = "00".repeat(32);
    let mut pcrs: Vec<String> = (0..8).map(|i| format!("sha256:{i}={zero}")).collect();
    pcrs.push(
        "sha256:16=9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878".to_owned(),
    );
    let pcrs = pcrs.join(",");
    let p = |f: &str| out.join(f).display().to_string();
    let ours_log: Vec<String> = vec![
        "tpm".into(),
        "eventlog".into(),
        log.display().to_string(),
        "--json".into(),
    ];
    let peer_log: Vec<String> = vec![log.display().to_string()];
    let ours_q: Vec<String> = vec![
        "tpm".into(),
        "verify-quote".into(),
        "--message".into(),
        p("quote.msg"),
        "--signature".into(),
        p("quote.sig"),
        "--ak".into(),
        p("ak.pub"),
        "--nonce".into(),
        nonce.clone(),
        "--pcrs".into(),
        pcrs,
    ];
    let peer_q: Vec<String> = vec![
        "-u".into(),
        p("ak.pub"),
        "-m".into(),
        p("quote.msg"),
        "-s".into(),
        p("quote.sig"),
        "-f".into(),
        p("quote.pcrs"),
        "-g".into(),
        "sha256".into(),
        "-q".into(),
        nonce,
    ];
    let run = |prog: &Path, args: &[String]| -> Result<Duration> {
        let t = Instant::now();
        let st = Command::new(prog)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("{} failed", prog.display());
        }
        Ok(t.elapsed())
    };
    let mut res = Vec::new();
    for (name, ours, peer, peer_args) in [
        (
            "eventlog_vs_tpm2_eventlog",
            &ours_log,
            "tpm2_eventlog",
            &peer_log,
        ),
        (
            "quote_vs_tpm2_checkquote",
            &ours_q,
            "tpm2_checkquote",
            &peer_q,
        ),
    ] {
        let (mut to, mut tp, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds.max(0.2) || n < 3 {
            to += run(&me, ours)?;
            tp += run(Path::new(peer), peer_args)?;
            n += 1;
        }
        let per = |t: Duration| t.as_secs_f64() * 1e6 / f64::from(n);
        res.push((
            name,
            crate::bench::Entry {
                us_per_op: per(to),
                baseline_us: per(tp),
                ratio: per(to) / per(tp),
            },
        ));
    }
    Ok(res)
}
