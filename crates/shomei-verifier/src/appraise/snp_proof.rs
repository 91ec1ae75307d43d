//! `Evidence::SnpProof`: a zero-knowledge proof (shomei-zk) that an SEV-SNP report satisfies
//! the verifier's SNP policy, in place of the report (DESIGN.md flow 7, the hybrid design).
//!
//! The appraisal, in order; each step that fails ends it with the reason named:
//!
//! | step | check (claims) |
//! |---|---|
//! | the verifier holds a verifying key ([`super::Anchors::zk`]) | `zk_not_configured` (instance-identity 1: evidence of a kind this verifier cannot appraise) |
//! | the VEK's chain to the configured AMD root at the given time, by `shomei_snp::VerifiedVek::new` — the code that verifies a report's VEK | the chain's own check (`root_of_trust`, `chain_signature`, `certificate_validity`, `revocation`, …) mapped as for reports |
//! | the claimed REPORTED_TCB is the TCB the VEK certifies (the VEK is derived from it) | `vek_tcb` (hardware 96) |
//! | the SNP policy can be shown by a proof ([`snp_proof_policy`]) | `zk_policy` (instance-identity 1) |
//! | REPORTED_TCB (public) meets the policy's minimum | `min_tcb.<component>` (hardware 32; no proof can exist) |
//! | REPORT_DATA is known: the nonce binding's value, or the one the prover claims | `zk_report_data` (instance-identity 1) |
//! | `shomei_zk::prove::verify` with `vek` = the VEK's key, REPORT_DATA, REPORTED_TCB and the policy | `zk_proof` (instance-identity 99, executables 33): the proof does not verify for these public inputs |
//!
//! A verified proof affirms the platform like a verified report, with executables 2 (the
//! allowlist is always there). Then, as for reports: the policy's checks on public values
//! (`signing_key`, `report_data`) and the nonce binding (REPORT_DATA must be what the SNP path
//! expects: `SHA-512(nonce ‖ key)` or the exact value; a claimed REPORT_DATA that differs is
//! `nonce_binding`, instance-identity 96) and custom policies over [`SnpProofClaims`].
//!
//! **What a proof shows, and what it does not.** The statement proves: signature by the VEK over
//! the report, DEBUG off, VMPL, REPORTED_TCB ≥ the minimum per byte, MEASUREMENT in the
//! allowlist, REPORT_DATA. The rest of the report is hidden, so an SNP policy that *sets*
//! anything else (host data, ID keys, firmware versions, platform info, guest-policy
//! restrictions, …) is refused with `zk_policy` rather than silently not checked. The default
//! policy's own refusals that no proof can show — migration agent, CXL, unknown guest-policy
//! bits, provisional firmware, the minimum TCB for CURRENT/COMMITTED (only REPORTED_TCB is
//! public), CHIP_ID against the VCEK's hwID (the VCEK key itself is per chip) — are listed in
//! every proof appraisal's claims as `not_shown`, for the relying party (and Rego policies) to
//! weigh.

use serde::Serialize;
use shomei_core::policy::Violation;
use shomei_core::x509::{Certificate, PublicKey};
use shomei_snp::{Product, RawTcb, SigningKey, Tcb, TcbComponent, VekInfo, VerifiedVek};
use shomei_zk::statement::{MAX_MEASUREMENTS, PublicInputs, ZkPolicy};

use super::{
    AppraisalContext, Builder, Claims, Family, SnpProofEvidence, affirm_platform, apply_custom,
    rejected, snp_options, snp_rejection, snp_violation,
};
use crate::ar4si::value;
use crate::error::Error;
use crate::{Appraisal, TrustClaim};

/// The statement a proof carries (shomei-zk's circuit, as `shomei zk prove` names it).
pub const SNP_PROOF_STATEMENT: &str = shomei_zk::statement::STATEMENT_ID;

/// The SNP policy's checks that a proof cannot show, even under the default policy (see the
/// module documentation); every proof appraisal lists them in its claims.
pub const NOT_SHOWN_BY_A_PROOF: [&str; 6] = [
    "migration_agent",
    "cxl",
    "guest_policy_bits",
    "provisional_firmware",
    "min_tcb (CURRENT_TCB, COMMITTED_TCB)",
    "chip_id",
];

