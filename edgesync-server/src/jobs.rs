//! Background work: maintenance every second (presence write-behind, offline detection, key
//! usage, command deadlines, rollouts) and, every few minutes, telemetry retention and artifact
//! garbage collection.
//!
//! The two run as separate tasks. Retention reads every telemetry point the store holds, which
//! takes seconds once a fleet has sent a few million; sharing one loop with maintenance stalled
//! the write-behind that long, and heartbeats were not durable within their second.

use std::time::Duration;

use edgesync_core::EdgeSync;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often maintenance runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(1);
/// How often telemetry retention and artifact garbage collection run.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(300);

/// Spawns the background jobs; they stop when `shutdown` is cancelled, maintenance after one
/// last flush. The handle completes when both have stopped.
pub fn spawn(edgesync: EdgeSync, shutdown: CancellationToken) -> JoinHandle<()> {
    let housekeeping = tokio::spawn(housekeeping(edgesync.clone(), shutdown.clone()));
    tokio::spawn(async move {
        maintenance(edgesync, shutdown).await;
        if let Err(e) = housekeeping.await {
            tracing::warn!(error = %e, "the housekeeping task ended abnormally");
        }
    })
}

/// Maintenance every second until `shutdown`, then a final flush.
async fn maintenance(edgesync: EdgeSync, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = edgesync.run_maintenance().await {
                    tracing::warn!(error = %e, retryable = e.retryable(), "maintenance pass failed; retrying next tick");
                }
            }
        }
    }
    if let Err(e) = edgesync.run_maintenance().await {
        tracing::warn!(error = %e, "final flush on shutdown failed");
    }
}

/// Telemetry retention and artifact garbage collection on the job leader, every few minutes
/// until `shutdown` (which abandons a pass in progress: each of its deletions is a commit of
/// its own).
async fn housekeeping(edgesync: EdgeSync, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {
                if !edgesync.is_job_leader() {
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    () = collect(&edgesync) => {}
                }
            }
        }
    }
}

/// One pass of telemetry retention and artifact garbage collection.
async fn collect(edgesync: &EdgeSync) {
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
