//! TCB Info (v2 and v3) and QE Identity (v2): the JSON documents Intel's PCS signs with the
//! TCB Signing key. These types are decoded from the bytes whose signature was verified (see
//! [`crate::collateral::SignedJson`]), never from a re-serialisation.
//!
//! TCB Info v2 (SGX only) has no `id` and flat `sgxtcbcompNNsvn` fields; v3 has `id` ("SGX" or
//! "TDX"), `sgxtcbcomponents` arrays and, for TDX, `tdxtcbcomponents`, `tdxModule` and
//! `tdxModuleIdentities`.

use serde::{Deserialize, Serialize};
use shomei_core::UnixTime;

use crate::error::Error;
use crate::quote::Tee;
use crate::status::TcbStatus;

fn bad(what: &'static str, detail: impl Into<String>) -> Error {
    Error::collateral(what, detail)
}

fn hex_array<const N: usize>(what: &'static str, field: &str, s: &str) -> Result<[u8; N], Error> {
    let v = hex::decode(s).map_err(|e| bad(what, format!("{field}: {e}")))?;
    <[u8; N]>::try_from(v.as_slice())
        .map_err(|_| bad(what, format!("{field} is {} bytes, expected {N}", v.len())))
}

fn time(what: &'static str, field: &str, s: &str) -> Result<UnixTime, Error> {
    // Intel's dates are RFC 3339 UTC ("2025-06-19T10:56:11Z").
    if !s.contains('T') {
        return Err(bad(
            what,
            format!("{field} {s:?} is not an RFC 3339 date-time"),
        ));
    }
    s.parse()
        .map_err(|_| bad(what, format!("{field} {s:?} is not an RFC 3339 date-time")))
}

fn status(what: &'static str, s: &str) -> Result<TcbStatus, Error> {
    s.parse().map_err(|e| bad(what, format!("{e}")))
}

/// One TCB level of the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcbLevel {
    /// SGX TCB component SVNs 1–16.
    pub sgx_components: [u8; 16],
    pub pce_svn: u16,
    /// TDX TCB component SVNs (TCB Info v3 with id TDX).
    pub tdx_components: Option<[u8; 16]>,
    #[serde(serialize_with = "crate::claims::ser_time")]
    pub tcb_date: UnixTime,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// A TDX module's expected signer and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxModule {
    pub mrsigner: [u8; 48],
    pub attributes: [u8; 8],
    pub attributes_mask: [u8; 8],
}

/// A TCB level of a TDX module identity (`tcb.isvsvn` against TEE_TCB_SVN\[0\]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleTcbLevel {
    pub isv_svn: u16,
    pub tcb_date: UnixTime,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// A TDX module identity (`TDX_01`, `TDX_03`, …: the module major version in hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxModuleIdentity {
    pub id: String,
    pub module: TdxModule,
    pub tcb_levels: Vec<ModuleTcbLevel>,
}

