//! Opening the `object_store` backend a configuration names.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use edgesync_core::{Error, ErrorCode, Result};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::signer::Signer;

use crate::config::ArtifactStoreConfig;
use crate::{errors, s3};

/// S3 rejects multipart parts below 5 MiB (except the last one).
pub(crate) const S3_MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// An opened backend and what the artifact store needs to know about it.
pub(crate) struct Backend {
    /// The objects.
    pub(crate) store: Arc<dyn ObjectStore>,
    /// Signs download URLs (S3 only).
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// The root directory (`file://` only): for sweeping crash leftovers and the health check.
    pub(crate) local_root: Option<PathBuf>,
    /// The smallest multipart part size the backend accepts.
    pub(crate) min_part_size: usize,
}

/// Opens the backend. `file://` creates its directory; nothing here talks to a network.
pub(crate) fn open(config: &ArtifactStoreConfig) -> Result<Backend> {
    match config {
        ArtifactStoreConfig::Memory => Ok(Backend {
            store: Arc::new(InMemory::new()),
            signer: None,
            local_root: None,
            min_part_size: 1,
        }),
        ArtifactStoreConfig::File { root } => {
            let root = std::fs::create_dir_all(root)
                .and_then(|()| std::fs::canonicalize(root))
                .map_err(|e| unusable_dir(root, e))?;
            let store = LocalFileSystem::new_with_prefix(&root).map_err(errors::unavailable)?;
            Ok(Backend {
                store: Arc::new(store),
                signer: None,
                local_root: Some(root),
                min_part_size: 1,
            })
        }
        ArtifactStoreConfig::S3(config) => {
            let s3 = s3::open(config)?;
            Ok(Backend {
                store: s3.store,
                signer: Some(s3.signer),
                local_root: None,
                min_part_size: S3_MIN_PART_SIZE,
            })
        }
    }
}

/// The artifact directory cannot be created or resolved.
fn unusable_dir(root: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::StorageFull {
        return errors::io_unavailable(e);
    }
    Error::new(
        ErrorCode::ArtifactStoreUnavailable,
        format!(
            "cannot use {} as the artifact directory: {e}",
            root.display()
        ),
    )
    .with_source(e)
}
