//! Telemetry nodes push and operators query.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Labels;

/// One sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct TelemetrySample {
    /// Metric name: `[a-zA-Z_:][a-zA-Z0-9_:.]*`, at most 128 characters.
    pub metric: String,
    /// The value (finite).
    pub value: f64,
    /// Extra dimensions (label syntax, at most 16).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub labels: Labels,
    /// When it was measured (within the retention, at most 5 minutes ahead).
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct TelemetryEvent {
    /// What happened (metric-name syntax); stored as metric `event.<kind>`.
    pub kind: String,
    /// `debug`, `info`, `warn` or `error`.
    #[serde(default = "default_level")]
    #[cfg_attr(feature = "openapi", oai(default = "default_level"))]
    pub level: String,
    /// Human text (at most 512 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub message: String,
    /// Extra dimensions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub labels: Labels,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
}

/// Default event level.
pub fn default_level() -> String {
    "info".into()
}

/// `POST /api/v1/nodes/{id}/telemetry`: validated whole; stored all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    /// Samples (with events, at most 1000 per batch).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub points: Vec<TelemetrySample>,
    /// Events.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub events: Vec<TelemetryEvent>,
}

/// What an ingest stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TelemetryAccepted {
    /// Samples and events stored.
    pub accepted: u64,
}

/// A stored sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TelemetryPoint {
    /// Metric.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Labels.
    pub labels: Labels,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
}

/// A downsampled bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TelemetryBucket {
    /// Metric.
    pub metric: String,
    /// Start of the bucket.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Samples in it.
    pub count: u64,
    /// Mean.
    pub avg: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// `GET /api/v1/nodes/{id}/telemetry`: raw samples, or buckets when `step` is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TelemetrySeries {
    /// Samples in time order per metric (without `step`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub points: Option<Vec<TelemetryPoint>>,
    /// Buckets in time order per metric (with `step`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub buckets: Option<Vec<TelemetryBucket>>,
}
