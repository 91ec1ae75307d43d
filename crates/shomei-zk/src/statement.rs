//! The statement: "there is an SEV-SNP report R, signed with ECDSA P-384 by the VEK key K over
//! SHA-384(R[0x000..0x2A0]) computed in the circuit, whose fields satisfy the policy".
//!
//! Private: the 672 signed bytes of R and the signature (r, s). Public (the instance column, in
//! this order — [`PublicInputs::instances`]):
//!
//! | elements | value |
//! |---|---|
//! | 8 | K = (x, y), each as four 96-bit little-endian limbs (the relying party takes K from the VCEK/VLEK it verified natively with `shomei-snp`: the hybrid design) |
//! | 4 | REPORT_DATA (0x050, 64 bytes) as four 16-byte big-endian integers: the nonce binding, which the relying party recomputes |
//! | 8 | REPORTED_TCB (0x180), one element per byte: for the relying party's check against the VEK's TCB and its own latest TCB data |
//! | 1 | the policy commitment: Poseidon (BN254, t = 3, rate 2, 8 full and 57 partial rounds: halo2-base's hasher) of a domain tag, the required VMPL, the minimum TCB per byte (component) of REPORTED_TCB and the measurement allowlist, canonicalised ([`ZkPolicy::commitment`]) |
//!
//! The policy itself is a private witness: the relying party recomputes the commitment from the
//! policy it holds, so the proof shows the report meets *that* policy, and an allowlist of up
//! to [`MAX_MEASUREMENTS`] entries costs one public element.
//!
//! Constraints besides the hash and the signature: POLICY (0x008) bit 19 (DEBUG) is 0; VMPL
//! (0x030, u32 LE) equals the required VMPL; every byte of REPORTED_TCB is at least the
//! policy's byte (so it works for the Milan/Genoa and the Turin layouts alike, reserved bytes
//! having minimum 0); MEASUREMENT (0x090) equals one of the allowlist entries; REPORT_DATA equals
//! the public value.

use halo2_base::gates::{GateChip, GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_base::poseidon::hasher::PoseidonHasher;
use halo2_base::poseidon::hasher::spec::OptimizedPoseidonSpec;
use halo2_base::{AssignedValue, Context, QuantumCell};
use num_bigint::BigUint;

use crate::Error;
use crate::curve::Point;
use crate::ecc::EccChip384;
use crate::ecdsa::verify_ecdsa_p384;
use crate::field::{Fp, Fq, P384Scalar};
use crate::nonnative::{FieldChip384, LIMB_BITS, NUM_LIMBS};
use crate::sha384::{Bit, Sha384Chip};

/// The name of this statement and its instance layout, for proof files and evidence: proofs of
/// another version (v1 had the policy itself as public input) do not verify under this circuit.
pub const STATEMENT_ID: &str = "shomei-zk/snp-report/v2";

/// Length of the signed part of a report.
pub const SIGNED_LEN: usize = 0x2A0;
/// Offset of the signature's r (72 bytes little-endian, 48 significant).
const SIG_R: usize = 0x2A0;
/// Offset of the signature's s.
const SIG_S: usize = 0x2E8;
/// The most measurements an allowlist may hold (the circuit's shape is fixed; each entry costs
/// about 60 advice cells and 1.5 Poseidon permutations, all private).
pub const MAX_MEASUREMENTS: usize = 32;
/// Number of public field elements.
pub const NUM_INSTANCES: usize = 8 + 4 + 8 + 1;
/// The first element hashed into the policy commitment ("shomei-zk/policy/v1" as a big-endian
/// integer): a commitment from another scheme or version never collides with ours.
const POLICY_TAG: &[u8] = b"shomei-zk/policy/v1";
/// Poseidon parameters (halo2-base's hasher; the widely used BN254 instance).
const POSEIDON_T: usize = 3;
const POSEIDON_RATE: usize = 2;
const POSEIDON_R_F: usize = 8;
const POSEIDON_R_P: usize = 57;

const POLICY_DEBUG_BYTE: usize = 0x008 + 19 / 8;
const POLICY_DEBUG_BIT: usize = 19 % 8;
const VMPL: usize = 0x030;
const REPORT_DATA: usize = 0x050;
const MEASUREMENT: usize = 0x090;
const REPORTED_TCB: usize = 0x180;

/// The policy the proof shows the report satisfies. It stays a private witness; the instance
/// holds its commitment ([`ZkPolicy::commitment`]), which the relying party recomputes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkPolicy {
    /// Allowed launch measurements (1 to [`MAX_MEASUREMENTS`]).
    pub measurements: Vec<[u8; 48]>,
    /// Minimum per byte of REPORTED_TCB (0 for reserved bytes).
    pub min_tcb: [u8; 8],
    /// The VMPL the report must have been requested at.
    pub vmpl: u8,
}

