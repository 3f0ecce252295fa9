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
}

/// How a rollout proceeds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strategy {
    /// The kind of rollout.
    pub kind: StrategyKind,
}

/// The kinds of rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Every matching node at once.
    #[default]
    All,
}

/// The lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Nodes are converging to it.
    InProgress,
    /// Every targeted node reported it active.
    Completed,
    /// Stopped by an operator: nodes drop the function (unless another deployment keeps it).
    Aborted,
}

impl DeploymentStatus {
    /// Whether a deployment in this status targets nodes.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            DeploymentStatus::InProgress | DeploymentStatus::Completed
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::InProgress => "in_progress",
            DeploymentStatus::Completed => "completed",
            DeploymentStatus::Aborted => "aborted",
        }
    }
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
    /// Install attempts so far.
    pub attempts: u32,
    /// When the state last changed.
    pub updated_at: Timestamp,
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
        }
    }
}
