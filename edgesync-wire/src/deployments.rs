//! Deployments: "run version N of function F on the nodes this selector picks", and where each
//! node is with it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// `POST /api/v1/deployments`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Nodes are converging to it.
    InProgress,
    /// Every targeted node runs it.
    Completed,
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
    /// Install attempts so far.
    pub attempts: u32,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A deployment with every node it concerns (the detail view).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DeploymentList {
    /// The deployments, newest first.
    pub items: Vec<DeploymentSummary>,
}
