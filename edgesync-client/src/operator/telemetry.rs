//! `GET /api/v1/nodes/{id}/telemetry`: what a node pushed, raw or downsampled.

use std::time::Duration;

use edgesync_wire::TelemetrySeries;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::request::Call;

/// Filters of [`Client::node_telemetry`]; the defaults ask for every metric over the
/// retention window, raw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelemetryFilter {
    /// Only this metric (events are metrics named `event.<kind>`).
    pub metric: Option<String>,
    /// From (default: the retention horizon).
    pub since: Option<OffsetDateTime>,
    /// Until, exclusive (default: now).
    pub until: Option<OffsetDateTime>,
    /// Downsample into buckets this wide (whole seconds).
    pub step: Option<Duration>,
    /// Most raw samples (1–10000, server default 10000).
    pub limit: Option<u32>,
}

impl Client {
    /// `GET /api/v1/nodes/{id}/telemetry`: a node's samples, in time order per metric.
    pub async fn node_telemetry(
        &self,
        node_id: Uuid,
        filter: &TelemetryFilter,
    ) -> Result<TelemetrySeries> {
        let call = Call::get(format!("/api/v1/nodes/{node_id}/telemetry"))
            .query_opt("metric", filter.metric.as_ref())
            .query_opt("since", filter.since.map(rfc3339).transpose()?)
            .query_opt("until", filter.until.map(rfc3339).transpose()?)
            .query_opt("step", filter.step.map(|s| s.as_secs()))
            .query_opt("limit", filter.limit);
        self.json(call).await
    }
}

fn rfc3339(t: OffsetDateTime) -> Result<String> {
    t.format(&Rfc3339)
        .map_err(|e| ClientError::InvalidArgument(format!("timestamp {t}: {e}")))
}
