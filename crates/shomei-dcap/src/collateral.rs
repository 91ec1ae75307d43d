//! Collateral: what a verifier needs besides the quote — TCB Info and QE Identity with their
//! signatures and issuer chains, the Root CA CRL, the PCK CRL (and its issuer chain) and, for
//! quotes that do not carry their PCK chain, the PCK certificate chain.
//!
//! Two sources are read (both pure: bytes in, no file or network access here):
//!
//! - dcap-qvl's collateral JSON (`QuoteCollateralV3`): `tcb_info`/`qe_identity` are JSON *strings*
//!   whose contents are the signed bytes; CRLs are hex DER; signatures hex r ‖ s.
//! - PCS-format files ([`PcsFiles`]): the PCS bodies `{"tcbInfo":…,"signature":…}` and
//!   `{"enclaveIdentity":…,"signature":…}`, whose signed bytes are the exact span of the value in
//!   the received text (found with `serde_json`'s `RawValue`, never re-serialised), CRLs in DER,
//!   PEM or hex, and PEM chains.

use serde::Deserialize;
use serde_json::value::RawValue;
use shomei_core::x509::{Certificate, Crl, parse_certificates};

use crate::error::Error;

/// A signed JSON document: the signed bytes exactly as received, and the ECDSA P-256 signature
/// (r ‖ s, big-endian) over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedJson {
    raw: Vec<u8>,
    signature: [u8; 64],
}

