//! The `EdgeSync` facade: what embedders and the server call. It holds the rules; storage,
//! artifacts, notifications and time come in through the ports.
//!
//! ```no_run
//! # async fn demo() -> edgesync_core::Result<()> {
//! use std::sync::Arc;
//! use edgesync_core::{EdgeSync, store::memory::MemoryStore};
//! # let artifacts: Arc<dyn edgesync_core::ArtifactStore> = unimplemented!();
//! let edgesync = EdgeSync::builder()
//!     .store(Arc::new(MemoryStore::new()))
//!     .artifacts(artifacts)
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

mod api_keys;
mod auth;
mod builder;
mod catalog;
mod commands;
mod deployments;
mod fleet;
mod functions;
mod history;
mod ingest;
mod key_cache;
mod maintenance;
mod node_deployments;
mod nodes;
mod presence;
mod replication;
mod rollback;
mod rollouts;
mod routes;
mod schemas;
mod sync;
mod targets;
mod telemetry;
mod uploads;

pub use maintenance::MaintenanceReport;

use std::sync::Arc;
use std::time::Duration;

pub use api_keys::{MAX_ROTATION_GRACE, NewApiKey};
pub use auth::{Principal, RequiredAccess};
pub use builder::EdgeSyncBuilder;
pub use commands::{CommandResult, MAX_COMMAND_TIMEOUT, NewCommand};
pub use deployments::{DeploymentDetail, DeploymentNodeState, MAX_PRIORITY, NewDeployment};
pub use functions::{ArtifactDownload, FunctionDetail};
pub use history::{MAX_STATS_WINDOW, Percentiles, SyncStats, SyncStatsQuery};
pub use nodes::{NodeFilter, NodeView, RegisteredNode};
pub use replication::RefreshReport;
pub use rollback::RollbackOutcome;
pub use rollouts::{Preview, PreviewNode, plan_hash};
pub use routes::RouteSpec;
pub use sync::{Ack, AckOutcome, EMPTY_PLAN, MAX_WAIT, ServedAction, ServedPlan};
pub use telemetry::{
    Bucket, Event, MAX_BATCH, MAX_FUTURE_SKEW, MAX_METRIC_LEN, Sample, TelemetryQuery,
    TelemetrySeries,
};
pub use uploads::{PendingUpload, UPLOAD_EXPIRY_GRACE, UploadTarget};

use crate::artifacts::ArtifactStore;
use crate::auth::{NodeTokenIssuer, UrlSigner};
use crate::clock::Clock;
use crate::notify::Notifier;
use crate::store::Store;

/// Tunables of the control plane. `Default` gives the single-binary defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// A node with no heartbeat for this long is offline.
    pub offline_timeout: Duration,
    /// Lifetime of node tokens.
    pub node_token_ttl: Duration,
    /// Lifetime of signed artifact URLs.
    pub artifact_url_ttl: Duration,
    /// Largest accepted WASM module.
    pub max_module_bytes: u64,
    /// Base of server-signed artifact URLs, e.g. `http://127.0.0.1:8080/api/v1/artifacts`; the
    /// artifact's SHA-256 and the signature are appended.
    pub artifact_url_base: String,
    /// Lifetime of signed upload URLs (two-step registration).
    pub upload_url_ttl: Duration,
    /// Base of signed upload URLs, e.g. `http://127.0.0.1:8080/api/v1/uploads`; the function id,
    /// the version and the signature are appended.
    pub upload_url_base: String,
    /// How long an unreferenced artifact is kept before garbage collection deletes it (protects
    /// uploads that are about to reference it).
    pub artifact_gc_grace: Duration,
    /// Every API key must sign its requests (HMAC), not only keys created with
    /// `require_signature`.
    pub require_signatures: bool,
    /// bcrypt cost of node refresh secrets (4–31). The secrets are 256-bit random, so the cost
    /// is not what protects them; it bounds how fast a stolen hash could be checked.
    pub bcrypt_cost: u32,
    /// Caps every function's declared limits must fit.
    pub quotas: Quotas,
    /// How long telemetry is kept.
    pub telemetry_retention: Duration,
    /// Several replicas share the store: pick up each other's changes, and run cluster-wide
    /// jobs only while holding the job lease.
    pub replicated: bool,
    /// How often replicas merge each other's node presence (with `replicated`).
    pub presence_merge_interval: Duration,
    /// How long the job lease lasts without renewal (with `replicated`).
    pub lease_ttl: Duration,
}

