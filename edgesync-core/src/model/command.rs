//! Commands operators queue for nodes.

use serde::{Deserialize, Serialize};

use super::ids::{CommandId, NodeId};
use super::time::Timestamp;

/// A command queued for one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Identity (time-ordered).
    pub id: CommandId,
    /// The node.
    pub node_id: NodeId,
    /// What to do (`restart_function`, `flush_cache`, `run_migration`, or a custom kind).
    pub kind: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Makes a repeated submission harmless.
    pub idempotency_key: Option<String>,
    /// Where the command is.
    pub status: CommandStatus,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it expires if not finished.
    pub deadline: Timestamp,
    /// When the node first received it.
    pub delivered_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// What the node reported.
    pub output: Option<serde_json::Value>,
    /// How many times it was handed to the node (delivery is at least once).
    #[serde(default)]
    pub deliveries: u32,
    /// A result that arrived after the command had expired or was canceled: recorded, but it
    /// does not change the status.
    #[serde(default)]
    pub late_result: Option<serde_json::Value>,
}

impl CommandStatus {
    /// Whether the command is finished (nothing will change its status any more).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CommandStatus::Succeeded
                | CommandStatus::Failed
                | CommandStatus::TimedOut
                | CommandStatus::Canceled
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Queued => "queued",
            CommandStatus::Delivered => "delivered",
            CommandStatus::Succeeded => "succeeded",
            CommandStatus::Failed => "failed",
            CommandStatus::TimedOut => "timed_out",
            CommandStatus::Canceled => "canceled",
        }
    }
}

/// The lifecycle of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Waiting for the node.
    Queued,
    /// Handed to the node at least once.
    Delivered,
    /// The node reported success.
    Succeeded,
    /// The node reported failure.
    Failed,
    /// The deadline passed first.
    TimedOut,
    /// An operator canceled it.
    Canceled,
}