/// TCB Info, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbInfo {
    pub version: u32,
    /// `id` (v3); `None` for v2, which describes SGX platforms only.
    pub id: Option<Tee>,
    pub issue_date: UnixTime,
    pub next_update: UnixTime,
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    pub tcb_type: u32,
    pub tcb_evaluation_data_number: u32,
    pub tdx_module: Option<TdxModule>,
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
    /// In Intel's canonical order: SGX components descending (lexicographic), then PCESVN,
    /// then TDX components — the order Intel's QVL matches levels in.
    pub tcb_levels: Vec<TcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTcbInfo {
    id: Option<String>,
    version: u32,
    issue_date: String,
    next_update: String,
    fmspc: String,
    pce_id: String,
    tcb_type: u32,
    tcb_evaluation_data_number: u32,
    tdx_module: Option<RawTdxModule>,
    tdx_module_identities: Option<Vec<RawTdxModuleIdentity>>,
    tcb_levels: Vec<RawTcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTdxModule {
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTdxModuleIdentity {
    id: String,
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
    tcb_levels: Vec<RawIsvLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIsvLevel {
    tcb: RawIsvTcb,
    tcb_date: String,
    tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawIsvTcb {
    isvsvn: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTcbLevel {
    tcb: RawTcb,
    tcb_date: String,
    tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    svn: u8,
}

/// The `tcb` object of a level: v3 arrays or v2 flat fields.
#[derive(Deserialize)]
struct RawTcb {
    sgxtcbcomponents: Option<Vec<RawComponent>>,
    tdxtcbcomponents: Option<Vec<RawComponent>>,
    pcesvn: u16,
    sgxtcbcomp01svn: Option<u8>,
    sgxtcbcomp02svn: Option<u8>,
    sgxtcbcomp03svn: Option<u8>,
    sgxtcbcomp04svn: Option<u8>,
    sgxtcbcomp05svn: Option<u8>,
    sgxtcbcomp06svn: Option<u8>,
    sgxtcbcomp07svn: Option<u8>,
    sgxtcbcomp08svn: Option<u8>,
    sgxtcbcomp09svn: Option<u8>,
    sgxtcbcomp10svn: Option<u8>,
    sgxtcbcomp11svn: Option<u8>,
    sgxtcbcomp12svn: Option<u8>,
    sgxtcbcomp13svn: Option<u8>,
    sgxtcbcomp14svn: Option<u8>,
    sgxtcbcomp15svn: Option<u8>,
    sgxtcbcomp16svn: Option<u8>,
}

const TI: &str = "TCB Info";

fn sixteen(field: &str, v: &[RawComponent]) -> Result<[u8; 16], Error> {
    let svns: Vec<u8> = v.iter().map(|c| c.svn).collect();
    <[u8; 16]>::try_from(svns.as_slice())
        .map_err(|_| bad(TI, format!("{field} has {} entries, expected 16", v.len())))
}

impl RawTcb {
    fn flat(&self) -> [Option<u8>; 16] {
        [
            self.sgxtcbcomp01svn,
            self.sgxtcbcomp02svn,
            self.sgxtcbcomp03svn,
            self.sgxtcbcomp04svn,
            self.sgxtcbcomp05svn,
            self.sgxtcbcomp06svn,
            self.sgxtcbcomp07svn,
            self.sgxtcbcomp08svn,
            self.sgxtcbcomp09svn,
            self.sgxtcbcomp10svn,
            self.sgxtcbcomp11svn,
            self.sgxtcbcomp12svn,
            self.sgxtcbcomp13svn,
            self.sgxtcbcomp14svn,
            self.sgxtcbcomp15svn,
            self.sgxtcbcomp16svn,
        ]
    }

    fn sgx(&self, version: u32) -> Result<[u8; 16], Error> {
        let flat = self.flat();
        match version {
            2 => {
                if self.sgxtcbcomponents.is_some() {
                    return Err(bad(TI, "v2 level with sgxtcbcomponents"));
                }
                let mut out = [0u8; 16];
                for (i, (o, v)) in out.iter_mut().zip(flat).enumerate() {
                    *o = v.ok_or_else(|| {
                        bad(
                            TI,
                            format!("sgxtcbcomp{:02}svn is missing", i.saturating_add(1)),
                        )
                    })?;
                }
                Ok(out)
            }
            _ => {
                if flat.iter().any(Option::is_some) {
                    return Err(bad(TI, "v3 level with v2 sgxtcbcompNNsvn fields"));
                }
                let c = self
                    .sgxtcbcomponents
                    .as_deref()
                    .ok_or_else(|| bad(TI, "sgxtcbcomponents is missing"))?;
                sixteen("sgxtcbcomponents", c)
            }
        }
    }
}

fn module(raw: &RawTdxModule) -> Result<TdxModule, Error> {
    Ok(TdxModule {
        mrsigner: hex_array(TI, "tdxModule.mrsigner", &raw.mrsigner)?,
        attributes: hex_array(TI, "tdxModule.attributes", &raw.attributes)?,
        attributes_mask: hex_array(TI, "tdxModule.attributesMask", &raw.attributes_mask)?,
    })
}

/// Sorts levels the way Intel's QVL stores them (a set ordered by `TcbLevel::operator>`).
fn canonical_order(levels: &mut [TcbLevel]) {
    levels.sort_by(|a, b| {
        b.sgx_components
            .cmp(&a.sgx_components)
            .then(b.pce_svn.cmp(&a.pce_svn))
            .then(b.tdx_components.cmp(&a.tdx_components))
    });
}

impl TcbInfo {
    /// Decodes the `tcbInfo` JSON object.
    pub fn from_json(raw: &[u8]) -> Result<Self, Error> {
        let r: RawTcbInfo = serde_json::from_slice(raw).map_err(|e| bad(TI, e.to_string()))?;
        let id = match (r.version, r.id.as_deref()) {
            (2, None | Some("SGX")) => None,
            (3, Some("SGX")) => Some(Tee::Sgx),
            (3, Some("TDX")) => Some(Tee::Tdx),
            (2 | 3, other) => {
                return Err(bad(
                    TI,
                    format!("unknown id {other:?} for version {}", r.version),
                ));
            }
            (v, _) => return Err(bad(TI, format!("unsupported version {v}"))),
        };
        if r.tcb_type != 0 {
            return Err(bad(TI, format!("unsupported tcbType {}", r.tcb_type)));
        }
        let tdx = id == Some(Tee::Tdx);
        let mut tcb_levels = Vec::with_capacity(r.tcb_levels.len());
        for l in &r.tcb_levels {
            let tdx_components = match (&l.tcb.tdxtcbcomponents, tdx) {
                (Some(c), true) => Some(sixteen("tdxtcbcomponents", c)?),
                (None, true) => return Err(bad(TI, "TDX level without tdxtcbcomponents")),
                (_, false) => None,
            };
            tcb_levels.push(TcbLevel {
                sgx_components: l.tcb.sgx(r.version)?,
                pce_svn: l.tcb.pcesvn,
                tdx_components,
                tcb_date: time(TI, "tcbDate", &l.tcb_date)?,
                status: status(TI, &l.tcb_status)?,
                advisory_ids: l.advisory_ids.clone(),
            });
        }
        if tcb_levels.is_empty() {
            return Err(bad(TI, "no TCB levels"));
        }
        canonical_order(&mut tcb_levels);
        let tdx_module = r.tdx_module.as_ref().map(module).transpose()?;
        let mut tdx_module_identities = Vec::new();
        for m in r.tdx_module_identities.iter().flatten() {
            let mut levels = Vec::with_capacity(m.tcb_levels.len());
            for l in &m.tcb_levels {
                levels.push(ModuleTcbLevel {
                    isv_svn: l.tcb.isvsvn,
                    tcb_date: time(TI, "tcbDate", &l.tcb_date)?,
                    status: status(TI, &l.tcb_status)?,
                    advisory_ids: l.advisory_ids.clone(),
                });
            }
            levels.sort_by_key(|l| core::cmp::Reverse(l.isv_svn));
            tdx_module_identities.push(TdxModuleIdentity {
                id: m.id.clone(),
                module: module(&RawTdxModule {
                    mrsigner: m.mrsigner.clone(),
                    attributes: m.attributes.clone(),
                    attributes_mask: m.attributes_mask.clone(),
                })?,
                tcb_levels: levels,
            });
        }
        Ok(Self {
            version: r.version,
            id,
            issue_date: time(TI, "issueDate", &r.issue_date)?,
            next_update: time(TI, "nextUpdate", &r.next_update)?,
            fmspc: hex_array(TI, "fmspc", &r.fmspc)?,
            pce_id: hex_array(TI, "pceId", &r.pce_id)?,
            tcb_type: r.tcb_type,
            tcb_evaluation_data_number: r.tcb_evaluation_data_number,
            tdx_module,
            tdx_module_identities,
            tcb_levels,
        })
    }

    /// The TEE this TCB Info describes (v2: SGX).
    pub fn tee(&self) -> Tee {
        self.id.unwrap_or(Tee::Sgx)
    }
}

/// Which enclave a QE Identity describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EnclaveId {
    /// The SGX quoting enclave (`QE`).
    Qe,
    /// The TD quoting enclave (`TD_QE`).
    TdQe,
    /// The quote verification enclave (`QVE`).
    Qve,
}

impl core::fmt::Display for EnclaveId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Qe => "QE",
            Self::TdQe => "TD_QE",
            Self::Qve => "QVE",
        })
    }
}

