//! The sync loop: plans served to nodes, their acknowledgements, history and statistics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ReportedState;

/// `GET /api/v1/nodes/{id}/sync`: what takes the node to its target. The revision is also the
/// response's `ETag`; send it back as `If-None-Match` to get `304 Not Modified` until it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncPlan {
    /// Acknowledge with this id. An empty plan has the nil UUID and needs no ack.
    pub plan_id: Uuid,
    /// The target revision the node reaches by applying every action.
    pub revision: String,
    /// What to do, in order: migrations, installs, the route table, removals.
    pub actions: Vec<SyncAction>,
}

/// One action of a plan; `kind` says which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Union))]
#[cfg_attr(
    feature = "openapi",
    oai(one_of, discriminator_name = "kind", rename_all = "snake_case")
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncAction {
    /// `apply_migration`: run a schema migration on the node's local database.
    ApplyMigration(ApplyMigrationAction),
    /// `install_function`: download, verify and install a function version.
    InstallFunction(InstallFunctionAction),
    /// `set_routes`: replace the node's whole route table.
    SetRoutes(SetRoutesAction),
    /// `remove_function`: stop running a function and drop it.
    RemoveFunction(RemoveFunctionAction),
}

impl SyncAction {
    /// The action's id within its plan.
    pub fn id(&self) -> u32 {
        match self {
            SyncAction::ApplyMigration(a) => a.id,
            SyncAction::InstallFunction(a) => a.id,
            SyncAction::SetRoutes(a) => a.id,
            SyncAction::RemoveFunction(a) => a.id,
        }
    }

    /// The kind, as on the wire.
    pub fn kind(&self) -> ActionKind {
        match self {
            SyncAction::ApplyMigration(_) => ActionKind::ApplyMigration,
            SyncAction::InstallFunction(_) => ActionKind::InstallFunction,
            SyncAction::SetRoutes(_) => ActionKind::SetRoutes,
            SyncAction::RemoveFunction(_) => ActionKind::RemoveFunction,
        }
    }
}

/// The kinds of plan action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Run a schema migration.
    ApplyMigration,
    /// Install a function version.
    InstallFunction,
    /// Replace the route table.
    SetRoutes,
    /// Drop a function.
    RemoveFunction,
}

/// Run a schema migration on the node's local database (ascending by version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApplyMigrationAction {
    /// Index within the plan; results refer to it.
    pub id: u32,
    /// Migration version.
    pub version: u64,
    /// Its name.
    pub name: String,
    /// The SQL to run.
    pub up_sql: String,
    /// The migration's checksum, for the node's ledger.
    pub checksum: String,
}

/// Download a function version, check its SHA-256 and install it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct InstallFunctionAction {
    /// Index within the plan; results refer to it.
    pub id: u32,
    /// The function.
    pub function_id: Uuid,
    /// Its name.
    pub name: String,
    /// The version to run.
    pub version: u32,
    /// The deployment that chose this version.
    pub deployment_id: Uuid,
    /// Signed, expiring URL of the binary.
    pub artifact_url: String,
    /// Lowercase hex SHA-256 the downloaded bytes must have.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Export to invoke.
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    /// Time limit per invocation in milliseconds.
    pub max_execution_ms: u32,
    /// Concurrent invocations per node.
    pub max_concurrency: u32,
}

/// Replace the node's whole route table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SetRoutesAction {
    /// Index within the plan; results refer to it.
    pub id: u32,
    /// Revision of the table (report it as `routes_revision`).
    pub revision: String,
    /// Every route the node serves.
    pub routes: Vec<RouteEntry>,
}

/// A route as a node serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RouteEntry {
    /// The route.
    pub route_id: Uuid,
    /// Host pattern; absent matches any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub host: Option<String>,
    /// Path pattern.
    pub path: String,
    /// Methods (empty: every method).
    pub methods: Vec<String>,
    /// The function serving it.
    pub function_id: Uuid,
    /// The version of the function the node runs.
    pub version: u32,
}

