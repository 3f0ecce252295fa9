use std::sync::Arc;
use std::time::Duration;

use edgesync_cockroach::{CockroachConfig, RetryPolicy};
use edgesync_core::ErrorCode;
use edgesync_core::store::{Record, RecordKey, Store, Write};
use edgesync_core::testkit::fixtures;

use crate::support::TestDbs;

const TASKS: usize = 8;
const EACH: usize = 10;

/// Unconditional puts of one key from many tasks: each waits for the row lock, then finds the
/// row changed since its snapshot (40001) and runs again. Returns (successes, store_unavailable
/// errors, retries).
async fn race(config: CockroachConfig, dbs: &TestDbs) -> (usize, usize, u64) {
    let store = Arc::new(dbs.store_with(config).await);
    let node = fixtures::node("hot");
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, node) = (store.clone(), node.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut unavailable) = (0, 0);
            for _ in 0..EACH {
                match store
                    .commit(&[Write::put(Record::Node(node.clone()))])
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(e) if e.code() == ErrorCode::StoreUnavailable => {
                        assert!(e.retryable());
                        unavailable += 1;
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            (ok, unavailable)
        }));
    }
    let (mut ok, mut unavailable) = (0, 0);
    for t in tasks {
        let (o, u) = t.await.unwrap();
        ok += o;
        unavailable += u;
    }
    let stored = store
        .get(&RecordKey::Node { id: node.id })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.revision, ok as u64,
        "every successful put bumped the revision once"
    );
    let retries = store.retries();
    store.close().await;
    (ok, unavailable, retries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contended_commits_are_retried_and_counted() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let config = CockroachConfig {
        retry: RetryPolicy {
            max_attempts: 50,
            ..RetryPolicy::default()
        },
        ..CockroachConfig::default()
    };
    let (ok, unavailable, retries) = race(config, &dbs).await;
    assert_eq!((ok, unavailable), (TASKS * EACH, 0));
    assert!(retries > 0, "no retry under contention");
    eprintln!("{ok} contended commits took {retries} retries");
    dbs.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn running_out_of_attempts_is_store_unavailable() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let config = CockroachConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        },
        ..CockroachConfig::default()
    };
    let (ok, unavailable, retries) = race(config, &dbs).await;
    assert!(ok > 0);
    assert!(
        unavailable > 0,
        "no attempt lost a race in {} commits",
        TASKS * EACH
    );
    assert_eq!(retries, 0, "one attempt means no retry");
    dbs.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_database_is_store_unavailable() {
    let config = CockroachConfig {
        acquire_timeout: Duration::from_millis(500),
        ..CockroachConfig::default()
    };
    // Port 1 on loopback: nothing listens there.
    let err =
        edgesync_cockroach::CockroachStore::connect("postgresql://u:pw@127.0.0.1:1/x", config)
            .await
            .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreUnavailable, "{err}");
    assert!(err.retryable());
    assert!(!format!("{err:?}").contains("pw@"));
}