/// Everything public about one proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicInputs {
    /// The VEK public key, uncompressed big-endian `x ‖ y`.
    pub vek: [u8; 96],
    /// REPORT_DATA as the relying party expects it (its nonce binding).
    pub report_data: [u8; 64],
    /// REPORTED_TCB of the report.
    pub reported_tcb: [u8; 8],
    /// The policy.
    pub policy: ZkPolicy,
}

/// A big-endian integer of at most 31 bytes (16 for the report's fields) as a field element.
fn pack16(bytes: &[u8]) -> Fr {
    bytes.iter().fold(Fr::ZERO, |acc, b| {
        acc * Fr::from(256u64) + Fr::from(u64::from(*b))
    })
}

fn limbs96(v: &BigUint) -> Vec<Fr> {
    let mask = (BigUint::from(1u8) << LIMB_BITS) - 1u8;
    (0..NUM_LIMBS)
        .map(|i| {
            let limb = (v >> (LIMB_BITS * i)) & &mask;
            halo2_base::utils::biguint_to_fe(&limb)
        })
        .collect()
}

impl ZkPolicy {
    /// The allowlist as the circuit holds it: sorted, without duplicates, padded to
    /// [`MAX_MEASUREMENTS`] by repeating its first entry (so the same set of measurements always
    /// gives the same commitment, whatever its order).
    ///
    /// # Errors
    /// [`Error::Input`] for an empty or too long allowlist, or a VMPL above 3.
    pub fn canonical_measurements(&self) -> Result<Vec<[u8; 48]>, Error> {
        if self.vmpl > 3 {
            return Err(Error::Input("VMPL must be 0 to 3"));
        }
        let mut m = self.measurements.clone();
        m.sort_unstable();
        m.dedup();
        let first = *m
            .first()
            .ok_or(Error::Input("the policy allows no measurement"))?;
        if m.len() > MAX_MEASUREMENTS {
            return Err(Error::Input(
                "the policy allows more measurements than the circuit holds",
            ));
        }
        m.resize(MAX_MEASUREMENTS, first);
        Ok(m)
    }

    /// The field elements hashed into the commitment, in order: the tag, the VMPL, the eight
    /// minimum TCB bytes, then each allowlist entry as three 16-byte big-endian integers.
    fn preimage(&self) -> Result<Vec<Fr>, Error> {
        let mut out = Vec::with_capacity(10 + 3 * MAX_MEASUREMENTS);
        out.push(pack16(POLICY_TAG));
        out.push(Fr::from(u64::from(self.vmpl)));
        out.extend(self.min_tcb.iter().map(|b| Fr::from(u64::from(*b))));
        for m in self.canonical_measurements()? {
            out.extend(m.chunks(16).map(pack16));
        }
        Ok(out)
    }

    /// The policy commitment (the public input that stands for the policy), as a field element.
    ///
    /// It is computed by the very gadget the circuit uses (halo2-base's Poseidon hasher), run
    /// for its values only, so the relying party's value and the circuit's agree by
    /// construction.
    ///
    /// # Errors
    /// As [`ZkPolicy::canonical_measurements`].
    pub fn commitment_fr(&self) -> Result<Fr, Error> {
        let preimage = self.preimage()?;
        let gate = GateChip::<Fr>::default();
        let mut ctx = Context::<Fr>::new(
            true,
            0,
            "shomei_zk::statement::commitment",
            0,
            std::sync::Arc::default(),
        );
        let cells = ctx.assign_witnesses(preimage);
        Ok(*poseidon(&mut ctx, &gate, &cells).value())
    }

