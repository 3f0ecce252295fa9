//! Edge nodes: identity, operator-set lifecycle and the state they report.

use serde::{Deserialize, Serialize};

use super::ids::{FunctionId, NodeId};
use super::time::Timestamp;
use super::validate;
use crate::error::Result;
use crate::selector::{Labels, validate_labels};

/// A registered edge node (what the operator and the registration decide).
///
/// What the node reports about itself lives in [`NodeState`], written behind heartbeats, so that
/// operator edits and fleet chatter never contend for the same record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Identity.
    pub id: NodeId,
    /// Unique, human-chosen name.
    pub name: String,
    /// Point of presence the node sits in.
    pub pop: String,
    /// Region of the POP (free-form, may be empty).
    pub region: String,
    /// Labels deployments select on.
    pub labels: Labels,
    /// Version of the edge agent at registration.
    pub agent_version: String,
    /// What the node can do (e.g. `wasm`, `sqlite`).
    pub capabilities: Vec<String>,
    /// Memory the node offers to functions, in bytes, if it advertised it.
    pub memory_budget_bytes: Option<u64>,
    /// Operator-set lifecycle.
    pub lifecycle: NodeLifecycle,
    /// Incremented to revoke every credential issued before.
    pub credential_generation: u64,
    /// bcrypt hash of the node's refresh secret (exchanged for fresh tokens).
    #[serde(default)]
    pub refresh_secret_bcrypt: Option<String>,
    /// When the node registered.
    pub registered_at: Timestamp,
    /// When the operator last changed it.
    pub updated_at: Timestamp,
}

/// What the operator decided about a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeLifecycle {
    /// Takes part in deployments.
    Active,
    /// Cordoned: keeps running what it has, receives nothing new.
    Draining,
    /// Retired: its credentials are revoked and it is dropped from every target.
    Decommissioned,
}

/// The status operators see, derived from lifecycle and presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Heartbeating within the timeout.
    Online,
    /// No heartbeat within the timeout (or never).
    Offline,
    /// Cordoned by an operator.
    Draining,
    /// Retired by an operator.
    Decommissioned,
}

impl NodeStatus {
    /// Every status, for metrics and filters.
    pub const ALL: [NodeStatus; 4] = [
        NodeStatus::Online,
        NodeStatus::Offline,
        NodeStatus::Draining,
        NodeStatus::Decommissioned,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Online => "online",
            NodeStatus::Offline => "offline",
            NodeStatus::Draining => "draining",
            NodeStatus::Decommissioned => "decommissioned",
        }
    }

    /// Derives the status from the lifecycle and whether the node was seen recently.
    pub fn derive(lifecycle: NodeLifecycle, seen_recently: bool) -> Self {
        match lifecycle {
            NodeLifecycle::Decommissioned => NodeStatus::Decommissioned,
            NodeLifecycle::Draining => NodeStatus::Draining,
            NodeLifecycle::Active if seen_recently => NodeStatus::Online,
            NodeLifecycle::Active => NodeStatus::Offline,
        }
    }
}

/// What a node reports about itself (heartbeats and acks), plus the derived status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// The node.
    pub node_id: NodeId,
    /// Last heartbeat, ack or telemetry.
    pub last_seen_at: Option<Timestamp>,
    /// Status as last derived (kept current by the offline detector).
    pub status: NodeStatus,
    /// What the node says it runs.
    pub reported: ReportedState,
}

impl NodeState {
    /// The state of a node that has never reported.
    pub fn new(node_id: NodeId) -> Self {
        Self {
            node_id,
            last_seen_at: None,
            status: NodeStatus::Offline,
            reported: ReportedState::default(),
        }
    }
}

/// What a node says it runs and uses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportedState {
    /// Functions and versions installed.
    pub functions: Vec<RunningFunction>,
    /// Highest schema migration applied to the local database.
    pub schema_version: u64,
    /// Revision of the route table the node serves, if any.
    pub routes_revision: Option<String>,
    /// Target revision the node last converged to.
    pub sync_revision: Option<String>,
    /// Resource usage.
    pub resources: ResourceUsage,
}

/// One installed function version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunningFunction {
    /// The function.
    pub function_id: FunctionId,
    /// Its version.
    pub version: u32,
}

/// Resource usage a node reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// CPU use in percent of one core × cores (0–100 × cores).
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// Disk used by the agent in bytes.
    pub disk_bytes: u64,
}

/// Maximum entries in a reported function list.
pub const MAX_REPORTED_FUNCTIONS: usize = 1024;

impl ReportedState {
    /// Whether `other` reports the same things run (functions, schema, routes, revision),
    /// whatever the resource usage: a report with nothing new moves only the node's presence.
    pub fn same_inventory(&self, other: &ReportedState) -> bool {
        self.functions == other.functions
            && self.schema_version == other.schema_version
            && self.routes_revision == other.routes_revision
            && self.sync_revision == other.sync_revision
    }

    /// Checks sizes and numbers.
    pub fn validate(&self) -> Result<()> {
        if self.functions.len() > MAX_REPORTED_FUNCTIONS {
            return Err(crate::Error::invalid(format!(
                "at most {MAX_REPORTED_FUNCTIONS} functions can be reported"
            )));
        }
        if let Some(r) = &self.routes_revision {
            validate::text("routes_revision", r, 128)?;
        }
        if let Some(r) = &self.sync_revision {
            validate::text("sync_revision", r, 128)?;
        }
        let cpu = self.resources.cpu_percent;
        if !cpu.is_finite() || cpu < 0.0 {
            return Err(crate::Error::invalid(
                "resources.cpu_percent must be a finite, non-negative number",
            ));
        }
        Ok(())
    }
}

/// What a node sends to register.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// Unique name.
    pub name: String,
    /// Point of presence.
    pub pop: String,
    /// Region (may be empty).
    pub region: String,
    /// Labels.
    pub labels: Labels,
    /// Agent version.
    pub agent_version: String,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Memory the node offers to functions, in bytes.
    pub memory_budget_bytes: Option<u64>,
}

/// Maximum number of capabilities a node can declare.
pub const MAX_CAPABILITIES: usize = 32;

impl NodeRegistration {
    /// Checks every field; nothing is stored when this fails.
    pub fn validate(&self) -> Result<()> {
        validate::name("name", &self.name)?;
        validate::name("pop", &self.pop)?;
        if !self.region.is_empty() {
            validate::name("region", &self.region)?;
        }
        validate_labels(&self.labels).map_err(|e| crate::Error::invalid(format!("labels: {e}")))?;
        validate::text("agent_version", &self.agent_version, 64)?;
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Err(crate::Error::invalid(format!(
                "at most {MAX_CAPABILITIES} capabilities"
            )));
        }
        for c in &self.capabilities {
            validate::name("capability", c)?;
        }
        Ok(())
    }
}

/// An operator's change to a node; absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeUpdate {
    /// Replaces all labels.
    pub labels: Option<Labels>,
    /// New lifecycle (draining, active again, decommissioned).
    pub lifecycle: Option<NodeLifecycle>,
}

impl NodeUpdate {
    /// Checks the new values.
    pub fn validate(&self) -> Result<()> {
        if let Some(labels) = &self.labels {
            validate_labels(labels).map_err(|e| crate::Error::invalid(format!("labels: {e}")))?;
        }
        Ok(())
    }
}
