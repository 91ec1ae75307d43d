//! `shomei sgx …`: SGX local attestation on an emulated CPU.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::cmac;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use shomei_sgx::{
    Enclave, Error as SgxError, IdentityPolicy, Initiator, LaVersion, LaunchOptions, Responder,
    SgxCpu, SigStructFields, SigningKey, TestIsv, demo_image,
};

use crate::Outcome;

#[derive(Subcommand)]
pub enum SgxCommand {
    /// Two enclaves on one emulated CPU attest each other (sgx_dh msg1/msg2/msg3) and exchange a
    /// secret over AES-GCM; then a man in the middle, an enclave on another CPU and an enclave
    /// with the wrong identity are refused.
    LaDemo(LaDemoArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Version {
    V1,
    V2,
}

#[derive(Args)]
pub struct LaDemoArgs {
    /// Protocol version the initiator speaks (the responder detects it).
    #[arg(long, value_enum, default_value = "v2")]
    version: Version,
    /// Minimum ISVSVN enclave A requires of enclave B (B has ISVSVN 1).
    #[arg(long, default_value_t = 1)]
    min_isvsvn: u16,
    /// Launch enclave B with ATTRIBUTES.DEBUG set (its SIGSTRUCT allows it).
    #[arg(long)]
    debug_initiator: bool,
    /// Let enclave A accept a DEBUG peer.
    #[arg(long)]
    allow_debug: bool,
    /// Machine-readable output (snake_case keys).
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SgxCommand) -> Result<Outcome> {
    match cmd {
        SgxCommand::LaDemo(a) => la_demo(&a),
    }
}

#[derive(Serialize)]
struct EnclaveInfo {
    name: &'static str,
    role: &'static str,
    mr_enclave: String,
    mr_signer: String,
    isv_prod_id: u16,
    isv_svn: u16,
    attributes: String,
}

impl EnclaveInfo {
    fn of(name: &'static str, role: &'static str, e: &Enclave) -> Self {
        Self {
            name,
            role,
            mr_enclave: e.mr_enclave().to_string(),
            mr_signer: e.mr_signer().to_string(),
            isv_prod_id: e.isv_prod_id(),
            isv_svn: e.isv_svn(),
            attributes: e.attributes().to_string(),
        }
    }
}

#[derive(Serialize)]
struct Verdict {
    verifier: &'static str,
    peer: &'static str,
    accepted: bool,
    checked: Vec<String>,
}

#[derive(Serialize)]
struct ChannelReport {
    secret_sent: String,
    sealed_len: usize,
    received: String,
    reply: String,
    replay: Refusal,
}

#[derive(Serialize)]
struct Refusal {
    refused: bool,
    check: String,
    detail: String,
}

#[derive(Serialize)]
struct Attack {
    name: &'static str,
    refused_by: &'static str,
    check: String,
    detail: String,
}

#[derive(Serialize)]
struct Demo {
    cpu: CpuInfo,
    enclaves: Vec<EnclaveInfo>,
    version: String,
    msg1_len: usize,
    msg2_len: usize,
    msg3_len: usize,
    verdicts: Vec<Verdict>,
    channel: ChannelReport,
    attacks: Vec<Attack>,
}

#[derive(Serialize)]
struct CpuInfo {
    cpusvn: String,
    report_key_id: String,
}

struct Cast {
    cpu: SgxCpu,
    a: Enclave,
    b: Enclave,
    isv: SigningKey,
    other_isv: SigningKey,
}

const A_CODE: &[u8] = b"enclave A: the verifier holding the secret (seed 002, Enclave A)";
const B_CODE: &[u8] = b"enclave B: the prover that wants the secret (seed 002, Enclave B)";

fn launch(
    cpu: &SgxCpu,
    key: &SigningKey,
    code: &[u8],
    fields: impl FnOnce(SigStructFields) -> SigStructFields,
    debug: bool,
) -> Result<Enclave> {
    let img = demo_image(code)?;
    let sig = key.sign(&fields(SigStructFields::new(img.mr_enclave(), 0, 0)))?;
    let mut opts = LaunchOptions::from_sigstruct(&sig);
    if debug {
        opts = opts.debug();
    }
    Ok(cpu.launch(&img, &sig, &opts)?)
}

/// A (verifier, ISVPRODID 1, ISVSVN 3) and B (prover, ISVPRODID 2, ISVSVN 1), both signed by ISV
/// test key 1. B's signer writes A's MRENCLAVE into B's ISVFAMILYID ‖ ISVEXTPRODID (KSS), so B
/// can check A's MRENCLAVE too (seed 002's mutual-verification idea).
fn cast(args: &LaDemoArgs) -> Result<Cast> {
    let cpu = SgxCpu::boot()?;
    let isv = SigningKey::test_isv(TestIsv::One)?;
    let other_isv = SigningKey::test_isv(TestIsv::Two)?;
    let a = launch(
        &cpu,
        &isv,
        A_CODE,
        |f| SigStructFields {
            isv_prod_id: 1,
            isv_svn: 3,
            ..f
        },
        false,
    )?;
    let b = launch_b(&cpu, &isv, &a, args.debug_initiator)?;
    Ok(Cast {
        cpu,
        a,
        b,
        isv,
        other_isv,
    })
}

fn launch_b(cpu: &SgxCpu, key: &SigningKey, a: &Enclave, debug: bool) -> Result<Enclave> {
    let a_mr = a.mr_enclave().0;
    let (family, ext) = a_mr.split_at(16);
    let family: [u8; 16] = family.try_into()?;
    let ext: [u8; 16] = ext.try_into()?;
    launch(
        cpu,
        key,
        B_CODE,
        |f| {
            let f = SigStructFields {
                isv_prod_id: 2,
                isv_svn: 1,
                ..f
            }
            .with_kss(family, ext);
            if debug { f.allow_debug() } else { f }
        },
        debug,
    )
}

fn policy_for_b(c: &Cast, args: &LaDemoArgs) -> IdentityPolicy {
    IdentityPolicy::default()
        .mr_enclave(c.b.mr_enclave())
        .mr_signer(c.isv.mr_signer())
        .isv_prod_id(2)
        .min_isv_svn(args.min_isvsvn)
        .allow_debug(args.allow_debug)
}

fn policy_for_a(c: &Cast) -> Result<IdentityPolicy> {
    let a_mr =
        IdentityPolicy::peer_mr_enclave_from_own_kss(c.b.isv_family_id(), c.b.isv_ext_prod_id())
            .context("B carries no MRENCLAVE in its KSS fields")?;
    Ok(IdentityPolicy::default()
        .mr_enclave(a_mr)
        .mr_signer(c.isv.mr_signer())
        .isv_prod_id(1)
        .min_isv_svn(3))
}

fn checked(p: &IdentityPolicy) -> Vec<String> {
    let mut out = vec!["initted".to_owned()];
    if !p.allow_debug {
        out.push("debug clear".into());
    }
    if !p.mr_enclave.is_empty() {
        out.push("mr_enclave".into());
    }
    if !p.mr_signer.is_empty() {
        out.push("mr_signer".into());
    }
    if let Some(id) = p.isv_prod_id {
        out.push(format!("isv_prod_id == {id}"));
    }
    if let Some(svn) = p.min_isv_svn {
        out.push(format!("isv_svn >= {svn}"));
    }
    out
}

/// A rejection as (check, detail); anything else is an error of the demo itself.
fn refusal(e: SgxError) -> Result<(String, String)> {
    match e {
        SgxError::Rejected(r) => {
            let detail = match &r {
                shomei_sgx::Rejection::Identity { violations } => violations
                    .iter()
                    .map(|v| v.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            Ok((r.check().to_owned(), detail))
        }
        other => Err(anyhow!(other)),
    }
}

fn la_demo(args: &LaDemoArgs) -> Result<Outcome> {
    let version = match args.version {
        Version::V1 => LaVersion::V1,
        Version::V2 => LaVersion::V2,
    };
    let c = cast(args)?;
    let pol_b = policy_for_b(&c, args);
    let pol_a = policy_for_a(&c)?;

    // The seed's flow: A (responder) sends msg1, B (initiator) answers msg2, A verifies B and
    // answers msg3, B verifies A. The untrusted host carries the bytes.
    let (resp, msg1) = Responder::start(&c.a, pol_b.clone())?;
    let (init, msg2) = Initiator::start(&c.b, pol_a.clone(), version, &msg1)?;
    let (mut at_a, msg3) = match resp.finish(&msg2) {
        Ok(x) => x,
        Err(e) => {
            let (check, detail) = refusal(e)?;
            return Ok(Outcome::Rejected {
                check,
                detail: format!("enclave A refused enclave B: {detail}"),
            });
        }
    };
    let mut at_b = match init.finish(&msg3) {
        Ok(x) => x,
        Err(e) => {
            let (check, detail) = refusal(e)?;
            return Ok(Outcome::Rejected {
                check,
                detail: format!("enclave B refused enclave A: {detail}"),
            });
        }
    };

    // The channel: A releases the secret to the attested B; B answers; a replay is refused.
    let secret = "database key 7f3a-19c2";
    let sealed = at_a.channel.seal(secret.as_bytes())?;
    let received = String::from_utf8(at_b.channel.open(&sealed)?)?;
    let reply_msg = at_b.channel.seal(b"received, thank you")?;
    let reply = String::from_utf8(at_a.channel.open(&reply_msg)?)?;
    let replay = match at_a.channel.open(&reply_msg) {
        Ok(_) => bail!("a replayed channel message was accepted"),
        Err(e) => Refusal {
            refused: true,
            check: e.check().to_owned(),
            detail: e.to_string(),
        },
    };

    let attacks = vec![
        mitm(&c, &pol_b, &pol_a, version)?,
        other_cpu(&c, &pol_b, &pol_a, version)?,
        wrong_identity(&c, &pol_b, &pol_a, version)?,
    ];

    let demo = Demo {
        cpu: CpuInfo {
            cpusvn: c.cpu.cpusvn().to_string(),
            report_key_id: hex::encode(c.cpu.report_key_id()),
        },
        enclaves: vec![
            EnclaveInfo::of("A", "responder (verifier)", &c.a),
            EnclaveInfo::of("B", "initiator (prover)", &c.b),
        ],
        version: version.to_string(),
        msg1_len: msg1.len(),
        msg2_len: msg2.len(),
        msg3_len: msg3.len(),
        verdicts: vec![
            Verdict {
                verifier: "A",
                peer: "B",
                accepted: true,
                checked: checked(&pol_b),
            },
            Verdict {
                verifier: "B",
                peer: "A",
                accepted: true,
                checked: checked(&pol_a),
            },
        ],
        channel: ChannelReport {
            secret_sent: secret.to_owned(),
            sealed_len: sealed.len(),
            received,
            reply,
            replay,
        },
        attacks,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&demo)?);
    } else {
        print_demo(&demo, &at_a.peer, &at_b.peer);
    }
    Ok(Outcome::Ok)
}

fn print_demo(
    d: &Demo,
    b_seen_by_a: &shomei_sgx::VerifiedPeer,
    a_seen_by_b: &shomei_sgx::VerifiedPeer,
) {
    println!("emulated SGX CPU: CPUSVN {}", d.cpu.cpusvn);
    println!(
        "  report KEYID (random, this boot): {}",
        d.cpu.report_key_id
    );
    for e in &d.enclaves {
        println!("enclave {} — {}", e.name, e.role);
        println!("  MRENCLAVE  {}", e.mr_enclave);
        println!("  MRSIGNER   {}", e.mr_signer);
        println!(
            "  ISVPRODID {}  ISVSVN {}  {}",
            e.isv_prod_id, e.isv_svn, e.attributes
        );
    }
    println!(
        "{} handshake: msg1 {} B (A → B), msg2 {} B (B → A), msg3 {} B (A → B)",
        d.version, d.msg1_len, d.msg2_len, d.msg3_len
    );
    for (v, peer) in d.verdicts.iter().zip([b_seen_by_a, a_seen_by_b]) {
        println!(
            "  {} verified {}: REPORT MAC ok under {}'s report key, public keys bound; MRENCLAVE {}",
            v.verifier,
            v.peer,
            v.verifier,
            peer.report_body().mr_enclave()
        );
        println!("    policy: accepted ({})", v.checked.join(", "));
    }
    println!(
        "  (B checks A's MRENCLAVE through B's own ISVFAMILYID ‖ ISVEXTPRODID, signed by B's ISV: KSS)"
    );
    let ch = &d.channel;
    println!("channel (AES-128-GCM under the AEK, per-direction counters):");
    println!(
        "  A → B: {:?} sealed into {} bytes; B decrypted {:?}",
        ch.secret_sent, ch.sealed_len, ch.received
    );
    println!("  B → A: {:?}", ch.reply);
    println!(
        "  the same B → A message again: refused ({}: {})",
        ch.replay.check, ch.replay.detail
    );
    println!("attacks:");
    for a in &d.attacks {
        println!("  {}: refused by {}", a.name, a.refused_by);
        println!("    {}: {}", a.check, a.detail);
    }
}

fn attack(
    name: &'static str,
    refused_by: &'static str,
    r: std::result::Result<(), SgxError>,
) -> Result<Attack> {
    match r {
        Ok(()) => bail!("attack {name:?} was not refused"),
        Err(e) => {
            let (check, detail) = refusal(e)?;
            Ok(Attack {
                name,
                refused_by,
                check,
                detail,
            })
        }
    }
}

// ---- the man in the middle: an attacker on the untrusted host with its own P-256 keys ----

struct Mitm {
    key: agreement::PrivateKey,
    public_le: [u8; 64],
}

impl Mitm {
    fn new() -> Result<Self> {
        let key = agreement::PrivateKey::generate(&ECDH_P256).map_err(|_| anyhow!("keygen"))?;
        let sec1 = key.compute_public_key().map_err(|_| anyhow!("keygen"))?;
        let public_le = le_from_sec1(sec1.as_ref())?;
        Ok(Self { key, public_le })
    }

    /// The SDK's SMK for ECDH with `peer` (gx ‖ gy little-endian).
    fn smk(&self, peer: &[u8]) -> Result<[u8; 16]> {
        let sec1 = sec1_from_le(peer)?;
        agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, &sec1),
            anyhow!("ECDH"),
            |x| {
                let mut le = x.to_vec();
                le.reverse();
                let kdk = cmac_once(&[0; 16], &[&le])?;
                cmac_once(&kdk, &[&[1], b"SMK", &[0, 0x80, 0]])
            },
        )
    }
}

