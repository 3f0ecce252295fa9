//! Every node's current target, kept in memory with its revision, and a watch channel per node
//! that wakes long polls when the revision changes. Unchanged polls are answered from here
//! without touching the store.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

use crate::desired::{Catalog, NodeTarget};
use crate::model::{InstallFunction, Node, NodeId, NodeLifecycle};
use crate::notify::{Notification, Notifier};

/// The revision draining nodes report: their target is frozen to what they run.
pub(super) const DRAINING_REVISION: &str = "draining";

struct Entry {
    target: Arc<NodeTarget>,
    draining: bool,
    revision: watch::Sender<String>,
}

#[derive(Default)]
pub(super) struct Targets {
    nodes: RwLock<HashMap<NodeId, Entry>>,
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
            .map(|e| e.revision.borrow().clone())
    }

    /// A receiver that sees every revision change of the node.
    pub(super) fn subscribe(&self, node: NodeId) -> Option<watch::Receiver<String>> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|e| e.revision.subscribe())
    }

    /// Recomputes the targets of `nodes`; returns the ids whose revision changed, and the
    /// installs each node's target gained (for `deploy` notifications).
    pub(super) fn recompute<'a>(
        &self,
        nodes: impl IntoIterator<Item = &'a Node>,
        catalog: &Catalog,
        notifier: &dyn Notifier,
    ) -> (Vec<NodeId>, Vec<(NodeId, InstallFunction)>) {
        let nodes: Vec<&Node> = nodes.into_iter().collect();
        let draining: std::collections::HashSet<NodeId> = nodes
            .iter()
            .filter(|n| n.lifecycle == NodeLifecycle::Draining)
            .map(|n| n.id)
            .collect();
        let computed: Vec<(NodeId, Arc<NodeTarget>, bool)> =
            crate::desired::targets_for(nodes, catalog)
                .into_iter()
                .map(|(id, t)| (id, t, draining.contains(&id)))
                .collect();
        let mut changed = Vec::new();
        let mut gained = Vec::new();
        let mut map = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        for (id, target, draining) in computed {
            let revision = if draining {
                DRAINING_REVISION.to_owned()
            } else {
                target.revision.clone()
            };
            let before = map.get(&id).map(|e| (e.target.clone(), e.draining));
            if !draining {
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
                    entry.target = target;
                    entry.draining = draining;
                    if *entry.revision.borrow() != revision {
                        entry.revision.send_replace(revision.clone());
                        changed.push(id);
                    }
                }
                None => {
                    let (tx, _) = watch::channel(revision.clone());
                    map.insert(
                        id,
                        Entry {
                            target,
                            draining,
                            revision: tx,
                        },
                    );
                    changed.push(id);
                }
            }
        }
        drop(map);
        for id in &changed {
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
