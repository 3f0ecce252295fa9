//! Deployments: "run version N of function F on the nodes this selector picks".

use serde::{Deserialize, Serialize};

use super::ids::{DeploymentId, FunctionId, NodeId};
use super::time::Timestamp;
use crate::selector::Selector;

/// A deployment of one function version to the nodes a selector picks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Identity.
    pub id: DeploymentId,
    /// Human-friendly name (may be empty).
    pub name: String,
    /// The function.
    pub function_id: FunctionId,
    /// The version to run.
    pub version: u32,
    /// Which nodes (Kubernetes label-selector syntax over node labels).
    pub selector: Selector,
    /// Restricts the deployment to one POP, when set.
    pub pop: Option<String>,
    /// Among live deployments of the same function matching a node, the highest priority wins,
    /// then the newest.
    pub priority: i32,
    /// How the rollout proceeds.
    pub strategy: Strategy,
    /// Where the deployment is in its lifecycle.
    pub status: DeploymentStatus,
    /// Why it stopped, when it did.
    pub status_reason: Option<String>,
    /// Batch plan and progress (for every strategy; `all` is one batch).
    #[serde(default)]
    pub rollout: Rollout,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its status last changed.
    pub updated_at: Timestamp,
}

impl Deployment {
    /// Whether the deployment takes part in computing nodes' targets.
    pub fn is_live(&self) -> bool {
        self.status.is_live()
    }

    /// Whether the deployment may target `node` yet: `all` admits every node it selects;
    /// batched rollouts only the nodes of released batches (and every node once completed);
    /// nodes that failed past their retries are never admitted again.
    pub fn admits(&self, node: NodeId) -> bool {
        if self.rollout.excluded.contains(&node) {
            return false;
        }
        self.strategy.kind == StrategyKind::All
            || self.status == DeploymentStatus::Completed
            || self.rollout.released_nodes().any(|n| *n == node)
    }
}

/// How a rollout proceeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Strategy {
    /// The kind of rollout.
    pub kind: StrategyKind,
    /// Nodes per batch (`batches`; the canary's size for `canary`).
    pub batch_size: Option<u32>,
    /// Percent of the targeted nodes per batch (1–100), when no `batch_size`.
    pub batch_percent: Option<u32>,
    /// Order of nodes into batches: `name` (default), `pop`, or `label:<key>`. With `pop` or a
    /// label and no batch size, each distinct value is one batch (POP by POP, region by region).
    pub order_by: Option<String>,
    /// Failed ÷ executed above this trips the breaker (0.0–1.0; 1.0 never trips).
    pub max_failure_ratio: f64,
    /// The breaker only trips after this many nodes executed (active or failed).
    pub min_executed: u32,
    /// A batch's nodes that are not active after this long count as failed (timed out).
    pub batch_timeout_s: u64,
    /// After a healthy batch, wait this long before releasing the next.
    pub bake_s: u64,
    /// At most this many nodes released per minute.
    pub max_per_minute: Option<u32>,
    /// When the breaker trips, every node that changed goes back to what it ran before.
    pub auto_rollback: bool,
    /// A failed node is retried this many times, then left on what it ran before.
    pub max_retries: u32,
}

impl Default for Strategy {
    fn default() -> Self {
        Self {
            kind: StrategyKind::All,
            batch_size: None,
            batch_percent: None,
            order_by: None,
            max_failure_ratio: 1.0,
            min_executed: 1,
            batch_timeout_s: 600,
            bake_s: 0,
            max_per_minute: None,
            auto_rollback: false,
            max_retries: 3,
        }
    }
}

impl Strategy {
    /// Checks every field.
    pub fn validate(&self) -> crate::Result<()> {
        use super::validate::range;
        if !(0.0..=1.0).contains(&self.max_failure_ratio) {
            return Err(crate::Error::invalid(
                "max_failure_ratio must be between 0.0 and 1.0",
            ));
        }
        if let Some(n) = self.batch_size {
            range("batch_size", n, 1, 1_000_000)?;
        }
        if let Some(p) = self.batch_percent {
            range("batch_percent", p, 1, 100)?;
        }
        if let Some(n) = self.max_per_minute {
            range("max_per_minute", n, 1, 1_000_000)?;
        }
        range("batch_timeout_s", self.batch_timeout_s, 1, 7 * 86_400)?;
        range("bake_s", self.bake_s, 0, 7 * 86_400)?;
        range("max_retries", self.max_retries, 0, 100)?;
        if let Some(o) = &self.order_by
            && o != "name"
            && o != "pop"
            && o.strip_prefix("label:")
                .is_none_or(|k| crate::selector::validate_label_key(k).is_err())
        {
            return Err(crate::Error::invalid(
                "order_by must be name, pop or label:<key>",
            ));
        }
        Ok(())
    }
}