fn le_from_sec1(sec1: &[u8]) -> Result<[u8; 64]> {
    let xy = sec1.get(1..65).context("SEC1 point")?;
    let mut out = [0u8; 64];
    for (half, coord) in out.chunks_mut(32).zip(xy.chunks(32)) {
        half.copy_from_slice(coord);
        half.reverse();
    }
    Ok(out)
}

fn sec1_from_le(le: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![4u8];
    for coord in le.get(..64).context("public key")?.chunks(32) {
        out.extend(coord.iter().rev());
    }
    Ok(out)
}

fn cmac_once(key: &[u8; 16], parts: &[&[u8]]) -> Result<[u8; 16]> {
    let k = cmac::Key::new(cmac::AES_128, key).map_err(|_| anyhow!("CMAC key"))?;
    let mut ctx = cmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p).map_err(|_| anyhow!("CMAC"))?;
    }
    let tag = ctx.sign().map_err(|_| anyhow!("CMAC"))?;
    Ok(tag.as_ref().try_into()?)
}

/// The attacker gives B its own g_c instead of g_a, and A its own g_d instead of g_b, re-MACing
/// every message under the SMKs it shares with each side.
fn mitm(c: &Cast, pol_b: &IdentityPolicy, pol_a: &IdentityPolicy, v: LaVersion) -> Result<Attack> {
    let (resp, msg1) = Responder::start(&c.a, pol_b.clone())?;
    let to_b = Mitm::new()?;
    let mut msg1_b = msg1.clone();
    msg1_b
        .get_mut(..64)
        .context("msg1")?
        .copy_from_slice(&to_b.public_le);
    let (_init, msg2) = Initiator::start(&c.b, pol_a.clone(), v, &msg1_b)?;
    let to_a = Mitm::new()?;
    let smk_ad = to_a.smk(msg1.get(..64).context("msg1")?)?;
    let mut forged = msg2.clone();
    forged
        .get_mut(..64)
        .context("msg2")?
        .copy_from_slice(&to_a.public_le);
    let mac = match v {
        LaVersion::V1 => cmac_once(&smk_ad, &[forged.get(64..496).context("msg2")?])?,
        LaVersion::V2 => cmac_once(&smk_ad, &[&to_a.public_le])?,
    };
    forged
        .get_mut(496..512)
        .context("msg2")?
        .copy_from_slice(&mac);
    attack(
        "man in the middle substituting both public keys",
        "A",
        resp.finish(&forged).map(|_| ()),
    )
}

