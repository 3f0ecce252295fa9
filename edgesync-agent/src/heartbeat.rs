//! Heartbeats: the node's real state (running functions and versions, schema version, route
//! and sync revisions, resource use) every interval.

use std::sync::Arc;

use crate::session::{Session, unauthorized};
use crate::shared::Shared;

/// Runs forever.
pub(crate) async fn run(shared: Arc<Shared>, session: Arc<Session>) {
    let mut tick = tokio::time::interval(shared.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = session.ensure_fresh().await {
            shared.contact_failed("token refresh", &e);
            continue;
        }
        let state = shared.reported_state();
        match session.node().heartbeat(&state).await {
            Ok(resp) => {
                shared.contact_ok();
                tracing::trace!(status = ?resp.status, "heartbeat");
            }
            Err(e) if unauthorized(&e) => {
                if let Err(err) = session.recover().await {
                    shared.contact_failed("token refresh", &err);
                }
            }
            Err(e) => shared.contact_failed("heartbeat", &e),
        }
    }
}
