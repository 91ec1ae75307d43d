//! The verifier's file: the verifying key and the three points of the SRS that verification
//! reads, instead of the whole SRS (2^20 points, 134 MB).
//!
//! **What a SHPLONK verifier reads from the parameters** (halo2-axiom 0.5.3, `verify_proof` with
//! `VerifierSHPLONK` and `SingleStrategy`):
//!
//! | field | where | why |
//! |---|---|---|
//! | `n = 2^k` | `plonk/verifier.rs` | `x^n` in the vanishing argument |
//! | `g[0]` | `poly/kzg/multiopen/shplonk/verifier.rs` | the commitment to the opened evaluations (`g1 = params.g[0]`) |
//! | `g2`, `s_g2` | `poly/kzg/msm.rs`, `DualMSM::check` | the final pairing check |
//!
//! Instance columns are never committed to by the verifier (`QUERY_INSTANCE = false` for the
//! KZG multi-open schemes), so `g_lagrange` is not read, and neither is any `g[i]` with `i > 0`.
//! [`VerifyingKeys::from_bytes`] therefore builds a `ParamsKZG` with `k`, a one-element `g`, an
//! empty `g_lagrange`, `g2` and `s_g2` (halo2's `ParamsKZG::from_parts`). Such parameters are
//! kept inside [`VerifyingKeys`] (its fields are private), so nothing can commit or prove with
//! them. The tests check that verification answers the same with these parameters as with the
//! full SRS, for a real proof and for a tampered one.
//!
//! **Format** (all of it produced by halo2's own serialisers, `SerdeFormat::RawBytes`: field
//! elements below the modulus and points on the curve are checked when read):
//!
//! ```text
//! "shomei-zk-verifier/v1\n"   22 bytes
//! circuit layout              BaseCircuitParams, u32 LE fields (as `VerifyingKeys::vk_bytes`)
//! verifying key               halo2 VerifyingKey::write (version 2, k, selectors, commitments)
//! parameters at k = 0         halo2 ParamsKZG::write_custom of {g[0]}, {g[0]}, g2, s_g2
//!                             (what `downsize(0)` of the full SRS is; 388 bytes)
//! ```
//!
//! About 1.4 KB in all. Anything after the parameters is refused.

use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::SerdeFormat;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;

use super::{Srs, VerifyingKeys, decode_config};
use crate::Error;

/// The first bytes of a verifier file.
pub const VERIFIER_FILE_MAGIC: &[u8; 22] = b"shomei-zk-verifier/v1\n";

/// The largest `k` a BN254 evaluation domain supports (the two-adicity of Fr).
const MAX_K: usize = 28;
/// A bound on every column count of a layout read from a file (the statement has a handful).
const MAX_COLUMNS: usize = 1024;

fn bad(what: &'static str) -> Error {
    Error::Input(what)
}

/// Refuses layouts that halo2-base would assert on, before it configures a circuit with them.
fn check_layout(c: &BaseCircuitParams) -> Result<u32, Error> {
    if !(8..=MAX_K).contains(&c.k) {
        return Err(bad("verifier file: k out of range"));
    }
    let counts = c
        .num_advice_per_phase
        .iter()
        .chain(&c.num_lookup_advice_per_phase)
        .chain([&c.num_fixed, &c.num_instance_columns]);
    if counts.copied().any(|n| n > MAX_COLUMNS) {
        return Err(bad("verifier file: too many columns"));
    }
    if c.num_advice_per_phase.is_empty() {
        return Err(bad("verifier file: no advice column"));
    }
    if let Some(bits) = c.lookup_bits
        && (bits >= c.k || c.num_lookup_advice_per_phase.is_empty())
    {
        return Err(bad("verifier file: lookup table does not fit"));
    }
    u32::try_from(c.k).map_err(|_| bad("verifier file: k out of range"))
}

