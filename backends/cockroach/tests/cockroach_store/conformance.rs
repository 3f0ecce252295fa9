use std::sync::Arc;

use edgesync_core::testkit::store_suite;

use crate::support::TestDbs;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cockroach_store_passes_the_conformance_suite() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let started = std::time::Instant::now();
    {
        let dbs = &dbs;
        store_suite::run_all(&move || async move { dbs.store().await }).await;
    }
    eprintln!("conformance suite: {:?}", started.elapsed());
    dbs.cleanup().await;
}

/// The suite's read-modify-write race really contends at SERIALIZABLE: the store retries
/// (SQLSTATE 40001) and still loses no update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_is_retried_on_serialization_failures() {
    let Some(dbs) = TestDbs::new().await else {
        return;
    };
    let store = dbs.store().await;
    store_suite::concurrent_writers_never_lose_an_update(Arc::new(store.clone())).await;
    assert!(
        store.retries() > 0,
        "eight racing writers at SERIALIZABLE caused no retry"
    );
    eprintln!("retries: {}", store.retries());
    store.close().await;
    dbs.cleanup().await;
}
