//! The background jobs: a slow telemetry-retention pass must not hold up the write-behind
//! that makes heartbeats durable within a second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edgesync_core::control::Config;
use edgesync_core::model::*;
use edgesync_core::selector::Labels;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{
    Collection, ListQuery, Page, Record, RecordKey, Store, StoreExt, Stored, UniqueIndex, Write,
};
use edgesync_core::testkit::{MemArtifacts, fixtures};
use edgesync_core::{EdgeSync, Result};
use edgesync_server::jobs;
use tokio_util::sync::CancellationToken;

/// A memory store whose telemetry listings take `delay` each: a fleet's millions of points.
#[derive(Debug)]
struct SlowTelemetry {
    inner: MemoryStore,
    delay: Duration,
}

#[async_trait]
impl Store for SlowTelemetry {
    async fn get(&self, key: &RecordKey) -> Result<Option<Stored>> {
        self.inner.get(key).await
    }

    async fn get_unique(&self, index: UniqueIndex, value: &str) -> Result<Option<Stored>> {
        self.inner.get_unique(index, value).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        if matches!(query.collection, Collection::Telemetry { .. }) {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.list(query).await
    }

    async fn commit(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.inner.commit(writes).await
    }

    async fn commit_unsynced(&self, writes: &[Write]) -> Result<Vec<u64>> {
        self.inner.commit_unsynced(writes).await
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}

/// When the store last saw node `id`: the later of its state and its presence entry (a
/// heartbeat that changes the node's status writes the one, a routine one the other).
async fn stored_sighting(store: &dyn Store, id: NodeId) -> Option<Timestamp> {
    let state = store
        .list_all(Collection::NodeStates)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| match s.record {
            Record::NodeState(state) if state.node_id == id => state.last_seen_at,
            _ => None,
        });
    let presence = store
        .list_all(Collection::Presence)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| match s.record {
            Record::Presence(bucket) => Some(bucket.entries),
            _ => None,
        })
        .flatten()
        .filter(|seen| seen.node_id == id)
        .map(|seen| seen.last_seen_at);
    state.chain(presence).max()
}

#[tokio::test]
async fn a_heartbeat_is_durable_within_a_second_while_retention_runs() {
    let store = Arc::new(SlowTelemetry {
        inner: MemoryStore::new(),
        delay: Duration::from_secs(10),
    });
    let edgesync = EdgeSync::builder()
        .store(store.clone())
        .artifacts(Arc::new(MemArtifacts::default()))
        .config(Config {
            bcrypt_cost: 4,
            ..Config::default()
        })
        .build()
        .await
        .unwrap();
    let node = edgesync
        .register_node(fixtures::registration("node-1", Labels::new()))
        .await
        .unwrap()
        .node;

    // Both jobs start at once: retention is now stuck in its first telemetry listing.
    let shutdown = CancellationToken::new();
    let jobs = jobs::spawn(edgesync.clone(), shutdown.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;

    edgesync
        .heartbeat(node.id, ReportedState::default())
        .unwrap();
    let seen = edgesync.get_node(node.id).unwrap().last_seen_at;
    assert!(seen.is_some());
    let sent = Instant::now();
    while stored_sighting(store.as_ref(), node.id).await != seen {
        assert!(
            sent.elapsed() < Duration::from_millis(1500),
            "the heartbeat was not written behind while retention ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Shutting down abandons the stuck retention pass instead of waiting for it.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), jobs)
        .await
        .expect("the jobs stop promptly")
        .unwrap();
}
