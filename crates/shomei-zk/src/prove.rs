//! Key generation, proving and verification (PLONK with KZG commitments on BN254, SHPLONK
//! opening, Blake2b transcript) for the [`crate::statement`] circuit.
//!
//! **Parameters.** [`Srs::insecure_local`] derives the KZG structured reference string from a
//! seed, so whoever knows the seed knows the toxic waste `τ` and can forge proofs: it is for tests
//! and benchmarks only. A production deployment must load the powers of `τ` of a public
//! multi-party ceremony (for example the Ethereum KZG or Perpetual Powers of Tau transcripts
//! converted to halo2's format) with [`Srs::read`], and publish the verifying key derived from it.
//!
//! **Keys.** The circuit's shape does not depend on the witness, so both sides derive the same
//! verifying key from the same parameters by synthesising the circuit on a fixed dummy witness
//! ([`ProvingKeys::generate`], [`VerifyingKeys::generate`]).

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::SerdeFormat;
use halo2_base::halo2_proofs::arithmetic::parallelize;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1, G1Affine, G2Affine};
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_base::halo2_proofs::plonk::{
    ProvingKey, VerifyingKey, create_proof, keygen_pk2, keygen_vk, verify_proof,
};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};

use crate::Error;
#[cfg(feature = "gpu")]
mod gpu;
use crate::curve::Point;
use crate::statement::{PublicInputs, SIGNED_LEN, ZkPolicy, synthesize};
#[cfg(feature = "gpu")]
pub use gpu::GpuParams;

/// log2 of the number of rows of the statement circuit (about 4.7 M advice cells in five
/// columns plus one lookup column at 2^20 rows).
pub const K: u32 = 20;
/// Rows kept free for blinding.
const BLINDING_ROWS: usize = 20;

fn backend(stage: &'static str) -> impl FnOnce(halo2_base::halo2_proofs::plonk::Error) -> Error {
    move |e| Error::Backend {
        stage,
        detail: e.to_string(),
    }
}

/// KZG parameters (the powers of τ).
#[derive(Clone, Debug)]
pub struct Srs(ParamsKZG<Bn256>);

impl Srs {
    /// **Insecure**: parameters whose τ is derived from `seed` (anyone with the seed can forge
    /// proofs). For tests and benchmarks.
    ///
    /// The same parameters as halo2's `ParamsKZG::setup(k, ChaCha20Rng::from_seed(seed))`, byte
    /// for byte (τ is drawn the same way), computed 17–27 times faster (16–25 s instead of 430 s
    /// at k = 20 on 2 cores): every point is a multiple of G1's generator, so a fixed-base
    /// table turns each of the 2·2^k scalar multiplications into at most 32 mixed additions.
    pub fn insecure_local(k: u32, seed: [u8; 32]) -> Self {
        Self(insecure_setup(k, ChaCha20Rng::from_seed(seed)))
    }

    /// Reads parameters in halo2's raw format (for example a converted public ceremony) and
    /// cuts them down to 2^[`K`] rows if they are larger.
    ///
    /// # Errors
    /// [`Error::Input`] if the bytes are not parameters or support fewer than 2^[`K`] rows.
    pub fn read(mut bytes: &[u8]) -> Result<Self, Error> {
        let mut params = ParamsKZG::read_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
            .map_err(|_| Error::Input("not KZG parameters"))?;
        if params.k() < K {
            return Err(Error::Input(
                "KZG parameters too small for the statement circuit",
            ));
        }
        if params.k() > K {
            params.downsize(K);
        }
        Ok(Self(params))
    }

    /// Writes the parameters in halo2's raw format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self
            .0
            .write_custom(&mut out, SerdeFormat::RawBytesUnchecked);
        out
    }

    /// log2 of the number of rows these parameters support.
    pub fn k(&self) -> u32 {
        self.0.k()
    }
}

