//! The conformance suite against a real S3-compatible server, when `EDGESYNC_TEST_S3_URL` names
//! one (`s3://bucket?endpoint=http://127.0.0.1:9000`, with `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` set). Each store gets a fresh random prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use edgesync_core::ArtifactStore;
use edgesync_core::testkit::artifact_suite;
use edgesync_object_store::ObjectArtifactStore;

fn s3_url() -> Option<String> {
    let url = std::env::var("EDGESYNC_TEST_S3_URL").ok();
    if url.is_none() {
        eprintln!("SKIPPED: S3 tests need EDGESYNC_TEST_S3_URL");
    }
    url
}

/// A store under a fresh `run-<uuid>` prefix.
fn fresh_store(base: &str) -> ObjectArtifactStore {
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}prefix=run-{}", uuid::Uuid::new_v4());
    ObjectArtifactStore::from_url(&url).unwrap()
}

#[tokio::test]
async fn s3_passes_the_suite() {
    let Some(base) = s3_url() else { return };
    artifact_suite::run_all(&|| {
        let store = fresh_store(&base);
        async { store }
    })
    .await;
}

#[tokio::test]
async fn s3_signs_download_urls() {
    let Some(base) = s3_url() else { return };
    let store = fresh_store(&base);
    let key = artifact_suite::upload(&store, b"\0asm\x01\0\0\0", 3).await;
    let url = store
        .presigned_url(&key, Duration::from_secs(300))
        .await
        .unwrap();
    let url = url.expect("S3 signs URLs");
    assert!(url.contains("X-Amz-Signature"), "{url}");
}
