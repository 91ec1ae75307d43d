//! The Azure confidential-VM "HCL report" (the paravisor's attestation report, vTPM NV index
//! 0x01400001), as `az-cvm-vtpm` lays it out:
//!
//! ```text
//! 0x000  u32 signature "HCLA" · u32 version (1, 2) · u32 report_size · u32 request_type
//!        · u32 status (0) · 12 reserved bytes (zero)
//! 0x020  hardware report, 1184 bytes: an SEV-SNP ATTESTATION_REPORT (or a 1024-byte TDREPORT
//!        and padding)
//! 0x4C0  IgvmRequestData: u32 data_size (= 20 + variable_data_size) · u32 version (1)
//!        · u32 report_type (2 SNP, 4 TDX) · u32 report_data_hash_type (1 SHA-256, 2 SHA-384,
//!        3 SHA-512) · u32 variable_data_size
//! 0x4D4  runtime data: JSON, variable_data_size bytes (the NV area is zero-padded after it)
//! ```
//!
//! The hardware report's REPORT_DATA commits to the hash of the runtime data *exactly as stored*;
//! the runtime data carries the vTPM's attestation key (`HCLAkPub`) as a JWK.

use serde::{Deserialize, Serialize};
use shomei_core::{ParseError, ParseErrorKind, Reader};
use shomei_tpm::AttestationKey;
use shomei_tpm::keys::KeyMaterial;
use shomei_tpm::structures::Curve;

use crate::Error;
use crate::encoding::b64_decode;

/// Offset of the hardware report.
pub const HW_REPORT_OFFSET: usize = 0x20;
/// Size of the hardware-report area (the larger of the SNP report and the TDREPORT).
pub const HW_REPORT_AREA: usize = shomei_snp::REPORT_LEN;
/// Offset of IgvmRequestData.
pub const REQUEST_DATA_OFFSET: usize = 0x4C0;
/// Offset of the runtime data.
pub const RUNTIME_DATA_OFFSET: usize = 0x4D4;
/// Largest runtime data accepted (the NV index is 2048–2600 bytes in practice).
pub const MAX_RUNTIME_DATA: u32 = 64 * 1024;

/// The hardware TEE that produced the inner report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HwReportType {
    Snp,
    Tdx,
}

/// How REPORT_DATA commits to the runtime data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeHash {
    Sha256,
    Sha384,
    Sha512,
}

impl RuntimeHash {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        };
        aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// A parsed HCL report, borrowing the received bytes.
#[derive(Debug, Clone, Copy)]
pub struct HclReport<'a> {
    pub version: u32,
    pub report_size: u32,
    pub request_type: u32,
    pub report_type: HwReportType,
    pub hash_type: RuntimeHash,
    hw_report: &'a [u8],
    runtime_data: &'a [u8],
}

fn invalid(field: &'static str, offset: usize, value: u64) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
}

impl<'a> HclReport<'a> {
    /// Parses the header, the IgvmRequestData and the bounds of the runtime data. The hardware
    /// report is not parsed here (SEV-SNP verification parses it); padding after the runtime data
    /// is ignored (it is not covered by anything).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let at = r.offset();
        let sig = r.array::<4>("HCL.signature")?;
        if &sig != b"HCLA" {
            return Err(invalid(
                "HCL.signature",
                at,
                u64::from(u32::from_le_bytes(sig)),
            ));
        }
        let at = r.offset();
        let version = r.u32_le("HCL.version")?;
        if !(1..=2).contains(&version) {
            return Err(ParseError::new(
                "HCL.version",
                at,
                ParseErrorKind::UnsupportedVersion { found: version },
            ));
        }
        let report_size = r.u32_le("HCL.report_size")?;
        let request_type = r.u32_le("HCL.request_type")?;
        let at = r.offset();
        let status = r.u32_le("HCL.status")?;
        if status != 0 {
            return Err(invalid("HCL.status", at, u64::from(status)));
        }
        r.reserved_zero(12, "HCL.reserved")?;
        let hw_area = r.take(HW_REPORT_AREA, "HCL.hw_report")?;
        let at = r.offset();
        let data_size = r.u32_le("IgvmRequestData.data_size")?;
        let vat = r.offset();
        let req_version = r.u32_le("IgvmRequestData.version")?;
        if req_version != 1 {
            return Err(ParseError::new(
                "IgvmRequestData.version",
                vat,
                ParseErrorKind::UnsupportedVersion { found: req_version },
            ));
        }
        let tat = r.offset();
        let report_type = match r.u32_le("IgvmRequestData.report_type")? {
            2 => HwReportType::Snp,
            4 => HwReportType::Tdx,
            other => {
                return Err(invalid(
                    "IgvmRequestData.report_type",
                    tat,
                    u64::from(other),
                ));
            }
        };
        let hat = r.offset();
        let hash_type = match r.u32_le("IgvmRequestData.report_data_hash_type")? {
            1 => RuntimeHash::Sha256,
            2 => RuntimeHash::Sha384,
            3 => RuntimeHash::Sha512,
            other => {
                return Err(invalid(
                    "IgvmRequestData.report_data_hash_type",
                    hat,
                    u64::from(other),
                ));
            }
        };
        let sat = r.offset();
        let var_size = r.u32_le("IgvmRequestData.variable_data_size")?;
        if var_size > MAX_RUNTIME_DATA {
            return Err(ParseError::new(
                "IgvmRequestData.variable_data_size",
                sat,
                ParseErrorKind::LengthTooLarge {
                    length: u64::from(var_size),
                    max: u64::from(MAX_RUNTIME_DATA),
                },
            ));
        }
        if u64::from(data_size) != u64::from(var_size).saturating_add(20) {
            return Err(invalid(
                "IgvmRequestData.data_size",
                at,
                u64::from(data_size),
            ));
        }
        let expected_size = u64::try_from(RUNTIME_DATA_OFFSET)
            .unwrap_or(u64::MAX)
            .saturating_add(u64::from(var_size));
        if u64::from(report_size) != expected_size {
            return Err(invalid("HCL.report_size", 8, u64::from(report_size)));
        }
        let len = usize::try_from(var_size)
            .map_err(|_| invalid("IgvmRequestData.variable_data_size", sat, 0))?;
        let runtime_data = r.take(len, "HCL.runtime_data")?;
        let hw_report = match report_type {
            HwReportType::Snp => hw_area,
            HwReportType::Tdx => hw_area.get(..1024).unwrap_or(hw_area),
        };
        Ok(Self {
            version,
            report_size,
            request_type,
            report_type,
            hash_type,
            hw_report,
            runtime_data,
        })
    }

    /// The hardware report (1184 bytes for SNP, 1024 for a TDREPORT).
    pub fn hw_report(&self) -> &'a [u8] {
        self.hw_report
    }

    /// The runtime data, exactly as stored (what REPORT_DATA commits to).
    pub fn runtime_data(&self) -> &'a [u8] {
        self.runtime_data
    }
}

