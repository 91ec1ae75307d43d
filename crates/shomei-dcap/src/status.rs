//! Intel's TCB statuses and how the statuses of the platform, the TDX module and the QE
//! converge into one (Intel QVL `convergeTcbStatusWithQeTcbStatus` /
//! `convergeTcbStatusWithTdxModuleStatus`, and TD 1.5's `checkForRelaunch`).

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// A TCB status, with Intel's names (as in TCB Info, QE Identity and `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    UpToDate,
    SWHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
    /// TD 1.5: the TD runs on an out-of-date TDX module, but the module now loaded is current:
    /// relaunching the TD would make it up to date.
    TDRelaunchAdvised,
    /// [`TcbStatus::TDRelaunchAdvised`], and the platform also needs configuration.
    TDRelaunchAdvisedConfigurationNeeded,
}

impl TcbStatus {
    pub const ALL: [TcbStatus; 9] = [
        Self::UpToDate,
        Self::SWHardeningNeeded,
        Self::ConfigurationNeeded,
        Self::ConfigurationAndSWHardeningNeeded,
        Self::OutOfDate,
        Self::OutOfDateConfigurationNeeded,
        Self::Revoked,
        Self::TDRelaunchAdvised,
        Self::TDRelaunchAdvisedConfigurationNeeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
            Self::TDRelaunchAdvised => "TDRelaunchAdvised",
            Self::TDRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
        }
    }

    /// OutOfDate or OutOfDateConfigurationNeeded.
    pub fn is_out_of_date(self) -> bool {
        matches!(self, Self::OutOfDate | Self::OutOfDateConfigurationNeeded)
    }

    /// Any status that says the platform needs configuration.
    pub fn needs_configuration(self) -> bool {
        matches!(
            self,
            Self::ConfigurationNeeded
                | Self::ConfigurationAndSWHardeningNeeded
                | Self::OutOfDateConfigurationNeeded
                | Self::TDRelaunchAdvisedConfigurationNeeded
        )
    }

    /// The platform status after taking a component (QE or TDX module) status into account: a
    /// revoked component revokes; an out-of-date component makes an otherwise current platform
    /// out of date (keeping "configuration needed"); any other component status leaves the
    /// platform status as it is.
    pub fn converge(self, component: TcbStatus) -> TcbStatus {
        use TcbStatus::*;
        match (component, self) {
            (Revoked, _) => Revoked,
            (OutOfDate | OutOfDateConfigurationNeeded, UpToDate | SWHardeningNeeded) => OutOfDate,
            (
                OutOfDate | OutOfDateConfigurationNeeded,
                ConfigurationNeeded | ConfigurationAndSWHardeningNeeded,
            ) => OutOfDateConfigurationNeeded,
            _ => self,
        }
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TCB status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for TcbStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::TcbStatus::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in TcbStatus::ALL {
            assert_eq!(s.as_str().parse::<TcbStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).ok(),
                Some(format!("\"{}\"", s.as_str()))
            );
        }
        assert!("uptodate".parse::<TcbStatus>().is_err());
    }

    #[test]
    fn convergence_follows_intel() {
        // Intel QVL: a component's OutOfDate keeps the platform's configuration requirement.
        assert_eq!(
            ConfigurationNeeded.converge(OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(
            ConfigurationAndSWHardeningNeeded.converge(OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(UpToDate.converge(OutOfDate), OutOfDate);
        assert_eq!(SWHardeningNeeded.converge(OutOfDate), OutOfDate);
        assert_eq!(OutOfDate.converge(UpToDate), OutOfDate);
        assert_eq!(UpToDate.converge(Revoked), Revoked);
        assert_eq!(ConfigurationNeeded.converge(UpToDate), ConfigurationNeeded);
        assert_eq!(Revoked.converge(UpToDate), Revoked);
        // A component's SWHardeningNeeded does not change the platform status.
        assert_eq!(UpToDate.converge(SWHardeningNeeded), UpToDate);
    }
}
