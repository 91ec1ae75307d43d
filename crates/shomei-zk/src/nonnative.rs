//! Arithmetic modulo a 384-bit prime inside a BN254 circuit.
//!
//! # Why not halo2-ecc's `FpChip`
//!
//! halo2-ecc's `FpChip` checks `a = q·p + r` modulo `2^(n·k)` (the limbs) and modulo the native
//! modulus (≈ 2^254), so it needs `n·k + 251 ≥ bits(a)`; a product of two 384-bit elements has
//! 768 bits, so `n·k ≥ 517`. Its `carry_mod` also requires the modulus to need *exactly* `k`
//! limbs (`n·(k−1) < 384`, else a `usize` underflow), and products of limbs must fit the native
//! field (`2n + log2 k ≤ 252`, asserted in later 0.5.x releases). No `(n, k)` satisfies all
//! three, so `FpChip` cannot multiply P-384 elements over BN254 (it is built for ~256-bit
//! fields). This chip instead checks each modular identity **as an integer identity over all
//! product columns**, with no truncation, which has no such limit.
//!
//! # Representation and the one primitive
//!
//! An [`AssignedFe`] is four 96-bit limbs, each range-checked, so its integer value is in
//! `[0, 2^384)` — not necessarily reduced below the modulus (see [`FieldChip384::assert_reduced`]).
//! Every operation witnesses its result and proves one identity with
//! `FieldChip384::assert_zero_mod`:
//!
//! ```text
//!   Σ c_i·x_i·y_i + Σ d_j·z_j + k  ≡ 0 (mod m)
//! ```
//!
//! by witnessing a quotient `q ≥ 0` (five 96-bit limbs) with
//! `Σ c_i·x_i·y_i + Σ d_j·z_j + (k + M·m) − q·m = 0` over the integers, where `M·m` is a
//! constant that makes the left side non-negative. The integer identity is checked column by
//! column (base 2^96) with signed carries, each range-checked to 113 bits; all column sums stay
//! below 2^208 in absolute value, far from the native modulus, so the native equations imply the
//! integer ones.

use core::marker::PhantomData;

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field as _;
use halo2_base::utils::{bigint_to_fe, fe_to_bigint, fe_to_biguint};
use halo2_base::{AssignedValue, Context, QuantumCell};
use num_bigint::{BigInt, BigUint, Sign};

use crate::field::{Fe, FieldParams};

/// Bits per limb.
pub const LIMB_BITS: usize = 96;
/// Limbs per element (4 × 96 = 384).
pub const NUM_LIMBS: usize = 4;
/// Limbs of the quotient in `FieldChip384::assert_zero_mod`.
const QUOT_LIMBS: usize = 5;
/// Columns of the integer identity: products reach column 6, the quotient times the modulus
/// column 7, and the constant `k + M·m` (below 2^800) column 8.
const COLUMNS: usize = 9;
/// Carries are range-checked to `[-2^CARRY_BITS, 2^CARRY_BITS)`.
const CARRY_BITS: usize = 112;
/// The largest total of absolute coefficients an identity may use; bounds the column sums.
const MAX_COEFF_SUM: u64 = 1 << 8;

/// A field element in the circuit: four range-checked 96-bit limbs (little-endian) and the
/// integer they encode (kept for witness generation).
#[derive(Clone, Debug)]
pub struct AssignedFe<P: FieldParams> {
    limbs: [AssignedValue<Fr>; NUM_LIMBS],
    value: BigUint,
    _p: PhantomData<P>,
}

impl<P: FieldParams> AssignedFe<P> {
    /// The limbs, little-endian, 96 bits each.
    pub fn limbs(&self) -> &[AssignedValue<Fr>; NUM_LIMBS] {
        &self.limbs
    }

    /// The integer value (in `[0, 2^384)`, not necessarily reduced).
    pub fn value(&self) -> &BigUint {
        &self.value
    }

    /// Reinterprets the same limbs as an element of another 384-bit field (for comparing an
    /// x coordinate with a scalar as integers).
    pub fn cast<Q: FieldParams>(&self) -> AssignedFe<Q> {
        AssignedFe {
            limbs: self.limbs,
            value: self.value.clone(),
            _p: PhantomData,
        }
    }
}

/// The modulus as a big integer.
pub fn modulus<P: FieldParams>() -> BigUint {
    let mut bytes = Vec::with_capacity(48);
    for limb in P::MODULUS {
        bytes.extend_from_slice(&limb.to_le_bytes());
    }
    BigUint::from_bytes_le(&bytes)
}

