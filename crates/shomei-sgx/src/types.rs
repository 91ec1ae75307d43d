//! Architectural SGX structures, little-endian and packed (SDK `common/inc/sgx_report.h`,
//! `sgx_key.h`, `sgx_attributes.h`): REPORT (432 B), TARGETINFO (512 B), KEYREQUEST (512 B),
//! ATTRIBUTES.
//!
//! Each layout is a zerocopy `#[repr(C)]` struct with a compile-time size assertion and offset
//! tests; the public types keep the bytes exactly as received, so a MAC is always checked over
//! the received bytes. Reserved ranges must be zero (with the one byte that LAv2 calls
//! CET_ATTRIBUTES kept as a field).

use core::fmt;

use shomei_core::{ParseError, ParseErrorKind, Reader};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Length of `sgx_report_t`.
pub const REPORT_LEN: usize = 432;
/// Length of `sgx_report_body_t` (what the REPORT MAC covers).
pub const REPORT_BODY_LEN: usize = 384;
/// Length of `sgx_target_info_t`.
pub const TARGET_INFO_LEN: usize = 512;
/// Length of `sgx_key_request_t`.
pub const KEY_REQUEST_LEN: usize = 512;

/// A 32-byte measurement: MRENCLAVE or MRSIGNER.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Measurement(pub [u8; 32]);

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({})", hex::encode(self.0))
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The CPU security version (16 bytes; raised by TCB recovery).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuSvn(pub [u8; 16]);

impl CpuSvn {
    /// The SDK simulator's `DEFAULT_CPUSVN` (`sdk/simulation/tinst/rts_sim.h`).
    pub const SDK_DEFAULT: CpuSvn = CpuSvn([
        0x48, 0x20, 0xf3, 0x37, 0x6a, 0xe6, 0xb2, 0xf2, 0x03, 0x4d, 0x3b, 0x7a, 0x4b, 0x48, 0xa7,
        0x78,
    ]);

    /// Whether `self` is at or below `current` in every component. The hardware's comparison
    /// is undisclosed; the emulator compares the 16 bytes as independent SVN components, so a
    /// seal key for an older TCB can be derived and one for a newer TCB cannot.
    pub fn is_at_most(&self, current: &CpuSvn) -> bool {
        self.0.iter().zip(current.0.iter()).all(|(a, b)| a <= b)
    }
}

impl fmt::Debug for CpuSvn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSvn({})", hex::encode(self.0))
    }
}

impl fmt::Display for CpuSvn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// `sgx_attributes_t`: enclave flags and XFRM (SDK `sgx_attributes.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes {
    pub flags: u64,
    pub xfrm: u64,
}

impl Attributes {
    /// The enclave has been initialised by EINIT.
    pub const INITTED: u64 = 0x1;
    /// A debugger may read and write enclave memory.
    pub const DEBUG: u64 = 0x2;
    /// 64-bit enclave.
    pub const MODE64BIT: u64 = 0x4;
    /// May request the provisioning key.
    pub const PROVISION_KEY: u64 = 0x10;
    /// May request the EINITTOKEN key.
    pub const EINITTOKEN_KEY: u64 = 0x20;
    /// Key Separation and Sharing: CONFIGID/CONFIGSVN/ISVFAMILYID/ISVEXTPRODID are in force.
    pub const KSS: u64 = 0x80;
    /// AEX notifications.
    pub const AEX_NOTIFY: u64 = 0x400;
    /// Flags an enclave may request at ECREATE (INITTED is set by EINIT only).
    pub const REQUESTABLE: u64 = Self::DEBUG
        | Self::MODE64BIT
        | Self::PROVISION_KEY
        | Self::EINITTOKEN_KEY
        | Self::KSS
        | Self::AEX_NOTIFY;
    /// XFRM bits 0 and 1 (x87 and SSE state) must always be set.
    pub const XFRM_LEGACY: u64 = 0x3;

    pub const fn new(flags: u64, xfrm: u64) -> Self {
        Self { flags, xfrm }
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag == flag
    }

    pub fn is_debug(&self) -> bool {
        self.has(Self::DEBUG)
    }

