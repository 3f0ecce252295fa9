//! Typed conveniences on top of [`Store`]; implementors never override them.

use async_trait::async_trait;

use super::{Collection, ListQuery, Record, RecordKey, Store, Stored};
use crate::error::{Error, Result};
use crate::model::*;

/// A typed record with its revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    /// The store revision of the record.
    pub revision: u64,
    /// The record.
    pub value: T,
}

fn typed<T>(
    stored: Option<Stored>,
    extract: fn(Record) -> Option<T>,
    what: &str,
) -> Result<Option<Versioned<T>>> {
    match stored {
        None => Ok(None),
        Some(Stored { revision, record }) => {
            let kind = record.kind();
            extract(record)
                .map(|value| Some(Versioned { revision, value }))
                .ok_or_else(|| {
                    Error::internal(format!("store returned a {kind:?} record for a {what} key"))
                })
        }
    }
}

/// Typed reads and full listings for any [`Store`].
#[async_trait]
pub trait StoreExt: Store {
    /// Reads a node.
    async fn get_node(&self, id: NodeId) -> Result<Option<Versioned<Node>>> {
        let stored = self.get(&RecordKey::Node { id }).await?;
        typed(
            stored,
            |r| match r {
                Record::Node(v) => Some(v),
                _ => None,
            },
            "Node",
        )
    }

    /// Reads a node's reported state.
    async fn get_node_state(&self, node_id: NodeId) -> Result<Option<Versioned<NodeState>>> {
        let stored = self.get(&RecordKey::NodeState { node_id }).await?;
        typed(
            stored,
            |r| match r {
                Record::NodeState(v) => Some(v),
                _ => None,
            },
            "NodeState",
        )
    }

    /// Reads a function.
    async fn get_function(&self, id: FunctionId) -> Result<Option<Versioned<Function>>> {
        let stored = self.get(&RecordKey::Function { id }).await?;
        typed(
            stored,
            |r| match r {
                Record::Function(v) => Some(v),
                _ => None,
            },
            "Function",
        )
    }

    /// Reads a function version.
    async fn get_function_version(
        &self,
        function_id: FunctionId,
        version: u32,
    ) -> Result<Option<Versioned<FunctionVersion>>> {
        let stored = self
            .get(&RecordKey::FunctionVersion {
                function_id,
                version,
            })
            .await?;
        typed(
            stored,
            |r| match r {
                Record::FunctionVersion(v) => Some(v),
                _ => None,
            },
            "FunctionVersion",
        )
    }

    /// Reads a deployment.
    async fn get_deployment(&self, id: DeploymentId) -> Result<Option<Versioned<Deployment>>> {
        let stored = self.get(&RecordKey::Deployment { id }).await?;
        typed(
            stored,
            |r| match r {
                Record::Deployment(v) => Some(v),
                _ => None,
            },
            "Deployment",
        )
    }

    /// Reads an API key.
    async fn get_api_key(&self, id: ApiKeyId) -> Result<Option<Versioned<ApiKey>>> {
        let stored = self.get(&RecordKey::ApiKey { id }).await?;
        typed(
            stored,
            |r| match r {
                Record::ApiKey(v) => Some(v),
                _ => None,
            },
            "ApiKey",
        )
    }

    /// Hands every record of a collection to `visit`, page by page in ascending key order,
    /// with one page in memory at a time: what loads the fleet at start-up, where reading a
    /// 100,000-node collection into one `Vec` first would add that `Vec` to the peak.
    async fn for_each_record<F>(&self, collection: Collection, mut visit: F) -> Result<()>
    where
        F: FnMut(Stored) + Send,
    {
        let mut query = ListQuery::all(collection);
        loop {
            let page = self.list(&query).await?;
            page.items.into_iter().for_each(&mut visit);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Reads every record of a collection, page by page, in ascending key order.
    async fn list_all(&self, collection: Collection) -> Result<Vec<Stored>> {
        let mut out = Vec::new();
        self.for_each_record(collection, |s| out.push(s)).await?;
        Ok(out)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
