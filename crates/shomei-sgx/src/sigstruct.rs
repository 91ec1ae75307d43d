//! SIGSTRUCT (`enclave_css_t`, 1808 B, SDK `common/inc/internal/arch.h`) and MRSIGNER.
//!
//! The signature is RSA-3072 PKCS#1 v1.5 with SHA-256 over HEADER (bytes 0..128) ‖ BODY (bytes
//! 900..1028), with public exponent 3; MODULUS, SIGNATURE, Q1 and Q2 are stored little-endian.
//! Q1 = ⌊s²/n⌋ and Q2 = ⌊(s³ − Q1·s·n)/n⌋ = ⌊s·(s² mod n)/n⌋ are the quotients the CPU uses to
//! check the signature without a division (SDK `sign_tool.cpp`). MRSIGNER = SHA-256 of the
//! modulus as stored (little-endian).
//!
//! # The signing key
//!
//! aws-lc-rs signs with any RSA key it can parse, but only *generates* keys with e = 65537, and
//! SGX requires e = 3. Keys therefore come from PKCS#8 ([`SigningKey::from_pkcs8`]), as the SDK's
//! own do (`openssl genrsa -3 3072`). Two fixed **test** keys are compiled in for the emulator
//! ([`SigningKey::test_isv`], `keys/isv-test-{1,2}.pk8`); they were made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -pkeyopt rsa_keygen_pubexp:3
//! -outform DER | openssl pkcs8 -topk8 -nocrypt -inform DER -outform DER` and are public, so
//! nothing they sign is trustworthy outside tests and demos.
//! Q1/Q2 need a 6144-bit product and a division, which aws-lc-rs does not expose: they are
//! computed with `num-bigint` (public values only, so constant time does not matter).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, KeyPair as _, RsaPublicKeyComponents};
use num_bigint::BigUint;
use shomei_core::{ParseError, ParseErrorKind, Reader};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::crypto::sha256;
use crate::error::{Error, LaunchError};
use crate::types::{Attributes, Measurement, reserved};

/// Length of a SIGSTRUCT.
pub const SIGSTRUCT_LEN: usize = 1808;
/// Length of the RSA-3072 modulus, signature, Q1 and Q2.
pub const KEY_LEN: usize = 384;
/// HEADER (`06000000E100000000000100`).
pub const HEADER: [u8; 12] = [6, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 1, 0];
/// HEADER2 (`01010000600000006000000001000000`).
pub const HEADER2: [u8; 16] = [1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0];
/// MODULEVENDOR for Intel-signed enclaves.
pub const VENDOR_INTEL: u32 = 0x8086;

/// The byte layout. Offsets are in the comments and pinned by tests.
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawSigStruct {
    pub header: [u8; 12],          // 0
    pub type_: U32,                // 12 (bit 31: debug signer)
    pub module_vendor: U32,        // 16
    pub date: U32,                 // 20 (0xYYYYMMDD, BCD)
    pub header2: [u8; 16],         // 24
    pub hw_version: U32,           // 40
    pub reserved1: [u8; 84],       // 44
    pub modulus: [u8; KEY_LEN],    // 128 (little-endian)
    pub exponent: U32,             // 512
    pub signature: [u8; KEY_LEN],  // 516 (little-endian)
    pub misc_select: U32,          // 900 (BODY starts)
    pub misc_mask: U32,            // 904
    pub reserved2: [u8; 4],        // 908
    pub isv_family_id: [u8; 16],   // 912
    pub attributes_flags: U64,     // 928
    pub attributes_xfrm: U64,      // 936
    pub attribute_mask_flags: U64, // 944
    pub attribute_mask_xfrm: U64,  // 952
    pub enclave_hash: [u8; 32],    // 960
    pub reserved3: [u8; 16],       // 992
    pub isv_ext_prod_id: [u8; 16], // 1008
    pub isv_prod_id: U16,          // 1024
    pub isv_svn: U16,              // 1026 (BODY ends at 1028)
    pub reserved4: [u8; 12],       // 1028
    pub q1: [u8; KEY_LEN],         // 1040
    pub q2: [u8; KEY_LEN],         // 1424
}

const _: () = assert!(core::mem::size_of::<RawSigStruct>() == SIGSTRUCT_LEN);