/// B's twin (same image, same signer) on another emulated CPU.
fn other_cpu(
    c: &Cast,
    pol_b: &IdentityPolicy,
    pol_a: &IdentityPolicy,
    v: LaVersion,
) -> Result<Attack> {
    let cpu2 = SgxCpu::boot()?;
    let twin = launch_b(&cpu2, &c.isv, &c.a, false)?;
    let (resp, msg1) = Responder::start(&c.a, pol_b.clone())?;
    let (_init, msg2) = Initiator::start(&twin, pol_a.clone(), v, &msg1)?;
    attack(
        "enclave B's twin on another emulated CPU",
        "A",
        resp.finish(&msg2).map(|_| ()),
    )
}

/// B's image signed by another ISV: same MRENCLAVE, another MRSIGNER.
fn wrong_identity(
    c: &Cast,
    pol_b: &IdentityPolicy,
    pol_a: &IdentityPolicy,
    v: LaVersion,
) -> Result<Attack> {
    let impostor = launch_b(&c.cpu, &c.other_isv, &c.a, false)?;
    let (resp, msg1) = Responder::start(&c.a, pol_b.clone())?;
    let (_init, msg2) = Initiator::start(&impostor, pol_a.clone(), v, &msg1)?;
    attack(
        "enclave B's code signed by another ISV (wrong MRSIGNER)",
        "A",
        resp.finish(&msg2).map(|_| ()),
    )
}

