//! One interface for every evidence family: [`Evidence`] in, [`Appraisal`] out.
//!
//! [`appraise`] runs the family's verification (signature, chain, collateral, at the time given)
//! and its policy, checks the nonce binding, and maps the outcome to an AR4SI trust vector with
//! a [`Reason`] for every non-affirming claim:
//!
//! | outcome | claims |
//! |---|---|
//! | verified, no violation | instance-identity 2, hardware 2, configuration 2, runtime-opaque 2; executables 2 only when the policy names reference values (otherwise no claim) |
//! | verification rejected | instance-identity 99 (crypto validation failed); revocation: instance-identity 96 and hardware 96; untrusted root, unknown product or TCB level: hardware 97; VEK TCB above the certified one: hardware 96; hwID mismatch: instance-identity 96. Status contraindicated, no appraised claims |
//! | debug allowed by the guest | configuration 96, runtime-opaque 96 |
//! | other guest-policy / TD-attribute violations | configuration 32 |
//! | measurement and other reference values | executables 33 |
//! | firmware, TCB, TCB status, advisories, collateral age, platform info | hardware 32 (TCB status Revoked: 96) |
//! | nonce binding (REPORT_DATA) | instance-identity 96 |
//! | SNP proof (`Evidence::SnpProof`): no verifying key, a policy no proof can show, no REPORT_DATA | instance-identity 1 (`zk_not_configured`, `zk_policy`, `zk_report_data`), contraindicated |
//! | SNP proof: VEK chain / claimed REPORTED_TCB ≠ the VEK's TCB / the proof does not verify | as for reports (`root_of_trust` …) / hardware 96 (`vek_tcb`) / instance-identity 99 + executables 33 (`zk_proof`), contraindicated |
//!
//! Evidence that cannot be read, and collateral that is missing, are [`Error`]s (the service
//! answers 400 and 503), not appraisals.
//!
//! **Nonce binding** (DESIGN.md flow 6). With [`NonceBinding::Key`], REPORT_DATA (64 bytes in
//! SNP reports and in DCAP quotes alike) must be `SHA-512(nonce ‖ public key)` ([`report_data`]),
//! so that the evidence is fresh *and* names the key a secret will be encrypted to. SHA-512
//! fills REPORT_DATA exactly, with no padding convention to agree on. [`NonceBinding::Exact`]
//! takes a caller-computed 64-byte value for attesters that bind something else.

use aws_lc_rs::digest;
use serde::Serialize;
use shomei_core::UnixTime;
use shomei_core::policy::Violation;

use crate::ar4si::{Reason, ReasonSource, Tier, TrustClaim, TrustVector, value};
use crate::error::Error;
use TrustClaim::{Configuration, Executables, Hardware, InstanceIdentity, RuntimeOpaque};

mod snp_proof;
pub use snp_proof::{
    NOT_SHOWN_BY_A_PROOF, ProofSigner, SNP_PROOF_STATEMENT, ShownPolicy, SnpProofClaims,
    snp_proof_policy,
};

/// A piece of evidence of one family, with the collateral it is verified against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Evidence {
    Snp(SnpEvidence),
    Dcap(Box<DcapEvidence>),
    /// Two-step confidential-VM evidence (DESIGN.md flow 4): an SEV-SNP report that vouches
    /// for a vTPM, its quote and event log (Azure HCL or shomei's composite format).
    Cvm(Box<shomei_cvm::CvmEvidence>),
    /// A zero-knowledge proof that an SEV-SNP report satisfies the SNP policy, in place of the
    /// report (DESIGN.md flow 7; the appraisal's steps are in `appraise/snp_proof.rs`).
    SnpProof(Box<SnpProofEvidence>),
}

