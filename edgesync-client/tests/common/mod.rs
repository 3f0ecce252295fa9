//! A real EdgeSync server (sled store, file artifacts in a temp dir) on a free loopback port,
//! and a tiny scriptable poem server for failure cases the real one cannot produce on demand.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use edgesync_client::wire::{FunctionMetadata, RegisterNodeRequest};
use edgesync_client::{Client, ClientBuilder, RetryPolicy};
use edgesync_core::EdgeSync;
use edgesync_server::config::ServeArgs;
use edgesync_server::{HttpLimits, app, wiring};
use poem::listener::{Acceptor, Listener, TcpListener};

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub edgesync: EdgeSync,
    pub base_url: String,
    pub admin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fast retries, so retry tests do not sleep long.
pub fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let args = ServeArgs::defaults_for(dir.path().join("data"), addr);
        let edgesync = wiring::build(&args).await.unwrap();
        let admin = edgesync
            .bootstrap_admin_key()
            .await
            .unwrap()
            .expect("a fresh store has no key")
            .secret;
        let endpoint = app(&edgesync, HttpLimits::default());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Self {
            dir,
            edgesync,
            base_url: format!("http://{addr}"),
            admin,
            task,
        }
    }

    pub fn builder(&self) -> ClientBuilder {
        Client::builder(&self.base_url).retry_policy(fast_retries(2))
    }

    /// A client with the bootstrap admin key.
    pub fn admin(&self) -> Client {
        self.builder().api_key(&self.admin).build().unwrap()
    }
}

pub fn register_request(name: &str, labels: &[(&str, &str)]) -> RegisterNodeRequest {
    RegisterNodeRequest {
        name: name.into(),
        pop: "fra".into(),
        region: "eu".into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        agent_version: "1.0.0".into(),
        capabilities: vec!["wasm".into()],
        memory_budget_bytes: None,
    }
}

pub fn metadata(name: &str) -> FunctionMetadata {
    FunctionMetadata {
        name: name.into(),
        entrypoint: "_start".into(),
        memory_pages: 4,
        max_execution_ms: 1000,
        max_concurrency: 4,
        description: "test".into(),
    }
}

/// A scriptable HTTP server: `handler` gets the attempt number (0-based) and answers.
pub struct TinyServer {
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TinyServer {
    pub async fn start<F>(handler: F) -> Self
    where
        F: Fn(usize, &poem::Request) -> poem::Response + Send + Sync + 'static,
    {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let handler = Arc::new(handler);
        let endpoint = poem::endpoint::make_sync(move |req: poem::Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            handler(n, &req)
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Self {
            base_url: format!("http://{addr}"),
            hits,
            task,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A problem+json response.
pub fn problem(status: u16, code: &str, retryable: bool) -> poem::Response {
    let body = serde_json::json!({
        "type": format!("urn:edgesync:error:{code}"),
        "title": "test",
        "status": status,
        "detail": format!("scripted {code}"),
        "code": code,
        "retryable": retryable,
        "request_id": "test-request",
    });
    poem::Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/problem+json")
        .body(body.to_string())
}

/// A JSON 200 response.
pub fn json_ok(value: serde_json::Value) -> poem::Response {
    poem::Response::builder()
        .content_type("application/json")
        .body(value.to_string())
}

/// A deployment request; built from JSON so fields the server adds later keep their defaults.
pub fn deployment(
    function_id: uuid::Uuid,
    version: u32,
    selector: &str,
) -> edgesync_client::wire::CreateDeploymentRequest {
    serde_json::from_value(serde_json::json!({
        "function_id": function_id,
        "version": version,
        "selector": selector,
        "name": "test",
    }))
    .unwrap()
}