/// Bits per window of the fixed-base table: a scalar's little-endian bytes are its digits.
const WINDOW_BITS: usize = 8;
/// Windows per 256-bit scalar.
const WINDOWS: usize = 256 / WINDOW_BITS;
/// Points per window (digit 0 needs none).
const DIGITS: usize = (1 << WINDOW_BITS) - 1;
/// Points per batch normalisation in [`insecure_setup`] (bounds the projective buffer).
const SETUP_BATCH: usize = 1 << 12;

/// `d · 2^(8j) · G` for every window `j` and digit `d` = 1..=255 (8,160 affine points, 510 KiB):
/// `s · G` is then the sum of one table point per non-zero byte of `s`.
struct FixedBaseTable(Vec<G1Affine>);

impl FixedBaseTable {
    fn generator() -> Self {
        let mut points = Vec::with_capacity(WINDOWS * DIGITS);
        let mut base = G1::generator();
        for _ in 0..WINDOWS {
            let mut acc = base;
            for _ in 0..DIGITS {
                points.push(acc);
                acc += base;
            }
            // acc = 256 · base.
            base = acc;
        }
        let mut table = vec![G1Affine::identity(); points.len()];
        G1::batch_normalize(&points, &mut table);
        Self(table)
    }

    /// `s · G` (variable time: the SRS is public test data, τ is known anyway).
    fn mul(&self, s: &Fr) -> G1 {
        let mut acc = G1::identity();
        for (j, digit) in s.to_repr().iter().enumerate() {
            if let Some(p) = usize::from(*digit)
                .checked_sub(1)
                .and_then(|d| self.0.get(j * DIGITS + d))
            {
                acc += p;
            }
        }
        acc
    }
}

/// Inverts every non-zero element of `v` in place with one field inversion (Montgomery's
/// trick); zeros stay zero.
fn batch_invert(v: &mut [Fr]) {
    let mut prefix = Vec::with_capacity(v.len());
    let mut acc = Fr::ONE;
    for x in v.iter() {
        prefix.push(acc);
        if !bool::from(x.is_zero()) {
            acc *= x;
        }
    }
    let mut inv = Option::<Fr>::from(acc.invert()).unwrap_or(Fr::ZERO);
    for (x, before) in v.iter_mut().zip(prefix).rev() {
        if !bool::from(x.is_zero()) {
            let xi = inv * before;
            inv *= *x;
            *x = xi;
        }
    }
}

/// `points[i] = scalar(start + i) · G` in affine form, in parallel.
fn fixed_base_points(
    n: usize,
    table: &FixedBaseTable,
    scalars: impl Fn(usize, &mut [Fr]) + Sync + Send + Clone,
) -> Vec<G1Affine> {
    let mut out = vec![G1Affine::identity(); n];
    parallelize(&mut out, |chunk, start| {
        for (b, part) in chunk.chunks_mut(SETUP_BATCH).enumerate() {
            let mut s = vec![Fr::ZERO; part.len()];
            scalars(start + b * SETUP_BATCH, &mut s);
            let proj: Vec<G1> = s.iter().map(|x| table.mul(x)).collect();
            G1::batch_normalize(&proj, part);
        }
    });
    out
}

