//! Nodes: registration, heartbeats, reads and operator changes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Labels;

/// `POST /api/v1/nodes/register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RegisterNodeRequest {
    /// Unique name: 1–63 letters, digits, `-`, `_`, `.`; starts and ends with a letter or digit.
    pub name: String,
    /// Point of presence, same rules as `name`.
    pub pop: String,
    /// Region (optional).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub region: String,
    /// Labels deployments select on (Kubernetes label syntax).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub labels: Labels,
    /// Version of the edge agent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub agent_version: String,
    /// What the node can do (e.g. `wasm`, `sqlite`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub capabilities: Vec<String>,
    /// Memory the node offers to functions, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub memory_budget_bytes: Option<u64>,
}

/// The answer to a registration: the node and its token (keep it secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RegisterNodeResponse {
    /// The node's id.
    pub node_id: Uuid,
    /// The node's JWT: `Authorization: Bearer <token>` on node endpoints.
    pub token: String,
    /// When the token expires; refresh it before with `POST /api/v1/nodes/{id}/token`.
    #[serde(with = "time::serde::rfc3339")]
    pub token_expires_at: OffsetDateTime,
    /// Exchanged for a new token (`POST /api/v1/nodes/{id}/token/refresh`) when the token has
    /// expired. Shown once; keep it secret.
    pub refresh_token: String,
    /// The registered node.
    pub node: NodeInfo,
}

/// `POST /api/v1/nodes/{id}/token/refresh`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenRequest {
    /// The node's refresh secret (`esr_…`).
    pub refresh_token: String,
}

/// New credentials for a node (all earlier ones are revoked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct NodeCredentials {
    /// The new refresh secret (`esr_…`); exchange it for a token. Shown once.
    pub refresh_token: String,
}

/// A fresh node token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct NodeToken {
    /// The JWT.
    pub token: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Operator-set lifecycle of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum NodeLifecycle {
    /// Takes part in deployments.
    Active,
    /// Cordoned: keeps what it runs, receives nothing new.
    Draining,
    /// Retired: tokens revoked, dropped from every target. Final.
    Decommissioned,
}

/// Derived status of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Heartbeating within the offline timeout.
    Online,
    /// No heartbeat within the offline timeout.
    Offline,
    /// Cordoned.
    Draining,
    /// Retired.
    Decommissioned,
}

/// A function version a node runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RunningFunction {
    /// The function.
    pub function_id: Uuid,
    /// Its version.
    pub version: u32,
}

/// Resource usage a node reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct ResourceUsage {
    /// CPU use in percent (100 per fully used core).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub memory_bytes: u64,
    /// Disk used in bytes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub disk_bytes: u64,
}

/// What a node reports about itself (heartbeat body; every field optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct ReportedState {
    /// Installed function versions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub functions: Vec<RunningFunction>,
    /// Highest schema migration applied locally.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub schema_version: u64,
    /// Revision of the route table served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub routes_revision: Option<String>,
    /// Target revision last converged to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub sync_revision: Option<String>,
    /// Resource usage.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub resources: ResourceUsage,
}

/// The answer to a heartbeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct HeartbeatResponse {
    /// The node's status now.
    pub status: NodeStatus,
    /// Server time, for clock-skew checks.
    #[serde(with = "time::serde::rfc3339")]
    pub server_time: OffsetDateTime,
    /// Send the next heartbeat within this many seconds to stay online.
    pub offline_after_s: u64,
}

/// A node as operators see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct NodeInfo {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Point of presence.
    pub pop: String,
    /// Region.
    pub region: String,
    /// Labels.
    pub labels: Labels,
    /// Agent version.
    pub agent_version: String,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Memory offered to functions, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub memory_budget_bytes: Option<u64>,
    /// Derived status.
    pub status: NodeStatus,
    /// Operator-set lifecycle.
    pub lifecycle: NodeLifecycle,
    /// Last sign of life.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub last_seen_at: Option<OffsetDateTime>,
    /// When it registered.
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// When an operator last changed it.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// What it reports.
    pub reported: ReportedState,
    /// Revision of the node record; send it as `If-Match` to make a change conditional.
    pub revision: u64,
}

/// A page of nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct NodeList {
    /// The nodes, in name order.
    pub items: Vec<NodeInfo>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub next: Option<String>,
}

/// `PATCH /api/v1/nodes/{id}`: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct UpdateNodeRequest {
    /// Replaces every label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub labels: Option<Labels>,
    /// `active`, `draining` or `decommissioned` (final; revokes the node's tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub lifecycle: Option<NodeLifecycle>,
}
