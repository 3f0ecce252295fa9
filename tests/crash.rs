//! Crash tests, modelled on sled's: run the real `edgesync` binary under mixed load
//! (registrations, uploads, deployments, plan acks, conditional label changes, heartbeats), kill
//! it with SIGKILL at a random moment, start it again on the same data, check the invariants,
//! repeat. On sled, and on PostgreSQL when `EDGESYNC_TEST_POSTGRES_URL` is set.
//!
//! After every restart:
//! - every request that got a 2xx is there (nodes, function versions, deployments, acks);
//! - every acknowledged upload downloads with its SHA-256, and so does every `ready` version the
//!   server lists (no metadata without its artifact);
//! - nothing partial is visible under `artifacts/wasm/` (each file hashes to its name);
//! - node revisions never go backwards, and a node whose install was acknowledged never reads
//!   `pending`/`installing` again in that deployment.
//!
//! `EDGESYNC_CRASH_ITERATIONS` (default 50) sets the number of kills per backend;
//! `EDGESYNC_CRASH_SEED` replays a run (the seed is printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgesync_core::testkit::wasm_fixtures;
use futures::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Most nodes the load registers (plans stay small; verification stays fast).
const MAX_NODES: usize = 40;
/// Most function versions the load uploads.
const MAX_VERSIONS: usize = 60;
/// Most deployments the load creates.
const MAX_DEPLOYMENTS: usize = 60;
/// Label groups deployments select.
const GROUPS: u64 = 4;
/// Concurrent load workers.
const WORKERS: u64 = 4;
/// Concurrent requests of the invariant checks.
const CHECK_CONCURRENCY: usize = 8;

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (xorshift64*): reproducible runs without a dependency.

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len() as u64) as usize])
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

struct Server {
    child: Child,
    url: String,
}

