//! The sync loop: nodes poll `/api/v1/nodes/{id}/sync` for the plan that takes them to their
//! target and acknowledge it; operators read the history and statistics.

use std::sync::Arc;

use poem::web::Data;

use crate::metrics::{Metrics, SyncAnswer};
use std::time::Duration;

use edgesync_core::control::{MAX_WAIT, SyncStatsQuery};
use edgesync_core::model::{NodeId, Scope, SyncRecordId};
use edgesync_core::{EdgeSync, Error};
use edgesync_wire as w;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::{ApiKeyAuth, NodeAuth};
use super::convert;
use super::error::ApiResult;
use super::json::JsonBody;

/// Sync endpoints.
pub struct SyncApi {
    pub(crate) edgesync: EdgeSync,
}

/// A plan, or "nothing changed".
#[derive(ApiResponse)]
pub enum PlanResponse {
    /// The plan from what the node reports to its target (possibly empty).
    #[oai(status = 200)]
    Plan(
        Json<w::SyncPlan>,
        /// The target revision, quoted; send it back as `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// The node's target is still the revision it sent in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(
        /// The target revision, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Whether an `If-None-Match` value names `revision`. Entity tags may be quoted or bare (and
/// weak); a list matches when any of its tags does.
fn names_revision(if_none_match: &str, revision: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == revision)
}

fn etag(revision: &str) -> String {
    format!("\"{revision}\"")
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Sync")]
impl SyncApi {
    /// Get the node's sync plan
    ///
    /// The ordered actions that take the node from what it reports to its target: migrations,
    /// installs (with signed artifact URLs), the route table, removals. The response's `ETag`
    /// is the target revision. With `If-None-Match: "<revision>"` naming the current target,
    /// answers `304 Not Modified` from memory; with `wait` as well, holds the request up to that
    /// many seconds (at most 60) until the target changes. Asking again before acknowledging
    /// returns the same plan. Needs the node's own token.
    #[oai(
        path = "/nodes/:id/sync",
        method = "get",
        operation_id = "get_sync_plan"
    )]
    async fn plan(
        &self,
        auth: NodeAuth,
        id: Path<Uuid>,
        /// Long poll: seconds to wait for a change when `If-None-Match` is current (0–60).
        wait: Query<Option<u64>>,
        /// The revision the node has (the `ETag` of its last plan), quoted or bare.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        metrics: Data<&Arc<Metrics>>,
    ) -> ApiResult<PlanResponse> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let wait = Duration::from_secs(wait.0.unwrap_or(0));
        if wait > MAX_WAIT {
            return Err(Error::invalid(format!(
                "wait must be between 0 and {} seconds",
                MAX_WAIT.as_secs()
            ))
            .into());
        }
        if let Some(known) = if_none_match.0 {
            let mut current = self.edgesync.sync_revision(node)?;
            if names_revision(&known, &current) && !wait.is_zero() {
                current = self
                    .edgesync
                    .wait_for_revision_change(node, &current, wait)
                    .await?;
            }
            if names_revision(&known, &current) {
                metrics.sync_plan(SyncAnswer::NotModified);
                return Ok(PlanResponse::NotModified(etag(&current)));
            }
        }
        let plan = self.edgesync.sync_plan(node).await?;
        metrics.sync_plan(if plan.actions.is_empty() {
            SyncAnswer::Empty
        } else {
            SyncAnswer::Plan
        });
        Ok(PlanResponse::Plan(
            Json(convert::sync_plan(&plan)?),
            etag(&plan.revision),
        ))
    }

    /// Acknowledge a sync plan
    ///
    /// One result per action of the plan. Applied atomically: the history entry, the node's
    /// state and its per-deployment states change together. Repeating the same ack answers
    /// `applied: false`; different results for an acknowledged plan are 409
    /// `plan_already_acked`. Needs the node's own token.
    #[oai(
        path = "/nodes/:id/sync/ack",
        method = "post",
        operation_id = "ack_sync_plan"
    )]
    async fn ack(
        &self,
        auth: NodeAuth,
        id: Path<Uuid>,
        body: JsonBody<w::SyncAckRequest>,
        metrics: Data<&Arc<Metrics>>,
    ) -> ApiResult<Json<w::SyncAckResponse>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let outcome = self
            .edgesync
            .ack_plan(node, convert::ack_from_wire(body.0))
            .await?;
        if outcome.applied {
            metrics.sync_ack(outcome.status.as_str());
        }
        Ok(Json(convert::ack_outcome(&outcome)))
    }

    /// A node's sync history
    ///
    /// Every plan handed to the node and what came of it, newest first, a page at a time.
    #[oai(
        path = "/nodes/:id/sync/history",
        method = "get",
        operation_id = "node_sync_history"
    )]
    async fn history(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        /// Resume after this sync id (`next` of the previous page).
        after: Query<Option<Uuid>>,
        /// Page size, 1–1000 (default 50).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<w::SyncHistory>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let (items, next) = self
            .edgesync
            .sync_history(
                NodeId::from_uuid(id.0),
                after.0.map(SyncRecordId::from_uuid),
                limit.0.unwrap_or(50) as usize,
            )
            .await?;
        Ok(Json(w::SyncHistory {
            items: items.iter().map(convert::sync_record).collect(),
            next: next.map(convert::uuid_of),
        }))
    }

    /// Sync statistics
    ///
    /// Success rate, failures by the code nodes reported, and plan-to-ack durations over the
    /// syncs acknowledged in the last `window_s` seconds, fleet-wide or for one node.
    #[oai(path = "/sync/stats", method = "get", operation_id = "sync_stats")]
    async fn stats(
        &self,
        auth: ApiKeyAuth,
        /// Window in seconds, up to 30 days (default 3600).
        window_s: Query<Option<u64>>,
        /// Only this node.
        node_id: Query<Option<Uuid>>,
    ) -> ApiResult<Json<w::SyncStats>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let stats = self
            .edgesync
            .sync_stats(&SyncStatsQuery {
                window: Duration::from_secs(window_s.0.unwrap_or(3600)),
                node_id: node_id.0.map(NodeId::from_uuid),
            })
            .await?;
        Ok(Json(convert::sync_stats(&stats)))
    }
}
