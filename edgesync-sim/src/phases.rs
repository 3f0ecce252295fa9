//! The phases of a simulation run. Each returns what it measured; `main` turns them into ratios.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::load::{Stop, run};
use crate::server::Server;
use crate::stats::Stats;

/// One simulated node.
pub(crate) struct SimNode {
    /// Its id.
    pub(crate) id: String,
    /// Its token.
    pub(crate) token: String,
    /// The revision it last saw (`ETag`).
    pub(crate) revision: RwLock<Option<String>>,
}

/// Shared by every phase.
pub(crate) struct Ctx {
    /// HTTP client (a pool of keep-alive connections).
    pub(crate) http: reqwest::Client,
    /// The server.
    pub(crate) url: String,
    /// An admin key.
    pub(crate) key: String,
    /// The simulated fleet.
    pub(crate) nodes: RwLock<Vec<Arc<SimNode>>>,
    /// Distinguishes this run's node names.
    pub(crate) run: String,
}

impl Ctx {
    /// A context over `server`.
    pub(crate) fn new(server: &Server, connections: usize) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Arc::new(Self {
            http,
            url: server.url.clone(),
            key: server.key.clone(),
            nodes: RwLock::new(Vec::new()),
            run: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        }))
    }
}

/// `GET /bench/hello`: the baseline every figure is compared with.
pub(crate) async fn hello(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<Stats> {
    let probe = ctx
        .http
        .get(format!("{}/bench/hello", ctx.url))
        .send()
        .await?;
    if !probe.status().is_success() {
        bail!(
            "GET /bench/hello answered {}: start the server with --bench-routes (or let the simulator --spawn it)",
            probe.status()
        );
    }
    let c = ctx.clone();
    Ok(run(
        "baseline GET /bench/hello",
        workers,
        Stop::After(duration),
        move |_| {
            let c = c.clone();
            async move {
                match c.http.get(format!("{}/bench/hello", c.url)).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}

/// Registers `n` nodes.
pub(crate) async fn register(ctx: &Arc<Ctx>, workers: usize, n: u64) -> anyhow::Result<Stats> {
    let registered = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n as usize)));
    let c = ctx.clone();
    let out = registered.clone();
    let stats = run("register", workers, Stop::Count(n), move |i| {
        let c = c.clone();
        let out = out.clone();
        async move {
            let tier = if i % 2 == 0 { "edge" } else { "core" };
            let region = ["eu", "us", "ap", "sa"][(i % 4) as usize];
            let body = json!({
                "name": format!("sim-{}-{i}", c.run),
                "pop": format!("pop{}", i % 50),
                "labels": {"tier": tier, "region": region},
                "agent_version": "sim",
            });
            let Ok(r) = c
                .http
                .post(format!("{}/api/v1/nodes/register", c.url))
                .bearer_auth(&c.key)
                .json(&body)
                .send()
                .await
            else {
                return false;
            };
            let Ok(v) = r.json::<Value>().await else {
                return false;
            };
            let (Some(id), Some(token)) = (v["node_id"].as_str(), v["token"].as_str()) else {
                return false;
            };
            if let Ok(mut o) = out.lock() {
                o.push(Arc::new(SimNode {
                    id: id.to_owned(),
                    token: token.to_owned(),
                    revision: RwLock::new(None),
                }));
            }
            true
        }
    })
    .await;
    let nodes = std::mem::take(&mut *registered.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    *ctx.nodes.write().await = nodes;
    Ok(stats)
}

async fn node(ctx: &Ctx, i: u64) -> Option<Arc<SimNode>> {
    let nodes = ctx.nodes.read().await;
    if nodes.is_empty() {
        return None;
    }
    Some(nodes[(i as usize) % nodes.len()].clone())
}

/// Authenticated heartbeats, round-robin over the fleet.
pub(crate) async fn heartbeats(ctx: &Arc<Ctx>, workers: usize, duration: Duration) -> Stats {
    let c = ctx.clone();
    run("heartbeats", workers, Stop::After(duration), move |i| {
        let c = c.clone();
        async move {
            let Some(n) = node(&c, i).await else {
                return false;
            };
            let body = json!({"resources": {"cpu_percent": 3.5, "memory_bytes": 104857600}});
            match c
                .http
                .post(format!("{}/api/v1/nodes/{}/heartbeat", c.url, n.id))
                .bearer_auth(&n.token)
                .json(&body)
                .send()
                .await
            {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// Sync polls that return a plan (no `If-None-Match`); records each node's revision.
pub(crate) async fn plan_polls(ctx: &Arc<Ctx>, workers: usize, stop: Stop) -> Stats {
    let c = ctx.clone();
    run("sync polls returning a plan", workers, stop, move |i| {
        let c = c.clone();
        async move {
            let Some(n) = node(&c, i).await else {
                return false;
            };
            let Ok(r) = c
                .http
                .get(format!("{}/api/v1/nodes/{}/sync", c.url, n.id))
                .bearer_auth(&n.token)
                .send()
                .await
            else {
                return false;
            };
            let etag = r
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim_matches('"').to_owned());
            let ok = r.status().is_success() && r.bytes().await.is_ok();
            if let Some(e) = etag {
                *n.revision.write().await = Some(e);
            }
            ok
        }
    })
    .await
}

/// Sync polls naming the current revision: answered `304 Not Modified`.
pub(crate) async fn not_modified_polls(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
) -> Stats {
    let c = ctx.clone();
    run(
        "sync polls answered 304",
        workers,
        Stop::After(duration),
        move |i| {
            let c = c.clone();
            async move {
                let Some(n) = node(&c, i).await else {
                    return false;
                };
                let Some(rev) = n.revision.read().await.clone() else {
                    return false;
                };
                match c
                    .http
                    .get(format!("{}/api/v1/nodes/{}/sync", c.url, n.id))
                    .bearer_auth(&n.token)
                    .header("If-None-Match", format!("\"{rev}\""))
                    .send()
                    .await
                {
                    Ok(r) => r.status() == reqwest::StatusCode::NOT_MODIFIED,
                    Err(_) => false,
                }
            }
        },
    )
    .await
}

/// Uploads a tiny function version (`n` makes each binary distinct) and deploys it to every
/// node with `priority`; returns the function id.
pub(crate) async fn deploy(ctx: &Ctx, name: &str, n: u32, priority: i32) -> anyhow::Result<String> {
    let wasm = wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (func (export "_start")) (func (export "n") (result i32) (i32.const {n})))"#
    ))?;
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"name": name, "memory_pages": 1}).to_string())
                .mime_str("application/json")?,
        )
        .part(
            "wasm",
            reqwest::multipart::Part::bytes(wasm).file_name("f.wasm"),
        );
    let f: Value = ctx
        .http
        .post(format!("{}/api/v1/functions", ctx.url))
        .bearer_auth(&ctx.key)
        .multipart(form)
        .send()
        .await?
        .json()
        .await?;
    let id = f["id"].as_str().context("upload failed")?.to_owned();
    let version = f["version"].as_u64().context("upload failed")?;
    let r = ctx
        .http
        .post(format!("{}/api/v1/deployments", ctx.url))
        .bearer_auth(&ctx.key)
        .json(&json!({"function_id": id, "version": version, "priority": priority}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("deployment failed: {}", r.text().await.unwrap_or_default());
    }
    Ok(id)
}

/// Sum of store calls so far, from `/metrics` (reads and commits).
pub(crate) async fn store_calls(ctx: &Ctx) -> anyhow::Result<f64> {
    let text = ctx
        .http
        .get(format!("{}/metrics", ctx.url))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("edgesync_store_operation_duration_seconds_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// `m` nodes hold long polls on their current revision; then a new deployment goes out.
/// Returns the time until each poll returned a new plan, sorted.
pub(crate) async fn convergence(ctx: &Arc<Ctx>, m: usize) -> anyhow::Result<Vec<Duration>> {
    let nodes: Vec<Arc<SimNode>> = ctx.nodes.read().await.iter().take(m).cloned().collect();
    let (go_tx, _) = tokio::sync::broadcast::channel::<Instant>(1);
    let mut handles = Vec::with_capacity(nodes.len());
    let ready = Arc::new(tokio::sync::Barrier::new(nodes.len() + 1));
    for n in nodes {
        let c = ctx.clone();
        let mut go = go_tx.subscribe();
        let ready = ready.clone();
        handles.push(tokio::spawn(async move {
            let rev = n.revision.read().await.clone().unwrap_or_default();
            let req = c
                .http
                .get(format!("{}/api/v1/nodes/{}/sync?wait=30", c.url, n.id))
                .bearer_auth(&n.token)
                .header("If-None-Match", format!("\"{rev}\""))
                .send();
            ready.wait().await;
            let resp = req.await;
            let started = go.recv().await.ok()?;
            let r = resp.ok()?;
            (r.status() == reqwest::StatusCode::OK).then(|| started.elapsed())
        }));
    }
    ready.wait().await;
    // Give every long poll time to reach the server before the deploy.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    let _ = go_tx.send(t0);
    deploy(ctx, "sim-converge", 2, 10).await?;
    let mut out = Vec::new();
    for h in handles {
        if let Ok(Some(d)) = h.await {
            out.push(d);
        }
    }
    out.sort();
    Ok(out)
}