    /// [`ZkPolicy::commitment_fr`] as 32 big-endian bytes (for display and logs).
    ///
    /// # Errors
    /// As [`ZkPolicy::canonical_measurements`].
    pub fn commitment(&self) -> Result<[u8; 32], Error> {
        let le = self.commitment_fr()?.to_repr();
        let mut be = [0u8; 32];
        for (d, s) in be.iter_mut().zip(le.as_ref().iter().rev()) {
            *d = *s;
        }
        Ok(be)
    }
}

/// Poseidon over `inputs` with the statement's parameters (constrained in `ctx`).
fn poseidon(
    ctx: &mut Context<Fr>,
    gate: &impl GateInstructions<Fr>,
    inputs: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    // Deriving the round constants and MDS matrix takes ~20 ms: once per process.
    static SPEC: std::sync::OnceLock<OptimizedPoseidonSpec<Fr, POSEIDON_T, POSEIDON_RATE>> =
        std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(OptimizedPoseidonSpec::new::<POSEIDON_R_F, POSEIDON_R_P, 0>);
    let mut hasher = PoseidonHasher::<Fr, POSEIDON_T, POSEIDON_RATE>::new(spec.clone());
    hasher.initialize_consts(ctx, gate);
    hasher.hash_fix_len_array(ctx, gate, inputs)
}

impl PublicInputs {
    /// The instance column, in the order of the module docs.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty or too long allowlist, or a VMPL above 3.
    pub fn instances(&self) -> Result<Vec<Fr>, Error> {
        let mut out = Vec::with_capacity(NUM_INSTANCES);
        let (x, y) = self.vek.split_at(48);
        out.extend(limbs96(&BigUint::from_bytes_be(x)));
        out.extend(limbs96(&BigUint::from_bytes_be(y)));
        out.extend(self.report_data.chunks(16).map(pack16));
        out.extend(self.reported_tcb.iter().map(|b| Fr::from(u64::from(*b))));
        out.push(self.policy.commitment_fr()?);
        Ok(out)
    }
}

/// Packs byte cells into one big-endian integer cell.
fn pack_cells(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    bytes: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    let n = bytes.len();
    let coeffs: Vec<QuantumCell<Fr>> = (0..n)
        .map(|i| {
            let e = u64::try_from(8 * (n - 1 - i)).unwrap_or(0);
            QuantumCell::Constant(Fr::from(2u64).pow_vartime([e]))
        })
        .collect();
    range
        .gate()
        .inner_product(ctx, bytes.iter().copied(), coeffs)
}

fn slice(
    cells: &[AssignedValue<Fr>],
    at: usize,
    len: usize,
) -> Result<&[AssignedValue<Fr>], Error> {
    cells
        .get(at..at + len)
        .ok_or(Error::Input("report too short"))
}

/// The policy constraints over the signed bytes (their cells and bits). Returns the instance
/// cells for REPORT_DATA, REPORTED_TCB and the policy commitment, in order. The policy is
/// `public.policy`, loaded as a private witness and bound by the commitment.
///
/// # Errors
/// [`Error::Input`] if the report is shorter than the signed part or the public inputs are
/// malformed.
pub fn constrain_policy(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    bytes: &[AssignedValue<Fr>],
    bits: &[Vec<Bit>],
    public: &PublicInputs,
) -> Result<Vec<AssignedValue<Fr>>, Error> {
    constrain_policy_with(range, ctx, bytes, bits, public, &public.policy)
}

