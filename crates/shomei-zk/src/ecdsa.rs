//! ECDSA P-384 verification in the circuit (FIPS 186-5 §6.4.2 with the digest `e` already an
//! integer), on [`EccChip384`] and the scalar-field [`FieldChip384`].
//!
//! Constrains: `r, s ∈ [1, n−1]`; `w = s⁻¹`, `u₁ = e·w`, `u₂ = r·w (mod n)`;
//! `R = u₁·G + u₂·Q ≠ O`; `x_R = r`. The last check compares the canonical `x_R` with `r` as
//! integers after constraining `x_R < n`: the specification compares `x_R mod n`, which differs
//! only when `n ≤ x_R < p`, probability about 2^-190 for an honest signature (such a signature
//! would be refused, never a forgery accepted).

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::{AssignedValue, Context};

use crate::ecc::{AssignedPoint, EccChip384};
use crate::field::P384Scalar;
use crate::nonnative::{AssignedFe, FieldChip384, LIMB_BITS, modulus};

/// Little-endian bits of an element's four limbs (384 bits), constrained by `num_to_bits`.
fn to_bits(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    a: &AssignedFe<P384Scalar>,
) -> Vec<AssignedValue<Fr>> {
    let gate = range.gate();
    a.limbs()
        .iter()
        .flat_map(|limb| gate.num_to_bits(ctx, *limb, LIMB_BITS))
        .collect()
}

/// Constrains that `(r, s)` is a valid ECDSA P-384 signature by `pubkey` (on the curve, checked
/// by the caller's loading) over the digest integer `e` (a 384-bit big-endian SHA-384 output).
///
/// # Errors
/// Only on a malformed call (never for a bad signature: that makes the circuit unsatisfiable).
pub fn verify_ecdsa_p384(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    pubkey: &AssignedPoint,
    e: &AssignedFe<P384Scalar>,
    r: &AssignedFe<P384Scalar>,
    s: &AssignedFe<P384Scalar>,
) -> Result<(), crate::Error> {
    let fq = FieldChip384::<P384Scalar>::new(range);
    let ecc = EccChip384::new(range);

    // r, s in [1, n-1]: below n, and invertible (non-zero) mod n.
    fq.assert_reduced(ctx, r);
    fq.assert_reduced(ctx, s);
    let _r_inv = fq.invert(ctx, r);
    let w = fq.invert(ctx, s);
    let u1 = fq.mul(ctx, e, &w);
    let u2 = fq.mul(ctx, r, &w);

    let u1_bits = to_bits(range, ctx, &u1);
    let u2_bits = to_bits(range, ctx, &u2);
    let big_r = ecc.msm_base_and_point(ctx, &u1_bits, &u2_bits, pubkey)?;

    // x_R (an integer below 2^384) as a scalar-field integer: below n, and equal to r.
    let x: AssignedFe<P384Scalar> = big_r.x.cast();
    fq.assert_less_than_const(ctx, &x, &modulus::<P384Scalar>());
    fq.assert_equal_integers(ctx, &x, r);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::field::{Fp, Fq};
    use crate::testing::mock;
    use halo2_base::halo2_proofs::halo2curves::ff::Field;
    use num_bigint::BigUint;
    use p384::ecdsa::signature::hazmat::PrehashSigner;
    use p384::ecdsa::{Signature, SigningKey};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// The circuit size for one verification; see the crate docs for the measured cell counts.
    const K: usize = 19;

    struct Case {
        qx: Fp,
        qy: Fp,
        digest: [u8; 48],
        r: Fq,
        s: Fq,
    }

    fn case(seed: u64) -> Case {
        let mut rng = StdRng::seed_from_u64(seed);
        let sk = SigningKey::random(&mut rng);
        let ep = sk.verifying_key().to_encoded_point(false);
        let digest: [u8; 48] = core::array::from_fn(|_| rng.r#gen());
        let sig: Signature = sk.sign_prehash(&digest).unwrap();
        let (r, s) = sig.split_bytes();
        Case {
            qx: Fp::from_be_bytes(&(*ep.x().unwrap()).into()).unwrap(),
            qy: Fp::from_be_bytes(&(*ep.y().unwrap()).into()).unwrap(),
            digest,
            r: Fq::from_be_bytes(&r.into()).unwrap(),
            s: Fq::from_be_bytes(&s.into()).unwrap(),
        }
    }

    fn run(c: &Case) -> bool {
        let ((), ok) = mock(K, |ctx, range| {
            let ecc = EccChip384::new(range);
            let fq = FieldChip384::<P384Scalar>::new(range);
            let q = ecc.load_private(ctx, c.qx, c.qy);
            let e = fq.load_integer(ctx, BigUint::from_bytes_be(&c.digest));
            let r = fq.load_private(ctx, c.r);
            let s = fq.load_private(ctx, c.s);
            verify_ecdsa_p384(range, ctx, &q, &e, &r, &s).unwrap();
        });
        ok
    }

    #[test]
    #[ignore = "about a minute in release: cargo test -p shomei-zk --release -- --ignored"]
    fn valid_signatures_from_rustcrypto_verify() {
        assert!(run(&case(1)));
        assert!(run(&case(2)));
    }

    #[test]
    #[ignore = "about a minute in release: cargo test -p shomei-zk --release -- --ignored"]
    fn forged_signatures_are_rejected() {
        let good = case(3);
        let other = case(4);
        // wrong message hash
        let mut c = case(3);
        c.digest[47] ^= 1;
        assert!(!run(&c), "wrong digest");
        // wrong key
        let c = Case {
            qx: other.qx,
            qy: other.qy,
            ..case(3)
        };
        assert!(!run(&c), "wrong key");
        // wrong signature
        let c = Case {
            s: good.s + Fq::ONE,
            ..case(3)
        };
        assert!(!run(&c), "wrong s");
        let c = Case {
            r: other.r,
            ..case(3)
        };
        assert!(!run(&c), "wrong r");
        // s = 0
        let c = Case {
            s: Fq::ZERO,
            ..case(3)
        };
        assert!(!run(&c), "s = 0");
    }
}
