//! `shomei demo`: a full RATS round trip on emulated hardware, with nothing to set up.
//!
//! It starts the service on loopback with an embedded SQLite store in a temporary directory,
//! provisions it over the admin API (the emulated platform's trust anchor, the launch digest
//! `shomei snp measure` computes for the guest's firmware, a Rego rule, a secret), attests an
//! emulated SEV-SNP guest and receives the secret encrypted to the key its report binds, then
//! shows attacks refused with their reasons. Every step checks its outcome: the demo exits 1
//! if any step does not end as it should.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use shomei_attester::client::{Client, ClientError, SessionKey};

use crate::{Outcome, attest, emusnp};

const REGO: &str = r#"package shomei
import rego.v1

# Custom rule on top of the native policy: the guest must run at VMPL 0 on SNP firmware
# with an SNP SPL of at least 20.
violations contains {"check": "vmpl", "detail": sprintf("VMPL %d, want 0", [input.claims.report.vmpl]), "claim": "configuration"} if {
    input.claims.report.vmpl != 0
}
violations contains {"check": "snp_spl", "detail": "SNP SPL below 20", "claim": "hardware"} if {
    input.claims.report.reported_tcb.snp < 20
}
"#;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(hex::encode(b))
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn expect_refused(
    what: &str,
    r: std::result::Result<Value, ClientError>,
    want_status: u16,
    want_check: &str,
) -> Result<()> {
    match r {
        Err(ClientError::Refused {
            status,
            check,
            detail,
            body,
            ..
        }) if status == want_status && check.contains(want_check) => {
            println!("   refused ✓  HTTP {status} {check}: {detail}");
            if let Some(rs) = body.get("reasons").and_then(Value::as_array) {
                for r in rs {
                    println!(
                        "      {} = {} ({}: {})",
                        r.get("claim").and_then(Value::as_str).unwrap_or("?"),
                        r.get("value").and_then(Value::as_i64).unwrap_or(0),
                        r.get("check").and_then(Value::as_str).unwrap_or("?"),
                        r.get("detail").and_then(Value::as_str).unwrap_or("?")
                    );
                }
            }
            Ok(())
        }
        Err(e) => bail!("{what}: expected HTTP {want_status} {want_check}, got: {e}"),
        Ok(v) => bail!("{what}: expected a refusal ({want_check}), but it was accepted: {v}"),
    }
}

