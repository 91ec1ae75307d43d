//! The two P-384 prime fields — the base field `Fp` (coordinates) and the scalar field `Fq`
//! (the group order `n`) — as our own 384-bit Montgomery-form types implementing the `ff`
//! traits and halo2-base's `ScalarField`/`BigPrimeField`, which is what halo2-ecc's non-native
//! `FpChip<F, Fp>` requires of the emulated field.
//!
//! halo2-base only implements `BigPrimeField` (through a blanket impl) for 256-bit fields that
//! convert from `[u64; 4]`; its conversion `biguint_to_fe` goes through
//! `BigPrimeField::from_u64_digits`, which we implement here for six digits.
//!
//! The arithmetic is textbook CIOS Montgomery multiplication over six 64-bit limbs. It is not
//! constant time in the sense required for secret keys (the prover's witness is a signed report
//! and a public key, not a signing key); equality, selection and the `subtle` traits are provided
//! for the `ff` contract.

// The limb arithmetic below indexes fixed-size arrays with loop counters bounded by the array
// length, and truncates `u128` products to `u64` halves on purpose.
#![allow(clippy::indexing_slicing, clippy::as_conversions)]

use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::{Product, Sum};
use core::marker::PhantomData;
use core::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use halo2_base::halo2_proofs::halo2curves::ff::{self, Field, FromUniformBytes, PrimeField};
use halo2_base::utils::{BigPrimeField, ScalarField};
use rand_core::RngCore;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, CtOption};

/// Number of 64-bit limbs in a 384-bit field element.
const LIMBS: usize = 6;
type Limbs = [u64; LIMBS];

/// The constants that define one 384-bit prime field in Montgomery form (`R = 2^384`).
pub trait FieldParams: 'static + Copy + Send + Sync + Eq + fmt::Debug + Default {
    /// The modulus, little-endian limbs.
    const MODULUS: Limbs;
    /// The modulus as `ff` wants it: big-endian hex with `0x`.
    const MODULUS_HEX: &'static str;
    /// `-MODULUS^{-1} mod 2^64`.
    const INV: u64;
    /// `R mod MODULUS` (Montgomery one).
    const R: Limbs;
    /// `R^2 mod MODULUS`.
    const R2: Limbs;
    /// `R^3 mod MODULUS`.
    const R3: Limbs;
    /// A generator of the multiplicative group (the value RustCrypto's `p384` uses).
    const GENERATOR: u64;
    /// Short name for `Debug`.
    const NAME: &'static str;
}

/// Parameters of the P-384 base field, p = 2^384 − 2^128 − 2^96 + 2^32 − 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct P384Base;

impl FieldParams for P384Base {
    const MODULUS: Limbs = [
        0x0000_0000_ffff_ffff,
        0xffff_ffff_0000_0000,
        0xffff_ffff_ffff_fffe,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
    ];
    const MODULUS_HEX: &'static str = "0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff";
    const INV: u64 = 0x0000_0001_0000_0001;
    const R: Limbs = [
        0xffff_ffff_0000_0001,
        0x0000_0000_ffff_ffff,
        0x0000_0000_0000_0001,
        0,
        0,
        0,
    ];
    const R2: Limbs = [
        0xffff_fffe_0000_0001,
        0x0000_0002_0000_0000,
        0xffff_fffe_0000_0000,
        0x0000_0002_0000_0000,
        0x0000_0000_0000_0001,
        0,
    ];
    const R3: Limbs = [
        0xffff_fffc_0000_0002,
        0x0000_0003_0000_0002,
        0xffff_fffc_ffff_fffe,
        0x0000_0003_0000_0005,
        0xffff_fffd_ffff_fffd,
        0x0000_0003_0000_0002,
    ];
    const GENERATOR: u64 = 19;
    const NAME: &'static str = "Fp384";
}

/// Parameters of the P-384 scalar field (the group order n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct P384Scalar;

