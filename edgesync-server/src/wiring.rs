//! Backends chosen at run time from URLs.

use std::path::Path;
use std::sync::Arc;

use edgesync_cockroach::{CockroachConfig, CockroachStore};
use edgesync_core::store::batching::BatchingStore;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::{ArtifactStore, Clock, EdgeSync, Error, Result, Store, SystemClock};
use edgesync_object_store::ObjectArtifactStore;
use edgesync_sled::SledStore;

use crate::config::ServeArgs;

/// A record store opened from a URL.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The SQL store behind it, when it is one (migrations, pool statistics).
    pub sql: Option<CockroachStore>,
}

/// Whether `url` names a SQL (CockroachDB / PostgreSQL) store.
pub fn is_sql_url(url: &str) -> bool {
    ["postgresql://", "postgres://", "cockroachdb://"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// How a store is opened: the SQL pool's size, sled's page cache.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Most database connections (SQL store).
    pub max_connections: u32,
    /// sled's page cache in bytes (sled store).
    pub sled_cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 2,
            sled_cache_bytes: edgesync_sled::DEFAULT_CACHE_BYTES,
        }
    }
}

/// Opens the record store named by `url`: `sled:///path`, `memory://`, or `postgresql://…` /
/// `postgres://…` / `cockroachdb://…` (several replicas may share a SQL store).
pub async fn open_store(url: &str, options: StoreOptions) -> Result<OpenedStore> {
    if let Some(path) = url.strip_prefix("sled://") {
        if path.is_empty() {
            return Err(Error::invalid(
                "sled:// needs a path, e.g. sled:///var/lib/edgesync/store",
            ));
        }
        let sled = SledStore::open_with_cache(path, options.sled_cache_bytes)?;
        // sled runs one transaction at a time and each durable commit waits for a flush:
        // commits that queue meanwhile (a fleet's first plans after a deploy) share the next
        // transaction instead (5× the commits per second from 64 tasks, `write_behind` bench).
        return Ok(OpenedStore {
            store: Arc::new(BatchingStore::new(Arc::new(sled))),
            sql: None,
        });
    }
    if url == "memory://" {
        return Ok(OpenedStore {
            store: Arc::new(MemoryStore::new()),
            sql: None,
        });
    }
    if is_sql_url(url) {
        let sql = CockroachStore::connect(
            url,
            CockroachConfig {
                max_connections: options.max_connections.max(1),
                ..CockroachConfig::default()
            },
        )
        .await?;
        // Concurrent commits (a fleet acking a deploy) share transactions instead of
        // contending for round trips and failing each other with 40001.
        return Ok(OpenedStore {
            store: Arc::new(BatchingStore::new(Arc::new(sql.clone()))),
            sql: Some(sql),
        });
    }
    Err(Error::invalid(
        "unsupported store URL: use sled:///path, memory://, postgresql://… or cockroachdb://…",
    ))
}

/// Applies the SQL store's migrations (`edgesync migrate`).
pub async fn migrate(url: &str) -> Result<String> {
    if !is_sql_url(url) {
        return Ok("sled and memory stores need no migration".into());
    }
    let opened = open_store(url, StoreOptions::default()).await?;
    let Some(sql) = opened.sql else {
        return Err(Error::internal("a SQL URL opened a non-SQL store"));
    };
    sql.migrate().await?;
    Ok(sql.check_schema().await?.to_string())
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
    let options = StoreOptions {
        max_connections: args.db_max_connections,
        sled_cache_bytes: args.sled_cache_mb.max(1) << 20,
    };
    let opened = open_store(&store_url, options).await?;
    let mut config = args.core_config();
    if let Some(sql) = &opened.sql {
        let state = sql.check_schema().await?;
        if !state.is_up_to_date() {
            return Err(Error::new(
                edgesync_core::ErrorCode::ServiceUnavailable,
                format!(
                    "the database schema is not ready: {state}. Run `edgesync migrate` with the same EDGESYNC_STORE first"
                ),
            ));
        }
        // Several replicas may share this store.
        config.replicated = true;
    }
    let mut store = opened.store;
    let mut artifacts = open_artifacts(&artifacts_url)?;
    if let Some(m) = metrics {
        if let Some(sql) = &opened.sql {
            let pool = sql.pool().clone();
            m.set_pool_probe(Box::new(move || (pool.size(), pool.num_idle())));
        }
        store = Arc::new(crate::metrics::MeteredStore::new(store, m.clone()));
        artifacts = Arc::new(crate::metrics::MeteredArtifacts::new(artifacts, m));
    }
    let mut builder = EdgeSync::builder();
    if let Some(url) = &args.mqtt {
        let mqtt = edgesync_mqtt::MqttNotifier::connect(
            url,
            edgesync_mqtt::MqttNotifierOptions::default(),
        )?;
        builder = builder.notifier(Arc::new(mqtt));
    }
    builder
        .store(store)
        .artifacts(artifacts)
        .config(config)
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