/// halo2-axiom's `ParamsKZG::setup(k, rng)`, computed with a fixed-base table.
///
/// setup draws τ = `Fr::random(rng)` and sets `g[i] = τ^i · G` and
/// `g_lagrange[i] = L_i(τ) · G`, with `L_i(τ) = (τ^n − 1)/n · ω^i/(τ − ω^i)` for the
/// 2^k-th root of unity ω (halo2's `ROOT_OF_UNITY` squared 28 − k times), `g2` = G2's
/// generator and `s_g2 = τ · g2`. This does the same with the scalars batch-inverted and each
/// point read from a window table instead of a full scalar multiplication.
pub(crate) fn insecure_setup<R: RngCore>(k: u32, mut rng: R) -> ParamsKZG<Bn256> {
    if k > Fr::S {
        // halo2 refuses this size too (there is no such root of unity).
        return ParamsKZG::setup(k, rng);
    }
    let n = 1usize << k;
    let tau = Fr::random(&mut rng);
    let table = FixedBaseTable::generator();

    // τ^i.
    let g = fixed_base_points(n, &table, |start, s| {
        let mut pw = tau.pow_vartime([u64::try_from(start).unwrap_or(u64::MAX)]);
        for x in s.iter_mut() {
            *x = pw;
            pw *= tau;
        }
    });

    // L_i(τ): where τ = ω^i (probability 2^k / r), L_i(τ) = 1 and every other L_j(τ) = 0.
    let mut omega = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        omega = omega.square();
    }
    let n_inv = Option::<Fr>::from(Fr::from(1u64 << k).invert()).unwrap_or(Fr::ZERO);
    let multiplier = (tau.pow_vartime([1u64 << k]) - Fr::ONE) * n_inv;
    let g_lagrange = fixed_base_points(n, &table, |start, s| {
        let mut root = omega.pow_vartime([u64::try_from(start).unwrap_or(u64::MAX)]);
        let mut roots = Vec::with_capacity(s.len());
        for x in s.iter_mut() {
            roots.push(root);
            *x = tau - root;
            root *= omega;
        }
        batch_invert(s);
        for (x, root) in s.iter_mut().zip(roots) {
            *x = if bool::from(x.is_zero()) {
                Fr::ONE
            } else {
                multiplier * root * *x
            };
        }
    });

    let g2 = G2Affine::generator();
    let s_g2 = (g2 * tau).to_affine();
    // halo2-axiom 0.5 builds parameters from given points only through an existing value.
    ParamsKZG::<Bn256>::setup(0, ChaCha20Rng::from_seed([0; 32])).from_parts(
        k,
        g,
        Some(g_lagrange),
        g2,
        s_g2,
    )
}

/// A policy predicate of the statement that a report fails, found natively (no circuit): see
/// [`check_policy`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The report is shorter than its signed part.
    #[error("the report is shorter than its signed part (0x2A0 bytes)")]
    TooShort,
    /// REPORT_DATA is not the relying party's value.
    #[error("REPORT_DATA is not the expected value (the nonce zero-padded to 64 bytes)")]
    ReportData,
    /// REPORTED_TCB is not the public value claimed for it.
    #[error("REPORTED_TCB is not the value claimed in the public inputs")]
    ReportedTcb,
    /// The report was requested at another VMPL.
    #[error("VMPL {found} is not the required VMPL {required}")]
    Vmpl {
        /// The report's VMPL.
        found: u32,
        /// The policy's.
        required: u8,
    },
    /// POLICY.DEBUG is set.
    #[error("the guest policy allows debugging (POLICY bit 19)")]
    Debug,
    /// A byte of REPORTED_TCB is below the policy's minimum.
    #[error("REPORTED_TCB byte {index} is {reported}, below the policy's minimum {required}")]
    TcbTooLow {
        /// Which byte (0 = boot loader on Milan/Genoa, FMC on Turin; 7 = microcode).
        index: usize,
        /// The report's value.
        reported: u8,
        /// The policy's minimum.
        required: u8,
    },
    /// MEASUREMENT is not in the allowlist.
    #[error("MEASUREMENT is not in the policy's allowlist")]
    Measurement,
}

impl Violation {
    /// A short snake_case name of the failed check (for `rejected: <check>: …` lines).
    pub fn check(&self) -> &'static str {
        match self {
            Self::TooShort => "report_length",
            Self::ReportData => "report_data",
            Self::ReportedTcb => "reported_tcb",
            Self::Vmpl { .. } => "vmpl",
            Self::Debug => "debug",
            Self::TcbTooLow { .. } => "min_tcb",
            Self::Measurement => "measurement",
        }
    }
}

/// Offsets of the fields the policy constrains (the same as the circuit's, [`crate::statement`]).
const POLICY: usize = 0x008;
const VMPL: usize = 0x030;
const REPORT_DATA: usize = 0x050;
const MEASUREMENT: usize = 0x090;
const REPORTED_TCB: usize = 0x180;

