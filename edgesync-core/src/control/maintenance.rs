//! Periodic work: writing node states and presence behind, offline detection, key usage,
//! artifact garbage collection. The server runs [`EdgeSync::run_maintenance`] on a timer; tests
//! call it after moving a manual clock, so nothing sleeps.

use std::collections::HashSet;
use std::time::Duration;

use super::EdgeSync;
use crate::error::Result;
use crate::store::{Collection, Record, StoreExt, Write};

/// Most node states written in one commit.
const FLUSH_BATCH: usize = 500;
/// Most presence buckets written in one commit (about a hundred nodes each at 100k nodes).
const PRESENCE_BATCH: usize = 128;
/// Staged uploads older than this are leftovers of crashed uploads.
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(3600);

/// What one maintenance pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Nodes whose status changed (e.g. went offline).
    pub status_changes: usize,
    /// Node states written to the store.
    pub states_written: usize,
    /// Presence buckets written to the store.
    pub presence_written: usize,
    /// API key last-use times written.
    pub key_usage_written: usize,
    /// Commands that passed their deadline.
    pub commands_timed_out: usize,
    /// Rollouts that moved (batch released, halted, rolled back, completed).
    pub rollouts_changed: usize,
}

impl EdgeSync {
    /// Re-derives node statuses and writes changed node states and key usage to the store.
    /// Runs every second in the server; durable lag of heartbeats is bounded by that interval.
    /// With replicas, it first picks up other replicas' changes and renews (or takes) the job
    /// lease; status writes and command deadlines are the lease holder's work.
    pub async fn run_maintenance(&self) -> Result<MaintenanceReport> {
        let leader = if self.inner.config.replicated {
            self.refresh_from_store().await?;
            self.hold_job_lease().await?
        } else {
            true
        };
        let status_changes = self.inner.fleet.refresh_statuses(
            self.now(),
            self.inner.config.offline_timeout,
            leader,
        );
        let states_written = self.flush_node_states().await?;
        let presence_written = self.flush_presence().await?;
        let key_usage_written = self.flush_key_usage().await?;
        let commands_timed_out = if leader {
            self.expire_commands().await?
        } else {
            0
        };
        let rollouts_changed = if leader {
            self.advance_rollouts().await?
        } else {
            0
        };
        Ok(MaintenanceReport {
            status_changes,
            states_written,
            presence_written,
            key_usage_written,
            commands_timed_out,
            rollouts_changed,
        })
    }

    /// Writes every node state that changed in memory, in batches.
    pub async fn flush_node_states(&self) -> Result<usize> {
        let mut dirty = self.inner.fleet.dirty_states().into_iter();
        let mut written = 0;
        loop {
            // The states move into their writes: one copy each, taken under the fleet's lock.
            let (writes, done): (Vec<Write>, Vec<_>) = dirty
                .by_ref()
                .take(FLUSH_BATCH)
                .map(|(state, change)| {
                    let id = state.node_id;
                    (Write::put(Record::NodeState(state)), (id, change))
                })
                .unzip();
            if writes.is_empty() {
                return Ok(written);
            }
            self.inner.store.commit(&writes).await?;
            self.inner.fleet.mark_clean(&done);
            written += writes.len();
        }
    }

    /// Writes the presence buckets that changed (a server that runs alone: see
    /// [`PresenceBucket`](crate::model::PresenceBucket)), in batches. Returns how many.
    pub async fn flush_presence(&self) -> Result<usize> {
        let pending = self.inner.fleet.pending_presence();
        if pending.is_empty() {
            // Replicas and idle fleets: no pass over the fleet.
            return Ok(0);
        }
        // One pass over the fleet builds every changed bucket.
        let mut buckets = self.inner.fleet.presence_buckets(&pending).into_iter();
        for chunk in pending.chunks(PRESENCE_BATCH) {
            let writes: Vec<Write> = buckets
                .by_ref()
                .take(chunk.len())
                .map(|bucket| Write::put(Record::Presence(bucket)))
                .collect();
            self.inner.store.commit(&writes).await?;
            self.inner.fleet.presence_written(chunk);
        }
        Ok(pending.len())
    }

    /// Expires pending uploads ([`EdgeSync::expire_pending_uploads`]), deletes artifacts no
    /// version references (older than the grace period) and staged uploads left by crashes.
    /// Returns how many artifacts were deleted.
    pub async fn collect_garbage(&self) -> Result<usize> {
        // Two-step registrations whose upload never came: rejected, so nothing waits forever.
        self.expire_pending_uploads().await?;
        let referenced: HashSet<String> = self
            .inner
            .store
            .list_all(Collection::FunctionVersions { function_id: None })
            .await?
            .into_iter()
            .filter_map(|s| match s.record {
                Record::FunctionVersion(v) => v.sha256,
                _ => None,
            })
            .collect();
        let now = self.now();
        let cutoff = now.minus(self.inner.config.artifact_gc_grace);
        let mut deleted = 0;
        for meta in self.inner.artifacts.list().await? {
            if !referenced.contains(meta.key.sha256_hex()) && meta.last_modified < cutoff {
                self.inner.artifacts.delete(&meta.key).await?;
                tracing::info!(key = %meta.key, "deleted unreferenced artifact");
                deleted += 1;
            }
        }
        self.inner
            .artifacts
            .remove_stale_uploads(now.minus(STALE_UPLOAD_AGE))
            .await?;
        Ok(deleted)
    }
}