    pub fn and(self, mask: Attributes) -> Attributes {
        Attributes::new(self.flags & mask.flags, self.xfrm & mask.xfrm)
    }

    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let (f, x) = out.split_at_mut(8);
        f.copy_from_slice(&self.flags.to_le_bytes());
        x.copy_from_slice(&self.xfrm.to_le_bytes());
        out
    }

    pub fn from_bytes(b: &[u8; 16]) -> Self {
        let mut f = [0u8; 8];
        let mut x = [0u8; 8];
        let (bf, bx) = b.split_at(8);
        f.copy_from_slice(bf);
        x.copy_from_slice(bx);
        Self::new(u64::from_le_bytes(f), u64::from_le_bytes(x))
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::INITTED, "INITTED"),
            (Self::DEBUG, "DEBUG"),
            (Self::MODE64BIT, "MODE64BIT"),
            (Self::PROVISION_KEY, "PROVISIONKEY"),
            (Self::EINITTOKEN_KEY, "EINITTOKENKEY"),
            (Self::KSS, "KSS"),
            (Self::AEX_NOTIFY, "AEXNOTIFY"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, n)| *n)
            .collect();
        write!(
            f,
            "flags {:#x} [{}] xfrm {:#x}",
            self.flags,
            set.join("|"),
            self.xfrm
        )
    }
}

/// `sgx_report_body_t` (384 B). Offsets in the comments are pinned by tests.
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawReportBody {
    pub cpu_svn: [u8; 16],         // 0
    pub misc_select: U32,          // 16
    pub cet_attributes: u8,        // 20 (LAv2 copies it into TARGETINFO)
    pub reserved1: [u8; 11],       // 21
    pub isv_ext_prod_id: [u8; 16], // 32 (KSS)
    pub attributes_flags: U64,     // 48
    pub attributes_xfrm: U64,      // 56
    pub mr_enclave: [u8; 32],      // 64
    pub reserved2: [u8; 32],       // 96
    pub mr_signer: [u8; 32],       // 128
    pub reserved3: [u8; 32],       // 160
    pub config_id: [u8; 64],       // 192 (KSS)
    pub isv_prod_id: U16,          // 256
    pub isv_svn: U16,              // 258
    pub config_svn: U16,           // 260 (KSS)
    pub reserved4: [u8; 42],       // 262
    pub isv_family_id: [u8; 16],   // 304 (KSS)
    pub report_data: [u8; 64],     // 320
}

/// `sgx_report_t` (432 B): body ‖ KEYID ‖ MAC.
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawReport {
    pub body: RawReportBody, // 0
    pub key_id: [u8; 32],    // 384
    pub mac: [u8; 16],       // 416
}

/// `sgx_target_info_t` (512 B).
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawTargetInfo {
    pub mr_enclave: [u8; 32],  // 0
    pub attributes_flags: U64, // 32
    pub attributes_xfrm: U64,  // 40
    pub cet_attributes: u8,    // 48 (LAv2)
    pub reserved1: u8,         // 49
    pub config_svn: U16,       // 50
    pub misc_select: U32,      // 52
    pub reserved2: [u8; 8],    // 56
    pub config_id: [u8; 64],   // 64
    pub reserved3: [u8; 384],  // 128
}

/// `sgx_key_request_t` (512 B).
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawKeyRequest {
    pub key_name: U16,             // 0
    pub key_policy: U16,           // 2
    pub isv_svn: U16,              // 4
    pub reserved1: [u8; 2],        // 6
    pub cpu_svn: [u8; 16],         // 8
    pub attribute_mask_flags: U64, // 24
    pub attribute_mask_xfrm: U64,  // 32
    pub key_id: [u8; 32],          // 40
    pub misc_mask: U32,            // 72
    pub config_svn: U16,           // 76
    pub reserved2: [u8; 434],      // 78
}

const _: () = assert!(core::mem::size_of::<RawReportBody>() == REPORT_BODY_LEN);
const _: () = assert!(core::mem::size_of::<RawReport>() == REPORT_LEN);
const _: () = assert!(core::mem::size_of::<RawTargetInfo>() == TARGET_INFO_LEN);
const _: () = assert!(core::mem::size_of::<RawKeyRequest>() == KEY_REQUEST_LEN);

/// Checks that `bytes`, which start at absolute offset `at`, are all zero.
pub(crate) fn reserved(bytes: &[u8], field: &'static str, at: usize) -> Result<(), ParseError> {
    match bytes.iter().position(|b| *b != 0) {
        None => Ok(()),
        Some(i) => Err(ParseError::new(
            field,
            at.saturating_add(i),
            ParseErrorKind::ReservedNonZero,
        )),
    }
}