impl FieldParams for P384Scalar {
    const MODULUS: Limbs = [
        0xecec_196a_ccc5_2973,
        0x581a_0db2_48b0_a77a,
        0xc763_4d81_f437_2ddf,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
    ];
    const MODULUS_HEX: &'static str = "0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
    const INV: u64 = 0x6ed4_6089_e88f_dc45;
    const R: Limbs = [
        0x1313_e695_333a_d68d,
        0xa7e5_f24d_b74f_5885,
        0x389c_b27e_0bc8_d220,
        0,
        0,
        0,
    ];
    const R2: Limbs = [
        0x2d31_9b24_19b4_09a9,
        0xff3d_81e5_df1a_a419,
        0xbc3e_483a_fcb8_2947,
        0xd40d_4917_4aab_1cc5,
        0x3fb0_5b7a_2826_6895,
        0x0c84_ee01_2b39_bf21,
    ];
    const R3: Limbs = [
        0x302a_6faf_377c_7677,
        0x2a70_cb61_d268_94bc,
        0x0c27_ddb8_ba8d_c4ba,
        0x5dbd_3f41_edb4_8eb6,
        0x16d0_8167_9522_617b,
        0xd558_bfbc_b33c_33c6,
    ];
    const GENERATOR: u64 = 2;
    const NAME: &'static str = "Fq384";
}

/// An element of a 384-bit prime field, stored in Montgomery form (always fully reduced).
pub struct Fe<P: FieldParams>(Limbs, PhantomData<P>);

/// The P-384 base field (point coordinates).
pub type Fp = Fe<P384Base>;
/// The P-384 scalar field (integers modulo the group order n).
pub type Fq = Fe<P384Scalar>;

// ---- limb primitives (const so that the `PrimeField` constants are computed at compile time) ----

const fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = (a as u128) + (b as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

/// `a - b - borrow` with `borrow` in {0, 1}; returns the difference and the new borrow.
const fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = (a as u128).wrapping_sub((b as u128) + (borrow as u128));
    (t as u64, (t >> 127) as u64)
}

/// `a + b * c + carry`, split into low and high words.
const fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = (a as u128) + (b as u128) * (c as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

/// `(a + top * 2^384) - m` if that is non-negative, else `a`. Requires the input `< 2m`.
const fn reduce_once(a: &Limbs, top: u64, m: &Limbs) -> Limbs {
    let mut d = [0u64; LIMBS];
    let mut borrow = 0;
    let mut i = 0;
    while i < LIMBS {
        let (v, b) = sbb(a[i], m[i], borrow);
        d[i] = v;
        borrow = b;
        i += 1;
    }
    let (_, borrow) = sbb(top, 0, borrow);
    if borrow == 1 { *a } else { d }
}

const fn mont_mul(a: &Limbs, b: &Limbs, m: &Limbs, inv: u64) -> Limbs {
    let mut t = [0u64; LIMBS + 2];
    let mut i = 0;
    while i < LIMBS {
        let mut carry = 0;
        let mut j = 0;
        while j < LIMBS {
            let (lo, hi) = mac(t[j], a[j], b[i], carry);
            t[j] = lo;
            carry = hi;
            j += 1;
        }
        let (lo, hi) = adc(t[LIMBS], carry, 0);
        t[LIMBS] = lo;
        t[LIMBS + 1] = hi;

        let k = t[0].wrapping_mul(inv);
        let (_, mut carry) = mac(t[0], k, m[0], 0);
        let mut j = 1;
        while j < LIMBS {
            let (lo, hi) = mac(t[j], k, m[j], carry);
            t[j - 1] = lo;
            carry = hi;
            j += 1;
        }
        let (lo, hi) = adc(t[LIMBS], carry, 0);
        t[LIMBS - 1] = lo;
        t[LIMBS] = t[LIMBS + 1] + hi;
        t[LIMBS + 1] = 0;
        i += 1;
    }
    let r = [t[0], t[1], t[2], t[3], t[4], t[5]];
    reduce_once(&r, t[LIMBS], m)
}

const fn add_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let mut s = [0u64; LIMBS];
    let mut carry = 0;
    let mut i = 0;
    while i < LIMBS {
        let (v, c) = adc(a[i], b[i], carry);
        s[i] = v;
        carry = c;
        i += 1;
    }
    reduce_once(&s, carry, m)
}

const fn sub_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let mut d = [0u64; LIMBS];
    let mut borrow = 0;
    let mut i = 0;
    while i < LIMBS {
        let (v, bo) = sbb(a[i], b[i], borrow);
        d[i] = v;
        borrow = bo;
        i += 1;
    }
    if borrow == 0 {
        return d;
    }
    let mut s = [0u64; LIMBS];
    let mut carry = 0;
    let mut i = 0;
    while i < LIMBS {
        let (v, c) = adc(d[i], m[i], carry);
        s[i] = v;
        carry = c;
        i += 1;
    }
    s
}

