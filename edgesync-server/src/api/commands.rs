//! Commands: operators queue, nodes receive and report, operators cancel and read.

use std::time::Duration;

use edgesync_core::EdgeSync;
use edgesync_core::control::{CommandResult, NewCommand};
use edgesync_core::model::{Command, CommandId, CommandStatus, NodeId, Scope};
use edgesync_wire as w;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::{ApiKeyAuth, NodeAuth};
use super::error::ApiResult;
use super::json::JsonBody;

/// Command endpoints.
pub struct CommandsApi {
    pub(crate) edgesync: EdgeSync,
}

/// Queued (201) or already queued under the same idempotency key (200).
#[derive(ApiResponse)]
pub enum Queued {
    /// Queued.
    #[oai(status = 201)]
    Created(Json<w::CommandInfo>),
    /// The idempotency key names this earlier command.
    #[oai(status = 200)]
    Existing(Json<w::CommandInfo>),
}

fn status(s: CommandStatus) -> w::CommandStatus {
    match s {
        CommandStatus::Queued => w::CommandStatus::Queued,
        CommandStatus::Delivered => w::CommandStatus::Delivered,
        CommandStatus::Succeeded => w::CommandStatus::Succeeded,
        CommandStatus::Failed => w::CommandStatus::Failed,
        CommandStatus::TimedOut => w::CommandStatus::TimedOut,
        CommandStatus::Canceled => w::CommandStatus::Canceled,
    }
}

fn status_from_wire(s: w::CommandStatus) -> CommandStatus {
    match s {
        w::CommandStatus::Queued => CommandStatus::Queued,
        w::CommandStatus::Delivered => CommandStatus::Delivered,
        w::CommandStatus::Succeeded => CommandStatus::Succeeded,
        w::CommandStatus::Failed => CommandStatus::Failed,
        w::CommandStatus::TimedOut => CommandStatus::TimedOut,
        w::CommandStatus::Canceled => CommandStatus::Canceled,
    }
}

fn info(c: Command) -> w::CommandInfo {
    w::CommandInfo {
        id: c.id.into(),
        node_id: c.node_id.into(),
        kind: c.kind,
        payload: c.payload,
        status: status(c.status),
        idempotency_key: c.idempotency_key,
        created_at: c.created_at.into(),
        deadline: c.deadline.into(),
        delivered_at: c.delivered_at.map(Into::into),
        finished_at: c.finished_at.map(Into::into),
        deliveries: c.deliveries,
        output: c.output,
        late_result: c.late_result,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Commands")]
impl CommandsApi {
    /// Queue a command for a node
    ///
    /// Nodes receive it with `GET /api/v1/nodes/{id}/commands` (and an MQTT hint on
    /// `edgesync/nodes/{id}/commands` when enabled). Needs `deploy`.
    #[oai(
        path = "/nodes/:id/commands",
        method = "post",
        operation_id = "queue_command"
    )]
    async fn queue(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        body: JsonBody<w::QueueCommandRequest>,
    ) -> ApiResult<Queued> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let r = body.0;
        let (command, created) = self
            .edgesync
            .queue_command(
                NodeId::from_uuid(id.0),
                NewCommand {
                    kind: r.kind,
                    payload: r.payload,
                    timeout: Duration::from_secs(r.timeout_s),
                    idempotency_key: r.idempotency_key,
                },
            )
            .await?;
        Ok(if created {
            Queued::Created(Json(info(command)))
        } else {
            Queued::Existing(Json(info(command)))
        })
    }

    /// Receive pending commands (node)
    ///
    /// The commands the node should run now, oldest first; each is handed out again until the
    /// node reports its result (at-least-once: use the command id to make repeats harmless).
    #[oai(
        path = "/nodes/:id/commands",
        method = "get",
        operation_id = "receive_commands"
    )]
    async fn receive(&self, auth: NodeAuth, id: Path<Uuid>) -> ApiResult<Json<w::CommandList>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let items = self
            .edgesync
            .deliver_commands(node)
            .await?
            .into_iter()
            .map(info)
            .collect();
        Ok(Json(w::CommandList { items }))
    }

    /// Report a command's result (node)
    ///
    /// A result for a command that timed out or was canceled is kept (`late_result`) without
    /// changing its status; reporting twice is harmless.
    #[oai(
        path = "/nodes/:id/commands/:cid/result",
        method = "post",
        operation_id = "report_command_result"
    )]
    async fn result(
        &self,
        auth: NodeAuth,
        id: Path<Uuid>,
        cid: Path<Uuid>,
        body: JsonBody<w::CommandResultRequest>,
    ) -> ApiResult<Json<w::CommandInfo>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let r = body.0;
        let command = self
            .edgesync
            .report_command_result(
                node,
                CommandId::from_uuid(cid.0),
                CommandResult {
                    succeeded: r.status == w::CommandOutcome::Succeeded,
                    output: r.output,
                },
            )
            .await?;
        Ok(Json(info(command)))
    }

    /// Cancel a command
    #[oai(
        path = "/nodes/:id/commands/:cid/cancel",
        method = "post",
        operation_id = "cancel_command"
    )]
    async fn cancel(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        cid: Path<Uuid>,
    ) -> ApiResult<Json<w::CommandInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let command = self
            .edgesync
            .cancel_command(NodeId::from_uuid(id.0), CommandId::from_uuid(cid.0))
            .await?;
        Ok(Json(info(command)))
    }

    /// Get a command
    #[oai(
        path = "/nodes/:id/commands/:cid",
        method = "get",
        operation_id = "get_command"
    )]
    async fn get(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        cid: Path<Uuid>,
    ) -> ApiResult<Json<w::CommandInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let command = self
            .edgesync
            .command(NodeId::from_uuid(id.0), CommandId::from_uuid(cid.0))
            .await?;
        Ok(Json(info(command)))
    }

    /// List a node's commands (operator)
    #[oai(
        path = "/nodes/:id/commands/history",
        method = "get",
        operation_id = "list_commands"
    )]
    async fn list(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        /// Only commands in this status.
        status: Query<Option<w::CommandStatus>>,
        /// Most commands (1–1000, default 100).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<w::CommandList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let limit = limit.0.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(edgesync_core::Error::invalid("limit must be between 1 and 1000").into());
        }
        let items = self
            .edgesync
            .commands(
                NodeId::from_uuid(id.0),
                status.0.map(status_from_wire),
                limit as usize,
            )
            .await?
            .into_iter()
            .map(info)
            .collect();
        Ok(Json(w::CommandList { items }))
    }
}
