//! ATTESTATION_REPORT (SEV-SNP Firmware ABI 56860, Table 23): 0x4A0 bytes, little-endian.
//!
//! The layout is a zerocopy `#[repr(C)]` struct with a compile-time size assertion; [`Report`]
//! is a validated view over the bytes as received. The signature is later checked over exactly
//! `bytes[0x000..0x2A0]` of that input.

use shomei_core::{ParseError, ParseErrorKind, Reader};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::Product;
use crate::bits::{GuestPolicy, KeyInfo, PlatformInfo, SigningKey};
use crate::tcb::RawTcb;

/// Length of an attestation report.
pub const REPORT_LEN: usize = 0x4A0;
/// Length of the signed prefix.
pub const SIGNED_LEN: usize = 0x2A0;

/// The byte layout. Offsets are in the comments and pinned by tests.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawReport {
    pub version: U32,                // 0x000
    pub guest_svn: U32,              // 0x004
    pub policy: U64,                 // 0x008
    pub family_id: [u8; 16],         // 0x010
    pub image_id: [u8; 16],          // 0x020
    pub vmpl: U32,                   // 0x030
    pub signature_algo: U32,         // 0x034
    pub current_tcb: [u8; 8],        // 0x038
    pub platform_info: U64,          // 0x040
    pub key_info: U32,               // 0x048
    pub reserved0: [u8; 4],          // 0x04C
    pub report_data: [u8; 64],       // 0x050
    pub measurement: [u8; 48],       // 0x090
    pub host_data: [u8; 32],         // 0x0C0
    pub id_key_digest: [u8; 48],     // 0x0E0
    pub author_key_digest: [u8; 48], // 0x110
    pub report_id: [u8; 32],         // 0x140
    pub report_id_ma: [u8; 32],      // 0x160
    pub reported_tcb: [u8; 8],       // 0x180
    pub cpuid_fam_id: u8,            // 0x188 (v3+)
    pub cpuid_mod_id: u8,            // 0x189 (v3+)
    pub cpuid_step: u8,              // 0x18A (v3+)
    pub reserved1: [u8; 21],         // 0x18B
    pub chip_id: [u8; 64],           // 0x1A0
    pub committed_tcb: [u8; 8],      // 0x1E0
    pub current_build: u8,           // 0x1E8
    pub current_minor: u8,           // 0x1E9
    pub current_major: u8,           // 0x1EA
    pub reserved2: u8,               // 0x1EB
    pub committed_build: u8,         // 0x1EC
    pub committed_minor: u8,         // 0x1ED
    pub committed_major: u8,         // 0x1EE
    pub reserved3: u8,               // 0x1EF
    pub launch_tcb: [u8; 8],         // 0x1F0
    pub launch_mit_vector: U64,      // 0x1F8 (v5)
    pub current_mit_vector: U64,     // 0x200 (v5)
    pub reserved4: [u8; 152],        // 0x208
    pub signature_r: [u8; 72],       // 0x2A0 (little-endian, 48 significant bytes)
    pub signature_s: [u8; 72],       // 0x2E8
    pub reserved5: [u8; 368],        // 0x330
}

const _: () = assert!(core::mem::size_of::<RawReport>() == REPORT_LEN);

/// Report layout versions this parser knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Version 2: no CPUID bytes, no mitigation vectors.
    V2,
    /// Versions 3 and 4: CPUID at 0x188.
    V3,
    /// Version 5: plus LAUNCH/CURRENT_MIT_VECTOR.
    V5,
}

impl Layout {
    fn of(version: u32) -> Option<Self> {
        match version {
            2 => Some(Self::V2),
            3 | 4 => Some(Self::V3),
            5 => Some(Self::V5),
            _ => None,
        }
    }
}

/// A parsed and structurally validated attestation report, borrowing the received bytes.
#[derive(Clone, Copy)]
pub struct Report<'a> {
    bytes: &'a [u8],
    raw: &'a RawReport,
    layout: Layout,
}

impl core::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Report")
            .field("version", &self.version())
            .field("measurement", &hex::encode(self.measurement()))
            .finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, offset: usize, value: u64) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
}