/// What an ISV signs: the SIGSTRUCT fields other than the key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigStructFields {
    /// MODULEVENDOR: 0 for an ISV, [`VENDOR_INTEL`] for Intel.
    pub module_vendor: u32,
    /// DATE as 0xYYYYMMDD in BCD (e.g. `0x2025_0730`); an input, never the clock.
    pub date: u32,
    /// TYPE bit 31.
    pub debug_signer: bool,
    pub hw_version: u32,
    pub misc_select: u32,
    pub misc_mask: u32,
    pub isv_family_id: [u8; 16],
    pub attributes: Attributes,
    pub attribute_mask: Attributes,
    /// ENCLAVEHASH: the MRENCLAVE EINIT must measure.
    pub enclave_hash: Measurement,
    pub isv_ext_prod_id: [u8; 16],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
}

impl SigStructFields {
    /// The usual shape for an ISV enclave with this MRENCLAVE: 64-bit, DEBUG not allowed (it is
    /// in the mask and clear), every other flag enforced, XFRM not enforced, MISCSELECT 0.
    pub fn new(enclave_hash: Measurement, isv_prod_id: u16, isv_svn: u16) -> Self {
        Self {
            module_vendor: 0,
            date: 0x2025_0101,
            debug_signer: false,
            hw_version: 0,
            misc_select: 0,
            misc_mask: u32::MAX,
            isv_family_id: [0; 16],
            attributes: Attributes::new(Attributes::MODE64BIT, Attributes::XFRM_LEGACY),
            attribute_mask: Attributes::new(!Attributes::INITTED, 0),
            enclave_hash,
            isv_ext_prod_id: [0; 16],
            isv_prod_id,
            isv_svn,
        }
    }

    /// Lets the enclave be launched with DEBUG set or clear (the SDK's debug signing).
    pub fn allow_debug(mut self) -> Self {
        self.attribute_mask.flags &= !Attributes::DEBUG;
        self.debug_signer = true;
        self
    }

    /// Requires ATTRIBUTES.KSS and signs ISVFAMILYID and ISVEXTPRODID.
    pub fn with_kss(mut self, isv_family_id: [u8; 16], isv_ext_prod_id: [u8; 16]) -> Self {
        self.attributes.flags |= Attributes::KSS;
        self.isv_family_id = isv_family_id;
        self.isv_ext_prod_id = isv_ext_prod_id;
        self
    }
}

/// An RSA-3072 key with public exponent 3, for signing SIGSTRUCTs.
pub struct SigningKey {
    key: RsaKeyPair,
    modulus_le: [u8; KEY_LEN],
}

/// The compiled-in test signers of the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestIsv {
    One,
    Two,
}

const TEST_ISV_1: &[u8] = include_bytes!("../keys/isv-test-1.pk8");
const TEST_ISV_2: &[u8] = include_bytes!("../keys/isv-test-2.pk8");

impl SigningKey {
    /// An unencrypted PKCS#8 RSA private key; it must be 3072 bits with e = 3.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let key =
            RsaKeyPair::from_pkcs8(der).map_err(|_| Error::SigningKey("not an RSA PKCS#8 key"))?;
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
        if public.e.as_slice() != [3] {
            return Err(Error::SigningKey("the public exponent is not 3"));
        }
        let n = public.n.as_slice();
        if n.len() != KEY_LEN {
            return Err(Error::SigningKey("the modulus is not 3072 bits"));
        }
        let mut modulus_le = [0u8; KEY_LEN];
        for (d, s) in modulus_le.iter_mut().zip(n.iter().rev()) {
            *d = *s;
        }
        Ok(Self { key, modulus_le })
    }

    /// One of the emulator's public test keys.
    pub fn test_isv(which: TestIsv) -> Result<Self, Error> {
        Self::from_pkcs8(match which {
            TestIsv::One => TEST_ISV_1,
            TestIsv::Two => TEST_ISV_2,
        })
    }

    /// MRSIGNER of enclaves this key signs.
    pub fn mr_signer(&self) -> Measurement {
        Measurement(sha256(&[&self.modulus_le]))
    }

    /// Builds and signs a SIGSTRUCT.
    pub fn sign(&self, f: &SigStructFields) -> Result<SigStruct, Error> {
        let mut raw = RawSigStruct::new_zeroed();
        raw.header = HEADER;
        raw.type_ = U32::new(if f.debug_signer { 1 << 31 } else { 0 });
        raw.module_vendor = U32::new(f.module_vendor);
        raw.date = U32::new(f.date);
        raw.header2 = HEADER2;
        raw.hw_version = U32::new(f.hw_version);
        raw.modulus = self.modulus_le;
        raw.exponent = U32::new(3);
        raw.misc_select = U32::new(f.misc_select);
        raw.misc_mask = U32::new(f.misc_mask);
        raw.isv_family_id = f.isv_family_id;
        raw.attributes_flags = U64::new(f.attributes.flags);
        raw.attributes_xfrm = U64::new(f.attributes.xfrm);
        raw.attribute_mask_flags = U64::new(f.attribute_mask.flags);
        raw.attribute_mask_xfrm = U64::new(f.attribute_mask.xfrm);
        raw.enclave_hash = f.enclave_hash.0;
        raw.isv_ext_prod_id = f.isv_ext_prod_id;
        raw.isv_prod_id = U16::new(f.isv_prod_id);
        raw.isv_svn = U16::new(f.isv_svn);

        let signed = signed_bytes(&raw);
        let mut sig_be = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                &signed,
                &mut sig_be,
            )
            .map_err(|_| Error::Crypto("RSA signing"))?;
        let (q1, q2) = quotients(&sig_be, &self.modulus_le).ok_or(Error::Crypto("Q1/Q2"))?;
        for (d, s) in raw.signature.iter_mut().zip(sig_be.iter().rev()) {
            *d = *s;
        }
        raw.q1 = q1;
        raw.q2 = q2;
        Ok(SigStruct { raw: Box::new(raw) })
    }
}