/// A shomei-zk proof that a hidden SEV-SNP report, signed by `vek`, satisfies the policy
/// ([`snp_proof_policy`]), with what the verifier needs to check it: the VEK and its chain
/// (verified natively, as for a report) and the public values the prover claims.
#[derive(Debug, Clone)]
pub struct SnpProofEvidence {
    /// The proof, as `shomei_zk::prove::ProvingKeys::prove` returns it.
    pub proof: Vec<u8>,
    /// The VCEK (or VLEK) that signed the hidden report: its key is the proof's `vek`.
    pub vek: shomei_core::x509::Certificate,
    /// ASK/ASVK, ARK and CRLs for the VEK's chain, as [`SnpEvidence::collateral`] holds them
    /// (no other VEK).
    pub chain: shomei_snp::Collateral,
    /// REPORTED_TCB, as the prover claims it (a public input); must be the VEK's TCB.
    pub reported_tcb: [u8; 8],
    /// REPORT_DATA, as the prover claims it; `None`: the nonce binding's value. A claim that
    /// differs from the nonce binding fails it, as a report's REPORT_DATA would.
    pub report_data: Option<[u8; 64]>,
    /// The product, when the VEK does not name it.
    pub product: Option<shomei_snp::Product>,
}

/// An SEV-SNP attestation report (1184 bytes, as received) and its VEK chain and CRLs.
#[derive(Debug, Clone)]
pub struct SnpEvidence {
    pub report: Vec<u8>,
    pub collateral: shomei_snp::Collateral,
    /// The product, when the report (v2) and the VEK do not name it.
    pub product: Option<shomei_snp::Product>,
}

/// An Intel DCAP quote (SGX v3, TDX v4/v5, as received) and its collateral.
#[derive(Debug, Clone)]
pub struct DcapEvidence {
    pub quote: Vec<u8>,
    pub collateral: shomei_dcap::Collateral,
}

/// The evidence families the verifier knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    Snp,
    Dcap,
    Cvm,
    /// A zero-knowledge proof about an SEV-SNP report (`snp_proof`).
    SnpProof,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Self::Snp => "snp",
            Self::Dcap => "dcap",
            Self::Cvm => "cvm",
            Self::SnpProof => "snp_proof",
        }
    }
}

impl Evidence {
    pub fn family(&self) -> Family {
        match self {
            Self::Snp(_) => Family::Snp,
            Self::Dcap(_) => Family::Dcap,
            Self::Cvm(_) => Family::Cvm,
            Self::SnpProof(_) => Family::SnpProof,
        }
    }
}

/// What REPORT_DATA must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceBinding {
    /// `SHA-512(nonce ‖ public_key)`; `public_key` may be empty (freshness only).
    Key { nonce: Vec<u8>, public_key: Vec<u8> },
    /// Exactly these bytes.
    Exact([u8; 64]),
}

impl NonceBinding {
    /// The REPORT_DATA the evidence must carry.
    pub fn expected(&self) -> [u8; 64] {
        match self {
            Self::Key { nonce, public_key } => report_data(nonce, public_key),
            Self::Exact(v) => *v,
        }
    }
}

/// `SHA-512(nonce ‖ public_key)`: the REPORT_DATA an attester puts in its evidence to bind a
/// verifier's nonce and its own public key.
pub fn report_data(nonce: &[u8], public_key: &[u8]) -> [u8; 64] {
    let mut ctx = digest::Context::new(&digest::SHA512);
    ctx.update(nonce);
    ctx.update(public_key);
    let mut out = [0u8; 64];
    let d = ctx.finish();
    if let Some(dst) = out.get_mut(..d.as_ref().len()) {
        dst.copy_from_slice(d.as_ref());
    }
    out
}

/// A family policy with the identifier it is reported under (`ear.appraisal-policy-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy<P> {
    pub id: String,
    pub policy: P,
}

/// The identifier of a family's default policy.
pub const DEFAULT_POLICY_ID: &str = "policy:shomei/default";

impl<P: Default> Default for NamedPolicy<P> {
    fn default() -> Self {
        Self {
            id: DEFAULT_POLICY_ID.to_owned(),
            policy: P::default(),
        }
    }
}

/// One native policy per family, and custom Rego policies applied after them.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub snp: NamedPolicy<shomei_snp::Policy>,
    pub dcap: NamedPolicy<shomei_dcap::Policy>,
    pub cvm: NamedPolicy<CvmPolicy>,
    pub custom: Vec<CustomPolicy>,
}

/// The policy of two-step CVM evidence: the SEV-SNP policy of step 1 and the reference values
/// of both steps (launch digests, PCRs, PCRs the quote must cover).
#[derive(Debug, Clone, Default)]
pub struct CvmPolicy {
    pub snp: shomei_snp::Policy,
    pub reference: shomei_cvm::CvmReferenceValues,
}