/// Takes `N` bytes from the reader as an array, returning it with its absolute offset.
fn take_array<const N: usize>(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<([u8; N], usize), ParseError> {
    let at = r.offset();
    Ok((r.array::<N>(field)?, at))
}

/// A REPORT body: the 384 bytes that the REPORT MAC covers, as received.
#[derive(Clone, Copy)]
pub struct ReportBody {
    raw: RawReportBody,
}

impl ReportBody {
    pub(crate) fn from_raw(raw: RawReportBody) -> Self {
        Self { raw }
    }

    /// The 384 bytes, exactly as received (or produced by EREPORT).
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    pub fn cpu_svn(&self) -> CpuSvn {
        CpuSvn(self.raw.cpu_svn)
    }
    pub fn misc_select(&self) -> u32 {
        self.raw.misc_select.get()
    }
    pub fn cet_attributes(&self) -> u8 {
        self.raw.cet_attributes
    }
    pub fn isv_ext_prod_id(&self) -> [u8; 16] {
        self.raw.isv_ext_prod_id
    }
    pub fn attributes(&self) -> Attributes {
        Attributes::new(
            self.raw.attributes_flags.get(),
            self.raw.attributes_xfrm.get(),
        )
    }
    pub fn mr_enclave(&self) -> Measurement {
        Measurement(self.raw.mr_enclave)
    }
    pub fn mr_signer(&self) -> Measurement {
        Measurement(self.raw.mr_signer)
    }
    pub fn config_id(&self) -> [u8; 64] {
        self.raw.config_id
    }
    pub fn isv_prod_id(&self) -> u16 {
        self.raw.isv_prod_id.get()
    }
    pub fn isv_svn(&self) -> u16 {
        self.raw.isv_svn.get()
    }
    pub fn config_svn(&self) -> u16 {
        self.raw.config_svn.get()
    }
    pub fn isv_family_id(&self) -> [u8; 16] {
        self.raw.isv_family_id
    }
    pub fn report_data(&self) -> [u8; 64] {
        self.raw.report_data
    }

    /// Checks the reserved ranges of a body that starts at absolute offset `at`.
    fn validate(raw: &RawReportBody, at: usize) -> Result<(), ParseError> {
        reserved(&raw.reserved1, "report.reserved1", at.saturating_add(21))?;
        reserved(&raw.reserved2, "report.reserved2", at.saturating_add(96))?;
        reserved(&raw.reserved3, "report.reserved3", at.saturating_add(160))?;
        reserved(&raw.reserved4, "report.reserved4", at.saturating_add(262))
    }
}

impl fmt::Debug for ReportBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportBody")
            .field("mr_enclave", &self.mr_enclave())
            .field("mr_signer", &self.mr_signer())
            .field("isv_prod_id", &self.isv_prod_id())
            .field("isv_svn", &self.isv_svn())
            .field("attributes", &self.attributes())
            .finish_non_exhaustive()
    }
}

/// `sgx_report_t`: what EREPORT produces. Parsed from exactly [`REPORT_LEN`] bytes with every
/// reserved range checked; the bytes are kept as received.
#[derive(Clone, Copy)]
pub struct Report {
    raw: RawReport,
}

impl Report {
    pub(crate) fn from_raw(raw: RawReport) -> Self {
        Self { raw }
    }

    /// Parses exactly [`REPORT_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let report = Self::read(&mut r, "report")?;
        r.finish("report")?;
        Ok(report)
    }

    /// Reads a REPORT from a message.
    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, ParseError> {
        let (bytes, at) = take_array::<REPORT_LEN>(r, field)?;
        let raw: RawReport = zerocopy::transmute!(bytes);
        ReportBody::validate(&raw.body, at)?;
        Ok(Self { raw })
    }

    /// The 432 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    pub fn body(&self) -> ReportBody {
        ReportBody::from_raw(self.raw.body)
    }

    /// The KEYID the report key was derived with (not covered by the MAC).
    pub fn key_id(&self) -> [u8; 32] {
        self.raw.key_id
    }

    /// AES-128-CMAC over the body under the target's report key.
    pub fn mac(&self) -> [u8; 16] {
        self.raw.mac
    }

    pub(crate) fn raw_mut(&mut self) -> &mut RawReport {
        &mut self.raw
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("body", &self.body())
            .field("key_id", &hex::encode(self.raw.key_id))
            .finish_non_exhaustive()
    }
}

/// `sgx_target_info_t`: the identity of the enclave a REPORT is for.
#[derive(Clone, Copy)]
pub struct TargetInfo {
    raw: RawTargetInfo,
}