/// HEADER (128 B) ‖ BODY (128 B): what the signature covers.
fn signed_bytes(raw: &RawSigStruct) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(256);
    out.extend(bytes.iter().take(128));
    out.extend(bytes.iter().skip(900).take(128));
    out
}

/// Q1 and Q2 (little-endian, 384 bytes each) for a big-endian signature and little-endian
/// modulus.
fn quotients(sig_be: &[u8], modulus_le: &[u8; KEY_LEN]) -> Option<([u8; KEY_LEN], [u8; KEY_LEN])> {
    let s = BigUint::from_bytes_be(sig_be);
    let n = BigUint::from_bytes_le(modulus_le);
    if n == BigUint::from(0u8) {
        return None;
    }
    let s2 = &s * &s;
    let q1 = &s2 / &n;
    let r1 = &s2 % &n;
    let q2 = (&s * &r1) / &n;
    Some((to_le_384(&q1)?, to_le_384(&q2)?))
}

fn to_le_384(v: &BigUint) -> Option<[u8; KEY_LEN]> {
    let bytes = v.to_bytes_le();
    if bytes.len() > KEY_LEN {
        return None;
    }
    let mut out = [0u8; KEY_LEN];
    for (d, s) in out.iter_mut().zip(bytes.iter()) {
        *d = *s;
    }
    Some(out)
}

/// A parsed SIGSTRUCT, bytes as received.
#[derive(Clone)]
pub struct SigStruct {
    raw: Box<RawSigStruct>,
}