const fn is_zero_limbs(a: &Limbs) -> bool {
    let mut i = 0;
    while i < LIMBS {
        if a[i] != 0 {
            return false;
        }
        i += 1;
    }
    true
}

/// `a < m` as integers.
const fn lt(a: &Limbs, m: &Limbs) -> bool {
    let mut borrow = 0;
    let mut i = 0;
    while i < LIMBS {
        let (_, b) = sbb(a[i], m[i], borrow);
        borrow = b;
        i += 1;
    }
    borrow == 1
}

/// `(m + 1) / 2`, the inverse of two for odd m.
const fn half_plus_one(m: &Limbs) -> Limbs {
    let mut r = [0u64; LIMBS];
    let mut i = 0;
    while i < LIMBS {
        let hi = if i + 1 < LIMBS { m[i + 1] << 63 } else { 0 };
        r[i] = (m[i] >> 1) | hi;
        i += 1;
    }
    // m is odd, so (m + 1) / 2 = (m >> 1) + 1.
    let mut carry = 1;
    let mut i = 0;
    while i < LIMBS {
        let (v, c) = adc(r[i], 0, carry);
        r[i] = v;
        carry = c;
        i += 1;
    }
    r
}

impl<P: FieldParams> Fe<P> {
    const fn from_mont(limbs: Limbs) -> Self {
        Self(limbs, PhantomData)
    }

    /// The element with the canonical (non-Montgomery) value `limbs`, which must be `< MODULUS`.
    const fn from_canonical_limbs(limbs: &Limbs) -> Self {
        Self::from_mont(mont_mul(limbs, &P::R2, &P::MODULUS, P::INV))
    }

    /// The element `v`.
    pub const fn from_u64_const(v: u64) -> Self {
        Self::from_canonical_limbs(&[v, 0, 0, 0, 0, 0])
    }

    /// The canonical little-endian limbs of the value.
    pub const fn to_canonical_limbs(&self) -> Limbs {
        mont_mul(&self.0, &[1, 0, 0, 0, 0, 0], &P::MODULUS, P::INV)
    }

    /// The element for canonical little-endian limbs, or `None` if they are not `< MODULUS`.
    pub fn from_limbs(limbs: Limbs) -> Option<Self> {
        lt(&limbs, &P::MODULUS).then(|| Self::from_canonical_limbs(&limbs))
    }

    /// The element for a 48-byte big-endian encoding (SEC1 / SNP reports byte-reversed), or
    /// `None` if it is not `< MODULUS`.
    pub fn from_be_bytes(bytes: &[u8; 48]) -> Option<Self> {
        let mut le = *bytes;
        le.reverse();
        Option::from(Self::from_repr(Repr48(le)))
    }

    /// The element for a 48-byte big-endian constant; fails to compile (or panics) if the value
    /// is not below the modulus. For fixed literals only.
    pub const fn from_be_bytes_const(bytes: &[u8; 48]) -> Self {
        let mut limbs = [0u64; LIMBS];
        let mut i = 0;
        while i < 48 {
            let limb = (47 - i) / 8;
            let shift = ((47 - i) % 8) * 8;
            limbs[limb] |= (bytes[i] as u64) << shift;
            i += 1;
        }
        assert!(lt(&limbs, &P::MODULUS), "constant not below the modulus");
        Self::from_canonical_limbs(&limbs)
    }

    /// The 48-byte big-endian encoding.
    pub fn to_be_bytes(&self) -> [u8; 48] {
        let mut b = self.to_repr().0;
        b.reverse();
        b
    }

    /// Reduce any 384-bit big-endian integer modulo the modulus (how ECDSA turns a SHA-384
    /// digest into a scalar).
    pub fn reduce_be_bytes(bytes: &[u8; 48]) -> Self {
        let mut wide = [0u8; 64];
        for (dst, src) in wide.iter_mut().zip(bytes.iter().rev()) {
            *dst = *src;
        }
        Self::from_uniform_bytes(&wide)
    }

    const fn mul_const(&self, rhs: &Self) -> Self {
        Self::from_mont(mont_mul(&self.0, &rhs.0, &P::MODULUS, P::INV))
    }

    const fn neg_const(&self) -> Self {
        if is_zero_limbs(&self.0) {
            *self
        } else {
            Self::from_mont(sub_mod(&[0; LIMBS], &self.0, &P::MODULUS))
        }
    }

