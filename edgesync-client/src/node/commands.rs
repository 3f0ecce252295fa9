//! `/api/v1/nodes/{id}/commands`: a node receives the commands operators queued for it and
//! reports their results.

use edgesync_wire::{CommandInfo, CommandList, CommandResultRequest};
use uuid::Uuid;

use super::NodeClient;
use crate::error::Result;
use crate::request::Call;

impl NodeClient {
    /// `GET /api/v1/nodes/{id}/commands`: the commands to run now, oldest first. Each is handed
    /// out again until its result is reported (at-least-once: use the command id to make a
    /// repeat harmless).
    pub async fn receive_commands(&self) -> Result<CommandList> {
        let call = self.call(Call::get(self.path("/commands")));
        self.client.json(call).await
    }

    /// `POST /api/v1/nodes/{id}/commands/{cid}/result`: reports how a command went. Reporting
    /// twice is harmless, so the request is retried like a `PUT`.
    pub async fn report_command_result(
        &self,
        command_id: Uuid,
        result: &CommandResultRequest,
    ) -> Result<CommandInfo> {
        let call = self.call(
            Call::post(self.path(&format!("/commands/{command_id}/result")))
                .idempotent()
                .json(result)?,
        );
        self.client.json(call).await
    }
}