/// A Rego policy ([`crate::rego`]) for one family (or every family), with the reference values
/// it sees as `data.reference_values`.
#[derive(Debug, Clone)]
pub struct CustomPolicy {
    pub id: String,
    /// `None`: applies to every family.
    pub family: Option<Family>,
    pub rego: crate::rego::RegoPolicy,
    pub reference_values: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
}

/// The roots of trust per family. `None` means the vendor's pinned root (AMD's ARKs, the Intel
/// SGX Root CA); an emulator's test root is trusted only when set here.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    pub snp: Option<shomei_snp::TrustAnchors>,
    pub dcap: Option<shomei_dcap::TrustAnchor>,
    /// The verifying key for SNP proofs (shomei-zk: the circuit's key and the SRS points it
    /// needs, `VerifyingKeys::from_bytes`). A proof is only as sound as the SRS behind this
    /// key. `None`: proof evidence is refused (`zk_not_configured`). Their VEK chains end at
    /// `snp` like reports'.
    pub zk: Option<std::sync::Arc<shomei_zk::prove::VerifyingKeys>>,
}

/// Everything an appraisal depends on besides the evidence. The time is an input.
#[derive(Debug, Clone, Copy)]
pub struct AppraisalContext<'a> {
    pub at: UnixTime,
    pub nonce: Option<&'a NonceBinding>,
    pub policies: &'a Policies,
    pub anchors: &'a Anchors,
}

/// The appraised claims of verified evidence, in the family's own JSON shape.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Claims {
    Snp(Box<SnpClaims>),
    Dcap(Box<shomei_dcap::claims::QuoteClaims>),
    Cvm(Box<shomei_cvm::CvmReport>),
    SnpProof(Box<SnpProofClaims>),
}

/// An SNP report's claims and the key that signed it.
#[derive(Debug, Clone, Serialize)]
pub struct SnpClaims {
    pub report: shomei_snp::claims::ReportClaims,
    pub signer: shomei_snp::Signer,
}

/// The outcome of appraising one piece of evidence. Only [`appraise`] constructs one.
#[derive(Debug, Clone, Serialize)]
pub struct Appraisal {
    family: Family,
    status: Tier,
    trust_vector: TrustVector,
    policy_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<Claims>,
    reasons: Vec<Reason>,
    #[serde(serialize_with = "ser_time")]
    appraised_at: UnixTime,
}

fn ser_time<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(t.secs())
}

impl Appraisal {
    pub fn family(&self) -> Family {
        self.family
    }
    /// `ear.status`: the worst tier of the vector, and contraindicated whenever verification
    /// rejected the evidence (its value 99 is in the none tier).
    pub fn status(&self) -> Tier {
        self.status
    }
    pub fn is_affirming(&self) -> bool {
        self.status == Tier::Affirming
    }
    pub fn trust_vector(&self) -> &TrustVector {
        &self.trust_vector
    }
    pub fn policy_id(&self) -> &str {
        &self.policy_id
    }
    /// The appraised claims; `None` when verification rejected the evidence.
    pub fn claims(&self) -> Option<&Claims> {
        self.claims.as_ref()
    }
    /// A reason for every non-affirming claim.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }
    /// The reasons for one claim.
    pub fn reasons_for(&self, claim: TrustClaim) -> impl Iterator<Item = &Reason> + '_ {
        self.reasons.iter().filter(move |r| r.claim == claim)
    }
    pub fn appraised_at(&self) -> UnixTime {
        self.appraised_at
    }
}

/// Builds the vector and the reasons together, so that no non-affirming value lacks a reason.
struct Builder {
    vector: TrustVector,
    reasons: Vec<Reason>,
    rejected: bool,
}

impl Builder {
    fn new() -> Self {
        Self {
            vector: TrustVector::new(),
            reasons: Vec::new(),
            rejected: false,
        }
    }

    fn affirm(&mut self, claim: TrustClaim, v: i8) {
        self.vector.set(claim, v);
    }

