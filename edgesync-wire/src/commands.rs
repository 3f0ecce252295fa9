//! Commands operators queue for nodes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// `POST /api/v1/nodes/{id}/commands`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct QueueCommandRequest {
    /// What to do: `restart_function`, `flush_cache`, `run_migration`, `health_probe`, or a
    /// custom kind the node's agent understands.
    pub kind: String,
    /// Arguments (JSON, at most 64 KiB).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub payload: serde_json::Value,
    /// Seconds until it times out if not finished (1–86400, default 300).
    #[serde(default = "default_timeout_s")]
    #[cfg_attr(feature = "openapi", oai(default = "default_timeout_s"))]
    pub timeout_s: u64,
    /// Repeating a request with the same key returns the first command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub idempotency_key: Option<String>,
}

/// Default command timeout.
pub fn default_timeout_s() -> u64 {
    300
}

/// Where a command is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Waiting for the node.
    Queued,
    /// Handed to the node (again until it reports).
    Delivered,
    /// The node reported success.
    Succeeded,
    /// The node reported failure.
    Failed,
    /// The deadline passed first.
    TimedOut,
    /// Canceled by an operator.
    Canceled,
}

/// A command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CommandInfo {
    /// Id.
    pub id: Uuid,
    /// The node.
    pub node_id: Uuid,
    /// What to do.
    pub kind: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Where it is.
    pub status: CommandStatus,
    /// The idempotency key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub idempotency_key: Option<String>,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it times out if not finished.
    #[serde(with = "time::serde::rfc3339")]
    pub deadline: OffsetDateTime,
    /// First delivery.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub delivered_at: Option<OffsetDateTime>,
    /// When it finished.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub finished_at: Option<OffsetDateTime>,
    /// Deliveries so far.
    pub deliveries: u32,
    /// What the node reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub output: Option<serde_json::Value>,
    /// A result that arrived after it timed out or was canceled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub late_result: Option<serde_json::Value>,
}

/// A list of commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CommandList {
    /// Newest first (for operators) or oldest first (deliveries to a node).
    pub items: Vec<CommandInfo>,
}

/// Outcome a node reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    /// It worked.
    Succeeded,
    /// It did not.
    Failed,
}

/// `POST /api/v1/nodes/{id}/commands/{cid}/result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct CommandResultRequest {
    /// `succeeded` or `failed`.
    pub status: CommandOutcome,
    /// What it produced.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub output: serde_json::Value,
}