// ---- shomei bench sgx ------------------------------------------------------------------------

/// `sgx_la_handshake`: one complete LAv2 handshake between two enclaves on one emulated CPU
/// (msg1, msg2, msg3 as bytes, both identity policies, both channels), against the crypto bound
/// of one handshake measured in the same run: the aws-lc-rs operations the protocol cannot
/// avoid, and nothing else.
pub fn bench(seconds: f64) -> Result<Vec<(&'static str, crate::bench::Entry)>> {
    let args = LaDemoArgs {
        version: Version::V2,
        min_isvsvn: 1,
        debug_initiator: false,
        allow_debug: false,
        json: false,
    };
    let c = cast(&args)?;
    let pol_b = policy_for_b(&c, &args);
    let pol_a = policy_for_a(&c)?;
    let handshake = || {
        shomei_sgx::attest_in_process(&c.a, pol_b.clone(), &c.b, pol_a.clone(), LaVersion::V2)
            .is_ok()
    };
    if !handshake() || crypto_bound().is_none() {
        bail!("the handshake or its crypto bound failed");
    }
    let per = std::time::Duration::from_secs_f64(seconds.max(0.1));
    let (base, hs) = crate::bench::interleaved(per, || crypto_bound().is_some(), handshake)?;
    Ok(vec![(
        "sgx_la_handshake",
        crate::bench::Entry {
            us_per_op: hs,
            baseline_us: base,
            ratio: hs / base,
        },
    )])
}

