use std::sync::Arc;

use edgesync_core::store::{Record, Store, Write};
use edgesync_core::testkit::fixtures;
use edgesync_sled::SledStore;

async fn concurrent_creates(store: &Arc<SledStore>, tasks: usize, each: usize) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..each {
                let node = fixtures::node(&format!("n-{t}-{i}"));
                store.commit(&[Write::create(Record::Node(node))]).await?;
            }
            Ok::<(), edgesync_core::Error>(())
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let before = store.flush_count();
    concurrent_creates(&store, 64, 1).await;
    let flushes = store.flush_count() - before;
    eprintln!("64 concurrent commits took {flushes} flushes");
    assert!(flushes >= 1);
    assert!(flushes < 64, "64 concurrent commits took {flushes} flushes");
}
