//! DCAP quotes (Intel `sgx_quote_3.h`, `sgx_quote_4.h`, `sgx_quote_5.h`): v3 (SGX), v4 (SGX or
//! TDX 1.0) and v5 (a body descriptor, then an SGX, TD 1.0 or TD 1.5 body).
//!
//! The fixed-size parts are zerocopy `#[repr(C)]` layouts with compile-time size assertions and
//! offset tests; [`Quote::parse`] is a bounded walk over the received bytes with the [`Reader`],
//! so every error names the field and its offset. The quote signature is later checked over
//! exactly [`Quote::signed_bytes`] of that input (header ‖ \[v5 descriptor\] ‖ body).
//!
//! Trailing bytes after the signature data are tolerated when they are zero (real quotes arrive
//! in 5006- and 8000-byte buffers padded with zeros); a non-zero trailing byte is a parse error.

use serde::Serialize;
use shomei_core::{ParseError, ParseErrorKind, Reader};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Length of the quote header.
pub const HEADER_LEN: usize = 48;
/// Length of an SGX report body (`sgx_report_body_t`).
pub const SGX_REPORT_BODY_LEN: usize = 384;
/// Length of a TD report 1.0 body (`sgx_report2_body_t`).
pub const TD10_REPORT_BODY_LEN: usize = 584;
/// Length of a TD report 1.5 body (`sgx_report2_body_v1_5_t`).
pub const TD15_REPORT_BODY_LEN: usize = 648;
/// Length of the v5 body descriptor (type u16, size u32).
pub const BODY_DESCRIPTOR_LEN: usize = 6;

/// Attestation key type 2: ECDSA over P-256 with SHA-256 (the only one Intel's QE produces).
pub const ATTESTATION_KEY_ECDSA_P256: u16 = 2;
/// `tee_type` of an SGX quote.
pub const TEE_TYPE_SGX: u32 = 0x0000_0000;
/// `tee_type` of a TDX quote.
pub const TEE_TYPE_TDX: u32 = 0x0000_0081;
/// Intel's QE vendor ID (`939A7233-F79C-4CA9-940A-0DB3957F0607`).
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// The quote header (48 bytes).
#[derive(Debug, Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QuoteHeader {
    pub version: U16,      // 0x00
    pub att_key_type: U16, // 0x02
    /// v4/v5: `tee_type`; v3: `att_key_data_0`, reserved (zero for SGX).
    pub tee_type: U32, // 0x04
    /// v3: the QE SVN. Reserved in the v4/v5 headers; Intel's QVL reads it as the QE SVN.
    pub qe_svn: U16, // 0x08
    /// v3: the PCE SVN. Reserved in the v4/v5 headers; Intel's QVL reads it as the PCE SVN.
    pub pce_svn: U16, // 0x0A
    pub qe_vendor_id: [u8; 16], // 0x0C
    /// QE3 copies its 16-byte QE ID here, then four zero bytes.
    pub user_data: [u8; 20], // 0x1C
}

const _: () = assert!(core::mem::size_of::<QuoteHeader>() == HEADER_LEN);

/// An SGX enclave report body (`sgx_report_body_t`, 384 bytes): the ISV enclave's in a v3/v4 SGX
/// quote, and the quoting enclave's in every quote.
///
/// The reserved ranges are not checked: they are the CPU's, Intel has repurposed reserved bytes
/// before (KSS, CET attributes), and every byte is covered by a signature anyway.
#[derive(Debug, Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SgxReportBody {
    pub cpu_svn: [u8; 16],         // 0x000
    pub misc_select: [u8; 4],      // 0x010 (u32 LE; kept as bytes: QE Identity compares bytes)
    pub reserved1: [u8; 12],       // 0x014
    pub isv_ext_prod_id: [u8; 16], // 0x020
    /// ATTRIBUTES: flags u64 ‖ XFRM u64.
    pub attributes: [u8; 16], // 0x030
    pub mr_enclave: [u8; 32],      // 0x040
    pub reserved2: [u8; 32],       // 0x060
    pub mr_signer: [u8; 32],       // 0x080
    pub reserved3: [u8; 32],       // 0x0A0
    pub config_id: [u8; 64],       // 0x0C0
    pub isv_prod_id: U16,          // 0x100
    pub isv_svn: U16,              // 0x102
    pub config_svn: U16,           // 0x104
    pub reserved4: [u8; 42],       // 0x106
    pub isv_family_id: [u8; 16],   // 0x130
    pub report_data: [u8; 64],     // 0x140
}

