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
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::{
    ProvingKey, VerifyingKey, create_proof, keygen_pk, keygen_vk, verify_proof,
};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};

use crate::Error;
use crate::curve::Point;
use crate::statement::{PublicInputs, SIGNED_LEN, ZkPolicy, synthesize};

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
    pub fn insecure_local(k: u32, seed: [u8; 32]) -> Self {
        Self(ParamsKZG::setup(k, ChaCha20Rng::from_seed(seed)))
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
        let vk = keygen_vk(&srs.0, &builder).map_err(backend("keygen_vk"))?;
        let pk = keygen_pk(&srs.0, vk, &builder).map_err(backend("keygen_pk"))?;
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
        if report.len() < SIGNED_LEN {
            return Err(Error::Input("report too short"));
        }
        let instances = public.instances()?;
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
        let proof = transcript.finalize();
        // The prover does not check constraints; an unsatisfied witness yields a proof that
        // does not verify.
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
