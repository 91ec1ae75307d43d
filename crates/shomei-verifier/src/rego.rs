//! Custom appraisal rules in Rego (OPA's policy language), evaluated with regorus, after the
//! family's native policy.
//!
//! A policy is one Rego module in `package shomei`. It sees:
//! - `input.family` (`"snp"`, `"dcap"`, …), `input.claims` (the appraised claims, the same JSON
//!   as the EAR's `ear.veraison.annotated-evidence`), `input.trust_vector` (the vector after the
//!   native policy) and `input.status`;
//! - `data.reference_values`: the reference values registered for the family (an object of
//!   name → array of values).
//!
//! and may define:
//! - `violations`: a set (or array) of objects `{"check": …, "detail": …, "claim": …}` — or
//!   plain strings, taken as the check — each of which lowers its AR4SI claim (default
//!   `executables`) with a reason;
//! - `allow`: a boolean; when it is defined, not `true`, and no violation explains why, the
//!   reason is `rego_deny`.
//!
//! Only verified evidence is given to the policy (there are no claims to judge otherwise).
//! regorus is built without its `time` and `http` built-ins, so a policy can read neither the
//! clock nor the network: the appraisal stays a function of its inputs.

use std::collections::BTreeMap;

use regorus::{Engine, Value};
use serde::Deserialize;
use shomei_core::policy::Violation;

use crate::ar4si::{TrustClaim, value};

/// A compiled Rego policy.
#[derive(Clone)]
pub struct RegoPolicy {
    engine: Engine,
    has_allow: bool,
    has_violations: bool,
}

impl core::fmt::Debug for RegoPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RegoPolicy")
            .field("has_allow", &self.has_allow)
            .field("has_violations", &self.has_violations)
            .finish_non_exhaustive()
    }
}

/// A Rego policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rego policy: {0}")]
pub struct RegoError(pub String);

/// One finding of a Rego policy: the claim it lowers, the value, the check and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoFinding {
    pub claim: TrustClaim,
    pub value: i8,
    pub violation: Violation,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawViolation {
    Check(String),
    Full {
        check: String,
        #[serde(default)]
        detail: String,
        #[serde(default)]
        claim: Option<String>,
    },
}

/// The value a Rego finding gives its claim: that claim's "warning" value in AR4SI.
fn claim_value(claim: TrustClaim) -> i8 {
    match claim {
        TrustClaim::InstanceIdentity => value::UNRECOGNIZED_INSTANCE,
        TrustClaim::Configuration => value::UNSAFE_CONFIG,
        TrustClaim::Executables => value::UNRECOGNIZED_RUNTIME,
        TrustClaim::FileSystem => value::UNRECOGNIZED_FILES,
        TrustClaim::Hardware => value::UNSAFE_HARDWARE,
        TrustClaim::RuntimeOpaque => value::ISOLATED_MEMORY_RUNTIME,
        TrustClaim::StorageOpaque => value::SW_KEYS_ENCRYPTED_SECRETS,
        TrustClaim::SourcedData => value::UNTRUSTED_SOURCES,
    }
}

fn claim_named(name: &str) -> Option<TrustClaim> {
    TrustClaim::ALL.into_iter().find(|c| c.name() == name)
}

const MAX_SOURCE: usize = 1 << 20;

fn err(e: impl core::fmt::Display) -> RegoError {
    RegoError(e.to_string())
}

impl RegoPolicy {
    /// Parses and checks a policy: it must be `package shomei` and define `allow` or
    /// `violations`.
    pub fn compile(source: &str) -> Result<Self, RegoError> {
        if source.len() > MAX_SOURCE {
            return Err(RegoError("longer than 1 MiB".into()));
        }
        let mut engine = Engine::new();
        let package = engine
            .add_policy("policy.rego".into(), source.into())
            .map_err(|e| RegoError(e.to_string()))?;
        if package != "data.shomei" {
            return Err(RegoError(format!(
                "the policy's package is {package:?}; it must be `package shomei`"
            )));
        }
        let has = |engine: &mut Engine, rule: &str| -> Result<bool, RegoError> {
            engine
                .has_declared_rule_rooted_at("policy.rego", rule)
                .map_err(|e| RegoError(e.to_string()))
        };
        let has_allow = has(&mut engine, "allow")?;
        let has_violations = has(&mut engine, "violations")?;
        if !has_allow && !has_violations {
            return Err(RegoError(
                "the policy defines neither `allow` nor `violations`".into(),
            ));
        }
        Ok(Self {
            engine,
            has_allow,
            has_violations,
        })
    }

    /// Evaluates the policy. A policy that fails at run time yields a `rego_error` finding
    /// (the appraisal cannot affirm), never a panic.
    pub fn evaluate(
        &self,
        input: &serde_json::Value,
        reference_values: &BTreeMap<String, Vec<serde_json::Value>>,
    ) -> Vec<RegoFinding> {
        match self.try_evaluate(input, reference_values) {
            Ok(f) => f,
            Err(e) => vec![RegoFinding {
                claim: TrustClaim::Configuration,
                value: value::UNSAFE_CONFIG,
                violation: Violation::new("rego_error", e.0),
            }],
        }
    }

