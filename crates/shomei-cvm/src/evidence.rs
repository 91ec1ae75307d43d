//! Evidence documents: Azure CVM evidence in every shape trustee's `az-snp-vtpm` attester has
//! produced, and shomei's own composite format. [`CvmEvidence::from_json`] tells them apart.
//!
//! Azure (trustee `az-snp-vtpm`):
//!
//! ```text
//! v0  {"quote": {"signature": [u8…], "message": [u8…], "pcrs": [[u8;32]…]},
//!      "report": [u8…] (HCL report), "vcek": "<PEM>"}
//! v1  {"version": 1, "tpm_quote": {"signature": "<hex>", "message": "<hex>", "pcrs": ["<hex>"…]},
//!      "hcl_report": "<base64url>", "vcek": "<base64url DER>"}
//! v2  as v1 with "version": 2; the HCL runtime data's `user-data` then starts with the challenge
//! TDX (trustee `az-tdx-vtpm`): {"tpm_quote": {…}, "hcl_report": …, "td_quote": …} (optional
//!      "version"); the HCL report holds a TDREPORT and the TD quote (DCAP v4) carries
//!      REPORT_DATA = SHA-256(runtime data); there is no VCEK
//! ```
//!
//! Byte members are accepted in any of the encodings seen (arrays of numbers, hex, base64 or
//! base64url, padded or not); the VCEK as PEM text or base64 of DER or PEM. The quote signature is
//! the raw RSASSA signature (or a TPMT_SIGNATURE); `pcrs[i]` is SHA-256 PCR *i*.
//!
//! Composite (shomei, `"format": "shomei-cvm-composite"`, `"version": 1`):
//!
//! ```text
//! {
//!   "format": "shomei-cvm-composite", "version": 1,
//!   "nonce": "<hex>",                  the challenge the attester answered
//!   "snp_report": "<hex, 1184 B>",     VMPL 0; REPORT_DATA = SHA-512(nonce ‖ AK TPMT_PUBLIC)
//!   "vek_chain": "<PEM>",              VCEK or VLEK, optionally its ASK/ASVK and ARK
//!   "ak_public": "<hex>",              the vTPM AK as TPM2B_PUBLIC (size ‖ TPMT_PUBLIC)
//!   "quote": {"message": "<hex TPMS_ATTEST>", "signature": "<hex TPMT_SIGNATURE>"},
//!   "pcrs": {"sha256": {"0": "<hex>", …}, …},   exactly the quoted selection
//!   "event_log": "<base64>"            optional: TCG2 crypto-agile measured-boot log
//! }
//! ```
//!
//! The AK's TPMT_PUBLIC (the bytes whose SHA-256 is the AK's name) is what REPORT_DATA binds:
//! it names the key *and* its attributes (a restricted signing key), in the TPM's own encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shomei_core::Reader;
use shomei_core::policy::HexBytes;
use shomei_core::x509::{Certificate, parse_certificates};

use crate::Error;
use crate::encoding::{b64_bytes, b64_decode, b64_encode, hex_bytes, hex_bytes_list};

/// The `format` tag of the composite format.
pub const COMPOSITE_FORMAT: &str = "shomei-cvm-composite";
/// The composite format version this crate writes and reads.
pub const COMPOSITE_VERSION: u32 = 1;
/// Largest evidence document read.
pub const MAX_DOCUMENT: usize = 16 * 1024 * 1024;

/// Two-step CVM evidence.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CvmEvidence {
    Azure(AzureEvidence),
    Composite(CompositeEvidence),
}

/// A vTPM quote as Azure evidence carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureQuote {
    /// TPMS_ATTEST.
    pub message: Vec<u8>,
    /// Raw RSASSA signature bytes, or a TPMT_SIGNATURE.
    pub signature: Vec<u8>,
    /// SHA-256 PCR values; `pcrs[i]` is PCR *i*.
    pub pcrs: Vec<Vec<u8>>,
}