impl TargetInfo {
    /// A TARGETINFO naming an enclave by its report-key inputs.
    pub fn new(
        mr_enclave: Measurement,
        attributes: Attributes,
        misc_select: u32,
        config_id: [u8; 64],
        config_svn: u16,
    ) -> Self {
        let mut raw = RawTargetInfo::new_zeroed();
        raw.mr_enclave = mr_enclave.0;
        raw.attributes_flags = U64::new(attributes.flags);
        raw.attributes_xfrm = U64::new(attributes.xfrm);
        raw.misc_select = U32::new(misc_select);
        raw.config_id = config_id;
        raw.config_svn = U16::new(config_svn);
        Self { raw }
    }

    /// Wraps bytes that an algorithm (LAv2's `make_target_info`) produced; reserved bytes are
    /// carried but, as in hardware, never enter the key derivation.
    pub(crate) fn from_array(bytes: [u8; TARGET_INFO_LEN]) -> Self {
        Self {
            raw: zerocopy::transmute!(bytes),
        }
    }

    /// Parses exactly [`TARGET_INFO_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let ti = Self::read(&mut r, "target_info")?;
        r.finish("target_info")?;
        Ok(ti)
    }

    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, ParseError> {
        let (bytes, at) = take_array::<TARGET_INFO_LEN>(r, field)?;
        let raw: RawTargetInfo = zerocopy::transmute!(bytes);
        reserved(
            core::slice::from_ref(&raw.reserved1),
            "target_info.reserved1",
            at.saturating_add(49),
        )?;
        reserved(
            &raw.reserved2,
            "target_info.reserved2",
            at.saturating_add(56),
        )?;
        reserved(
            &raw.reserved3,
            "target_info.reserved3",
            at.saturating_add(128),
        )?;
        Ok(Self { raw })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    pub fn mr_enclave(&self) -> Measurement {
        Measurement(self.raw.mr_enclave)
    }
    pub fn attributes(&self) -> Attributes {
        Attributes::new(
            self.raw.attributes_flags.get(),
            self.raw.attributes_xfrm.get(),
        )
    }
    pub fn cet_attributes(&self) -> u8 {
        self.raw.cet_attributes
    }
    pub fn config_svn(&self) -> u16 {
        self.raw.config_svn.get()
    }
    pub fn misc_select(&self) -> u32 {
        self.raw.misc_select.get()
    }
    pub fn config_id(&self) -> [u8; 64] {
        self.raw.config_id
    }
}

impl fmt::Debug for TargetInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetInfo")
            .field("mr_enclave", &self.mr_enclave())
            .field("attributes", &self.attributes())
            .finish_non_exhaustive()
    }
}

/// KEYREQUEST.KEYNAME values (SDK `sgx_key.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyName {
    EinitToken = 0,
    Provision = 1,
    ProvisionSeal = 2,
    Report = 3,
    Seal = 4,
}

impl KeyName {
    pub fn code(self) -> u16 {
        match self {
            Self::EinitToken => 0,
            Self::Provision => 1,
            Self::ProvisionSeal => 2,
            Self::Report => 3,
            Self::Seal => 4,
        }
    }

    pub fn from_code(v: u16) -> Option<Self> {
        match v {
            0 => Some(Self::EinitToken),
            1 => Some(Self::Provision),
            2 => Some(Self::ProvisionSeal),
            3 => Some(Self::Report),
            4 => Some(Self::Seal),
            _ => None,
        }
    }
}

/// KEYREQUEST.KEYPOLICY bits (SDK `sgx_key.h`).
pub mod key_policy {
    pub const MRENCLAVE: u16 = 0x1;
    pub const MRSIGNER: u16 = 0x2;
    /// Leave ISVPRODID out of the derivation (KSS).
    pub const NOISVPRODID: u16 = 0x4;
    /// Include CONFIGID and the requested CONFIGSVN (KSS).
    pub const CONFIGID: u16 = 0x8;
    /// Include ISVFAMILYID (KSS).
    pub const ISVFAMILYID: u16 = 0x10;
    /// Include ISVEXTPRODID (KSS).
    pub const ISVEXTPRODID: u16 = 0x20;
    /// The bits that need ATTRIBUTES.KSS.
    pub const KSS_BITS: u16 = NOISVPRODID | CONFIGID | ISVFAMILYID | ISVEXTPRODID;
    /// Every defined bit.
    pub const DEFINED: u16 = MRENCLAVE | MRSIGNER | KSS_BITS;
}

