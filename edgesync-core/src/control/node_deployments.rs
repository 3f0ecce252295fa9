//! Per-node deployment states, in memory (loaded once, updated after every commit that writes
//! them): the deployment detail view and acks read them without a store scan.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock};

use crate::error::Result;
use crate::model::{DeploymentId, NodeDeployment, NodeId};
use crate::store::{Collection, Record, Store, StoreExt, Versioned};

#[derive(Debug, Default)]
struct Index {
    by_key: HashMap<(DeploymentId, NodeId), Versioned<NodeDeployment>>,
    by_node: HashMap<NodeId, BTreeSet<DeploymentId>>,
    by_deployment: HashMap<DeploymentId, BTreeSet<NodeId>>,
}

#[derive(Debug, Default)]
pub(super) struct NodeDeployments {
    index: RwLock<Index>,
}

impl NodeDeployments {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let this = Self::default();
        let mut loaded = Vec::new();
        for s in store
            .list_all(Collection::NodeDeployments {
                deployment_id: None,
            })
            .await?
        {
            if let Record::NodeDeployment(nd) = s.record {
                loaded.push(Versioned {
                    revision: s.revision,
                    value: nd,
                });
            }
        }
        this.put_all(loaded);
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