    /// `self^e` for an exponent given as little-endian limbs.
    fn pow_limbs(&self, e: &Limbs) -> Self {
        let mut acc = Self::ONE;
        for limb in e.iter().rev() {
            for i in (0..64).rev() {
                acc = acc.square();
                if (limb >> i) & 1 == 1 {
                    acc *= self;
                }
            }
        }
        acc
    }
}

impl<P: FieldParams> Clone for Fe<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P: FieldParams> Copy for Fe<P> {}

impl<P: FieldParams> Default for Fe<P> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<P: FieldParams> PartialEq for Fe<P> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<P: FieldParams> Eq for Fe<P> {}

impl<P: FieldParams> PartialOrd for Fe<P> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: FieldParams> Ord for Fe<P> {
    /// Orders by the canonical integer value.
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let (a, b) = (self.to_canonical_limbs(), other.to_canonical_limbs());
        a.iter().rev().cmp(b.iter().rev())
    }
}

impl<P: FieldParams> Hash for Fe<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<P: FieldParams> fmt::Debug for Fe<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(0x", P::NAME)?;
        for b in self.to_be_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl<P: FieldParams> ConstantTimeEq for Fe<P> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(Choice::from(1u8), |acc, (a, b)| acc & a.ct_eq(b))
    }
}

impl<P: FieldParams> ConditionallySelectable for Fe<P> {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        let mut out = [0u64; LIMBS];
        for ((o, x), y) in out.iter_mut().zip(a.0.iter()).zip(b.0.iter()) {
            *o = u64::conditional_select(x, y, choice);
        }
        Self::from_mont(out)
    }
}

impl<P: FieldParams> From<u64> for Fe<P> {
    fn from(v: u64) -> Self {
        Self::from_u64_const(v)
    }
}

impl<P: FieldParams> From<bool> for Fe<P> {
    fn from(v: bool) -> Self {
        Self::from(u64::from(v))
    }
}

// ---- operators ----

impl<P: FieldParams> Neg for Fe<P> {
    type Output = Self;
    fn neg(self) -> Self {
        self.neg_const()
    }
}

impl<'a, P: FieldParams> Add<&'a Fe<P>> for Fe<P> {
    type Output = Self;
    fn add(self, rhs: &'a Self) -> Self {
        Self::from_mont(add_mod(&self.0, &rhs.0, &P::MODULUS))
    }
}
impl<'a, P: FieldParams> Sub<&'a Fe<P>> for Fe<P> {
    type Output = Self;
    fn sub(self, rhs: &'a Self) -> Self {
        Self::from_mont(sub_mod(&self.0, &rhs.0, &P::MODULUS))
    }
}
impl<'a, P: FieldParams> Mul<&'a Fe<P>> for Fe<P> {
    type Output = Self;
    fn mul(self, rhs: &'a Self) -> Self {
        self.mul_const(rhs)
    }
}

macro_rules! by_value_ops {
    ($($tr:ident $m:ident $atr:ident $am:ident),*) => {$(
        impl<P: FieldParams> $tr<Fe<P>> for Fe<P> {
            type Output = Self;
            fn $m(self, rhs: Self) -> Self { $tr::<&Self>::$m(self, &rhs) }
        }
        impl<'a, P: FieldParams> $atr<&'a Fe<P>> for Fe<P> {
            fn $am(&mut self, rhs: &'a Self) { *self = $tr::<&Self>::$m(*self, rhs); }
        }
        impl<P: FieldParams> $atr<Fe<P>> for Fe<P> {
            fn $am(&mut self, rhs: Self) { *self = $tr::<&Self>::$m(*self, &rhs); }
        }
    )*};
}
by_value_ops!(Add add AddAssign add_assign, Sub sub SubAssign sub_assign, Mul mul MulAssign mul_assign);

impl<P: FieldParams> Sum for Fe<P> {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, |a, b| a + b)
    }
}
impl<'a, P: FieldParams> Sum<&'a Fe<P>> for Fe<P> {
    fn sum<I: Iterator<Item = &'a Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, |a, b| a + b)
    }
}
impl<P: FieldParams> Product for Fe<P> {
    fn product<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ONE, |a, b| a * b)
    }
}
impl<'a, P: FieldParams> Product<&'a Fe<P>> for Fe<P> {
    fn product<I: Iterator<Item = &'a Self>>(iter: I) -> Self {
        iter.fold(Self::ONE, |a, b| a * b)
    }
}

