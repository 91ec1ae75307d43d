//! Appraisal policy for verified quotes, separate from verification: which TCB statuses and
//! advisories are acceptable, grace periods, collateral freshness, debug and TD attributes,
//! platform flags, and reference values.
//!
//! Defaults (an empty policy file): only `UpToDate`; no grace periods; expired collateral
//! refused; debug refused; TDs must set SEPT_VE_DISABLE, must not set reserved TDATTRIBUTES
//! bits, and (TD 1.5) must not have a service TD; PKS, KL, PERFMON, SMT, dynamic platforms and
//! cached keys allowed; no reference values.
//!
//! Grace periods follow Intel's appraisal (and dcap-qvl's `SimplePolicy`): an out-of-date
//! platform (or TDX module) is tolerated while `tcbDate of the matched level + grace ≥ time`,
//! an out-of-date QE likewise with its level's tcbDate, expired collateral while
//! `earliest expiration + grace ≥ time`. A tolerated OutOfDate counts as UpToDate (and
//! OutOfDateConfigurationNeeded as ConfigurationNeeded) against `accepted_statuses`.

use serde::{Deserialize, Serialize};
use shomei_core::UnixTime;
use shomei_core::policy::one_of;
pub use shomei_core::policy::{HexBytes, Violation};

use crate::quote::td_attributes as td;
use crate::status::TcbStatus;
use crate::verify::{CollateralItem, VerifiedQuote};

/// A DCAP appraisal policy (TOML; every key optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Acceptable converged TCB statuses (Intel's names). Default: `["UpToDate"]`.
    pub accepted_statuses: Vec<TcbStatus>,
    /// When set, every advisory of the quote must be listed here.
    pub allowed_advisories: Option<Vec<String>>,
    /// Advisories that are never acceptable.
    pub denied_advisories: Vec<String>,
    /// Seconds an out-of-date platform or TDX module is tolerated after its level's tcbDate.
    pub platform_grace_period: u64,
    /// Seconds an out-of-date QE is tolerated after its level's tcbDate.
    pub qe_grace_period: u64,
    /// Seconds expired collateral is tolerated after its earliest expiration.
    pub collateral_grace_period: u64,
    /// Maximum age in seconds of TCB Info, QE Identity and the PCK CRL (from their issue date).
    pub max_collateral_age: Option<u64>,
    /// Minimum tcbEvaluationDataNumber of TCB Info and QE Identity.
    pub min_tcb_evaluation_data_number: Option<u32>,

    /// PCK platform flags (Platform CA certificates): refused when set and not allowed.
    pub allow_dynamic_platform: bool,
    pub allow_cached_keys: bool,
    pub allow_smt: bool,
    /// Accepted PCK SGX types (0 Standard, 1 Scalable, 2 Scalable with integrity); empty: any.
    pub accepted_sgx_types: Vec<u8>,

    /// Accept debug enclaves and debuggable TDs.
    pub allow_debug: bool,
    /// TDs must set SEPT_VE_DISABLE.
    pub require_sept_ve_disable: bool,
    pub allow_pks: bool,
    pub allow_kl: bool,
    pub allow_perfmon: bool,
    /// TD 1.5: accept a non-zero MRSERVICETD.
    pub allow_service_td: bool,

    // Reference values. Lists are allowlists; a single value is an exact match.
    pub mr_td: Vec<HexBytes>,
    pub rtmr0: Vec<HexBytes>,
    pub rtmr1: Vec<HexBytes>,
    pub rtmr2: Vec<HexBytes>,
    pub rtmr3: Vec<HexBytes>,
    pub mr_config_id: Option<HexBytes>,
    pub mr_owner: Option<HexBytes>,
    pub mr_owner_config: Option<HexBytes>,
    pub mr_seam: Vec<HexBytes>,
    pub mr_enclave: Vec<HexBytes>,
    pub mr_signer: Vec<HexBytes>,
    pub isv_prod_id: Option<u16>,
    pub min_isv_svn: Option<u16>,
    /// Compared after zero-padding to 64 bytes.
    pub report_data: Option<HexBytes>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            accepted_statuses: vec![TcbStatus::UpToDate],
            allowed_advisories: None,
            denied_advisories: Vec::new(),
            platform_grace_period: 0,
            qe_grace_period: 0,
            collateral_grace_period: 0,
            max_collateral_age: None,
            min_tcb_evaluation_data_number: None,
            allow_dynamic_platform: true,
            allow_cached_keys: true,
            allow_smt: true,
            accepted_sgx_types: Vec::new(),
            allow_debug: false,
            require_sept_ve_disable: true,
            allow_pks: true,
            allow_kl: true,
            allow_perfmon: true,
            allow_service_td: false,
            mr_td: Vec::new(),
            rtmr0: Vec::new(),
            rtmr1: Vec::new(),
            rtmr2: Vec::new(),
            rtmr3: Vec::new(),
            mr_config_id: None,
            mr_owner: None,
            mr_owner_config: None,
            mr_seam: Vec::new(),
            mr_enclave: Vec::new(),
            mr_signer: Vec::new(),
            isv_prod_id: None,
            min_isv_svn: None,
            report_data: None,
        }
    }
}

