//! The agent's HTTP face: every request is matched against the route table and run through
//! its function; `/_agent/status` and `/_agent/health` are the agent's own (the `/_agent/`
//! prefix is reserved).

mod dispatch;
mod reply;
pub(crate) mod status;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::Server;
use poem::listener::TcpAcceptor;

use crate::error::{AgentError, Result};
use crate::shared::Shared;

/// Binds the listen address (port 0 picks a free port).
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::Listen { addr, source })
}

/// Serves until `shutdown` completes (then lets requests in flight finish, up to 10 s).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    let acceptor = TcpAcceptor::from_tokio(listener).map_err(|source| AgentError::Listen {
        addr: addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        source,
    })?;
    let endpoint = poem::endpoint::make(move |req| {
        let shared = shared.clone();
        async move { dispatch::handle(shared, req).await }
    });
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown, Some(Duration::from_secs(10)))
        .await
        .map_err(|e| AgentError::Internal(format!("the HTTP server failed: {e}")))
}
