//! Evidence as it arrives over HTTP: a JSON array of pieces, each tagged with its family.
//!
//! ```json
//! [ { "family": "snp", "report": "<base64>",
//!     "certs": "<PEM: VCEK or VLEK, optionally ASK/ARK>",     // or
//!     "cert_table": "<base64 of the extended report's GHCB certificate table>",
//!     "crls": ["<PEM>"], "product": "milan" },
//!   { "family": "dcap", "quote": "<base64>", "collateral": { …dcap-qvl's JSON… } },
//!   { "family": "cvm", "evidence": { …trustee's Azure evidence, or shomei's composite… } },
//!   { "family": "snp_proof", "proof": "<base64>",
//!     "vcek": "<PEM, or base64 of DER: the VCEK (or VLEK) that signed the hidden report>",
//!     "chain": "<PEM: ASK/ARK, optional>", "crls": ["<PEM>"],
//!     "reported_tcb": "<16 hex digits>",
//!     "report_data": "<128 hex digits, optional: default the nonce binding>",
//!     "product": "milan" } ]
//! ```
//!
//! `snp_proof` is a shomei-zk proof in place of an SNP report (`Evidence::SnpProof`): the
//! service checks it only when `[zk] verifier` is configured, against the SNP policy and
//! reference values (`shomei_verifier::snp_proof_policy` says how the proof's public policy is
//! derived from them) and REPORT_DATA = SHA-512(nonce ‖ tee_pubkey point), as for reports.
//!
//! Binary fields accept standard or URL-safe base64, padded or not. Decoding failures are 400s
//! naming the piece and the field.

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use shomei_verifier::appraise::{DcapEvidence, Evidence, SnpEvidence, SnpProofEvidence};

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
    /// A zero-knowledge proof about a hidden SNP report (shomei-zk).
    SnpProof {
        proof: String,
        /// PEM, or base64 of DER.
        vcek: String,
        #[serde(default)]
        chain: Option<String>,
        #[serde(default)]
        crls: Vec<String>,
        reported_tcb: String,
        #[serde(default)]
        report_data: Option<String>,
        #[serde(default)]
        product: Option<String>,
    },
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
            Self::SnpProof { .. } => "snp_proof",
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
                    collateral = with_certificates(collateral, pem, &at("certs"))?;
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
                let collateral = with_crls(collateral, crls, i)?;
                let product = parse_product(product.as_deref(), &at("product"))?;
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
            Self::SnpProof {
                proof,
                vcek,
                chain,
                crls,
                reported_tcb,
                report_data,
                product,
            } => {
                let proof = b64(&at("proof"), proof)?;
                let vek = if vcek.contains("-----BEGIN") {
                    shomei_core::x509::Certificate::from_der_or_pem(vcek.as_bytes())
                } else {
                    shomei_core::x509::Certificate::from_der_or_pem(&b64(&at("vcek"), vcek)?)
                }
                .map_err(|e| Problem::bad_request("malformed", format!("{}: {e}", at("vcek"))))?;
                let mut collateral = shomei_snp::Collateral::new();
                if let Some(pem) = chain {
                    collateral = with_certificates(collateral, pem, &at("chain"))?;
                }
                let chain = with_crls(collateral, crls, i)?;
                let reported_tcb = hex_array::<8>(&at("reported_tcb"), reported_tcb)?;
                let report_data = report_data
                    .as_deref()
                    .map(|h| hex_array::<64>(&at("report_data"), h))
                    .transpose()?;
                let product = parse_product(product.as_deref(), &at("product"))?;
                Ok(Evidence::SnpProof(Box::new(SnpProofEvidence {
                    proof,
                    vek,
                    chain,
                    reported_tcb,
                    report_data,
                    product,
                })))
            }
        }
    }
}

/// Adds the PEM certificates in `pem` to `collateral`.
fn with_certificates(
    mut collateral: shomei_snp::Collateral,
    pem: &str,
    field: &str,
) -> Result<shomei_snp::Collateral, Problem> {
    for c in shomei_core::x509::parse_certificates(pem.as_bytes())
        .map_err(|e| Problem::bad_request("malformed", format!("{field}: {e}")))?
    {
        collateral = collateral.with_certificate(c);
    }
    Ok(collateral)
}

/// Adds the CRLs (PEM or DER text) of piece `i` to `collateral`.
fn with_crls(
    mut collateral: shomei_snp::Collateral,
    crls: &[String],
    i: usize,
) -> Result<shomei_snp::Collateral, Problem> {
    for (j, crl) in crls.iter().enumerate() {
        let c = shomei_core::x509::Crl::from_der_or_pem(crl.as_bytes()).map_err(|e| {
            Problem::bad_request("malformed", format!("evidence[{i}].crls[{j}]: {e}"))
        })?;
        collateral = collateral.with_crl(c);
    }
    Ok(collateral)
}

fn parse_product(p: Option<&str>, field: &str) -> Result<Option<shomei_snp::Product>, Problem> {
    p.map(str::parse::<shomei_snp::Product>)
        .transpose()
        .map_err(|e| Problem::bad_request("malformed", format!("{field}: {e}")))
}

/// Exactly `N` bytes of hex.
fn hex_array<const N: usize>(field: &str, h: &str) -> Result<[u8; N], Problem> {
    hex::decode(h.trim())
        .ok()
        .and_then(|v| <[u8; N]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| {
            Problem::bad_request(
                "malformed",
                format!("{field}: not {N} bytes of hex ({} digits)", 2 * N),
            )
        })
}
