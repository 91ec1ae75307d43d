//! Trustless SEV-SNP verification: a halo2 (PLONK, KZG on BN254) zero-knowledge proof that an
//! SEV-SNP report, signed by a VEK with ECDSA P-384 over SHA-384 of its first 0x2A0 bytes
//! **computed in the circuit**, satisfies a policy — without revealing the report.
//!
//! # The statement (hybrid design)
//!
//! "There is a report R and a signature (r, s) such that ECDSA-P384-Verify(K, SHA-384(R[0..0x2A0]),
//! (r, s)) holds, POLICY.DEBUG = 0, VMPL = v, REPORTED_TCB ≥ the minimum byte by byte,
//! MEASUREMENT is in the allowlist and REPORT_DATA = the relying party's value." Public (the
//! instance, [`statement`] lists its layout): K, REPORT_DATA, REPORTED_TCB and a Poseidon
//! **commitment to the policy** (v, the minimum TCB and an allowlist of up to
//! [`statement::MAX_MEASUREMENTS`] measurements, [`statement::ZkPolicy::commitment`]), which the
//! relying party recomputes from the policy it holds. Hidden: the rest of R, the signature, and
//! the policy's values themselves inside the proof. The relying party verifies ARK → ASK → VCEK
//! natively (with `shomei-snp`, public data) and passes that VCEK's key as K, so the proof is
//! bound to a genuine AMD key; it checks REPORTED_TCB against the VCEK's TCB and its own
//! freshness data. Proving the chain once per chip (so that K can be hidden behind a commitment)
//! is not done yet.
//!
//! Proving runs on the CPU, or on an NVIDIA GPU with the `gpu` feature
//! (`ProvingKeys::prove_gpu`, through the crates.io CUDA prover `halo2-axiom-gpu`: same
//! keys, same proofs, about 2.3 s on an H100 against 30–40 s on its 16 CPU cores;
//! PERFORMANCE.md).

