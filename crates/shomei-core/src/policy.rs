//! Vocabulary shared by the appraisal policies of every evidence family: reference values written
//! as hex in policy files, and the violation a policy reports for each failed check.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Hex bytes in a policy file (upper or lower case, optional `0x`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexBytes(pub Vec<u8>);

impl TryFrom<String> for HexBytes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::hexfmt::decode(&s)
            .map(Self)
            .map_err(|e| format!("{s:?}: {e}"))
    }
}

impl From<HexBytes> for String {
    fn from(v: HexBytes) -> String {
        hex::encode(v.0)
    }
}

/// One failed policy check: a stable name and a human explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub check: String,
    pub detail: String,
}

impl Violation {
    pub fn new(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

/// An allowlist check: `got` must be one of `allowed` (an empty list allows anything).
pub fn one_of(check: &str, got: &[u8], allowed: &[HexBytes], out: &mut Vec<Violation>) {
    if !allowed.is_empty() && !allowed.iter().any(|a| a.0 == got) {
        out.push(Violation::new(
            check,
            format!(
                "{} is not among the {} accepted value(s)",
                hex::encode(got),
                allowed.len()
            ),
        ));
    }
}
