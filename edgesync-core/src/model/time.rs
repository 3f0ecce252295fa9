//! Timestamps: UTC instants that serialize as RFC 3339.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A UTC instant with nanosecond precision, serialized as RFC 3339.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// The latest instant that still formats as RFC 3339 (9999-12-31T23:59:59Z).
    pub const MAX: Timestamp = Timestamp(time::macros::datetime!(9999-12-31 23:59:59 UTC));

    /// The current system time. Core code asks a [`crate::Clock`] instead.
    pub fn now_utc() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// From Unix milliseconds (saturating outside the representable range).
    pub fn from_unix_millis(millis: i64) -> Self {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map(Self)
            .unwrap_or(if millis < 0 {
                Self::UNIX_EPOCH
            } else {
                Self::MAX
            })
    }

    /// Unix milliseconds.
    pub fn unix_millis(&self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Unix nanoseconds.
    pub fn unix_nanos(&self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// From Unix nanoseconds, if representable.
    pub fn from_unix_nanos(nanos: i128) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .map(Self)
    }

    /// This instant plus a duration (saturating).
    pub fn plus(&self, duration: Duration) -> Self {
        self.0
            .checked_add(time::Duration::try_from(duration).unwrap_or(time::Duration::MAX))
            .map(Self)
            .unwrap_or(*self)
    }

    /// This instant minus a duration (saturating).
    pub fn minus(&self, duration: Duration) -> Self {
        self.0
            .checked_sub(time::Duration::try_from(duration).unwrap_or(time::Duration::MAX))
            .map(Self)
            .unwrap_or(Self::UNIX_EPOCH)
    }

    /// How long after `earlier` this instant is; zero when it is not after it.
    pub fn since(&self, earlier: Timestamp) -> Duration {
        Duration::try_from(self.0 - earlier.0).unwrap_or(Duration::ZERO)
    }

    /// The `time` value underneath.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses RFC 3339.
    pub fn parse_rfc3339(s: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(s, &Rfc3339).map(|t| Self(t.to_offset(time::UtcOffset::UTC)))
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t.to_offset(time::UtcOffset::UTC))
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        time::serde::rfc3339::deserialize(deserializer).map(Self::from)
    }
}