/// A JSON Web Key of the runtime data (RSA or EC; other members are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Jwk {
    #[serde(default)]
    pub kid: Option<String>,
    pub kty: String,
    #[serde(default)]
    pub key_ops: Option<Vec<String>>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or(&[]).to_vec()
}

impl Jwk {
    /// The key, to verify TPM signatures with (RSA: RSASSA/RSA-PSS; EC P-256/P-384: ECDSA).
    pub fn attestation_key(&self) -> Result<AttestationKey, Error> {
        let kid = self.kid.clone().unwrap_or_else(|| "(no kid)".into());
        let field = |m: &str| format!("runtime_data.keys[{kid}].{m}");
        let member = |m: &'static str, v: &Option<String>| -> Result<Vec<u8>, Error> {
            let s = v
                .as_deref()
                .ok_or_else(|| Error::evidence(field(m), "missing"))?;
            b64_decode(s).map_err(|d| Error::evidence(field(m), d))
        };
        let material = match self.kty.as_str() {
            "RSA" => KeyMaterial::Rsa {
                n: strip_zeros(&member("n", &self.n)?),
                e: strip_zeros(&member("e", &self.e)?),
            },
            "EC" => {
                let curve = match self.crv.as_deref() {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    other => {
                        return Err(Error::Unsupported(format!("JWK curve {other:?}")));
                    }
                };
                let (x, y) = (member("x", &self.x)?, member("y", &self.y)?);
                let len = curve.field_len();
                if x.len() != len || y.len() != len {
                    return Err(Error::evidence(
                        field("x"),
                        format!("coordinates must be {len} bytes"),
                    ));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                KeyMaterial::Ecc { curve, point }
            }
            other => return Err(Error::Unsupported(format!("JWK key type {other:?}"))),
        };
        Ok(AttestationKey {
            material,
            scheme: None,
            name: None,
            attributes: None,
        })
    }
}

/// `vm-configuration` of the runtime data (members Azure is known to set; others ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VmConfiguration {
    #[serde(rename = "console-enabled", default)]
    pub console_enabled: Option<bool>,
    #[serde(rename = "secure-boot", default)]
    pub secure_boot: Option<bool>,
    #[serde(rename = "tpm-enabled", default)]
    pub tpm_enabled: Option<bool>,
    #[serde(rename = "tpm-persisted", default)]
    pub tpm_persisted: Option<bool>,
    #[serde(rename = "root-cert-thumbprint", default)]
    pub root_cert_thumbprint: Option<String>,
    #[serde(rename = "vmUniqueId", default)]
    pub vm_unique_id: Option<String>,
}

/// The runtime data JSON. Key order, `key_ops` (older reports say "encrypt" for the AK) and the
/// presence of optional members are not relied on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeData {
    pub keys: Vec<Jwk>,
    #[serde(rename = "vm-configuration", default)]
    pub vm_configuration: Option<VmConfiguration>,
    #[serde(rename = "user-data", default)]
    pub user_data: Option<String>,
}

/// The kid of the vTPM attestation key in the runtime data.
pub const AK_KID: &str = "HCLAkPub";
/// The kid of the vTPM endorsement key in the runtime data.
pub const EK_KID: &str = "HCLEkPub";

impl RuntimeData {
    pub fn parse(json: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(json).map_err(|e| {
            Error::evidence(
                "runtime_data",
                format!("(JSON at HCL offset {RUNTIME_DATA_OFFSET:#x}) {e}"),
            )
        })
    }

    /// The JWK with `kid`.
    pub fn key(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// `user-data` decoded from hex (case-insensitive).
    pub fn user_data_bytes(&self) -> Option<Result<Vec<u8>, Error>> {
        self.user_data.as_deref().map(|s| {
            hex::decode(s).map_err(|e| Error::evidence("runtime_data.user-data", e.to_string()))
        })
    }
}
