//! The records the store keeps. Times are unix seconds, given by the caller.

use std::fmt;

use crate::Error;

/// A reference value: an expected measurement or claim value for one evidence family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceValue {
    /// Unique across families (1 to [`crate::MAX_ID_LEN`] bytes).
    pub id: String,
    /// The evidence family (`snp`, `tdx`, `sgx`, `tpm`, …).
    pub family: String,
    /// What the value is for (`measurement`, `pcr7`, …).
    pub name: String,
    /// The value, as JSON text (checked to be JSON when stored; kept byte for byte).
    pub value: String,
    pub created_at: i64,
}

impl ReferenceValue {
    pub(crate) fn from_row(
        (id, family, name, value, created_at): (String, String, String, String, i64),
    ) -> Self {
        ReferenceValue {
            id,
            family,
            name,
            value,
            created_at,
        }
    }
}

/// Which policy engine reads a policy's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// The built-in policy of the family (its TOML options).
    Native,
    /// A Rego policy.
    Rego,
}

impl PolicyKind {
    /// The stored name: `native` or `rego`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Native => "native",
            PolicyKind::Rego => "rego",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "native" => Ok(PolicyKind::Native),
            "rego" => Ok(PolicyKind::Rego),
            other => Err(Error::InvalidInput {
                op: "policy_kind",
                field: "kind",
                reason: format!("{other:?}, expected \"native\" or \"rego\""),
            }),
        }
    }
}

/// An appraisal policy for one evidence family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub family: String,
    pub kind: PolicyKind,
    /// The policy text (TOML for native policies, Rego source for Rego).
    pub body: String,
    pub updated_at: i64,
}

impl Policy {
    pub(crate) fn from_row(
        op: &'static str,
        (id, family, kind, body, updated_at): (String, String, String, String, i64),
    ) -> Result<Self, Error> {
        let kind = kind.parse().map_err(|_| Error::Corrupt {
            op,
            what: "policy",
            detail: format!("{id:?} has kind {kind:?}"),
        })?;
        Ok(Policy {
            id,
            family,
            kind,
            body,
            updated_at,
        })
    }
}

/// A trust anchor (a root certificate an operator names explicitly), as PEM text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchor {
    pub id: String,
    pub family: String,
    pub pem: String,
}

impl TrustAnchor {
    pub(crate) fn from_row((id, family, pem): (String, String, String)) -> Self {
        TrustAnchor { id, family, pem }
    }
}

/// An audit record to append.
#[derive(Clone, Copy, Debug)]
pub struct AuditEntry<'a> {
    pub at: i64,
    /// Who: a token's subject, a client address, `system`.
    pub actor: &'a str,
    /// What: `appraise`, `release_secret`, `put_policy`, …
    pub action: &'a str,
    /// On what: a secret id, a policy id, an evidence digest.
    pub subject: &'a str,
    /// `affirming`, `contraindicated`, `released`, `denied`, `error`, …
    pub outcome: &'a str,
    /// Details, as JSON text (checked to be JSON).
    pub detail: &'a str,
}

/// An audit record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing, never reused.
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub outcome: String,
    pub detail: String,
}

impl AuditRecord {
    pub(crate) fn from_row(
        (id, at, actor, action, subject, outcome, detail): (
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
        ),
    ) -> Self {
        AuditRecord {
            id,
            at,
            actor,
            action,
            subject,
            outcome,
            detail,
        }
    }
}