/// Checks natively the policy predicates the circuit constrains — everything but the hash and
/// the signature (which the caller can check natively with the VEK, as `shomei-snp` does) — so
/// that a prover learns in microseconds, and with the predicate named, what would otherwise
/// make minutes of proving end in [`Error::Unsatisfied`].
///
/// # Errors
/// The first predicate the report fails.
pub fn check_policy(report: &[u8], public: &PublicInputs) -> Result<(), Violation> {
    let field = |at: usize, len: usize| report.get(at..at + len).ok_or(Violation::TooShort);
    if report.len() < SIGNED_LEN {
        return Err(Violation::TooShort);
    }
    if field(REPORT_DATA, 64)? != public.report_data {
        return Err(Violation::ReportData);
    }
    let tcb = field(REPORTED_TCB, 8)?;
    if tcb != public.reported_tcb {
        return Err(Violation::ReportedTcb);
    }
    let vmpl = field(VMPL, 4)?
        .iter()
        .rev()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    if vmpl != u32::from(public.policy.vmpl) {
        return Err(Violation::Vmpl {
            found: vmpl,
            required: public.policy.vmpl,
        });
    }
    if field(POLICY + 2, 1)?.iter().any(|b| b & 0x08 != 0) {
        return Err(Violation::Debug);
    }
    for (index, (reported, required)) in tcb.iter().zip(public.policy.min_tcb).enumerate() {
        if *reported < required {
            return Err(Violation::TcbTooLow {
                index,
                reported: *reported,
                required,
            });
        }
    }
    let m = field(MEASUREMENT, 48)?;
    if !public.policy.measurements.iter().any(|a| a == m) {
        return Err(Violation::Measurement);
    }
    Ok(())
}

/// Builds the statement circuit's witness for `report` and `public` without committing to it:
/// the part of proving that evaluates the circuit (single-threaded in halo2-base), for
/// benchmarks. Returns the number of advice cells.
///
/// # Errors
/// [`Error::Input`] for a malformed report or public inputs.
pub fn generate_witness(report: &[u8], public: &PublicInputs) -> Result<usize, Error> {
    let k = usize::try_from(K).map_err(|_| Error::Input("k"))?;
    let mut builder = BaseCircuitBuilder::<Fr>::new(true)
        .use_k(k)
        .use_lookup_bits(k - 1)
        .use_instance_columns(1);
    let range = builder.range_chip();
    let ctx = builder.main(0);
    synthesize(&range, ctx, report, public)?;
    Ok(ctx.advice.len())
}

/// A fixed witness of the right shape, used to derive the circuit's keys.
fn dummy() -> Result<(Vec<u8>, PublicInputs), Error> {
    let (x, y) = Point::GENERATOR
        .coordinates()
        .ok_or(Error::Circuit("generator"))?;
    let public = PublicInputs {
        vek: crate::statement::vek_from_coordinates(&x, &y),
        report_data: [0; 64],
        reported_tcb: [0; 8],
        policy: ZkPolicy {
            measurements: vec![[0; 48]],
            min_tcb: [0; 8],
            vmpl: 0,
        },
    };
    Ok((vec![0u8; 0x4A0], public))
}

fn keygen_builder(k: u32) -> Result<BaseCircuitBuilder<Fr>, Error> {
    let (report, public) = dummy()?;
    let k_rows = usize::try_from(k).map_err(|_| Error::Input("k"))?;
    let mut builder = BaseCircuitBuilder::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k_rows)
        .use_lookup_bits(k_rows - 1)
        .use_instance_columns(1);
    let range = builder.range_chip();
    let cells = synthesize(&range, builder.main(0), &report, &public)?;
    builder.assigned_instances = vec![cells];
    builder.calculate_params(Some(BLINDING_ROWS));
    Ok(builder)
}

/// What the verifier needs: the parameters and the verifying key.
#[derive(Clone, Debug)]
pub struct VerifyingKeys {
    srs: Srs,
    vk: VerifyingKey<G1Affine>,
    config: BaseCircuitParams,
}

