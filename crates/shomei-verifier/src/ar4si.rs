//! The AR4SI trustworthiness vector (draft-ietf-rats-ar4si): eight claims, each an `i8` whose
//! range is its tier — `-1..=1` and `99` none, `2..=31` affirming, `32..=95` warning, `96..=127`
//! contraindicated — and the reason shomei attaches to every non-affirming value.
//!
//! The value constants are AR4SI's (the same as Veraison's `ear` crate).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One trustworthiness claim (its JSON name is AR4SI's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TrustClaim {
    #[serde(rename = "instance-identity")]
    InstanceIdentity,
    #[serde(rename = "configuration")]
    Configuration,
    #[serde(rename = "executables")]
    Executables,
    #[serde(rename = "file-system")]
    FileSystem,
    #[serde(rename = "hardware")]
    Hardware,
    #[serde(rename = "runtime-opaque")]
    RuntimeOpaque,
    #[serde(rename = "storage-opaque")]
    StorageOpaque,
    #[serde(rename = "sourced-data")]
    SourcedData,
}

impl TrustClaim {
    pub const ALL: [TrustClaim; 8] = [
        Self::InstanceIdentity,
        Self::Configuration,
        Self::Executables,
        Self::FileSystem,
        Self::Hardware,
        Self::RuntimeOpaque,
        Self::StorageOpaque,
        Self::SourcedData,
    ];

    /// AR4SI's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::InstanceIdentity => "instance-identity",
            Self::Configuration => "configuration",
            Self::Executables => "executables",
            Self::FileSystem => "file-system",
            Self::Hardware => "hardware",
            Self::RuntimeOpaque => "runtime-opaque",
            Self::StorageOpaque => "storage-opaque",
            Self::SourcedData => "sourced-data",
        }
    }
}

impl core::fmt::Display for TrustClaim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// AR4SI's claim values (section 2.3 of draft-ietf-rats-ar4si).
pub mod value {
    /// Common to every claim.
    pub const VERIFIER_MALFUNCTION: i8 = -1;
    pub const NO_CLAIM: i8 = 0;
    pub const UNEXPECTED_EVIDENCE: i8 = 1;
    pub const CRYPTO_VALIDATION_FAILED: i8 = 99;
    // instance-identity
    pub const TRUSTWORTHY_INSTANCE: i8 = 2;
    pub const UNTRUSTWORTHY_INSTANCE: i8 = 96;
    pub const UNRECOGNIZED_INSTANCE: i8 = 97;
    // configuration
    pub const APPROVED_CONFIG: i8 = 2;
    pub const NO_CONFIG_VULNS: i8 = 3;
    pub const UNSAFE_CONFIG: i8 = 32;
    pub const UNAVAIL_CONFIG_ELEMS: i8 = 36;
    pub const UNSUPPORTABLE_CONFIG: i8 = 96;
    // executables
    pub const APPROVED_RUNTIME: i8 = 2;
    pub const APPROVED_BOOT: i8 = 3;
    pub const UNSAFE_RUNTIME: i8 = 32;
    pub const UNRECOGNIZED_RUNTIME: i8 = 33;
    pub const CONTRAINDICATED_RUNTIME: i8 = 96;
    // file-system
    pub const APPROVED_FILES: i8 = 2;
    pub const UNRECOGNIZED_FILES: i8 = 32;
    pub const CONTRAINDICATED_FILES: i8 = 96;
    // hardware
    pub const GENUINE_HARDWARE: i8 = 2;
    pub const UNSAFE_HARDWARE: i8 = 32;
    pub const CONTRAINDICATED_HARDWARE: i8 = 96;
    pub const UNRECOGNIZED_HARDWARE: i8 = 97;
    // runtime-opaque
    pub const ENCRYPTED_MEMORY_RUNTIME: i8 = 2;
    pub const ISOLATED_MEMORY_RUNTIME: i8 = 32;
    pub const VISIBLE_MEMORY_RUNTIME: i8 = 96;
    // storage-opaque
    pub const HW_KEYS_ENCRYPTED_SECRETS: i8 = 2;
    pub const SW_KEYS_ENCRYPTED_SECRETS: i8 = 32;
    pub const UNENCRYPTED_SECRETS: i8 = 96;
    // sourced-data
    pub const TRUSTED_SOURCES: i8 = 2;
    pub const UNTRUSTED_SOURCES: i8 = 32;
    pub const CONTRAINDICATED_SOURCES: i8 = 96;
}