/// Azure CVM evidence (trustee's az-snp-vtpm shapes).
#[derive(Debug, Clone)]
pub struct AzureEvidence {
    /// trustee's evidence version: 0 (no `version` member), 1 or 2.
    pub version: u32,
    /// The HCL report bytes as received.
    pub hcl_report: Vec<u8>,
    /// The VCEK (and whatever chain came with it); empty for TDX.
    pub certificates: Vec<Certificate>,
    pub quote: AzureQuote,
    /// TDX: the TD quote Azure's IMDS made from the HCL report's TDREPORT.
    pub td_quote: Option<Vec<u8>>,
}

/// The vTPM quote of the composite format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeQuote {
    /// TPMS_ATTEST.
    #[serde(
        serialize_with = "shomei_core::hexfmt::serialize",
        deserialize_with = "hex_bytes"
    )]
    pub message: Vec<u8>,
    /// TPMT_SIGNATURE.
    #[serde(
        serialize_with = "shomei_core::hexfmt::serialize",
        deserialize_with = "hex_bytes"
    )]
    pub signature: Vec<u8>,
}

fn default_format() -> String {
    COMPOSITE_FORMAT.to_owned()
}

fn ser_b64_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&b64_encode(b)),
        None => s.serialize_none(),
    }
}

fn de_b64_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    b64_bytes(d).map(Some)
}

/// PCR values by bank name (`sha256`, …) and index, as the composite format carries them.
pub type PcrMap = BTreeMap<String, BTreeMap<u32, HexBytes>>;

/// shomei's composite two-step evidence (see the module documentation for the format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeEvidence {
    #[serde(default = "default_format")]
    pub format: String,
    pub version: u32,
    #[serde(
        serialize_with = "shomei_core::hexfmt::serialize",
        deserialize_with = "hex_bytes"
    )]
    pub nonce: Vec<u8>,
    #[serde(
        serialize_with = "shomei_core::hexfmt::serialize",
        deserialize_with = "hex_bytes"
    )]
    pub snp_report: Vec<u8>,
    /// PEM: the VCEK or VLEK, optionally with its intermediate and ARK.
    pub vek_chain: String,
    /// TPM2B_PUBLIC of the AK.
    #[serde(
        serialize_with = "shomei_core::hexfmt::serialize",
        deserialize_with = "hex_bytes"
    )]
    pub ak_public: Vec<u8>,
    pub quote: CompositeQuote,
    /// Bank name (`sha256`, …) → PCR index → value.
    pub pcrs: PcrMap,
    /// TCG2 event log (base64).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_b64_opt",
        deserialize_with = "de_b64_opt"
    )]
    pub event_log: Option<Vec<u8>>,
}

impl CompositeEvidence {
    /// The AK's TPMT_PUBLIC: `ak_public` without its TPM2B size prefix (what REPORT_DATA binds).
    pub fn ak_tpmt_public(&self) -> Result<&[u8], Error> {
        let mut r = Reader::new(&self.ak_public);
        let n = r
            .u16_be("TPM2B_PUBLIC.size")
            .map_err(Error::parse("ak_public"))?;
        let body = r
            .take(usize::from(n), "TPM2B_PUBLIC.publicArea")
            .map_err(Error::parse("ak_public"))?;
        r.finish("TPM2B_PUBLIC")
            .map_err(Error::parse("ak_public"))?;
        Ok(body)
    }

    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(|e| Error::evidence("composite", e.to_string()))
    }
}

