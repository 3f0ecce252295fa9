//! Every node's current target, kept in memory with its revision, and the wake-ups of long
//! polls when a revision changes. Unchanged polls are answered from here without touching the
//! store.
//!
//! Long polls wait on one of [`WAKE_SHARDS`] shared notifiers (the node's id picks it), not on
//! a channel per node: a channel is a few hundred bytes, times every node of the fleet, to wake
//! the few that hold a poll. A change wakes every poll of its shard, and each checks its own
//! node's revision before waiting again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::desired::{Catalog, NodeTarget};
use crate::model::{InstallFunction, Node, NodeId, NodeLifecycle};
use crate::notify::{Notification, Notifier};

/// The revision draining nodes report: their target is frozen to what they run.
pub(super) const DRAINING_REVISION: &str = "draining";

/// A node's freshly computed target, and whether the node is draining.
pub(super) type Computed = (NodeId, Arc<NodeTarget>, bool);

/// Whether [`Targets::apply`] tells anyone about what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Announce {
    /// Publish the nodes whose revision moved and collect the installs they gained.
    Changes,
    /// Install the targets only.
    Nothing,
}

/// Notifiers long polls wait on.
const WAKE_SHARDS: usize = 1024;

struct Entry {
    target: Arc<NodeTarget>,
    draining: bool,
}

impl Entry {
    /// The revision a poll compares against: the target's, or [`DRAINING_REVISION`].
    fn revision(&self) -> &str {
        if self.draining {
            DRAINING_REVISION
        } else {
            &self.target.revision
        }
    }
}

/// Distinct targets remembered for sharing (see [`Targets::share`]).
const SHARED_TARGETS: usize = 4096;

pub(super) struct Targets {
    nodes: RwLock<HashMap<NodeId, Entry>>,
    wake: Box<[Notify]>,
    /// Recently computed targets by revision, so nodes targeted one at a time (registrations)
    /// share one copy of an equal target instead of holding one each.
    shared: std::sync::Mutex<HashMap<String, Arc<NodeTarget>>>,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            nodes: RwLock::default(),
            wake: (0..WAKE_SHARDS).map(|_| Notify::new()).collect(),
            shared: std::sync::Mutex::default(),
        }
    }
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Targets").finish_non_exhaustive()
    }
}