const _: () = assert!(core::mem::size_of::<SgxReportBody>() == SGX_REPORT_BODY_LEN);

/// SGX ATTRIBUTES.flags bit: DEBUG.
pub const SGX_FLAGS_DEBUG: u64 = 0x2;

impl SgxReportBody {
    /// ATTRIBUTES.flags (the first 8 bytes, little-endian).
    pub fn flags(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.attributes.first_chunk::<8>().map_or(&[0; 8], |c| c));
        u64::from_le_bytes(b)
    }

    pub fn is_debug(&self) -> bool {
        self.flags() & SGX_FLAGS_DEBUG != 0
    }
}

/// A TD report 1.0 body (`sgx_report2_body_t`, 584 bytes).
#[derive(Debug, Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Td10ReportBody {
    /// TEE_TCB_SVN: [0] TDX module ISV SVN, [1] TDX module major version, [2..] per TCB Info.
    pub tee_tcb_svn: [u8; 16], // 0x000
    pub mr_seam: [u8; 48],         // 0x010
    pub mr_signer_seam: [u8; 48],  // 0x040
    pub seam_attributes: [u8; 8],  // 0x070
    pub td_attributes: U64,        // 0x078
    pub xfam: U64,                 // 0x080
    pub mr_td: [u8; 48],           // 0x088
    pub mr_config_id: [u8; 48],    // 0x0B8
    pub mr_owner: [u8; 48],        // 0x0E8
    pub mr_owner_config: [u8; 48], // 0x118
    pub rtmr: [[u8; 48]; 4],       // 0x148
    pub report_data: [u8; 64],     // 0x208
}

const _: () = assert!(core::mem::size_of::<Td10ReportBody>() == TD10_REPORT_BODY_LEN);

/// A TD report 1.5 body (648 bytes): the 1.0 body, then TEE_TCB_SVN2 and MRSERVICETD.
#[derive(Debug, Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Td15ReportBody {
    pub base: Td10ReportBody,    // 0x000
    pub tee_tcb_svn2: [u8; 16],  // 0x248
    pub mr_service_td: [u8; 48], // 0x258
}

const _: () = assert!(core::mem::size_of::<Td15ReportBody>() == TD15_REPORT_BODY_LEN);

/// TDATTRIBUTES bits (Intel TDX module ABI).
pub mod td_attributes {
    /// TUD.DEBUG: the TD is debuggable.
    pub const DEBUG: u64 = 1 << 0;
    /// TUD bits 1–7: reserved.
    pub const TUD_RESERVED: u64 = 0xFE;
    /// SEC bits 8–27: reserved.
    pub const SEC_RESERVED_LOW: u64 = 0x0FFF_FF00;
    /// SEC.SEPT_VE_DISABLE: EPT violations are not converted to #VE.
    pub const SEPT_VE_DISABLE: u64 = 1 << 28;
    /// SEC bit 29: reserved.
    pub const SEC_RESERVED_29: u64 = 1 << 29;
    /// SEC.PKS: protection keys for supervisor pages.
    pub const PKS: u64 = 1 << 30;
    /// SEC.KL: key locker.
    pub const KL: u64 = 1 << 31;
    /// OTHER bits 32–62: reserved.
    pub const OTHER_RESERVED: u64 = 0x7FFF_FFFF_0000_0000;
    /// OTHER.PERFMON: the TD may use the performance monitoring counters.
    pub const PERFMON: u64 = 1 << 63;
    /// Every reserved bit.
    pub const RESERVED: u64 = TUD_RESERVED | SEC_RESERVED_LOW | SEC_RESERVED_29 | OTHER_RESERVED;
}

/// The TEE a quote comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tee {
    Sgx,
    Tdx,
}

impl core::fmt::Display for Tee {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Sgx => "SGX",
            Self::Tdx => "TDX",
        })
    }
}

