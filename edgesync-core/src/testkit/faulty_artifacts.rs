//! An `ArtifactStore` wrapper that fails or slows down on a [`Faults`] schedule: for proving that
//! an artifact-store outage answers retryable errors, never leaves half an artifact visible, and
//! heals without a restart.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::faulty::Faults;
use crate::artifacts::{ArtifactKey, ArtifactMeta, ArtifactStore, ArtifactUpload, ByteStream};
use crate::error::{ErrorCode, Result};
use crate::model::Timestamp;

/// Forwards to an inner artifact store, except where its schedules say otherwise.
///
/// - [`calls`](Self::calls): `start_upload`, `get`, `head`, `delete`, `list`,
///   `remove_stale_uploads`, `presigned_url`;
/// - [`writes`](Self::writes): each chunk of an upload (a failure mid-upload leaves only a staged
///   object, never a visible artifact);
/// - [`finishes`](Self::finishes): making an upload visible (a failure discards nothing the inner
///   store made visible: the inner `finish` is never called).
///
/// `check` fails while `calls` or `writes` is down. Injected failures are
/// `artifact_store_unavailable` unless the schedule says otherwise (e.g. `storage_full`).
#[derive(Debug)]
pub struct FaultyArtifacts {
    inner: Arc<dyn ArtifactStore>,
    faults: Arc<Schedules>,
}

#[derive(Debug, Default)]
struct Schedules {
    calls: Faults,
    writes: Faults,
    finishes: Faults,
}

impl FaultyArtifacts {
    /// Wraps an artifact store.
    pub fn new(inner: Arc<dyn ArtifactStore>) -> Self {
        Self {
            inner,
            faults: Arc::default(),
        }
    }

    /// The schedule of whole-store calls.
    pub fn calls(&self) -> &Faults {
        &self.faults.calls
    }

    /// The schedule of upload chunks.
    pub fn writes(&self) -> &Faults {
        &self.faults.writes
    }

    /// The schedule of upload completions.
    pub fn finishes(&self) -> &Faults {
        &self.faults.finishes
    }

    /// An outage of every operation while `down`.
    pub fn set_down(&self, down: bool) {
        self.faults.calls.set_down(down);
        self.faults.writes.set_down(down);
        self.faults.finishes.set_down(down);
    }

    /// Ends every fault.
    pub fn heal(&self) {
        self.faults.calls.heal();
        self.faults.writes.heal();
        self.faults.finishes.heal();
    }
}

const UNAVAILABLE: ErrorCode = ErrorCode::ArtifactStoreUnavailable;

#[async_trait]
impl ArtifactStore for FaultyArtifacts {
    async fn start_upload(&self) -> Result<Box<dyn ArtifactUpload>> {
        self.faults.calls.apply(UNAVAILABLE, "start_upload").await?;
        let inner = self.inner.start_upload().await?;
        Ok(Box::new(FaultyUpload {
            inner,
            faults: self.faults.clone(),
        }))
    }

    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        self.faults.calls.apply(UNAVAILABLE, "get").await?;
        self.inner.get(key).await
    }

    async fn head(&self, key: &ArtifactKey) -> Result<Option<ArtifactMeta>> {
        self.faults.calls.apply(UNAVAILABLE, "head").await?;
        self.inner.head(key).await
    }

    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        self.faults.calls.apply(UNAVAILABLE, "delete").await?;
        self.inner.delete(key).await
    }

    async fn list(&self) -> Result<Vec<ArtifactMeta>> {
        self.faults.calls.apply(UNAVAILABLE, "list").await?;
        self.inner.list().await
    }

    async fn remove_stale_uploads(&self, older_than: Timestamp) -> Result<usize> {
        self.faults
            .calls
            .apply(UNAVAILABLE, "remove_stale_uploads")
            .await?;
        self.inner.remove_stale_uploads(older_than).await
    }

    async fn presigned_url(
        &self,
        key: &ArtifactKey,
        expires_in: Duration,
    ) -> Result<Option<String>> {
        self.faults
            .calls
            .apply(UNAVAILABLE, "presigned_url")
            .await?;
        self.inner.presigned_url(key, expires_in).await
    }

    async fn check(&self) -> Result<()> {
        if self.faults.calls.is_down() || self.faults.writes.is_down() {
            return Err(crate::Error::artifacts_unavailable(std::io::Error::other(
                "injected outage",
            )));
        }
        self.inner.check().await
    }
}

struct FaultyUpload {
    inner: Box<dyn ArtifactUpload>,
    faults: Arc<Schedules>,
}

#[async_trait]
impl ArtifactUpload for FaultyUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.faults
            .writes
            .apply(UNAVAILABLE, "upload write")
            .await?;
        self.inner.write(chunk).await
    }

    async fn finish(self: Box<Self>, key: &ArtifactKey) -> Result<()> {
        if let Err(e) = self
            .faults
            .finishes
            .apply(UNAVAILABLE, "upload finish")
            .await
        {
            // Like a store that failed to publish: the staged object goes away.
            let _ = self.inner.abort().await;
            return Err(e);
        }
        self.inner.finish(key).await
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::MemArtifacts;

    #[tokio::test]
    async fn failed_uploads_leave_nothing_visible_and_healing_restores_service() {
        let store = FaultyArtifacts::new(Arc::new(MemArtifacts::default()));
        let key = ArtifactKey::for_sha256(&[7; 32]);

        store.writes().fail_next(1);
        let mut up = store.start_upload().await.unwrap();
        assert!(up.write(Bytes::from_static(b"abc")).await.is_err());
        up.abort().await.unwrap();

        store.finishes().set_down(true);
        let mut up = store.start_upload().await.unwrap();
        up.write(Bytes::from_static(b"abc")).await.unwrap();
        let err = up.finish(&key).await.unwrap_err();
        assert!(err.retryable());
        assert!(store.head(&key).await.unwrap().is_none());
        assert!(store.list().await.unwrap().is_empty());

        store.set_down(true);
        assert!(store.check().await.is_err());
        store.heal();
        store.check().await.unwrap();
        let mut up = store.start_upload().await.unwrap();
        up.write(Bytes::from_static(b"abc")).await.unwrap();
        up.finish(&key).await.unwrap();
        assert_eq!(store.head(&key).await.unwrap().unwrap().size, 3);
    }
}