// ---- ff traits ----

impl<P: FieldParams> Field for Fe<P> {
    const ZERO: Self = Self::from_mont([0; LIMBS]);
    const ONE: Self = Self::from_mont(P::R);

    fn random(mut rng: impl RngCore) -> Self {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        Self::from_uniform_bytes(&wide)
    }

    fn square(&self) -> Self {
        self.mul_const(self)
    }

    fn double(&self) -> Self {
        *self + self
    }

    fn invert(&self) -> CtOption<Self> {
        // Fermat: a^(m-2).
        let e = sub_mod(&P::MODULUS, &[2, 0, 0, 0, 0, 0], &[u64::MAX; LIMBS]);
        let inv = self.pow_limbs(&e);
        CtOption::new(inv, !self.is_zero())
    }

    fn sqrt(&self) -> CtOption<Self> {
        // Both P-384 moduli are 3 mod 4: sqrt(a) = a^((m+1)/4) when a is a square.
        let e = half_plus_one(&P::MODULUS);
        let mut quarter = [0u64; LIMBS];
        for i in 0..LIMBS {
            let hi = if i + 1 < LIMBS { e[i + 1] << 63 } else { 0 };
            quarter[i] = (e[i] >> 1) | hi;
        }
        let r = self.pow_limbs(&quarter);
        CtOption::new(r, r.square().ct_eq(self))
    }

    fn sqrt_ratio(num: &Self, div: &Self) -> (Choice, Self) {
        ff::helpers::sqrt_ratio_generic(num, div)
    }
}

/// The 48-byte little-endian representation used by [`PrimeField::Repr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr48(pub [u8; 48]);

impl Default for Repr48 {
    fn default() -> Self {
        Self([0; 48])
    }
}
impl AsRef<[u8]> for Repr48 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl AsMut<[u8]> for Repr48 {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<P: FieldParams> PrimeField for Fe<P> {
    type Repr = Repr48;

    const MODULUS: &'static str = P::MODULUS_HEX;
    const NUM_BITS: u32 = 384;
    const CAPACITY: u32 = 383;
    const TWO_INV: Self = Self::from_canonical_limbs(&half_plus_one(&P::MODULUS));
    const MULTIPLICATIVE_GENERATOR: Self = Self::from_u64_const(P::GENERATOR);
    const S: u32 = 1;
    const ROOT_OF_UNITY: Self = Self::ONE.neg_const();
    const ROOT_OF_UNITY_INV: Self = Self::ONE.neg_const();
    const DELTA: Self =
        Self::from_u64_const(P::GENERATOR).mul_const(&Self::from_u64_const(P::GENERATOR));

    fn from_repr(repr: Repr48) -> CtOption<Self> {
        let mut limbs = [0u64; LIMBS];
        for (limb, chunk) in limbs.iter_mut().zip(repr.0.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *limb = u64::from_le_bytes(b);
        }
        let ok = lt(&limbs, &P::MODULUS);
        let value = if ok {
            Self::from_canonical_limbs(&limbs)
        } else {
            Self::ZERO
        };
        CtOption::new(value, Choice::from(u8::from(ok)))
    }

    fn to_repr(&self) -> Repr48 {
        let mut out = [0u8; 48];
        for (chunk, limb) in out.chunks_exact_mut(8).zip(self.to_canonical_limbs()) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        Repr48(out)
    }

    fn is_odd(&self) -> Choice {
        Choice::from(u8::from(self.to_canonical_limbs()[0] & 1 == 1))
    }
}

impl<P: FieldParams> FromUniformBytes<64> for Fe<P> {
    /// Reduces a 512-bit little-endian integer modulo the modulus.
    fn from_uniform_bytes(bytes: &[u8; 64]) -> Self {
        let mut lo = [0u64; LIMBS];
        let mut hi = [0u64; LIMBS];
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let v = u64::from_le_bytes(b);
            if i < LIMBS {
                lo[i] = v;
            } else {
                hi[i - LIMBS] = v;
            }
        }
        // lo < 2^384 < 2m, so one Montgomery step by R^2 reduces it; hi * 2^384 is hi * R^3 / R.
        let lo = Self::from_mont(mont_mul(&lo, &P::R2, &P::MODULUS, P::INV));
        let hi = Self::from_mont(mont_mul(&hi, &P::R3, &P::MODULUS, P::INV));
        lo + hi
    }
}

// ---- halo2-base traits ----