impl VerifyingKeys {
    /// Derives the verifying key for the statement circuit from `srs`.
    ///
    /// # Errors
    /// [`Error::Backend`] if halo2's key generation fails (for example parameters too small).
    pub fn generate(srs: Srs) -> Result<Self, Error> {
        let builder = keygen_builder(srs.k())?;
        let vk = keygen_vk(&srs.0, &builder).map_err(backend("keygen_vk"))?;
        let config = builder.config_params.clone();
        Ok(Self { srs, vk, config })
    }
}

/// Appends a `usize` as a little-endian `u32`.
fn put(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes());
}

/// Reads a little-endian `u32` as a `usize`.
fn take(bytes: &mut &[u8]) -> Result<usize, Error> {
    let (head, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(Error::Input("truncated verifying key"))?;
    *bytes = rest;
    usize::try_from(u32::from_le_bytes(*head)).map_err(|_| Error::Input("verifying key field"))
}

/// The circuit layout, in a small fixed binary form (it sizes the verifying key's columns).
fn encode_config(c: &BaseCircuitParams, out: &mut Vec<u8>) {
    put(out, c.k);
    put(out, c.num_advice_per_phase.len());
    c.num_advice_per_phase.iter().for_each(|v| put(out, *v));
    put(out, c.num_fixed);
    put(out, c.num_lookup_advice_per_phase.len());
    c.num_lookup_advice_per_phase
        .iter()
        .for_each(|v| put(out, *v));
    put(out, c.lookup_bits.map_or(0, |b| b + 1));
    put(out, c.num_instance_columns);
}

fn decode_config(bytes: &mut &[u8]) -> Result<BaseCircuitParams, Error> {
    // Bounded: a layout has at most three phases.
    let vec = |bytes: &mut &[u8]| -> Result<Vec<usize>, Error> {
        let n = take(bytes)?;
        if n > 3 {
            return Err(Error::Input("verifying key: too many phases"));
        }
        (0..n).map(|_| take(bytes)).collect()
    };
    let k = take(bytes)?;
    let num_advice_per_phase = vec(bytes)?;
    let num_fixed = take(bytes)?;
    let num_lookup_advice_per_phase = vec(bytes)?;
    let lookup_bits = take(bytes)?.checked_sub(1);
    let num_instance_columns = take(bytes)?;
    Ok(BaseCircuitParams {
        k,
        num_advice_per_phase,
        num_fixed,
        num_lookup_advice_per_phase,
        lookup_bits,
        num_instance_columns,
    })
}

impl VerifyingKeys {
    /// The verifying key (with the circuit layout it needs), for publishing next to the SRS so
    /// that verifiers skip key generation.
    pub fn vk_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_config(&self.config, &mut out);
        // Writing into a Vec cannot fail.
        let _ = self.vk.write(&mut out, SerdeFormat::RawBytes);
        out
    }

    /// Reads a verifying key written by [`Self::vk_bytes`] for use with `srs`.
    ///
    /// # Errors
    /// [`Error::Input`] if the bytes are not such a key.
    pub fn from_vk_bytes(srs: Srs, mut bytes: &[u8]) -> Result<Self, Error> {
        let config = decode_config(&mut bytes)?;
        let vk = VerifyingKey::<G1Affine>::read::<_, BaseCircuitBuilder<Fr>>(
            &mut bytes,
            SerdeFormat::RawBytes,
            config.clone(),
        )
        .map_err(|_| Error::Input("not a verifying key"))?;
        Ok(Self { srs, vk, config })
    }
}

/// What the prover needs: the parameters, the proving key and the circuit's layout.
#[derive(Debug)]
pub struct ProvingKeys {
    srs: Srs,
    pk: ProvingKey<G1Affine>,
    config: BaseCircuitParams,
    break_points: MultiPhaseThreadBreakPoints,
}