/// The tier of a claim value, or an appraisal's overall status (`ear.status`). Ordered from the
/// least to the most severe; the JSON form is AR4SI's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    None,
    Affirming,
    Warning,
    Contraindicated,
}

impl Tier {
    /// The tier of a claim value.
    pub fn of(value: i8) -> Tier {
        match value {
            2..=31 => Tier::Affirming,
            32..=95 => Tier::Warning,
            96..=98 | 100..=127 => Tier::Contraindicated,
            _ => Tier::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::None => "none",
            Tier::Affirming => "affirming",
            Tier::Warning => "warning",
            Tier::Contraindicated => "contraindicated",
        }
    }
}

impl core::fmt::Display for Tier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The trustworthiness vector: a value per claim; an absent claim is `0` (no claim) and is
/// omitted from the JSON form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustVector(BTreeMap<TrustClaim, i8>);

impl TrustVector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, claim: TrustClaim) -> i8 {
        self.0.get(&claim).copied().unwrap_or(value::NO_CLAIM)
    }

    /// Sets a claim (`0` removes it).
    pub fn set(&mut self, claim: TrustClaim, v: i8) {
        if v == value::NO_CLAIM {
            self.0.remove(&claim);
        } else {
            self.0.insert(claim, v);
        }
    }

    /// Sets a claim unless it already holds a value of a more severe tier (the worse finding
    /// wins; among equals, the later one).
    pub fn lower(&mut self, claim: TrustClaim, v: i8) {
        if Tier::of(v) >= Tier::of(self.get(claim)) {
            self.set(claim, v);
        }
    }

    /// The claims that are set, in AR4SI order.
    pub fn iter(&self) -> impl Iterator<Item = (TrustClaim, i8)> + '_ {
        self.0.iter().map(|(c, v)| (*c, *v))
    }

    /// The worst tier among the claims that are set (`None` when none is).
    pub fn worst(&self) -> Tier {
        self.0
            .values()
            .map(|v| Tier::of(*v))
            .max()
            .unwrap_or(Tier::None)
    }
}

/// Why a claim is not affirming: which claim, its value, and the failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub claim: TrustClaim,
    pub value: i8,
    /// What found it: verification of the evidence, the appraisal policy, or the nonce binding.
    pub source: ReasonSource,
    /// The stable check name (the family's `Rejection::check()` or `Violation::check`).
    pub check: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonSource {
    Verification,
    Policy,
    Nonce,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_ar4si_ranges() {
        assert_eq!(Tier::of(0), Tier::None);
        assert_eq!(Tier::of(-1), Tier::None);
        assert_eq!(Tier::of(1), Tier::None);
        assert_eq!(Tier::of(99), Tier::None);
        assert_eq!(Tier::of(2), Tier::Affirming);
        assert_eq!(Tier::of(31), Tier::Affirming);
        assert_eq!(Tier::of(32), Tier::Warning);
        assert_eq!(Tier::of(95), Tier::Warning);
        assert_eq!(Tier::of(96), Tier::Contraindicated);
        assert_eq!(Tier::of(127), Tier::Contraindicated);
        assert_eq!(Tier::of(-128), Tier::None);
    }

    #[test]
    fn the_vector_serialises_with_ar4si_names_and_keeps_the_worse_value() {
        let mut v = TrustVector::new();
        v.set(TrustClaim::InstanceIdentity, value::TRUSTWORTHY_INSTANCE);
        v.set(TrustClaim::RuntimeOpaque, value::ENCRYPTED_MEMORY_RUNTIME);
        v.lower(TrustClaim::RuntimeOpaque, value::VISIBLE_MEMORY_RUNTIME);
        v.lower(TrustClaim::RuntimeOpaque, value::ISOLATED_MEMORY_RUNTIME);
        assert_eq!(v.get(TrustClaim::RuntimeOpaque), 96);
        assert_eq!(v.worst(), Tier::Contraindicated);
        let j = serde_json::to_string(&v).unwrap_or_default();
        assert_eq!(j, r#"{"instance-identity":2,"runtime-opaque":96}"#);
        let back: TrustVector = serde_json::from_str(&j).unwrap_or_default();
        assert_eq!(back, v);
    }
}
