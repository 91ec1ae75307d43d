//! Native P-384 (`y^2 = x^3 - 3x + b` over [`Fp`], prime order n) in affine coordinates: the
//! witness generator and the oracle for the in-circuit gadgets, and the source of the circuit's
//! constant points (the generator and the offset point of the scalar multiplication).
//!
//! halo2-ecc's `CurveAffine`-based helpers assume `a = 0` (its doubling computes `3x^2 / 2y`),
//! so the circuit does not use them; this type carries exactly what our gadgets need.

use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};

use crate::field::{Fp, Fq};

/// The curve coefficient b.
pub const B: Fp = Fp::from_be_bytes_const(&hex48(
    "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
));
/// The x coordinate of the generator G.
pub const GX: Fp = Fp::from_be_bytes_const(&hex48(
    "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
));
/// The y coordinate of the generator G.
pub const GY: Fp = Fp::from_be_bytes_const(&hex48(
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
));

/// Parses 96 hex digits at compile time (the inputs above are fixed literals; the loop bounds
/// keep every index in range).
#[allow(clippy::indexing_slicing)]
const fn hex48(s: &str) -> [u8; 48] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0xff,
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 96, "need 96 hex digits");
    let mut out = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        let (hi, lo) = (nibble(b[2 * i]), nibble(b[2 * i + 1]));
        assert!(hi < 16 && lo < 16, "not a lowercase hex digit");
        out[i] = (hi << 4) | lo;
        i += 1;
    }
    out
}

/// A point of P-384 in affine coordinates, or the point at infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// The identity.
    Infinity,
    /// A finite point `(x, y)`; constructed only on the curve.
    Affine {
        /// x coordinate.
        x: Fp,
        /// y coordinate.
        y: Fp,
    },
}

impl Point {
    /// The generator G.
    pub const GENERATOR: Self = Self::Affine { x: GX, y: GY };

    /// The point `(x, y)` if it is on the curve.
    pub fn from_coordinates(x: Fp, y: Fp) -> Option<Self> {
        is_on_curve(&x, &y).then_some(Self::Affine { x, y })
    }

    /// The point from its 96-byte uncompressed big-endian `x ‖ y` (SEC1 without the 0x04 tag),
    /// if both coordinates are reduced and the point is on the curve.
    pub fn from_uncompressed(xy: &[u8; 96]) -> Option<Self> {
        let (xb, yb) = xy.split_at(48);
        let x = Fp::from_be_bytes(xb.try_into().ok()?)?;
        let y = Fp::from_be_bytes(yb.try_into().ok()?)?;
        Self::from_coordinates(x, y)
    }

    /// The coordinates, or `None` for the identity.
    pub fn coordinates(&self) -> Option<(Fp, Fp)> {
        match *self {
            Self::Infinity => None,
            Self::Affine { x, y } => Some((x, y)),
        }
    }

    /// `-self`.
    #[must_use]
    pub fn neg(&self) -> Self {
        match *self {
            Self::Infinity => Self::Infinity,
            Self::Affine { x, y } => Self::Affine { x, y: -y },
        }
    }

    /// `2 * self` with the `a = -3` tangent: `lambda = (3x^2 - 3) / 2y`.
    #[must_use]
    pub fn double(&self) -> Self {
        match *self {
            Self::Infinity => Self::Infinity,
            Self::Affine { x, y } => {
                // No point of order 2 on a prime-order curve, so y != 0 here.
                let Some(inv) = Option::<Fp>::from(y.double().invert()) else {
                    return Self::Infinity;
                };
                let three = Fp::from(3u64);
                let lambda = (three * x.square() - three) * inv;
                let x3 = lambda.square() - x.double();
                let y3 = lambda * (x - x3) - y;
                Self::Affine { x: x3, y: y3 }
            }
        }
    }

    /// `self + other` (complete: handles the identity, doubling and inverses).
    #[must_use]
    pub fn add(&self, other: &Self) -> Self {
        match (*self, *other) {
            (Self::Infinity, q) => q,
            (p, Self::Infinity) => p,
            (Self::Affine { x: x1, y: y1 }, Self::Affine { x: x2, y: y2 }) => {
                if x1 == x2 {
                    return if y1 == y2 {
                        self.double()
                    } else {
                        Self::Infinity
                    };
                }
                let Some(inv) = Option::<Fp>::from((x2 - x1).invert()) else {
                    return Self::Infinity;
                };
                let lambda = (y2 - y1) * inv;
                let x3 = lambda.square() - x1 - x2;
                let y3 = lambda * (x1 - x3) - y1;
                Self::Affine { x: x3, y: y3 }
            }
        }
    }

