//! The `ArtifactStore` conformance suite on `memory://` and `file://`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgesync_core::testkit::artifact_suite;
use edgesync_object_store::ObjectArtifactStore;

#[tokio::test]
async fn memory_passes_the_suite() {
    artifact_suite::run_all(&|| async { ObjectArtifactStore::from_url("memory://").unwrap() })
        .await;
}

#[tokio::test]
async fn file_passes_the_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    artifact_suite::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        // A directory that does not exist yet: the store creates it.
        let root = dir.path().join("artifacts");
        let store = ObjectArtifactStore::from_url(&format!("file://{}", root.display())).unwrap();
        dirs.lock().unwrap().push(dir);
        async { store }
    })
    .await;
}

#[tokio::test]
async fn the_suite_passes_with_parts_smaller_than_chunks() {
    // Parts of 1000 bytes against the suite's chunks of 3 to 64 KiB bytes: many part boundaries.
    artifact_suite::run_all(&|| async {
        ObjectArtifactStore::from_url("memory://")
            .unwrap()
            .with_part_size(1000)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    artifact_suite::large_uploads_round_trip(
        &ObjectArtifactStore::from_url(&url)
            .unwrap()
            .with_part_size(1000),
    )
    .await;
}