/// Server-wide caps on what a function may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Largest `memory_pages` (64 KiB each).
    pub max_memory_pages: u32,
    /// Largest `max_execution_ms`.
    pub max_execution_ms: u32,
    /// Largest `max_concurrency`.
    pub max_concurrency: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_memory_pages: crate::model::function::MAX_MEMORY_PAGES,
            max_execution_ms: crate::model::function::MAX_EXECUTION_MS,
            max_concurrency: crate::model::function::MAX_CONCURRENCY,
        }
    }
}

impl Quotas {
    /// Checks a function's declared limits against the caps.
    pub fn check(&self, spec: &crate::model::FunctionSpec) -> crate::Result<()> {
        let over = |what: &str, got: u32, cap: u32| {
            crate::Error::new(
                crate::ErrorCode::QuotaExceeded,
                format!("{what} {got} exceeds this server's quota of {cap}"),
            )
        };
        if spec.memory_pages > self.max_memory_pages {
            return Err(over(
                "memory_pages",
                spec.memory_pages,
                self.max_memory_pages,
            ));
        }
        if spec.max_execution_ms > self.max_execution_ms {
            return Err(over(
                "max_execution_ms",
                spec.max_execution_ms,
                self.max_execution_ms,
            ));
        }
        if spec.max_concurrency > self.max_concurrency {
            return Err(over(
                "max_concurrency",
                spec.max_concurrency,
                self.max_concurrency,
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            offline_timeout: Duration::from_secs(30),
            node_token_ttl: Duration::from_secs(3600),
            artifact_url_ttl: Duration::from_secs(900),
            max_module_bytes: 64 * 1024 * 1024,
            artifact_url_base: "http://127.0.0.1:8080/api/v1/artifacts".into(),
            upload_url_ttl: Duration::from_secs(900),
            upload_url_base: "http://127.0.0.1:8080/api/v1/uploads".into(),
            artifact_gc_grace: Duration::from_secs(600),
            require_signatures: false,
            bcrypt_cost: crate::auth::refresh_secrets::BCRYPT_COST,
            quotas: Quotas::default(),
            telemetry_retention: Duration::from_secs(7 * 24 * 3600),
            replicated: false,
            presence_merge_interval: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(10),
        }
    }
}

/// The control plane. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct EdgeSync {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    config: Config,
    tokens: NodeTokenIssuer,
    url_signer: UrlSigner,
    fleet: fleet::Fleet,
    keys: key_cache::KeyCache,
    nonces: crate::auth::request_signing::NonceCache,
    catalog: catalog::CatalogState,
    targets: targets::Targets,
    node_deployments: node_deployments::NodeDeployments,
    open_plans: sync::OpenPlans,
    commands: commands::OpenCommands,
    replication: replication::Replication,
}

impl EdgeSync {
    /// Starts building a control plane.
    pub fn builder() -> EdgeSyncBuilder {
        EdgeSyncBuilder::default()
    }

