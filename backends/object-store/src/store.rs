//! [`ObjectArtifactStore`]: the [`ArtifactStore`] port on an `object_store` backend.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use edgesync_core::artifacts::ArtifactMeta;
use edgesync_core::model::Timestamp;
use edgesync_core::{ArtifactKey, ArtifactStore, ArtifactUpload, ByteStream, Result};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::backend::{self, S3_MIN_PART_SIZE};
use crate::config::ArtifactStoreConfig;
use crate::upload::{PartPolicy, StagedUpload};
use crate::{errors, layout, local};

/// The default multipart part size: the S3 minimum.
const DEFAULT_PART_SIZE: usize = S3_MIN_PART_SIZE;
/// Parts uploaded concurrently by one upload.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// An [`ArtifactStore`] on any `object_store` backend: `memory://`, `file://` or `s3://`.
///
/// Artifacts live under `wasm/<sha256>`, uploads in progress under `staging/<uuid>`; see the
/// crate documentation for how uploads become visible atomically.
#[derive(Clone)]
pub struct ObjectArtifactStore {
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    local_root: Option<PathBuf>,
    min_part_size: usize,
    parts: PartPolicy,
}

impl ObjectArtifactStore {
    /// Opens the store a URL names (see [`ArtifactStoreConfig::parse`] for the formats).
    ///
    /// # Behavior
    /// - `file://` creates the directory when missing; nothing else touches the backend, so an
    ///   unreachable S3 server shows up in [`ArtifactStore::check`], not here.
    /// - A malformed URL or an unknown scheme fails with `invalid_request`.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_config(&ArtifactStoreConfig::parse(url)?)
    }

    /// Opens the store a configuration names (as [`ObjectArtifactStore::from_url`]).
    pub fn from_config(config: &ArtifactStoreConfig) -> Result<Self> {
        let backend = backend::open(config)?;
        Ok(Self {
            store: backend.store,
            signer: backend.signer,
            local_root: backend.local_root,
            min_part_size: backend.min_part_size,
            parts: PartPolicy {
                part_size: DEFAULT_PART_SIZE.max(backend.min_part_size),
                max_in_flight: MAX_PARTS_IN_FLIGHT,
            },
        })
    }

    /// Wraps any object store (a `PrefixStore`, a `ThrottledStore` in tests, …). It signs no
    /// URLs, and its parts are at least 5 MiB, as S3 needs.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            signer: None,
            local_root: None,
            min_part_size: S3_MIN_PART_SIZE,
            parts: PartPolicy {
                part_size: DEFAULT_PART_SIZE,
                max_in_flight: MAX_PARTS_IN_FLIGHT,
            },
        }
    }

    /// Sets the multipart part size (default 5 MiB), raised to what the backend accepts (5 MiB
    /// on S3). An upload holds at most about three parts in memory.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.parts.part_size = bytes.max(self.min_part_size);
        self
    }

    /// The underlying object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

impl fmt::Debug for ObjectArtifactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The backend's `Display` names bucket or directory, never credentials.
        f.debug_struct("ObjectArtifactStore")
            .field("store", &format_args!("{}", self.store))
            .field("presigns", &self.signer.is_some())
            .field("part_size", &self.parts.part_size)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ArtifactStore for ObjectArtifactStore {
    async fn start_upload(&self) -> Result<Box<dyn ArtifactUpload>> {
        let upload = StagedUpload::start(Arc::clone(&self.store), self.parts).await?;
        Ok(Box::new(upload))
    }

    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream> {
        match self.store.get(&layout::artifact_path(key)).await {
            Ok(found) => {
                let key = key.clone();
                Ok(found
                    .into_stream()
                    .map_err(move |e| errors::read_failed(e, &key))
                    .boxed())
            }
            Err(e) => Err(errors::read_failed(e, key)),
        }
    }

    async fn head(&self, key: &ArtifactKey) -> Result<Option<ArtifactMeta>> {
        match self.store.head(&layout::artifact_path(key)).await {
            Ok(meta) => Ok(Some(ArtifactMeta {
                key: key.clone(),
                size: meta.size,
                last_modified: last_modified(&meta),
            })),
            Err(e) if errors::is_not_found(&e) => Ok(None),
            Err(e) => Err(errors::unavailable(e)),
        }
    }

    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        match self.store.delete(&layout::artifact_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if errors::is_not_found(&e) => Ok(()),
            Err(e) => Err(errors::unavailable(e)),
        }
    }

    async fn list(&self) -> Result<Vec<ArtifactMeta>> {
        let objects: Vec<ObjectMeta> = self
            .store
            .list(Some(&Path::from(layout::ARTIFACTS)))
            .try_collect()
            .await
            .map_err(errors::unavailable)?;
        let mut artifacts: Vec<ArtifactMeta> = objects
            .into_iter()
            .filter_map(|meta| match ArtifactKey::parse(meta.location.as_ref()) {
                Ok(key) => Some(ArtifactMeta {
                    key,
                    size: meta.size,
                    last_modified: last_modified(&meta),
                }),
                Err(_) => {
                    tracing::warn!(path = %meta.location, "skipping a stray object under wasm/");
                    None
                }
            })
            .collect();
        artifacts.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(artifacts)
    }

    async fn remove_stale_uploads(&self, older_than: Timestamp) -> Result<usize> {
        let stale: Vec<Path> = self
            .store
            .list(Some(&Path::from(layout::STAGING)))
            .try_filter_map(|meta| async move {
                Ok((last_modified(&meta) < older_than).then_some(meta.location))
            })
            .try_collect()
            .await
            .map_err(errors::unavailable)?;

        let mut removed = 0;
        let mut deleted = self
            .store
            .delete_stream(futures::stream::iter(stale.into_iter().map(Ok)).boxed());
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => removed += 1,
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => return Err(errors::unavailable(e)),
            }
        }
        if let Some(root) = &self.local_root {
            removed += local::remove_stale_partials(root.clone(), older_than).await?;
        }
        if removed > 0 {
            tracing::info!(removed, "removed stale staged uploads");
        }
        Ok(removed)
    }

    async fn presigned_url(
        &self,
        key: &ArtifactKey,
        expires_in: Duration,
    ) -> Result<Option<String>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(Method::GET, &layout::artifact_path(key), expires_in)
            .await
            .map_err(errors::unavailable)?;
        Ok(Some(url.into()))
    }

    async fn check(&self) -> Result<()> {
        if let Some(root) = &self.local_root {
            local::check_root(root.clone()).await?;
        }
        // A listing that matches nothing: one cheap round trip that, unlike a `head`, fails when
        // the bucket itself is missing.
        self.store
            .list_with_delimiter(Some(&Path::from(layout::PROBE)))
            .await
            .map(|_| ())
            .map_err(errors::unavailable)
    }
}

/// An object's modification time as a [`Timestamp`].
fn last_modified(meta: &ObjectMeta) -> Timestamp {
    let t = meta.last_modified;
    let nanos = i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
    Timestamp::from_unix_nanos(nanos).unwrap_or(Timestamp::UNIX_EPOCH)
}
