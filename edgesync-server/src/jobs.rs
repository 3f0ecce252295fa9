//! Background work: maintenance every second (presence write-behind, offline detection, key
//! usage, command deadlines) and, every few minutes, telemetry retention and artifact garbage
//! collection.

use std::time::Duration;

use edgesync_core::EdgeSync;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Spawns the background jobs; they stop when `shutdown` is cancelled, after one last flush.
pub fn spawn(edgesync: EdgeSync, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gc = tokio::time::interval(Duration::from_secs(300));
        gc.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = edgesync.run_maintenance().await {
                        tracing::warn!(error = %e, retryable = e.retryable(), "maintenance pass failed; retrying next tick");
                    }
                }
                _ = gc.tick(), if edgesync.is_job_leader() => {
                    match edgesync.prune_telemetry().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "telemetry past retention pruned"),
                        Err(e) => tracing::warn!(error = %e, "telemetry pruning failed"),
                    }
                    match edgesync.collect_garbage().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "artifact garbage collection"),
                        Err(e) => tracing::warn!(error = %e, "artifact garbage collection failed"),
                    }
                }
            }
        }
        if let Err(e) = edgesync.run_maintenance().await {
            tracing::warn!(error = %e, "final flush on shutdown failed");
        }
    })
}
