//! `/api/v1/nodes/{id}/telemetry`: nodes push batches; operators query them.

use std::time::Duration;

use edgesync_core::EdgeSync;
use edgesync_core::control::{Event, Sample, TelemetryQuery, TelemetrySeries};
use edgesync_core::model::{NodeId, Scope};
use edgesync_wire as w;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::auth::{ApiKeyAuth, NodeAuth};
use super::error::ApiResult;
use super::json::JsonBody;

/// Telemetry endpoints.
pub struct TelemetryApi {
    pub(crate) edgesync: EdgeSync,
}

#[OpenApi(prefix_path = "/api/v1/nodes", tag = "ApiTags::Telemetry")]
#[allow(clippy::too_many_arguments)]
impl TelemetryApi {
    /// Push telemetry
    ///
    /// A batch of samples and events from the node (at most 1000). Validated whole: one bad
    /// item rejects the batch and nothing is stored. Counts as a sign of life.
    #[oai(
        path = "/:id/telemetry",
        method = "post",
        operation_id = "push_telemetry"
    )]
    async fn push(
        &self,
        auth: NodeAuth,
        id: Path<Uuid>,
        body: JsonBody<w::TelemetryBatch>,
    ) -> ApiResult<Json<w::TelemetryAccepted>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let batch = body.0;
        let samples = batch
            .points
            .into_iter()
            .map(|p| Sample {
                metric: p.metric,
                value: p.value,
                labels: p.labels,
                ts: p.ts.into(),
            })
            .collect();
        let events = batch
            .events
            .into_iter()
            .map(|e| Event {
                kind: e.kind,
                level: e.level,
                message: e.message,
                labels: e.labels,
                ts: e.ts.into(),
            })
            .collect();
        let accepted = self
            .edgesync
            .ingest_telemetry(node, samples, events)
            .await?;
        Ok(Json(w::TelemetryAccepted {
            accepted: accepted as u64,
        }))
    }

    /// Query telemetry
    ///
    /// A node's samples in a time range, for one metric or all; with `step` (seconds) they are
    /// downsampled into buckets (count, avg, min, max). Events are metrics named `event.<kind>`.
    #[oai(
        path = "/:id/telemetry",
        method = "get",
        operation_id = "query_telemetry"
    )]
    async fn query(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        /// Only this metric.
        metric: Query<Option<String>>,
        /// From (RFC 3339; default: the retention horizon).
        since: Query<Option<OffsetDateTime>>,
        /// Until (RFC 3339, exclusive; default: now).
        until: Query<Option<OffsetDateTime>>,
        /// Bucket width in seconds (downsample).
        step: Query<Option<u64>>,
        /// Most raw samples (1–10000, default 10000).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<w::TelemetrySeries>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let series = self
            .edgesync
            .telemetry(
                NodeId::from_uuid(id.0),
                &TelemetryQuery {
                    metric: metric.0,
                    since: since.0.map(Into::into),
                    until: until.0.map(Into::into),
                    step: step.0.map(Duration::from_secs),
                    limit: limit.0.map(|l| l as usize),
                },
            )
            .await?;
        Ok(Json(match series {
            TelemetrySeries::Raw(points) => w::TelemetrySeries {
                points: Some(
                    points
                        .into_iter()
                        .map(|p| w::TelemetryPoint {
                            metric: p.metric,
                            value: p.value,
                            labels: p.labels,
                            ts: p.ts.into(),
                        })
                        .collect(),
                ),
                buckets: None,
            },
            TelemetrySeries::Downsampled(buckets) => w::TelemetrySeries {
                points: None,
                buckets: Some(
                    buckets
                        .into_iter()
                        .map(|b| w::TelemetryBucket {
                            metric: b.metric,
                            start: b.start.into(),
                            count: b.count,
                            avg: b.avg,
                            min: b.min,
                            max: b.max,
                        })
                        .collect(),
                ),
            },
        }))
    }
}
