//! The in-memory view of the fleet: every node, its reported state and presence.
//!
//! Heartbeats only touch this table; a maintenance pass writes changes behind in batches
//! (bounded lag), so the store sees the fleet's real changes, not its chatter. A server that
//! runs alone writes a node's state only when what it runs changes (or its status), and its
//! presence (last sighting, resource usage) in buckets of many nodes
//! ([`PresenceBucket`](crate::model::PresenceBucket)); replicas write each node's state, which
//! they merge. Node tokens are checked against the credential generation held here, without a
//! store read.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use super::presence::PresenceChanges;
use crate::error::Result;
use crate::model::{
    Node, NodeId, NodeState, NodeStatus, PRESENCE_BUCKETS, PresenceBucket, PresenceEntry,
    ReportedState, Timestamp, presence_bucket,
};
use crate::store::{Collection, Record, Store, StoreExt, Versioned};

#[derive(Clone, Debug)]
pub(super) struct NodeEntry {
    pub(super) node: Versioned<Node>,
    pub(super) state: NodeState,
    /// Bumped on every in-memory change of `state`; a flush clears `dirty` only if unchanged.
    change: u64,
    dirty: bool,
}

#[derive(Debug, Default)]
pub(super) struct Fleet {
    /// Boxed: the table's spare capacity (up to half of it after it doubles) then costs a
    /// pointer per slot, not a whole entry.
    nodes: RwLock<HashMap<NodeId, Box<NodeEntry>>>,
    /// Which presence buckets to write; `None` on replicas, which write whole states.
    presence: Option<PresenceChanges>,
}

impl Fleet {
    /// Loads every node, its state and its presence. With `buckets` (a server that runs alone),
    /// sightings that change nothing else are written as presence buckets.
    pub(super) async fn load(store: &dyn Store, buckets: bool) -> Result<Self> {
        let mut states: HashMap<NodeId, NodeState> = HashMap::new();
        store
            .for_each_record(Collection::NodeStates, |s| {
                if let Record::NodeState(state) = s.record {
                    states.insert(state.node_id, state);
                }
            })
            .await?;
        let mut nodes = HashMap::with_capacity(states.len());
        store
            .for_each_record(Collection::Nodes, |s| {
                if let Record::Node(node) = s.record {
                    let state = states
                        .remove(&node.id)
                        .unwrap_or_else(|| NodeState::new(node.id));
                    nodes.insert(
                        node.id,
                        Box::new(NodeEntry {
                            node: Versioned {
                                revision: s.revision,
                                value: node,
                            },
                            state,
                            change: 0,
                            dirty: false,
                        }),
                    );
                }
            })
            .await?;
        drop(states);
        // The later of a node's state and its presence entry is its last sighting.
        store
            .for_each_record(Collection::Presence, |s| {
                let Record::Presence(bucket) = s.record else {
                    return;
                };
                for seen in bucket.entries {
                    if let Some(entry) = nodes.get_mut(&seen.node_id)
                        && entry.state.last_seen_at < Some(seen.last_seen_at)
                    {
                        entry.state.last_seen_at = Some(seen.last_seen_at);
                        entry.state.reported.resources = seen.resources;
                    }
                }
            })
            .await?;
        Ok(Self {
            nodes: RwLock::new(nodes),
            presence: buckets.then(PresenceChanges::default),
        })
    }

    /// A copy of node `id`'s entry.
    pub(super) fn get(&self, id: NodeId) -> Option<NodeEntry> {
        self.read().get(&id).map(|e| NodeEntry::clone(e))
    }

    /// `f` of node `id`'s entry, read in place: no copy (authentication runs this on every
    /// node request).
    pub(super) fn inspect<R>(&self, id: NodeId, f: impl FnOnce(&NodeEntry) -> R) -> Option<R> {
        self.read().get(&id).map(|e| f(e))
    }

    /// `f` for each of `ids` with its entry (`None`: not registered), read in place under one
    /// read lock: for passes over many nodes, which take the lock once per slice of them rather
    /// than once per node.
    pub(super) fn inspect_each(
        &self,
        ids: &[NodeId],
        mut f: impl FnMut(NodeId, Option<&NodeEntry>),
    ) {
        let nodes = self.read();
        for id in ids {
            f(*id, nodes.get(id).map(|e| &**e));
        }
    }