/// The quote body, borrowed from the received bytes.
#[derive(Debug, Clone, Copy)]
pub enum BodyRef<'a> {
    Sgx(&'a SgxReportBody),
    Td10(&'a Td10ReportBody),
    Td15(&'a Td15ReportBody),
}

/// The quote body, owned (kept by a verified quote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportBody {
    Sgx(SgxReportBody),
    Td10(Td10ReportBody),
    Td15(Td15ReportBody),
}

impl BodyRef<'_> {
    pub fn to_owned(self) -> ReportBody {
        match self {
            Self::Sgx(b) => ReportBody::Sgx(b.clone()),
            Self::Td10(b) => ReportBody::Td10(b.clone()),
            Self::Td15(b) => ReportBody::Td15(b.clone()),
        }
    }
}

impl ReportBody {
    pub fn tee(&self) -> Tee {
        match self {
            Self::Sgx(_) => Tee::Sgx,
            Self::Td10(_) | Self::Td15(_) => Tee::Tdx,
        }
    }

    /// The TD report (1.0 fields), for TDX bodies.
    pub fn td(&self) -> Option<&Td10ReportBody> {
        match self {
            Self::Sgx(_) => None,
            Self::Td10(b) => Some(b),
            Self::Td15(b) => Some(&b.base),
        }
    }

    pub fn sgx(&self) -> Option<&SgxReportBody> {
        match self {
            Self::Sgx(b) => Some(b),
            _ => None,
        }
    }

    pub fn td15(&self) -> Option<&Td15ReportBody> {
        match self {
            Self::Td15(b) => Some(b),
            _ => None,
        }
    }

    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            Self::Sgx(b) => &b.report_data,
            Self::Td10(b) => &b.report_data,
            Self::Td15(b) => &b.base.report_data,
        }
    }
}

/// Certification data types (`sgx_quote_3.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificationDataType {
    /// 1: PPID in the clear, CPUSVN, PCESVN, PCEID.
    PpidCleartext,
    /// 2: PPID encrypted with RSA-2048-OAEP, CPUSVN, PCESVN, PCEID.
    PpidRsa2048Oaep,
    /// 3: PPID encrypted with RSA-3072-OAEP, CPUSVN, PCESVN, PCEID.
    PpidRsa3072Oaep,
    /// 4: the PCK leaf certificate.
    PckLeafCert,
    /// 5: the PCK certificate chain, PEM (leaf ‖ intermediate ‖ root), often NUL-terminated.
    PckCertChain,
    /// 6: QE report certification data (v4/v5 outer layer).
    QeReportCertificationData,
    /// 7: platform manifest.
    PlatformManifest,
}

impl CertificationDataType {
    fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::PpidCleartext,
            2 => Self::PpidRsa2048Oaep,
            3 => Self::PpidRsa3072Oaep,
            4 => Self::PckLeafCert,
            5 => Self::PckCertChain,
            6 => Self::QeReportCertificationData,
            7 => Self::PlatformManifest,
            _ => return None,
        })
    }

    pub fn code(self) -> u16 {
        match self {
            Self::PpidCleartext => 1,
            Self::PpidRsa2048Oaep => 2,
            Self::PpidRsa3072Oaep => 3,
            Self::PckLeafCert => 4,
            Self::PckCertChain => 5,
            Self::QeReportCertificationData => 6,
            Self::PlatformManifest => 7,
        }
    }
}

/// The innermost certification data: how the PCK certificate is found.
#[derive(Debug, Clone, Copy)]
pub struct CertificationData<'a> {
    pub kind: CertificationDataType,
    pub data: &'a [u8],
    /// Offset of `data` in the quote.
    pub offset: usize,
}

/// A parsed quote, borrowing the received bytes.
#[derive(Debug, Clone, Copy)]
pub struct Quote<'a> {
    bytes: &'a [u8],
    header: &'a QuoteHeader,
    tee: Tee,
    body: BodyRef<'a>,
    signed_len: usize,
    signature: &'a [u8; 64],
    attestation_key: &'a [u8; 64],
    qe_report_bytes: &'a [u8],
    qe_report: &'a SgxReportBody,
    qe_report_signature: &'a [u8; 64],
    qe_auth_data: &'a [u8],
    certification: CertificationData<'a>,
    padding: usize,
}