/// The crypto of one LAv2 handshake with the emulated CPU: two P-256 key pairs and two ECDH
/// agreements; 22 AES-128-CMACs (three EREPORTs and two report verifications, each a report-key
/// derivation over the 192-byte `dd_report_key_t` and a MAC over the 384-byte body; SMK and AEK
/// on both sides, two CMACs each; the msg2 and msg3 MACs, made and checked); four SHA-256 over
/// 128 bytes; two AES-128-GCM key setups.
fn crypto_bound() -> Option<()> {
    use aws_lc_rs::aead::{AES_128_GCM, LessSafeKey, UnboundKey};
    use aws_lc_rs::digest;
    // No allocating error values on this path: it is the baseline.
    let ka = agreement::PrivateKey::generate(&ECDH_P256).ok()?;
    let pa = ka.compute_public_key().ok()?;
    let kb = agreement::PrivateKey::generate(&ECDH_P256).ok()?;
    let pb = kb.compute_public_key().ok()?;
    let mut shared = [0u8; 32];
    for (mine, theirs) in [(&ka, pb.as_ref()), (&kb, pa.as_ref())] {
        shared = agreement::agree(mine, UnparsedPublicKey::new(&ECDH_P256, theirs), (), |s| {
            s.try_into().map_err(|_| ())
        })
        .ok()?;
    }
    let mac = |key: &[u8; 16], parts: &[&[u8]]| -> Option<[u8; 16]> {
        let k = cmac::Key::new(cmac::AES_128, key).ok()?;
        let mut ctx = cmac::Context::with_key(&k);
        for p in parts {
            ctx.update(p).ok()?;
        }
        ctx.sign().ok()?.as_ref().try_into().ok()
    };
    let mut key = [shared[0]; 16];
    let dd = [0u8; 192];
    let body = [1u8; 384];
    for _ in 0..5 {
        key = mac(&key, &[&dd])?;
        key = mac(&key, &[&body])?;
    }
    for _ in 0..4 {
        key = mac(&key, &[&shared])?;
        key = mac(&key, &[&[1], b"SMK", &[0, 0x80, 0]])?;
    }
    let g = [2u8; 64];
    for _ in 0..4 {
        key = mac(&key, &[&g])?;
    }
    let mut d = [0u8; 128];
    for _ in 0..4 {
        let h = digest::digest(&digest::SHA256, &d);
        d.get_mut(..32)?.copy_from_slice(h.as_ref());
    }
    for _ in 0..2 {
        let k = UnboundKey::new(&AES_128_GCM, &key).ok()?;
        std::hint::black_box(LessSafeKey::new(k));
    }
    std::hint::black_box((key, d));
    Some(())
}