/// Splits a non-negative integer into `n` 96-bit limbs (the last takes the remaining high bits).
fn split(v: &BigUint, n: usize) -> Vec<BigUint> {
    let mask = (BigUint::from(1u8) << LIMB_BITS) - 1u8;
    (0..n)
        .map(|i| {
            let shifted = v >> (LIMB_BITS * i);
            if i + 1 == n { shifted } else { shifted & &mask }
        })
        .collect()
}

fn to_fr(v: &BigUint) -> Fr {
    bigint_to_fe(&BigInt::from(v.clone()))
}

/// The canonical integer of a native field element.
fn fe_to_big<P: FieldParams>(x: &Fe<P>) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

/// A term `c · x · y` of an identity.
pub type ProdTerm<'t, P> = (i64, &'t AssignedFe<P>, &'t AssignedFe<P>);
/// A term `d · z` of an identity.
pub type LinTerm<'t, P> = (i64, &'t AssignedFe<P>);

/// Arithmetic modulo the prime of `P` on top of halo2-base's range chip.
#[derive(Clone, Copy, Debug)]
pub struct FieldChip384<'r, P: FieldParams> {
    range: &'r RangeChip<Fr>,
    _p: PhantomData<P>,
}

impl<'r, P: FieldParams> FieldChip384<'r, P> {
    /// A chip over `range` (whose lookup table must be at least 8 bits).
    pub fn new(range: &'r RangeChip<Fr>) -> Self {
        Self {
            range,
            _p: PhantomData,
        }
    }