/// [`constrain_policy`] with the policy witness given separately (the soundness tests use a
/// witness other than the committed policy).
fn constrain_policy_with(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    bytes: &[AssignedValue<Fr>],
    bits: &[Vec<Bit>],
    public: &PublicInputs,
    policy: &ZkPolicy,
) -> Result<Vec<AssignedValue<Fr>>, Error> {
    let gate = range.gate();
    let instances = public.instances()?;
    let mut inst = instances.iter().skip(8).copied();
    let mut next = |ctx: &mut Context<Fr>| ctx.load_witness(inst.next().unwrap_or(Fr::ZERO));
    let mut out = Vec::new();

    // REPORT_DATA = public value.
    for j in 0..4 {
        let packed = pack_cells(range, ctx, slice(bytes, REPORT_DATA + 16 * j, 16)?);
        let p = next(ctx);
        ctx.constrain_equal(&packed, &p);
        out.push(p);
    }
    // REPORTED_TCB bytes are public.
    let tcb = slice(bytes, REPORTED_TCB, 8)?.to_vec();
    for t in &tcb {
        let p = next(ctx);
        ctx.constrain_equal(t, &p);
        out.push(p);
    }

    // The policy, private, in commitment order.
    let preimage = ctx.assign_witnesses(policy.preimage()?);
    let mut fields = preimage.iter().copied();
    let mut take = || fields.next().ok_or(Error::Circuit("policy preimage"));
    let tag = take()?;
    gate.assert_is_const(ctx, &tag, &pack16(POLICY_TAG));
    let required_vmpl = take()?;
    let min_tcb: Vec<AssignedValue<Fr>> = (0..8).map(|_| take()).collect::<Result<_, _>>()?;
    let allowlist: Vec<AssignedValue<Fr>> = (0..3 * MAX_MEASUREMENTS)
        .map(|_| take())
        .collect::<Result<_, _>>()?;

    // VMPL (u32 little-endian) = required.
    let vmpl_bytes: Vec<AssignedValue<Fr>> = slice(bytes, VMPL, 4)?.iter().rev().copied().collect();
    let vmpl = pack_cells(range, ctx, &vmpl_bytes);
    ctx.constrain_equal(&vmpl, &required_vmpl);
    // Debug disallowed.
    let debug = bits
        .get(POLICY_DEBUG_BYTE)
        .and_then(|b| b.get(POLICY_DEBUG_BIT))
        .copied()
        .ok_or(Error::Input("report too short"))?;
    gate.assert_is_const(ctx, &debug, &Fr::ZERO);
    // REPORTED_TCB[i] >= min[i] (both bytes).
    for (t, min) in tcb.iter().zip(&min_tcb) {
        range.range_check(ctx, *min, 8);
        let t_plus_1 = gate.add(ctx, *t, QuantumCell::Constant(Fr::ONE));
        range.check_less_than(ctx, *min, t_plus_1, 9);
    }
    // MEASUREMENT in the allowlist.
    let m: Vec<AssignedValue<Fr>> = (0..3)
        .map(|j| slice(bytes, MEASUREMENT + 16 * j, 16).map(|s| pack_cells(range, ctx, s)))
        .collect::<Result<_, _>>()?;
    let mut hits = Vec::with_capacity(MAX_MEASUREMENTS);
    for entry in allowlist.chunks(3) {
        let mut all = ctx.load_constant(Fr::ONE);
        for (mj, a) in m.iter().zip(entry) {
            let eq = gate.is_equal(ctx, *mj, *a);
            all = gate.and(ctx, all, eq);
        }
        hits.push(all);
    }
    let any = gate.sum(ctx, hits);
    let none = gate.is_zero(ctx, any);
    gate.assert_is_const(ctx, &none, &Fr::ZERO);

    // The commitment to all of it is public.
    let commitment = poseidon(ctx, gate, &preimage);
    let p = next(ctx);
    ctx.constrain_equal(&commitment, &p);
    out.push(p);
    Ok(out)
}

/// Reads the signature's r or s (72 bytes little-endian, 48 significant) as a scalar.
fn read_scalar(report: &[u8], at: usize) -> Result<Fq, Error> {
    let le = report
        .get(at..at + 48)
        .ok_or(Error::Input("report too short for its signature"))?;
    let mut be = [0u8; 48];
    for (d, s) in be.iter_mut().zip(le.iter().rev()) {
        *d = *s;
    }
    Fq::from_be_bytes(&be).ok_or(Error::Input(
        "signature component not below the group order",
    ))
}

