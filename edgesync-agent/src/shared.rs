//! What every part of a running agent shares: configuration, the WASM runtime, live functions
//! and routes, the caches, the local database, the applied state (kept on disk after every
//! change) and the statistics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use edgesync_client::wire::{ReportedState, RunningFunction};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::artifacts::ArtifactCache;
use crate::config::AgentConfig;
use crate::db::LocalDb;
use crate::error::Result;
use crate::fsutil::create_dir;
use crate::functions::FunctionRegistry;
use crate::resources::{self, CpuSampler};
use crate::routes::{RouteSwitch, Routes};
use crate::runtime::WasmRuntime;
use crate::state::{AppliedState, StateFile};
use crate::stats::Stats;

/// The node's link with the control plane, for `/_agent/status` and logs.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct LinkStatus {
    /// The node's id, once registered.
    pub(crate) node_id: Option<Uuid>,
    /// The node's name, once registered.
    pub(crate) name: Option<String>,
    /// Whether the last exchange with the control plane worked.
    pub(crate) connected: bool,
    /// The last failure, if the last exchange failed.
    pub(crate) last_error: Option<String>,
    /// The last successful exchange.
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) last_contact: Option<OffsetDateTime>,
}

/// The agent's shared parts.
pub(crate) struct Shared {
    pub(crate) config: AgentConfig,
    pub(crate) runtime: Arc<WasmRuntime>,
    pub(crate) functions: FunctionRegistry,
    pub(crate) routes: RouteSwitch,
    pub(crate) artifacts: ArtifactCache,
    pub(crate) db: LocalDb,
    pub(crate) stats: Stats,
    pub(crate) schema_version: AtomicU64,
    pub(crate) started: Instant,
    state: Mutex<AppliedState>,
    state_file: StateFile,
    link: Mutex<LinkStatus>,
    cpu: Mutex<CpuSampler>,
}

impl Shared {
    /// Opens the data directory (creating it), the database and the caches, and restores the
    /// functions and routes applied before.
    pub(crate) async fn open(config: AgentConfig) -> Result<Arc<Self>> {
        create_dir(&config.data_dir)?;
        let artifacts = ArtifactCache::open(&config.data_dir)?;
        let db = LocalDb::open(&config.data_dir)?;
        let schema_version = db.schema_version().await?;
        let runtime = Arc::new(WasmRuntime::new(config.epoch_tick)?);
        let state_file = StateFile::new(&config.data_dir);
        let shared = Arc::new(Self {
            runtime,
            functions: FunctionRegistry::default(),
            routes: RouteSwitch::default(),
            artifacts,
            db,
            stats: Stats::default(),
            schema_version: AtomicU64::new(schema_version),
            started: Instant::now(),
            state: Mutex::new(AppliedState::default()),
            state_file,
            link: Mutex::new(LinkStatus::default()),
            cpu: Mutex::new(CpuSampler::default()),
            config,
        });
        shared.restore().await?;
        Ok(shared)
    }

    /// Re-reads the applied state from disk and serves it: every running function whose
    /// artifact is intact (compiled again), and the saved route table. A function whose
    /// artifact is gone is dropped from the state, so the control plane plans it again.
    /// Returns (functions, routes) now served.
    pub(crate) async fn restore(&self) -> Result<(usize, usize)> {
        let mut state = self.state_file.load()?;
        let mut live = Vec::new();
        let mut lost = Vec::new();
        for spec in state.running() {
            match self
                .functions
                .module(&self.runtime, &self.artifacts, &spec.sha256)
                .await
            {
                Ok(_) => live.push(spec.clone()),
                Err(e) => {
                    tracing::warn!(function = %spec.name, version = spec.version, error = %e, "cannot restore a function; the control plane will reinstall it");
                    lost.push(spec.function_id);
                }
            }
        }
        if !lost.is_empty() {
            for id in &lost {
                if let Some(slot) = state.functions.get_mut(id) {
                    slot.current = None;
                }
            }
            state.sync_revision = None;
            self.state_file.save(&state)?;
        }
        let routes = match Routes::compile(
            state.routes.revision.clone(),
            state.routes.routes.clone(),
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "the saved route table is invalid; serving none until the next sync");
                state.routes = Default::default();
                state.sync_revision = None;
                Routes::empty()
            }
        };
        let counts = (live.len(), routes.entries.len());
        self.functions.replace_all(live);
        self.routes.swap(routes);
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        Ok(counts)
    }

    /// A copy of the applied state.
    pub(crate) fn snapshot(&self) -> AppliedState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the applied state and saves it; in memory the change happens only once it is
    /// on disk.
    pub(crate) fn update_state<T>(&self, f: impl FnOnce(&mut AppliedState) -> T) -> Result<T> {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = guard.clone();
        let out = f(&mut next);
        if next != *guard {
            self.state_file.save(&next)?;
            *guard = next;
        }
        Ok(out)
    }

    /// Deletes artifacts and compiled modules no kept version needs.
    pub(crate) fn collect_garbage(&self) {
        let keep = self.snapshot().kept_artifacts();
        self.artifacts.retain(&keep);
        self.functions.retain_modules(&keep);
    }

    /// What the node reports: running functions, schema version, revisions, resources.
    pub(crate) fn reported_state(&self) -> ReportedState {
        let state = self.snapshot();
        let mut functions: Vec<RunningFunction> = state
            .running()
            .map(|s| RunningFunction {
                function_id: s.function_id,
                version: s.version,
            })
            .collect();
        functions.sort_by_key(|f| f.function_id);
        let resources = resources::usage(
            &mut self.cpu.lock().unwrap_or_else(PoisonError::into_inner),
            &self.config.data_dir,
        );
        ReportedState {
            functions,
            schema_version: self.schema_version.load(Ordering::Relaxed),
            routes_revision: state.routes.revision,
            sync_revision: state.sync_revision,
            resources,
        }
    }

    /// Refreshes the cached schema version from the ledger.
    pub(crate) async fn refresh_schema_version(&self) {
        match self.db.schema_version().await {
            Ok(v) => self.schema_version.store(v, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "cannot read the schema version"),
        }
    }

    /// The link status.
    pub(crate) fn link(&self) -> LinkStatus {
        self.link
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records who the node is.
    pub(crate) fn set_identity(&self, node_id: Uuid, name: String) {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        link.node_id = Some(node_id);
        link.name = Some(name);
    }

    /// The node's name (empty before registration).
    pub(crate) fn node_name(&self) -> String {
        self.link().name.unwrap_or_default()
    }

    /// An exchange with the control plane worked.
    pub(crate) fn contact_ok(&self) {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        if !link.connected {
            tracing::info!("connected to the control plane");
        }
        link.connected = true;
        link.last_error = None;
        link.last_contact = Some(OffsetDateTime::now_utc());
    }

    /// An exchange with the control plane failed; logged once per outage.
    pub(crate) fn contact_failed(&self, what: &str, error: &dyn std::fmt::Display) {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        if link.connected || link.last_error.is_none() {
            tracing::warn!(%what, %error, "lost the control plane; serving the last applied state");
        } else {
            tracing::debug!(%what, %error, "the control plane is still unreachable");
        }
        link.connected = false;
        link.last_error = Some(format!("{what}: {error}"));
    }
}