    fn try_evaluate(
        &self,
        input: &serde_json::Value,
        reference_values: &BTreeMap<String, Vec<serde_json::Value>>,
    ) -> Result<Vec<RegoFinding>, RegoError> {
        let mut engine = self.engine.clone();
        engine.set_input(Value::from_json_str(&input.to_string()).map_err(err)?);
        let data = serde_json::json!({ "reference_values": reference_values });
        engine
            .add_data(Value::from_json_str(&data.to_string()).map_err(err)?)
            .map_err(err)?;
        let mut findings = Vec::new();
        if self.has_violations {
            let v = engine
                .eval_rule("data.shomei.violations".into())
                .map_err(err)?;
            if v != Value::Undefined {
                let json: serde_json::Value = serde_json::from_str(&v.to_json_str().map_err(err)?)
                    .map_err(|e| RegoError(e.to_string()))?;
                let items = match json {
                    serde_json::Value::Array(a) => a,
                    other => {
                        return Err(RegoError(format!(
                            "`violations` must be a set or an array, not {other}"
                        )));
                    }
                };
                for item in items {
                    let raw: RawViolation = serde_json::from_value(item.clone()).map_err(|_| {
                        RegoError(format!(
                            "a violation must be a string or {{\"check\", \"detail\", \"claim\"}}, not {item}"
                        ))
                    })?;
                    let (check, detail, claim) = match raw {
                        RawViolation::Check(c) => {
                            (c, "reported by the Rego policy".to_owned(), None)
                        }
                        RawViolation::Full {
                            check,
                            detail,
                            claim,
                        } => {
                            let detail = if detail.is_empty() {
                                "reported by the Rego policy".to_owned()
                            } else {
                                detail
                            };
                            (check, detail, claim)
                        }
                    };
                    let claim = match claim {
                        None => TrustClaim::Executables,
                        Some(n) => claim_named(&n).ok_or_else(|| {
                            RegoError(format!("violation {check:?}: unknown AR4SI claim {n:?}"))
                        })?,
                    };
                    findings.push(RegoFinding {
                        claim,
                        value: claim_value(claim),
                        violation: Violation::new(format!("rego.{check}"), detail),
                    });
                }
            }
        }
        if self.has_allow && findings.is_empty() {
            let allow = engine.eval_rule("data.shomei.allow".into()).map_err(err)?;
            if allow != Value::from(true) {
                findings.push(RegoFinding {
                    claim: TrustClaim::Executables,
                    value: value::UNRECOGNIZED_RUNTIME,
                    violation: Violation::new("rego_deny", "the Rego policy's `allow` is not true"),
                });
            }
        }
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn input(measurement: &str) -> serde_json::Value {
        serde_json::json!({"family": "snp", "claims": {"report": {"measurement": measurement, "vmpl": 0}}})
    }

    #[test]
    fn allow_and_violations() {
        let p = RegoPolicy::compile(
            r#"package shomei
import rego.v1
default allow := false
allow if input.claims.report.measurement in data.reference_values.measurement
violations contains {"check": "vmpl", "detail": "VMPL must be 0", "claim": "configuration"} if input.claims.report.vmpl != 0
"#,
        )
        .unwrap();
        let mut rv = BTreeMap::new();
        rv.insert("measurement".to_owned(), vec![serde_json::json!("aa")]);
        assert!(p.evaluate(&input("aa"), &rv).is_empty());
        let f = p.evaluate(&input("bb"), &rv);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].violation.check, "rego_deny");
        let mut i = input("aa");
        i["claims"]["report"]["vmpl"] = serde_json::json!(1);
        let f = p.evaluate(&i, &rv);
        assert_eq!(f[0].violation.check, "rego.vmpl");
        assert_eq!(f[0].claim, TrustClaim::Configuration);
        assert_eq!(f[0].value, value::UNSAFE_CONFIG);
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(RegoPolicy::compile("package other\nallow := true").is_err());
        assert!(RegoPolicy::compile("package shomei\nx := 1").is_err());
        assert!(RegoPolicy::compile("package shomei\nallow := ").is_err());
        // No clock, no network: the built-ins do not exist (refused at compile or at run time).
        for src in [
            "package shomei\nimport rego.v1\nallow if time.now_ns() > 0",
            "package shomei\nimport rego.v1\nallow if http.send({\"method\": \"get\", \"url\": \"http://x\"})",
        ] {
            if let Ok(p) = RegoPolicy::compile(src) {
                let f = p.evaluate(&input("aa"), &BTreeMap::new());
                assert_eq!(f.len(), 1, "{src}");
                assert!(f[0].violation.check.starts_with("rego"), "{f:?}");
            }
        }
    }

    #[test]
    fn run_time_errors_are_findings() {
        let p = RegoPolicy::compile(
            "package shomei\nimport rego.v1\nviolations contains x if { x := 1 / 0 }",
        )
        .unwrap();
        let f = p.evaluate(&input("aa"), &BTreeMap::new());
        assert_eq!(f.len(), 1);
        assert!(f[0].violation.check.starts_with("rego"), "{f:?}");
        let p =
            RegoPolicy::compile("package shomei\nimport rego.v1\nviolations contains 5 if true")
                .unwrap();
        let f = p.evaluate(&input("aa"), &BTreeMap::new());
        assert_eq!(f[0].violation.check, "rego_error");
    }
}