    fn find(
        &mut self,
        claims: &[(TrustClaim, i8)],
        source: ReasonSource,
        check: &str,
        detail: &str,
    ) {
        for (claim, v) in claims {
            self.vector.lower(*claim, *v);
            self.reasons.push(Reason {
                claim: *claim,
                value: *v,
                source,
                check: check.to_owned(),
                detail: detail.to_owned(),
            });
        }
    }

    fn violations(&mut self, vs: &[Violation], map: impl Fn(&str) -> Vec<(TrustClaim, i8)>) {
        for v in vs {
            self.find(&map(&v.check), ReasonSource::Policy, &v.check, &v.detail);
        }
    }

    fn nonce(&mut self, binding: Option<&NonceBinding>, got: &[u8; 64]) {
        if let Some(b) = binding {
            let want = b.expected();
            if &want != got {
                self.find(
                    &[(TrustClaim::InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
                    ReasonSource::Nonce,
                    "nonce_binding",
                    &format!(
                        "REPORT_DATA is {}, the nonce binding expects {}",
                        hex::encode(got),
                        hex::encode(want)
                    ),
                );
            }
        }
    }

    fn finish(
        self,
        family: Family,
        policy_id: &str,
        claims: Option<Claims>,
        at: UnixTime,
    ) -> Appraisal {
        let status = if self.rejected {
            Tier::Contraindicated
        } else {
            self.vector.worst()
        };
        Appraisal {
            family,
            status,
            trust_vector: self.vector,
            policy_id: policy_id.to_owned(),
            claims,
            reasons: self.reasons,
            appraised_at: at,
        }
    }
}

/// Verifies the evidence, appraises it against the family's policy and the nonce binding, and
/// maps the outcome to an AR4SI trust vector (see the module documentation for the mapping).
pub fn appraise(evidence: &Evidence, ctx: &AppraisalContext<'_>) -> Result<Appraisal, Error> {
    match evidence {
        Evidence::Snp(e) => appraise_snp(e, ctx),
        Evidence::Dcap(e) => appraise_dcap(e, ctx),
        Evidence::Cvm(e) => appraise_cvm(e, ctx),
        Evidence::SnpProof(e) => snp_proof::appraise_snp_proof(e, ctx),
    }
}

/// The challenge CVM evidence carries (the vTPM quote's extraData, and REPORT_DATA's nonce in
/// the composite format): the nonce itself, or SHA-256(nonce ‖ key) when a key is bound —
/// 32 bytes, within TPM2B_DATA's limit, naming the key a secret will be encrypted to.
pub fn cvm_challenge(binding: &NonceBinding) -> Vec<u8> {
    match binding {
        NonceBinding::Key { nonce, public_key } if public_key.is_empty() => nonce.clone(),
        NonceBinding::Key { nonce, public_key } => {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(nonce);
            ctx.update(public_key);
            ctx.finish().as_ref().to_vec()
        }
        NonceBinding::Exact(v) => v.to_vec(),
    }
}

/// Verification rejections of the SEV-SNP step (as opposed to policy violations).
const SNP_REJECTIONS: [&str; 14] = [
    "signature_algorithm",
    "unsigned_report",
    "signing_key",
    "product",
    "root_of_trust",
    "chain_issuer",
    "chain_signature",
    "certificate_validity",
    "crl",
    "revocation",
    "vek_key",
    "report_signature",
    "vek_tcb",
    "chip_id",
];

fn appraise_cvm(
    e: &shomei_cvm::CvmEvidence,
    ctx: &AppraisalContext<'_>,
) -> Result<Appraisal, Error> {
    use shomei_cvm::{Outcome, Step};
    let named = &ctx.policies.cvm;
    let anchors = snp_anchors(ctx);
    let mut opts = shomei_cvm::CvmOptions::new(ctx.at)
        .with_policy(named.policy.snp.clone())
        .with_reference(named.policy.reference.clone())
        .with_anchors(anchors);
    if let Some(b) = ctx.nonce {
        opts = opts.with_nonce(&cvm_challenge(b));
    }
    let report = match shomei_cvm::verify(e, &opts) {
        Ok(r) => r,
        Err(shomei_cvm::Error::Rejected(r)) => *r,
        Err(shomei_cvm::Error::MissingCollateral(m)) => {
            return Err(Error::Snp(shomei_snp::Error::MissingCollateral(m)));
        }
        Err(shomei_cvm::Error::Snp(s)) => return Err(Error::Snp(s)),
        Err(other) => return Err(Error::Cvm(other.to_string())),
    };
    let mut b = Builder::new();
    let reference_values = !(named.policy.reference.measurements.is_empty()
        && named.policy.snp.measurements.is_empty()
        && named.policy.reference.pcrs.is_empty());
    affirm_platform(&mut b, reference_values);
    for c in report.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
        let name = c.qualified_name();
        let crypto = [(InstanceIdentity, value::CRYPTO_VALIDATION_FAILED)];
        match (c.step, c.check.as_str()) {
            (Step::Snp | Step::Tdx, check)
                if SNP_REJECTIONS.contains(&check) || check == "quote_signature" =>
            {
                rejected(&mut b, &name, &c.detail, &snp_rejection(check));
            }
            (Step::Snp | Step::Tdx, check) => {
                b.find(
                    &snp_violation(check),
                    ReasonSource::Policy,
                    &name,
                    &c.detail,
                );
            }
            (Step::Link, "nonce") | (Step::Tpm, "nonce") => b.find(
                &[(InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
                ReasonSource::Nonce,
                &name,
                &c.detail,
            ),
            (Step::Link, _) => rejected(
                &mut b,
                &name,
                &c.detail,
                &[(InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
            ),
            (Step::Tpm, "signature" | "pcr_digest") => rejected(&mut b, &name, &c.detail, &crypto),
            (Step::Tpm, "pcr_selection" | "required_pcrs") => b.find(
                &[(Configuration, value::UNAVAIL_CONFIG_ELEMS)],
                ReasonSource::Policy,
                &name,
                &c.detail,
            ),
            (Step::Tpm, _) => b.find(
                &[(Executables, value::UNRECOGNIZED_RUNTIME)],
                ReasonSource::Policy,
                &name,
                &c.detail,
            ),
            (Step::Eventlog, _) => b.find(
                &[(Executables, value::CONTRAINDICATED_RUNTIME)],
                ReasonSource::Verification,
                &name,
                &c.detail,
            ),
        }
    }
    let claims = if b.rejected {
        None
    } else {
        Some(Claims::Cvm(Box::new(report)))
    };
    let id = match &claims {
        Some(c) => apply_custom(&mut b, Family::Cvm, &named.id, c, ctx)?,
        None => named.id.clone(),
    };
    Ok(b.finish(Family::Cvm, &id, claims, ctx.at))
}

/// Runs the custom (Rego) policies for `family` over verified evidence's claims; returns the
/// policy identifier to report (the native one, then each custom one, joined by `+`).
fn apply_custom(
    b: &mut Builder,
    family: Family,
    native_id: &str,
    claims: &Claims,
    ctx: &AppraisalContext<'_>,
) -> Result<String, Error> {
    let mut id = native_id.to_owned();
    let applicable: Vec<&CustomPolicy> = ctx
        .policies
        .custom
        .iter()
        .filter(|c| c.family.is_none_or(|f| f == family))
        .collect();
    if applicable.is_empty() {
        return Ok(id);
    }
    let input = serde_json::json!({
        "family": family.name(),
        "claims": serde_json::to_value(claims).map_err(|e| Error::Encode(e.to_string()))?,
        "trust_vector": serde_json::to_value(&b.vector).map_err(|e| Error::Encode(e.to_string()))?,
        "status": b.vector.worst().name(),
    });
    for c in applicable {
        for f in c.rego.evaluate(&input, &c.reference_values) {
            b.find(
                &[(f.claim, f.value)],
                ReasonSource::Policy,
                &f.violation.check,
                &f.violation.detail,
            );
        }
        id.push('+');
        id.push_str(&c.id);
    }
    Ok(id)
}

fn affirm_platform(b: &mut Builder, reference_values: bool) {
    b.affirm(TrustClaim::InstanceIdentity, value::TRUSTWORTHY_INSTANCE);
    b.affirm(TrustClaim::Hardware, value::GENUINE_HARDWARE);
    b.affirm(TrustClaim::Configuration, value::APPROVED_CONFIG);
    b.affirm(TrustClaim::RuntimeOpaque, value::ENCRYPTED_MEMORY_RUNTIME);
    if reference_values {
        b.affirm(TrustClaim::Executables, value::APPROVED_RUNTIME);
    }
}

fn rejected(b: &mut Builder, check: &str, detail: &str, claims: &[(TrustClaim, i8)]) {
    b.rejected = true;
    b.find(claims, ReasonSource::Verification, check, detail);
}

/// The SEV-SNP roots: the configured ones, else AMD's pinned ARKs.
fn snp_anchors<'a>(ctx: &AppraisalContext<'a>) -> &'a shomei_snp::TrustAnchors {
    ctx.anchors
        .snp
        .as_ref()
        .unwrap_or_else(|| shomei_snp::TrustAnchors::amd())
}

/// What a VEK chain (of a report, or of a proof) is verified with: the time and the roots.
fn snp_options<'a>(
    ctx: &AppraisalContext<'a>,
    product: Option<shomei_snp::Product>,
) -> shomei_snp::VerifyOptions<'a> {
    shomei_snp::VerifyOptions::at(ctx.at)
        .with_anchors(snp_anchors(ctx))
        .with_product(product)
}

fn appraise_snp(e: &SnpEvidence, ctx: &AppraisalContext<'_>) -> Result<Appraisal, Error> {
    let named = &ctx.policies.snp;
    let opts = snp_options(ctx, e.product);
    let mut b = Builder::new();
    match shomei_snp::verify(&e.report, &e.collateral, &opts) {
        Ok(v) => {
            affirm_platform(&mut b, !named.policy.measurements.is_empty());
            b.violations(&named.policy.appraise(&v), snp_violation);
            let r = v.report();
            b.nonce(ctx.nonce, r.report_data());
            let claims = Claims::Snp(Box::new(SnpClaims {
                report: shomei_snp::claims::ReportClaims::new(
                    &r,
                    Some((v.product(), "verification")),
                ),
                signer: v.signer().clone(),
            }));
            let id = apply_custom(&mut b, Family::Snp, &named.id, &claims, ctx)?;
            Ok(b.finish(Family::Snp, &id, Some(claims), ctx.at))
        }
        Err(shomei_snp::Error::Rejected(r)) => {
            rejected(&mut b, r.check(), &r.to_string(), &snp_rejection(r.check()));
            Ok(b.finish(Family::Snp, &named.id, None, ctx.at))
        }
        Err(other) => Err(Error::Snp(other)),
    }
}

fn appraise_dcap(e: &DcapEvidence, ctx: &AppraisalContext<'_>) -> Result<Appraisal, Error> {
    let named = &ctx.policies.dcap;
    let mut opts = shomei_dcap::VerifyOptions::at(ctx.at);
    if let Some(a) = ctx.anchors.dcap.as_ref() {
        opts = opts.with_anchor(a);
    }
    let mut b = Builder::new();
    match shomei_dcap::verify(&e.quote, &e.collateral, &opts) {
        Ok(v) => {
            let p = &named.policy;
            let reference_values =
                !(p.mr_td.is_empty() && p.mr_enclave.is_empty() && p.mr_signer.is_empty());
            affirm_platform(&mut b, reference_values);
            let revoked = v.status() == shomei_dcap::TcbStatus::Revoked;
            b.violations(&p.appraise(&v), |check| dcap_violation(check, revoked));
            b.nonce(ctx.nonce, v.body().report_data());
            let claims = Claims::Dcap(Box::new(shomei_dcap::claims::QuoteClaims::new(&v)));
            let id = apply_custom(&mut b, Family::Dcap, &named.id, &claims, ctx)?;
            Ok(b.finish(Family::Dcap, &id, Some(claims), ctx.at))
        }
        Err(shomei_dcap::Error::Rejected(r)) => {
            rejected(
                &mut b,
                r.check(),
                &r.to_string(),
                &dcap_rejection(r.check()),
            );
            Ok(b.finish(Family::Dcap, &named.id, None, ctx.at))
        }
        Err(other) => Err(Error::Dcap(other)),
    }
}

fn snp_rejection(check: &str) -> Vec<(TrustClaim, i8)> {
    match check {
        "revocation" => vec![
            (InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE),
            (Hardware, value::CONTRAINDICATED_HARDWARE),
        ],
        "chip_id" => vec![(InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
        "vek_tcb" => vec![(Hardware, value::CONTRAINDICATED_HARDWARE)],
        "root_of_trust" | "product" => vec![(Hardware, value::UNRECOGNIZED_HARDWARE)],
        _ => vec![(InstanceIdentity, value::CRYPTO_VALIDATION_FAILED)],
    }
}

fn dcap_rejection(check: &str) -> Vec<(TrustClaim, i8)> {
    match check {
        "revocation" => vec![
            (InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE),
            (Hardware, value::CONTRAINDICATED_HARDWARE),
        ],
        "root_of_trust"
        | "tcb_not_supported"
        | "tcb_info_mismatch"
        | "qe_identity_mismatch"
        | "tdx_module"
        | "qe_vendor_id" => vec![(Hardware, value::UNRECOGNIZED_HARDWARE)],
        _ => vec![(InstanceIdentity, value::CRYPTO_VALIDATION_FAILED)],
    }
}

fn debug_claims() -> Vec<(TrustClaim, i8)> {
    vec![
        (Configuration, value::UNSUPPORTABLE_CONFIG),
        (RuntimeOpaque, value::VISIBLE_MEMORY_RUNTIME),
    ]
}

fn snp_violation(check: &str) -> Vec<(TrustClaim, i8)> {
    match check {
        "debug" => debug_claims(),
        "measurement" | "host_data" | "id_key_digest" | "author_key_digest" | "author_key"
        | "family_id" | "image_id" | "guest_svn" => {
            vec![(Executables, value::UNRECOGNIZED_RUNTIME)]
        }
        "report_data" => vec![(InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
        "chip_id" => vec![(InstanceIdentity, value::UNRECOGNIZED_INSTANCE)],
        "provisional_firmware"
        | "firmware_version"
        | "firmware_build"
        | "signing_key"
        | "platform_info"
        | "launch_mit_vector"
        | "current_mit_vector" => {
            vec![(Hardware, value::UNSAFE_HARDWARE)]
        }
        c if c.starts_with("min_tcb") || c.starts_with("min_launch_tcb") => {
            vec![(Hardware, value::UNSAFE_HARDWARE)]
        }
        _ => vec![(Configuration, value::UNSAFE_CONFIG)],
    }
}

fn dcap_violation(check: &str, revoked: bool) -> Vec<(TrustClaim, i8)> {
    match check {
        "debug" => debug_claims(),
        "tcb_status" if revoked => vec![(Hardware, value::CONTRAINDICATED_HARDWARE)],
        "tcb_status"
        | "advisory"
        | "tcb_evaluation_data_number"
        | "collateral_expired"
        | "collateral_age"
        | "mr_seam" => vec![(Hardware, value::UNSAFE_HARDWARE)],
        "mr_td" | "mr_enclave" | "mr_signer" | "mr_config_id" | "mr_owner" | "mr_owner_config"
        | "isv_prod_id" | "isv_svn" => vec![(Executables, value::UNRECOGNIZED_RUNTIME)],
        "report_data" => vec![(InstanceIdentity, value::UNTRUSTWORTHY_INSTANCE)],
        _ => vec![(Configuration, value::UNSAFE_CONFIG)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_is_sha512_of_nonce_then_key() {
        let d = report_data(b"nonce", b"key");
        let want = digest::digest(&digest::SHA512, b"noncekey");
        assert_eq!(&d[..], want.as_ref());
        assert_eq!(
            NonceBinding::Key {
                nonce: b"nonce".to_vec(),
                public_key: b"key".to_vec()
            }
            .expected(),
            d
        );
    }

    #[test]
    fn every_non_affirming_mapping_is_below_affirming() {
        for check in [
            "debug",
            "measurement",
            "min_tcb.snp",
            "report_data",
            "chip_id",
            "vmpl",
            "provisional_firmware",
        ] {
            for (_, v) in snp_violation(check) {
                assert!(Tier::of(v) > Tier::Affirming, "{check}");
            }
        }
        for check in ["tcb_status", "mr_td", "debug", "sept_ve_disable"] {
            for (_, v) in dcap_violation(check, false) {
                assert!(Tier::of(v) > Tier::Affirming, "{check}");
            }
        }
    }
}