impl VerifyingKeys {
    /// The verifier's file: the circuit layout, the verifying key and the three points of the
    /// SRS that verification reads (`g[0]`, `g2`, `s_g2`) — about 1.4 KB instead of the whole
    /// SRS. Read it with [`Self::from_bytes`]; the module documentation gives the format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = VERIFIER_FILE_MAGIC.to_vec();
        out.extend_from_slice(&self.vk_bytes());
        let p = &self.srs.0;
        if let Some(g0) = p.get_g().first() {
            // The parameters at k = 0: one point, whose Lagrange basis is that point.
            let one = p.from_parts(0, vec![*g0], Some(vec![*g0]), p.g2(), p.s_g2());
            // Writing into a Vec cannot fail.
            let _ = one.write_custom(&mut out, SerdeFormat::RawBytes);
        }
        out
    }

    /// Reads a file written by [`Self::to_bytes`]. The result verifies proofs exactly as the
    /// keys it was written from do, but holds three curve points instead of the SRS.
    ///
    /// # Errors
    /// [`Error::Input`] if the bytes are not such a file (wrong magic, a layout out of bounds,
    /// a verifying key that does not read, points not on the curve, trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut rest = bytes
            .strip_prefix(VERIFIER_FILE_MAGIC.as_slice())
            .ok_or(bad("not a shomei-zk verifier file"))?;
        let config = decode_config(&mut rest)?;
        let k = check_layout(&config)?;
        // halo2 sizes its evaluation domain from the k inside the key: it must be the layout's.
        match rest.get(..5) {
            Some([2, a, b, c, d]) if u32::from_le_bytes([*a, *b, *c, *d]) == k => {}
            _ => {
                return Err(bad(
                    "verifier file: the verifying key is not for this layout",
                ));
            }
        }
        let vk = VerifyingKey::<G1Affine>::read::<_, BaseCircuitBuilder<Fr>>(
            &mut rest,
            SerdeFormat::RawBytes,
            config.clone(),
        )
        .map_err(|_| bad("verifier file: not a verifying key"))?;
        // halo2 allocates 2^k points for the k it reads: only k = 0 is accepted here.
        if rest.get(..4) != Some([0u8; 4].as_slice()) {
            return Err(bad(
                "verifier file: the parameters are not the one-point form",
            ));
        }
        let one = ParamsKZG::<Bn256>::read_custom(&mut rest, SerdeFormat::RawBytes)
            .map_err(|_| bad("verifier file: parameters are not curve points"))?;
        if !rest.is_empty() {
            return Err(bad("verifier file: trailing bytes"));
        }
        let g0 = *one
            .get_g()
            .first()
            .ok_or(bad("verifier file: no parameters"))?;
        let params = one.from_parts(k, vec![g0], Some(Vec::new()), one.g2(), one.s_g2());
        Ok(Self {
            srs: Srs(params),
            vk,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::prove::{K, ProvingKeys, verify};
    use crate::statement::tests::signed_report;

    /// The insecure test SRS, cached in `$SHOMEI_ZK_TEST_SRS` when that names a file (generating
    /// 2^20 points takes minutes on a small machine).
    fn srs() -> Srs {
        let seed = *b"shomei-zk verifier-file test srs";
        match std::env::var_os("SHOMEI_ZK_TEST_SRS") {
            Some(p) if std::path::Path::new(&p).exists() => {
                Srs::read(&std::fs::read(&p).unwrap()).unwrap()
            }
            Some(p) => {
                let srs = Srs::insecure_local(K, seed);
                std::fs::write(&p, srs.to_bytes()).unwrap();
                srs
            }
            None => Srs::insecure_local(K, seed),
        }
    }

    #[test]
    fn a_file_that_is_not_a_verifier_file_is_refused() {
        assert_eq!(
            VerifyingKeys::from_bytes(b"").unwrap_err(),
            bad("not a shomei-zk verifier file")
        );
        let mut f = VERIFIER_FILE_MAGIC.to_vec();
        assert!(VerifyingKeys::from_bytes(&f).is_err(), "no layout");
        // A layout with k = 40 would make halo2 shift past 64 bits or allocate 2^40 points.
        for v in [40u32, 1, 1, 1, 0, 0, 1] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            VerifyingKeys::from_bytes(&f).unwrap_err(),
            bad("verifier file: k out of range")
        );
    }

    /// One real proof: the small parameters accept it and refuse it exactly when the full SRS
    /// does, and the file survives a round trip byte for byte. CI covers the verifier file
    /// end to end in `shomei-server/tests/snp_proof.rs` (the service loads it and accepts and
    /// refuses a real proof with it); this comparison with the full SRS costs another ~5 minutes
    /// of keygen and proving on 2 cores, so it runs by hand.
    #[test]
    #[ignore = "a real halo2 proof (~5 min on 2 cores): cargo test -p shomei-zk --release -- --ignored"]
    fn the_three_point_verifier_answers_as_the_full_srs_does() {
        let keys = ProvingKeys::generate(srs()).unwrap();
        let (report, public, _) = signed_report(91);
        let proof = keys.prove(&report, &public).unwrap();
        let full = keys.verifying_keys();
        let file = full.to_bytes();
        assert!(file.len() < 2048, "{} bytes", file.len());
        let small = VerifyingKeys::from_bytes(&file).unwrap();
        assert_eq!(small.srs.0.get_g().len(), 1);
        assert_eq!(small.to_bytes(), file);

        // The genuine proof: accepted by both.
        assert_eq!(verify(&full, &proof, &public), Ok(()));
        assert_eq!(verify(&small, &proof, &public), Ok(()));
        // Each tampered proof and each other public input: refused by both.
        for i in [0, 100, proof.len() / 2, proof.len() - 1] {
            let mut bad = proof.clone();
            bad[i] ^= 1;
            assert_eq!(
                verify(&full, &bad, &public),
                Err(Error::Rejected),
                "byte {i}"
            );
            assert_eq!(
                verify(&small, &bad, &public),
                Err(Error::Rejected),
                "byte {i}"
            );
        }
        let mut other = public.clone();
        other.report_data[5] ^= 1;
        assert_eq!(verify(&full, &proof, &other), Err(Error::Rejected));
        assert_eq!(verify(&small, &proof, &other), Err(Error::Rejected));
        // Truncated or padded files are refused, and a file with one point changed is another
        // verifier: s_g2 replaced by g2 (both valid G2 points: tau = 1) refuses the proof.
        assert!(VerifyingKeys::from_bytes(&file[..file.len() - 1]).is_err());
        let mut longer = file.clone();
        longer.push(0);
        assert!(VerifyingKeys::from_bytes(&longer).is_err());
        let (head, s_g2) = file.split_at(file.len() - 128);
        let g2 = &head[head.len() - 128..];
        assert_ne!(g2, s_g2);
        let mut mixed = head.to_vec();
        mixed.extend_from_slice(g2);
        let mixed = VerifyingKeys::from_bytes(&mixed).unwrap();
        assert_eq!(verify(&mixed, &proof, &public), Err(Error::Rejected));
    }
}
