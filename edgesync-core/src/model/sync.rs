//! Sync records: what a node was asked to do and what it reported back.

use serde::{Deserialize, Serialize};

use super::ids::{NodeId, PlanId, SyncRecordId};
use super::time::Timestamp;

/// One acknowledged plan: the history entry of a sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Identity (time-ordered).
    pub id: SyncRecordId,
    /// The node.
    pub node_id: NodeId,
    /// The plan that was acknowledged.
    pub plan_id: PlanId,
    /// The target revision the plan led to.
    pub revision: String,
    /// One entry per action, with its result.
    pub actions: Vec<SyncActionOutcome>,
    /// Overall outcome.
    pub outcome: SyncOutcome,
    /// When the plan was handed out.
    pub planned_at: Timestamp,
    /// When the ack arrived.
    pub acked_at: Timestamp,
}

/// An action of a plan with its reported result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncActionOutcome {
    /// Action id within the plan.
    pub action_id: u32,
    /// `apply_migration`, `install_function`, `set_routes` or `remove_function`.
    pub kind: String,
    /// Short description (function and version, migration version, …).
    pub subject: String,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// Error code reported by the node, if it failed.
    pub error_code: Option<String>,
    /// Error text reported by the node, if it failed.
    pub error: Option<String>,
}

/// Overall result of a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// Every action succeeded.
    Succeeded,
    /// Some actions failed, some succeeded.
    Partial,
    /// Every action failed.
    Failed,
}
