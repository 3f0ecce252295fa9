//! Sync records: every plan handed to a node and what the node reported back.

use serde::{Deserialize, Serialize};

use super::ids::{NodeId, PlanId, SyncRecordId};
use super::node::ReportedState;
use super::plan::{ActionResult, PlanAction};
use super::time::Timestamp;

/// The history entry of one plan: created when the plan is first handed out, completed by the
/// node's ack. Its id is the plan id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Identity (time-ordered; equal to the plan id).
    pub id: SyncRecordId,
    /// The node.
    pub node_id: NodeId,
    /// The plan.
    pub plan_id: PlanId,
    /// The target revision the plan leads to.
    pub revision: String,
    /// What the node reported running when the plan was made.
    pub base: ReportedState,
    /// The plan's actions.
    pub actions: Vec<PlanAction>,
    /// The node's results, once acknowledged.
    pub results: Vec<ActionResult>,
    /// Where the sync is.
    pub status: SyncStatus,
    /// When the plan was handed out.
    pub planned_at: Timestamp,
    /// When the ack arrived.
    pub acked_at: Option<Timestamp>,
}

impl SyncRecord {
    /// How long the node took, from plan to ack.
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.acked_at.map(|a| a.since(self.planned_at))
    }
}

/// The lifecycle of a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl SyncStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Pending => "pending",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Partial => "partial",
            SyncStatus::Failed => "failed",
            SyncStatus::Superseded => "superseded",
        }
    }

    /// Whether the sync was acknowledged.
    pub fn is_acked(self) -> bool {
        matches!(
            self,
            SyncStatus::Succeeded | SyncStatus::Partial | SyncStatus::Failed
        )
    }
}