/// The kinds of rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// Where a rollout is: its frozen batch plan and progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rollout {
    /// The nodes of each batch, in release order (frozen when the deployment is created).
    pub batches: Vec<Vec<NodeId>>,
    /// How many batches are released.
    pub released: u32,
    /// When the last batch was released.
    pub batch_started_at: Option<Timestamp>,
    /// When the last released batch became healthy (bake time runs from here).
    pub batch_healthy_at: Option<Timestamp>,
    /// Nodes that failed past their retries: left on what they ran before.
    pub excluded: Vec<NodeId>,
}

impl Rollout {
    /// Every node released so far.
    pub fn released_nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.batches.iter().take(self.released as usize).flatten()
    }
}

/// The lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Rolling out.
    InProgress,
    /// Paused by an operator: released nodes keep it, no new batch is released.
    Paused,
    /// The breaker tripped without automatic rollback: released nodes keep it, nothing more.
    Halted,
    /// Every batch released and healthy.
    Completed,
    /// The breaker tripped and every changed node went back to what it ran before.
    RolledBack,
    /// Stopped by an operator: nodes drop it (unless another deployment keeps the function).
    Aborted,
}

impl DeploymentStatus {
    /// Whether a deployment in this status targets nodes.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            DeploymentStatus::InProgress
                | DeploymentStatus::Paused
                | DeploymentStatus::Halted
                | DeploymentStatus::Completed
        )
    }

    /// Whether nothing will change it any more (except an operator's abort).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Halted
                | DeploymentStatus::Completed
                | DeploymentStatus::RolledBack
                | DeploymentStatus::Aborted
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::InProgress => "in_progress",
            DeploymentStatus::Paused => "paused",
            DeploymentStatus::Halted => "halted",
            DeploymentStatus::Completed => "completed",
            DeploymentStatus::RolledBack => "rolled_back",
            DeploymentStatus::Aborted => "aborted",
        }
    }

    /// Every status.
    pub const ALL: [DeploymentStatus; 6] = [
        DeploymentStatus::InProgress,
        DeploymentStatus::Paused,
        DeploymentStatus::Halted,
        DeploymentStatus::Completed,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Aborted,
    ];
}

/// The state of one deployment on one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeDeployment {
    /// The deployment.
    pub deployment_id: DeploymentId,
    /// The node.
    pub node_id: NodeId,
    /// Where the node is.
    pub state: NodeDeploymentState,
    /// The node's error text, when it failed.
    pub error: Option<String>,
    /// The node's error code, when it failed (`sha256_mismatch`, `timeout`, …).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Install attempts so far.
    pub attempts: u32,
    /// When the state last changed.
    pub updated_at: Timestamp,
}

impl NodeDeployment {
    /// The state of a node the deployment targets and that has reported nothing yet.
    pub fn pending(deployment_id: DeploymentId, node_id: NodeId, now: Timestamp) -> Self {
        Self {
            deployment_id,
            node_id,
            state: NodeDeploymentState::Pending,
            error: None,
            error_code: None,
            attempts: 0,
            updated_at: now,
        }
    }
}

/// Per-node state of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The node no longer runs it (deployment stopped, superseded or node left the selector).
    Removed,
    /// The rollout tripped its breaker and the node went back to what it ran before.
    RolledBack,
}

impl NodeDeploymentState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeDeploymentState::Pending => "pending",
            NodeDeploymentState::Installing => "installing",
            NodeDeploymentState::Active => "active",
            NodeDeploymentState::Failed => "failed",
            NodeDeploymentState::Removed => "removed",
            NodeDeploymentState::RolledBack => "rolled_back",
        }
    }
}