/// A QE Identity TCB level (`tcb.isvsvn` against the QE report's ISVSVN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeTcbLevel {
    pub isv_svn: u16,
    pub tcb_date: UnixTime,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// QE Identity v2, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeIdentity {
    pub id: EnclaveId,
    pub version: u32,
    pub issue_date: UnixTime,
    pub next_update: UnixTime,
    pub tcb_evaluation_data_number: u32,
    /// In report byte order.
    pub miscselect: [u8; 4],
    pub miscselect_mask: [u8; 4],
    pub attributes: [u8; 16],
    pub attributes_mask: [u8; 16],
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    /// Sorted by ISVSVN, highest first.
    pub tcb_levels: Vec<QeTcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQeIdentity {
    id: String,
    version: u32,
    issue_date: String,
    next_update: String,
    tcb_evaluation_data_number: u32,
    miscselect: String,
    miscselect_mask: String,
    attributes: String,
    attributes_mask: String,
    mrsigner: String,
    isvprodid: u16,
    tcb_levels: Vec<RawIsvLevel>,
}

const QI: &str = "QE Identity";

impl QeIdentity {
    /// Decodes the `enclaveIdentity` JSON object (version 2).
    pub fn from_json(raw: &[u8]) -> Result<Self, Error> {
        let r: RawQeIdentity = serde_json::from_slice(raw).map_err(|e| bad(QI, e.to_string()))?;
        if r.version != 2 {
            return Err(bad(QI, format!("unsupported version {}", r.version)));
        }
        let id = match r.id.as_str() {
            "QE" => EnclaveId::Qe,
            "TD_QE" => EnclaveId::TdQe,
            "QVE" => EnclaveId::Qve,
            other => return Err(bad(QI, format!("unknown id {other:?}"))),
        };
        let mut tcb_levels = Vec::with_capacity(r.tcb_levels.len());
        for l in &r.tcb_levels {
            tcb_levels.push(QeTcbLevel {
                isv_svn: l.tcb.isvsvn,
                tcb_date: time(QI, "tcbDate", &l.tcb_date)?,
                status: status(QI, &l.tcb_status)?,
                advisory_ids: l.advisory_ids.clone(),
            });
        }
        tcb_levels.sort_by_key(|l| core::cmp::Reverse(l.isv_svn));
        Ok(Self {
            id,
            version: r.version,
            issue_date: time(QI, "issueDate", &r.issue_date)?,
            next_update: time(QI, "nextUpdate", &r.next_update)?,
            tcb_evaluation_data_number: r.tcb_evaluation_data_number,
            miscselect: hex_array(QI, "miscselect", &r.miscselect)?,
            miscselect_mask: hex_array(QI, "miscselectMask", &r.miscselect_mask)?,
            attributes: hex_array(QI, "attributes", &r.attributes)?,
            attributes_mask: hex_array(QI, "attributesMask", &r.attributes_mask)?,
            mrsigner: hex_array(QI, "mrsigner", &r.mrsigner)?,
            isv_prod_id: r.isvprodid,
            tcb_levels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_LEVEL: &str = r#"{"tcb":{"sgxtcbcomp01svn":1,"sgxtcbcomp02svn":2,"sgxtcbcomp03svn":0,"sgxtcbcomp04svn":0,"sgxtcbcomp05svn":0,"sgxtcbcomp06svn":0,"sgxtcbcomp07svn":0,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":9,"pcesvn":3},"tcbDate":"2019-09-01T00:00:00Z","tcbStatus":"UpToDate"}"#;

    fn v2(levels: &str) -> String {
        format!(
            r#"{{"version":2,"issueDate":"2019-09-05T07:47:07Z","nextUpdate":"2029-09-05T07:47:07Z","fmspc":"00707F000000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":3,"tcbLevels":[{levels}]}}"#
        )
    }

    #[test]
    fn v2_flat_components_decode() {
        let t = TcbInfo::from_json(v2(V2_LEVEL).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.version, 2);
        assert_eq!(t.id, None);
        assert_eq!(t.tee(), Tee::Sgx);
        assert_eq!(t.fmspc, [0x00, 0x70, 0x7f, 0, 0, 0]);
        let l = t.tcb_levels.first().cloned();
        assert_eq!(
            l.map(|l| (l.sgx_components, l.pce_svn, l.status)),
            Some((
                [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
                3,
                TcbStatus::UpToDate
            ))
        );
    }

    #[test]
    fn v2_missing_component_or_unknown_status_is_an_error() {
        let missing = V2_LEVEL.replace(r#""sgxtcbcomp16svn":9,"#, "");
        assert!(TcbInfo::from_json(v2(&missing).as_bytes()).is_err());
        let unknown = V2_LEVEL.replace("UpToDate", "Fine");
        assert!(TcbInfo::from_json(v2(&unknown).as_bytes()).is_err());
        assert!(TcbInfo::from_json(v2("").as_bytes()).is_err());
    }

    #[test]
    fn levels_are_put_in_canonical_order() {
        let low = V2_LEVEL.replace(r#""sgxtcbcomp01svn":1"#, r#""sgxtcbcomp01svn":0"#);
        let high_pce = V2_LEVEL.replace(r#""pcesvn":3"#, r#""pcesvn":4"#);
        let t = TcbInfo::from_json(v2(&format!("{low},{V2_LEVEL},{high_pce}")).as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<(u8, u16)> = t
            .tcb_levels
            .iter()
            .map(|l| (l.sgx_components[0], l.pce_svn))
            .collect();
        assert_eq!(order, vec![(1, 4), (1, 3), (0, 3)]);
    }
}