impl<'a> Report<'a> {
    /// Parses exactly [`REPORT_LEN`] bytes. Checks the version, every reserved-must-be-zero
    /// range of that version, the signature padding, KEY_INFO's reserved values and policy bit
    /// 17 (reserved, must be one). Unknown PLATFORM_INFO and guest-policy flag bits are *not*
    /// rejected: they are passed on to policy.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < REPORT_LEN {
            return Err(ParseError::new(
                "report",
                bytes.len(),
                ParseErrorKind::Truncated {
                    needed: REPORT_LEN,
                    available: bytes.len(),
                },
            ));
        }
        if bytes.len() > REPORT_LEN {
            return Err(ParseError::new(
                "report",
                REPORT_LEN,
                ParseErrorKind::TrailingData {
                    extra: bytes.len().saturating_sub(REPORT_LEN),
                },
            ));
        }
        let arr: &[u8; REPORT_LEN] = bytes
            .try_into()
            .map_err(|_| ParseError::new("report", 0, ParseErrorKind::Malformed("length")))?;
        let raw: &RawReport = zerocopy::transmute_ref!(arr);
        let version = raw.version.get();
        let layout = match Layout::of(version) {
            Some(l) => l,
            None => {
                return Err(ParseError::new(
                    "version",
                    0x000,
                    ParseErrorKind::UnsupportedVersion { found: version },
                ));
            }
        };

        let policy = raw.policy.get();
        if policy & GuestPolicy::RESERVED_ONE == 0 {
            return Err(ParseError::new(
                "policy bit 17 (reserved, must be one)",
                0x008,
                ParseErrorKind::InvalidValue { value: policy },
            ));
        }
        let vmpl = raw.vmpl.get();
        if vmpl > 3 {
            return Err(invalid("vmpl", 0x030, u64::from(vmpl)));
        }
        let key_info = raw.key_info.get();
        if key_info & !0x1F != 0 {
            return Err(ParseError::new(
                "key_info bits 31:5",
                0x048,
                ParseErrorKind::ReservedNonZero,
            ));
        }
        if KeyInfo(key_info).signing_key().is_none() {
            return Err(invalid(
                "key_info.signing_key",
                0x048,
                u64::from((key_info >> 2) & 7),
            ));
        }

        // Reserved ranges per layout, checked with absolute offsets.
        let mut reserved: Vec<(&'static str, usize, usize)> = vec![
            ("reserved (0x04C)", 0x04C, 4),
            ("reserved (0x1EB)", 0x1EB, 1),
            ("reserved (0x1EF)", 0x1EF, 1),
            ("signature r padding", 0x2A0 + 48, 24),
            ("signature s padding", 0x2E8 + 48, 24),
            ("signature reserved", 0x330, REPORT_LEN - 0x330),
        ];
        match layout {
            Layout::V2 => {
                reserved.push(("reserved (0x188, v2)", 0x188, 0x18));
                reserved.push(("reserved (0x1F8, v2)", 0x1F8, SIGNED_LEN - 0x1F8));
            }
            Layout::V3 => {
                reserved.push(("reserved (0x18B)", 0x18B, 21));
                reserved.push(("reserved (0x1F8, v3)", 0x1F8, SIGNED_LEN - 0x1F8));
            }
            Layout::V5 => {
                reserved.push(("reserved (0x18B)", 0x18B, 21));
                reserved.push(("reserved (0x208)", 0x208, SIGNED_LEN - 0x208));
            }
        }
        for (field, off, len) in reserved {
            let mut r = Reader::new(bytes);
            r.take(off, "report")?;
            r.reserved_zero(len, field)?;
        }
        Ok(Self { bytes, raw, layout })
    }

    /// A view over bytes that [`Report::parse`] has already accepted (kept by
    /// [`crate::VerifiedReport`]).
    pub(crate) fn from_validated(arr: &'a [u8; REPORT_LEN]) -> Self {
        let raw: &RawReport = zerocopy::transmute_ref!(arr);
        let layout = Layout::of(raw.version.get()).unwrap_or(Layout::V5);
        Self {
            bytes: arr,
            raw,
            layout,
        }
    }

    /// The bytes as received (exactly [`REPORT_LEN`]).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The signed prefix `0x000..0x2A0`, as received.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.bytes.get(..SIGNED_LEN).unwrap_or(&[])
    }

    pub fn raw(&self) -> &'a RawReport {
        self.raw
    }

    pub fn version(&self) -> u32 {
        self.raw.version.get()
    }
    pub fn guest_svn(&self) -> u32 {
        self.raw.guest_svn.get()
    }
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(self.raw.policy.get())
    }
    pub fn family_id(&self) -> &'a [u8; 16] {
        &self.raw.family_id
    }
    pub fn image_id(&self) -> &'a [u8; 16] {
        &self.raw.image_id
    }
    pub fn vmpl(&self) -> u32 {
        self.raw.vmpl.get()
    }
    pub fn signature_algo(&self) -> u32 {
        self.raw.signature_algo.get()
    }
    pub fn current_tcb(&self) -> RawTcb {
        RawTcb(self.raw.current_tcb)
    }
    pub fn platform_info(&self) -> PlatformInfo {
        PlatformInfo(self.raw.platform_info.get())
    }
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo(self.raw.key_info.get())
    }
    /// The signing key named by KEY_INFO (validated at parse time).
    pub fn signing_key(&self) -> SigningKey {
        self.key_info().signing_key().unwrap_or(SigningKey::None)
    }
    pub fn report_data(&self) -> &'a [u8; 64] {
        &self.raw.report_data
    }
    pub fn measurement(&self) -> &'a [u8; 48] {
        &self.raw.measurement
    }
    pub fn host_data(&self) -> &'a [u8; 32] {
        &self.raw.host_data
    }
    pub fn id_key_digest(&self) -> &'a [u8; 48] {
        &self.raw.id_key_digest
    }
    pub fn author_key_digest(&self) -> &'a [u8; 48] {
        &self.raw.author_key_digest
    }
    pub fn report_id(&self) -> &'a [u8; 32] {
        &self.raw.report_id
    }
    pub fn report_id_ma(&self) -> &'a [u8; 32] {
        &self.raw.report_id_ma
    }
    pub fn reported_tcb(&self) -> RawTcb {
        RawTcb(self.raw.reported_tcb)
    }
    /// CPUID family, model and stepping (report v3 and later).
    pub fn cpuid(&self) -> Option<(u8, u8, u8)> {
        match self.layout {
            Layout::V2 => None,
            Layout::V3 | Layout::V5 => Some((
                self.raw.cpuid_fam_id,
                self.raw.cpuid_mod_id,
                self.raw.cpuid_step,
            )),
        }
    }
    /// The product according to the CPUID bytes (v3+), if they name a known part.
    pub fn product_from_cpuid(&self) -> Option<Product> {
        self.cpuid().and_then(|(f, m, _)| Product::from_cpuid(f, m))
    }
    pub fn chip_id(&self) -> &'a [u8; 64] {
        &self.raw.chip_id
    }
    pub fn committed_tcb(&self) -> RawTcb {
        RawTcb(self.raw.committed_tcb)
    }
    /// CURRENT firmware version as (major, minor, build).
    pub fn current_version(&self) -> FirmwareVersion {
        FirmwareVersion {
            major: self.raw.current_major,
            minor: self.raw.current_minor,
            build: self.raw.current_build,
        }
    }
    /// COMMITTED firmware version as (major, minor, build).
    pub fn committed_version(&self) -> FirmwareVersion {
        FirmwareVersion {
            major: self.raw.committed_major,
            minor: self.raw.committed_minor,
            build: self.raw.committed_build,
        }
    }
    pub fn launch_tcb(&self) -> RawTcb {
        RawTcb(self.raw.launch_tcb)
    }
    /// LAUNCH_MIT_VECTOR (v5 only).
    pub fn launch_mit_vector(&self) -> Option<u64> {
        (self.layout == Layout::V5).then(|| self.raw.launch_mit_vector.get())
    }
    /// CURRENT_MIT_VECTOR (v5 only).
    pub fn current_mit_vector(&self) -> Option<u64> {
        (self.layout == Layout::V5).then(|| self.raw.current_mit_vector.get())
    }

    /// The signature as 96 bytes `r ‖ s`, big-endian (the fixed form of ECDSA P-384).
    pub fn signature_fixed(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        for (i, b) in self.raw.signature_r.iter().take(48).enumerate() {
            if let Some(slot) = out.get_mut(47 - i) {
                *slot = *b;
            }
        }
        for (i, b) in self.raw.signature_s.iter().take(48).enumerate() {
            if let Some(slot) = out.get_mut(95 - i) {
                *slot = *b;
            }
        }
        out
    }

    /// Firmware is provisional when the committed TCB or version differs from the current one.
    pub fn is_provisional_firmware(&self) -> bool {
        self.raw.committed_tcb != self.raw.current_tcb
            || self.committed_version() != self.current_version()
    }
}