struct Backend {
    data_dir: PathBuf,
    artifacts_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Backend {
    fn spawn(&self) -> Server {
        let port = edgesync_e2e::free_port();
        let mut cmd = Command::new(edgesync_e2e::binary("edgesync"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "error")
            .env("EDGESYNC_RATE_LIMIT_RPS", "0")
            .env("EDGESYNC_MAX_CONCURRENT_UPLOADS", "0")
            .env(
                "EDGESYNC_ARTIFACTS",
                format!("file://{}", self.artifacts_dir.display()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Server {
            child: cmd.spawn().unwrap(),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn start(&self, http: &reqwest::Client) -> Server {
        let mut server = self.spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/ready", server.url)).send().await
                && r.status().is_success()
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited on start: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn admin_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.key"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Server {
    fn kill(mut self) {
        // SIGKILL: no flush, no graceful shutdown.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// What the server acknowledged.

#[derive(Clone)]
struct NodeModel {
    id: String,
    name: String,
    token: String,
    group: u64,
    /// Highest revision a client has seen.
    revision: u64,
}

#[derive(Clone)]
struct VersionModel {
    function_id: String,
    version: u64,
    sha256: String,
}

#[derive(Default)]
struct Model {
    nodes: Vec<NodeModel>,
    /// function name → id.
    functions: BTreeMap<String, String>,
    versions: Vec<VersionModel>,
    /// deployment id → (function id, version).
    deployments: BTreeMap<String, (String, u64)>,
    /// (node id, sync id) of acknowledged acks.
    acks: Vec<(String, String)>,
    /// (deployment id, node id) whose install an acknowledged ack reported succeeded.
    installed: BTreeSet<(String, String)>,
    /// Answers that no request should get from a healthy server.
    unexpected: Vec<String>,
    /// Retryable 503 answers (nothing acknowledged; a client would retry).
    retryable: u64,
}

struct Load {
    url: Mutex<String>,
    key: String,
    http: reqwest::Client,
    model: Mutex<Model>,
    stop: AtomicBool,
    counter: AtomicU32,
}

impl Load {
    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn url(&self) -> String {
        self.url
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn unexpected(&self, what: &str, status: u16, body: &str) {
        self.model()
            .unexpected
            .push(format!("{what}: {status} {body}"));
    }

    /// Sends a request; `None` when the outcome is unknown or nothing was acknowledged: the
    /// connection failed (the server died mid-request), or the answer was a retryable 503
    /// (e.g. SERIALIZABLE contention that outlasted the store's retries).
    async fn send(&self, req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
        let resp = req.timeout(Duration::from_secs(10)).send().await.ok()?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.ok()?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 503 && body["retryable"] == true {
            self.model().retryable += 1;
            return None;
        }
        Some((status, body))
    }

    async fn register(&self, rng: &mut Rng) {
        if self.model().nodes.len() >= MAX_NODES {
            return;
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let name = format!("n-{n}");
        let group = rng.below(GROUPS);
        let req = self
            .http
            .post(format!("{}/api/v1/nodes/register", self.url()))
            .bearer_auth(&self.key)
            .json(&json!({"name": name, "pop": "fra", "labels": {"group": format!("g{group}")}}));
        match self.send(req).await {
            Some((201, body)) => self.model().nodes.push(NodeModel {
                id: body["node_id"].as_str().unwrap().to_owned(),
                name,
                token: body["token"].as_str().unwrap().to_owned(),
                group,
                revision: 0,
            }),
            Some((status, body)) => self.unexpected("register", status, &body.to_string()),
            None => {}
        }
    }

    async fn upload(&self, rng: &mut Rng) {
        let name = {
            let m = self.model();
            if m.versions.len() >= MAX_VERSIONS {
                return;
            }
            let existing: Vec<&String> = m.functions.keys().collect();
            match rng.pick(&existing) {
                Some(name) if rng.below(2) == 0 => (*name).clone(),
                _ => format!("f-{}", self.counter.fetch_add(1, Ordering::SeqCst)),
            }
        };
        let wasm = wasm_fixtures::numbered(self.counter.fetch_add(1, Ordering::SeqCst));
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(
                    json!({"name": name, "memory_pages": 4}).to_string(),
                )
                .mime_str("application/json")
                .unwrap(),
            )
            .part(
                "wasm",
                reqwest::multipart::Part::bytes(wasm.clone()).file_name("f.wasm"),
            );
        let req = self
            .http
            .post(format!("{}/api/v1/functions", self.url()))
            .bearer_auth(&self.key)
            .multipart(form);
        match self.send(req).await {
            Some((201, body)) => {
                let sha = hex::encode(Sha256::digest(&wasm));
                assert_eq!(body["sha256"], sha, "the server's SHA-256 is the upload's");
                let id = body["id"].as_str().unwrap().to_owned();
                let mut m = self.model();
                m.functions.insert(name, id.clone());
                m.versions.push(VersionModel {
                    function_id: id,
                    version: body["version"].as_u64().unwrap(),
                    sha256: sha,
                });
            }
            Some((status, body)) => self.unexpected("upload", status, &body.to_string()),
            None => {}
        }
    }

    async fn deploy(&self, rng: &mut Rng) {
        let Some(v) = ({
            let m = self.model();
            if m.deployments.len() >= MAX_DEPLOYMENTS {
                return;
            }
            rng.pick(&m.versions).cloned()
        }) else {
            return;
        };
        let group = rng.below(GROUPS);
        let req = self
            .http
            .post(format!("{}/api/v1/deployments", self.url()))
            .bearer_auth(&self.key)
            .json(&json!({
                "function_id": v.function_id, "version": v.version,
                "selector": format!("group=g{group}"), "allow_breaking": true,
            }));
        match self.send(req).await {
            Some((201, body)) => {
                let id = body["id"].as_str().unwrap().to_owned();
                self.model()
                    .deployments
                    .insert(id, (v.function_id, v.version));
            }
            Some((status, body)) => self.unexpected("deploy", status, &body.to_string()),
            None => {}
        }
    }

    /// A node this worker acts for: one worker per node polls, acks and heartbeats, as one
    /// agent per node would (concurrent polls of one node are covered in `faults.rs`).
    fn owned_node(&self, worker: u64, rng: &mut Rng) -> Option<NodeModel> {
        let m = self.model();
        let owned: Vec<&NodeModel> = m
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 % WORKERS == worker)
            .map(|(_, n)| n)
            .collect();
        rng.pick(&owned).map(|n| (*n).clone())
    }

    async fn sync_and_ack(&self, worker: u64, rng: &mut Rng) {
        let Some(node) = self.owned_node(worker, rng) else {
            return;
        };
        let req = self
            .http
            .get(format!("{}/api/v1/nodes/{}/sync", self.url(), node.id))
            .bearer_auth(&node.token);
        let plan = match self.send(req).await {
            Some((200, plan)) => plan,
            Some((status, body)) => return self.unexpected("sync", status, &body.to_string()),
            None => return,
        };
        let actions = plan["actions"].as_array().cloned().unwrap_or_default();
        if actions.is_empty() {
            return;
        }
        let results: Vec<Value> = actions
            .iter()
            .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
            .collect();
        let req = self
            .http
            .post(format!("{}/api/v1/nodes/{}/sync/ack", self.url(), node.id))
            .bearer_auth(&node.token)
            .json(&json!({"plan_id": plan["plan_id"], "results": results}));
        match self.send(req).await {
            Some((200, body)) => {
                let mut m = self.model();
                m.acks.push((
                    node.id.clone(),
                    body["sync_id"].as_str().unwrap().to_owned(),
                ));
                for a in &actions {
                    if a["kind"] == "install_function"
                        && let Some(d) = a["deployment_id"].as_str()
                    {
                        m.installed.insert((d.to_owned(), node.id.clone()));
                    }
                }
            }
            // Another worker acknowledged the same plan with other results, or the plan moved on.
            Some((409, _)) => {}
            // Plans are recorded unsynced: one handed out just before a kill may be gone after
            // the restart, and its ack is refused (the node polls again).
            Some((404, body)) if body["code"] == "plan_not_found" => {}
            Some((status, body)) => self.unexpected("ack", status, &body.to_string()),
            None => {}
        }
    }

    async fn patch(&self, rng: &mut Rng) {
        let Some(node) = rng.pick(&self.model().nodes).cloned() else {
            return;
        };
        let req = self
            .http
            .get(format!("{}/api/v1/nodes/{}", self.url(), node.id))
            .bearer_auth(&self.key);
        let revision = match self.send(req).await {
            Some((200, body)) => body["revision"].as_u64().unwrap(),
            Some((status, body)) => return self.unexpected("get node", status, &body.to_string()),
            None => return,
        };
        self.saw_revision(&node.id, revision);
        let req = self
            .http
            .patch(format!("{}/api/v1/nodes/{}", self.url(), node.id))
            .bearer_auth(&self.key)
            .header("If-Match", revision.to_string())
            .json(&json!({"labels": {"group": format!("g{}", node.group), "rev": rng.below(1000).to_string()}}));
        match self.send(req).await {
            Some((200, body)) => self.saw_revision(&node.id, body["revision"].as_u64().unwrap()),
            // Another worker changed it first.
            Some((409 | 412, body))
                if body["code"] == "revision_conflict" || body["code"] == "precondition_failed" => {
            }
            Some((status, body)) => self.unexpected("patch", status, &body.to_string()),
            None => {}
        }
    }

    async fn heartbeat(&self, worker: u64, rng: &mut Rng) {
        let Some(node) = self.owned_node(worker, rng) else {
            return;
        };
        // Report what the server last recorded (what this node's acks applied).
        let req = self
            .http
            .get(format!("{}/api/v1/nodes/{}", self.url(), node.id))
            .bearer_auth(&self.key);
        let reported = match self.send(req).await {
            Some((200, body)) => body["reported"].clone(),
            Some((status, body)) => return self.unexpected("get node", status, &body.to_string()),
            None => return,
        };
        let req = self
            .http
            .post(format!("{}/api/v1/nodes/{}/heartbeat", self.url(), node.id))
            .bearer_auth(&node.token)
            .json(&reported);
        match self.send(req).await {
            Some((200, _)) | None => {}
            Some((status, body)) => self.unexpected("heartbeat", status, &body.to_string()),
        }
    }

    fn saw_revision(&self, node_id: &str, revision: u64) {
        let mut m = self.model();
        if let Some(n) = m.nodes.iter_mut().find(|n| n.id == node_id) {
            n.revision = n.revision.max(revision);
        }
    }

    async fn worker(self: Arc<Self>, worker: u64, seed: u64) {
        let mut rng = Rng::new(seed);
        while !self.stop.load(Ordering::SeqCst) {
            match rng.below(10) {
                0 | 1 => self.register(&mut rng).await,
                2 | 3 => self.upload(&mut rng).await,
                4 => self.deploy(&mut rng).await,
                5..=7 => self.sync_and_ack(worker, &mut rng).await,
                8 => self.patch(&mut rng).await,
                _ => self.heartbeat(worker, &mut rng).await,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The invariants.

async fn get(load: &Load, url: &str, path: &str) -> (u16, Value) {
    let resp = load
        .http
        .get(format!("{url}{path}"))
        .bearer_auth(&load.key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn download_sha(load: &Load, url: &str, function_id: &str, version: u64) -> String {
    let resp = load
        .http
        .get(format!(
            "{url}/api/v1/functions/{function_id}/download?version={version}"
        ))
        .bearer_auth(&load.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{function_id}@{version} does not download"
    );
    hex::encode(Sha256::digest(resp.bytes().await.unwrap()))
}

async fn check_invariants(load: &Load, url: &str, artifacts_dir: &Path, context: &str) {
    let (nodes, versions, deployments, acks, installed) = {
        let m = load.model();
        assert!(
            m.unexpected.is_empty(),
            "{context}: unexpected answers: {:#?}",
            m.unexpected
        );
        (
            m.nodes.clone(),
            m.versions.clone(),
            m.deployments.clone(),
            m.acks.clone(),
            m.installed.clone(),
        )
    };

    // Every acknowledged node, with a revision at least as new as any a client saw.
    futures::stream::iter(&nodes)
        .for_each_concurrent(CHECK_CONCURRENCY, async |node| {
            let (status, body) = get(load, url, &format!("/api/v1/nodes/{}", node.id)).await;
            assert_eq!(status, 200, "{context}: node {} lost: {body}", node.name);
            assert_eq!(body["name"], node.name.as_str());
            let revision = body["revision"].as_u64().unwrap();
            assert!(
                revision >= node.revision,
                "{context}: node {} went back from revision {} to {revision}",
                node.name,
                node.revision
            );
            load.saw_revision(&node.id, revision);
        })
        .await;

    // Every acknowledged upload: its version is ready and downloads with its SHA-256.
    futures::stream::iter(&versions)
        .for_each_concurrent(CHECK_CONCURRENCY, async |v| {
            let (status, body) = get(
                load,
                url,
                &format!("/api/v1/functions/{}/versions/{}", v.function_id, v.version),
            )
            .await;
            assert_eq!(status, 200, "{context}: version lost: {body}");
            assert_eq!(body["status"], "ready", "{context}: {body}");
            assert_eq!(body["sha256"], v.sha256.as_str(), "{context}: {body}");
            let sha = download_sha(load, url, &v.function_id, v.version).await;
            assert_eq!(sha, v.sha256, "{context}: artifact corrupt");
        })
        .await;

    // No metadata without its artifact: every ready version the server lists downloads with
    // its SHA-256, including versions whose upload was cut off by the kill after it committed.
    let acknowledged: BTreeSet<(String, u64)> = versions
        .iter()
        .map(|v| (v.function_id.clone(), v.version))
        .collect();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/functions?limit=1000&after={a}"),
            None => "/api/v1/functions?limit=1000".to_owned(),
        };
        let (status, page) = get(load, url, &path).await;
        assert_eq!(status, 200, "{context}: {page}");
        futures::stream::iter(page["items"].as_array().unwrap())
            .for_each_concurrent(CHECK_CONCURRENCY, async |f| {
                let id = f["id"].as_str().unwrap();
                let (status, list) =
                    get(load, url, &format!("/api/v1/functions/{id}/versions")).await;
                assert_eq!(status, 200, "{context}: {list}");
                for v in list["items"].as_array().unwrap() {
                    let n = v["version"].as_u64().unwrap();
                    if v["status"] != "ready" || acknowledged.contains(&(id.to_owned(), n)) {
                        continue;
                    }
                    let sha = download_sha(load, url, id, n).await;
                    assert_eq!(
                        v["sha256"].as_str(),
                        Some(sha.as_str()),
                        "{context}: unacknowledged version {id}@{n} is ready but its artifact is wrong"
                    );
                }
            })
            .await;
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }

    // Nothing partial is visible: each published file hashes to its name.
    if let Ok(entries) = std::fs::read_dir(artifacts_dir.join("wasm")) {
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                name,
                "{context}: a partial or corrupt artifact is visible at {}",
                path.display()
            );
        }
    }

    // Every acknowledged deployment, and every acknowledged install stays past `installing`.
    let states: Mutex<HashMap<String, Value>> = Mutex::default();
    futures::stream::iter(&deployments)
        .for_each_concurrent(CHECK_CONCURRENCY, async |(id, (function_id, version))| {
            let (status, body) = get(load, url, &format!("/api/v1/deployments/{id}")).await;
            assert_eq!(status, 200, "{context}: deployment {id} lost: {body}");
            assert_eq!(body["function_id"], function_id.as_str());
            assert_eq!(body["version"].as_u64(), Some(*version));
            states.lock().unwrap().insert(id.clone(), body);
        })
        .await;
    let mut states = states.into_inner().unwrap();
    for (deployment, node) in &installed {
        if !states.contains_key(deployment) {
            // Created by a request the kill cut off, but a node acknowledged installing it.
            let (status, body) = get(load, url, &format!("/api/v1/deployments/{deployment}")).await;
            assert_eq!(
                status, 200,
                "{context}: installed deployment {deployment} lost: {body}"
            );
            states.insert(deployment.clone(), body);
        }
        let body = &states[deployment];
        let state = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == node.as_str())
            .map(|n| n["state"].as_str().unwrap().to_owned());
        assert!(
            matches!(state.as_deref(), Some("active" | "removed")),
            "{context}: node {node} acknowledged deployment {deployment} but reads {state:?}: {body}"
        );
    }

    // Every acknowledged ack is in its node's history.
    let mut by_node: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (node, sync) in &acks {
        by_node.entry(node).or_default().insert(sync);
    }
    futures::stream::iter(by_node)
        .for_each_concurrent(CHECK_CONCURRENCY, async |(node, syncs)| {
            let (status, history) = get(
                load,
                url,
                &format!("/api/v1/nodes/{node}/sync/history?limit=1000"),
            )
            .await;
            assert_eq!(status, 200, "{context}: {history}");
            let recorded: BTreeSet<&str> = history["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["id"].as_str())
                .collect();
            for sync in syncs {
                assert!(
                    recorded.contains(sync),
                    "{context}: acknowledged sync {sync} of node {node} is missing from its history"
                );
            }
        })
        .await;
}

// ---------------------------------------------------------------------------------------------
// The loop.

fn iterations() -> u32 {
    std::env::var("EDGESYNC_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn seed() -> u64 {
    std::env::var("EDGESYNC_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

async fn crash_loop(label: &str, backend: Backend) {
    let iterations = iterations();
    let seed = seed();
    eprintln!("crash test {label}: {iterations} iterations, EDGESYNC_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let http = reqwest::Client::new();
    let started = Instant::now();

    let first = backend.start(&http).await;
    eprintln!(
        "crash test {label}: first start-up (and build check) took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let load = Arc::new(Load {
        url: Mutex::new(first.url.clone()),
        key: backend.admin_key(),
        http: http.clone(),
        model: Mutex::default(),
        stop: AtomicBool::new(false),
        counter: AtomicU32::new(0),
    });
    let mut server = Some(first);
    let mut kills_during_start = 0;
    let (mut t_start, mut t_check, mut t_load) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);

    for i in 0..iterations {
        let t = Instant::now();
        let current = match server.take() {
            Some(s) => s,
            None => backend.start(&http).await,
        };
        t_start += t.elapsed();
        *load
            .url
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = current.url.clone();
        let context = format!("{label} iteration {i} (seed {seed})");
        let t = Instant::now();
        check_invariants(&load, &current.url, &backend.artifacts_dir, &context).await;
        t_check += t.elapsed();

        // Load against this process, then SIGKILL at a random moment.
        let load_for = Duration::from_millis(30 + rng.below(400));
        let t = Instant::now();
        load.stop.store(false, Ordering::SeqCst);
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(load.clone().worker(w, rng.next() ^ w)))
            .collect();
        tokio::time::sleep(load_for).await;
        current.kill();
        load.stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.unwrap();
        }
        t_load += t.elapsed();

        // Now and then, kill it again while it starts up (recovery itself interrupted).
        if rng.below(8) == 0 {
            let starting = backend.spawn();
            tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
            starting.kill();
            kills_during_start += 1;
        }
    }

    let last = backend.start(&http).await;
    check_invariants(
        &load,
        &last.url,
        &backend.artifacts_dir,
        &format!("{label} final"),
    )
    .await;
    let m = load.model();
    eprintln!(
        "crash test {label}: {iterations} kills (+{kills_during_start} during start-up) in {:.1}s (start-ups {:.1}s, checks {:.1}s, load {:.1}s); acknowledged {} nodes, {} versions, {} deployments, {} acks; {} retryable 503s",
        started.elapsed().as_secs_f64(),
        t_start.as_secs_f64(),
        t_check.as_secs_f64(),
        t_load.as_secs_f64(),
        m.nodes.len(),
        m.versions.len(),
        m.deployments.len(),
        m.acks.len(),
        m.retryable
    );
    assert!(
        !m.nodes.is_empty() && !m.versions.is_empty() && !m.acks.is_empty(),
        "the load made too little progress to test anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_survives_repeated_sigkill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend {
        data_dir: dir.path().join("data"),
        artifacts_dir: dir.path().join("artifacts"),
        env: Vec::new(),
    };
    crash_loop("sled", backend).await;
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_repeated_sigkill_under_load() {
    let Ok(admin_url) = std::env::var("EDGESYNC_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: the PostgreSQL crash test needs EDGESYNC_TEST_POSTGRES_URL");
        return;
    };
    let name = format!("edgesync_crash_{}", uuid::Uuid::new_v4().simple());
    psql(&admin_url, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let db = format!("{base}/{name}");
    edgesync_e2e::migrate_store(&db);
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend {
        data_dir: dir.path().join("data"),
        artifacts_dir: dir.path().join("artifacts"),
        env: vec![("EDGESYNC_STORE".into(), db)],
    };
    crash_loop("postgres", backend).await;
    psql(
        &admin_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
}
