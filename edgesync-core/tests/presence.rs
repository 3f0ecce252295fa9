//! Presence written behind: a server alone writes a node's state when what the node runs
//! changes, and its sightings (time, resource usage) in buckets of many nodes; after a restart
//! each node shows its latest sighting either way. Replicas write whole states.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use edgesync_core::control::Config;
use edgesync_core::model::*;
use edgesync_core::selector::Labels;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::store::{Collection, Store, StoreExt};
use edgesync_core::testkit::counting::CountingStore;
use edgesync_core::testkit::{MemArtifacts, fixtures};
use edgesync_core::{Clock, EdgeSync, ManualClock};

const NODES: usize = 60;

async fn server(store: Arc<dyn Store>, clock: Arc<ManualClock>, replicated: bool) -> EdgeSync {
    EdgeSync::builder()
        .store(store)
        .artifacts(Arc::new(MemArtifacts::default()))
        .clock(clock)
        .config(Config {
            bcrypt_cost: 4,
            replicated,
            ..Config::default()
        })
        .build()
        .await
        .unwrap()
}

async fn register(es: &EdgeSync, n: usize) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let registered = es
            .register_node(fixtures::registration(&format!("node-{i}"), Labels::new()))
            .await
            .unwrap();
        ids.push(registered.node.id);
    }
    ids
}

fn report(schema_version: u64, cpu_percent: f64) -> ReportedState {
    ReportedState {
        schema_version,
        resources: ResourceUsage {
            cpu_percent,
            memory_bytes: 1 << 20,
            disk_bytes: 0,
        },
        ..ReportedState::default()
    }
}

async fn state_revisions(store: &dyn Store) -> Vec<(NodeId, u64)> {
    let mut out: Vec<(NodeId, u64)> = store
        .list_all(Collection::NodeStates)
        .await
        .unwrap()
        .into_iter()
        .map(|s| match s.record {
            edgesync_core::store::Record::NodeState(st) => (st.node_id, s.revision),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn heartbeats_with_nothing_new_write_buckets_and_a_restart_finds_the_latest_sighting() {
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let counting = Arc::new(CountingStore::new(memory.clone()));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_764_504_000_000,
    )));
    let es = server(counting.clone(), clock.clone(), false).await;
    let ids = register(&es, NODES).await;

    // A first report (schema 1) is news: every state is written.
    for id in &ids {
        es.heartbeat(*id, report(1, 1.0)).unwrap();
    }
    let first = es.run_maintenance().await.unwrap();
    assert_eq!(first.states_written, NODES);
    let states_before = state_revisions(memory.as_ref()).await;

    // The same report with other resource usage, twice: presence only.
    for round in 0..2 {
        clock.advance(Duration::from_secs(1));
        for id in &ids {
            es.heartbeat(*id, report(1, 2.0 + f64::from(round)))
                .unwrap();
        }
        let commits = counting.commits();
        let pass = es.run_maintenance().await.unwrap();
        assert_eq!(
            pass.states_written, 0,
            "round {round}: states were rewritten"
        );
        assert!(
            (1..=NODES).contains(&pass.presence_written),
            "round {round}: {} buckets for {NODES} nodes",
            pass.presence_written
        );
        assert_eq!(
            counting.commits() - commits,
            1,
            "round {round}: the buckets took more than one commit"
        );
    }
    assert_eq!(state_revisions(memory.as_ref()).await, states_before);
    let seen_at = clock.now();

    // Nothing new at all: nothing is written.
    let idle = es.run_maintenance().await.unwrap();
    assert_eq!((idle.states_written, idle.presence_written), (0, 0));

    // A restart on the same store: every node was last seen at the second heartbeat, with the
    // resource usage it reported then, and runs what its state says.
    drop(es);
    let restarted = server(memory.clone(), clock.clone(), false).await;
    for id in &ids {
        let view = restarted.get_node(*id).unwrap();
        assert_eq!(view.last_seen_at, Some(seen_at));
        assert_eq!(view.reported.resources.cpu_percent, 3.0);
        assert_eq!(view.reported.schema_version, 1);
        assert_eq!(view.status, NodeStatus::Online);
    }

    // News (schema 2) writes that node's state again, and a restart shows it.
    clock.advance(Duration::from_secs(1));
    restarted.heartbeat(ids[0], report(2, 5.0)).unwrap();
    let pass = restarted.run_maintenance().await.unwrap();
    assert_eq!(pass.states_written, 1);
    drop(restarted);
    let again = server(memory.clone(), clock.clone(), false).await;
    let view = again.get_node(ids[0]).unwrap();
    assert_eq!(view.reported.schema_version, 2);
    assert_eq!(view.last_seen_at, Some(clock.now()));
}

#[tokio::test]
async fn replicas_write_whole_states_and_no_buckets() {
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        1_764_504_000_000,
    )));
    let es = server(memory.clone(), clock.clone(), true).await;
    let ids = register(&es, 5).await;
    for id in &ids {
        es.heartbeat(*id, report(1, 1.0)).unwrap();
    }
    es.run_maintenance().await.unwrap();
    clock.advance(Duration::from_secs(1));
    for id in &ids {
        es.heartbeat(*id, report(1, 2.0)).unwrap();
    }
    let pass = es.run_maintenance().await.unwrap();
    assert_eq!((pass.states_written, pass.presence_written), (5, 0));
    assert!(
        memory
            .list_all(Collection::Presence)
            .await
            .unwrap()
            .is_empty()
    );
}
