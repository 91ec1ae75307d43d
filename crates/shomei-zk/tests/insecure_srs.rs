//! `Srs::insecure_local` (fixed-base table) against halo2-axiom's own `ParamsKZG::setup` with the
//! same seed, byte for byte, and a real KZG proof of a small circuit under it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::halo2_proofs::SerdeFormat;
use halo2_base::halo2_proofs::arithmetic::g_to_lagrange;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof};
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use shomei_zk::prove::Srs;

fn params(srs: &Srs) -> ParamsKZG<Bn256> {
    ParamsKZG::read_custom(&mut srs.to_bytes().as_slice(), SerdeFormat::RawBytes).unwrap()
}

#[test]
fn insecure_srs_equals_halo2_setup_with_the_same_seed() {
    for (k, seed) in [
        (1, [0u8; 32]),
        (4, [7; 32]),
        (6, [1; 32]),
        (8, [0xA5; 32]),
        (10, [3; 32]),
    ] {
        let ours = Srs::insecure_local(k, seed);
        let theirs = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(seed));
        let mut expected = Vec::new();
        theirs
            .write_custom(&mut expected, SerdeFormat::RawBytesUnchecked)
            .unwrap();
        assert_eq!(ours.k(), k);
        assert!(
            ours.to_bytes() == expected,
            "k = {k}: differs from ParamsKZG::setup"
        );
    }
    // Another seed, other parameters.
    assert_ne!(
        Srs::insecure_local(6, [1; 32]).to_bytes(),
        Srs::insecure_local(6, [2; 32]).to_bytes()
    );
}

#[test]
fn insecure_srs_lagrange_points_match_the_group_fft_at_k_12() {
    // Too slow to compare with setup in debug; halo2's own FFT of the monomial points instead.
    let k = 12;
    let p = params(&Srs::insecure_local(k, [9; 32]));
    let g: Vec<_> = p.get_g().iter().map(PrimeCurveAffine::to_curve).collect();
    let lagrange: Vec<G1Affine> = g_to_lagrange(g, k);
    let from_fft = p.from_parts(k, p.get_g().to_vec(), Some(lagrange), p.g2(), p.s_g2());
    let bytes = |q: &ParamsKZG<Bn256>| {
        let mut out = Vec::new();
        q.write_custom(&mut out, SerdeFormat::RawBytesUnchecked)
            .unwrap();
        out
    };
    assert!(bytes(&p) == bytes(&from_fft));
    // The G2 side carries the same τ: e(τ·G1, G2) = e(G1, τ·G2).
    use halo2_base::halo2_proofs::halo2curves::pairing::Engine;
    let g1 = p.get_g();
    assert_eq!(
        Bn256::pairing(&g1[1], &p.g2()),
        Bn256::pairing(&g1[0], &p.s_g2())
    );
}

/// A small circuit (`a · b + c = out`, `out` public, 2^8 rows) proved and verified under the
/// fast parameters; a wrong public input is refused.
#[test]
fn small_circuit_proves_and_verifies_under_the_insecure_srs() {
    let k = 8usize;
    let srs = Srs::insecure_local(8, *b"small circuit under the fast SRS");
    let params = params(&srs);
    // out = a · x + c, `out` public.
    let fill = |b: &mut BaseCircuitBuilder<Fr>, inputs: [u64; 3]| {
        let gate = b.range_chip().gate().clone();
        let ctx = b.main(0);
        let [a, x, c] = inputs.map(|v| ctx.load_witness(Fr::from(v)));
        let out = gate.mul_add(ctx, a, x, c);
        b.assigned_instances = vec![vec![out]];
    };
    let mut keygen = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k)
        .use_lookup_bits(k - 1)
        .use_instance_columns(1);
    fill(&mut keygen, [0, 0, 0]);
    let config = keygen.calculate_params(Some(9));
    let vk = keygen_vk(&params, &keygen).unwrap();
    let pk = keygen_pk(&params, vk, &keygen).unwrap();
    let mut prover =
        BaseCircuitBuilder::<Fr>::prover(config, keygen.break_points()).use_instance_columns(1);
    fill(&mut prover, [6, 7, 5]);
    let public = [Fr::from(47)];
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        &params,
        &pk,
        &[prover],
        &[&[&public]],
        OsRng,
        &mut transcript,
    )
    .unwrap();
    let proof = transcript.finalize();

    let check = |public: &[Fr]| {
        let mut t = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(proof.as_slice());
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            params.verifier_params(),
            pk.get_vk(),
            SingleStrategy::new(&params),
            &[&[public]],
            &mut t,
        )
        .is_ok()
    };
    assert!(check(&public), "a true statement verifies");
    assert!(!check(&[Fr::from(48)]), "another public input is refused");
}

/// The statement circuit's size: timed, and checked without halo2's (minutes-long) setup: the
/// pairing links consecutive powers, and the Lagrange points sum to G (Σ L_i = 1).
#[test]
#[ignore = "2^20 points: about a minute in release; cargo test -p shomei-zk --release --test insecure_srs -- --ignored --nocapture"]
fn insecure_srs_at_k_20_is_consistent() {
    use halo2_base::halo2_proofs::halo2curves::ff::Field;
    use halo2_base::halo2_proofs::halo2curves::pairing::Engine;
    use halo2_base::halo2_proofs::poly::EvaluationDomain;
    use halo2_base::halo2_proofs::poly::commitment::{Blind, Params};
    let t = std::time::Instant::now();
    let srs = Srs::insecure_local(shomei_zk::prove::K, [7; 32]);
    eprintln!("Srs::insecure_local(20): {:?}", t.elapsed());
    let p = params(&srs);
    let g = p.get_g();
    assert_eq!(g.len(), 1 << 20);
    for i in [0, 1, 12_345, (1 << 20) - 2] {
        assert_eq!(
            Bn256::pairing(&g[i + 1], &p.g2()),
            Bn256::pairing(&g[i], &p.s_g2()),
            "power {i}"
        );
    }
    // Σ L_i(τ) = 1 and Σ ω^i L_i(τ) = τ, with ω from halo2's own evaluation domain.
    let domain = EvaluationDomain::<Fr>::new(3, shomei_zk::prove::K);
    let ones = domain.lagrange_from_vec(vec![Fr::ONE; 1 << 20]);
    let omega = domain.get_omega();
    let mut powers = Vec::with_capacity(1 << 20);
    let mut w = Fr::ONE;
    for _ in 0..1 << 20 {
        powers.push(w);
        w *= omega;
    }
    let powers = domain.lagrange_from_vec(powers);
    assert_eq!(
        G1Affine::from(p.commit_lagrange(&ones, Blind::default())),
        G1Affine::generator()
    );
    assert_eq!(
        G1Affine::from(p.commit_lagrange(&powers, Blind::default())),
        g[1]
    );
}
