//! Wiring: open the data directory and restore what was applied, bind the listen address,
//! serve the routes, and (in the background) establish the session with the control plane and
//! run the sync, heartbeat, telemetry and command loops.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AgentConfig;
use crate::error::{AgentError, Result};
use crate::session::{self, Session};
use crate::shared::Shared;
use crate::{commands, heartbeat, http, sync, telemetry};

/// An agent, configured but not started.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
}

/// A started agent: it serves its routes and syncs in the background until it is shut down
/// or its credentials are refused for good.
#[derive(Debug)]
pub struct RunningAgent {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<()>>>,
}

/// Aborts background loops when the control task ends.
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl Agent {
    /// An agent with this configuration.
    pub fn new(config: AgentConfig) -> Self {
        Self { config }
    }

    /// Restores the applied state from the data directory, starts serving on the listen
    /// address at once (the last good state, even while the control plane is unreachable),
    /// and starts syncing.
    ///
    /// # Errors
    /// An invalid configuration, an unusable data directory, a listen address in use.
    pub async fn start(self) -> Result<RunningAgent> {
        self.config.validate()?;
        let listen = self.config.listen;
        let shared = Shared::open(self.config).await?;
        let snapshot = shared.snapshot();
        tracing::info!(
            functions = snapshot.running().count(),
            routes = snapshot.routes.routes.len(),
            revision = snapshot.sync_revision.as_deref().unwrap_or("-"),
            "restored the applied state"
        );
        let listener = http::bind(listen).await?;
        let local_addr = listener.local_addr().map_err(|source| AgentError::Listen {
            addr: listen,
            source,
        })?;
        let (stop, mut stopped) = watch::channel(false);
        let mut http_stop = stopped.clone();
        let http_task = tokio::spawn(http::serve(shared.clone(), listener, async move {
            let _ = http_stop.wait_for(|s| *s).await;
        }));
        let task = tokio::spawn(async move {
            let control = control(shared);
            tokio::pin!(control);
            tokio::select! {
                r = &mut control => r,
                r = http_task => r.map_err(|e| AgentError::Internal(e.to_string()))?,
                _ = stopped.wait_for(|s| *s) => Ok(()),
            }
        });
        tracing::info!(listen = %local_addr, "serving routes");
        Ok(RunningAgent {
            local_addr,
            stop,
            task: Some(task),
        })
    }
}

/// The session, then the loops; returns only when the session is lost for good.
async fn control(shared: Arc<Shared>) -> Result<()> {
    let client = session::client(&shared.config, None)?;
    let session = Arc::new(Session::establish(&shared.config, &client).await?);
    shared.set_identity(session.node_id(), session.name());
    shared.contact_ok();
    let _loops = AbortOnDrop(vec![
        tokio::spawn(heartbeat::run(shared.clone(), session.clone())),
        tokio::spawn(telemetry::run(shared.clone(), session.clone())),
        tokio::spawn(commands::run(shared.clone(), session.clone())),
    ]);
    sync::run(shared, session).await
}

impl RunningAgent {
    /// The address the routes are served on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the agent stops by itself: only a final error does that (credentials
    /// refused, no way to register).
    pub async fn wait(&mut self) -> Result<()> {
        match self.task.as_mut() {
            Some(task) => {
                let r = task
                    .await
                    .map_err(|e| AgentError::Internal(e.to_string()))?;
                self.task = None;
                r
            }
            None => Ok(()),
        }
    }

    /// Stops serving (requests in flight finish, up to 10 s) and syncing.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }
}