/// `sgx_key_request_t`, the input of EGETKEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRequest {
    /// KEYNAME as a raw value (an unknown one is EGETKEY's `INVALID_KEYNAME`, not a parse error).
    pub key_name: u16,
    pub key_policy: u16,
    pub isv_svn: u16,
    pub cpu_svn: CpuSvn,
    pub attribute_mask: Attributes,
    pub key_id: [u8; 32],
    pub misc_mask: u32,
    pub config_svn: u16,
}

impl KeyRequest {
    /// The request `sgx_verify_report` makes: KEYNAME=REPORT and the report's KEYID, rest zero.
    pub fn report_key(key_id: [u8; 32]) -> Self {
        Self {
            key_name: KeyName::Report.code(),
            key_policy: 0,
            isv_svn: 0,
            cpu_svn: CpuSvn::default(),
            attribute_mask: Attributes::default(),
            key_id,
            misc_mask: 0,
            config_svn: 0,
        }
    }

    /// A seal-key request with the SDK's default masks (`sgx_tseal`: `TSEAL_DEFAULT_FLAGSMASK`
    /// = FLAGS 0xFF0000000000000B, XFRM 0; `TSEAL_DEFAULT_MISCMASK` = 0xF0000000).
    pub fn seal_key(key_policy: u16, isv_svn: u16, cpu_svn: CpuSvn, key_id: [u8; 32]) -> Self {
        Self {
            key_name: KeyName::Seal.code(),
            key_policy,
            isv_svn,
            cpu_svn,
            attribute_mask: Attributes::new(0xFF00_0000_0000_000B, 0),
            key_id,
            misc_mask: 0xF000_0000,
            config_svn: 0,
        }
    }

    pub fn to_bytes(&self) -> [u8; KEY_REQUEST_LEN] {
        let mut raw = RawKeyRequest::new_zeroed();
        raw.key_name = U16::new(self.key_name);
        raw.key_policy = U16::new(self.key_policy);
        raw.isv_svn = U16::new(self.isv_svn);
        raw.cpu_svn = self.cpu_svn.0;
        raw.attribute_mask_flags = U64::new(self.attribute_mask.flags);
        raw.attribute_mask_xfrm = U64::new(self.attribute_mask.xfrm);
        raw.key_id = self.key_id;
        raw.misc_mask = U32::new(self.misc_mask);
        raw.config_svn = U16::new(self.config_svn);
        zerocopy::transmute!(raw)
    }

