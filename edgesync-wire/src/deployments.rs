//! Deployments: "run version N of function F on the nodes this selector picks", and where each
//! node is with it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// `POST /api/v1/deployments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentRequest {
    /// The function.
    pub function_id: Uuid,
    /// The version to run; it must be ready.
    pub version: u32,
    /// Which nodes: a Kubernetes label selector (`tier=edge,region in (eu,us)`); empty (the
    /// default) selects every node.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub selector: String,
    /// Human-friendly name (optional, at most 128 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub name: String,
    /// Only nodes of this POP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub pop: Option<String>,
    /// Where deployments of the same function overlap on a node, the highest priority wins, then
    /// the newest (−1,000,000 to 1,000,000; default 0).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub priority: i32,
    /// Deploy even a version whose compatibility check found breaking changes (otherwise 409
    /// `breaking_version`, listing them).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub allow_breaking: bool,
    /// How to roll it out (default: every node at once).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub strategy: RolloutStrategy,
}

/// The kinds of rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Every matching node at once.
    #[default]
    All,
    /// Batch after batch, each gated on the previous one's health.
    Batches,
    /// A small first batch, then everything else.
    Canary,
}

/// How a rollout proceeds; every field is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RolloutStrategy {
    /// `all` (default), `batches` or `canary`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub kind: StrategyKind,
    /// Nodes per batch (the canary's size for `canary`, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub batch_size: Option<u32>,
    /// Percent of the targeted nodes per batch (1–100), when no `batch_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub batch_percent: Option<u32>,
    /// `name` (default), `pop` or `label:<key>`; with `pop` or a label and no batch size, each
    /// distinct value is one batch (POP by POP, region by region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub order_by: Option<String>,
    /// Failed ÷ executed above this halts the rollout (0.0–1.0; default 1.0: never).
    #[serde(default = "default_max_failure_ratio")]
    #[cfg_attr(feature = "openapi", oai(default = "default_max_failure_ratio"))]
    pub max_failure_ratio: f64,
    /// The breaker only trips after this many nodes executed (default 1).
    #[serde(default = "default_min_executed")]
    #[cfg_attr(feature = "openapi", oai(default = "default_min_executed"))]
    pub min_executed: u32,
    /// Nodes of a batch not active after this long count as failed (default 600).
    #[serde(default = "default_batch_timeout_s")]
    #[cfg_attr(feature = "openapi", oai(default = "default_batch_timeout_s"))]
    pub batch_timeout_s: u64,
    /// Wait this long after a healthy batch before the next (default 0).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub bake_s: u64,
    /// At most this many nodes released per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub max_per_minute: Option<u32>,
    /// On a breach, every changed node goes back to what it ran before (default false: halt).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub auto_rollback: bool,
    /// A failed node is retried this many times, then left as it was (default 3).
    #[serde(default = "default_max_retries")]
    #[cfg_attr(feature = "openapi", oai(default = "default_max_retries"))]
    pub max_retries: u32,
}

impl Default for RolloutStrategy {
    fn default() -> Self {
        Self {
            kind: StrategyKind::All,
            batch_size: None,
            batch_percent: None,
            order_by: None,
            max_failure_ratio: default_max_failure_ratio(),
            min_executed: default_min_executed(),
            batch_timeout_s: default_batch_timeout_s(),
            bake_s: 0,
            max_per_minute: None,
            auto_rollback: false,
            max_retries: default_max_retries(),
        }
    }
}

/// Default breaker threshold (never trips).
pub fn default_max_failure_ratio() -> f64 {
    1.0
}
/// Default breaker minimum.
pub fn default_min_executed() -> u32 {
    1
}
/// Default batch timeout.
pub fn default_batch_timeout_s() -> u64 {
    600
}
/// Default retries per node.
pub fn default_max_retries() -> u32 {
    3
}

/// Progress of a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RolloutProgress {
    /// Batches planned.
    pub batches: u32,
    /// Batches released.
    pub released: u32,
    /// Nodes per batch.
    pub batch_sizes: Vec<u32>,
    /// Nodes given up on (failed past their retries or timed out).
    pub excluded: u32,
}

/// Lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Rolling out.
    InProgress,
    /// Paused by an operator: released nodes keep it, no new batch.
    Paused,
    /// The breaker tripped: released nodes keep it, no new batch.
    Halted,
    /// Every batch released and healthy.
    Completed,
    /// The breaker tripped and every changed node went back to what it ran before.
    RolledBack,
    /// Stopped by an operator: nodes drop the function unless another deployment keeps it.
    Aborted,
}

/// Where one node is with a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum NodeDeploymentState {
    /// Targeted; the node has not picked it up yet.
    Pending,
    /// The node received a plan that installs it.
    Installing,
    /// The node runs it.
    Active,
    /// The node failed to install it.
    Failed,
    /// The node no longer runs it (deployment stopped, superseded, or node left the selector).
    Removed,
    /// The rollout was rolled back and the node went back to what it ran before.
    RolledBack,
}

/// How many nodes are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentCounts {
    /// Nodes the deployment concerns now (every state but `removed`).
    pub targeted: u64,
    /// Nodes that have not picked it up yet.
    pub pending: u64,
    /// Nodes installing it.
    pub installing: u64,
    /// Nodes running it.
    pub active: u64,
    /// Nodes that failed to install it.
    pub failed: u64,
    /// Nodes that ran it and no longer do.
    pub removed: u64,
    /// Nodes the rollback returned to what they ran before.
    pub rolled_back: u64,
}

/// One node's state in a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentNode {
    /// The node.
    pub node_id: Uuid,
    /// Its name.
    pub node_name: String,
    /// Where it is.
    pub state: NodeDeploymentState,
    /// The node's error text, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<String>,
    /// The node's error code, when it failed (`sha256_mismatch`, `timeout`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error_code: Option<String>,
    /// Install attempts so far.
    pub attempts: u32,
    /// The rollout batch it is in (0-based), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub batch: Option<u32>,
    /// The node's last sign of life: a node whose heartbeats stopped shows an old value here,
    /// not a healthy state.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub observed_at: Option<OffsetDateTime>,
    /// When the state last changed; absent while the node has reported nothing.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub updated_at: Option<OffsetDateTime>,
}

/// A deployment with per-state node counts (the list view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentSummary {
    /// Id.
    pub id: Uuid,
    /// Human-friendly name (may be empty).
    pub name: String,
    /// The function.
    pub function_id: Uuid,
    /// The version it runs.
    pub version: u32,
    /// The label selector, in canonical form (empty: every node).
    pub selector: String,
    /// The POP it is restricted to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub pop: Option<String>,
    /// Priority among overlapping deployments of the same function.
    pub priority: i32,
    /// Where it is; `completed` once every targeted node runs it.
    pub status: DeploymentStatus,
    /// Why it stopped, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub status_reason: Option<String>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Nodes per state.
    pub counts: DeploymentCounts,
    /// Failed nodes by error code (`{"sha256_mismatch": 12, "timeout": 3}`).
    pub failure_reasons: std::collections::BTreeMap<String, u64>,
    /// The rollout strategy.
    pub strategy: RolloutStrategy,
    /// How far the rollout got.
    pub rollout: RolloutProgress,
}

/// A deployment with every node it concerns (the detail view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentInfo {
    /// The deployment and its counts.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", oai(flatten))]
    pub deployment: DeploymentSummary,
    /// The nodes it targets now and the nodes it targeted before, by name.
    pub nodes: Vec<DeploymentNode>,
}

/// Every deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentList {
    /// The deployments, newest first.
    pub items: Vec<DeploymentSummary>,
}

/// One node in a deployment preview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PreviewNode {
    /// The node.
    pub node_id: Uuid,
    /// Its name.
    pub node_name: String,
    /// Whether the new deployment would win the function on this node.
    pub wins: bool,
    /// The deployment that wins instead, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub winner: Option<Uuid>,
    /// The live deployments of the function that select the node, best first (the new one
    /// included): the overlap explanation.
    pub competing: Vec<Uuid>,
    /// Its rollout batch (0-based), when it wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub batch: Option<u32>,
    /// The kinds of the actions it would get, in order (`apply_migration`, …).
    pub plan: Vec<String>,
    /// A digest of that plan; the real plan later carries the same `plan_hash`.
    pub plan_hash: String,
}

/// `POST /api/v1/deployments?dry_run=true`: what the deployment would do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentPreview {
    /// Every node the selector matches.
    pub nodes: Vec<PreviewNode>,
    /// Node ids per batch, in release order.
    pub batches: Vec<Vec<Uuid>>,
}
