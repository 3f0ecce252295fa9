//! The phases of a simulation run. Each returns what it measured; `main` turns them into ratios.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::load::{Stop, run, run_paced};
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

/// Registers `n` more nodes, numbered from `first`.
pub(crate) async fn register(
    ctx: &Arc<Ctx>,
    workers: usize,
    first: u64,
    n: u64,
) -> anyhow::Result<Stats> {
    let registered = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n as usize)));
    let c = ctx.clone();
    let out = registered.clone();
    let stats = run("register", workers, Stop::Count(n), move |i| {
        let c = c.clone();
        let out = out.clone();
        async move {
            let i = first + i;
            let tier = if i.is_multiple_of(2) { "edge" } else { "core" };
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
    ctx.nodes.write().await.extend(nodes);
    Ok(stats)
}

async fn node(ctx: &Ctx, i: u64) -> Option<Arc<SimNode>> {
    let nodes = ctx.nodes.read().await;
    if nodes.is_empty() {
        return None;
    }
    Some(nodes[(i as usize) % nodes.len()].clone())
}

/// Sends a request and reads the whole answer; whether it was a success.
async fn succeeds(req: reqwest::RequestBuilder) -> bool {
    match req.send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// What every simulated heartbeat reports, serialized once: the simulator spends its CPU on
/// requests, not on rebuilding the same JSON (it shares the machine with the server it measures).
const HEARTBEAT_BODY: &[u8] = br#"{"resources":{"cpu_percent":3.5,"memory_bytes":104857600}}"#;

/// One heartbeat of node `n`.
async fn heartbeat(c: &Ctx, n: &SimNode) -> bool {
    succeeds(
        c.http
            .post(format!("{}/api/v1/nodes/{}/heartbeat", c.url, n.id))
            .bearer_auth(&n.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(HEARTBEAT_BODY),
    )
    .await
}

/// One telemetry batch of node `n`: `TELEMETRY_SAMPLES` samples of the last second.
async fn telemetry(c: &Ctx, n: &SimNode, now: &str) -> bool {
    let points: Vec<Value> = (0..TELEMETRY_SAMPLES)
        .map(|k| {
            let metric = ["invocations", "errors", "latency_ms", "memory_bytes"][k % 4];
            json!({
                "metric": metric,
                "value": k as f64,
                "labels": {"function": format!("f{}", k % 5)},
                "ts": now,
            })
        })
        .collect();
    succeeds(
        c.http
            .post(format!("{}/api/v1/nodes/{}/telemetry", c.url, n.id))
            .bearer_auth(&n.token)
            .json(&json!({"points": points})),
    )
    .await
}

/// One conditional sync poll of node `n` (`If-None-Match` with the revision it knows): answered
/// 304 while its target stays put. Only a 304 counts unless `accept_plan`, in which case a plan
/// counts too and teaches the node its new revision, as a real node would.
async fn conditional_poll(c: &Ctx, n: &SimNode, accept_plan: bool) -> bool {
    let mut req = c
        .http
        .get(format!("{}/api/v1/nodes/{}/sync", c.url, n.id))
        .bearer_auth(&n.token);
    if let Some(rev) = n.revision.read().await.clone() {
        req = req.header("If-None-Match", format!("\"{rev}\""));
    }
    let Ok(r) = req.send().await else {
        return false;
    };
    if r.status() == reqwest::StatusCode::NOT_MODIFIED {
        return true;
    }
    if !accept_plan || !r.status().is_success() {
        return false;
    }
    let etag = etag(&r);
    let ok = r.bytes().await.is_ok();
    if let Some(e) = etag {
        *n.revision.write().await = Some(e);
    }
    ok
}

/// The revision in a sync answer's `ETag`.
fn etag(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim_matches('"').to_owned())
}

/// Samples per simulated telemetry batch.
pub(crate) const TELEMETRY_SAMPLES: usize = 20;

/// Now, as RFC 3339 (telemetry timestamps).
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Authenticated heartbeats, round-robin over the fleet from node `from` on.
pub(crate) async fn heartbeats(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
    from: u64,
) -> Stats {
    let c = ctx.clone();
    run("heartbeats", workers, Stop::After(duration), move |i| {
        let c = c.clone();
        async move {
            match node(&c, from + i).await {
                Some(n) => heartbeat(&c, &n).await,
                None => false,
            }
        }
    })
    .await
}

/// Telemetry batches (`TELEMETRY_SAMPLES` samples each), round-robin over the fleet.
pub(crate) async fn telemetry_pushes(ctx: &Arc<Ctx>, workers: usize, duration: Duration) -> Stats {
    let c = ctx.clone();
    let now: Arc<str> = now_rfc3339().into();
    run("telemetry", workers, Stop::After(duration), move |i| {
        let c = c.clone();
        let now = now.clone();
        async move {
            match node(&c, i).await {
                Some(n) => telemetry(&c, &n, &now).await,
                None => false,
            }
        }
    })
    .await
}

/// Full sync cycles: a plan poll, then an ack reporting every action applied (a durable
/// write). Each node acknowledges at most once per target, so the phase ends after one pass
/// over the fleet or `duration`, whichever comes first.
pub(crate) async fn sync_cycles(ctx: &Arc<Ctx>, workers: usize, duration: Duration) -> Stats {
    let c = ctx.clone();
    let n = c.nodes.read().await.len() as u64;
    run(
        "sync cycles (plan + ack)",
        workers,
        Stop::CountOrAfter(n, duration),
        move |i| {
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
                if let Some(e) = etag(&r) {
                    *n.revision.write().await = Some(e);
                }
                let Ok(plan) = r.json::<Value>().await else {
                    return false;
                };
                let results: Vec<Value> = plan["actions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
                            .collect()
                    })
                    .unwrap_or_default();
                if results.is_empty() {
                    return false;
                }
                succeeds(
                    c.http
                        .post(format!("{}/api/v1/nodes/{}/sync/ack", c.url, n.id))
                        .bearer_auth(&n.token)
                        .json(&json!({"plan_id": plan["plan_id"], "results": results})),
                )
                .await
            }
        },
    )
    .await
}

/// How often each simulated node does each thing in [`steady_fleet`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cadence {
    /// Seconds between a node's heartbeats.
    pub(crate) heartbeat_s: f64,
    /// Seconds between a node's conditional sync polls.
    pub(crate) poll_s: f64,
    /// Seconds between a node's telemetry batches.
    pub(crate) telemetry_s: f64,
}

