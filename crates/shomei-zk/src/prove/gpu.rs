//! The CUDA prover (feature `gpu`): the same circuit, proving key, transcript and proof format
//! as [`ProvingKeys::prove`], with the multi-scalar multiplications, NTTs and quotient
//! evaluation on an NVIDIA GPU through `halo2-axiom-gpu` (crates.io). That crate takes
//! `halo2-axiom`'s keys and circuit types as they are, so keys generated on the CPU serve both
//! provers and a GPU proof verifies with the ordinary [`super::verify`] (and is checked with it
//! before it is returned).
//!
//! Building it needs CUDA's `nvcc` (the crate compiles its kernels in its build script); running
//! it needs the CUDA runtime and an NVIDIA GPU. Neither is needed for the rest of the crate, so
//! the feature is off by default and CI never builds it.

use halo2_axiom_gpu::plonk::create_proof;
use halo2_axiom_gpu::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_axiom_gpu::poly::kzg::multiopen::ProverSHPLONK;

use super::{
    Blake2bWrite, Bn256, Challenge255, Error, G1Affine, OsRng, ProvingKeys, SerdeFormat,
    TranscriptWriterBuffer,
};
use crate::statement::PublicInputs;

/// The KZG parameters in the GPU prover's own type (it keeps device-side caches in it, so build
/// it once and prove many times with it).
#[derive(Debug)]
pub struct GpuParams(ParamsKZG<Bn256>);

impl ProvingKeys {
    /// The parameters for [`ProvingKeys::prove_gpu`]: the same points as this key's SRS, moved
    /// into the GPU prover's type through halo2's raw format.
    ///
    /// # Errors
    /// [`Error::Backend`] if the GPU crate does not read the parameters back.
    pub fn gpu_params(&self) -> Result<GpuParams, Error> {
        let bytes = self.srs.to_bytes();
        ParamsKZG::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
            .map(GpuParams)
            .map_err(|e| Error::Backend {
                stage: "gpu params",
                detail: e.to_string(),
            })
    }

    /// [`ProvingKeys::prove`] on the GPU. `params` must come from [`ProvingKeys::gpu_params`] of
    /// this key.
    ///
    /// # Errors
    /// As [`ProvingKeys::prove`]; a CUDA failure (no device, out of memory) is
    /// [`Error::Backend`].
    pub fn prove_gpu(
        &self,
        params: &GpuParams,
        report: &[u8],
        public: &PublicInputs,
    ) -> Result<Vec<u8>, Error> {
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
            &params.0,
            &self.pk,
            &[builder],
            &[&[&instances]],
            OsRng,
            &mut transcript,
        )
        .map_err(|e| Error::Backend {
            stage: "gpu create_proof",
            detail: format!("{e:?}"),
        })?;
        self.checked(transcript.finalize(), public)
    }
}