/// The whole statement. Returns the instance cells in [`PublicInputs::instances`] order.
///
/// # Errors
/// [`Error::Input`] for a report shorter than its signature, a signature component or key
/// coordinate out of range, a key that is not a curve point, or malformed public inputs. A
/// report that does not satisfy the statement is *not* an error here: it makes the circuit
/// unsatisfiable.
pub fn synthesize(
    range: &RangeChip<Fr>,
    ctx: &mut Context<Fr>,
    report: &[u8],
    public: &PublicInputs,
) -> Result<Vec<AssignedValue<Fr>>, Error> {
    let signed = report
        .get(..SIGNED_LEN)
        .ok_or(Error::Input("report too short"))?;
    let r = read_scalar(report, SIG_R)?;
    let s = read_scalar(report, SIG_S)?;
    let point = Point::from_uncompressed(&public.vek)
        .ok_or(Error::Input("the VEK public key is not a P-384 point"))?;
    let (qx, qy) = point
        .coordinates()
        .ok_or(Error::Input("the VEK public key is the identity"))?;

    let bytes = ctx.assign_witnesses(signed.iter().map(|b| Fr::from(u64::from(*b))));
    let sha = Sha384Chip::new(range);
    let bits = sha.byte_bits(ctx, &bytes);

    let policy_cells = constrain_policy(range, ctx, &bytes, &bits, public)?;

    let words = sha.digest_with_bits(ctx, &bytes, bits);
    let limbs = sha.digest_limbs(ctx, &words);
    let fq = FieldChip384::<P384Scalar>::new(range);
    let e = fq.assemble_checked_limbs(limbs);

    let ecc = EccChip384::new(range);
    let q = ecc.load_private(ctx, qx, qy);
    let r = fq.load_private(ctx, r);
    let s = fq.load_private(ctx, s);
    verify_ecdsa_p384(range, ctx, &q, &e, &r, &s)?;

    let mut out: Vec<AssignedValue<Fr>> = Vec::with_capacity(NUM_INSTANCES);
    out.extend(q.x.limbs().iter().copied());
    out.extend(q.y.limbs().iter().copied());
    out.extend(policy_cells);
    Ok(out)
}

