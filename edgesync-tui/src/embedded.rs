//! Embedded mode: the control plane opened in-process on a data directory and served on an
//! ephemeral loopback port, so the console talks to it through the same typed client as to a
//! remote server (one code path for both modes).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use edgesync_client::Client;
use edgesync_core::EdgeSync;
use edgesync_core::control::NewApiKey;
use edgesync_core::model::{ApiKeyId, Scope};
use edgesync_server::config::ServeArgs;
use edgesync_server::{jobs, wiring};
use poem::listener::TcpAcceptor;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the console says when a server holds the data directory.
pub const IN_USE: &str = "a server is running on this data directory; use --server instead";

/// A control plane running inside this process.
pub struct Embedded {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// An admin API key for it.
    pub api_key: String,
    /// Its offline timeout.
    pub offline_timeout: Duration,
    /// The data directory.
    pub data_dir: PathBuf,
    edgesync: EdgeSync,
    session_key: Option<ApiKeyId>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    jobs: JoinHandle<()>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("url", &self.url)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Whether opening the store failed because another process holds the directory.
fn in_use(e: &edgesync_core::Error) -> bool {
    e.code() == edgesync_core::ErrorCode::StoreUnavailable
        && e.message().contains("in use by another process")
}

impl Embedded {
    /// Opens `data_dir` (the layout `edgesync serve --data-dir` uses), runs the background
    /// jobs and serves the API on `127.0.0.1:<ephemeral>`. Fails with [`IN_USE`] when a server
    /// holds the directory.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("could not listen on a loopback port")?;
        let addr = listener.local_addr()?;
        let args = ServeArgs::defaults_for(data_dir.to_path_buf(), addr);
        let edgesync = match wiring::build(&args).await {
            Ok(e) => e,
            Err(e) if in_use(&e) => anyhow::bail!(IN_USE),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "could not open the data directory {}",
                    data_dir.display()
                )));
            }
        };
        let shutdown = CancellationToken::new();
        let jobs = jobs::spawn(edgesync.clone(), shutdown.clone());
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let endpoint = edgesync_server::app(&edgesync, args.http_limits());
        let token = shutdown.clone();
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    token.cancelled_owned(),
                    Some(Duration::from_secs(2)),
                )
                .await;
        });
        let mut embedded = Self {
            url: format!("http://{addr}"),
            api_key: String::new(),
            offline_timeout: args.core_config().offline_timeout,
            data_dir: data_dir.to_path_buf(),
            edgesync,
            session_key: None,
            shutdown,
            server,
            jobs,
        };
        if let Err(e) = embedded.choose_key().await {
            embedded.stop().await;
            return Err(e);
        }
        Ok(embedded)
    }

    /// The admin key: the first one (written to `DIR/admin.key`, as `edgesync serve` does) on
    /// an empty store; else `DIR/admin.key` when it still works; else a key for this session,
    /// revoked when the console exits.
    async fn choose_key(&mut self) -> anyhow::Result<()> {
        let path = self.data_dir.join("admin.key");
        if let Some(generated) = self.edgesync.bootstrap_admin_key().await? {
            write_secret_file(&path, &generated.secret)
                .with_context(|| format!("could not write {}", path.display()))?;
            self.api_key = generated.secret;
            return Ok(());
        }
        if let Ok(text) = std::fs::read_to_string(&path) {
            let key = text.trim().to_owned();
            if !key.is_empty() && self.key_works(&key).await {
                self.api_key = key;
                return Ok(());
            }
        }
        let (key, secret) = self
            .edgesync
            .create_api_key(NewApiKey {
                name: "edgesync-tui-session".into(),
                scopes: vec![Scope::Admin],
                expires_at: None,
                require_signature: false,
            })
            .await?;
        self.session_key = Some(key.id);
        self.api_key = secret.secret;
        Ok(())
    }

    async fn key_works(&self, key: &str) -> bool {
        let Ok(client) = Client::builder(&self.url).api_key(key).retries(0).build() else {
            return false;
        };
        client.list_api_keys().await.is_ok()
    }

    /// Stops serving, revokes the session key and closes the store.
    pub async fn stop(self) {
        if let Some(id) = self.session_key {
            let _ = self.edgesync.revoke_api_key(id).await;
        }
        self.shutdown.cancel();
        let _ = self.server.await;
        let _ = self.jobs.await;
    }
}

/// Writes a secret to a file only its owner can read.
fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    writeln!(f, "{secret}")?;
    f.sync_all()
}
