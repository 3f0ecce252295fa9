//! Wiring a control plane from its ports.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::catalog::CatalogState;
use super::commands::OpenCommands;
use super::node_deployments::NodeDeployments;
use super::sync::OpenPlans;
use super::targets::Targets;
use super::{Config, EdgeSync, Inner, fleet::Fleet, key_cache::KeyCache};
use crate::artifacts::ArtifactStore;
use crate::auth::secrets::random_bytes;
use crate::auth::{NodeTokenIssuer, UrlSigner};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{ServerSecrets, Setting};
use crate::notify::{InProcessNotifier, Notifier};
use crate::store::{Record, RecordKey, Store, Write};

/// Builds an [`EdgeSync`]: `EdgeSync::builder().store(s).artifacts(a).build().await`.
#[derive(Default)]
pub struct EdgeSyncBuilder {
    store: Option<Arc<dyn Store>>,
    artifacts: Option<Arc<dyn ArtifactStore>>,
    notifier: Option<Arc<dyn Notifier>>,
    clock: Option<Arc<dyn Clock>>,
    config: Config,
}

impl EdgeSyncBuilder {
    /// Where records live (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where binaries live (required).
    pub fn artifacts(mut self, artifacts: Arc<dyn ArtifactStore>) -> Self {
        self.artifacts = Some(artifacts);
        self
    }

    /// Where notifications go (default: in-process only).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// The time source (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Tunables.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Loads (or, on first start, creates) the shared secrets and warms the caches.
    pub async fn build(self) -> Result<EdgeSync> {
        let store = self
            .store
            .ok_or_else(|| Error::invalid("EdgeSync::builder() needs a store"))?;
        let artifacts = self
            .artifacts
            .ok_or_else(|| Error::invalid("EdgeSync::builder() needs an artifact store"))?;
        let secrets = load_or_create_secrets(store.as_ref()).await?;
        let decode = |s: &str| {
            STANDARD
                .decode(s)
                .map_err(|e| Error::corrupt("server secrets", e))
        };
        let tokens = NodeTokenIssuer::new(&decode(&secrets.jwt_key)?, self.config.node_token_ttl)?;
        let url_signer = UrlSigner::new(&decode(&secrets.url_key)?)?;
        let fleet = Fleet::load(store.as_ref(), !self.config.replicated).await?;
        let keys = KeyCache::load(store.as_ref()).await?;
        let catalog = CatalogState::load(store.as_ref()).await?;
        let node_deployments = NodeDeployments::load(store.as_ref()).await?;
        let commands = OpenCommands::load(store.as_ref()).await?;
        let edgesync = EdgeSync {
            inner: Arc::new(Inner {
                store,
                artifacts,
                notifier: self
                    .notifier
                    .unwrap_or_else(|| Arc::new(InProcessNotifier::default())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config: self.config,
                tokens,
                url_signer,
                fleet,
                keys,
                nonces: Default::default(),
                catalog,
                targets: Targets::default(),
                node_deployments,
                open_plans: OpenPlans::default(),
                commands,
                replication: Default::default(),
            }),
        };
        // Every node's target as it was before the restart: nothing changed for the nodes,
        // so nothing is announced (a restart must not send the fleet 100,000 notifications).
        edgesync.retarget_announcing(super::Affected::All, super::targets::Announce::Nothing);
        Ok(edgesync)
    }
}

/// Reads the shared signing keys, creating them once if the store has none. Replicas racing on
/// an empty store agree: only one create succeeds and the others read it.
async fn load_or_create_secrets(store: &dyn Store) -> Result<ServerSecrets> {
    let key = RecordKey::Setting {
        name: "server_secrets".into(),
    };
    for _ in 0..3 {
        if let Some(stored) = store.get(&key).await? {
            return match stored.record {
                Record::Setting(Setting::ServerSecrets(s)) => Ok(s),
                other => Err(Error::internal(format!(
                    "setting server_secrets holds a {:?}",
                    other.kind()
                ))),
            };
        }
        let secrets = ServerSecrets {
            jwt_key: STANDARD.encode(random_bytes()?),
            url_key: STANDARD.encode(random_bytes()?),
        };
        match store
            .commit(&[Write::create(Record::Setting(Setting::ServerSecrets(
                secrets.clone(),
            )))])
            .await
        {
            Ok(_) => return Ok(secrets),
            Err(e) if e.code() == ErrorCode::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::internal(
        "could not load or create the server secrets",
    ))
}