impl ProvingKeys {
    /// Derives the proving key for the statement circuit from `srs`.
    ///
    /// # Errors
    /// [`Error::Backend`] if halo2's key generation fails.
    pub fn generate(srs: Srs) -> Result<Self, Error> {
        let builder = keygen_builder(srs.k())?;
        // One synthesis for both keys (keygen_vk then keygen_pk would lay the circuit out twice);
        // the verifying key is the one `keygen_vk` derives (same assembly, same commitments,
        // uncompressed selectors): tests/keygen.rs.
        let pk = keygen_pk2(&srs.0, &builder, false).map_err(backend("keygen_pk"))?;
        let config = builder.config_params.clone();
        let break_points = builder.break_points();
        Ok(Self {
            srs,
            pk,
            config,
            break_points,
        })
    }

    /// The matching verifier keys.
    pub fn verifying_keys(&self) -> VerifyingKeys {
        VerifyingKeys {
            srs: self.srs.clone(),
            vk: self.pk.get_vk().clone(),
            config: self.config.clone(),
        }
    }

    /// Proves that `report` (its signed part and signature) satisfies the statement with
    /// `public`. The proof is checked before it is returned.
    ///
    /// # Errors
    /// [`Error::Input`] for a malformed report or public inputs; [`Error::Unsatisfied`] when the
    /// report does not satisfy the statement (wrong key, bad signature, policy violated);
    /// [`Error::Backend`] if halo2 fails.
    pub fn prove(&self, report: &[u8], public: &PublicInputs) -> Result<Vec<u8>, Error> {
        let (builder, instances) = self.witness(report, public)?;
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            Challenge255<G1Affine>,
            _,
            Blake2bWrite<Vec<u8>, G1Affine, Challenge255<G1Affine>>,
            _,
        >(
            &self.srs.0,
            &self.pk,
            &[builder],
            &[&[&instances]],
            OsRng,
            &mut transcript,
        )
        .map_err(backend("create_proof"))?;
        self.checked(transcript.finalize(), public)
    }

    /// The circuit with its witness for `report`, and the instance column, after checking that
    /// the witness's public cells are `public` (else [`Error::Unsatisfied`]).
    fn witness(
        &self,
        report: &[u8],
        public: &PublicInputs,
    ) -> Result<(BaseCircuitBuilder<Fr>, Vec<Fr>), Error> {
        if report.len() < SIGNED_LEN {
            return Err(Error::Input("report too short"));
        }
        let instances = public.instances()?;
        // Minutes of proving saved when a policy predicate fails (the hash and the signature
        // are left to the circuit).
        check_policy(report, public).map_err(|_| Error::Unsatisfied)?;
        let mut builder =
            BaseCircuitBuilder::prover(self.config.clone(), self.break_points.clone());
        let range = builder.range_chip();
        let cells = synthesize(&range, builder.main(0), report, public)?;
        if cells
            .iter()
            .map(|c| *c.value())
            .ne(instances.iter().copied())
        {
            return Err(Error::Unsatisfied);
        }
        builder.assigned_instances = vec![cells];
        Ok((builder, instances))
    }

    /// Returns `proof` once it verifies. The prover does not check constraints; an unsatisfied
    /// witness yields a proof that does not verify, reported as [`Error::Unsatisfied`].
    fn checked(&self, proof: Vec<u8>, public: &PublicInputs) -> Result<Vec<u8>, Error> {
        verify(&self.verifying_keys(), &proof, public).map_err(|e| match e {
            Error::Rejected => Error::Unsatisfied,
            other => other,
        })?;
        Ok(proof)
    }
}