fn invalid(field: &'static str, offset: usize, value: u64) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
}

fn fixed<'a, const N: usize>(
    r: &mut Reader<'a>,
    field: &'static str,
) -> Result<&'a [u8; N], ParseError> {
    let at = r.offset();
    let s = r.take(N, field)?;
    <&[u8; N]>::try_from(s)
        .map_err(|_| ParseError::new(field, at, ParseErrorKind::Malformed("size")))
}

fn layout<'a, T: FromBytes + KnownLayout + Immutable + Unaligned>(
    r: &mut Reader<'a>,
    len: usize,
    field: &'static str,
) -> Result<&'a T, ParseError> {
    let at = r.offset();
    let s = r.take(len, field)?;
    T::ref_from_bytes(s).map_err(|_| ParseError::new(field, at, ParseErrorKind::Malformed("size")))
}

/// QE report ‖ QE report signature ‖ QE auth data ‖ certification data: the v3 signature data
/// after the attestation key, and the contents of v4/v5 certification data type 6.
struct QeSection<'a> {
    report_bytes: &'a [u8],
    report: &'a SgxReportBody,
    signature: &'a [u8; 64],
    auth_data: &'a [u8],
    certification: CertificationData<'a>,
}

fn qe_section<'a>(r: &mut Reader<'a>) -> Result<QeSection<'a>, ParseError> {
    let at = r.offset();
    let report_bytes = r.take(SGX_REPORT_BODY_LEN, "qe_report")?;
    let report = SgxReportBody::ref_from_bytes(report_bytes)
        .map_err(|_| ParseError::new("qe_report", at, ParseErrorKind::Malformed("size")))?;
    let signature = fixed::<64>(r, "qe_report_signature")?;
    let auth_len = r.u16_le("qe_auth_data.size")?;
    let auth_data = r.take(usize::from(auth_len), "qe_auth_data")?;
    let type_at = r.offset();
    let raw_type = r.u16_le("certification_data.type")?;
    let kind = match CertificationDataType::from_u16(raw_type) {
        Some(CertificationDataType::QeReportCertificationData) | None => {
            return Err(invalid(
                "certification_data.type",
                type_at,
                u64::from(raw_type),
            ));
        }
        Some(k) => k,
    };
    let size = r.u32_le("certification_data.size")?;
    let size = usize::try_from(size)
        .map_err(|_| invalid("certification_data.size", type_at, u64::from(size)))?;
    let offset = r.offset();
    let data = r.take(size, "certification_data.data")?;
    Ok(QeSection {
        report_bytes,
        report,
        signature,
        auth_data,
        certification: CertificationData { kind, data, offset },
    })
}

