//! `POST /api/v1/nodes/{id}/telemetry`: a node pushes a batch of samples and events.

use edgesync_wire::{TelemetryAccepted, TelemetryBatch};

use super::NodeClient;
use crate::error::Result;
use crate::request::Call;

impl NodeClient {
    /// `POST /api/v1/nodes/{id}/telemetry`: pushes samples and events (at most 1000 in all),
    /// validated whole: one bad item rejects the batch and nothing is stored. Not retried once
    /// sent (a repeat would store the samples twice).
    pub async fn push_telemetry(&self, batch: &TelemetryBatch) -> Result<TelemetryAccepted> {
        let call = self.call(Call::post(self.path("/telemetry")).json(batch)?);
        self.client.json(call).await
    }
}