/// What [`steady_fleet`] measured: each stream with its offered rate.
pub(crate) struct Steady {
    /// Heartbeats and their offered rate per second.
    pub(crate) heartbeats: (Stats, f64),
    /// Conditional polls.
    pub(crate) polls: (Stats, f64),
    /// Telemetry batches.
    pub(crate) telemetry: (Stats, f64),
}

/// The whole fleet at its configured cadence at once: heartbeats, conditional polls and
/// telemetry, each paced to `nodes / interval` per second. Latency counts from each operation's
/// scheduled start, so a server that cannot keep up shows it.
pub(crate) async fn steady_fleet(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
    cadence: Cadence,
) -> Steady {
    let n = ctx.nodes.read().await.len() as f64;
    let rates = [
        n / cadence.heartbeat_s,
        n / cadence.poll_s,
        n / cadence.telemetry_s,
    ];
    let total: f64 = rates.iter().sum();
    let share = |r: f64| ((workers as f64 * r / total.max(1e-9)).ceil() as usize).max(1);
    let now: Arc<str> = now_rfc3339().into();
    let (c1, c2, c3) = (ctx.clone(), ctx.clone(), ctx.clone());
    let stop = Stop::After(duration);
    let (hb, polls, tel) = tokio::join!(
        run_paced(
            "fleet: heartbeats",
            share(rates[0]),
            stop,
            Some(rates[0]),
            move |i| {
                let c = c1.clone();
                async move {
                    match node(&c, i).await {
                        Some(n) => heartbeat(&c, &n).await,
                        None => false,
                    }
                }
            }
        ),
        run_paced(
            "fleet: polls",
            share(rates[1]),
            stop,
            Some(rates[1]),
            move |i| {
                let c = c2.clone();
                async move {
                    match node(&c, i).await {
                        Some(n) => conditional_poll(&c, &n, true).await,
                        None => false,
                    }
                }
            }
        ),
        run_paced(
            "fleet: telemetry",
            share(rates[2]),
            stop,
            Some(rates[2]),
            move |i| {
                let c = c3.clone();
                let now = now.clone();
                async move {
                    match node(&c, i).await {
                        Some(n) => telemetry(&c, &n, &now).await,
                        None => false,
                    }
                }
            }
        ),
    );
    Steady {
        heartbeats: (hb, rates[0]),
        polls: (polls, rates[1]),
        telemetry: (tel, rates[2]),
    }
}

