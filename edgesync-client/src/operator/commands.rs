//! `/api/v1/nodes/{id}/commands`: the operator side — queue, read, list, cancel.

use edgesync_wire::{CommandInfo, CommandList, CommandStatus, QueueCommandRequest};
use reqwest::StatusCode;
use uuid::Uuid;

use super::wire_name;
use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `POST /api/v1/nodes/{id}/commands`: queues a command for a node. Returns it and whether
    /// it was queued now (201) rather than found under the same idempotency key (200). Retried
    /// only with an idempotency key (a repeat without one would queue a second command).
    pub async fn queue_command(
        &self,
        node_id: Uuid,
        request: &QueueCommandRequest,
    ) -> Result<(CommandInfo, bool)> {
        let mut call = Call::post(format!("/api/v1/nodes/{node_id}/commands")).json(request)?;
        if request.idempotency_key.is_some() {
            call = call.idempotent();
        }
        let (status, command) = self.json_with_status(call).await?;
        Ok((command, status == StatusCode::CREATED))
    }

    /// `GET /api/v1/nodes/{id}/commands/{cid}`.
    pub async fn get_command(&self, node_id: Uuid, command_id: Uuid) -> Result<CommandInfo> {
        self.json(Call::get(format!(
            "/api/v1/nodes/{node_id}/commands/{command_id}"
        )))
        .await
    }

    /// `GET /api/v1/nodes/{id}/commands/history`: the node's commands, newest first,
    /// optionally only those in one status (`limit` 1–1000, server default 100).
    pub async fn list_commands(
        &self,
        node_id: Uuid,
        status: Option<CommandStatus>,
        limit: Option<u32>,
    ) -> Result<CommandList> {
        let status = status.as_ref().map(wire_name).transpose()?;
        let call = Call::get(format!("/api/v1/nodes/{node_id}/commands/history"))
            .query_opt("status", status)
            .query_opt("limit", limit);
        self.json(call).await
    }

    /// `POST /api/v1/nodes/{id}/commands/{cid}/cancel`. Canceling twice is harmless.
    pub async fn cancel_command(&self, node_id: Uuid, command_id: Uuid) -> Result<CommandInfo> {
        let call = Call::post(format!(
            "/api/v1/nodes/{node_id}/commands/{command_id}/cancel"
        ))
        .idempotent();
        self.json(call).await
    }
}
