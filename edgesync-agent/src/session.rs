//! The node's session with the control plane: registration on first start, credentials reused
//! afterwards, and token refreshes (with the current token while it is valid, with the refresh
//! secret once it has expired). Secrets never reach a log line.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use edgesync_client::wire::RegisterNodeRequest;
use edgesync_client::{Client, ClientError, NodeClient};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::credentials::{self, Credentials};
use crate::error::{AgentError, Result};

/// What the agent advertises it can do.
const CAPABILITIES: [&str; 3] = ["wasm", "wagi", "sqlite"];

/// A token this close to its expiry is exchanged with the refresh secret rather than used.
const EXPIRY_MARGIN: time::Duration = time::Duration::seconds(10);

/// A registered node's connection to the control plane.
pub(crate) struct Session {
    node: NodeClient,
    creds: Mutex<Credentials>,
    refresh_lock: tokio::sync::Mutex<Option<Instant>>,
    data_dir: PathBuf,
}

/// The HTTP client for the configured server (TLS roots, timeouts, retries).
pub(crate) fn client(config: &AgentConfig, api_key: Option<&str>) -> Result<Client> {
    let mut builder = Client::builder(config.server.clone())
        .user_agent(concat!("edgesync-agent/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .retries(2);
    if let Some(path) = &config.root_ca {
        let pem = std::fs::read(path).map_err(|e| AgentError::io(path, e))?;
        builder = builder.root_certificate(pem);
    }
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    Ok(builder.build()?)
}

/// Whether a failure may go away by itself (server down, overloaded, restarting).
pub(crate) fn transient(e: &ClientError) -> bool {
    e.retryable()
        || matches!(e, ClientError::Transport(_))
        || e.status()
            .is_some_and(|s| s.is_server_error() || s.as_u16() == 429)
}

/// Whether the server refused the node's credentials.
pub(crate) fn unauthorized(e: &ClientError) -> bool {
    e.status().is_some_and(|s| s.as_u16() == 401)
}

impl Session {
    /// Reuses the stored credentials or registers, retrying while the server is unreachable.
    ///
    /// # Errors
    /// Final refusals: no credentials and no enrollment key or name, a name already taken, an
    /// enrollment key or refresh secret the server rejects.
    pub(crate) async fn establish(config: &AgentConfig, client: &Client) -> Result<Self> {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
        loop {
            match Self::try_establish(config, client).await {
                Err(AgentError::Client(e)) if transient(&e) => {
                    tracing::warn!(error = %e, attempt = backoff.failures() + 1, "the control plane is unreachable; retrying");
                    backoff.wait().await;
                }
                other => return other,
            }
        }
    }

    async fn try_establish(config: &AgentConfig, client: &Client) -> Result<Self> {
        if let Some(creds) = credentials::load(&config.data_dir)? {
            if creds.server.trim_end_matches('/') != config.server.trim_end_matches('/') {
                tracing::warn!(stored = %creds.server, configured = %config.server, "the credentials were issued by another server URL; using them anyway");
            }
            let session = Self::new(client, creds, config.data_dir.clone());
            session.ensure_fresh().await?;
            tracing::info!(node_id = %session.node_id(), "reusing stored credentials");
            return Ok(session);
        }
        let key = config.enroll_key.as_deref().ok_or_else(|| {
            AgentError::Config(format!(
                "no credentials in {} and no --enroll-key to register with",
                config.data_dir.display()
            ))
        })?;
        let name = config
            .name
            .clone()
            .ok_or_else(|| AgentError::Config("--name is needed to register".into()))?;
        let enroll = self::client(config, Some(key))?;
        let response = enroll
            .register_node(&RegisterNodeRequest {
                name: name.clone(),
                pop: config.pop.clone(),
                region: config.region.clone(),
                labels: config.labels.clone(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
                capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
                memory_budget_bytes: config.memory_budget_bytes,
            })
            .await?;
        let creds = Credentials {
            server: config.server.clone(),
            node_id: response.node_id,
            name,
            token: response.token,
            token_expires_at: response.token_expires_at,
            refresh_at: Credentials::refresh_point(response.token_expires_at),
            refresh_token: response.refresh_token,
        };
        credentials::save(&config.data_dir, &creds)?;
        tracing::info!(node_id = %creds.node_id, name = %creds.name, "registered");
        Ok(Self::new(client, creds, config.data_dir.clone()))
    }

    fn new(client: &Client, creds: Credentials, data_dir: PathBuf) -> Self {
        Self {
            node: client.node_with_token(creds.node_id, creds.token.clone()),
            creds: Mutex::new(creds),
            refresh_lock: tokio::sync::Mutex::new(None),
            data_dir,
        }
    }

    /// The node client (its token follows refreshes).
    pub(crate) fn node(&self) -> &NodeClient {
        &self.node
    }

    /// The node's id.
    pub(crate) fn node_id(&self) -> Uuid {
        self.node.id()
    }

    /// The node's name.
    pub(crate) fn name(&self) -> String {
        self.creds().name
    }

    fn creds(&self) -> Credentials {
        self.creds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Refreshes the token when it is three quarters into its life.
    pub(crate) async fn ensure_fresh(&self) -> Result<()> {
        if OffsetDateTime::now_utc() < self.creds().refresh_at {
            return Ok(());
        }
        self.refresh(false).await
    }

    /// The server refused the token: exchange the refresh secret for a new one (unless another
    /// task just did).
    pub(crate) async fn recover(&self) -> Result<()> {
        self.refresh(true).await
    }

    async fn refresh(&self, refused: bool) -> Result<()> {
        let mut last = self.refresh_lock.lock().await;
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(5)) {
            return Ok(());
        }
        let creds = self.creds();
        if !refused && OffsetDateTime::now_utc() < creds.refresh_at {
            return Ok(());
        }
        let usable = !refused && OffsetDateTime::now_utc() + EXPIRY_MARGIN < creds.token_expires_at;
        let token = if usable {
            match self.node.refresh_token().await {
                Ok(t) => t,
                Err(e) if unauthorized(&e) => {
                    self.node
                        .refresh_token_with_secret(&creds.refresh_token)
                        .await?
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            self.node
                .refresh_token_with_secret(&creds.refresh_token)
                .await?
        };
        let mut updated = creds;
        updated.set_token(token.token, token.expires_at);
        credentials::save(&self.data_dir, &updated)?;
        *self.creds.lock().unwrap_or_else(PoisonError::into_inner) = updated;
        *last = Some(Instant::now());
        tracing::info!(node_id = %self.node_id(), expires_at = %token.expires_at, "node token refreshed");
        Ok(())
    }
}