impl SigStruct {
    /// Parses exactly [`SIGSTRUCT_LEN`] bytes: HEADER/HEADER2 constants, TYPE bits 30:0 zero,
    /// EXPONENT 3 and every reserved range zero. The signature is checked by EINIT
    /// ([`SigStruct::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let arr = r.array::<SIGSTRUCT_LEN>("sigstruct")?;
        r.finish("sigstruct")?;
        let raw: RawSigStruct = zerocopy::transmute!(arr);
        let bad = |field, offset, value: u64| {
            ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
        };
        if raw.header != HEADER {
            return Err(ParseError::new(
                "sigstruct.header",
                0,
                ParseErrorKind::Malformed("not the SIGSTRUCT HEADER"),
            ));
        }
        if raw.type_.get() & 0x7FFF_FFFF != 0 {
            return Err(bad("sigstruct.type", 12, u64::from(raw.type_.get())));
        }
        if raw.header2 != HEADER2 {
            return Err(ParseError::new(
                "sigstruct.header2",
                24,
                ParseErrorKind::Malformed("not the SIGSTRUCT HEADER2"),
            ));
        }
        if raw.exponent.get() != 3 {
            return Err(bad(
                "sigstruct.exponent",
                512,
                u64::from(raw.exponent.get()),
            ));
        }
        reserved(&raw.reserved1, "sigstruct.reserved1", 44)?;
        reserved(&raw.reserved2, "sigstruct.reserved2", 908)?;
        reserved(&raw.reserved3, "sigstruct.reserved3", 992)?;
        reserved(&raw.reserved4, "sigstruct.reserved4", 1028)?;
        Ok(Self { raw: Box::new(raw) })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    /// The signature check EINIT does: RSA-3072 e=3 PKCS#1 v1.5 SHA-256 over HEADER ‖ BODY, and
    /// Q1/Q2 consistent with the signature and modulus.
    pub fn verify(&self) -> Result<(), LaunchError> {
        let mut n_be: Vec<u8> = self.raw.modulus.iter().rev().copied().collect();
        let lead = n_be.iter().take_while(|b| **b == 0).count();
        n_be.drain(..lead);
        let sig_be: Vec<u8> = self.raw.signature.iter().rev().copied().collect();
        let key = RsaPublicKeyComponents {
            n: &n_be[..],
            e: &[3u8][..],
        };
        key.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &signed_bytes(&self.raw),
            &sig_be,
        )
        .map_err(|_| LaunchError::Signature)?;
        match quotients(&sig_be, &self.raw.modulus) {
            Some((q1, q2)) if q1 == self.raw.q1 && q2 == self.raw.q2 => Ok(()),
            _ => Err(LaunchError::SignatureQuotients),
        }
    }

    /// MRSIGNER: SHA-256 of the modulus as stored.
    pub fn mr_signer(&self) -> Measurement {
        Measurement(sha256(&[&self.raw.modulus]))
    }

    pub fn debug_signer(&self) -> bool {
        self.raw.type_.get() & (1 << 31) != 0
    }
    pub fn module_vendor(&self) -> u32 {
        self.raw.module_vendor.get()
    }
    pub fn date(&self) -> u32 {
        self.raw.date.get()
    }
    pub fn misc_select(&self) -> u32 {
        self.raw.misc_select.get()
    }
    pub fn misc_mask(&self) -> u32 {
        self.raw.misc_mask.get()
    }
    pub fn isv_family_id(&self) -> [u8; 16] {
        self.raw.isv_family_id
    }
    pub fn attributes(&self) -> Attributes {
        Attributes::new(
            self.raw.attributes_flags.get(),
            self.raw.attributes_xfrm.get(),
        )
    }
    pub fn attribute_mask(&self) -> Attributes {
        Attributes::new(
            self.raw.attribute_mask_flags.get(),
            self.raw.attribute_mask_xfrm.get(),
        )
    }
    pub fn enclave_hash(&self) -> Measurement {
        Measurement(self.raw.enclave_hash)
    }
    pub fn isv_ext_prod_id(&self) -> [u8; 16] {
        self.raw.isv_ext_prod_id
    }
    pub fn isv_prod_id(&self) -> u16 {
        self.raw.isv_prod_id.get()
    }
    pub fn isv_svn(&self) -> u16 {
        self.raw.isv_svn.get()
    }
}

impl core::fmt::Debug for SigStruct {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigStruct")
            .field("enclave_hash", &self.enclave_hash())
            .field("mr_signer", &self.mr_signer())
            .field("isv_prod_id", &self.isv_prod_id())
            .field("isv_svn", &self.isv_svn())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn offsets_match_enclave_css_t() {
        assert_eq!(offset_of!(RawSigStruct, type_), 12);
        assert_eq!(offset_of!(RawSigStruct, date), 20);
        assert_eq!(offset_of!(RawSigStruct, header2), 24);
        assert_eq!(offset_of!(RawSigStruct, hw_version), 40);
        assert_eq!(offset_of!(RawSigStruct, modulus), 128);
        assert_eq!(offset_of!(RawSigStruct, exponent), 512);
        assert_eq!(offset_of!(RawSigStruct, signature), 516);
        assert_eq!(offset_of!(RawSigStruct, misc_select), 900);
        assert_eq!(offset_of!(RawSigStruct, isv_family_id), 912);
        assert_eq!(offset_of!(RawSigStruct, attributes_flags), 928);
        assert_eq!(offset_of!(RawSigStruct, attribute_mask_flags), 944);
        assert_eq!(offset_of!(RawSigStruct, enclave_hash), 960);
        assert_eq!(offset_of!(RawSigStruct, isv_ext_prod_id), 1008);
        assert_eq!(offset_of!(RawSigStruct, isv_prod_id), 1024);
        assert_eq!(offset_of!(RawSigStruct, isv_svn), 1026);
        assert_eq!(offset_of!(RawSigStruct, q1), 1040);
        assert_eq!(offset_of!(RawSigStruct, q2), 1424);
    }