/// A firmware version (major.minor, build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u8,
}

impl core::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn offsets_match_the_abi_table() {
        assert_eq!(offset_of!(RawReport, policy), 0x008);
        assert_eq!(offset_of!(RawReport, vmpl), 0x030);
        assert_eq!(offset_of!(RawReport, current_tcb), 0x038);
        assert_eq!(offset_of!(RawReport, platform_info), 0x040);
        assert_eq!(offset_of!(RawReport, key_info), 0x048);
        assert_eq!(offset_of!(RawReport, report_data), 0x050);
        assert_eq!(offset_of!(RawReport, measurement), 0x090);
        assert_eq!(offset_of!(RawReport, host_data), 0x0C0);
        assert_eq!(offset_of!(RawReport, id_key_digest), 0x0E0);
        assert_eq!(offset_of!(RawReport, author_key_digest), 0x110);
        assert_eq!(offset_of!(RawReport, report_id), 0x140);
        assert_eq!(offset_of!(RawReport, report_id_ma), 0x160);
        assert_eq!(offset_of!(RawReport, reported_tcb), 0x180);
        assert_eq!(offset_of!(RawReport, cpuid_fam_id), 0x188);
        assert_eq!(offset_of!(RawReport, chip_id), 0x1A0);
        assert_eq!(offset_of!(RawReport, committed_tcb), 0x1E0);
        assert_eq!(offset_of!(RawReport, current_build), 0x1E8);
        assert_eq!(offset_of!(RawReport, committed_build), 0x1EC);
        assert_eq!(offset_of!(RawReport, launch_tcb), 0x1F0);
        assert_eq!(offset_of!(RawReport, launch_mit_vector), 0x1F8);
        assert_eq!(offset_of!(RawReport, current_mit_vector), 0x200);
        assert_eq!(offset_of!(RawReport, signature_r), 0x2A0);
        assert_eq!(offset_of!(RawReport, signature_s), 0x2E8);
        assert_eq!(offset_of!(RawReport, reserved5), 0x330);
    }

    fn minimal(version: u32) -> Vec<u8> {
        let mut b = vec![0u8; REPORT_LEN];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[8..16].copy_from_slice(&0x30000u64.to_le_bytes());
        b
    }

    #[test]
    fn unknown_version_is_typed() {
        let b = minimal(6);
        assert_eq!(
            Report::parse(&b).err().map(|e| e.kind),
            Some(ParseErrorKind::UnsupportedVersion { found: 6 })
        );
        let b = minimal(1);
        assert!(Report::parse(&b).is_err());
    }

    #[test]
    fn unknown_platform_and_policy_bits_pass_the_parser() {
        let mut b = minimal(5);
        b[0x40..0x48].copy_from_slice(&u64::MAX.to_le_bytes());
        b[8..16].copy_from_slice(&(0x30000u64 | 1 << 40).to_le_bytes());
        let r = Report::parse(&b);
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn v5_fields_are_reserved_in_v2_and_v3() {
        for v in [2u32, 3] {
            let mut b = minimal(v);
            b[0x1F8] = 1;
            let e = Report::parse(&b).err();
            assert_eq!(e.as_ref().map(|e| e.offset), Some(0x1F8), "v{v}");
            assert_eq!(e.map(|e| e.kind), Some(ParseErrorKind::ReservedNonZero));
        }
        let mut b = minimal(5);
        b[0x1F8] = 1;
        assert!(Report::parse(&b).is_ok());
    }

    #[test]
    fn cpuid_bytes_are_reserved_in_v2() {
        let mut b = minimal(2);
        b[0x188] = 0x19;
        assert_eq!(Report::parse(&b).err().map(|e| e.offset), Some(0x188));
        let mut b = minimal(3);
        b[0x188] = 0x19;
        assert!(Report::parse(&b).is_ok());
    }

    #[test]
    fn signature_padding_must_be_zero() {
        let mut b = minimal(2);
        b[0x2A0 + 50] = 1;
        assert_eq!(Report::parse(&b).err().map(|e| e.offset), Some(0x2A0 + 50));
    }

    #[test]
    fn reserved_signing_key_values_are_rejected() {
        let mut b = minimal(3);
        b[0x48] = 2 << 2;
        assert_eq!(
            Report::parse(&b).err().map(|e| e.field),
            Some("key_info.signing_key")
        );
    }

    #[test]
    fn signature_is_reversed_into_big_endian() {
        let mut b = minimal(2);
        b[0x2A0] = 0xAA; // least significant byte of r
        b[0x2A0 + 47] = 0x01; // most significant byte of r
        b[0x2E8] = 0xBB;
        let r = Report::parse(&b).ok();
        let sig = r.map(|r| r.signature_fixed()).unwrap_or([0; 96]);
        assert_eq!(sig[0], 0x01);
        assert_eq!(sig[47], 0xAA);
        assert_eq!(sig[95], 0xBB);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..1300)) {
            let _ = Report::parse(&data);
        }

        #[test]
        fn parse_never_panics_on_report_sized_input(data in proptest::collection::vec(proptest::num::u8::ANY, REPORT_LEN..=REPORT_LEN)) {
            let _ = Report::parse(&data);
        }
    }
}