    /// The configuration in effect.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store (for embedders that need raw access, e.g. backups).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The artifact store.
    pub fn artifacts(&self) -> &Arc<dyn ArtifactStore> {
        &self.inner.artifacts
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    fn now(&self) -> crate::model::Timestamp {
        self.inner.clock.now()
    }

    /// Recomputes the targets of some nodes (all when `None`) after something they depend on
    /// changed; wakes long polls and notifies the nodes whose revision moved (`sync`), and the
    /// nodes whose target gained an install (`deploy`, with a signed artifact URL).
    fn retarget(&self, affected: Affected<'_>) -> usize {
        self.retarget_announcing(affected, targets::Announce::Changes)
    }

    /// [`Self::retarget`], telling the nodes only when `announce` says so. The targets are
    /// computed over the fleet table in place, under its read lock: copying 100,000 node
    /// records out first would briefly double their memory.
    fn retarget_announcing(&self, affected: Affected<'_>, announce: targets::Announce) -> usize {
        use targets::Targets;
        let catalog = self.inner.catalog.catalog();
        let running = match affected {
            Affected::Running(functions) => self.inner.targets.nodes_with_functions(functions),
            _ => Default::default(),
        };
        let computed = self.inner.fleet.with_table(|fleet| {
            let nodes = fleet.values().map(|e| &e.node.value);
            match affected {
                Affected::All => Targets::compute(nodes, &catalog),
                Affected::Nodes(ids) => Targets::compute(
                    ids.iter()
                        .filter_map(|id| fleet.get(id))
                        .map(|e| &e.node.value),
                    &catalog,
                ),
                Affected::SelectedBy(d) => {
                    Targets::compute(nodes.filter(|n| crate::desired::selects(d, n)), &catalog)
                }
                Affected::Running(_) => {
                    Targets::compute(nodes.filter(|n| running.contains(&n.id)), &catalog)
                }
            }
        });
        let (changed, gained) =
            self.inner
                .targets
                .apply(computed, self.inner.notifier.as_ref(), announce);
        if !gained.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let this = self.clone();
            runtime.spawn(async move { this.notify_deploys(gained).await });
        }
        changed.len()
    }

    /// Publishes `edgesync/nodes/{id}/deploy` for each gained install (QoS 1 on MQTT).
    async fn notify_deploys(
        &self,
        gained: Vec<(crate::model::NodeId, crate::model::InstallFunction)>,
    ) {
        for (node, install) in gained {
            let Ok(key) = crate::ArtifactKey::for_sha256_hex(&install.sha256) else {
                continue;
            };
            let url = match self.artifact_url(&key).await {
                Ok((url, _)) => url,
                Err(e) => {
                    tracing::warn!(error = %e, "could not sign a URL for a deploy notification");
                    continue;
                }
            };
            let payload = serde_json::json!({
                "function_id": install.function_id,
                "version": install.version,
                "artifact_url": url,
                "sha256": install.sha256,
                "memory_pages": install.memory_pages,
                "max_execution_ms": install.max_execution_ms,
            });
            self.inner.notifier.publish(crate::notify::Notification {
                topic: format!("edgesync/nodes/{node}/deploy"),
                payload: bytes::Bytes::from(payload.to_string()),
            });
        }
    }
}

/// Which nodes a change can affect: only they get their targets recomputed, so a deploy
/// touching k nodes costs O(k) target computations (plus a cheap selector scan).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Affected<'a> {
    /// Every node (schema changes, cache reloads, startup).
    All,
    /// These nodes (registration, a node's own changes).
    Nodes(&'a [crate::model::NodeId]),
    /// The nodes a deployment selects.
    SelectedBy(&'a crate::model::Deployment),
    /// The nodes whose target runs one of these functions (route changes).
    Running(&'a [crate::model::FunctionId]),
}

/// Readiness of the dependencies, for `/ready`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// `None` when the store answered, else why not.
    pub store: Option<String>,
    /// `None` when the artifact store answered, else why not.
    pub artifacts: Option<String>,
    /// `None` when notifications flow, else why not (degraded, not down).
    pub notifier: Option<String>,
}

impl Readiness {
    /// Ready when the store and the artifact store answer; the notifier only degrades.
    pub fn is_ready(&self) -> bool {
        self.store.is_none() && self.artifacts.is_none()
    }
}

impl EdgeSync {
    /// The notifier's health, without waiting on anything.
    pub fn notifier_health(&self) -> crate::notify::NotifierHealth {
        self.inner.notifier.health()
    }

    /// Checks the dependencies.
    pub async fn readiness(&self) -> Readiness {
        let describe = |e: crate::Error| {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(&e) {
                s.push_str(&format!(" ({src})"));
            }
            s
        };
        let (store, artifacts) =
            tokio::join!(self.inner.store.check(), self.inner.artifacts.check());
        Readiness {
            store: store.err().map(describe),
            artifacts: artifacts.err().map(describe),
            notifier: match self.inner.notifier.health() {
                crate::notify::NotifierHealth::Ok => None,
                crate::notify::NotifierHealth::Degraded(why) => Some(why),
            },
        }
    }
}