/// The claims of a verified proof: what the relying party learns without the report.
#[derive(Debug, Clone, Serialize)]
pub struct SnpProofClaims {
    /// The statement proven ([`SNP_PROOF_STATEMENT`]).
    pub statement: &'static str,
    /// The VEK whose key is the proof's public key, verified natively.
    pub signer: ProofSigner,
    /// REPORTED_TCB (public; equal to the VEK's certified TCB).
    pub reported_tcb: Tcb,
    /// REPORT_DATA, hex (public).
    pub report_data: String,
    /// The policy the proof shows the hidden report satisfies.
    pub shown: ShownPolicy,
    /// The SNP policy's checks a proof cannot show.
    pub not_shown: Vec<&'static str>,
}

/// The VEK behind a proof.
#[derive(Debug, Clone, Serialize)]
pub struct ProofSigner {
    pub kind: SigningKey,
    pub product: Product,
    pub certified_tcb: Tcb,
    /// VLEK only: the cloud provider the key was issued to.
    pub csp_id: Option<String>,
    /// SHA-256 of the VEK certificate, hex.
    pub vek_sha256: String,
    /// Every certificate (and CRL) of the chain is valid from..until.
    pub chain_valid_from: i64,
    pub chain_valid_until: i64,
}

/// The public policy of a verified proof.
#[derive(Debug, Clone, Serialize)]
pub struct ShownPolicy {
    /// MEASUREMENT is one of these (hex).
    pub measurements: Vec<String>,
    /// Each byte of REPORTED_TCB is at least this one's (hex, the product's layout).
    pub min_tcb: String,
    /// VMPL equals this.
    pub vmpl: u8,
    /// DEBUG is off (the statement always requires it).
    pub debug: bool,
    /// The proof's public input for this policy: the Poseidon commitment
    /// (`shomei_zk::statement::ZkPolicy::commitment`), hex.
    pub commitment: String,
}