impl<P: FieldParams> ScalarField for Fe<P> {
    fn to_u64_limbs(self, num_limbs: usize, bit_len: usize) -> Vec<u64> {
        let digits = self.to_canonical_limbs();
        let mask = if bit_len >= 64 {
            u64::MAX
        } else {
            (1u64 << bit_len) - 1
        };
        (0..num_limbs)
            .map(|k| {
                let start = k * bit_len;
                let (word, shift) = (start / 64, start % 64);
                let lo = digits.get(word).copied().unwrap_or(0) >> shift;
                let hi = if shift == 0 {
                    0
                } else {
                    digits.get(word + 1).copied().unwrap_or(0) << (64 - shift)
                };
                (lo | hi) & mask
            })
            .collect()
    }

    fn to_bytes_le(&self) -> Vec<u8> {
        self.to_repr().0.to_vec()
    }
}

impl<P: FieldParams> BigPrimeField for Fe<P> {
    /// `val` are little-endian 64-bit digits of an integer below the modulus (halo2-base's
    /// contract); more than six digits or a value at or above the modulus is reduced.
    fn from_u64_digits(val: &[u64]) -> Self {
        let mut wide = [0u8; 64];
        for (chunk, d) in wide.chunks_exact_mut(8).zip(val.iter()) {
            chunk.copy_from_slice(&d.to_le_bytes());
        }
        debug_assert!(val.len() <= LIMBS);
        Self::from_uniform_bytes(&wide)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use num_bigint::BigUint;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn modulus<P: FieldParams>() -> BigUint {
        BigUint::parse_bytes(P::MODULUS_HEX.trim_start_matches("0x").as_bytes(), 16).unwrap()
    }
    fn big<P: FieldParams>(a: &Fe<P>) -> BigUint {
        BigUint::from_bytes_be(&a.to_be_bytes())
    }
    fn from_big<P: FieldParams>(v: &BigUint) -> Fe<P> {
        let mut b = v.to_bytes_le();
        b.resize(64, 0);
        Fe::<P>::from_uniform_bytes(&b.try_into().unwrap())
    }

    fn constants_match<P: FieldParams>() {
        let m = modulus::<P>();
        let limbs = m.to_u64_digits();
        assert_eq!(limbs, P::MODULUS.to_vec());
        let r: BigUint = BigUint::from(1u8) << 384usize;
        let digits = |v: BigUint| {
            let mut d = v.to_u64_digits();
            d.resize(6, 0);
            d
        };
        assert_eq!(digits(&r % &m), P::R.to_vec());
        let r2: BigUint = &r * &r;
        let r3: BigUint = &r2 * &r;
        assert_eq!(digits(r2 % &m), P::R2.to_vec());
        assert_eq!(digits(r3 % &m), P::R3.to_vec());
        assert_eq!(
            P::MODULUS[0].wrapping_mul(P::INV),
            u64::MAX,
            "INV = -m^-1 mod 2^64"
        );
        assert_eq!(big(&Fe::<P>::TWO_INV) * 2u8 % &m, BigUint::from(1u8));
        assert_eq!(Fe::<P>::ROOT_OF_UNITY.square(), Fe::<P>::ONE);
        assert_eq!(
            Fe::<P>::ROOT_OF_UNITY * Fe::<P>::ROOT_OF_UNITY_INV,
            Fe::<P>::ONE
        );
        assert_eq!(&m % 4u8, BigUint::from(3u8), "S = 1 requires m = 3 mod 4");
        let g = Fe::<P>::MULTIPLICATIVE_GENERATOR;
        // A generator is a non-residue (necessary; the full check needs the factors of m - 1).
        assert_eq!(g.pow_vartime((&m - 1u8).to_u64_digits()), Fe::<P>::ONE);
        let half: Vec<u64> = ((&m - 1u8) >> 1usize).to_u64_digits();
        assert_eq!(g.pow_vartime(&half), -Fe::<P>::ONE);
        assert_eq!(Fe::<P>::DELTA, g.square());
    }

    fn ops_match_bigint<P: FieldParams>(seed: u64) {
        let m = modulus::<P>();
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..200 {
            let a = Fe::<P>::random(&mut rng);
            let b = Fe::<P>::random(&mut rng);
            let (ba, bb) = (big(&a), big(&b));
            assert!(ba < m && bb < m);
            assert_eq!(big(&(a + b)), (&ba + &bb) % &m);
            assert_eq!(big(&(a - b)), (&ba + &m - &bb) % &m);
            assert_eq!(big(&(a * b)), (&ba * &bb) % &m);
            assert_eq!(big(&(-a)), (&m - &ba) % &m);
            assert_eq!(big(&a.square()), (&ba * &ba) % &m);
            assert_eq!(big(&a.double()), (&ba * 2u8) % &m);
            let inv = a.invert().unwrap();
            assert_eq!(a * inv, Fe::<P>::ONE);
            let sq = a.square();
            let root = sq.sqrt().unwrap();
            assert!(root == a || root == -a);
            assert_eq!(a.cmp(&b), ba.cmp(&bb));
            // representation round trips
            assert_eq!(Fe::<P>::from_repr(a.to_repr()).unwrap(), a);
            assert_eq!(Fe::<P>::from_be_bytes(&a.to_be_bytes()).unwrap(), a);
            assert_eq!(from_big::<P>(&ba), a);
            assert_eq!(halo2_base::utils::fe_to_biguint(&a), ba);
            assert_eq!(halo2_base::utils::biguint_to_fe::<Fe<P>>(&ba), a);
            assert_eq!(halo2_base::utils::modulus::<Fe<P>>(), m);
            // limb decomposition as halo2-ecc's FpChip uses it
            let limbs = a.to_u64_limbs(5, 63);
            let recomposed = limbs
                .iter()
                .rev()
                .fold(BigUint::from(0u8), |acc, l| (acc << 63) + BigUint::from(*l));
            assert_eq!(recomposed, &ba % (BigUint::from(1u8) << 315));
            // uniform bytes reduce a 512-bit integer
            let wide: [u8; 64] = core::array::from_fn(|_| rng.r#gen());
            assert_eq!(
                big(&Fe::<P>::from_uniform_bytes(&wide)),
                BigUint::from_bytes_le(&wide) % &m
            );
        }
        assert!(bool::from(Fe::<P>::ZERO.invert().is_none()));
        let mut too_big = [0u8; 48];
        too_big.copy_from_slice(&m.to_bytes_le());
        assert!(bool::from(Fe::<P>::from_repr(Repr48(too_big)).is_none()));
        assert!(Fe::<P>::from_limbs(P::MODULUS).is_none());
        // a non-residue has no square root
        assert!(bool::from(
            Fe::<P>::MULTIPLICATIVE_GENERATOR.sqrt().is_none()
        ));
    }

    #[test]
    fn base_field_constants_are_right() {
        constants_match::<P384Base>();
    }
    #[test]
    fn scalar_field_constants_are_right() {
        constants_match::<P384Scalar>();
    }
    #[test]
    fn base_field_arithmetic_matches_bigint_on_random_inputs() {
        ops_match_bigint::<P384Base>(1);
    }
    #[test]
    fn scalar_field_arithmetic_matches_bigint_on_random_inputs() {
        ops_match_bigint::<P384Scalar>(2);
    }

    #[test]
    fn arithmetic_matches_rustcrypto_p384() {
        use p384::elliptic_curve::ff::{Field as _, PrimeField as _};
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let a = p384::Scalar::random(&mut rng);
            let b = p384::Scalar::random(&mut rng);
            let mine = |s: &p384::Scalar| {
                let bytes: [u8; 48] = s.to_repr().into();
                Fq::from_be_bytes(&bytes).unwrap()
            };
            let back = |f: Fq| f.to_be_bytes();
            let ab: [u8; 48] = (a * b).to_repr().into();
            assert_eq!(back(mine(&a) * mine(&b)), ab);
            let inv: [u8; 48] = a.invert().unwrap().to_repr().into();
            assert_eq!(back(mine(&a).invert().unwrap()), inv);
            let x = p384::FieldElement::random(&mut rng);
            let y = p384::FieldElement::random(&mut rng);
            let xb: [u8; 48] = x.to_repr().into();
            let yb: [u8; 48] = y.to_repr().into();
            let xy: [u8; 48] = (x * y).to_repr().into();
            let (mx, my) = (
                Fp::from_be_bytes(&xb).unwrap(),
                Fp::from_be_bytes(&yb).unwrap(),
            );
            assert_eq!((mx * my).to_be_bytes(), xy);
            let xmy: [u8; 48] = (x - y).to_repr().into();
            assert_eq!((mx - my).to_be_bytes(), xmy);
        }
    }
}