    /// Whether node `id` is registered.
    pub(super) fn contains(&self, id: NodeId) -> bool {
        self.read().contains_key(&id)
    }

    /// `f` over every entry, read in place under one read lock (no copies): for listings and
    /// counts over a fleet of 100,000 nodes. Keep `f` short: heartbeats wait for it.
    pub(super) fn scan<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &NodeEntry>) -> R) -> R {
        let nodes = self.read();
        let mut entries = nodes.values().map(|e| &**e);
        f(&mut entries)
    }

    /// Copies every entry (for a deployment preview, which computes whole targets: too long to
    /// hold the read lock for).
    pub(super) fn snapshot(&self) -> Vec<NodeEntry> {
        self.read().values().map(|e| NodeEntry::clone(e)).collect()
    }

    /// `f` over the whole table under one read lock: for computations over many nodes that
    /// would otherwise copy them out first (the targets of the fleet).
    pub(super) fn with_table<R>(&self, f: impl FnOnce(&HashMap<NodeId, Box<NodeEntry>>) -> R) -> R {
        f(&self.read())
    }

    /// Copies of the node records that satisfy `pred` (without their presence), taken under
    /// one read lock.
    pub(super) fn nodes_where(&self, pred: impl Fn(&Node) -> bool) -> Vec<Node> {
        self.read()
            .values()
            .map(|e| &e.node.value)
            .filter(|n| pred(n))
            .cloned()
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.read().len()
    }

    /// Adds a freshly registered node.
    pub(super) fn insert(&self, node: Versioned<Node>, state: NodeState) {
        self.write().insert(
            node.value.id,
            Box::new(NodeEntry {
                node,
                state,
                change: 0,
                dirty: false,
            }),
        );
    }

    /// Replaces a node's record if `node` is newer than what is cached.
    pub(super) fn update_node(&self, node: Versioned<Node>) {
        let mut nodes = self.write();
        if let Some(entry) = nodes.get_mut(&node.value.id)
            && entry.node.revision < node.revision
        {
            entry.node = node;
        }
    }

    /// Takes node records (identity, labels, lifecycle, credential generation) reloaded from the
    /// store, keeping this replica's presence; adds nodes registered elsewhere.
    pub(super) fn refresh_nodes(
        &self,
        nodes: Vec<Versioned<Node>>,
        states: &HashMap<NodeId, NodeState>,
    ) {
        let mut map = self.write();
        for node in nodes {
            let id = node.value.id;
            match map.get_mut(&id) {
                Some(entry) => {
                    if entry.node.revision < node.revision {
                        entry.node = node;
                    }
                }
                None => {
                    let state = states
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| NodeState::new(id));
                    map.insert(
                        id,
                        Box::new(NodeEntry {
                            node,
                            state,
                            change: 0,
                            dirty: false,
                        }),
                    );
                }
            }
        }
    }

    /// Merges node states other replicas wrote: a later sign of life (and the report that came
    /// with it) wins; nothing becomes dirty.
    pub(super) fn merge_states(&self, states: &HashMap<NodeId, NodeState>) -> usize {
        let mut merged = 0;
        for (id, stored) in states {
            let mut map = self.write();
            let Some(entry) = map.get_mut(id) else {
                continue;
            };
            if entry.dirty {
                continue;
            }
            if stored.last_seen_at > entry.state.last_seen_at {
                entry.state.last_seen_at = stored.last_seen_at;
                entry.state.reported = stored.reported.clone();
                merged += 1;
            }
        }
        merged
    }

    /// Records a sign of life, and the node's report if it sent one. Returns the node's status
    /// now that it was seen, or `None` for an unknown node.
    pub(super) fn touch(
        &self,
        id: NodeId,
        now: Timestamp,
        reported: Option<ReportedState>,
    ) -> Option<NodeStatus> {
        let mut nodes = self.write();
        let entry = nodes.get_mut(&id)?;
        entry.state.last_seen_at = Some(now);
        let mut news = false;
        if let Some(r) = reported {
            news = !entry.state.reported.same_inventory(&r);
            entry.state.reported = r;
        }
        match &self.presence {
            Some(presence) if !news => presence.mark(presence_bucket(id)),
            _ => {
                entry.change += 1;
                entry.dirty = true;
            }
        }
        Some(NodeStatus::derive(entry.node.value.lifecycle, true))
    }

    /// Records a state that was just written to the store (by an ack): not dirty afterwards,
    /// unless a heartbeat changes it again.
    pub(super) fn set_persisted(&self, id: NodeId, state: NodeState) {
        let mut nodes = self.write();
        if let Some(entry) = nodes.get_mut(&id) {
            entry.state = state;
            entry.change += 1;
            entry.dirty = false;
        }
    }

    /// Re-derives every node's status at `now`; marks the changed ones for writing.
    /// Only the replica holding the job lease (`persist`) writes status changes; the others
    /// keep them in memory.
    pub(super) fn refresh_statuses(
        &self,
        now: Timestamp,
        offline_after: std::time::Duration,
        persist: bool,
    ) -> usize {
        // Found under the read lock, which requests share, and changed under the write lock
        // only when some status did change: a pass over a large fleet that changes nothing
        // (almost every pass) holds no request up.
        let changed: Vec<NodeId> = self
            .read()
            .values()
            .filter(|e| derive_status(e, now, offline_after) != e.state.status)
            .map(|e| e.state.node_id)
            .collect();
        if !persist || changed.is_empty() {
            // The stored status is the lease holder's to write; views derive it anyway.
            return changed.len();
        }
        let mut nodes = self.write();
        let mut count = 0;
        for id in changed {
            // Seen again (or removed) since the read pass: re-derived here.
            let Some(entry) = nodes.get_mut(&id) else {
                continue;
            };
            let status = derive_status(entry, now, offline_after);
            if status != entry.state.status {
                entry.state.status = status;
                entry.change += 1;
                entry.dirty = true;
                count += 1;
            }
        }
        count
    }

    /// The states that changed since they were last written, with their change counters.
    pub(super) fn dirty_states(&self) -> Vec<(NodeState, u64)> {
        self.read()
            .values()
            .filter(|e| e.dirty)
            .map(|e| (e.state.clone(), e.change))
            .collect()
    }

    /// The presence buckets that changed since they were last written, each with the counter to
    /// hand back to [`Self::presence_written`] (none on replicas).
    pub(super) fn pending_presence(&self) -> Vec<(u16, u64)> {
        self.presence
            .as_ref()
            .map(PresenceChanges::pending)
            .unwrap_or_default()
    }

    /// Records presence buckets as written.
    pub(super) fn presence_written(&self, buckets: &[(u16, u64)]) {
        if let Some(presence) = &self.presence {
            presence.written(buckets);
        }
    }

    /// The presence buckets `buckets`, built from every node seen, in one pass under the read
    /// lock.
    pub(super) fn presence_buckets(&self, buckets: &[(u16, u64)]) -> Vec<PresenceBucket> {
        let mut slot = vec![None; usize::from(PRESENCE_BUCKETS)];
        let mut out: Vec<PresenceBucket> = buckets
            .iter()
            .enumerate()
            .map(|(i, &(bucket, _))| {
                slot[usize::from(bucket)] = Some(i);
                PresenceBucket {
                    bucket,
                    entries: Vec::new(),
                }
            })
            .collect();
        for (id, entry) in self.read().iter() {
            if let (Some(i), Some(seen)) = (
                slot[usize::from(presence_bucket(*id))],
                entry.state.last_seen_at,
            ) {
                out[i].entries.push(PresenceEntry {
                    node_id: *id,
                    last_seen_at: seen,
                    resources: entry.state.reported.resources.clone(),
                });
            }
        }
        out
    }

    /// Marks states as written, unless they changed again meanwhile.
    pub(super) fn mark_clean(&self, written: &[(NodeId, u64)]) {
        let mut nodes = self.write();
        for (id, change) in written {
            if let Some(entry) = nodes.get_mut(id)
                && entry.change == *change
            {
                entry.dirty = false;
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<NodeId, Box<NodeEntry>>> {
        self.nodes.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<NodeId, Box<NodeEntry>>> {
        self.nodes.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The status of a node at `now`: lifecycle first, then presence.
pub(super) fn derive_status(
    entry: &NodeEntry,
    now: Timestamp,
    offline_after: std::time::Duration,
) -> NodeStatus {
    let seen_recently = entry
        .state
        .last_seen_at
        .is_some_and(|seen| now.since(seen) < offline_after);
    NodeStatus::derive(entry.node.value.lifecycle, seen_recently)
}
