//! Several server replicas on one store (CockroachDB). Each replica keeps the caches that keep
//! hot paths off the store; this module keeps them correct when other replicas change things.
//!
//! - Every control-plane change (nodes, deployments, routes, migrations, keys, commands) also
//!   rewrites the `cluster_epoch` setting in the same commit. Its store revision is the epoch.
//!   Each maintenance pass reads it (one small read); when another replica moved it, the caches
//!   are reloaded and targets recomputed. Staleness is bounded by the maintenance interval.
//! - Node states (presence) written behind by other replicas are merged every
//!   `presence_merge_interval`, so every replica derives the same online/offline status.
//! - Cluster-wide jobs run on one replica at a time: the holder of the `job_lease` setting,
//!   renewed on every pass and taken over when it lapses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::EdgeSync;
use super::catalog::CatalogState;
use super::commands::OpenCommands;
use super::key_cache::KeyCache;
use super::node_deployments::NodeDeployments;
use crate::error::{ErrorCode, Result};
use crate::model::{ClusterEpoch, JobLease, NodeId, NodeState, Setting, Timestamp};
use crate::store::{Collection, Expect, Record, RecordKey, StoreExt, Versioned, Write};

/// This replica's view of the cluster.
#[derive(Debug)]
pub(super) struct Replication {
    /// Identifies this replica in the epoch and the lease.
    pub(super) replica_id: String,
    /// The last epoch whose changes this replica has in memory.
    seen_epoch: AtomicU64,
    /// Whether this replica held the lease at the last pass.
    leader: AtomicBool,
    last_presence_merge: Mutex<Option<Timestamp>>,
}

impl Default for Replication {
    fn default() -> Self {
        Self {
            replica_id: uuid::Uuid::new_v4().simple().to_string(),
            seen_epoch: AtomicU64::new(0),
            leader: AtomicBool::new(false),
            last_presence_merge: Mutex::new(None),
        }
    }
}

fn epoch_key() -> RecordKey {
    RecordKey::Setting {
        name: "cluster_epoch".into(),
    }
}

fn lease_key() -> RecordKey {
    RecordKey::Setting {
        name: "job_lease".into(),
    }
}

/// What a refresh did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// The caches were reloaded because another replica changed something.
    pub reloaded: bool,
    /// Node states merged from other replicas.
    pub presence_merged: usize,
}

impl EdgeSync {
    /// Commits a control-plane change together with a new cluster epoch, so other replicas
    /// reload their caches. Returns the revisions of `writes` (without the epoch's).
    pub(super) async fn commit_control(&self, writes: &[Write]) -> Result<Vec<u64>> {
        let mut all = writes.to_vec();
        all.push(Write::put(Record::Setting(Setting::ClusterEpoch(
            ClusterEpoch {
                by: self.inner.replication.replica_id.clone(),
                at: self.now(),
            },
        ))));
        let mut revisions = self.inner.store.commit(&all).await?;
        let epoch = revisions.pop().unwrap_or(0);
        // Our own change is already in memory; only someone else's in between needs a reload.
        let _ = self.inner.replication.seen_epoch.compare_exchange(
            epoch.saturating_sub(1),
            epoch,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        Ok(revisions)
    }

    /// Whether this replica runs the cluster-wide jobs (always true without replicas).
    pub fn is_job_leader(&self) -> bool {
        !self.inner.config.replicated || self.inner.replication.leader.load(Ordering::SeqCst)
    }

    /// Picks up other replicas' changes: reloads the caches when the cluster epoch moved, and
    /// merges node presence every `presence_merge_interval`.
    pub async fn refresh_from_store(&self) -> Result<RefreshReport> {
        let mut report = RefreshReport::default();
        let epoch = self
            .inner
            .store
            .get(&epoch_key())
            .await?
            .map_or(0, |s| s.revision);
        let seen = self.inner.replication.seen_epoch.load(Ordering::SeqCst);
        if epoch != seen {
            self.reload_caches().await?;
            self.inner
                .replication
                .seen_epoch
                .store(epoch, Ordering::SeqCst);
            report.reloaded = true;
        }
        let now = self.now();
        let due = {
            let last = self
                .inner
                .replication
                .last_presence_merge
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            last.is_none_or(|t| now.since(t) >= self.inner.config.presence_merge_interval)
        };
        if due {
            let states = self.stored_states().await?;
            report.presence_merged = self.inner.fleet.merge_states(&states);
            *self
                .inner
                .replication
                .last_presence_merge
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(now);
        }
        Ok(report)
    }

    async fn stored_states(&self) -> Result<HashMap<NodeId, NodeState>> {
        let mut states = HashMap::new();
        self.inner
            .store
            .for_each_record(Collection::NodeStates, |s| {
                if let Record::NodeState(st) = s.record {
                    states.insert(st.node_id, st);
                }
            })
            .await?;
        Ok(states)
    }

    /// Reloads every cache another replica's change can affect, then recomputes targets.
    async fn reload_caches(&self) -> Result<()> {
        let store = self.inner.store.as_ref();
        let mut nodes: Vec<Versioned<crate::model::Node>> = Vec::new();
        store
            .for_each_record(Collection::Nodes, |s| {
                if let Record::Node(n) = s.record {
                    nodes.push(Versioned {
                        revision: s.revision,
                        value: n,
                    });
                }
            })
            .await?;
        let states = self.stored_states().await?;
        self.inner.fleet.refresh_nodes(nodes, &states);
        self.inner.keys.replace_with(KeyCache::load(store).await?);
        self.inner
            .catalog
            .replace_with(CatalogState::load(store).await?);
        self.inner
            .node_deployments
            .replace_with(NodeDeployments::load(store).await?);
        self.inner
            .commands
            .replace_with(OpenCommands::load(store).await?);
        let changed = self.retarget(super::Affected::All);
        tracing::debug!(
            nodes_retargeted = changed,
            "caches reloaded after another replica's change"
        );
        Ok(())
    }

    /// Takes or renews the job lease; returns whether this replica holds it now.
    pub(super) async fn hold_job_lease(&self) -> Result<bool> {
        let me = &self.inner.replication.replica_id;
        let now = self.now();
        let lease = Setting::JobLease(JobLease {
            holder: me.clone(),
            expires_at: now.plus(self.inner.config.lease_ttl),
        });
        let current = self.inner.store.get(&lease_key()).await?;
        let write = match current {
            None => Write::Put {
                record: Record::Setting(lease),
                expect: Expect::Absent,
            },
            Some(stored) => {
                let held_by_other = match &stored.record {
                    Record::Setting(Setting::JobLease(l)) => l.holder != *me && l.expires_at > now,
                    _ => false,
                };
                if held_by_other {
                    self.inner.replication.leader.store(false, Ordering::SeqCst);
                    return Ok(false);
                }
                Write::update(Record::Setting(lease), stored.revision)
            }
        };
        let held = match self.inner.store.commit(&[write]).await {
            Ok(_) => true,
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::RevisionConflict | ErrorCode::AlreadyExists
                ) =>
            {
                false
            }
            Err(e) => return Err(e),
        };
        let was = self.inner.replication.leader.swap(held, Ordering::SeqCst);
        if held != was {
            tracing::info!(replica = %me, leader = held, "job lease changed hands");
        }
        Ok(held)
    }
}
