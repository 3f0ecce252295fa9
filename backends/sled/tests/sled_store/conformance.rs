use edgesync_core::testkit::store_suite;
use edgesync_sled::SledStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_store_passes_the_conformance_suite() {
    store_suite::run_all(&|| async { SledStore::temporary().unwrap() }).await;
}
