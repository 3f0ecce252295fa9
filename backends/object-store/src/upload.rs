//! Staged uploads: stream into `staging/<uuid>`, then publish under the artifact key.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use edgesync_core::{ArtifactKey, ArtifactUpload, Result};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::{errors, layout};

/// How uploads are cut into multipart parts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PartPolicy {
    /// The size of every part but the last.
    pub(crate) part_size: usize,
    /// How many parts may be in flight at once. Memory held by an upload is at most about
    /// `(max_in_flight + 1) * part_size` plus the chunk being written.
    pub(crate) max_in_flight: usize,
}

/// An upload streaming into `staging/<uuid>` through a multipart upload.
pub(crate) struct StagedUpload {
    store: Arc<dyn ObjectStore>,
    staging: Path,
    /// `None` once finished or aborted.
    writer: Option<WriteMultipart>,
    max_in_flight: usize,
}

impl StagedUpload {
    /// Starts a multipart upload to a fresh staging path.
    pub(crate) async fn start(store: Arc<dyn ObjectStore>, policy: PartPolicy) -> Result<Self> {
        let staging = layout::new_staging_path();
        let multipart = store
            .put_multipart(&staging)
            .await
            .map_err(errors::unavailable)?;
        tracing::debug!(%staging, "started a staged upload");
        Ok(Self {
            store,
            staging,
            writer: Some(WriteMultipart::new_with_chunk_size(
                multipart,
                policy.part_size,
            )),
            max_in_flight: policy.max_in_flight.max(1),
        })
    }

    fn writer(&mut self) -> Result<&mut WriteMultipart> {
        self.writer
            .as_mut()
            .ok_or_else(|| edgesync_core::Error::internal("the upload is already finished"))
    }
}

#[async_trait]
impl ArtifactUpload for StagedUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let max_in_flight = self.max_in_flight;
        let writer = self.writer()?;
        // Backpressure: wait for a part to land before buffering more, so memory stays bounded
        // by the part size whatever the size of the module.
        writer
            .wait_for_capacity(max_in_flight)
            .await
            .map_err(errors::unavailable)?;
        writer.put(chunk);
        Ok(())
    }

    async fn finish(mut self: Box<Self>, key: &ArtifactKey) -> Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| edgesync_core::Error::internal("the upload is already finished"))?;
        // Completes the staged object (aborting the multipart upload on failure).
        writer.finish().await.map_err(errors::unavailable)?;
        publish(self.store.as_ref(), &self.staging, key).await
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        match self.writer.take() {
            Some(writer) => match writer.abort().await {
                Ok(()) => Ok(()),
                Err(e) if errors::is_not_found(&e) => Ok(()),
                Err(e) => Err(errors::unavailable(e)),
            },
            None => Ok(()),
        }
    }
}

impl Drop for StagedUpload {
    /// Dropped mid-way: abort the multipart upload in the background (best effort; what is left
    /// behind is for `remove_stale_uploads`, or an S3 lifecycle rule for incomplete multipart
    /// uploads).
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let staging = self.staging.clone();
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::debug!(%staging, error = %e, "aborting a dropped upload failed");
                }
            });
        }
    }
}

/// Makes the complete staged object visible under `key`.
///
/// When `key` exists already (the same bytes: keys are content addressed), the staged copy is
/// discarded. Otherwise it is renamed: one atomic `rename(2)` on a local disk; a copy, atomic for
/// the destination, then a delete of the source on S3 and in memory.
async fn publish(store: &dyn ObjectStore, staging: &Path, key: &ArtifactKey) -> Result<()> {
    let dest = layout::artifact_path(key);
    let exists = match store.head(&dest).await {
        Ok(_) => true,
        Err(e) if errors::is_not_found(&e) => false,
        Err(e) => {
            discard(store, staging).await;
            return Err(errors::unavailable(e));
        }
    };
    if exists {
        tracing::debug!(%key, "artifact exists already; discarding the staged copy");
        discard(store, staging).await;
        return Ok(());
    }
    let Err(e) = store.rename(staging, &dest).await else {
        tracing::debug!(%key, %staging, "published an artifact");
        return Ok(());
    };
    // A copy-then-delete rename can fail after the copy: the artifact is then complete and
    // visible, and only the staged copy is left over.
    let published = store.head(&dest).await.is_ok();
    discard(store, staging).await;
    if published {
        tracing::warn!(%key, %staging, error = %e, "published, but removing the staged copy failed");
        Ok(())
    } else {
        Err(errors::unavailable(e))
    }
}

/// Deletes a staged object, best effort: `remove_stale_uploads` catches what this misses.
async fn discard(store: &dyn ObjectStore, staging: &Path) {
    match store.delete(staging).await {
        Ok(()) => {}
        Err(e) if errors::is_not_found(&e) => {}
        Err(e) => tracing::warn!(%staging, error = %e, "could not delete a staged upload"),
    }
}
