//! P-384 point arithmetic in the circuit, for `a = −3` (halo2-ecc's doubling is written for
//! `a = 0`), on [`FieldChip384`].
//!
//! Points are affine and never the identity. Every formula witnesses its outputs and proves the
//! defining identities modulo p:
//!
//! - doubling: `2λy = 3x² − 3`, `x₃ = λ² − 2x`, `y₃ = λ(x − x₃) − y`. On a curve of prime order
//!   no point has `y = 0`, so λ is determined for every on-curve input;
//! - addition of points with distinct x: `inv·(x₂ − x₁) = 1` (this *proves* `x₁ ≠ x₂`, so the
//!   chord slope is determined; an honest prover hits equal x only with negligible probability),
//!   `λ(x₂ − x₁) = y₂ − y₁`, `x₃ = λ² − x₁ − x₂`, `y₃ = λ(x₁ − x₃) − y₁`.
//!
//! By induction every point the gadgets produce from on-curve inputs is on the curve and is the
//! true sum, so no separate on-curve check is needed for intermediate points.
//!
//! [`EccChip384::msm_base_and_point`] computes `u₁·G + u₂·Q` with Straus–Shamir joint 2-bit
//! windows over a 16-entry table `A + d₁·G + d₂·Q`, where `A` is a fixed point of unknown
//! discrete logarithm (try-and-increment from a public seed); the accumulated offset
//! `(Σ 4^i)·A` is subtracted at the end. Exceptional cases (equal x in an addition) make the
//! proof fail rather than succeed wrongly.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::{AssignedValue, Context};
use num_bigint::{BigInt, BigUint};

use crate::curve::{B, Point};
use crate::field::{Fp, P384Base};
use crate::nonnative::{AssignedFe, FieldChip384};

/// A finite P-384 point in the circuit.
#[derive(Clone, Debug)]
pub struct AssignedPoint {
    /// x coordinate.
    pub x: AssignedFe<P384Base>,
    /// y coordinate.
    pub y: AssignedFe<P384Base>,
}

/// Bits per scalar window in [`EccChip384::msm_base_and_point`].
const WINDOW: usize = 2;
/// Windows in a 384-bit scalar.
const WINDOWS: usize = 384 / WINDOW;

/// The public seed of the offset point: the ASCII string below, zero-padded to 48 bytes.
const OFFSET_SEED: &[u8] = b"shomei-zk/p384/msm-offset/v1";

/// The offset point `A` (not the identity; its discrete logarithm is unknown).
pub fn offset_point() -> Point {
    let mut seed = [0u8; 48];
    for (d, s) in seed.iter_mut().zip(OFFSET_SEED.iter()) {
        *d = *s;
    }
    Point::hash_to_curve_try_and_increment(&seed)
}

/// P-384 point operations on top of the base-field chip.
#[derive(Clone, Copy, Debug)]
pub struct EccChip384<'r> {
    fp: FieldChip384<'r, P384Base>,
}

impl<'r> EccChip384<'r> {
    /// A chip over `range`.
    pub fn new(range: &'r RangeChip<Fr>) -> Self {
        Self {
            fp: FieldChip384::new(range),
        }
    }