/// Stop running a function and drop it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RemoveFunctionAction {
    /// Index within the plan; results refer to it.
    pub id: u32,
    /// The function.
    pub function_id: Uuid,
}

/// How one action went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// It succeeded.
    Succeeded,
    /// It failed.
    Failed,
}

/// A node's result for one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct ActionResult {
    /// The action's `id` in the plan.
    pub action_id: u32,
    /// How it went.
    pub status: ActionStatus,
    /// Human-readable error text, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<String>,
    /// Machine-readable cause, when it failed (e.g. `sha256_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error_code: Option<String>,
}

/// `POST /api/v1/nodes/{id}/sync/ack`: the results of a plan, one per action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct SyncAckRequest {
    /// The plan's id.
    pub plan_id: Uuid,
    /// One result per action of the plan.
    pub results: Vec<ActionResult>,
    /// What the node runs now; derived from the plan and the results when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub state: Option<ReportedState>,
}

/// Where a sync is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Handed out, not acknowledged yet.
    Pending,
    /// Every action succeeded.
    Succeeded,
    /// Some actions failed; the next plan retries them.
    Partial,
    /// Every action failed.
    Failed,
    /// Replaced by a newer plan before it was acknowledged.
    Superseded,
}

/// The answer to an ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncAckResponse {
    /// The history entry (equal to the plan id).
    pub sync_id: Uuid,
    /// `succeeded`, `partial` or `failed`.
    pub status: SyncStatus,
    /// The node's target revision now.
    pub revision: String,
    /// The revision the node reached: the plan's when every action succeeded, absent otherwise.
    /// Send this (not `revision`) as `If-None-Match` on the next poll, so that failed actions are
    /// planned again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub reached_revision: Option<String>,
    /// False when this ack repeated one already applied (nothing changed).
    pub applied: bool,
}

/// One action of a recorded sync and, once acknowledged, its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncRecordAction {
    /// Index within the plan.
    pub id: u32,
    /// What kind of action.
    pub kind: ActionKind,
    /// A short description (`hello@2`, `migration 3 (users)`, …).
    pub subject: String,
    /// How it went; absent until acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub status: Option<ActionStatus>,
    /// The node's error text, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<String>,
    /// The node's error code, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error_code: Option<String>,
}

/// One plan handed to a node and what came of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncRecordInfo {
    /// Id (equal to the plan id; time-ordered).
    pub id: Uuid,
    /// The plan.
    pub plan_id: Uuid,
    /// The target revision the plan leads to.
    pub revision: String,
    /// Where the sync is.
    pub status: SyncStatus,
    /// When the plan was handed out.
    #[serde(with = "time::serde::rfc3339")]
    pub planned_at: OffsetDateTime,
    /// When the ack arrived.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub acked_at: Option<OffsetDateTime>,
    /// Plan to ack, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub duration_ms: Option<u64>,
    /// The plan's actions with their results.
    pub actions: Vec<SyncRecordAction>,
}

/// A page of a node's sync history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncHistory {
    /// Syncs, newest first.
    pub items: Vec<SyncRecordInfo>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub next: Option<Uuid>,
}

/// Percentiles of sync durations, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DurationPercentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

/// Statistics over the syncs acknowledged in a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SyncStats {
    /// Start of the window.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// Syncs acknowledged in the window.
    pub total: u64,
    /// Those where every action succeeded.
    pub succeeded: u64,
    /// Those where some actions failed.
    pub partial: u64,
    /// Those where every action failed.
    pub failed: u64,
    /// Plans handed out in the window and not acknowledged yet.
    pub pending: u64,
    /// `succeeded / total` (1.0 when there were none).
    pub success_rate: f64,
    /// Failed actions by the error code nodes reported (`unknown` when they gave none).
    pub failures_by_code: BTreeMap<String, u64>,
    /// Plan-to-ack durations.
    pub duration_ms: DurationPercentiles,
}