//! # What is here, bottom up
//!
//! | module | what | tests |
//! |---|---|---|
//! | [`field`] | P-384 base and scalar fields (384-bit Montgomery), `ff::PrimeField` + halo2-base `ScalarField`/`BigPrimeField` | against `num-bigint` and RustCrypto `p384` on random inputs; every constant recomputed |
//! | [`curve`] | native affine P-384 (a = −3): witness generation, constants | against `p384` on random scalars |
//! | [`nonnative`] | arithmetic mod a 384-bit prime in the circuit (why not halo2-ecc's `FpChip`: see there) | random ops vs native; wrong product, unreduced value, zero inverse rejected |
//! | [`ecc`] | a = −3 doubling, strict addition, `u1·G + u2·Q` (joint 2-bit windows, offset point) | random points vs native; off-curve, P+P, wrong slope rejected |
//! | [`ecdsa`] | ECDSA P-384 verification | RustCrypto signatures verify; wrong digest, key, r, s, s = 0 rejected |
//! | [`sha384`] | SHA-384 of a fixed-length byte message | vs `sha2` (1, 2 and 6 blocks); wrong digest claim, byte ≥ 256 rejected |
//! | [`statement`] | the whole statement, its public inputs and the Poseidon policy commitment | each policy predicate broken by a violating report; a policy witness other than the committed one rejected; the commitment canonical (order, repeats) and changed by every policy field; a full 32-entry allowlist; tampered byte, other key, re-signed debug report rejected; real Milan v2 / Turin v5 reports with their VCEKs (tests/real_vectors.rs) |
//! | [`prove`] | keys, `prove`, `verify` (SHPLONK, Blake2b transcript) | real proof verifies, other public inputs rejected, unsatisfying report refused |
//!
//! halo2-base 0.5 (crates.io) provides the gates, range lookups and circuit builder.
//! halo2-ecc 0.5 is **not** a dependency: its `FpChip` cannot multiply 384-bit elements over
//! BN254 and its curve chip assumes a = 0 (details in [`nonnative`]), so the non-native field,
//! the curve arithmetic and ECDSA are our own.
//!
//! # Measured (this 2-core machine, shared with other builds; release mode)
//!
//! | circuit | advice cells | k | columns (advice + lookup) | MockProver |
//! |---|---|---|---|---|
//! | ECDSA P-384 verification | 1.49 M | 19 | 3 + 1 | ~7 s |
//! | SHA-384, one 128-byte block | 0.54 M | 17 | 5 + 0 | — |
//! | SHA-384 of 672 bytes (6 blocks) | 3.27 M | 20 | 4 + 0 | ~12 s, 1.6 GB |
//! | full statement | 4.72 M | 20 | 5 + 1 | ~16 s per case, 2.5 GB |
//!
//! Real proof of the full statement (k = 20, insecure local SRS), measured once with the machine
//! heavily shared (load average 4–6 on 2 cores while other engineers built), so an idle machine
//! should do noticeably better:
//!
//! | step | time | note |
//! |---|---|---|
//! | SRS generation (`Srs::insecure_local`, 2^20) | 437 s; **13–26 s** since | once; production loads a ceremony file instead. Now the same bytes as halo2's `ParamsKZG::setup` from a fixed-base table (≤ 32 mixed additions per point instead of a scalar multiplication; tests/insecure_srs.rs): 12.7–15.9 s at load average 1–2, 24.1–25.8 s at 3–9 |
//! | keygen (vk + pk) | 110 s; 39 s since | once per SRS; the verifier needs only the vk. Now one circuit layout for both keys (halo2's `keygen_pk2`; the vk is byte-identical to `keygen_vk`'s, tests/keygen.rs): 38.7 s at load average 1–2, where `keygen_vk` alone takes 31 s |
//! | prove (with its own verification) | 247 s | goal ≤ 120 s: missed under this load; 109 s in the CLI run below |
//! | proof size | 2,304 bytes | goal ≤ 10 KB: met |
//! | verify | 4.4 ms | goal ≤ 20 ms: met |
//! | peak memory (whole test: SRS, keys, two proofs) | 4.5–5.0 GB | a second run: SRS 418 s, keygen 88 s, prove 221 s |
//!
//! The same through the CLI on the real reports, with the SRS cached (`--srs F`), on a less
//! loaded machine (load average about 3):
//!
//! | report | proving key | prove (with its own verification) | proof | verify (`zk verify`: SRS load + vk + chain + proof) | peak memory |
//! |---|---|---|---|---|---|
//! | Milan v2 | 49 s | 109 s | 2,304 B | 33 s total, of which the proof check 4.4 ms | 3.9 GB (prove), 2.8 GB (verify) |
//! | Turin v5 | 8.5 min in all, including 4 min to generate the SRS | | 2,304 B | 54 s total | 3.9 GB |
//!
//! With the verifying key cached (`--vk F`, 1,010 bytes), `zk verify` takes 0.8 s wall and
//! 0.7 GB, nearly all of it reading the 134 MB SRS file; the proof check itself is 4–5 ms.
//!
//! On a GPU (the `gpu` feature, NVIDIA H100): 2.3–2.5 s per proof against 34 s on that machine's
//! 16 CPU cores and 141 s on two of them (PERFORMANCE.md).
//!
//! # Command line
//!
//! `shomei zk prove REPORT --vcek F --policy F --nonce HEX -o PROOF [--srs F]` and
//! `shomei zk verify PROOF --policy F --nonce HEX [--vcek F] [--certs F] [--at T] [--srs F]
//! [--vk F]`
//! (`crates/shomei-cli/src/zk.rs`). The policy is TOML: `measurements = ["96 hex", …]` (1 to
//! [`statement::MAX_MEASUREMENTS`]), `min_tcb = "16 hex"` (per byte of REPORTED_TCB) and
//! `vmpl = 0`; REPORT_DATA must equal the nonce zero-padded to 64 bytes. With `--vcek`, `verify`
//! checks the VCEK's chain to AMD's built-in roots natively, that its key is the proof's key and
//! that its TCB is the proof's REPORTED_TCB. Without `--srs` both use built-in INSECURE
//! parameters (warned on stderr); `--srs F` caches them in F when F does not exist, and
//! `--vk F` likewise caches the verifying key ([`prove::VerifyingKeys::vk_bytes`]).
//!
//! # Done since the first version
//!
//! - The policy is private and committed (Poseidon), so allowlists hold up to
//!   [`statement::MAX_MEASUREMENTS`] = 32 entries at the cost of one public element.
//! - A "proof" evidence type: `shomei-verifier`'s `Evidence::SnpProof`, accepted by the service
//!   as `{"family": "snp_proof"}` with `[zk] verifier` configured.
//! - The verifier's part of the SRS only: [`prove::VerifyingKeys::to_bytes`] (1.4 KB: the
//!   verifying key, `g[0]`, `g2`, `s_g2`), `shomei zk setup --verifier-out F`.
//! - `shomei bench zk` (SRS, keys, witness, proof, size, verification median and peak memory
//!   against the goals and same-run baselines; PERFORMANCE.md) and the CLI tests
//!   `crates/shomei-cli/tests/zk_cli.rs`, which prove both real reports once per run.
//! - The CUDA prover (`gpu` feature, `shomei zk prove --gpu` in a CLI built with
//!   `--features gpu`), measured on an H100: PERFORMANCE.md.
//!
//! # Not done yet
//!
//! - Proving takes 104 s on this 2-core machine when both cores are free, 141 s on two idle Xeon
//!   cores and 200–250 s when the machine is shared (goal ≤ 120 s): the SHA-384 gadget (3.3 M of
//!   the 4.7 M cells) does its boolean functions and 64-bit additions bit by bit on the basic
//!   gate; a spread-table (lookup) SHA-512 and fewer carry range checks in
//!   `nonnative::FieldChip384::assert_zero_mod` are the next optimisations.
//! - The chain-once proof (ARK → ASK → VCEK in the circuit, K hidden behind a commitment): RSA-4096
//!   PSS signatures in the circuit.
//! - The relying party's policy commitment is computed by running halo2-base's Poseidon gadget for
//!   its values (~4 ms); a native Poseidon would make it microseconds.