impl<'a> Quote<'a> {
    /// Parses a quote: v3 (SGX), v4 (SGX or TDX 1.0) or v5 (SGX, TD 1.0 or TD 1.5 body), with
    /// an ECDSA P-256 attestation key. Zero bytes after the signature data are tolerated.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let header: &QuoteHeader = layout(&mut r, HEADER_LEN, "header")?;
        let version = header.version.get();
        let tee_raw = header.tee_type.get();
        if !(3..=5).contains(&version) {
            return Err(ParseError::new(
                "header.version",
                0,
                ParseErrorKind::UnsupportedVersion {
                    found: u32::from(version),
                },
            ));
        }
        if header.att_key_type.get() != ATTESTATION_KEY_ECDSA_P256 {
            return Err(invalid(
                "header.att_key_type",
                2,
                u64::from(header.att_key_type.get()),
            ));
        }
        let tee = match tee_raw {
            TEE_TYPE_SGX => Tee::Sgx,
            TEE_TYPE_TDX if version >= 4 => Tee::Tdx,
            other => return Err(invalid("header.tee_type", 4, u64::from(other))),
        };
        let body = match (version, tee) {
            (3 | 4, Tee::Sgx) => BodyRef::Sgx(layout(&mut r, SGX_REPORT_BODY_LEN, "body")?),
            (4, Tee::Tdx) => BodyRef::Td10(layout(&mut r, TD10_REPORT_BODY_LEN, "body")?),
            _ => {
                let type_at = r.offset();
                let body_type = r.u16_le("body_descriptor.type")?;
                let size_at = r.offset();
                let size = r.u32_le("body_descriptor.size")?;
                let (expected, body_tee) = match body_type {
                    1 => (SGX_REPORT_BODY_LEN, Tee::Sgx),
                    2 => (TD10_REPORT_BODY_LEN, Tee::Tdx),
                    3 => (TD15_REPORT_BODY_LEN, Tee::Tdx),
                    other => {
                        return Err(invalid("body_descriptor.type", type_at, u64::from(other)));
                    }
                };
                if body_tee != tee {
                    return Err(invalid(
                        "body_descriptor.type",
                        type_at,
                        u64::from(body_type),
                    ));
                }
                if usize::try_from(size).ok() != Some(expected) {
                    return Err(invalid("body_descriptor.size", size_at, u64::from(size)));
                }
                match body_type {
                    1 => BodyRef::Sgx(layout(&mut r, expected, "body")?),
                    2 => BodyRef::Td10(layout(&mut r, expected, "body")?),
                    _ => BodyRef::Td15(layout(&mut r, expected, "body")?),
                }
            }
        };
        let signed_len = r.offset();
        let sig_len_at = r.offset();
        let sig_len = r.u32_le("signature_data_len")?;
        let sig_len = usize::try_from(sig_len)
            .map_err(|_| invalid("signature_data_len", sig_len_at, u64::from(sig_len)))?;
        let mut s = r.sub(sig_len, "signature_data")?;
        let signature = fixed::<64>(&mut s, "quote_signature")?;
        let attestation_key = fixed::<64>(&mut s, "attestation_key")?;
        let qe = if version == 3 {
            let qe = qe_section(&mut s)?;
            s.finish("signature_data")?;
            qe
        } else {
            let type_at = s.offset();
            let outer_type = s.u16_le("certification_data.type")?;
            if outer_type != CertificationDataType::QeReportCertificationData.code() {
                return Err(invalid(
                    "certification_data.type",
                    type_at,
                    u64::from(outer_type),
                ));
            }
            let size_at = s.offset();
            let size = s.u32_le("certification_data.size")?;
            let size = usize::try_from(size)
                .map_err(|_| invalid("certification_data.size", size_at, u64::from(size)))?;
            let mut inner = s.sub(size, "qe_report_certification_data")?;
            s.finish("signature_data")?;
            let qe = qe_section(&mut inner)?;
            inner.finish("qe_report_certification_data")?;
            qe
        };
        let pad_at = r.offset();
        let rest = r.rest();
        if let Some(i) = rest.iter().position(|b| *b != 0) {
            return Err(ParseError::new(
                "trailing padding",
                pad_at.saturating_add(i),
                ParseErrorKind::TrailingData { extra: rest.len() },
            ));
        }
        Ok(Self {
            bytes,
            header,
            tee,
            body,
            signed_len,
            signature,
            attestation_key,
            qe_report_bytes: qe.report_bytes,
            qe_report: qe.report,
            qe_report_signature: qe.signature,
            qe_auth_data: qe.auth_data,
            certification: qe.certification,
            padding: rest.len(),
        })
    }

    pub fn version(&self) -> u16 {
        self.header.version.get()
    }

    pub fn header(&self) -> &'a QuoteHeader {
        self.header
    }

    pub fn tee(&self) -> Tee {
        self.tee
    }

    pub fn body(&self) -> BodyRef<'a> {
        self.body
    }

    /// Header ‖ \[v5 body descriptor\] ‖ body: the bytes the attestation key signs, as received.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.signed_len).unwrap_or(&[])
    }

    /// The quote signature, r ‖ s (big-endian, 32 bytes each).
    pub fn signature(&self) -> &'a [u8; 64] {
        self.signature
    }

    /// The attestation public key, x ‖ y (big-endian, 32 bytes each).
    pub fn attestation_key(&self) -> &'a [u8; 64] {
        self.attestation_key
    }

    /// The QE report body as received (the bytes the PCK key signs).
    pub fn qe_report_bytes(&self) -> &'a [u8] {
        self.qe_report_bytes
    }

    pub fn qe_report(&self) -> &'a SgxReportBody {
        self.qe_report
    }

    /// The QE report signature by the PCK key, r ‖ s.
    pub fn qe_report_signature(&self) -> &'a [u8; 64] {
        self.qe_report_signature
    }

    pub fn qe_auth_data(&self) -> &'a [u8] {
        self.qe_auth_data
    }

    pub fn certification_data(&self) -> CertificationData<'a> {
        self.certification
    }

    /// Number of zero bytes after the signature data.
    pub fn padding(&self) -> usize {
        self.padding
    }

    /// The whole input, padding included.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn header_offsets() {
        assert_eq!(offset_of!(QuoteHeader, att_key_type), 2);
        assert_eq!(offset_of!(QuoteHeader, tee_type), 4);
        assert_eq!(offset_of!(QuoteHeader, qe_svn), 8);
        assert_eq!(offset_of!(QuoteHeader, pce_svn), 10);
        assert_eq!(offset_of!(QuoteHeader, qe_vendor_id), 12);
        assert_eq!(offset_of!(QuoteHeader, user_data), 28);
    }

    #[test]
    fn sgx_report_body_offsets() {
        assert_eq!(offset_of!(SgxReportBody, misc_select), 16);
        assert_eq!(offset_of!(SgxReportBody, isv_ext_prod_id), 32);
        assert_eq!(offset_of!(SgxReportBody, attributes), 48);
        assert_eq!(offset_of!(SgxReportBody, mr_enclave), 64);
        assert_eq!(offset_of!(SgxReportBody, mr_signer), 128);
        assert_eq!(offset_of!(SgxReportBody, config_id), 192);
        assert_eq!(offset_of!(SgxReportBody, isv_prod_id), 256);
        assert_eq!(offset_of!(SgxReportBody, isv_svn), 258);
        assert_eq!(offset_of!(SgxReportBody, config_svn), 260);
        assert_eq!(offset_of!(SgxReportBody, isv_family_id), 304);
        assert_eq!(offset_of!(SgxReportBody, report_data), 320);
    }

    #[test]
    fn td_report_body_offsets() {
        assert_eq!(offset_of!(Td10ReportBody, mr_seam), 16);
        assert_eq!(offset_of!(Td10ReportBody, mr_signer_seam), 64);
        assert_eq!(offset_of!(Td10ReportBody, seam_attributes), 112);
        assert_eq!(offset_of!(Td10ReportBody, td_attributes), 120);
        assert_eq!(offset_of!(Td10ReportBody, xfam), 128);
        assert_eq!(offset_of!(Td10ReportBody, mr_td), 136);
        assert_eq!(offset_of!(Td10ReportBody, mr_config_id), 184);
        assert_eq!(offset_of!(Td10ReportBody, mr_owner), 232);
        assert_eq!(offset_of!(Td10ReportBody, mr_owner_config), 280);
        assert_eq!(offset_of!(Td10ReportBody, rtmr), 328);
        assert_eq!(offset_of!(Td10ReportBody, report_data), 520);
        assert_eq!(offset_of!(Td15ReportBody, tee_tcb_svn2), 584);
        assert_eq!(offset_of!(Td15ReportBody, mr_service_td), 600);
    }

    #[test]
    fn td_attribute_masks_partition_the_word() {
        use td_attributes::*;
        let named = DEBUG | SEPT_VE_DISABLE | PKS | KL | PERFMON;
        assert_eq!(named & RESERVED, 0);
        assert_eq!(named | RESERVED, u64::MAX);
    }

    #[test]
    fn short_and_unknown_inputs_are_typed_errors() {
        assert_eq!(Quote::parse(&[]).err().map(|e| e.field), Some("header"));
        let mut h = [0u8; 48];
        h[0] = 6;
        h[2] = 2;
        assert!(matches!(
            Quote::parse(&h).err().map(|e| e.kind),
            Some(ParseErrorKind::UnsupportedVersion { found: 6 })
        ));
        h[0] = 3;
        h[2] = 3;
        assert_eq!(
            Quote::parse(&h).err().map(|e| e.field),
            Some("header.att_key_type")
        );
        h[2] = 2;
        h[4] = 0x81;
        // A v3 quote cannot be a TDX quote.
        assert_eq!(
            Quote::parse(&h).err().map(|e| e.field),
            Some("header.tee_type")
        );
    }
}