    /// Parses exactly [`KEY_REQUEST_LEN`] bytes; the reserved fields must be zero (EGETKEY
    /// faults otherwise).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let (arr, at) = take_array::<KEY_REQUEST_LEN>(&mut r, "key_request")?;
        r.finish("key_request")?;
        let raw: RawKeyRequest = zerocopy::transmute!(arr);
        reserved(
            &raw.reserved1,
            "key_request.reserved1",
            at.saturating_add(6),
        )?;
        reserved(
            &raw.reserved2,
            "key_request.reserved2",
            at.saturating_add(78),
        )?;
        Ok(Self {
            key_name: raw.key_name.get(),
            key_policy: raw.key_policy.get(),
            isv_svn: raw.isv_svn.get(),
            cpu_svn: CpuSvn(raw.cpu_svn),
            attribute_mask: Attributes::new(
                raw.attribute_mask_flags.get(),
                raw.attribute_mask_xfrm.get(),
            ),
            key_id: raw.key_id,
            misc_mask: raw.misc_mask.get(),
            config_svn: raw.config_svn.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn report_body_offsets_match_the_sdk() {
        assert_eq!(offset_of!(RawReportBody, misc_select), 16);
        assert_eq!(offset_of!(RawReportBody, cet_attributes), 20);
        assert_eq!(offset_of!(RawReportBody, isv_ext_prod_id), 32);
        assert_eq!(offset_of!(RawReportBody, attributes_flags), 48);
        assert_eq!(offset_of!(RawReportBody, mr_enclave), 64);
        assert_eq!(offset_of!(RawReportBody, mr_signer), 128);
        assert_eq!(offset_of!(RawReportBody, config_id), 192);
        assert_eq!(offset_of!(RawReportBody, isv_prod_id), 256);
        assert_eq!(offset_of!(RawReportBody, isv_svn), 258);
        assert_eq!(offset_of!(RawReportBody, config_svn), 260);
        assert_eq!(offset_of!(RawReportBody, isv_family_id), 304);
        assert_eq!(offset_of!(RawReportBody, report_data), 320);
        assert_eq!(offset_of!(RawReport, key_id), 384);
        assert_eq!(offset_of!(RawReport, mac), 416);
    }

    #[test]
    fn target_info_and_key_request_offsets_match_the_sdk() {
        assert_eq!(offset_of!(RawTargetInfo, attributes_flags), 32);
        assert_eq!(offset_of!(RawTargetInfo, cet_attributes), 48);
        assert_eq!(offset_of!(RawTargetInfo, config_svn), 50);
        assert_eq!(offset_of!(RawTargetInfo, misc_select), 52);
        assert_eq!(offset_of!(RawTargetInfo, config_id), 64);
        assert_eq!(offset_of!(RawTargetInfo, reserved3), 128);
        assert_eq!(offset_of!(RawKeyRequest, cpu_svn), 8);
        assert_eq!(offset_of!(RawKeyRequest, attribute_mask_flags), 24);
        assert_eq!(offset_of!(RawKeyRequest, key_id), 40);
        assert_eq!(offset_of!(RawKeyRequest, misc_mask), 72);
        assert_eq!(offset_of!(RawKeyRequest, config_svn), 76);
        assert_eq!(offset_of!(RawKeyRequest, reserved2), 78);
    }

    #[test]
    fn report_reserved_bytes_are_rejected_with_their_offset() {
        for (off, field) in [
            (21usize, "report.reserved1"),
            (31, "report.reserved1"),
            (96, "report.reserved2"),
            (170, "report.reserved3"),
            (303, "report.reserved4"),
        ] {
            let mut b = [0u8; REPORT_LEN];
            b[off] = 1;
            let e = Report::parse(&b).unwrap_err();
            assert_eq!((e.field, e.offset), (field, off));
            assert_eq!(e.kind, ParseErrorKind::ReservedNonZero);
        }
        // Byte 20 is CET_ATTRIBUTES, a field.
        let mut b = [0u8; REPORT_LEN];
        b[20] = 1;
        assert_eq!(Report::parse(&b).unwrap().body().cet_attributes(), 1);
    }

    #[test]
    fn report_length_must_be_exact() {
        assert!(matches!(
            Report::parse(&[0u8; REPORT_LEN - 1]).unwrap_err().kind,
            ParseErrorKind::Truncated { .. }
        ));
        assert!(matches!(
            Report::parse(&[0u8; REPORT_LEN + 1]).unwrap_err().kind,
            ParseErrorKind::TrailingData { extra: 1 }
        ));
    }

    #[test]
    fn target_info_reserved_bytes_are_rejected_but_cet_byte_is_a_field() {
        for off in [49usize, 56, 63, 128, 511] {
            let mut b = [0u8; TARGET_INFO_LEN];
            b[off] = 0x80;
            let e = TargetInfo::parse(&b).unwrap_err();
            assert_eq!(e.offset, off);
        }
        let mut b = [0u8; TARGET_INFO_LEN];
        b[48] = 7;
        b[50] = 0x34;
        b[51] = 0x12;
        let ti = TargetInfo::parse(&b).unwrap();
        assert_eq!((ti.cet_attributes(), ti.config_svn()), (7, 0x1234));
    }

    #[test]
    fn key_request_round_trips_and_checks_reserved() {
        let kr = KeyRequest {
            key_name: 4,
            key_policy: 0x3,
            isv_svn: 7,
            cpu_svn: CpuSvn([9; 16]),
            attribute_mask: Attributes::new(0xff, 0x3),
            key_id: [5; 32],
            misc_mask: 0xffff_ffff,
            config_svn: 2,
        };
        let b = kr.to_bytes();
        assert_eq!(&b[0..2], &[4, 0]);
        assert_eq!(&b[4..6], &[7, 0]);
        assert_eq!(&b[72..76], &[0xff; 4]);
        assert_eq!(KeyRequest::parse(&b).unwrap(), kr);
        let mut bad = b;
        bad[6] = 1;
        assert_eq!(KeyRequest::parse(&bad).unwrap_err().offset, 6);
        let mut bad = b;
        bad[511] = 1;
        assert_eq!(KeyRequest::parse(&bad).unwrap_err().offset, 511);
    }

    #[test]
    fn cpusvn_comparison_is_per_component() {
        let cur = CpuSvn([5; 16]);
        assert!(CpuSvn([0; 16]).is_at_most(&cur));
        assert!(cur.is_at_most(&cur));
        let mut newer = [5u8; 16];
        newer[15] = 6;
        assert!(!CpuSvn(newer).is_at_most(&cur));
    }
}
