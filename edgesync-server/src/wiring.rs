//! Backends chosen at run time from URLs.

use std::path::Path;
use std::sync::Arc;

use edgesync_core::store::memory::MemoryStore;
use edgesync_core::{ArtifactStore, Clock, EdgeSync, Error, Result, Store, SystemClock};
use edgesync_object_store::ObjectArtifactStore;
use edgesync_sled::SledStore;

use crate::config::ServeArgs;

/// Opens the record store named by `url` (`sled:///path` or `memory://`).
pub fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    if let Some(path) = url.strip_prefix("sled://") {
        if path.is_empty() {
            return Err(Error::invalid(
                "sled:// needs a path, e.g. sled:///var/lib/edgesync/store",
            ));
        }
        return Ok(Arc::new(SledStore::open(path)?));
    }
    if url == "memory://" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    Err(Error::invalid(format!(
        "unsupported store URL {url:?}: use sled:///path or memory://"
    )))
}

/// Opens the artifact store named by `url`.
pub fn open_artifacts(url: &str) -> Result<Arc<dyn ArtifactStore>> {
    Ok(Arc::new(ObjectArtifactStore::from_url(url)?))
}

fn file_url(path: &Path) -> Result<String> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::invalid(format!("bad path {}: {e}", path.display())))?;
    Ok(format!("file://{}", abs.display()))
}

/// Builds the control plane the arguments describe (creating the data directory when the
/// defaults use it).
pub async fn build(args: &ServeArgs) -> Result<EdgeSync> {
    build_with_clock(args, Arc::new(SystemClock)).await
}

/// [`build`] with an injected clock (tests drive time by hand).
pub async fn build_with_clock(args: &ServeArgs, clock: Arc<dyn Clock>) -> Result<EdgeSync> {
    build_instrumented(args, clock, None).await
}

/// [`build_with_clock`], with the store and the artifact store timed and counted into `metrics`.
pub async fn build_instrumented(
    args: &ServeArgs,
    clock: Arc<dyn Clock>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
) -> Result<EdgeSync> {
    let uses_data_dir = args.store.is_none() || args.artifacts.is_none();
    if uses_data_dir {
        std::fs::create_dir_all(&args.data_dir).map_err(|e| {
            Error::invalid(format!(
                "cannot create the data directory {}: {e}",
                args.data_dir.display()
            ))
        })?;
    }
    let store_url = match &args.store {
        Some(url) => url.clone(),
        None => format!(
            "sled://{}",
            std::path::absolute(args.data_dir.join("store"))
                .map_err(|e| Error::invalid(e.to_string()))?
                .display()
        ),
    };
    let artifacts_url = match &args.artifacts {
        Some(url) => url.clone(),
        None => file_url(&args.data_dir.join("artifacts"))?,
    };
    let mut store = open_store(&store_url)?;
    let mut artifacts = open_artifacts(&artifacts_url)?;
    if let Some(m) = metrics {
        store = Arc::new(crate::metrics::MeteredStore::new(store, m.clone()));
        artifacts = Arc::new(crate::metrics::MeteredArtifacts::new(artifacts, m));
    }
    EdgeSync::builder()
        .store(store)
        .artifacts(artifacts)
        .config(args.core_config())
        .clock(clock)
        .build()
        .await
}

/// A control plane that keeps everything in memory (for documents and tests).
pub async fn in_memory() -> Result<EdgeSync> {
    EdgeSync::builder()
        .store(Arc::new(MemoryStore::new()))
        .artifacts(open_artifacts("memory://")?)
        .build()
        .await
}