    /// The range chip.
    pub fn range(&self) -> &'r RangeChip<Fr> {
        self.range
    }

    fn assign_limbs(&self, ctx: &mut Context<Fr>, value: BigUint, check: bool) -> AssignedFe<P> {
        let parts = split(&value, NUM_LIMBS);
        let cells: Vec<AssignedValue<Fr>> =
            parts.iter().map(|l| ctx.load_witness(to_fr(l))).collect();
        let limbs: [AssignedValue<Fr>; NUM_LIMBS] =
            core::array::from_fn(|i| cells.get(i).copied().unwrap_or_else(|| ctx.load_zero()));
        if check {
            for limb in limbs {
                self.range.range_check(ctx, limb, LIMB_BITS);
            }
        }
        AssignedFe {
            limbs,
            value,
            _p: PhantomData,
        }
    }

    /// Witnesses an integer in `[0, 2^384)` (larger values are truncated, which makes the
    /// identities that use it fail rather than panic).
    pub fn load_integer(&self, ctx: &mut Context<Fr>, value: BigUint) -> AssignedFe<P> {
        let value = value % (BigUint::from(1u8) << (LIMB_BITS * NUM_LIMBS));
        self.assign_limbs(ctx, value, true)
    }

    /// Witnesses a field element (range-checked limbs; not constrained below the modulus).
    pub fn load_private(&self, ctx: &mut Context<Fr>, x: Fe<P>) -> AssignedFe<P> {
        self.assign_limbs(ctx, fe_to_big(&x), true)
    }

    /// Witnesses a field element and constrains it below the modulus.
    pub fn load_private_reduced(&self, ctx: &mut Context<Fr>, x: Fe<P>) -> AssignedFe<P> {
        let a = self.load_private(ctx, x);
        self.assert_reduced(ctx, &a);
        a
    }

    /// A constant.
    pub fn load_constant(&self, ctx: &mut Context<Fr>, x: Fe<P>) -> AssignedFe<P> {
        let value = fe_to_big(&x);
        let parts = split(&value, NUM_LIMBS);
        let limbs: [AssignedValue<Fr>; NUM_LIMBS] = core::array::from_fn(|i| {
            let part = parts.get(i).cloned().unwrap_or_default();
            ctx.load_constant(to_fr(&part))
        });
        AssignedFe {
            limbs,
            value,
            _p: PhantomData,
        }
    }

    /// Builds an element from limbs that the caller has already range-checked to 96 bits
    /// (for example bytes of a hash packed twelve at a time).
    pub(crate) fn assemble_checked_limbs(
        &self,
        limbs: [AssignedValue<Fr>; NUM_LIMBS],
    ) -> AssignedFe<P> {
        let mut value = BigUint::default();
        for limb in limbs.iter().rev() {
            value = (value << LIMB_BITS) + fe_to_biguint(limb.value());
        }
        AssignedFe {
            limbs,
            value,
            _p: PhantomData,
        }
    }

    /// Constrains `Σ c·x·y + Σ d·z + k ≡ 0 (mod m)`. The caller's coefficients must total at
    /// most 2^8 in absolute value (the bound the carry ranges are sized for), which is why this is
    /// crate-private: every caller here uses coefficients of at most 3 and sums of at most 6.
    pub(crate) fn assert_zero_mod(
        &self,
        ctx: &mut Context<Fr>,
        prods: &[ProdTerm<'_, P>],
        lins: &[LinTerm<'_, P>],
        k: &BigInt,
    ) {
        let gate = self.range.gate();
        let m = modulus::<P>();
        let coeff_sum: u64 = prods
            .iter()
            .map(|t| t.0.unsigned_abs())
            .chain(lins.iter().map(|t| t.0.unsigned_abs()))
            .sum();
        debug_assert!(
            coeff_sum <= MAX_COEFF_SUM,
            "identity coefficients too large"
        );

        // M·m makes the left side non-negative: |negative part| < coeff_sum·2^768 + |k|.
        let bound =
            (BigUint::from(coeff_sum.max(1)) << (2 * LIMB_BITS * NUM_LIMBS)) + k.magnitude();
        let big_m = &bound / &m + 1u8;
        let constant = BigInt::from(&big_m * &m) + k;
        let constant = constant.to_biguint().unwrap_or_default();

        // The value of the left side and the quotient.
        let mut total = BigInt::from(constant.clone());
        for (c, x, y) in prods {
            total += BigInt::from(*c) * BigInt::from(&x.value * &y.value);
        }
        for (d, z) in lins {
            total += BigInt::from(*d) * BigInt::from(z.value.clone());
        }
        let quotient = match total.sign() {
            Sign::Minus => BigUint::default(),
            _ => total.magnitude() / &m,
        };
        let q_parts = split(&quotient, QUOT_LIMBS);
        let q: Vec<AssignedValue<Fr>> = q_parts
            .iter()
            .map(|l| {
                let cell = ctx.load_witness(to_fr(&(l % (BigUint::from(1u8) << LIMB_BITS))));
                self.range.range_check(ctx, cell, LIMB_BITS);
                cell
            })
            .collect();

        let m_parts: Vec<Fr> = split(&m, NUM_LIMBS).iter().map(to_fr).collect();
        let k_parts: Vec<Fr> = split(&constant, COLUMNS).iter().map(to_fr).collect();

        // Column sums S_t.
        let mut columns: Vec<AssignedValue<Fr>> = Vec::with_capacity(COLUMNS);
        for t in 0..COLUMNS {
            let mut cells: Vec<QuantumCell<Fr>> = Vec::new();
            let mut coeffs: Vec<QuantumCell<Fr>> = Vec::new();
            for (c, x, y) in prods {
                let pairs: Vec<(AssignedValue<Fr>, AssignedValue<Fr>)> = (0..NUM_LIMBS)
                    .filter_map(|i| {
                        let j = t.checked_sub(i)?;
                        Some((*x.limbs.get(i)?, *y.limbs.get(j)?))
                    })
                    .collect();
                if pairs.is_empty() {
                    continue;
                }
                let (a, b): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
                let conv = gate.inner_product(ctx, a, b.into_iter().map(QuantumCell::Existing));
                cells.push(QuantumCell::Existing(conv));
                coeffs.push(QuantumCell::Constant(Fr::from_i64(*c)));
            }
            for (d, z) in lins {
                if let Some(limb) = z.limbs.get(t) {
                    cells.push(QuantumCell::Existing(*limb));
                    coeffs.push(QuantumCell::Constant(Fr::from_i64(*d)));
                }
            }
            for (i, qi) in q.iter().enumerate() {
                if let Some(mj) = t.checked_sub(i).and_then(|j| m_parts.get(j)) {
                    cells.push(QuantumCell::Existing(*qi));
                    coeffs.push(QuantumCell::Constant(-*mj));
                }
            }
            let kt = k_parts.get(t).copied().unwrap_or(Fr::ZERO);
            cells.push(QuantumCell::Constant(kt));
            coeffs.push(QuantumCell::Constant(Fr::ONE));
            columns.push(gate.inner_product(ctx, cells, coeffs));
        }

        // Carries: S_t + c_{t-1} = c_t · 2^96, with c_last = 0.
        let base = to_fr(&(BigUint::from(1u8) << LIMB_BITS));
        let offset = to_fr(&(BigUint::from(1u8) << CARRY_BITS));
        let mut carry: Option<AssignedValue<Fr>> = None;
        for (t, s) in columns.iter().enumerate() {
            let with_carry = match carry {
                None => *s,
                Some(c) => gate.add(ctx, *s, c),
            };
            if t + 1 == COLUMNS {
                gate.assert_is_const(ctx, &with_carry, &Fr::ZERO);
                break;
            }
            let signed = fe_to_bigint(with_carry.value());
            let next = floor_shift(&signed, LIMB_BITS);
            let next_cell = ctx.load_witness(bigint_to_fe(&next));
            let diff = gate.mul_add(ctx, next_cell, QuantumCell::Constant(-base), with_carry);
            gate.assert_is_const(ctx, &diff, &Fr::ZERO);
            let shifted = gate.add(ctx, next_cell, QuantumCell::Constant(offset));
            self.range.range_check(ctx, shifted, CARRY_BITS + 1);
            carry = Some(next_cell);
        }
    }

    /// Witnesses `value mod m` as a reduced-value element (limbs range-checked).
    fn witness_mod(&self, ctx: &mut Context<Fr>, value: BigInt) -> AssignedFe<P> {
        let m = BigInt::from(modulus::<P>());
        let r = ((value % &m) + &m) % &m;
        self.assign_limbs(ctx, r.magnitude().clone(), true)
    }

    /// `a + b mod m`.
    pub fn add(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        b: &AssignedFe<P>,
    ) -> AssignedFe<P> {
        let v = BigInt::from(&a.value + &b.value);
        let c = self.witness_mod(ctx, v);
        self.assert_zero_mod(ctx, &[], &[(1, a), (1, b), (-1, &c)], &BigInt::default());
        c
    }

    /// `a − b mod m`.
    pub fn sub(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        b: &AssignedFe<P>,
    ) -> AssignedFe<P> {
        let v = BigInt::from(a.value.clone()) - BigInt::from(b.value.clone());
        let c = self.witness_mod(ctx, v);
        self.assert_zero_mod(ctx, &[], &[(1, a), (-1, b), (-1, &c)], &BigInt::default());
        c
    }

    /// `a · b mod m`.
    pub fn mul(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        b: &AssignedFe<P>,
    ) -> AssignedFe<P> {
        let v = BigInt::from(&a.value * &b.value);
        let c = self.witness_mod(ctx, v);
        self.assert_zero_mod(ctx, &[(1, a, b)], &[(-1, &c)], &BigInt::default());
        c
    }

    /// `b^{-1} mod m`, constraining `b ≢ 0`.
    pub fn invert(&self, ctx: &mut Context<Fr>, b: &AssignedFe<P>) -> AssignedFe<P> {
        let m = modulus::<P>();
        let bv = Fe::<P>::from_u64_digits_reduced(&b.value, &m);
        let inv = Option::<Fe<P>>::from(halo2_base::halo2_proofs::halo2curves::ff::Field::invert(
            &bv,
        ))
        .unwrap_or_default();
        let c = self.load_private(ctx, inv);
        self.assert_zero_mod(ctx, &[(1, b, &c)], &[], &BigInt::from(-1));
        c
    }

    /// `a / b mod m`, constraining `b ≢ 0`.
    pub fn divide(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        b: &AssignedFe<P>,
    ) -> AssignedFe<P> {
        let inv = self.invert(ctx, b);
        self.mul(ctx, a, &inv)
    }

    /// Witnesses the value of an identity's solution: `(Σ c·x·y + Σ d·z + k) mod m`.
    pub(crate) fn eval(
        &self,
        ctx: &mut Context<Fr>,
        prods: &[ProdTerm<'_, P>],
        lins: &[LinTerm<'_, P>],
        k: &BigInt,
    ) -> AssignedFe<P> {
        let mut v = k.clone();
        for (c, x, y) in prods {
            v += BigInt::from(*c) * BigInt::from(&x.value * &y.value);
        }
        for (d, z) in lins {
            v += BigInt::from(*d) * BigInt::from(z.value.clone());
        }
        self.witness_mod(ctx, v)
    }

    /// Constrains `a < m` (the unique representative), by witnessing `d = m − 1 − a ≥ 0` and
    /// checking `a + d = m − 1` over the integers.
    pub fn assert_reduced(&self, ctx: &mut Context<Fr>, a: &AssignedFe<P>) {
        self.assert_less_than_const(ctx, a, &modulus::<P>());
    }

    /// Constrains `a < bound` as integers for a constant `0 < bound ≤ 2^384`.
    pub fn assert_less_than_const(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        bound: &BigUint,
    ) {
        let gate = self.range.gate();
        let top = BigInt::from(bound.clone()) - 1u8;
        let d = top.clone() - BigInt::from(a.value.clone());
        let d = d.to_biguint().unwrap_or_default();
        let d = self.assign_limbs(
            ctx,
            d % (BigUint::from(1u8) << (LIMB_BITS * NUM_LIMBS)),
            true,
        );
        let top_parts = split(&top.to_biguint().unwrap_or_default(), NUM_LIMBS);
        let base = to_fr(&(BigUint::from(1u8) << LIMB_BITS));
        let mut carry: Option<AssignedValue<Fr>> = None;
        for t in 0..NUM_LIMBS {
            let (Some(al), Some(dl)) = (a.limbs.get(t), d.limbs.get(t)) else {
                break;
            };
            let tp = top_parts.get(t).map(to_fr).unwrap_or(Fr::ZERO);
            let mut s = gate.add(ctx, *al, *dl);
            s = gate.sub(ctx, s, QuantumCell::Constant(tp));
            if let Some(c) = carry {
                s = gate.add(ctx, s, c);
            }
            if t + 1 == NUM_LIMBS {
                gate.assert_is_const(ctx, &s, &Fr::ZERO);
                break;
            }
            // s ∈ {0, 2^96}: the carry is a bit.
            let c_val = fe_to_bigint(s.value()) >> LIMB_BITS;
            let c = ctx.load_witness(bigint_to_fe(&c_val));
            gate.assert_bit(ctx, c);
            let diff = gate.mul_add(ctx, c, QuantumCell::Constant(-base), s);
            gate.assert_is_const(ctx, &diff, &Fr::ZERO);
            carry = Some(c);
        }
    }

    /// Constrains `a = b` as integers (limb by limb).
    pub fn assert_equal_integers(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedFe<P>,
        b: &AssignedFe<P>,
    ) {
        for (x, y) in a.limbs.iter().zip(b.limbs.iter()) {
            ctx.constrain_equal(x, y);
        }
    }

    /// Selects `values[i]` where `indicator` is one-hot at `i` (from `bits_to_indicator`).
    pub fn select_by_indicator(
        &self,
        ctx: &mut Context<Fr>,
        values: &[&AssignedFe<P>],
        indicator: &[AssignedValue<Fr>],
    ) -> AssignedFe<P> {
        let gate = self.range.gate();
        let limbs: [AssignedValue<Fr>; NUM_LIMBS] = core::array::from_fn(|i| {
            let column: Vec<AssignedValue<Fr>> = values
                .iter()
                .filter_map(|v| v.limbs.get(i).copied())
                .collect();
            gate.select_by_indicator(ctx, column, indicator.iter().copied())
        });
        let value = values
            .iter()
            .zip(indicator.iter())
            .find(|(_, ind)| *ind.value() == Fr::ONE)
            .map(|(v, _)| v.value.clone())
            .unwrap_or_default();
        AssignedFe {
            limbs,
            value,
            _p: PhantomData,
        }
    }

    /// The integer value reduced into a native field element (for witness computations).
    pub fn native(&self, a: &AssignedFe<P>) -> Fe<P> {
        Fe::<P>::from_u64_digits_reduced(&a.value, &modulus::<P>())
    }
}

/// `floor(v / 2^bits)` for signed `v`.
fn floor_shift(v: &BigInt, bits: usize) -> BigInt {
    // BigInt's `>>` rounds toward negative infinity, which is what the carry chain needs.
    v >> bits
}

/// Small helper so that the chip can build `Fr` constants from signed coefficients.
trait FromI64 {
    fn from_i64(v: i64) -> Self;
}
impl FromI64 for Fr {
    fn from_i64(v: i64) -> Self {
        let mag = Fr::from(v.unsigned_abs());
        if v < 0 { -mag } else { mag }
    }
}

impl<P: FieldParams> Fe<P> {
    /// The element `v mod m` for an integer given as a `BigUint`.
    pub(crate) fn from_u64_digits_reduced(v: &BigUint, m: &BigUint) -> Self {
        let r = v % m;
        let mut bytes = r.to_bytes_le();
        bytes.resize(64, 0);
        let mut wide = [0u8; 64];
        for (dst, src) in wide.iter_mut().zip(bytes.iter()) {
            *dst = *src;
        }
        <Self as halo2_base::halo2_proofs::halo2curves::ff::FromUniformBytes<64>>::from_uniform_bytes(
            &wide,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::field::{Fp, Fq, P384Base, P384Scalar};
    use crate::testing::mock;
    use halo2_base::halo2_proofs::halo2curves::ff::Field;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn field_operations_match_native_on_random_inputs() {
        let mut rng = StdRng::seed_from_u64(11);
        let xs: Vec<(Fp, Fp)> = (0..3)
            .map(|_| (Fp::random(&mut rng), Fp::random(&mut rng)))
            .collect();
        let ((), ok) = mock(13, |ctx, range| {
            let chip = FieldChip384::<P384Base>::new(range);
            for (a, b) in &xs {
                let (aa, bb) = (chip.load_private(ctx, *a), chip.load_private(ctx, *b));
                assert_eq!(chip.native(&chip.mul(ctx, &aa, &bb)), *a * b);
                assert_eq!(chip.native(&chip.add(ctx, &aa, &bb)), *a + b);
                assert_eq!(chip.native(&chip.sub(ctx, &aa, &bb)), *a - b);
                assert_eq!(
                    chip.native(&chip.divide(ctx, &aa, &bb)),
                    *a * b.invert().unwrap()
                );
                chip.assert_reduced(ctx, &aa);
            }
        });
        assert!(ok);
    }

    #[test]
    fn scalar_field_products_of_unreduced_integers_are_constrained() {
        // Inputs up to 2^384 - 1 (above n), as a SHA-384 digest can be.
        let mut rng = StdRng::seed_from_u64(12);
        let a = Fq::random(&mut rng);
        let ((), ok) = mock(13, |ctx, range| {
            let chip = FieldChip384::<P384Scalar>::new(range);
            let big = chip.load_integer(ctx, (BigUint::from(1u8) << 384usize) - 1u8);
            let aa = chip.load_private(ctx, a);
            let c = chip.mul(ctx, &big, &aa);
            let expect = Fq::from_u64_digits_reduced(
                &((BigUint::from(1u8) << 384usize) - 1u8),
                &modulus::<P384Scalar>(),
            ) * a;
            assert_eq!(chip.native(&c), expect);
        });
        assert!(ok);
    }

    #[test]
    fn wrong_product_witness_is_rejected() {
        let mut rng = StdRng::seed_from_u64(13);
        let (a, b) = (Fp::random(&mut rng), Fp::random(&mut rng));
        let ((), ok) = mock(13, |ctx, range| {
            let chip = FieldChip384::<P384Base>::new(range);
            let (aa, bb) = (chip.load_private(ctx, a), chip.load_private(ctx, b));
            let wrong = chip.load_private(ctx, a * b + Fp::ONE);
            chip.assert_zero_mod(ctx, &[(1, &aa, &bb)], &[(-1, &wrong)], &BigInt::default());
        });
        assert!(!ok);
        // The same product shifted by the modulus (an unreduced representative) is accepted:
        // identities are modular, reduction is a separate constraint.
        let ((), ok) = mock(13, |ctx, range| {
            let chip = FieldChip384::<P384Base>::new(range);
            let (aa, bb) = (chip.load_private(ctx, a), chip.load_private(ctx, b));
            let v = BigUint::from_bytes_be(&(a * b).to_be_bytes()) + modulus::<P384Base>();
            if v < (BigUint::from(1u8) << 384usize) {
                let c = chip.load_integer(ctx, v);
                chip.assert_zero_mod(ctx, &[(1, &aa, &bb)], &[(-1, &c)], &BigInt::default());
            }
        });
        assert!(ok);
    }

    #[test]
    fn unreduced_value_fails_the_reduction_check() {
        let ((), ok) = mock(12, |ctx, range| {
            let chip = FieldChip384::<P384Base>::new(range);
            let p = chip.load_integer(ctx, modulus::<P384Base>());
            chip.assert_reduced(ctx, &p);
        });
        assert!(!ok);
        let ((), ok) = mock(12, |ctx, range| {
            let chip = FieldChip384::<P384Base>::new(range);
            let p = chip.load_integer(ctx, modulus::<P384Base>() - 1u8);
            chip.assert_reduced(ctx, &p);
        });
        assert!(ok);
    }

    #[test]
    fn zero_has_no_inverse_in_the_circuit() {
        let ((), ok) = mock(12, |ctx, range| {
            let chip = FieldChip384::<P384Scalar>::new(range);
            let z = chip.load_private(ctx, Fq::ZERO);
            let _ = chip.invert(ctx, &z);
        });
        assert!(!ok);
    }
}