    /// `k * self` by double-and-add over the canonical bits of `k`.
    #[must_use]
    pub fn mul(&self, k: &Fq) -> Self {
        let repr = k.to_repr();
        let mut acc = Self::Infinity;
        for byte in repr.0.iter().rev() {
            for i in (0..8).rev() {
                acc = acc.double();
                if (byte >> i) & 1 == 1 {
                    acc = acc.add(self);
                }
            }
        }
        acc
    }

    /// A fixed point whose discrete logarithm to G nobody knows: the first x, counting up from
    /// the big-endian integer SHA-384("shomei-zk offset point") reduced mod p — computed by the
    /// caller-supplied digest so this module needs no hash — with `x^3 - 3x + b` a square; the
    /// even root is taken.
    pub fn hash_to_curve_try_and_increment(seed: &[u8; 48]) -> Self {
        let mut x = Fp::reduce_be_bytes(seed);
        loop {
            let rhs = curve_rhs(&x);
            if let Some(y) = Option::<Fp>::from(rhs.sqrt()) {
                let y = if bool::from(y.is_odd()) { -y } else { y };
                return Self::Affine { x, y };
            }
            x += Fp::ONE;
        }
    }
}

/// `x^3 - 3x + b`.
pub fn curve_rhs(x: &Fp) -> Fp {
    x.square() * x - Fp::from(3u64) * x + B
}

/// Whether `(x, y)` satisfies the curve equation.
pub fn is_on_curve(x: &Fp, y: &Fp) -> bool {
    y.square() == curve_rhs(x)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use p384::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
    use rand::{SeedableRng, rngs::StdRng};

    fn to_p384(p: &Point) -> p384::AffinePoint {
        match p.coordinates() {
            None => p384::AffinePoint::IDENTITY,
            Some((x, y)) => {
                let ep = p384::EncodedPoint::from_affine_coordinates(
                    &x.to_be_bytes().into(),
                    &y.to_be_bytes().into(),
                    false,
                );
                p384::AffinePoint::from_encoded_point(&ep).unwrap()
            }
        }
    }

    fn fq(s: &p384::Scalar) -> Fq {
        let b: [u8; 48] = s.to_repr().into();
        Fq::from_be_bytes(&b).unwrap()
    }

    #[test]
    fn generator_and_b_match_rustcrypto() {
        let g = p384::AffinePoint::GENERATOR.to_encoded_point(false);
        assert_eq!(&g.x().unwrap()[..], GX.to_be_bytes());
        assert_eq!(&g.y().unwrap()[..], GY.to_be_bytes());
        assert!(is_on_curve(&GX, &GY));
    }

    #[test]
    fn scalar_multiplication_matches_rustcrypto_on_random_scalars() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..8 {
            let k = p384::Scalar::random(&mut rng);
            let l = p384::Scalar::random(&mut rng);
            let q = p384::ProjectivePoint::GENERATOR * l;
            let theirs = (q * k).to_affine();
            let mine_q = Point::GENERATOR.mul(&fq(&l));
            assert_eq!(to_p384(&mine_q), q.to_affine());
            assert_eq!(to_p384(&mine_q.mul(&fq(&k))), theirs);
            // add / double / neg consistency
            let sum = mine_q.add(&Point::GENERATOR);
            assert_eq!(
                to_p384(&sum),
                (q + p384::ProjectivePoint::GENERATOR).to_affine()
            );
            assert_eq!(mine_q.add(&mine_q), mine_q.double());
            assert_eq!(mine_q.add(&mine_q.neg()), Point::Infinity);
        }
        // n * G = O
        let n_minus_1 = -Fq::ONE;
        assert_eq!(Point::GENERATOR.mul(&n_minus_1), Point::GENERATOR.neg());
    }

    #[test]
    fn offset_point_is_on_curve_and_rejects_off_curve_input() {
        let p = Point::hash_to_curve_try_and_increment(&[7u8; 48]);
        let (x, y) = p.coordinates().unwrap();
        assert!(is_on_curve(&x, &y));
        assert!(Point::from_coordinates(x, y + Fp::ONE).is_none());
    }
}
