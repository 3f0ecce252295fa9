//! `file://` specifics: staging leaves nothing behind, crash leftovers are swept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use edgesync_core::model::Timestamp;
use edgesync_core::testkit::artifact_suite;
use edgesync_core::{ArtifactStore, ErrorCode};
use edgesync_object_store::ObjectArtifactStore;

fn open(dir: &Path) -> ObjectArtifactStore {
    ObjectArtifactStore::from_url(&format!("file://{}", dir.display())).unwrap()
}

/// Names of the files under `dir`, recursively (an absent directory counts as empty).
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

fn in_an_hour() -> Timestamp {
    Timestamp::now_utc().plus(Duration::from_secs(3600))
}

#[tokio::test]
async fn finish_leaves_nothing_in_staging() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).with_part_size(4096);
    let bytes = vec![7u8; 100_000];
    let key = artifact_suite::upload(&store, &bytes, 3000).await;
    assert_eq!(
        files_under(&dir.path().join("staging")),
        Vec::<String>::new()
    );
    assert!(dir.path().join(key.as_str()).is_file());

    // The same content again: the staged copy is discarded.
    artifact_suite::upload(&store, &bytes, 5000).await;
    assert_eq!(
        files_under(&dir.path().join("staging")),
        Vec::<String>::new()
    );
    assert_eq!(files_under(&dir.path().join("wasm")).len(), 1);
}

#[tokio::test]
async fn dropped_uploads_are_removed_by_remove_stale_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).with_part_size(4096);
    let key = artifact_suite::upload(&store, b"keep me", 3).await;

    let mut dropped = store.start_upload().await.unwrap();
    dropped.write(Bytes::from(vec![1u8; 10_000])).await.unwrap();
    drop(dropped);

    // A crash: no destructor runs, the partial file stays.
    let mut crashed = store.start_upload().await.unwrap();
    crashed.write(Bytes::from(vec![2u8; 10_000])).await.unwrap();
    std::mem::forget(crashed);
    // Let the partial write land.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!files_under(&dir.path().join("staging")).is_empty());

    // Nothing is older than an hour ago.
    let an_hour_ago = Timestamp::now_utc().minus(Duration::from_secs(3600));
    assert_eq!(store.remove_stale_uploads(an_hour_ago).await.unwrap(), 0);

    let removed = store.remove_stale_uploads(in_an_hour()).await.unwrap();
    assert!(removed >= 1, "removed {removed}");
    assert_eq!(
        files_under(&dir.path().join("staging")),
        Vec::<String>::new()
    );
    assert_eq!(artifact_suite::read(&store, &key).await, b"keep me");
}

#[tokio::test]
async fn a_staged_object_left_before_publishing_is_removed() {
    use object_store::ObjectStoreExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // A crash between completing the staged object and renaming it.
    store
        .object_store()
        .put(
            &object_store::path::Path::from("staging/7d4e0a1c-1f7e-4a53-9f3c-2b0b8f1e9a10"),
            Bytes::from_static(b"complete but unpublished").into(),
        )
        .await
        .unwrap();
    assert_eq!(store.remove_stale_uploads(in_an_hour()).await.unwrap(), 1);
    assert_eq!(
        files_under(&dir.path().join("staging")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn file_stores_sign_no_urls_and_check_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let store = open(&root);
    let key = artifact_suite::upload(&store, b"module", 2).await;
    assert_eq!(
        store
            .presigned_url(&key, Duration::from_secs(60))
            .await
            .unwrap(),
        None
    );
    store.check().await.unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let err = store.check().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ArtifactStoreUnavailable);
}

#[tokio::test]
async fn stray_objects_under_wasm_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    std::fs::create_dir_all(dir.path().join("wasm")).unwrap();
    std::fs::write(dir.path().join("wasm/not-a-digest"), b"x").unwrap();
    let key = artifact_suite::upload(&store, b"module", 2).await;
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
}