/// The public policy a proof must be made for, from the SNP policy the verifier holds and the
/// product of the VEK (its TCB layout). A prover builds its `PublicInputs::policy` the same way:
///
/// - `measurements`: the policy's measurements (its own and the reference values), 48 bytes
///   each, sorted ascending and deduplicated (the canonical form: the same set always gives
///   the same public policy); 1 to [`MAX_MEASUREMENTS`];
/// - `min_tcb`: the policy's `min_tcb` encoded in the product's REPORTED_TCB layout, with 0 for
///   the components it does not set;
/// - `vmpl`: the policy's `vmpl`, or 0 when it sets none (a proof shows one exact VMPL);
/// - DEBUG off, whatever `allow_debug` says (the statement always requires it).
///
/// # Errors
/// A sentence naming what cannot be shown: no measurement, more than [`MAX_MEASUREMENTS`], a
/// measurement that is not 48 bytes, a VMPL above 3, or a setting about a hidden field.
pub fn snp_proof_policy(policy: &shomei_snp::Policy, product: Product) -> Result<ZkPolicy, String> {
    let hidden = hidden_settings(policy);
    if !hidden.is_empty() {
        return Err(format!(
            "the SNP policy sets {}, which a proof cannot show (the report is hidden): \
             appraise reports, or drop these settings",
            hidden.join(", ")
        ));
    }
    let mut measurements = policy
        .measurements
        .iter()
        .map(|m| {
            <[u8; 48]>::try_from(m.0.as_slice()).map_err(|_| {
                format!(
                    "the SNP policy's measurement {} is {} bytes, not 48",
                    hex::encode(&m.0),
                    m.0.len()
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    measurements.sort_unstable();
    measurements.dedup();
    if measurements.is_empty() {
        return Err(format!(
            "the SNP policy names no measurement: a proof shows MEASUREMENT in an allowlist of \
             1 to {MAX_MEASUREMENTS} reference values"
        ));
    }
    if measurements.len() > MAX_MEASUREMENTS {
        return Err(format!(
            "the SNP policy allows {} measurements; a proof's allowlist holds at most \
             {MAX_MEASUREMENTS}",
            measurements.len()
        ));
    }
    let vmpl = match policy.vmpl {
        None => 0,
        Some(v) => u8::try_from(v)
            .ok()
            .filter(|v| *v <= 3)
            .ok_or_else(|| format!("the SNP policy's vmpl {v} is not 0 to 3"))?,
    };
    let m = &policy.min_tcb;
    let min_tcb = Tcb {
        fmc: m.fmc,
        bootloader: m.bootloader.unwrap_or(0),
        tee: m.tee.unwrap_or(0),
        snp: m.snp.unwrap_or(0),
        microcode: m.microcode.unwrap_or(0),
    }
    .encode(product)
    .0;
    Ok(ZkPolicy {
        measurements,
        min_tcb,
        vmpl,
    })
}

/// The settings of `p` that restrict hidden fields of the report (none of them can be shown
/// by a proof), by their TOML names.
fn hidden_settings(p: &shomei_snp::Policy) -> Vec<&'static str> {
    let d = shomei_snp::Policy::default();
    let mut out = Vec::new();
    let mut flag = |set: bool, name: &'static str| {
        if set {
            out.push(name);
        }
    };
    flag(!p.allow_smt, "allow_smt = false");
    flag(p.require_single_socket, "require_single_socket");
    flag(p.require_aes_256_xts, "require_aes_256_xts");
    flag(p.require_rapl_disabled, "require_rapl_disabled");
    flag(p.require_ciphertext_hiding, "require_ciphertext_hiding");
    flag(p.require_page_swap_disabled, "require_page_swap_disabled");
    flag(p.min_abi.is_some(), "min_abi");
    flag(p.min_firmware_version.is_some(), "min_firmware_version");
    flag(p.min_build.is_some(), "min_build");
    flag(p.min_launch_tcb != d.min_launch_tcb, "min_launch_tcb");
    flag(p.min_guest_svn.is_some(), "min_guest_svn");
    flag(
        p.required_launch_mit_vector != 0,
        "required_launch_mit_vector",
    );
    flag(
        p.required_current_mit_vector != 0,
        "required_current_mit_vector",
    );
    flag(
        !p.required_platform_info.is_empty(),
        "required_platform_info",
    );
    flag(
        !p.forbidden_platform_info.is_empty(),
        "forbidden_platform_info",
    );
    flag(p.host_data.is_some(), "host_data");
    flag(!p.id_key_digests.is_empty(), "id_key_digests");
    flag(!p.author_key_digests.is_empty(), "author_key_digests");
    flag(p.require_author_key, "require_author_key");
    flag(p.family_id.is_some(), "family_id");
    flag(p.image_id.is_some(), "image_id");
    flag(!p.chip_ids.is_empty(), "chip_ids");
    // Whatever else the policy sets beyond what a proof shows or what only loosens the
    // statement (a setting added to the policy later lands here until it is named above).
    let mut rest = p.clone();
    rest.allow_debug = d.allow_debug;
    rest.allow_migration_agent = d.allow_migration_agent;
    rest.allow_cxl = d.allow_cxl;
    rest.allow_unknown_policy_bits = d.allow_unknown_policy_bits;
    rest.allow_provisional_firmware = d.allow_provisional_firmware;
    rest.min_tcb = d.min_tcb;
    rest.vmpl = d.vmpl;
    rest.signing_keys.clear();
    rest.measurements.clear();
    rest.report_data = None;
    if out.is_empty() && rest != d {
        out.push("a setting about a hidden field");
    }
    out
}

/// The VEK's key as the statement's `vek`: x ‖ y, 48 bytes each.
fn vek_key(cert: &Certificate) -> Option<[u8; 96]> {
    match cert.public_key().ok()? {
        PublicKey::EcP384(sec1) => match sec1.split_first() {
            Some((4, xy)) => <[u8; 96]>::try_from(xy).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn is_vek(c: &Certificate) -> bool {
    matches!(c.subject_cn().as_deref(), Some("SEV-VCEK" | "SEV-VLEK"))
}

/// REPORTED_TCB against the policy's minimum, per component (as the SNP policy checks a
/// report's REPORTED_TCB).
fn min_tcb_violations(min: &shomei_snp::policy::MinTcb, reported: &Tcb) -> Vec<Violation> {
    let wanted = [
        (TcbComponent::Fmc, min.fmc),
        (TcbComponent::Bootloader, min.bootloader),
        (TcbComponent::Tee, min.tee),
        (TcbComponent::Snp, min.snp),
        (TcbComponent::Microcode, min.microcode),
    ];
    wanted
        .into_iter()
        .filter_map(|(c, min)| {
            let min = min?;
            match reported.get(c) {
                Some(v) if v >= min => None,
                got => Some(Violation::new(
                    format!("min_tcb.{c}"),
                    format!(
                        "the proof's REPORTED_TCB {c} is {}, the policy requires at least {min}: \
                         no proof for this policy can exist",
                        got.map_or_else(|| "absent".to_owned(), |g| g.to_string())
                    ),
                )),
            }
        })
        .collect()
}

/// The policy's checks on the proof's public values, as the SNP policy makes them on a report.
fn public_violations(
    p: &shomei_snp::Policy,
    signer: SigningKey,
    report_data: &[u8; 64],
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !p.signing_keys.is_empty() && !p.signing_keys.contains(&signer) {
        out.push(Violation::new(
            "signing_key",
            format!("signed by the {signer}, which the policy does not accept"),
        ));
    }
    if let Some(want) = &p.report_data {
        let mut padded = [0u8; 64];
        let fits = padded
            .get_mut(..want.0.len())
            .map(|d| d.copy_from_slice(&want.0))
            .is_some();
        if !fits || &padded != report_data {
            out.push(Violation::new(
                "report_data",
                format!(
                    "expected {}, the proof's REPORT_DATA is {}",
                    hex::encode(&want.0),
                    hex::encode(report_data)
                ),
            ));
        }
    }
    out
}

/// Appraises proof evidence (the module documentation gives the steps and their claims).
pub(super) fn appraise_snp_proof(
    e: &SnpProofEvidence,
    ctx: &AppraisalContext<'_>,
) -> Result<Appraisal, Error> {
    use TrustClaim::{Executables, InstanceIdentity};
    let named = &ctx.policies.snp;
    let mut b = Builder::new();
    let refused = |mut b: Builder, check: &str, detail: &str, claims: &[(TrustClaim, i8)]| {
        rejected(&mut b, check, detail, claims);
        Ok(b.finish(Family::SnpProof, &named.id, None, ctx.at))
    };
    let unexpected = [(InstanceIdentity, value::UNEXPECTED_EVIDENCE)];

    let Some(keys) = ctx.anchors.zk.as_deref() else {
        return refused(
            b,
            "zk_not_configured",
            "this verifier has no verifying key for SNP proofs (shomei-zk): proof evidence is \
             accepted only where one is configured",
            &unexpected,
        );
    };

    // The VEK's chain, natively, with the code that verifies a report's VEK. The VEK must be
    // the only one in the collateral, so that the key checked is the key used.
    let info = VekInfo::from_certificate(&e.vek).map_err(Error::Snp)?;
    if e.chain.certificates.iter().any(is_vek) {
        return refused(
            b,
            "signing_key",
            "the chain carries a VEK certificate besides the proof's VEK",
            &snp_rejection("signing_key"),
        );
    }
    let mut collateral = e.chain.clone();
    collateral.certificates.insert(0, e.vek.clone());
    let opts = snp_options(ctx, e.product);
    let vek = match VerifiedVek::new(info.kind, &[(e.product, "the caller")], &collateral, &opts) {
        Ok(v) => v,
        Err(shomei_snp::Error::Rejected(r)) => {
            return refused(b, r.check(), &r.to_string(), &snp_rejection(r.check()));
        }
        Err(other) => return Err(Error::Snp(other)),
    };
    let Some(key) = vek_key(&e.vek) else {
        return refused(
            b,
            "vek_key",
            "the VEK's key is not an uncompressed P-384 point",
            &snp_rejection("vek_key"),
        );
    };

    // The VEK is derived from REPORTED_TCB: the claimed value must be the certified one.
    let product = vek.product();
    let reported = RawTcb(e.reported_tcb).decode(product);
    let certified = vek.info().tcb();
    if certified != Some(reported) {
        return refused(
            b,
            "vek_tcb",
            &format!(
                "the proof's REPORTED_TCB {} ({reported}) is not the TCB the {} certifies ({})",
                RawTcb(e.reported_tcb).hex(),
                info.kind,
                certified.map_or_else(|| "none".to_owned(), |t| t.to_string())
            ),
            &snp_rejection("vek_tcb"),
        );
    }

    let policy = match snp_proof_policy(&named.policy, product) {
        Ok(p) => p,
        Err(detail) => return refused(b, "zk_policy", &detail, &unexpected),
    };
    let low = min_tcb_violations(&named.policy.min_tcb, &reported);
    if !low.is_empty() {
        b.rejected = true;
        b.violations(&low, snp_violation);
        return Ok(b.finish(Family::SnpProof, &named.id, None, ctx.at));
    }

    // REPORT_DATA: what the prover claims, else what the nonce binding expects.
    let report_data = match (e.report_data, ctx.nonce) {
        (Some(rd), _) => rd,
        (None, Some(binding)) => binding.expected(),
        (None, None) => {
            return refused(
                b,
                "zk_report_data",
                "no nonce binding and no REPORT_DATA claimed: a proof is checked against a \
                 known REPORT_DATA",
                &unexpected,
            );
        }
    };

    let public = PublicInputs {
        vek: key,
        report_data,
        reported_tcb: e.reported_tcb,
        policy,
    };
    match shomei_zk::prove::verify(keys, &e.proof, &public) {
        Ok(()) => {}
        Err(shomei_zk::Error::Rejected) => {
            return refused(
                b,
                "zk_proof",
                &format!(
                    "the proof does not verify for these public inputs: a report signed by this \
                     {} with DEBUG off, VMPL {}, REPORTED_TCB {} at least {}, MEASUREMENT one of \
                     {} allowed, REPORT_DATA {}",
                    info.kind,
                    public.policy.vmpl,
                    RawTcb(public.reported_tcb).hex(),
                    hex::encode(public.policy.min_tcb),
                    public.policy.measurements.len(),
                    hex::encode(public.report_data)
                ),
                &[
                    (InstanceIdentity, value::CRYPTO_VALIDATION_FAILED),
                    (Executables, value::UNRECOGNIZED_RUNTIME),
                ],
            );
        }
        Err(other) => return Err(Error::Zk(other)),
    }

    affirm_platform(&mut b, true);
    b.violations(
        &public_violations(&named.policy, info.kind, &report_data),
        snp_violation,
    );
    b.nonce(ctx.nonce, &report_data);
    let (from, until) = vek.window();
    let claims = Claims::SnpProof(Box::new(SnpProofClaims {
        statement: SNP_PROOF_STATEMENT,
        signer: ProofSigner {
            kind: info.kind,
            product,
            certified_tcb: reported,
            csp_id: info.csp_id.clone(),
            vek_sha256: hex::encode(e.vek.sha256()),
            chain_valid_from: from.secs(),
            chain_valid_until: until.secs(),
        },
        reported_tcb: reported,
        report_data: hex::encode(report_data),
        shown: ShownPolicy {
            measurements: public.policy.measurements.iter().map(hex::encode).collect(),
            min_tcb: hex::encode(public.policy.min_tcb),
            vmpl: public.policy.vmpl,
            debug: false,
            commitment: public
                .policy
                .commitment()
                .map(hex::encode)
                .unwrap_or_default(),
        },
        not_shown: NOT_SHOWN_BY_A_PROOF.to_vec(),
    }));
    let id = apply_custom(&mut b, Family::SnpProof, &named.id, &claims, ctx)?;
    Ok(b.finish(Family::SnpProof, &id, Some(claims), ctx.at))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shomei_snp::policy::{HexBytes, MinTcb};

    fn with_measurements(n: u8) -> shomei_snp::Policy {
        shomei_snp::Policy {
            measurements: (0..n).rev().map(|i| HexBytes(vec![i; 48])).collect(),
            ..shomei_snp::Policy::default()
        }
    }

    #[test]
    fn the_proof_policy_is_sorted_deduplicated_and_encoded_per_product() {
        let mut p = with_measurements(3);
        p.measurements.push(HexBytes(vec![1; 48]));
        p.min_tcb = MinTcb::parse("bl=3,snp=8,ucode=115").unwrap();
        p.vmpl = Some(2);
        let z = snp_proof_policy(&p, Product::Milan).unwrap();
        assert_eq!(z.measurements, vec![[0; 48], [1; 48], [2; 48]]);
        assert_eq!(z.min_tcb, [3, 0, 0, 0, 0, 0, 8, 115]);
        assert_eq!(z.vmpl, 2);
        let z = snp_proof_policy(&p, Product::Turin).unwrap();
        assert_eq!(z.min_tcb, [0, 3, 0, 8, 0, 0, 0, 115]);
        // No vmpl: a proof shows VMPL 0. allow_debug does not loosen the statement.
        p.vmpl = None;
        p.allow_debug = true;
        assert_eq!(snp_proof_policy(&p, Product::Milan).unwrap().vmpl, 0);
    }

    #[test]
    fn a_policy_a_proof_cannot_show_is_named() {
        let too_many = u8::try_from(MAX_MEASUREMENTS + 1).unwrap();
        let e = snp_proof_policy(&with_measurements(too_many), Product::Milan).unwrap_err();
        assert!(
            e.contains(&format!("{too_many} measurements"))
                && e.contains(&format!("at most {MAX_MEASUREMENTS}")),
            "{e}"
        );
        let e = snp_proof_policy(&with_measurements(0), Product::Milan).unwrap_err();
        assert!(e.contains("no measurement"), "{e}");
        let mut p = with_measurements(1);
        p.measurements.push(HexBytes(vec![1; 32]));
        let e = snp_proof_policy(&p, Product::Milan).unwrap_err();
        assert!(e.contains("32 bytes"), "{e}");
        let mut p = with_measurements(1);
        p.host_data = Some(HexBytes(vec![1; 32]));
        p.allow_smt = false;
        let e = snp_proof_policy(&p, Product::Milan).unwrap_err();
        assert!(e.contains("allow_smt = false, host_data"), "{e}");
        let mut p = with_measurements(1);
        p.vmpl = Some(4);
        assert!(snp_proof_policy(&p, Product::Milan).is_err());
        // What only loosens the statement, or what a proof shows, is accepted.
        let mut p = with_measurements(1);
        p.allow_migration_agent = true;
        p.allow_provisional_firmware = true;
        p.signing_keys = vec![SigningKey::Vcek];
        p.report_data = Some(HexBytes(vec![7; 4]));
        assert!(snp_proof_policy(&p, Product::Milan).is_ok());
    }

    #[test]
    fn public_values_are_checked_as_for_reports() {
        let mut p = shomei_snp::Policy {
            report_data: Some(HexBytes(vec![7; 4])),
            signing_keys: vec![SigningKey::Vlek],
            ..shomei_snp::Policy::default()
        };
        let mut rd = [0u8; 64];
        rd[..4].copy_from_slice(&[7; 4]);
        let checks = |p: &shomei_snp::Policy, rd: &[u8; 64]| -> Vec<String> {
            public_violations(p, SigningKey::Vcek, rd)
                .into_iter()
                .map(|v| v.check)
                .collect()
        };
        assert_eq!(checks(&p, &rd), ["signing_key"]);
        rd[4] = 1;
        assert_eq!(checks(&p, &rd), ["signing_key", "report_data"]);
        p.signing_keys.clear();
        p.report_data = Some(HexBytes(vec![0; 65]));
        assert_eq!(checks(&p, &[0; 64]), ["report_data"]);
    }

    #[test]
    fn reported_tcb_below_the_minimum_names_the_component() {
        let min = MinTcb::parse("snp=9,ucode=100,fmc=1").unwrap();
        let reported = RawTcb([3, 0, 0, 0, 0, 0, 8, 115]).decode(Product::Milan);
        let v: Vec<String> = min_tcb_violations(&min, &reported)
            .into_iter()
            .map(|v| v.check)
            .collect();
        assert_eq!(v, ["min_tcb.fmc", "min_tcb.snp"]);
    }
}