fn within(date: UnixTime, grace: u64, at: UnixTime) -> bool {
    let grace = i64::try_from(grace).unwrap_or(i64::MAX);
    date.secs().saturating_add(grace) >= at.secs()
}

fn exact(check: &str, got: &[u8], want: Option<&HexBytes>, pad: usize, out: &mut Vec<Violation>) {
    let Some(want) = want else { return };
    let mut w = want.0.clone();
    if w.len() <= pad {
        w.resize(pad, 0);
    }
    if w != got {
        out.push(Violation::new(
            check,
            format!(
                "{} is not the expected {}",
                hex::encode(got),
                hex::encode(&want.0)
            ),
        ));
    }
}

impl Policy {
    /// Reads a TOML policy.
    pub fn from_toml(s: &str) -> Result<Self, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }

    /// Checks every rule and returns every violation (empty: the quote is acceptable).
    pub fn appraise(&self, v: &VerifiedQuote) -> Vec<Violation> {
        let mut out = Vec::new();
        self.status(v, &mut out);
        self.advisories(v, &mut out);
        self.collateral(v, &mut out);
        self.platform(v, &mut out);
        self.enclave(v, &mut out);
        self.td(v, &mut out);
        out
    }

    /// [`Policy::appraise`] as a verdict: the first violation is the error.
    pub fn check(&self, v: &VerifiedQuote) -> Result<(), Violation> {
        match self.appraise(v).into_iter().next() {
            None => Ok(()),
            Some(x) => Err(x),
        }
    }

    fn status(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        let t = v.tcb();
        let at = v.verified_at();
        let s = t.status;
        if self.accepted_statuses.contains(&s) {
            return;
        }
        let tolerated = s.is_out_of_date() && {
            let platform_ok = !t.platform_status.is_out_of_date()
                || (self.platform_grace_period > 0
                    && within(t.platform_tcb_date, self.platform_grace_period, at));
            let module_ok = t.tdx_module.as_ref().is_none_or(|m| {
                !m.status.is_out_of_date()
                    || (self.platform_grace_period > 0
                        && within(m.tcb_date, self.platform_grace_period, at))
            });
            let qe_ok = !t.qe_status.is_out_of_date()
                || (self.qe_grace_period > 0
                    && t.qe_tcb_date
                        .is_some_and(|d| within(d, self.qe_grace_period, at)));
            let base = if s == TcbStatus::OutOfDateConfigurationNeeded {
                TcbStatus::ConfigurationNeeded
            } else {
                TcbStatus::UpToDate
            };
            platform_ok && module_ok && qe_ok && self.accepted_statuses.contains(&base)
        };
        if !tolerated {
            let accepted: Vec<&str> = self.accepted_statuses.iter().map(|s| s.as_str()).collect();
            out.push(Violation::new(
                "tcb_status",
                format!(
                    "TCB status {s} is not accepted (accepted: {}); platform {}, QE {}{}",
                    accepted.join(", "),
                    t.platform_status,
                    t.qe_status,
                    t.tdx_module
                        .as_ref()
                        .map(|m| format!(", TDX module {} {}", m.id, m.status))
                        .unwrap_or_default()
                ),
            ));
        }
    }

    fn advisories(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        for a in v.advisory_ids() {
            if self
                .denied_advisories
                .iter()
                .any(|d| d.eq_ignore_ascii_case(a))
            {
                out.push(Violation::new(
                    "advisory",
                    format!("{a} is denied by the policy"),
                ));
            } else if let Some(allowed) = &self.allowed_advisories {
                if !allowed.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                    out.push(Violation::new(
                        "advisory",
                        format!("{a} is not among the allowed advisories"),
                    ));
                }
            }
        }
    }

    fn collateral(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        let c = v.collateral();
        let at = v.verified_at();
        if c.is_expired() && !within(c.earliest_expiration, self.collateral_grace_period, at) {
            let names: Vec<&str> = c.expired.iter().map(|i| i.name()).collect();
            out.push(Violation::new(
                "collateral_expired",
                format!(
                    "{} expired at {} (verification time {at})",
                    names.join(", "),
                    c.earliest_expiration
                ),
            ));
        }
        if let Some(max) = self.max_collateral_age {
            let max_i = i64::try_from(max).unwrap_or(i64::MAX);
            for item in [
                CollateralItem::TcbInfo,
                CollateralItem::QeIdentity,
                CollateralItem::PckCrl,
            ] {
                if let Some(i) = c.get(item) {
                    let age = at.secs().saturating_sub(i.issued.secs());
                    if age > max_i {
                        out.push(Violation::new(
                            "collateral_age",
                            format!(
                                "{} was issued at {} ({age} s before the verification time; at most {max} s allowed)",
                                item.name(),
                                i.issued
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(min) = self.min_tcb_evaluation_data_number {
            let t = v.tcb();
            for (what, n) in [
                ("TCB Info", t.tcb_evaluation_data_number),
                ("QE Identity", t.qe_tcb_evaluation_data_number),
            ] {
                if n < min {
                    out.push(Violation::new(
                        "tcb_evaluation_data_number",
                        format!("{what} tcbEvaluationDataNumber {n} is below {min}"),
                    ));
                }
            }
        }
    }

    fn platform(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        let pck = v.pck();
        if let Some(cfg) = &pck.configuration {
            for (check, flag, allowed) in [
                (
                    "dynamic_platform",
                    cfg.dynamic_platform,
                    self.allow_dynamic_platform,
                ),
                ("cached_keys", cfg.cached_keys, self.allow_cached_keys),
                ("smt", cfg.smt_enabled, self.allow_smt),
            ] {
                if flag == Some(true) && !allowed {
                    out.push(Violation::new(
                        check,
                        format!(
                            "the PCK certificate says {check} is set; the policy does not allow it"
                        ),
                    ));
                }
            }
        }
        if !self.accepted_sgx_types.is_empty() && !self.accepted_sgx_types.contains(&pck.sgx_type) {
            out.push(Violation::new(
                "sgx_type",
                format!(
                    "SGX type {} is not among {:?}",
                    pck.sgx_type, self.accepted_sgx_types
                ),
            ));
        }
    }

    fn enclave(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        let Some(b) = v.body().sgx() else {
            if !self.mr_enclave.is_empty()
                || !self.mr_signer.is_empty()
                || self.isv_prod_id.is_some()
                || self.min_isv_svn.is_some()
            {
                out.push(Violation::new(
                    "tee",
                    "the policy names SGX enclave reference values, the quote is a TDX quote",
                ));
            }
            return;
        };
        if b.is_debug() && !self.allow_debug {
            out.push(Violation::new(
                "debug",
                "the enclave's ATTRIBUTES.DEBUG is set; the policy does not allow it",
            ));
        }
        one_of("mr_enclave", &b.mr_enclave, &self.mr_enclave, out);
        one_of("mr_signer", &b.mr_signer, &self.mr_signer, out);
        if let Some(p) = self.isv_prod_id {
            if b.isv_prod_id.get() != p {
                out.push(Violation::new(
                    "isv_prod_id",
                    format!("ISVPRODID {} is not {p}", b.isv_prod_id.get()),
                ));
            }
        }
        if let Some(min) = self.min_isv_svn {
            if b.isv_svn.get() < min {
                out.push(Violation::new(
                    "isv_svn",
                    format!("ISVSVN {} is below {min}", b.isv_svn.get()),
                ));
            }
        }
        exact(
            "report_data",
            &b.report_data,
            self.report_data.as_ref(),
            64,
            out,
        );
    }

    fn td(&self, v: &VerifiedQuote, out: &mut Vec<Violation>) {
        let body = v.body();
        let Some(t) = body.td() else {
            if !self.mr_td.is_empty()
                || !self.rtmr0.is_empty()
                || !self.rtmr1.is_empty()
                || !self.rtmr2.is_empty()
                || !self.rtmr3.is_empty()
            {
                out.push(Violation::new(
                    "tee",
                    "the policy names TD reference values, the quote is an SGX quote",
                ));
            }
            return;
        };
        let a = t.td_attributes.get();
        if a & td::DEBUG != 0 && !self.allow_debug {
            out.push(Violation::new(
                "debug",
                "TDATTRIBUTES.DEBUG is set; the policy does not allow it",
            ));
        }
        if a & td::RESERVED != 0 {
            out.push(Violation::new(
                "td_attributes",
                format!(
                    "TDATTRIBUTES {a:#018x} sets reserved bits {:#x}",
                    a & td::RESERVED
                ),
            ));
        }
        if self.require_sept_ve_disable && a & td::SEPT_VE_DISABLE == 0 {
            out.push(Violation::new(
                "sept_ve_disable",
                "TDATTRIBUTES.SEPT_VE_DISABLE is clear; the policy requires it",
            ));
        }
        for (check, bit, allowed) in [
            ("pks", td::PKS, self.allow_pks),
            ("kl", td::KL, self.allow_kl),
            ("perfmon", td::PERFMON, self.allow_perfmon),
        ] {
            if a & bit != 0 && !allowed {
                out.push(Violation::new(
                    check,
                    format!(
                        "TDATTRIBUTES.{} is set; the policy does not allow it",
                        check.to_uppercase()
                    ),
                ));
            }
        }
        if let Some(b) = body.td15() {
            if b.mr_service_td != [0u8; 48] && !self.allow_service_td {
                out.push(Violation::new(
                    "service_td",
                    format!(
                        "MRSERVICETD {} is not zero; the policy does not allow a service TD",
                        hex::encode(b.mr_service_td)
                    ),
                ));
            }
        }
        one_of("mr_td", &t.mr_td, &self.mr_td, out);
        let [r0, r1, r2, r3] = &t.rtmr;
        one_of("rtmr0", r0, &self.rtmr0, out);
        one_of("rtmr1", r1, &self.rtmr1, out);
        one_of("rtmr2", r2, &self.rtmr2, out);
        one_of("rtmr3", r3, &self.rtmr3, out);
        one_of("mr_seam", &t.mr_seam, &self.mr_seam, out);
        exact(
            "mr_config_id",
            &t.mr_config_id,
            self.mr_config_id.as_ref(),
            48,
            out,
        );
        exact("mr_owner", &t.mr_owner, self.mr_owner.as_ref(), 48, out);
        exact(
            "mr_owner_config",
            &t.mr_owner_config,
            self.mr_owner_config.as_ref(),
            48,
            out,
        );
        exact(
            "report_data",
            &t.report_data,
            self.report_data.as_ref(),
            64,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_is_the_default() {
        assert_eq!(Policy::from_toml(""), Ok(Policy::default()));
        assert_eq!(
            Policy::default().accepted_statuses,
            vec![TcbStatus::UpToDate]
        );
    }

    #[test]
    fn statuses_use_intel_names_and_unknown_keys_fail() {
        let p = Policy::from_toml(
            "accepted_statuses = [\"UpToDate\", \"SWHardeningNeeded\"]\nrtmr0 = [\"00ff\"]",
        );
        assert_eq!(
            p.as_ref().map(|p| p.accepted_statuses.clone()).ok(),
            Some(vec![TcbStatus::UpToDate, TcbStatus::SWHardeningNeeded])
        );
        assert_eq!(
            p.map(|p| p.rtmr0).ok(),
            Some(vec![HexBytes(vec![0x00, 0xff])])
        );
        assert!(Policy::from_toml("accepted_statuses = [\"Fine\"]").is_err());
        assert!(Policy::from_toml("allow_everything = true").is_err());
        assert!(Policy::from_toml("mr_td = [\"zz\"]").is_err());
    }

    #[test]
    fn grace_is_inclusive() {
        assert!(within(UnixTime(100), 10, UnixTime(110)));
        assert!(!within(UnixTime(100), 10, UnixTime(111)));
        assert!(within(UnixTime(100), u64::MAX, UnixTime(i64::MAX)));
    }
}
