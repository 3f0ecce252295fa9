//! A restart finds every node's target as it was before, and announces nothing: nothing changed
//! for the nodes, and a fleet of 100,000 must not get a notification each because a server
//! started.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use edgesync_core::EdgeSync;
use edgesync_core::control::Config;
use edgesync_core::notify::InProcessNotifier;
use edgesync_core::selector::Labels;
use edgesync_core::store::Store;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::{MemArtifacts, fixtures};

async fn start(store: Arc<dyn Store>, notifier: Arc<InProcessNotifier>) -> EdgeSync {
    EdgeSync::builder()
        .store(store)
        .artifacts(Arc::new(MemArtifacts::default()))
        .notifier(notifier)
        .config(Config {
            bcrypt_cost: 4,
            ..Config::default()
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restart_keeps_every_revision_and_publishes_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = start(store.clone(), Arc::new(InProcessNotifier::new(64))).await;
    let mut revisions = Vec::new();
    for (i, tier) in ["edge", "core", "edge"].into_iter().enumerate() {
        let labels = Labels::from([("tier".to_owned(), tier.to_owned())]);
        let node = first
            .register_node(fixtures::registration(&format!("node-{i}"), labels))
            .await
            .unwrap()
            .node;
        revisions.push((node.id, first.sync_revision(node.id).unwrap()));
    }
    drop(first);

    let notifier = Arc::new(InProcessNotifier::new(64));
    let mut published = notifier.subscribe();
    let restarted = start(store, notifier.clone()).await;
    for (id, revision) in &revisions {
        assert_eq!(&restarted.sync_revision(*id).unwrap(), revision);
    }
    assert!(
        published.try_recv().is_err(),
        "a restart published {:?}",
        published.try_recv()
    );
}
