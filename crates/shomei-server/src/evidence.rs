//! Evidence as it arrives over HTTP: a JSON array of pieces, each tagged with its family.
//!
//! ```json
//! [ { "family": "snp", "report": "<base64>",
//!     "certs": "<PEM: VCEK or VLEK, optionally ASK/ARK>",     // or
//!     "cert_table": "<base64 of the extended report's GHCB certificate table>",
//!     "crls": ["<PEM>"], "product": "milan" },
//!   { "family": "dcap", "quote": "<base64>", "collateral": { …dcap-qvl's JSON… } },
//!   { "family": "cvm", "evidence": { …trustee's Azure evidence, or shomei's composite… } } ]
//! ```
//!
//! Binary fields accept standard or URL-safe base64, padded or not. Decoding failures are 400s
//! naming the piece and the field.

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use shomei_verifier::appraise::{DcapEvidence, Evidence, SnpEvidence};

use crate::problem::Problem;

/// The most pieces one request may carry.
pub const MAX_PIECES: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvidenceJson {
    Snp {
        report: String,
        #[serde(default)]
        certs: Option<String>,
        #[serde(default)]
        cert_table: Option<String>,
        #[serde(default)]
        crls: Vec<String>,
        #[serde(default)]
        product: Option<String>,
    },
    Dcap {
        quote: String,
        collateral: serde_json::Value,
    },
    /// Two-step CVM evidence: trustee's Azure evidence JSON (any version) or shomei's
    /// composite format, as a JSON value.
    Cvm { evidence: serde_json::Value },
}

/// Decodes base64 in any of its four common spellings.
pub fn b64(field: &str, s: &str) -> Result<Vec<u8>, Problem> {
    let t = s.trim();
    Base64::decode_vec(t)
        .or_else(|_| Base64Unpadded::decode_vec(t))
        .or_else(|_| Base64UrlUnpadded::decode_vec(t))
        .or_else(|_| Base64Url::decode_vec(t))
        .map_err(|_| Problem::bad_request("malformed", format!("{field}: not base64")))
}

impl EvidenceJson {
    pub fn family(&self) -> &'static str {
        match self {
            Self::Snp { .. } => "snp",
            Self::Dcap { .. } => "dcap",
            Self::Cvm { .. } => "cvm",
        }
    }

    /// The verifier's evidence (collateral parsed; nothing verified yet).
    pub fn decode(&self, i: usize) -> Result<Evidence, Problem> {
        let at = |f: &str| format!("evidence[{i}].{f}");
        match self {
            Self::Snp {
                report,
                certs,
                cert_table,
                crls,
                product,
            } => {
                let report = b64(&at("report"), report)?;
                let mut collateral = shomei_snp::Collateral::new();
                if let Some(pem) = certs {
                    for c in shomei_core::x509::parse_certificates(pem.as_bytes()).map_err(|e| {
                        Problem::bad_request("malformed", format!("{}: {e}", at("certs")))
                    })? {
                        collateral = collateral.with_certificate(c);
                    }
                }
                if let Some(t) = cert_table {
                    let bytes = b64(&at("cert_table"), t)?;
                    let entries = shomei_snp::certtable::parse(&bytes).map_err(|e| {
                        Problem::bad_request("malformed", format!("{}: {e}", at("cert_table")))
                    })?;
                    let from_table =
                        shomei_snp::certtable::to_collateral(&entries).map_err(|e| {
                            Problem::bad_request("malformed", format!("{}: {e}", at("cert_table")))
                        })?;
                    for c in from_table.certificates {
                        collateral = collateral.with_certificate(c);
                    }
                }
                for (j, crl) in crls.iter().enumerate() {
                    let c =
                        shomei_core::x509::Crl::from_der_or_pem(crl.as_bytes()).map_err(|e| {
                            Problem::bad_request(
                                "malformed",
                                format!("{}: {e}", at(&format!("crls[{j}]"))),
                            )
                        })?;
                    collateral = collateral.with_crl(c);
                }
                let product = product
                    .as_deref()
                    .map(str::parse::<shomei_snp::Product>)
                    .transpose()
                    .map_err(|e| {
                        Problem::bad_request("malformed", format!("{}: {e}", at("product")))
                    })?;
                Ok(Evidence::Snp(SnpEvidence {
                    report,
                    collateral,
                    product,
                }))
            }
            Self::Dcap { quote, collateral } => {
                let quote = b64(&at("quote"), quote)?;
                let bytes = serde_json::to_vec(collateral)
                    .map_err(|e| Problem::bad_request("malformed", e.to_string()))?;
                let collateral =
                    shomei_dcap::Collateral::from_dcap_qvl_json(&bytes).map_err(|e| {
                        Problem::bad_request("malformed", format!("{}: {e}", at("collateral")))
                    })?;
                Ok(Evidence::Dcap(Box::new(DcapEvidence { quote, collateral })))
            }
            Self::Cvm { evidence } => {
                let bytes = serde_json::to_vec(evidence)
                    .map_err(|e| Problem::bad_request("malformed", e.to_string()))?;
                let e = shomei_cvm::CvmEvidence::from_json(&bytes).map_err(|e| {
                    Problem::bad_request("malformed", format!("{}: {e}", at("evidence")))
                })?;
                Ok(Evidence::Cvm(Box::new(e)))
            }
        }
    }
}
