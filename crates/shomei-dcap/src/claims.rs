//! The display/JSON shape of a verified quote (snake_case keys; bytes as lowercase hex; times
//! as RFC 3339).

use serde::{Serialize, Serializer};
use shomei_core::UnixTime;

use crate::pck::PckExtensions;
use crate::quote::{ReportBody, SgxReportBody, Td10ReportBody, Tee};
use crate::status::TcbStatus;
use crate::verify::{CollateralStatus, TcbVerdict, VerifiedQuote};

/// Serde helper: a [`UnixTime`] as RFC 3339.
pub fn ser_time<S: Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// Serde helper: an optional [`UnixTime`] as RFC 3339 or null.
pub fn ser_opt_time<S: Serializer>(t: &Option<UnixTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

/// An SGX enclave's identity and report data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnclaveClaims {
    pub mr_enclave: String,
    pub mr_signer: String,
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    pub attributes: String,
    pub misc_select: String,
    pub debug: bool,
    pub cpu_svn: String,
    pub config_id: String,
    pub config_svn: u16,
    pub isv_ext_prod_id: String,
    pub isv_family_id: String,
    pub report_data: String,
}

impl EnclaveClaims {
    pub fn new(b: &SgxReportBody) -> Self {
        Self {
            mr_enclave: hex::encode(b.mr_enclave),
            mr_signer: hex::encode(b.mr_signer),
            isv_prod_id: b.isv_prod_id.get(),
            isv_svn: b.isv_svn.get(),
            attributes: hex::encode(b.attributes),
            misc_select: hex::encode(b.misc_select),
            debug: b.is_debug(),
            cpu_svn: hex::encode(b.cpu_svn),
            config_id: hex::encode(b.config_id),
            config_svn: b.config_svn.get(),
            isv_ext_prod_id: hex::encode(b.isv_ext_prod_id),
            isv_family_id: hex::encode(b.isv_family_id),
            report_data: hex::encode(b.report_data),
        }
    }
}

/// A TD's measurements and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdClaims {
    pub mr_td: String,
    pub rtmr0: String,
    pub rtmr1: String,
    pub rtmr2: String,
    pub rtmr3: String,
    pub mr_config_id: String,
    pub mr_owner: String,
    pub mr_owner_config: String,
    pub mr_seam: String,
    pub mr_signer_seam: String,
    pub seam_attributes: String,
    pub td_attributes: String,
    pub xfam: String,
    pub debug: bool,
    pub tee_tcb_svn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tee_tcb_svn2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mr_service_td: Option<String>,
    pub report_data: String,
}

impl TdClaims {
    pub fn new(body: &ReportBody) -> Option<Self> {
        let t: &Td10ReportBody = body.td()?;
        let [r0, r1, r2, r3] = &t.rtmr;
        let attrs = t.td_attributes.get();
        Some(Self {
            mr_td: hex::encode(t.mr_td),
            rtmr0: hex::encode(r0),
            rtmr1: hex::encode(r1),
            rtmr2: hex::encode(r2),
            rtmr3: hex::encode(r3),
            mr_config_id: hex::encode(t.mr_config_id),
            mr_owner: hex::encode(t.mr_owner),
            mr_owner_config: hex::encode(t.mr_owner_config),
            mr_seam: hex::encode(t.mr_seam),
            mr_signer_seam: hex::encode(t.mr_signer_seam),
            seam_attributes: hex::encode(t.seam_attributes),
            td_attributes: format!("{attrs:016x}"),
            xfam: format!("{:016x}", t.xfam.get()),
            debug: attrs & crate::quote::td_attributes::DEBUG != 0,
            tee_tcb_svn: hex::encode(t.tee_tcb_svn),
            tee_tcb_svn2: body.td15().map(|b| hex::encode(b.tee_tcb_svn2)),
            mr_service_td: body.td15().map(|b| hex::encode(b.mr_service_td)),
            report_data: hex::encode(t.report_data),
        })
    }
}

/// Everything a verified quote says, for display and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct QuoteClaims {
    pub tee: Tee,
    pub quote_version: u16,
    /// Intel's converged TCB status.
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
    /// SGX quotes: the ISV enclave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enclave: Option<EnclaveClaims>,
    /// TDX quotes: the TD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub td: Option<TdClaims>,
    pub tcb: TcbVerdict,
    pub pck: PckExtensions,
    pub qe: EnclaveClaims,
    pub collateral: CollateralStatus,
    pub collateral_expired: bool,
    pub trust_anchor_sha256: String,
    pub trust_anchor_is_intel: bool,
    #[serde(serialize_with = "ser_time")]
    pub verified_at: UnixTime,
}

impl QuoteClaims {
    pub fn new(v: &VerifiedQuote) -> Self {
        Self {
            tee: v.tee(),
            quote_version: v.version(),
            status: v.status(),
            advisory_ids: v.advisory_ids().to_vec(),
            enclave: v.body().sgx().map(EnclaveClaims::new),
            td: TdClaims::new(v.body()),
            tcb: v.tcb().clone(),
            pck: v.pck().clone(),
            qe: EnclaveClaims::new(v.qe_report()),
            collateral: v.collateral().clone(),
            collateral_expired: v.collateral().is_expired(),
            trust_anchor_sha256: hex::encode(v.anchor_sha256()),
            trust_anchor_is_intel: v.anchor_is_intel(),
            verified_at: v.verified_at(),
        }
    }
}
