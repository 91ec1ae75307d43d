//! The verification time. Verification never reads the clock: callers pass a [`UnixTime`].

use core::fmt;
use core::str::FromStr;

/// Seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {0:?}: expected RFC 3339 (2025-06-01T00:00:00Z) or unix seconds")]
pub struct TimeParseError(pub String);

impl UnixTime {
    pub const fn from_secs(s: i64) -> Self {
        Self(s)
    }

    pub const fn secs(self) -> i64 {
        self.0
    }

    /// Reads the system clock. Only for callers at the edge (the CLI, the server), never inside
    /// verification.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(secs)
    }

    /// RFC 3339 rendering (UTC), or the raw number when out of range.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl FromStr for UnixTime {
    type Err = TimeParseError;

    /// Accepts RFC 3339 (`2025-06-01T00:00:00Z`), a plain date (`2025-06-01`, midnight UTC) or
    /// unix seconds (`1748736000`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(secs) = t.parse::<i64>() {
            return Ok(UnixTime(secs));
        }
        if let Ok(dt) =
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        {
            return Ok(UnixTime(dt.unix_timestamp()));
        }
        let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(d) = time::Date::parse(t, &date_fmt) {
            return Ok(UnixTime(d.midnight().assume_utc().unix_timestamp()));
        }
        Err(TimeParseError(s.to_owned()))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_date_and_seconds() {
        assert_eq!(
            "1751328000".parse::<UnixTime>().ok(),
            Some(UnixTime(1751328000))
        );
        assert_eq!(
            "2025-07-01T00:00:00Z".parse::<UnixTime>().ok(),
            Some(UnixTime(1751328000))
        );
        assert_eq!(
            "2025-07-01T02:00:00+02:00".parse::<UnixTime>().ok(),
            Some(UnixTime(1751328000))
        );
        assert_eq!(
            "2025-07-01".parse::<UnixTime>().ok(),
            Some(UnixTime(1751328000))
        );
        assert!("yesterday".parse::<UnixTime>().is_err());
        assert!("".parse::<UnixTime>().is_err());
        assert_eq!(UnixTime(1751328000).to_rfc3339(), "2025-07-01T00:00:00Z");
    }
}