/// Checks `proof` against `public`.
///
/// # Errors
/// [`Error::Rejected`] if the proof does not verify for these public inputs; [`Error::Input`]
/// for malformed public inputs.
pub fn verify(keys: &VerifyingKeys, proof: &[u8], public: &PublicInputs) -> Result<(), Error> {
    let instances = public.instances()?;
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(proof);
    let verifier_params = keys.srs.0.verifier_params();
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        Blake2bRead<&[u8], G1Affine, Challenge255<G1Affine>>,
        SingleStrategy<'_, Bn256>,
    >(
        verifier_params,
        &keys.vk,
        SingleStrategy::new(&keys.srs.0),
        &[&[&instances]],
        &mut transcript,
    )
    .map_err(|_| Error::Rejected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::statement::tests::signed_report;
    use std::time::Instant;

    #[test]
    fn check_policy_names_each_failed_predicate() {
        let (report, public, _) = signed_report(5);
        assert_eq!(check_policy(&report, &public), Ok(()));
        assert_eq!(
            check_policy(&report[..SIGNED_LEN - 1], &public),
            Err(Violation::TooShort)
        );
        let mut p = public.clone();
        p.report_data[63] ^= 1;
        assert_eq!(check_policy(&report, &p), Err(Violation::ReportData));
        let mut p = public.clone();
        p.reported_tcb[0] ^= 1;
        assert_eq!(check_policy(&report, &p), Err(Violation::ReportedTcb));
        let mut p = public.clone();
        p.policy.vmpl = 2;
        assert_eq!(
            check_policy(&report, &p),
            Err(Violation::Vmpl {
                found: 0,
                required: 2
            })
        );
        let mut r = report.clone();
        r[0x0A] |= 0x08; // POLICY bit 19
        assert_eq!(check_policy(&r, &public), Err(Violation::Debug));
        let mut r = report.clone();
        r[0x0A] |= 0xF7; // every other bit of that byte: not DEBUG
        assert_eq!(check_policy(&r, &public), Ok(()));
        let mut p = public.clone();
        p.policy.min_tcb[7] = 116; // the report's microcode byte is 115
        assert_eq!(
            check_policy(&report, &p),
            Err(Violation::TcbTooLow {
                index: 7,
                reported: 115,
                required: 116
            })
        );
        let mut p = public.clone();
        p.policy.measurements.pop();
        assert_eq!(check_policy(&report, &p), Err(Violation::Measurement));
    }

    #[test]
    #[ignore = "real KZG proof at k = 20: minutes and several GB; cargo test -p shomei-zk --release -- --ignored real_proof --nocapture"]
    fn real_proof_verifies_and_binds_its_public_inputs() {
        let t = Instant::now();
        let srs = Srs::insecure_local(K, [7; 32]);
        eprintln!("srs k={K}: {:?}", t.elapsed());
        let t = Instant::now();
        let keys = ProvingKeys::generate(srs).unwrap();
        eprintln!("keygen (vk + pk): {:?}", t.elapsed());
        let (report, public, _) = signed_report(61);
        let t = Instant::now();
        let proof = keys.prove(&report, &public).unwrap();
        eprintln!(
            "prove (incl. one verification): {:?}, proof {} bytes",
            t.elapsed(),
            proof.len()
        );
        let vkeys = keys.verifying_keys();
        let vkeys = VerifyingKeys::from_vk_bytes(vkeys.srs.clone(), &vkeys.vk_bytes()).unwrap();
        let t = Instant::now();
        verify(&vkeys, &proof, &public).unwrap();
        eprintln!("verify: {:?}", t.elapsed());
        // Other public inputs: refused.
        let mut other = public.clone();
        other.report_data[0] ^= 1;
        assert_eq!(verify(&vkeys, &proof, &other), Err(Error::Rejected));
        let mut other = public.clone();
        other.policy.min_tcb[7] = 0;
        assert_eq!(verify(&vkeys, &proof, &other), Err(Error::Rejected));
        // A report that violates the statement cannot be proven.
        let mut bad = report.clone();
        bad[0xC0] ^= 1;
        assert_eq!(keys.prove(&bad, &public), Err(Error::Unsatisfied));
    }
}

// The verifier's file (verifying key + the three SRS points verification reads):
// `VerifyingKeys::{to_bytes, from_bytes}` in `prove/verifier_file.rs`.
mod verifier_file;
pub use verifier_file::VERIFIER_FILE_MAGIC;
