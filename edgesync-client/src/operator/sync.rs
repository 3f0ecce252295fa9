//! Sync history and statistics (the operator side of the sync loop).

use std::time::Duration;

use edgesync_wire::{SyncHistory, SyncStats};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `GET /api/v1/nodes/{id}/sync/history`: a page of the node's syncs, newest first.
    pub async fn sync_history(
        &self,
        node_id: Uuid,
        after: Option<Uuid>,
        limit: Option<u32>,
    ) -> Result<SyncHistory> {
        let call = Call::get(format!("/api/v1/nodes/{node_id}/sync/history"))
            .query_opt("after", after)
            .query_opt("limit", limit);
        self.json(call).await
    }

    /// `GET /api/v1/sync/stats`: statistics over the last `window` (whole seconds; server
    /// default one hour), fleet-wide or for one node.
    pub async fn sync_stats(
        &self,
        window: Option<Duration>,
        node_id: Option<Uuid>,
    ) -> Result<SyncStats> {
        let call = Call::get("/api/v1/sync/stats")
            .query_opt("window_s", window.map(|w| w.as_secs()))
            .query_opt("node_id", node_id);
        self.json(call).await
    }
}