pub fn run() -> Result<Outcome> {
    let dir = Dir(std::env::temp_dir().join(format!("shomei-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let token = random_hex(16)?;
    let mut config = shomei_server::Config::new(
        format!("sqlite://{}", dir.0.join("shomei.db").display()),
        random_hex(32)?,
    );
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.tokens.push(shomei_server::config::TokenConfig {
        name: "demo-admin".into(),
        sha256: None,
        token: Some(token.clone()),
        scopes: shomei_server::config::SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    });

    step("1. Start the verifier + relying party");
    let server = shomei_server::spawn(config).context("starting the service")?;
    let url = server.url();
    println!(
        "   shomei serve on {url}, SQLite store in {}",
        dir.0.display()
    );
    let client = Client::new(&url);

    step("2. Provision it (admin API, bearer token)");
    let root = emusnp::root_in(&dir.0.join("emulated-snp"))?;
    client.admin(
        "PUT",
        "/v1/admin/anchors/emulated-milan",
        &token,
        Some(&json!({"family": "snp", "pem": emusnp::trust_pem(&root)?})),
    )?;
    println!(
        "   trust anchor: the emulated AMD-SP's test ARK/ASK (AMD's real roots stay pinned for real hardware)"
    );
    let firmware = attest::firmware(None)?;
    let measurement = emusnp::measure(&firmware)?;
    client.admin(
        "PUT",
        "/v1/admin/reference-values/guest-image",
        &token,
        Some(&json!({"family": "snp", "name": "measurement", "value": hex::encode(measurement)})),
    )?;
    println!(
        "   reference value (snp measure --vcpus {} --vcpu-type {}): {}",
        emusnp::VCPUS,
        emusnp::VCPU_TYPE,
        hex::encode(measurement)
    );
    client.admin(
        "PUT",
        "/v1/admin/policies/snp-rules",
        &token,
        Some(&json!({"family": "snp", "kind": "rego", "body": REGO})),
    )?;
    println!("   Rego policy: VMPL 0 and SNP SPL ≥ 20");
    client.admin(
        "PUT",
        "/v1/admin/secrets/db-password",
        &token,
        Some(&json!({"value": "correct horse battery staple"})),
    )?;
    println!("   secret db-password (AES-256-GCM at rest)");
    let unauth = client.admin(
        "PUT",
        "/v1/admin/secrets/x",
        "wrong-token",
        Some(&json!({"value": "x"})),
    );
    expect_refused(
        "admin without a valid token",
        unauth,
        401,
        "unauthenticated",
    )?;

    step("3. A genuine guest attests (background check → EAR → passport → secret)");
    let guest = emusnp::launch_guest(&root, &firmware, emusnp::POLICY)?;
    let key = SessionKey::generate()?;
    let ch = client.challenge()?;
    println!("   challenge nonce {} (single use)", hex::encode(&ch.nonce));
    let ev = emusnp::evidence(&guest, key.report_data(&ch.nonce))?;
    println!("   REPORT_DATA = SHA-512(nonce ‖ guest's P-256 key)");
    let result = client.attest(&ch.nonce, &key, vec![ev.clone()])?;
    let ear = result
        .get("ear")
        .and_then(Value::as_str)
        .context("no EAR")?
        .to_owned();
    println!(
        "   result: {} — EAR signed by the service ({} bytes)",
        result.get("status").and_then(Value::as_str).unwrap_or("?"),
        ear.len()
    );
    if let Some(tv) = result.pointer("/result/submods/snp/ear.trustworthiness-vector") {
        println!("   trust vector: {tv}");
    }
    if let Some(p) = result.pointer("/result/submods/snp/ear.appraisal-policy-id") {
        println!("   policy: {p}");
    }
    let secret = client.resource_with_ear("db-password", &ear, &key)?;
    println!(
        "   secret released, JWE ECDH-ES+A256KW to the guest's key, decrypted in the guest: {:?}",
        String::from_utf8_lossy(&secret)
    );
    if secret.as_slice() != b"correct horse battery staple" {
        bail!("the released secret is not the provisioned one");
    }

    step("4. Attacks");
    println!(" a) the same report and nonce again (replay)");
    expect_refused(
        "replayed nonce",
        client.attest(&ch.nonce, &key, vec![ev.clone()]),
        409,
        "nonce_replayed",
    )?;

    println!(" b) a guest booted with other firmware");
    let other = shomei_cvm::emu::synthetic_firmware("patched firmware with a backdoor");
    let bad = emusnp::launch_guest(&root, &other, emusnp::POLICY)?;
    let ch = client.challenge()?;
    let r = client.attest(
        &ch.nonce,
        &key,
        vec![emusnp::evidence(&bad, key.report_data(&ch.nonce))?],
    );
    expect_refused("other firmware", r, 403, "measurement")?;

    println!(" c) a guest launched with debugging allowed (the host can read its memory)");
    let dbg = emusnp::launch_guest(&root, &firmware, emusnp::DEBUG_POLICY)?;
    let ch = client.challenge()?;
    let r = client.attest(
        &ch.nonce,
        &key,
        vec![emusnp::evidence(&dbg, key.report_data(&ch.nonce))?],
    );
    expect_refused("debug policy", r, 403, "debug")?;

    println!(" d) a man in the middle replaces the key (evidence binds the guest's key, not his)");
    let mitm = SessionKey::generate()?;
    let ch = client.challenge()?;
    let genuine = emusnp::evidence(&guest, key.report_data(&ch.nonce))?;
    let r = client.attest(&ch.nonce, &mitm, vec![genuine]);
    expect_refused("key substitution", r, 403, "nonce_binding")?;

    println!(" e) a stolen attestation result presented by another key holder");
    let stolen = client.resource_with_ear("db-password", &ear, &mitm);
    match stolen {
        Err(e) => println!("   refused ✓  {e}"),
        Ok(_) => bail!("the stolen result's secret decrypted under another key"),
    }

    step("5. A confidential VM attests in two steps: the SNP report vouches for its vTPM");
    let cvm_config = |cmdline: Option<&str>| {
        let mut c = shomei_cvm::emu::CvmConfig {
            firmware: firmware.clone(),
            vcpus: emusnp::VCPUS,
            ..shomei_cvm::emu::CvmConfig::default()
        };
        if let Some(cl) = cmdline {
            c.boot.cmdline = cl.to_owned();
        }
        c
    };
    let mut cvm = shomei_cvm::emu::EmulatedCvm::with_root(cvm_config(None), Arc::clone(&root))?;
    let reference = cvm.reference_values()?;
    for m in &reference.measurements {
        client.admin(
            "PUT",
            "/v1/admin/reference-values/cvm-image",
            &token,
            Some(&json!({"family": "cvm", "name": "measurement", "value": hex::encode(&m.0)})),
        )?;
    }
    let mut n_pcrs = 0;
    for (bank, pcrs) in &reference.pcrs {
        for (index, values) in pcrs {
            for v in values {
                client.admin(
                    "PUT",
                    &format!("/v1/admin/reference-values/cvm-{bank}-pcr{index}"),
                    &token,
                    Some(&json!({"family": "cvm", "name": "pcr", "value": {"bank": bank, "index": index, "value": hex::encode(&v.0)}})),
                )?;
                n_pcrs += 1;
            }
        }
    }
    println!(
        "   reference values: the launch digest (snp measure) and {n_pcrs} PCRs replayed from the measured-boot event log"
    );
    let ch = client.challenge()?;
    let challenge = key.cvm_challenge(&ch.nonce);
    let ev = cvm.attest(&challenge)?;
    println!(
        "   step 1: SNP report, REPORT_DATA = SHA-512(challenge ‖ vTPM AK); step 2: vTPM quote over PCRs 0–23 + event log; challenge = SHA-256(nonce ‖ guest key)"
    );
    let result = client.attest(
        &ch.nonce,
        &key,
        vec![json!({"family": "cvm", "evidence": serde_json::to_value(&ev)?})],
    )?;
    let checks = result
        .pointer("/result/submods/cvm/ear.veraison.annotated-evidence/checks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    println!(
        "   result: {} — {} checks passed across snp, link, tpm and eventlog",
        result.get("status").and_then(Value::as_str).unwrap_or("?"),
        checks.iter().filter(|c| c["outcome"] == "pass").count()
    );
    if let Some(p0) =
        result.pointer("/result/submods/cvm/ear.veraison.annotated-evidence/pcrs/sha256/0")
    {
        println!("   PCR0 (sha256) = {}", p0.as_str().unwrap_or("?"));
    }
    let ear = result
        .get("ear")
        .and_then(Value::as_str)
        .context("no EAR")?;
    let secret = client.resource_with_ear("db-password", ear, &key)?;
    println!(
        "   secret released to the CVM: {:?}",
        String::from_utf8_lossy(&secret)
    );

    println!(" f) the quote comes from another VM's vTPM (relayed), with this VM's genuine report");
    let mut other = shomei_cvm::emu::EmulatedCvm::with_root(cvm_config(None), Arc::clone(&root))?;
    let ch = client.challenge()?;
    let challenge = key.cvm_challenge(&ch.nonce);
    let ev = cvm.attest_with_foreign_vtpm(&challenge, &mut other)?;
    let r = client.attest(
        &ch.nonce,
        &key,
        vec![json!({"family": "cvm", "evidence": serde_json::to_value(&ev)?})],
    );
    expect_refused("foreign vTPM", r, 403, "link.ak_binding")?;

    println!(" g) the same firmware boots a kernel with another command line (init=/bin/sh)");
    let mut shell = shomei_cvm::emu::EmulatedCvm::with_root(
        cvm_config(Some(
            "/boot/vmlinuz-6.12.0-shomei root=/dev/vda1 ro init=/bin/sh",
        )),
        Arc::clone(&root),
    )?;
    let ch = client.challenge()?;
    let challenge = key.cvm_challenge(&ch.nonce);
    let ev = shell.attest(&challenge)?;
    let r = client.attest(
        &ch.nonce,
        &key,
        vec![json!({"family": "cvm", "evidence": serde_json::to_value(&ev)?})],
    );
    expect_refused("changed command line", r, 403, "tpm.pcr_values")?;

    step("6. Audit log");
    let audit = client.admin("GET", "/v1/admin/audit?limit=100", &token, None)?;
    let entries = audit
        .get("entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let appraisals = entries.iter().filter(|e| e["action"] == "appraise").count();
    let releases = entries
        .iter()
        .filter(|e| e["action"] == "release_secret")
        .count();
    println!(
        "   {} entries: {appraisals} appraisals, {releases} release decisions",
        entries.len()
    );

    println!(
        "\nAll steps ended as they should: the genuine guest got its secret; every attack was refused."
    );
    drop(server);
    Ok(Outcome::Ok)
}
