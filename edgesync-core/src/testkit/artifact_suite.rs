//! The conformance suite of the [`ArtifactStore`] port.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use crate::artifacts::{ArtifactKey, ArtifactStore};
use crate::error::ErrorCode;
use crate::model::Timestamp;

/// Runs every test of the suite, each on a fresh store from `make`.
pub async fn run_all<F, Fut, S>(make: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: ArtifactStore,
{
    put_get_head_delete(&make().await).await;
    nothing_is_visible_before_finish(&make().await).await;
    same_content_is_stored_once(&make().await).await;
    large_uploads_round_trip(&make().await).await;
    stale_upload_cleanup_keeps_artifacts(&make().await).await;
    check_succeeds(&make().await).await;
}

fn key_of(bytes: &[u8]) -> ArtifactKey {
    ArtifactKey::for_sha256(&Sha256::digest(bytes).into())
}

/// Uploads `bytes` in chunks of `chunk` bytes and returns its key.
pub async fn upload(store: &dyn ArtifactStore, bytes: &[u8], chunk: usize) -> ArtifactKey {
    let key = key_of(bytes);
    let mut up = store.start_upload().await.unwrap();
    for c in bytes.chunks(chunk.max(1)) {
        up.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    up.finish(&key).await.unwrap();
    key
}

/// Reads an artifact whole.
pub async fn read(store: &dyn ArtifactStore, key: &ArtifactKey) -> Vec<u8> {
    let chunks: Vec<Bytes> = store.get(key).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

/// Upload, read back, head, list, delete (idempotent), read after delete.
pub async fn put_get_head_delete(store: &dyn ArtifactStore) {
    let bytes = b"\0asm\x01\0\0\0 pretend module".to_vec();
    let key = upload(store, &bytes, 7).await;
    assert_eq!(read(store, &key).await, bytes);
    let meta = store.head(&key).await.unwrap().expect("head after upload");
    assert_eq!(meta.key, key);
    assert_eq!(meta.size, bytes.len() as u64);
    let listed = store.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|m| &m.key).collect::<Vec<_>>(),
        vec![&key]
    );

    store.delete(&key).await.unwrap();
    store.delete(&key).await.expect("deleting twice is fine");
    assert_eq!(store.head(&key).await.unwrap(), None);
    match store.get(&key).await {
        Ok(_) => panic!("get after delete must fail"),
        Err(e) => assert_eq!(e.code(), ErrorCode::ArtifactNotFound),
    }
    assert!(store.list().await.unwrap().is_empty());
}

/// A staged upload is invisible until it finishes; an aborted one never appears.
pub async fn nothing_is_visible_before_finish(store: &dyn ArtifactStore) {
    let bytes = vec![42u8; 10_000];
    let key = key_of(&bytes);
    let mut up = store.start_upload().await.unwrap();
    up.write(Bytes::from(bytes[..5000].to_vec())).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(
        store.list().await.unwrap().is_empty(),
        "a staged upload is listed"
    );
    up.write(Bytes::from(bytes[5000..].to_vec())).await.unwrap();
    up.abort().await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(
        store.list().await.unwrap().is_empty(),
        "an aborted upload is listed"
    );
}

/// Finishing a second upload of the same content succeeds and leaves one object.
pub async fn same_content_is_stored_once(store: &dyn ArtifactStore) {
    let bytes = b"same bytes twice".to_vec();
    let k1 = upload(store, &bytes, 4).await;
    let k2 = upload(store, &bytes, 16).await;
    assert_eq!(k1, k2);
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert_eq!(read(store, &k1).await, bytes);
}

/// Several MiB in small chunks come back bit-identical.
pub async fn large_uploads_round_trip(store: &dyn ArtifactStore) {
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let key = upload(store, &bytes, 64 * 1024).await;
    let back = read(store, &key).await;
    assert_eq!(back.len(), bytes.len());
    assert_eq!(Sha256::digest(&back), Sha256::digest(&bytes));
}

/// Cleaning up stale staged uploads never touches finished artifacts.
pub async fn stale_upload_cleanup_keeps_artifacts(store: &dyn ArtifactStore) {
    let key = upload(store, b"keep me", 3).await;
    {
        let mut up = store.start_upload().await.unwrap();
        up.write(Bytes::from_static(b"left behind")).await.unwrap();
        drop(up);
    }
    let future = Timestamp::now_utc().plus(Duration::from_secs(3600));
    store.remove_stale_uploads(future).await.unwrap();
    assert_eq!(read(store, &key).await, b"keep me");
    assert_eq!(store.list().await.unwrap().len(), 1);
}

/// `check` succeeds on a healthy store.
pub async fn check_succeeds(store: &dyn ArtifactStore) {
    store.check().await.unwrap();
}

/// Used by property tests of backends: a round trip of arbitrary bytes in arbitrary chunks.
pub async fn round_trip(store: &dyn ArtifactStore, bytes: &[u8], chunk: usize) {
    let key = upload(store, bytes, chunk).await;
    assert_eq!(read(store, &key).await, bytes);
}