/// Keeps `Fp` in the public API surface for callers building keys by hand.
pub fn vek_from_coordinates(x: &Fp, y: &Fp) -> [u8; 96] {
    let mut out = [0u8; 96];
    for (d, s) in out
        .iter_mut()
        .zip(x.to_be_bytes().iter().chain(y.to_be_bytes().iter()))
    {
        *d = *s;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::testing::mock;
    use p384::ecdsa::signature::hazmat::PrehashSigner;
    use p384::ecdsa::{Signature, SigningKey};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use sha2::Digest as _;

    /// A synthetic v2-layout report signed by a random key, and public inputs it satisfies.
    pub(crate) fn signed_report(seed: u64) -> (Vec<u8>, PublicInputs, SigningKey) {
        let mut rng = StdRng::seed_from_u64(seed);
        let sk = SigningKey::random(&mut rng);
        let mut report: Vec<u8> = (0..0x4A0).map(|_| rng.r#gen()).collect();
        report[0x000..0x004].copy_from_slice(&2u32.to_le_bytes());
        report[0x008..0x010].copy_from_slice(&0x0003_0000u64.to_le_bytes()); // SMT, ABI; no DEBUG
        report[0x030..0x034].copy_from_slice(&0u32.to_le_bytes());
        report[0x180..0x188].copy_from_slice(&[3, 0, 0, 0, 0, 0, 8, 115]);
        resign(&mut report, &sk);
        let ep = sk.verifying_key().to_encoded_point(false);
        let mut vek = [0u8; 96];
        vek[..48].copy_from_slice(ep.x().unwrap());
        vek[48..].copy_from_slice(ep.y().unwrap());
        let other: [u8; 48] = core::array::from_fn(|_| rng.r#gen());
        let public = PublicInputs {
            vek,
            report_data: report[0x50..0x90].try_into().unwrap(),
            reported_tcb: report[0x180..0x188].try_into().unwrap(),
            policy: ZkPolicy {
                measurements: vec![other, report[0x90..0xC0].try_into().unwrap()],
                min_tcb: [2, 0, 0, 0, 0, 0, 8, 100],
                vmpl: 0,
            },
        };
        (report, public, sk)
    }

    /// Signs report[..0x2A0] into the signature field.
    pub(crate) fn resign(report: &mut [u8], sk: &SigningKey) {
        let digest = sha2::Sha384::digest(&report[..SIGNED_LEN]);
        let sig: Signature = sk.sign_prehash(&digest).unwrap();
        let (r, s) = sig.split_bytes();
        report[SIG_R..SIG_R + 72].fill(0);
        report[SIG_S..SIG_S + 72].fill(0);
        for (i, b) in r.iter().rev().enumerate() {
            report[SIG_R + i] = *b;
        }
        for (i, b) in s.iter().rev().enumerate() {
            report[SIG_S + i] = *b;
        }
    }

    fn policy_holds(report: &[u8], public: &PublicInputs) -> bool {
        let (res, ok) = mock(14, |ctx, range| {
            let bytes =
                ctx.assign_witnesses(report[..SIGNED_LEN].iter().map(|b| Fr::from(u64::from(*b))));
            let bits = Sha384Chip::new(range).byte_bits(ctx, &bytes);
            let cells = constrain_policy(range, ctx, &bytes, &bits, public).unwrap();
            // The instance cells carry exactly the public values.
            let values: Vec<Fr> = cells.iter().map(|c| *c.value()).collect();
            values == public.instances().unwrap()[8..].to_vec()
        });
        assert!(res, "instance cells out of order");
        ok
    }

    #[test]
    fn policy_holds_for_a_conforming_report() {
        let (report, public, _) = signed_report(41);
        assert!(policy_holds(&report, &public));
    }

    #[test]
    fn debug_policy_bit_breaks_the_policy() {
        let (mut report, public, _) = signed_report(42);
        report[0x0A] |= 1 << 3;
        assert!(!policy_holds(&report, &public));
    }

    #[test]
    fn other_vmpl_breaks_the_policy() {
        let (mut report, public, _) = signed_report(43);
        report[0x30] = 1;
        assert!(!policy_holds(&report, &public));
        let (report, mut public, _) = signed_report(43);
        public.policy.vmpl = 2;
        assert!(!policy_holds(&report, &public));
    }

    #[test]
    fn each_tcb_component_below_its_minimum_breaks_the_policy() {
        for i in [0usize, 6, 7] {
            let (report, mut public, _) = signed_report(44);
            public.policy.min_tcb[i] = report[0x180 + i] + 1;
            assert!(!policy_holds(&report, &public), "component {i}");
        }
        // equal to the minimum is fine
        let (report, mut public, _) = signed_report(44);
        public.policy.min_tcb.copy_from_slice(&report[0x180..0x188]);
        assert!(policy_holds(&report, &public));
    }

    #[test]
    fn measurement_outside_the_allowlist_breaks_the_policy() {
        let (report, mut public, _) = signed_report(45);
        public.policy.measurements.remove(1);
        assert!(!policy_holds(&report, &public));
    }

    #[test]
    fn other_report_data_breaks_the_nonce_binding() {
        let (report, mut public, _) = signed_report(46);
        public.report_data[63] ^= 1;
        assert!(!policy_holds(&report, &public));
    }

    #[test]
    fn claimed_tcb_other_than_the_reports_is_refused() {
        let (report, mut public, _) = signed_report(47);
        public.reported_tcb[7] = public.reported_tcb[7].wrapping_add(1);
        assert!(!policy_holds(&report, &public));
    }

    #[test]
    fn malformed_public_inputs_are_errors() {
        let (_, mut public, _) = signed_report(48);
        public.policy.vmpl = 4;
        assert_eq!(public.instances(), Err(Error::Input("VMPL must be 0 to 3")));
        let (_, mut public, _) = signed_report(48);
        public.policy.measurements.clear();
        assert!(public.instances().is_err());
        let (_, mut public, _) = signed_report(48);
        public.policy.measurements = (0..=MAX_MEASUREMENTS)
            .map(|i| [u8::try_from(i).unwrap(); 48])
            .collect();
        assert!(public.instances().is_err());
        // Repeated entries count once.
        public.policy.measurements = vec![[7; 48]; MAX_MEASUREMENTS + 1];
        assert!(public.instances().is_ok());
    }

    #[test]
    fn a_full_allowlist_holds_with_the_match_in_any_position() {
        let (report, mut public, _) = signed_report(49);
        let own: [u8; 48] = report[0x90..0xC0].try_into().unwrap();
        let others: Vec<[u8; 48]> = (0..MAX_MEASUREMENTS - 1)
            .map(|i| {
                let mut m = own;
                m[47 - i % 48] ^= 0x5A;
                m[0] ^= u8::try_from(i).unwrap();
                m
            })
            .collect();
        for position in [0, MAX_MEASUREMENTS / 2, MAX_MEASUREMENTS - 1] {
            let mut list = others.clone();
            list.insert(position, own);
            public.policy.measurements = list;
            assert!(policy_holds(&report, &public), "position {position}");
        }
        public.policy.measurements = others;
        assert!(!policy_holds(&report, &public), "all 32 others");
    }

    #[test]
    fn commitment_is_canonical_and_binds_every_policy_field() {
        let (_, public, _) = signed_report(50);
        let p = public.policy;
        let c = p.commitment().unwrap();
        // Order and repetition do not matter.
        let mut shuffled = p.clone();
        shuffled.measurements.reverse();
        shuffled.measurements.push(p.measurements[0]);
        assert_eq!(shuffled.commitment().unwrap(), c);
        // Every field does.
        let mut others = Vec::new();
        let mut q = p.clone();
        q.vmpl ^= 1;
        others.push(q);
        for i in 0..8 {
            let mut q = p.clone();
            q.min_tcb[i] ^= 1;
            others.push(q);
        }
        for i in [0, 15, 16, 31, 32, 47] {
            let mut q = p.clone();
            q.measurements[1][i] ^= 1;
            others.push(q);
        }
        let mut q = p.clone();
        q.measurements.push([0xEE; 48]);
        others.push(q);
        let mut q = p.clone();
        q.measurements.remove(0);
        others.push(q);
        for q in &others {
            assert_ne!(q.commitment().unwrap(), c, "{q:?}");
        }
    }

    #[test]
    fn a_policy_witness_other_than_the_committed_one_breaks_the_binding() {
        // The report meets `met` (its own policy, used as the private witness) but the instance
        // commits to `committed`, which it does not meet: the circuit is unsatisfiable.
        let (report, met, _) = signed_report(53);
        let mut committed = met.clone();
        committed.policy.measurements = vec![[0x11; 48]];
        let run = |public: &PublicInputs| {
            mock(14, |ctx, range| {
                let bytes = ctx
                    .assign_witnesses(report[..SIGNED_LEN].iter().map(|b| Fr::from(u64::from(*b))));
                let bits = Sha384Chip::new(range).byte_bits(ctx, &bytes);
                constrain_policy_with(range, ctx, &bytes, &bits, public, &met.policy).unwrap();
            })
            .1
        };
        assert!(run(&met), "witness and commitment agree");
        assert!(!run(&committed), "witness other than the committed policy");
    }

    fn statement_holds(report: &[u8], public: &PublicInputs) -> bool {
        let (values, ok) = mock(20, |ctx, range| {
            let cells = synthesize(range, ctx, report, public).unwrap();
            cells.iter().map(|c| *c.value()).collect::<Vec<Fr>>()
        });
        assert_eq!(values, public.instances().unwrap());
        ok
    }

    #[test]
    #[ignore = "full statement (~4.8 M cells), ~30 s per case in release: cargo test -p shomei-zk --release -- --ignored"]
    fn statement_holds_for_a_signed_conforming_report_and_breaks_when_tampered() {
        let (report, public, sk) = signed_report(51);
        assert!(statement_holds(&report, &public), "valid");
        // A signed byte that no policy reads (HOST_DATA): only the hash/signature bind it.
        let mut tampered = report.clone();
        tampered[0xC0] ^= 1;
        assert!(!statement_holds(&tampered, &public), "tampered byte");
        // Another key.
        let (_, other, _) = signed_report(52);
        let wrong_key = PublicInputs {
            vek: other.vek,
            ..public.clone()
        };
        assert!(!statement_holds(&report, &wrong_key), "wrong key");
        // Re-signed after a policy-violating change: signature fine, policy not.
        let mut debug = report.clone();
        debug[0x0A] |= 1 << 3;
        resign(&mut debug, &sk);
        assert!(!statement_holds(&debug, &public), "debug");
    }
}