impl Targets {
    /// The node's target and whether it is draining (frozen).
    pub(super) fn get(&self, node: NodeId) -> Option<(Arc<NodeTarget>, bool)> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|e| (e.target.clone(), e.draining))
    }

    /// The revision a poll compares against.
    pub(super) fn revision(&self, node: NodeId) -> Option<String> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|e| e.revision().to_owned())
    }

    /// An equal target already in use, if one was seen recently, or `target`, remembered.
    fn share(&self, target: Arc<NodeTarget>) -> Arc<NodeTarget> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = shared.get(&target.revision)
            && (Arc::ptr_eq(known, &target) || **known == *target)
        {
            return known.clone();
        }
        if shared.len() >= SHARED_TARGETS {
            shared.clear();
        }
        shared.insert(target.revision.clone(), target.clone());
        target
    }

    /// Whether the node's revision is still `known` (`None`: no such node).
    fn is_still(&self, node: NodeId, known: &str) -> Option<bool> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|e| e.revision() == known)
    }

    /// The notifier a long poll of `node` waits on.
    fn shard(node: NodeId) -> usize {
        let bytes = node.as_uuid().as_bytes();
        (usize::from(bytes[14]) << 8 | usize::from(bytes[15])) % WAKE_SHARDS
    }

    /// Waits until the node's revision is no longer `known` or `timeout` passes; returns at once
    /// for an unknown node.
    pub(super) async fn wait_for_change(&self, node: NodeId, known: &str, timeout: Duration) {
        let shard = &self.wake[Self::shard(node)];
        let wait = async {
            loop {
                // Registered before the check, so a change right after it still wakes us.
                let notified = shard.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.is_still(node, known) != Some(true) {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }

    /// The targets of `nodes`, computed without taking any lock of this table: callers run it
    /// under the fleet's read lock, over the nodes in place, rather than copy them out first.
    pub(super) fn compute<'a>(
        nodes: impl IntoIterator<Item = &'a Node>,
        catalog: &Catalog,
    ) -> Vec<Computed> {
        let mut draining = HashSet::new();
        let nodes = nodes.into_iter().inspect(|n| {
            if n.lifecycle == NodeLifecycle::Draining {
                draining.insert(n.id);
            }
        });
        let targets = crate::desired::targets_for(nodes, catalog);
        targets
            .into_iter()
            .map(|(id, t)| (id, t, draining.contains(&id)))
            .collect()
    }

    /// Installs computed targets; returns the ids whose revision changed, and the installs
    /// each node's target gained. With [`Announce::Changes`] the changed nodes are published
    /// (`sync`) and the gains returned for `deploy` notifications; with [`Announce::Nothing`]
    /// (the first computation at start-up, when nothing changed for the nodes themselves) no
    /// gains are collected and nothing is published.
    pub(super) fn apply(
        &self,
        computed: Vec<Computed>,
        notifier: &dyn Notifier,
        announce: Announce,
    ) -> (Vec<NodeId>, Vec<(NodeId, InstallFunction)>) {
        let announcing = announce == Announce::Changes;
        let mut changed = Vec::new();
        let mut gained = Vec::new();
        let mut map = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        for (id, target, draining) in computed {
            let target = self.share(target);
            let revision: &str = if draining {
                DRAINING_REVISION
            } else {
                &target.revision
            };
            if announcing && !draining {
                let before = map.get(&id).map(|e| (&e.target, e.draining));
                for install in target.functions.values() {
                    let had = before.as_ref().is_some_and(|(t, was_draining)| {
                        !was_draining
                            && t.functions
                                .get(&install.function_id)
                                .is_some_and(|i| i.version == install.version)
                    });
                    if !had {
                        gained.push((id, install.clone()));
                    }
                }
            }
            match map.get_mut(&id) {
                Some(entry) => {
                    let moved = entry.revision() != revision;
                    entry.target = target;
                    entry.draining = draining;
                    if moved {
                        changed.push(id);
                    }
                }
                None => {
                    map.insert(id, Entry { target, draining });
                    changed.push(id);
                }
            }
        }
        drop(map);
        let shards: BTreeSet<usize> = changed.iter().map(|id| Self::shard(*id)).collect();
        for shard in shards {
            self.wake[shard].notify_waiters();
        }
        for id in changed.iter().filter(|_| announcing) {
            if let Some(rev) = self.revision(*id) {
                notifier.publish(Notification {
                    topic: format!("edgesync/nodes/{id}/sync"),
                    payload: Bytes::from(
                        serde_json::json!({ "node_id": id, "revision": rev }).to_string(),
                    ),
                });
            }
        }
        (changed, gained)
    }

    /// Every node whose target runs one of `functions`.
    pub(super) fn nodes_with_functions(
        &self,
        functions: &[crate::model::FunctionId],
    ) -> std::collections::HashSet<NodeId> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, e)| functions.iter().any(|f| e.target.functions.contains_key(f)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every node whose target names `deployment` for some function.
    pub(super) fn nodes_targeted_by(
        &self,
        deployment: crate::model::DeploymentId,
    ) -> Vec<(NodeId, u32)> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, e)| !e.draining)
            .filter_map(|(id, e)| {
                e.target
                    .functions
                    .values()
                    .find(|i| i.deployment_id == deployment)
                    .map(|i| (*id, i.version))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::notify::InProcessNotifier;
    use crate::testkit::fixtures;

    /// Computes and installs the targets of `nodes`, announcing the changes.
    fn recompute<'a>(
        targets: &Targets,
        nodes: impl IntoIterator<Item = &'a Node>,
        catalog: &Catalog,
        notifier: &dyn Notifier,
    ) -> (Vec<NodeId>, Vec<(NodeId, InstallFunction)>) {
        targets.apply(
            Targets::compute(nodes, catalog),
            notifier,
            Announce::Changes,
        )
    }

    /// Two nodes whose ids pick the same wake-up shard.
    fn neighbours() -> (Node, Node) {
        let mut a = fixtures::node("a");
        let mut b = fixtures::node("b");
        let mut bytes = *a.id.as_uuid().as_bytes();
        a.id = NodeId::from_uuid(uuid::Uuid::from_bytes(bytes));
        bytes[0] ^= 0xff;
        b.id = NodeId::from_uuid(uuid::Uuid::from_bytes(bytes));
        assert_eq!(Targets::shard(a.id), Targets::shard(b.id));
        (a, b)
    }

    #[tokio::test]
    async fn a_change_wakes_its_node_and_not_the_others_of_its_shard() {
        let targets = Targets::default();
        let notifier = InProcessNotifier::new(16);
        let catalog = Catalog::default();
        let (mut a, b) = neighbours();
        recompute(&targets, [&a, &b], &catalog, &notifier);
        let known = targets.revision(a.id).unwrap();
        assert_eq!(targets.revision(b.id).unwrap(), known);

        let started = Instant::now();
        let wait_a = targets.wait_for_change(a.id, &known, Duration::from_secs(5));
        let wait_b = targets.wait_for_change(b.id, &known, Duration::from_millis(400));
        let change = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            a.lifecycle = NodeLifecycle::Draining;
            let (changed, _) = recompute(&targets, [&a], &catalog, &notifier);
            assert_eq!(changed, vec![a.id]);
        };
        let woke_a = async {
            wait_a.await;
            started.elapsed()
        };
        let woke_b = async {
            wait_b.await;
            started.elapsed()
        };
        let (a_after, b_after, ()) = tokio::join!(woke_a, woke_b, change);
        assert!(a_after < Duration::from_millis(300), "{a_after:?}");
        assert!(b_after >= Duration::from_millis(400), "{b_after:?}");
        assert_eq!(targets.revision(a.id).unwrap(), DRAINING_REVISION);
        assert_eq!(targets.revision(b.id).unwrap(), known);
    }

    #[test]
    fn nodes_targeted_one_at_a_time_share_an_equal_target() {
        let targets = Targets::default();
        let notifier = InProcessNotifier::new(4);
        let (a, b) = neighbours();
        recompute(&targets, [&a], &Catalog::default(), &notifier);
        recompute(&targets, [&b], &Catalog::default(), &notifier);
        let (ta, _) = targets.get(a.id).unwrap();
        let (tb, _) = targets.get(b.id).unwrap();
        assert!(Arc::ptr_eq(&ta, &tb));
    }

    #[tokio::test]
    async fn waiting_on_an_unknown_node_or_a_stale_revision_returns_at_once() {
        let targets = Targets::default();
        let started = Instant::now();
        targets
            .wait_for_change(NodeId::random(), "r", Duration::from_secs(5))
            .await;
        let (a, _) = neighbours();
        recompute(
            &targets,
            [&a],
            &Catalog::default(),
            &InProcessNotifier::new(4),
        );
        targets
            .wait_for_change(a.id, "not-the-revision", Duration::from_secs(5))
            .await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