fn signature_hex(what: &'static str, s: &str) -> Result<[u8; 64], Error> {
    let v = shomei_core::hexfmt::decode(s)
        .map_err(|e| Error::collateral(what, format!("signature: {e}")))?;
    <[u8; 64]>::try_from(v.as_slice()).map_err(|_| {
        Error::collateral(
            what,
            format!("signature is {} bytes, expected 64 (r ‖ s)", v.len()),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PcsTcbInfoBody<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    value: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PcsQeIdentityBody<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    value: &'a RawValue,
    signature: String,
}

fn object_span(what: &'static str, v: &RawValue) -> Result<Vec<u8>, Error> {
    let text = v.get();
    if !text.starts_with('{') {
        return Err(Error::collateral(
            what,
            "the signed value is not a JSON object",
        ));
    }
    Ok(text.as_bytes().to_vec())
}

impl SignedJson {
    pub fn new(raw: Vec<u8>, signature: [u8; 64]) -> Self {
        Self { raw, signature }
    }

    /// The signed bytes and a hex signature.
    pub fn with_hex_signature(
        what: &'static str,
        raw: Vec<u8>,
        signature: &str,
    ) -> Result<Self, Error> {
        Ok(Self {
            raw,
            signature: signature_hex(what, signature)?,
        })
    }

    /// A PCS TCB Info body `{"tcbInfo":{…},"signature":"…"}`: the signed bytes are the text of
    /// the `tcbInfo` value exactly as it appears in `body`.
    pub fn tcb_info_from_pcs(body: &[u8]) -> Result<Self, Error> {
        const W: &str = "TCB Info body";
        let b: PcsTcbInfoBody<'_> =
            serde_json::from_slice(body).map_err(|e| Error::collateral(W, e.to_string()))?;
        Ok(Self {
            raw: object_span(W, b.value)?,
            signature: signature_hex(W, &b.signature)?,
        })
    }

    /// A PCS QE Identity body `{"enclaveIdentity":{…},"signature":"…"}`.
    pub fn qe_identity_from_pcs(body: &[u8]) -> Result<Self, Error> {
        const W: &str = "QE Identity body";
        let b: PcsQeIdentityBody<'_> =
            serde_json::from_slice(body).map_err(|e| Error::collateral(W, e.to_string()))?;
        Ok(Self {
            raw: object_span(W, b.value)?,
            signature: signature_hex(W, &b.signature)?,
        })
    }

    /// The signed bytes, as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

/// Everything a quote is verified against, besides the trust anchor and the time.
#[derive(Debug, Clone)]
pub struct Collateral {
    pub tcb_info: SignedJson,
    /// The TCB Signing certificate (and usually the root).
    pub tcb_info_issuer_chain: Vec<Certificate>,
    pub qe_identity: SignedJson,
    /// Empty: the TCB Info issuer chain is used (PCS signs both with the same key).
    pub qe_identity_issuer_chain: Vec<Certificate>,
    pub root_ca_crl: Crl,
    pub pck_crl: Crl,
    /// The PCK CA (Processor or Platform) and root that issued the PCK CRL.
    pub pck_crl_issuer_chain: Vec<Certificate>,
    /// The PCK certificate (and CA) for quotes whose certification data is not a PCK chain
    /// (types 1–4); ignored for type 5, whose chain comes with the quote.
    pub pck_cert_chain: Vec<Certificate>,
}

/// Reads a CRL in DER, PEM (`X509 CRL`) or hex-encoded DER.
pub fn parse_crl(what: &'static str, bytes: &[u8]) -> Result<Crl, Error> {
    let trimmed = bytes.trim_ascii();
    let looks_hex = !trimmed.is_empty() && trimmed.iter().all(u8::is_ascii_hexdigit);
    let der = if looks_hex {
        let text =
            core::str::from_utf8(trimmed).map_err(|e| Error::collateral(what, e.to_string()))?;
        hex::decode(text).map_err(|e| Error::collateral(what, e.to_string()))?
    } else {
        bytes.to_vec()
    };
    Crl::from_der_or_pem(&der).map_err(|e| Error::certificate(what, e))
}

/// Reads a PEM chain; the text may end with a NUL (as in quotes) or carry text between blocks.
pub fn parse_chain(what: &'static str, bytes: &[u8]) -> Result<Vec<Certificate>, Error> {
    parse_certificates(bytes).map_err(|e| Error::certificate(what, e))
}

/// dcap-qvl's `QuoteCollateralV3`.
#[derive(Deserialize)]
struct QvlCollateral {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
    #[serde(default)]
    pck_certificate_chain: Option<String>,
}

/// The PCS-format files of a collateral directory, as bytes (see the CLI's `--collateral DIR`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PcsFiles<'a> {
    /// `tcb_info.json`: `{"tcbInfo":…,"signature":…}`.
    pub tcb_info: &'a [u8],
    /// `qe_identity.json`: `{"enclaveIdentity":…,"signature":…}`.
    pub qe_identity: &'a [u8],
    /// `pck_crl.der|pem`.
    pub pck_crl: &'a [u8],
    /// `root_ca_crl.der|pem`.
    pub root_ca_crl: &'a [u8],
    /// `tcb_info_issuer_chain.pem`.
    pub tcb_info_issuer_chain: &'a [u8],
    /// `qe_identity_issuer_chain.pem` (optional: the TCB Info issuer chain otherwise).
    pub qe_identity_issuer_chain: Option<&'a [u8]>,
    /// `pck_crl_issuer_chain.pem` (optional).
    pub pck_crl_issuer_chain: Option<&'a [u8]>,
    /// `pck_cert_chain.pem` (optional; needed for certification data types 1–4).
    pub pck_cert_chain: Option<&'a [u8]>,
}

impl Collateral {
    /// Reads dcap-qvl's collateral JSON.
    pub fn from_dcap_qvl_json(bytes: &[u8]) -> Result<Self, Error> {
        const W: &str = "dcap-qvl collateral";
        let c: QvlCollateral =
            serde_json::from_slice(bytes).map_err(|e| Error::collateral(W, e.to_string()))?;
        let pck_cert_chain = match c.pck_certificate_chain.as_deref() {
            Some(s) if !s.trim().is_empty() => parse_chain("pck_certificate_chain", s.as_bytes())?,
            _ => Vec::new(),
        };
        Ok(Self {
            tcb_info: SignedJson::with_hex_signature(
                "tcb_info_signature",
                c.tcb_info.into_bytes(),
                &c.tcb_info_signature,
            )?,
            tcb_info_issuer_chain: parse_chain(
                "tcb_info_issuer_chain",
                c.tcb_info_issuer_chain.as_bytes(),
            )?,
            qe_identity: SignedJson::with_hex_signature(
                "qe_identity_signature",
                c.qe_identity.into_bytes(),
                &c.qe_identity_signature,
            )?,
            qe_identity_issuer_chain: parse_chain(
                "qe_identity_issuer_chain",
                c.qe_identity_issuer_chain.as_bytes(),
            )?,
            root_ca_crl: parse_crl("root_ca_crl", c.root_ca_crl.as_bytes())?,
            pck_crl: parse_crl("pck_crl", c.pck_crl.as_bytes())?,
            pck_crl_issuer_chain: parse_chain(
                "pck_crl_issuer_chain",
                c.pck_crl_issuer_chain.as_bytes(),
            )?,
            pck_cert_chain,
        })
    }

    /// Reads PCS-format collateral.
    pub fn from_pcs(f: &PcsFiles<'_>) -> Result<Self, Error> {
        let opt_chain = |what: &'static str, b: Option<&[u8]>| -> Result<Vec<Certificate>, Error> {
            match b {
                Some(b) => parse_chain(what, b),
                None => Ok(Vec::new()),
            }
        };
        Ok(Self {
            tcb_info: SignedJson::tcb_info_from_pcs(f.tcb_info)?,
            tcb_info_issuer_chain: parse_chain("tcb_info_issuer_chain", f.tcb_info_issuer_chain)?,
            qe_identity: SignedJson::qe_identity_from_pcs(f.qe_identity)?,
            qe_identity_issuer_chain: opt_chain(
                "qe_identity_issuer_chain",
                f.qe_identity_issuer_chain,
            )?,
            root_ca_crl: parse_crl("root_ca_crl", f.root_ca_crl)?,
            pck_crl: parse_crl("pck_crl", f.pck_crl)?,
            pck_crl_issuer_chain: opt_chain("pck_crl_issuer_chain", f.pck_crl_issuer_chain)?,
            pck_cert_chain: opt_chain("pck_cert_chain", f.pck_cert_chain)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcs_body_span_is_the_value_as_received() {
        // Whitespace and key order inside the value are kept byte for byte.
        let body = br#"{ "tcbInfo" :  {"b": 1,  "a":[ 2 ]} , "signature":"00"}"#;
        let sig = "00".repeat(64);
        let body = String::from_utf8_lossy(body).replace(r#""00""#, &format!("\"{sig}\""));
        let s = SignedJson::tcb_info_from_pcs(body.as_bytes());
        assert_eq!(
            s.as_ref().map(|s| s.raw().to_vec()).ok(),
            Some(br#"{"b": 1,  "a":[ 2 ]}"#.to_vec())
        );
    }

    #[test]
    fn pcs_body_with_a_duplicate_or_extra_key_is_refused() {
        let sig = "00".repeat(64);
        let dup = format!(r#"{{"tcbInfo":{{}},"tcbInfo":{{"x":1}},"signature":"{sig}"}}"#);
        assert!(SignedJson::tcb_info_from_pcs(dup.as_bytes()).is_err());
        let extra = format!(r#"{{"tcbInfo":{{}},"signature":"{sig}","more":1}}"#);
        assert!(SignedJson::tcb_info_from_pcs(extra.as_bytes()).is_err());
        let not_object = format!(r#"{{"tcbInfo":"{{}}","signature":"{sig}"}}"#);
        assert!(SignedJson::tcb_info_from_pcs(not_object.as_bytes()).is_err());
        let short_sig = r#"{"tcbInfo":{},"signature":"0011"}"#;
        assert!(SignedJson::tcb_info_from_pcs(short_sig.as_bytes()).is_err());
    }
}