//! # Tests
//!
//! Fast (seconds, debug or release): `cargo test -p shomei-zk`. The full-size circuits are
//! `#[ignore]`d: `cargo test -p shomei-zk --release -- --ignored` (about 5 minutes of mock
//! proving, plus the real proof and a 2^20 SRS checked by pairings and Lagrange sums). The
//! command line on the real reports, real proofs included: `cargo test --release -p shomei-cli
//! --test zk_cli` (two proofs, run side by side: 4.8 minutes at load average 1.5–4; the tests
//! that need no proof also run in debug).

pub mod curve;
pub mod ecc;
pub mod ecdsa;
pub mod field;
pub mod nonnative;
pub mod prove;
pub mod sha384;
pub mod statement;

/// What can go wrong building or proving a circuit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A gadget was called with inputs of the wrong shape (a bug in the caller).
    #[error("circuit construction: {0}")]
    Circuit(&'static str),
    /// The report, key or public inputs are malformed (before any constraint is checked).
    #[error("invalid input: {0}")]
    Input(&'static str),
    /// The report does not satisfy the statement (bad signature, other key, policy violated):
    /// no valid proof exists.
    #[error("the report does not satisfy the statement")]
    Unsatisfied,
    /// The proof does not verify for these public inputs.
    #[error("the proof does not verify")]
    Rejected,
    /// The proving system failed.
    #[error("halo2 {stage} failed: {detail}")]
    Backend {
        /// Which step.
        stage: &'static str,
        /// halo2's message.
        detail: String,
    },
}

#[cfg(test)]
pub(crate) mod testing {
    //! MockProver harness for the gadget tests.
    #![allow(clippy::unwrap_used)]
    use halo2_base::Context;
    use halo2_base::gates::RangeChip;
    use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
    use halo2_base::halo2_proofs::dev::MockProver;
    use halo2_base::halo2_proofs::halo2curves::bn256::Fr;

    /// Runs `f` in a fresh single-phase circuit of `2^k` rows and reports whether the mock
    /// prover accepts it, with the number of advice cells used.
    pub fn mock<R>(k: usize, f: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>) -> R) -> (R, bool) {
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(k)
            .use_lookup_bits(k - 1);
        let range = builder.range_chip();
        let r = f(builder.main(0), &range);
        let params = builder.calculate_params(Some(9));
        eprintln!(
            "k={k} advice cells={} params={params:?}",
            builder.statistics().gate.total_advice_per_phase[0]
        );
        let ok = MockProver::run(u32::try_from(k).unwrap(), &builder, vec![])
            .unwrap()
            .verify()
            .is_ok();
        (r, ok)
    }
}