    fn sample() -> (SigningKey, SigStruct) {
        let key = SigningKey::test_isv(TestIsv::One).unwrap();
        let f = SigStructFields::new(Measurement([0x5a; 32]), 7, 3).with_kss([1; 16], [2; 16]);
        let s = key.sign(&f).unwrap();
        (key, s)
    }

    /// The hardware's check, done independently with big integers: with r1 = s² − Q1·n and
    /// r2 = s·r1 − Q2·n, both in [0, n), r2 = s³ mod n must be the PKCS#1 v1.5 encoding of
    /// SHA-256(HEADER ‖ BODY).
    #[test]
    fn signature_q1_q2_satisfy_the_cpu_check() {
        let (_, s) = sample();
        let b = s.as_bytes();
        let n = BigUint::from_bytes_le(&b[128..512]);
        let sig = BigUint::from_bytes_le(&b[516..900]);
        let q1 = BigUint::from_bytes_le(&b[1040..1424]);
        let q2 = BigUint::from_bytes_le(&b[1424..1808]);
        let r1 = &sig * &sig - &q1 * &n;
        assert!(r1 < n);
        let r2 = &sig * &r1 - &q2 * &n;
        assert!(r2 < n);
        let mut signed = b[..128].to_vec();
        signed.extend_from_slice(&b[900..1028]);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed);
        let mut em = vec![0x00, 0x01];
        em.resize(384 - 19 - 32 - 1, 0xff);
        em.push(0);
        em.extend_from_slice(&hex::decode("3031300d060960864801650304020105000420").unwrap());
        em.extend_from_slice(digest.as_ref());
        assert_eq!(em.len(), 384);
        assert_eq!(r2, BigUint::from_bytes_be(&em));
    }

    #[test]
    fn layout_constants_and_fields_are_where_the_sdk_puts_them() {
        let (key, s) = sample();
        let b = s.as_bytes();
        assert_eq!(b.len(), SIGSTRUCT_LEN);
        assert_eq!(hex::encode(&b[..12]), "06000000e100000000000100");
        assert_eq!(hex::encode(&b[24..40]), "01010000600000006000000001000000");
        assert_eq!(&b[512..516], &[3, 0, 0, 0]);
        assert_eq!(&b[960..992], &[0x5a; 32]);
        assert_eq!(&b[1024..1028], &[7, 0, 3, 0]);
        assert_eq!(&b[912..928], &[1; 16]);
        assert_eq!(&b[1008..1024], &[2; 16]);
        // MRSIGNER is SHA-256 of the stored (little-endian) modulus.
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &b[128..512]);
        assert_eq!(s.mr_signer().0.as_slice(), d.as_ref());
        assert_eq!(key.mr_signer(), s.mr_signer());
        let other = SigningKey::test_isv(TestIsv::Two).unwrap();
        assert_ne!(other.mr_signer(), key.mr_signer());
        assert!(s.verify().is_ok());
        let again = SigStruct::parse(b).unwrap();
        assert_eq!(again.as_bytes(), b);
    }

    #[test]
    fn any_change_to_the_signed_bytes_or_quotients_fails_einit() {
        let (_, s) = sample();
        for off in [
            16usize, 20, 40, 200, 900, 930, 961, 1010, 1024, 1027, 600, 1100, 1500,
        ] {
            let mut b = s.as_bytes().to_vec();
            b[off] ^= 0x01;
            let t = SigStruct::parse(&b).unwrap();
            assert!(t.verify().is_err(), "byte {off}");
        }
    }

    #[test]
    fn parse_refuses_wrong_constants_and_reserved_bytes() {
        let (_, s) = sample();
        for (off, field) in [
            (0usize, "sigstruct.header"),
            (13, "sigstruct.type"),
            (30, "sigstruct.header2"),
            (512, "sigstruct.exponent"),
            (50, "sigstruct.reserved1"),
            (909, "sigstruct.reserved2"),
            (1000, "sigstruct.reserved3"),
            (1030, "sigstruct.reserved4"),
        ] {
            let mut b = s.as_bytes().to_vec();
            b[off] ^= 0x40;
            assert_eq!(SigStruct::parse(&b).unwrap_err().field, field);
        }
        assert!(SigStruct::parse(&s.as_bytes()[..1807]).is_err());
    }

    #[test]
    fn keys_other_than_rsa_3072_e3_are_refused() {
        let e65537 = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072).unwrap();
        let der =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&e65537).unwrap();
        assert!(matches!(
            SigningKey::from_pkcs8(der.as_ref()),
            Err(Error::SigningKey("the public exponent is not 3"))
        ));
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
    }
}