/// Sync polls that return a plan (no `If-None-Match`), round-robin from node `from` on;
/// records each node's revision.
pub(crate) async fn plan_polls(ctx: &Arc<Ctx>, workers: usize, stop: Stop, from: u64) -> Stats {
    let c = ctx.clone();
    run("sync polls returning a plan", workers, stop, move |i| {
        let c = c.clone();
        async move {
            let Some(n) = node(&c, from + i).await else {
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
            let etag = etag(&r);
            let ok = r.status().is_success() && r.bytes().await.is_ok();
            if let Some(e) = etag {
                *n.revision.write().await = Some(e);
            }
            ok
        }
    })
    .await
}

/// Sync polls naming the current revision, from node `from` on: answered `304 Not Modified`.
pub(crate) async fn not_modified_polls(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
    from: u64,
) -> Stats {
    let c = ctx.clone();
    run(
        "sync polls answered 304",
        workers,
        Stop::After(duration),
        move |i| {
            let c = c.clone();
            async move {
                match node(&c, from + i).await {
                    Some(n) => conditional_poll(&c, &n, false).await,
                    None => false,
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

/// Store calls the server has made so far (reads and commits), by origin and operation, from
/// `/metrics`.
pub(crate) async fn store_calls(ctx: &Ctx) -> anyhow::Result<StoreCalls> {
    let text = ctx
        .http
        .get(format!("{}/metrics", ctx.url))
        .send()
        .await?
        .text()
        .await?;
    Ok(StoreCalls::parse(&text))
}

/// Store calls by origin (`request`: an HTTP request's own task; `background`: the server's
/// jobs and write-behind) and operation, from the store's duration histogram.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct StoreCalls(std::collections::BTreeMap<(String, String), f64>);

impl StoreCalls {
    fn parse(metrics: &str) -> Self {
        let label = |labels: &str, name: &str| {
            labels
                .split_once(&format!("{name}=\""))
                .and_then(|(_, r)| r.split_once('"'))
                .map_or(String::new(), |(v, _)| v.to_owned())
        };
        let mut calls = std::collections::BTreeMap::new();
        for line in metrics.lines() {
            let Some(rest) = line.strip_prefix("edgesync_store_operation_duration_seconds_count")
            else {
                continue;
            };
            if let Some(n) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                let key = (label(rest, "origin"), label(rest, "operation"));
                *calls.entry(key).or_insert(0.0) += n;
            }
        }
        Self(calls)
    }

    /// The calls from `origin` made since `earlier`: their number, and each operation that made
    /// any.
    pub(crate) fn since(&self, earlier: &StoreCalls, origin: &str) -> (f64, Vec<(String, f64)>) {
        let by_operation: Vec<_> = self
            .0
            .iter()
            .filter(|((o, _), _)| o == origin)
            .map(|(key, n)| {
                (
                    key.1.clone(),
                    n - earlier.0.get(key).copied().unwrap_or(0.0),
                )
            })
            .filter(|(_, n)| *n > 0.0)
            .collect();
        // A fold from 0.0: `sum` of no floats is -0.0, which prints as "-0".
        let total = by_operation.iter().fold(0.0, |total, (_, n)| total + n);
        (total, by_operation)
    }
}

/// Node `n`'s conditional sync poll on the revision it knows, held up to `wait` seconds.
async fn sync_request(c: &Ctx, n: &SimNode, wait: Option<u64>) -> reqwest::RequestBuilder {
    let rev = n.revision.read().await.clone().unwrap_or_default();
    let wait = wait.map_or_else(String::new, |s| format!("?wait={s}"));
    c.http
        .get(format!("{}/api/v1/nodes/{}/sync{wait}", c.url, n.id))
        .bearer_auth(&n.token)
        .header("If-None-Match", format!("\"{rev}\""))
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
            let req = sync_request(&c, &n, Some(30)).await.send();
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

/// Like [`convergence`], but the `m` nodes hold no poll: they learn of the deploy from MQTT
/// (see [`crate::mqtt`]) and then poll once, conditionally, without waiting. Returns the time
/// until each poll returned the new plan, sorted.
pub(crate) async fn convergence_notified(
    ctx: &Arc<Ctx>,
    m: usize,
    broker_url: &str,
) -> anyhow::Result<Vec<Duration>> {
    let nodes: Vec<Arc<SimNode>> = ctx.nodes.read().await.iter().take(m).cloned().collect();
    // Every node learns its current revision first, so only the deploy can change it.
    let c = ctx.clone();
    let learning = nodes.clone();
    run(
        "learn revisions",
        64,
        Stop::Count(nodes.len() as u64),
        move |i| {
            let c = c.clone();
            let n = learning[i as usize].clone();
            async move { conditional_poll(&c, &n, true).await }
        },
    )
    .await;
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    let mut subscribers = crate::mqtt::subscribe(broker_url, &ctx.run, &ids).await?;
    let index = crate::mqtt::index(&ids);

    let t0 = Instant::now();
    deploy(ctx, "sim-converge", 3, 20).await?;
    let deadline = t0 + Duration::from_secs(30);
    let mut polled = vec![false; nodes.len()];
    let mut started = 0;
    let mut polls = tokio::task::JoinSet::new();
    while started < nodes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(notified)) = tokio::time::timeout(left, subscribers.received.recv()).await
        else {
            break;
        };
        let Some(&i) = index.get(notified.node_id.as_str()) else {
            continue;
        };
        let n = nodes[i].clone();
        let known = n.revision.read().await.clone();
        if polled[i] || (notified.revision.is_some() && notified.revision == known) {
            continue;
        }
        polled[i] = true;
        started += 1;
        let c = ctx.clone();
        polls.spawn(async move {
            let r = sync_request(&c, &n, None).await.send().await.ok()?;
            (r.status() == reqwest::StatusCode::OK).then(|| t0.elapsed())
        });
    }
    let mut out: Vec<Duration> = polls.join_all().await.into_iter().flatten().collect();
    out.sort();
    Ok(out)
}

/// What [`restart`] measured.
pub(crate) struct Restart {
    /// From starting the process to `/ready` answering 200.
    pub(crate) ready: Duration,
    /// From starting the process to a node's conditional poll being answered (304).
    pub(crate) serving: Duration,
    /// Whether a heartbeat sent `HEARTBEAT_DURABILITY` before the kill survived it.
    pub(crate) heartbeat_durable: bool,
}

/// How long after its heartbeat the server is killed: the promise is "durable within 1 s".
const HEARTBEAT_DURABILITY: Duration = Duration::from_millis(1200);

/// `last_seen_at` of node `id` as the server reports it.
async fn last_seen(ctx: &Ctx, id: &str) -> anyhow::Result<Value> {
    let node: Value = ctx
        .http
        .get(format!("{}/api/v1/nodes/{id}", ctx.url))
        .bearer_auth(&ctx.key)
        .send()
        .await?
        .json()
        .await?;
    Ok(node["last_seen_at"].clone())
}

/// Cold restart (spawned servers only): a node heartbeats, 1.2 s later the server is killed
/// with SIGKILL and started again on the same data directory; measures the time to `/ready`
/// and to serving a node's conditional poll, and checks the heartbeat survived.
pub(crate) async fn restart(
    ctx: &Arc<Ctx>,
    server: &mut Server,
) -> anyhow::Result<Option<Restart>> {
    let Some(n) = node(ctx, 0).await else {
        return Ok(None);
    };
    if !conditional_poll(ctx, &n, true).await || !heartbeat(ctx, &n).await {
        bail!("the poll or heartbeat before the restart failed");
    }
    let seen = last_seen(ctx, &n.id).await?;
    tokio::time::sleep(HEARTBEAT_DURABILITY).await;
    eprintln!("  cold restart: SIGKILL, start again on the same data directory");
    let started = Instant::now();
    let Some(ready) = server.kill_and_restart().await? else {
        return Ok(None);
    };
    let serving = loop {
        if conditional_poll(ctx, &n, false).await {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the restarted server did not answer a node's poll within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let heartbeat_durable = !seen.is_null() && last_seen(ctx, &n.id).await? == seen;
    Ok(Some(Restart {
        ready,
        serving,
        heartbeat_durable,
    }))
}

#[cfg(test)]
mod tests {
    use super::StoreCalls;

    #[test]
    fn store_calls_are_counted_by_origin_and_operation() {
        let line = |origin: &str, op: &str, outcome: &str, n: u32| {
            format!(
                "edgesync_store_operation_duration_seconds_count{{operation=\"{op}\",outcome=\"{outcome}\",origin=\"{origin}\"}} {n}\n"
            )
        };
        let before = StoreCalls::parse(&format!(
            "{}edgesync_store_operation_duration_seconds_sum{{operation=\"get\",outcome=\"ok\",origin=\"request\"}} 0.5\n",
            line("request", "get", "ok", 3)
        ));
        let after = StoreCalls::parse(&format!(
            "{}{}{}{}",
            line("request", "get", "ok", 3),
            line("background", "list", "ok", 7),
            line("background", "list", "error", 1),
            line("background", "get", "ok", 2),
        ));
        assert_eq!(after.since(&after, "request"), (0.0, Vec::new()));
        assert_eq!(format!("{}", after.since(&after, "request").0), "0");
        assert_eq!(after.since(&before, "request"), (0.0, Vec::new()));
        assert_eq!(
            after.since(&before, "background"),
            (
                10.0,
                vec![("get".to_owned(), 2.0), ("list".to_owned(), 8.0)]
            )
        );
        let more = StoreCalls::parse(&line("request", "get", "ok", 5));
        assert_eq!(
            more.since(&before, "request"),
            (2.0, vec![("get".to_owned(), 2.0)])
        );
    }
}