    /// The base-field chip.
    pub fn field(&self) -> &FieldChip384<'r, P384Base> {
        &self.fp
    }

    /// A constant point; `None` for the identity (which this chip cannot represent).
    pub fn load_constant(&self, ctx: &mut Context<Fr>, p: &Point) -> Option<AssignedPoint> {
        let (x, y) = p.coordinates()?;
        Some(AssignedPoint {
            x: self.fp.load_constant(ctx, x),
            y: self.fp.load_constant(ctx, y),
        })
    }

    /// Witnesses a point with reduced coordinates and constrains it to be on the curve. A
    /// witness that is not a curve point makes the circuit unsatisfiable.
    pub fn load_private(&self, ctx: &mut Context<Fr>, x: Fp, y: Fp) -> AssignedPoint {
        let p = AssignedPoint {
            x: self.fp.load_private_reduced(ctx, x),
            y: self.fp.load_private_reduced(ctx, y),
        };
        self.assert_on_curve(ctx, &p);
        p
    }

    /// Constrains `y² = x³ − 3x + b`.
    pub fn assert_on_curve(&self, ctx: &mut Context<Fr>, p: &AssignedPoint) {
        let x2 = self.fp.mul(ctx, &p.x, &p.x);
        let b = BigInt::from(BigUint::from_bytes_be(&B.to_be_bytes()));
        self.fp
            .assert_zero_mod(ctx, &[(1, &p.y, &p.y), (-1, &x2, &p.x)], &[(3, &p.x)], &-b);
    }

    /// `2P` (a = −3).
    pub fn double(&self, ctx: &mut Context<Fr>, p: &AssignedPoint) -> AssignedPoint {
        let (x, y) = (self.fp.native(&p.x), self.fp.native(&p.y));
        let three = Fp::from(3u64);
        let lambda = Option::<Fp>::from(y.double().invert())
            .map(|inv| (three * x.square() - three) * inv)
            .unwrap_or_default();
        let lambda = self.fp.load_private(ctx, lambda);
        self.fp.assert_zero_mod(
            ctx,
            &[(2, &lambda, &p.y), (-3, &p.x, &p.x)],
            &[],
            &BigInt::from(3),
        );
        self.finish_chord(ctx, &lambda, &p.x, &p.x, &p.y)
    }

    /// `x₃ = λ² − x₁ − x₂`, `y₃ = λ(x₁ − x₃) − y₁`.
    fn finish_chord(
        &self,
        ctx: &mut Context<Fr>,
        lambda: &AssignedFe<P384Base>,
        x1: &AssignedFe<P384Base>,
        x2: &AssignedFe<P384Base>,
        y1: &AssignedFe<P384Base>,
    ) -> AssignedPoint {
        let zero = BigInt::default();
        let x3 = self
            .fp
            .eval(ctx, &[(1, lambda, lambda)], &[(-1, x1), (-1, x2)], &zero);
        self.fp.assert_zero_mod(
            ctx,
            &[(1, lambda, lambda)],
            &[(-1, x1), (-1, x2), (-1, &x3)],
            &zero,
        );
        let y3 = self.fp.eval(
            ctx,
            &[(1, lambda, x1), (-1, lambda, &x3)],
            &[(-1, y1)],
            &zero,
        );
        self.fp.assert_zero_mod(
            ctx,
            &[(1, lambda, x1), (-1, lambda, &x3)],
            &[(-1, y1), (-1, &y3)],
            &zero,
        );
        AssignedPoint { x: x3, y: y3 }
    }

    /// `P + Q`, constraining `x_P ≠ x_Q` (so `P ≠ ±Q`).
    pub fn add_unequal(
        &self,
        ctx: &mut Context<Fr>,
        p: &AssignedPoint,
        q: &AssignedPoint,
    ) -> AssignedPoint {
        let zero = BigInt::default();
        // inv · (x_q − x_p) = 1 proves x_p ≠ x_q.
        let dx = self.fp.native(&q.x) - self.fp.native(&p.x);
        let inv = Option::<Fp>::from(dx.invert()).unwrap_or_default();
        let inv = self.fp.load_private(ctx, inv);
        self.fp.assert_zero_mod(
            ctx,
            &[(1, &inv, &q.x), (-1, &inv, &p.x)],
            &[],
            &BigInt::from(-1),
        );
        let dy = self.fp.native(&q.y) - self.fp.native(&p.y);
        let lambda = self.fp.load_private(ctx, dy * self.fp.native(&inv));
        self.fp.assert_zero_mod(
            ctx,
            &[(1, &lambda, &q.x), (-1, &lambda, &p.x)],
            &[(-1, &q.y), (1, &p.y)],
            &zero,
        );
        self.finish_chord(ctx, &lambda, &p.x, &q.x, &p.y)
    }

    /// Selects `points[i]` where `indicator` is one-hot at `i`.
    pub fn select(
        &self,
        ctx: &mut Context<Fr>,
        points: &[AssignedPoint],
        indicator: &[AssignedValue<Fr>],
    ) -> AssignedPoint {
        let xs: Vec<&AssignedFe<P384Base>> = points.iter().map(|p| &p.x).collect();
        let ys: Vec<&AssignedFe<P384Base>> = points.iter().map(|p| &p.y).collect();
        AssignedPoint {
            x: self.fp.select_by_indicator(ctx, &xs, indicator),
            y: self.fp.select_by_indicator(ctx, &ys, indicator),
        }
    }

    /// `u₁·G + u₂·Q` for 384-bit scalars given as little-endian bits (constrained to be bits by
    /// the caller, e.g. with `num_to_bits`) and an on-curve `Q`. Fails (unsatisfiable) if the
    /// result is the identity.
    ///
    /// # Errors
    /// [`crate::Error::Circuit`] if the bit vectors are not 384 long.
    pub fn msm_base_and_point(
        &self,
        ctx: &mut Context<Fr>,
        u1_bits: &[AssignedValue<Fr>],
        u2_bits: &[AssignedValue<Fr>],
        q: &AssignedPoint,
    ) -> Result<AssignedPoint, crate::Error> {
        if u1_bits.len() != WINDOWS * WINDOW || u2_bits.len() != WINDOWS * WINDOW {
            return Err(crate::Error::Circuit("msm scalars must be 384 bits"));
        }
        let gate = self.fp.range().gate();
        let a = offset_point();
        let g = Point::GENERATOR;
        let missing = crate::Error::Circuit("offset point table hit the identity");

        // Q, 2Q, 3Q.
        let q2 = self.double(ctx, q);
        let q3 = self.add_unequal(ctx, &q2, q);
        let q_multiples = [q.clone(), q2, q3];

        // table[d1 + 4·d2] = A + d1·G + d2·Q.
        let mut table: Vec<AssignedPoint> = Vec::with_capacity(16);
        for d2 in 0..4usize {
            let mut c = a;
            for d1 in 0..4usize {
                if d1 > 0 {
                    c = c.add(&g);
                }
                let constant = self.load_constant(ctx, &c).ok_or(missing.clone())?;
                let entry = match d2.checked_sub(1).and_then(|i| q_multiples.get(i)) {
                    None => constant,
                    Some(qm) => self.add_unequal(ctx, &constant, qm),
                };
                table.push(entry);
            }
        }

        // Most significant window first: acc = 4·acc + table[window].
        let mut acc: Option<AssignedPoint> = None;
        let mut offset = Point::Infinity;
        for w in (0..WINDOWS).rev() {
            let bits: Vec<AssignedValue<Fr>> = [u1_bits, u1_bits, u2_bits, u2_bits]
                .iter()
                .zip([0usize, 1, 0, 1])
                .filter_map(|(v, j)| v.get(WINDOW * w + j).copied())
                .collect();
            let indicator = gate.bits_to_indicator(ctx, &bits);
            let entry = self.select(ctx, &table, &indicator);
            acc = Some(match acc {
                None => entry,
                Some(prev) => {
                    let d = self.double(ctx, &prev);
                    let d = self.double(ctx, &d);
                    self.add_unequal(ctx, &d, &entry)
                }
            });
            offset = offset.double().double().add(&a);
        }
        let acc = acc.ok_or(missing.clone())?;
        let neg_offset = self.load_constant(ctx, &offset.neg()).ok_or(missing)?;
        Ok(self.add_unequal(ctx, &acc, &neg_offset))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::field::Fq;
    use crate::testing::mock;
    use rand::{SeedableRng, rngs::StdRng};

    fn random_point(rng: &mut StdRng) -> Point {
        Point::GENERATOR.mul(&Fq::random(rng))
    }

    #[test]
    fn double_and_add_match_native_on_random_points() {
        let mut rng = StdRng::seed_from_u64(21);
        let (p, q) = (random_point(&mut rng), random_point(&mut rng));
        let ((), ok) = mock(14, |ctx, range| {
            let chip = EccChip384::new(range);
            let (px, py) = p.coordinates().unwrap();
            let (qx, qy) = q.coordinates().unwrap();
            let ap = chip.load_private(ctx, px, py);
            let aq = chip.load_private(ctx, qx, qy);
            let d = chip.double(ctx, &ap);
            let s = chip.add_unequal(ctx, &ap, &aq);
            let native = |pt: &AssignedPoint| {
                Point::from_coordinates(chip.field().native(&pt.x), chip.field().native(&pt.y))
                    .unwrap()
            };
            assert_eq!(native(&d), p.double());
            assert_eq!(native(&s), p.add(&q));
        });
        assert!(ok);
    }

    #[test]
    fn off_curve_point_is_rejected() {
        let mut rng = StdRng::seed_from_u64(22);
        let (x, y) = random_point(&mut rng).coordinates().unwrap();
        let ((), ok) = mock(13, |ctx, range| {
            let chip = EccChip384::new(range);
            let _ = chip.load_private(ctx, x, y + Fp::ONE);
        });
        assert!(!ok);
    }

    #[test]
    fn adding_a_point_to_itself_is_rejected() {
        // The chord formula is undefined for P + P; the inverse witness cannot exist.
        let mut rng = StdRng::seed_from_u64(23);
        let (x, y) = random_point(&mut rng).coordinates().unwrap();
        let ((), ok) = mock(13, |ctx, range| {
            let chip = EccChip384::new(range);
            let p = chip.load_private(ctx, x, y);
            let _ = chip.add_unequal(ctx, &p, &p);
        });
        assert!(!ok);
    }

    #[test]
    fn tampered_doubling_witness_is_rejected() {
        let mut rng = StdRng::seed_from_u64(24);
        let p = random_point(&mut rng);
        let (x, y) = p.coordinates().unwrap();
        let ((), ok) = mock(13, |ctx, range| {
            let chip = EccChip384::new(range);
            let ap = chip.load_private(ctx, x, y);
            // A slope that is not the tangent's: the doubling identity must fail.
            let fp = chip.field();
            let lambda = fp.load_private(ctx, Fp::from(5u64));
            fp.assert_zero_mod(
                ctx,
                &[(2, &lambda, &ap.y), (-3, &ap.x, &ap.x)],
                &[],
                &BigInt::from(3),
            );
        });
        assert!(!ok);
    }
}