#[derive(Deserialize)]
struct QuoteDoc {
    #[serde(deserialize_with = "hex_bytes")]
    signature: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes")]
    message: Vec<u8>,
    #[serde(deserialize_with = "hex_bytes_list")]
    pcrs: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
struct AzureV0 {
    quote: QuoteDoc,
    #[serde(deserialize_with = "b64_bytes")]
    report: Vec<u8>,
    vcek: serde_json::Value,
}

#[derive(Deserialize)]
struct AzureV1 {
    version: u32,
    tpm_quote: QuoteDoc,
    #[serde(deserialize_with = "b64_bytes")]
    hcl_report: Vec<u8>,
    vcek: serde_json::Value,
}

#[derive(Deserialize)]
struct AzureTdx {
    #[serde(default)]
    version: u32,
    tpm_quote: QuoteDoc,
    #[serde(deserialize_with = "b64_bytes")]
    hcl_report: Vec<u8>,
    #[serde(deserialize_with = "b64_bytes")]
    td_quote: Vec<u8>,
}

fn vcek_certificates(v: &serde_json::Value) -> Result<Vec<Certificate>, Error> {
    let bytes = match v {
        serde_json::Value::String(s) if s.contains("-----BEGIN") => s.as_bytes().to_vec(),
        serde_json::Value::String(s) => b64_decode(s)
            .map_err(|e| Error::evidence("vcek", format!("{e} (expected PEM or base64 DER)")))?,
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| Error::evidence("vcek", "array members must be 0-255"))?,
        _ => {
            return Err(Error::evidence(
                "vcek",
                "expected PEM text, base64 or bytes",
            ));
        }
    };
    let certs = parse_certificates(&bytes).map_err(|e| Error::evidence("vcek", e.to_string()))?;
    if certs.is_empty() {
        return Err(Error::evidence("vcek", "no certificate"));
    }
    Ok(certs)
}

fn json_err(shape: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |e| Error::evidence(shape, e.to_string())
}

impl CvmEvidence {
    /// Reads an evidence document, telling the formats apart by their members.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_DOCUMENT {
            return Err(Error::evidence(
                "evidence",
                format!("{} bytes exceeds the maximum {MAX_DOCUMENT}", bytes.len()),
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::evidence("evidence", format!("not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::evidence("evidence", "not a JSON object"))?;
        if obj.get("format").and_then(|f| f.as_str()) == Some(COMPOSITE_FORMAT) {
            let c: CompositeEvidence =
                serde_json::from_value(v).map_err(json_err("composite evidence"))?;
            if c.version != COMPOSITE_VERSION {
                return Err(Error::evidence(
                    "version",
                    format!("composite version {} is not supported (1)", c.version),
                ));
            }
            return Ok(Self::Composite(c));
        }
        if obj.contains_key("td_quote") {
            let a: AzureTdx = serde_json::from_value(v).map_err(json_err("Azure TDX evidence"))?;
            return Ok(Self::Azure(AzureEvidence {
                version: a.version,
                hcl_report: a.hcl_report,
                certificates: Vec::new(),
                quote: AzureQuote {
                    message: a.tpm_quote.message,
                    signature: a.tpm_quote.signature,
                    pcrs: a.tpm_quote.pcrs,
                },
                td_quote: Some(a.td_quote),
            }));
        }
        if obj.contains_key("hcl_report") {
            let a: AzureV1 = serde_json::from_value(v).map_err(json_err("Azure evidence v1/v2"))?;
            if !(1..=2).contains(&a.version) {
                return Err(Error::evidence(
                    "version",
                    format!(
                        "Azure evidence version {} is not supported (0, 1, 2)",
                        a.version
                    ),
                ));
            }
            return Ok(Self::Azure(AzureEvidence {
                version: a.version,
                certificates: vcek_certificates(&a.vcek)?,
                hcl_report: a.hcl_report,
                quote: AzureQuote {
                    message: a.tpm_quote.message,
                    signature: a.tpm_quote.signature,
                    pcrs: a.tpm_quote.pcrs,
                },
                td_quote: None,
            }));
        }
        if obj.contains_key("report") && obj.contains_key("quote") {
            let a: AzureV0 = serde_json::from_value(v).map_err(json_err("Azure evidence v0"))?;
            return Ok(Self::Azure(AzureEvidence {
                version: 0,
                certificates: vcek_certificates(&a.vcek)?,
                hcl_report: a.report,
                quote: AzureQuote {
                    message: a.quote.message,
                    signature: a.quote.signature,
                    pcrs: a.quote.pcrs,
                },
                td_quote: None,
            }));
        }
        Err(Error::evidence(
            "evidence",
            "neither Azure CVM evidence (trustee az-snp-vtpm v0/v1/v2) nor shomei composite \
             evidence (\"format\": \"shomei-cvm-composite\")",
        ))
    }
}
