//! Per-node deployment states, in memory (loaded once, updated after every commit that writes
//! them): the deployment detail view and acks read them without a store scan.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use crate::error::Result;
use crate::model::{DeploymentId, NodeDeployment, NodeDeploymentState, NodeId};
use crate::store::{Collection, Record, Store, StoreExt, Versioned};

#[derive(Debug, Default)]
struct Index {
    by_key: HashMap<(DeploymentId, NodeId), Versioned<NodeDeployment>>,
    by_node: HashMap<NodeId, BTreeSet<DeploymentId>>,
    by_deployment: HashMap<DeploymentId, BTreeSet<NodeId>>,
    /// The nodes whose state is `Failed`, per deployment: the rollout pass looks at these every
    /// second, and there are few of them.
    failed: HashMap<DeploymentId, HashSet<NodeId>>,
}

#[derive(Debug, Default)]
pub(super) struct NodeDeployments {
    index: RwLock<Index>,
}

impl NodeDeployments {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let this = Self::default();
        store
            .for_each_record(
                Collection::NodeDeployments {
                    deployment_id: None,
                },
                |s| {
                    if let Record::NodeDeployment(nd) = s.record {
                        this.put_all([Versioned {
                            revision: s.revision,
                            value: nd,
                        }]);
                    }
                },
            )
            .await?;
        Ok(this)
    }

    /// Replaces everything with a fresh load.
    pub(super) fn replace_with(&self, fresh: NodeDeployments) {
        let index = fresh
            .index
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = index;
    }

    /// Records states written by a successful commit.
    pub(super) fn put_all(&self, states: impl IntoIterator<Item = Versioned<NodeDeployment>>) {
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for s in states {
            let key = (s.value.deployment_id, s.value.node_id);
            index.by_node.entry(key.1).or_default().insert(key.0);
            index.by_deployment.entry(key.0).or_default().insert(key.1);
            if s.value.state == NodeDeploymentState::Failed {
                index.failed.entry(key.0).or_default().insert(key.1);
            } else if let Some(failed) = index.failed.get_mut(&key.0) {
                failed.remove(&key.1);
            }
            index.by_key.insert(key, s);
        }
    }

    pub(super) fn get(
        &self,
        deployment: DeploymentId,
        node: NodeId,
    ) -> Option<Versioned<NodeDeployment>> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .get(&(deployment, node))
            .cloned()
    }

    /// Whether some node's state for `deployment` is `Failed`.
    pub(super) fn any_failed(&self, deployment: DeploymentId) -> bool {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.failed.get(&deployment).is_some_and(|f| !f.is_empty())
    }

    /// The nodes whose state for `deployment` is `Failed`, with how many times each tried.
    pub(super) fn failed(&self, deployment: DeploymentId) -> HashMap<NodeId, u32> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index
            .failed
            .get(&deployment)
            .into_iter()
            .flatten()
            .filter_map(|n| Some((*n, index.by_key.get(&(deployment, *n))?.value.attempts)))
            .collect()
    }

    /// Every state of one node.
    pub(super) fn of_node(&self, node: NodeId) -> Vec<Versioned<NodeDeployment>> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index
            .by_node
            .get(&node)
            .into_iter()
            .flatten()
            .filter_map(|d| index.by_key.get(&(*d, node)).cloned())
            .collect()
    }

    /// Every state of one deployment.
    pub(super) fn of_deployment(&self, deployment: DeploymentId) -> Vec<Versioned<NodeDeployment>> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index
            .by_deployment
            .get(&deployment)
            .into_iter()
            .flatten()
            .filter_map(|n| index.by_key.get(&(deployment, *n)).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn state(
        deployment_id: DeploymentId,
        node_id: NodeId,
        state: NodeDeploymentState,
        attempts: u32,
    ) -> Versioned<NodeDeployment> {
        Versioned {
            revision: u64::from(attempts) + 1,
            value: NodeDeployment {
                deployment_id,
                node_id,
                state,
                error: None,
                error_code: None,
                attempts,
                updated_at: Timestamp::from_unix_millis(0),
            },
        }
    }

    #[test]
    fn failed_nodes_are_indexed_until_they_recover() {
        let nds = NodeDeployments::default();
        let (d, other) = (DeploymentId::random(), DeploymentId::random());
        let (a, b) = (NodeId::random(), NodeId::random());
        nds.put_all([
            state(d, a, NodeDeploymentState::Failed, 2),
            state(d, b, NodeDeploymentState::Installing, 1),
            state(other, b, NodeDeploymentState::Failed, 1),
        ]);
        assert!(nds.any_failed(d));
        assert_eq!(nds.failed(d), HashMap::from([(a, 2)]));

        nds.put_all([state(d, a, NodeDeploymentState::Active, 3)]);
        assert!(!nds.any_failed(d), "recovered");
        assert!(nds.failed(d).is_empty());
        assert_eq!(nds.failed(other), HashMap::from([(b, 1)]), "per deployment");
        assert!(!nds.any_failed(DeploymentId::random()));
    }
}
