//! Fault injection: dependencies that fail, stall or disappear, and conflicting edits at once.
//!
//! - In-process (`poem::test::TestClient` over `EdgeSync` built on the testkit's fault-injecting
//!   wrappers around a real sled store and file artifacts): store, artifact-store and notifier
//!   faults answer retryable errors, `/ready` turns false and back, nothing half-done is
//!   visible, and everything recovers without a restart.
//! - Real processes: a throwaway PostgreSQL cluster restarted under load, a throwaway Mosquitto
//!   stopped and restarted under load, a data directory on a tiny tmpfs that fills up.
//! - Concurrency over real HTTP: two acks of one plan, two deployments of one function, two
//!   rollbacks, concurrent conditional PATCHes, concurrent polls of one node.
//!
//! The in-process MQTT outage with exact payloads is `edgesync-server/tests/mqtt_notifications.rs`
//! (`a_broker_outage_mid_rollout_changes_nothing_but_the_hints`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgesync_core::EdgeSync;
use edgesync_core::notify::InProcessNotifier;
use edgesync_core::testkit::faulty::FaultyStore;
use edgesync_core::testkit::faulty_artifacts::FaultyArtifacts;
use edgesync_core::testkit::faulty_notifier::FaultyNotifier;
use edgesync_core::testkit::wasm_fixtures;
use edgesync_core::{ArtifactStore, ErrorCode, Store};
use edgesync_e2e::ServerProcess;
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// =============================================================================================
// In-process harness over the fault-injecting wrappers.

struct Faulty {
    _dir: tempfile::TempDir,
    inner_store: Arc<dyn Store>,
    inner_artifacts: Arc<dyn ArtifactStore>,
    store: Arc<FaultyStore>,
    artifacts: Arc<FaultyArtifacts>,
    notifier: Arc<FaultyNotifier>,
    hints: Arc<InProcessNotifier>,
    client: TestClient<BoxEndpoint<'static, poem::Response>>,
    admin: String,
}

impl Faulty {
    async fn new() -> Self {
        Self::with_limits(edgesync_server::HttpLimits {
            rate_limit_rps: 0,
            ..Default::default()
        })
        .await
    }

    async fn with_limits(limits: edgesync_server::HttpLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inner_store = edgesync_server::wiring::open_store(
            &format!("sled://{}", dir.path().join("store").display()),
            edgesync_server::wiring::StoreOptions::default(),
        )
        .await
        .unwrap()
        .store;
        let inner_artifacts = edgesync_server::wiring::open_artifacts(&format!(
            "file://{}",
            dir.path().join("artifacts").display()
        ))
        .unwrap();
        let store = Arc::new(FaultyStore::new(inner_store.clone()));
        let artifacts = Arc::new(FaultyArtifacts::new(inner_artifacts.clone()));
        let hints = Arc::new(InProcessNotifier::default());
        let notifier = Arc::new(FaultyNotifier::new(hints.clone()));
        let edgesync = EdgeSync::builder()
            .store(store.clone())
            .artifacts(artifacts.clone())
            .notifier(notifier.clone())
            .build()
            .await
            .unwrap();
        let admin = edgesync
            .bootstrap_admin_key()
            .await
            .unwrap()
            .unwrap()
            .secret;
        let client = TestClient::new(
            edgesync_server::app(&edgesync, limits)
                .map_to_response()
                .boxed(),
        );
        Self {
            _dir: dir,
            inner_store,
            inner_artifacts,
            store,
            artifacts,
            notifier,
            hints,
            client,
            admin,
        }
    }

    /// A second control plane loaded from the same store and artifacts, as a restarted server
    /// would see them.
    async fn reloaded(&self) -> TestClient<BoxEndpoint<'static, poem::Response>> {
        let edgesync = EdgeSync::builder()
            .store(self.inner_store.clone())
            .artifacts(self.inner_artifacts.clone())
            .build()
            .await
            .unwrap();
        let limits = edgesync_server::HttpLimits {
            rate_limit_rps: 0,
            ..Default::default()
        };
        TestClient::new(
            edgesync_server::app(&edgesync, limits)
                .map_to_response()
                .boxed(),
        )
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.admin)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        answer(
            self.client
                .get(path)
                .header("Authorization", self.auth())
                .send()
                .await,
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(
            self.client
                .post(path)
                .header("Authorization", self.auth())
                .body_json(body)
                .send()
                .await,
        )
        .await
    }

    async fn register(&self, name: &str) -> (u16, Value) {
        self.post(
            "/api/v1/nodes/register",
            &json!({"name": name, "pop": "fra", "labels": {"tier": "edge"}}),
        )
        .await
    }

    async fn upload(&self, name: &str, wasm: &[u8]) -> (u16, Value) {
        let (ct, body) = multipart(&json!({"name": name, "memory_pages": 4}), wasm);
        answer(
            self.client
                .post("/api/v1/functions")
                .header("Authorization", self.auth())
                .content_type(ct)
                .body(body)
                .send()
                .await,
        )
        .await
    }

    async fn node_get(&self, token: &str, path: &str) -> (u16, Value) {
        answer(
            self.client
                .get(path)
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await,
        )
        .await
    }

    async fn node_post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        answer(
            self.client
                .post(path)
                .header("Authorization", format!("Bearer {token}"))
                .body_json(body)
                .send()
                .await,
        )
        .await
    }

    async fn ready(&self) -> (u16, Value) {
        answer(self.client.get("/ready").send().await).await
    }
}

async fn answer(resp: TestResponse) -> (u16, Value) {
    let status = resp.0.status().as_u16();
    let bytes = resp.0.into_body().into_bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn multipart(metadata: &Value, wasm: &[u8]) -> (String, Vec<u8>) {
    let boundary = "edgesync-faults-boundary";
    let mut body = Vec::new();
    for (name, ct, data) in [
        (
            "metadata",
            "application/json",
            serde_json::to_vec(metadata).unwrap(),
        ),
        ("wasm", "application/wasm", wasm.to_vec()),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Asserts a retryable problem with this status and code.
fn assert_retryable(answer: &(u16, Value), status: u16, code: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["retryable"], true, "{body}");
    assert!(body["request_id"].is_string(), "{body}");
}

fn check<'a>(ready: &'a Value, name: &str) -> &'a Value {
    ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// Retries a request until it is acknowledged, asserting that every failure on the way is a
/// retryable 503 (never a 500, never a half-done 2xx).
async fn until_acknowledged(what: &str, mut f: impl AsyncFnMut() -> (u16, Value)) -> (u16, Value) {
    for _ in 0..50 {
        let (status, body) = f().await;
        if (200..300).contains(&status) {
            return (status, body);
        }
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(body["retryable"], true, "{what}: {body}");
    }
    panic!("{what}: never acknowledged");
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_store_outage_answers_retryable_503s_and_heals_without_a_restart() {
    let h = Faulty::new().await;
    let (status, before) = h.register("before").await;
    assert_eq!(status, 201, "{before}");
    let token = before["token"].as_str().unwrap().to_owned();
    let node = before["node_id"].as_str().unwrap().to_owned();
    let (status, f) = h.upload("hello", &wasm_fixtures::hello()).await;
    assert_eq!(status, 201, "{f}");

    h.store.set_down(true);
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["ready"], false);
    assert_eq!(check(&ready, "store")["status"], "down");
    assert_eq!(check(&ready, "artifacts")["status"], "ok");

    // Writes fail retryably and change nothing.
    assert_retryable(&h.register("during").await, 503, "store_unavailable");
    assert_retryable(
        &h.upload("during", &wasm_fixtures::numbered(7)).await,
        503,
        "store_unavailable",
    );
    assert_retryable(
        &h.post(
            "/api/v1/deployments",
            &json!({"function_id": f["id"], "version": 1, "selector": "tier=edge"}),
        )
        .await,
        503,
        "store_unavailable",
    );
    // The hot paths stay up: heartbeats and polls are answered from memory.
    let (status, hb) = h
        .node_post(
            &token,
            &format!("/api/v1/nodes/{node}/heartbeat"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{hb}");
    let (status, plan) = h
        .node_get(&token, &format!("/api/v1/nodes/{node}/sync"))
        .await;
    assert_eq!(status, 200, "{plan}");

    // The store returns: ready again, the same requests succeed, without a restart.
    h.store.set_down(false);
    let (status, _) = h.ready().await;
    assert_eq!(status, 200);
    let (status, during) = h.register("during").await;
    assert_eq!(status, 201, "{during}");
    let (status, _) = h.upload("during", &wasm_fixtures::numbered(7)).await;
    assert_eq!(status, 201);
    let (_, nodes) = h.get("/api/v1/nodes").await;
    let names: Vec<&str> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before", "during"]);
    let (_, versions) = h
        .get(&format!(
            "/api/v1/functions/{}/versions",
            f["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1);
}

/// Strips what legitimately differs between a running control plane and one freshly loaded
/// from its store: presence (written behind by design) and what derives from it.
fn durable_view(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for k in ["last_seen_at", "observed_at", "status", "resources", "next"] {
                    map.remove(k);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

async fn snapshot(client: &TestClient<BoxEndpoint<'static, poem::Response>>, auth: &str) -> Value {
    let get = async |path: String| -> Value {
        let resp = client.get(&path).header("Authorization", auth).send().await;
        let (status, body) = answer(resp).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let nodes = get("/api/v1/nodes?limit=1000".into()).await;
    let functions = get("/api/v1/functions?limit=1000".into()).await;
    let mut versions = Vec::new();
    for f in functions["items"].as_array().unwrap() {
        versions.push(
            get(format!(
                "/api/v1/functions/{}/versions",
                f["id"].as_str().unwrap()
            ))
            .await,
        );
        versions.push(get(format!("/api/v1/functions/{}", f["id"].as_str().unwrap())).await);
    }
    let deployments = get("/api/v1/deployments".into()).await;
    let mut details = Vec::new();
    for d in deployments["items"].as_array().unwrap() {
        details.push(get(format!("/api/v1/deployments/{}", d["id"].as_str().unwrap())).await);
    }
    let mut histories = Vec::new();
    for n in nodes["items"].as_array().unwrap() {
        histories.push(
            get(format!(
                "/api/v1/nodes/{}/sync/history?limit=1000",
                n["id"].as_str().unwrap()
            ))
            .await,
        );
    }
    durable_view(json!({
        "nodes": nodes,
        "functions": functions,
        "versions": versions,
        "deployments": deployments,
        "details": details,
        "routes": get("/api/v1/routes".into()).await,
        "schemas": get("/api/v1/schemas".into()).await,
        "histories": histories,
    }))
}

#[tokio::test]
async fn flaky_commits_never_leave_memory_and_store_disagreeing() {
    let h = Faulty::new().await;
    // Every third commit fails, whatever it is.
    h.store.commits().fail_every(3);

    let mut nodes = Vec::new();
    for i in 0..6 {
        let (_, body) =
            until_acknowledged("register", async || h.register(&format!("edge-{i}")).await).await;
        nodes.push((
            body["node_id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        ));
    }
    let mut functions = Vec::new();
    for i in 0..3 {
        let (_, f) = until_acknowledged("upload", async || {
            h.upload(&format!("fn-{i}"), &wasm_fixtures::numbered(i))
                .await
        })
        .await;
        functions.push(f["id"].as_str().unwrap().to_owned());
    }
    until_acknowledged("second version", async || {
        h.upload("fn-0", &wasm_fixtures::numbered(100)).await
    })
    .await;
    until_acknowledged("schema", async || {
        h.post(
            "/api/v1/schemas",
            &json!({"version": 1, "name": "init", "up_sql": "CREATE TABLE t (x INT)"}),
        )
        .await
    })
    .await;
    for (i, f) in functions.iter().enumerate() {
        until_acknowledged("deploy", async || { h.post(
                "/api/v1/deployments",
                &json!({"function_id": f, "version": 1, "selector": "tier=edge", "allow_breaking": true}),
            ).await })
        .await;
        until_acknowledged("route", async || {
            h.post(
                "/api/v1/routes",
                &json!({"path": format!("/f{i}"), "methods": ["GET"], "function_id": f}),
            )
            .await
        })
        .await;
    }
    until_acknowledged("deploy v2", async || { h.post(
            "/api/v1/deployments",
            &json!({"function_id": functions[0], "version": 2, "selector": "tier=edge", "allow_breaking": true}),
        ).await })
    .await;
    // Each node polls and acks until it converges; failed acks are retried as they are.
    for (id, token) in &nodes {
        for _ in 0..10 {
            let (_, plan) = until_acknowledged("poll", async || {
                h.node_get(token, &format!("/api/v1/nodes/{id}/sync")).await
            })
            .await;
            let actions = plan["actions"].as_array().unwrap();
            if actions.is_empty() {
                break;
            }
            let results: Vec<Value> = actions
                .iter()
                .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
                .collect();
            let ack = json!({"plan_id": plan["plan_id"], "results": results});
            until_acknowledged("ack", async || {
                h.node_post(token, &format!("/api/v1/nodes/{id}/sync/ack"), &ack)
                    .await
            })
            .await;
        }
    }
    let (_, patched) = until_acknowledged("patch", async || {
        answer(
            h.client
                .patch(format!("/api/v1/nodes/{}", nodes[0].0))
                .header("Authorization", h.auth())
                .body_json(&json!({"labels": {"tier": "edge", "extra": "yes"}}))
                .send()
                .await,
        )
        .await
    })
    .await;
    assert_eq!(patched["labels"]["extra"], "yes");
    assert!(
        h.store.commits().injected() >= 10,
        "the schedule injected too few failures to mean anything ({})",
        h.store.commits().injected()
    );

    // What the running server believes is exactly what a restarted one loads from the store.
    h.store.heal();
    let live = snapshot(&h.client, &h.auth()).await;
    let reloaded = snapshot(&h.reloaded().await, &h.auth()).await;
    assert_eq!(
        live, reloaded,
        "memory and store disagree after failed commits"
    );
    // And the fleet converged: every node runs fn-0 v2, fn-1 v1, fn-2 v1.
    for (id, _) in &nodes {
        let (_, node) = h.get(&format!("/api/v1/nodes/{id}")).await;
        let mut running: Vec<(String, u64)> = node["reported"]["functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["function_id"].as_str().unwrap().to_owned(),
                    f["version"].as_u64().unwrap(),
                )
            })
            .collect();
        running.sort();
        let mut expected = vec![
            (functions[0].clone(), 2),
            (functions[1].clone(), 1),
            (functions[2].clone(), 1),
        ];
        expected.sort();
        assert_eq!(running, expected, "{node}");
    }
}

#[tokio::test]
async fn a_slow_store_never_slows_the_hot_paths_and_requests_meet_their_deadline() {
    let h = Faulty::with_limits(edgesync_server::HttpLimits {
        rate_limit_rps: 0,
        request_timeout: Some(Duration::from_millis(800)),
        ..Default::default()
    })
    .await;
    let (_, reg) = h.register("slow").await;
    let (node, token) = (
        reg["node_id"].as_str().unwrap().to_owned(),
        reg["token"].as_str().unwrap().to_owned(),
    );
    h.store.reads().set_delay(Duration::from_secs(3));
    h.store.commits().set_delay(Duration::from_secs(3));

    let started = Instant::now();
    for _ in 0..20 {
        let (status, _) = h
            .node_post(
                &token,
                &format!("/api/v1/nodes/{node}/heartbeat"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = h
            .node_get(&token, &format!("/api/v1/nodes/{node}/sync"))
            .await;
        assert_eq!(status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "heartbeats and polls waited for the store: {:?}",
        started.elapsed()
    );

    // A write that needs the store gives up at the deadline with a retryable answer.
    let started = Instant::now();
    assert_retryable(&h.register("late").await, 503, "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(2));

    // The request was abandoned before it reached the store: nothing half-registered.
    h.store.heal();
    let (_, nodes) = h.get("/api/v1/nodes").await;
    assert_eq!(nodes["items"].as_array().unwrap().len(), 1, "{nodes}");
    let (status, _) = h.register("late").await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn an_artifact_store_outage_is_retryable_and_never_half_publishes() {
    let h = Faulty::new().await;
    let wasm = wasm_fixtures::numbered(1);
    let key_of =
        |w: &[u8]| edgesync_core::artifacts::ArtifactKey::for_sha256(&Sha256::digest(w).into());

    // Down: uploads fail retryably, readiness says which dependency.
    h.artifacts.set_down(true);
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503);
    assert_eq!(check(&ready, "artifacts")["status"], "down");
    assert_eq!(check(&ready, "store")["status"], "ok");
    assert_retryable(
        &h.upload("fn", &wasm).await,
        503,
        "artifact_store_unavailable",
    );

    // A failure in the middle of the stream, and one while publishing: nothing visible.
    h.artifacts.set_down(false);
    h.artifacts.writes().fail_next(1);
    assert_retryable(
        &h.upload("fn", &wasm).await,
        503,
        "artifact_store_unavailable",
    );
    h.artifacts.finishes().fail_next(1);
    assert_retryable(
        &h.upload("fn", &wasm).await,
        503,
        "artifact_store_unavailable",
    );
    assert!(
        h.inner_artifacts
            .head(&key_of(&wasm))
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.inner_artifacts.list().await.unwrap().is_empty());
    let (_, functions) = h.get("/api/v1/functions").await;
    assert!(
        functions["items"].as_array().unwrap().is_empty(),
        "metadata without an artifact: {functions}"
    );

    // A full disk is 507 storage_full, also retryable.
    h.artifacts.writes().set_down(true);
    h.artifacts.writes().set_error(Some(ErrorCode::StorageFull));
    assert_retryable(&h.upload("fn", &wasm).await, 507, "storage_full");
    h.artifacts.heal();

    // Healed: the same upload succeeds and downloads intact.
    let (status, f) = h.upload("fn", &wasm).await;
    assert_eq!(status, 201, "{f}");
    assert_eq!(
        f["version"], 1,
        "failed attempts used no version numbers: {f}"
    );
    let (status, _) = h.ready().await;
    assert_eq!(status, 200);

    // Downloads during an outage are retryable too, and work again afterwards.
    let (_, link) = h
        .get(&format!(
            "/api/v1/functions/{}/download?redirect=false",
            f["id"].as_str().unwrap()
        ))
        .await;
    let url = link["url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/api/").unwrap()..];
    h.artifacts.calls().set_down(true);
    let (status, body) = answer(h.client.get(path).send().await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["retryable"], true);
    h.artifacts.heal();
    let resp = h.client.get(path).send().await;
    assert_eq!(resp.0.status(), 200);
    let bytes = resp.0.into_body().into_bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), wasm.as_slice());
}

#[tokio::test]
async fn lost_and_late_notifications_never_stop_nodes_converging() {
    let h = Faulty::new().await;
    let (_, reg) = h.register("n1").await;
    let (node, token) = (
        reg["node_id"].as_str().unwrap().to_owned(),
        reg["token"].as_str().unwrap().to_owned(),
    );
    let (_, f) = h.upload("hello", &wasm_fixtures::hello()).await;

    // Every hint is dropped and the notifier says so; readiness does not depend on it.
    h.notifier.faults().set_down(true);
    h.notifier.set_degraded(Some("broker unreachable"));
    let mut hints = h.hints.subscribe();
    let (status, ready) = h.ready().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(check(&ready, "notifier")["status"], "degraded");
    let started = Instant::now();
    let (status, _) = h
        .post(
            "/api/v1/deployments",
            &json!({"function_id": f["id"], "version": 1, "selector": "tier=edge"}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(h.notifier.dropped() > 0, "the deployment published no hint");
    assert!(hints.try_recv().is_err(), "a dropped hint was delivered");

    // The node converges by polling alone.
    let (_, plan) = h
        .node_get(&token, &format!("/api/v1/nodes/{node}/sync"))
        .await;
    let results: Vec<Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
        .collect();
    assert!(!results.is_empty());
    let (status, ack) = h
        .node_post(
            &token,
            &format!("/api/v1/nodes/{node}/sync/ack"),
            &json!({"plan_id": plan["plan_id"], "results": results}),
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    let (_, plan) = h
        .node_get(&token, &format!("/api/v1/nodes/{node}/sync"))
        .await;
    assert!(plan["actions"].as_array().unwrap().is_empty());

    // Slow hints: the API does not wait for them; they arrive later.
    h.notifier.faults().heal();
    h.notifier.set_degraded(None);
    h.notifier.faults().set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = h
        .post(
            "/api/v1/routes",
            &json!({"path": "/hello", "methods": ["GET"], "function_id": f["id"]}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(started.elapsed() < Duration::from_millis(300));
    let hint = tokio::time::timeout(Duration::from_secs(5), hints.recv())
        .await
        .expect("the delayed hint arrives")
        .unwrap();
    assert!(hint.topic.contains(&node), "{}", hint.topic);
    let (_, ready) = h.ready().await;
    assert_eq!(check(&ready, "notifier")["status"], "ok");
}

// =============================================================================================
// Real processes: PostgreSQL restarted under load, Mosquitto stopped and restarted, a full disk.

fn as_postgres(cmd: &str, args: &[&str]) -> Command {
    let bin = Path::new(PG_BIN).join(cmd);
    // PostgreSQL refuses to run as root (CI runs as root): run it as the `postgres` user then.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    }
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway PostgreSQL cluster on a free port in a temp dir (never the shared one).
struct PgCluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
}

impl PgCluster {
    fn start() -> Option<Self> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pg");
        std::fs::create_dir_all(&data).unwrap();
        // The postgres user needs the temp dir (0700 root-owned by default).
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        let out = as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Self {
            _dir: dir,
            data,
            port: edgesync_e2e::free_port(),
        };
        cluster.pg_ctl_start();
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c default_transaction_isolation=serializable",
            self.port,
            self.data.display()
        );
        let log = self.data.join("log");
        let out = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops it like a crash (`-m immediate`: no checkpoint, clients cut off).
    fn crash(&self) {
        let _ = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .output();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.crash();
    }
}

#[derive(Default)]
struct Tally {
    acknowledged: Vec<String>,
    retryable: usize,
    other: Vec<String>,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_answers_503_then_recovers_on_its_own() {
    let Some(pg) = PgCluster::start() else {
        eprintln!("SKIPPED: no PostgreSQL binaries in {PG_BIN}");
        return;
    };
    edgesync_e2e::migrate_store(&pg.url());
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &dir.path().join("data"),
        &[
            ("EDGESYNC_STORE", pg.url().as_str()),
            ("EDGESYNC_RATE_LIMIT_RPS", "0"),
            ("EDGESYNC_REQUEST_TIMEOUT_S", "5"),
        ],
    )
    .await;
    let key = server.admin_key();
    let http = reqwest::Client::new();
    let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Two writers register nodes as fast as they can, each name until it is acknowledged.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (http, url, key, tally, stop) = (
                http.clone(),
                server.url.clone(),
                key.clone(),
                tally.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let name = format!("pg-{w}-{i}");
                    let started = Instant::now();
                    let resp = http
                        .post(format!("{url}/api/v1/nodes/register"))
                        .bearer_auth(&key)
                        .json(&json!({"name": name, "pop": "fra"}))
                        .timeout(Duration::from_secs(20))
                        .send()
                        .await;
                    let elapsed = started.elapsed();
                    let outcome = match resp {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            (status, r.json::<Value>().await.unwrap_or_default())
                        }
                        Err(e) => (0, Value::String(format!("transport: {e}"))),
                    };
                    let retry = {
                        let mut t = tally.lock().unwrap();
                        t.slowest = t.slowest.max(elapsed);
                        match outcome {
                            (201, _) => {
                                t.acknowledged.push(name);
                                i += 1;
                                false
                            }
                            // A retried request whose first attempt committed before the
                            // outage cut the connection: it exists, as the check below confirms.
                            (409, _) => {
                                i += 1;
                                false
                            }
                            (503, body) if body["retryable"] == true => {
                                t.retryable += 1;
                                true
                            }
                            (status, body) => {
                                t.other.push(format!("{status} {body}"));
                                true
                            }
                        }
                    };
                    if retry {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = tally.lock().unwrap().acknowledged.len();
    assert!(before > 0, "no registration succeeded before the outage");
    pg.crash();
    // While PostgreSQL is down: retryable 503s and an unready server.
    let mut saw_unready = false;
    for _ in 0..40 {
        let r = http
            .get(format!("{}/ready", server.url))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            saw_unready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_unready, "/ready stayed 200 with PostgreSQL down");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        tally.lock().unwrap().retryable > 0,
        "no request saw the outage"
    );

    // PostgreSQL comes back; the server recovers without a restart.
    pg.pg_ctl_start();
    let back = Instant::now();
    loop {
        let r = http
            .get(format!("{}/ready", server.url))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the server did not recover after PostgreSQL returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_at = tally.lock().unwrap().acknowledged.len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let t = std::mem::take(&mut *tally.lock().unwrap());
    assert!(t.other.is_empty(), "non-retryable failures: {:#?}", t.other);
    assert!(
        t.acknowledged.len() > recovered_at,
        "no registration succeeded after recovery"
    );

    // Nothing acknowledged is lost.
    let listed: Value = http
        .get(format!("{}/api/v1/nodes?limit=1000", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: BTreeSet<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    for name in &t.acknowledged {
        assert!(
            names.contains(name.as_str()),
            "{name} was acknowledged but is lost"
        );
    }
    eprintln!(
        "postgres restart: {} registrations acknowledged, {} retryable 503s, slowest answer {:?}",
        t.acknowledged.len(),
        t.retryable,
        t.slowest
    );
}

struct Mosquitto(Child);

impl Mosquitto {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self(child))
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn notifier_status(http: &reqwest::Client, url: &str) -> (u16, String) {
    let r = http.get(format!("{url}/ready")).send().await.unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (
        status,
        check(&body, "notifier")["status"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_broker_restart_under_load_leaves_the_api_unaffected() {
    let port = edgesync_e2e::free_port();
    let Some(broker) = Mosquitto::start(port) else {
        eprintln!("SKIPPED: the broker restart test needs mosquitto on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mqtt = format!("mqtt://127.0.0.1:{port}");
    let server = ServerProcess::start(
        &dir.path().join("data"),
        &[
            ("EDGESYNC_MQTT", mqtt.as_str()),
            ("EDGESYNC_RATE_LIMIT_RPS", "0"),
        ],
    )
    .await;
    let key = server.admin_key();
    let http = reqwest::Client::new();
    let reg: Value = http
        .post(format!("{}/api/v1/nodes/register", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "mq-1", "pop": "fra", "labels": {"tier": "edge"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let node = reg["node_id"].as_str().unwrap().to_owned();
    let token = reg["token"].as_str().unwrap().to_owned();

    // Load: uploads + deployments (each publishes hints), polls and acks, heartbeats.
    let run = async |round: u32| -> Duration {
        let mut slowest = Duration::ZERO;
        let started = Instant::now();
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(
                    json!({"name": "mq", "memory_pages": 4}).to_string(),
                )
                .mime_str("application/json")
                .unwrap(),
            )
            .part(
                "wasm",
                reqwest::multipart::Part::bytes(wasm_fixtures::numbered(round)).file_name("f.wasm"),
            );
        let r = http
            .post(format!("{}/api/v1/functions", server.url))
            .bearer_auth(&key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let f: Value = r.json().await.unwrap();
        let r = http
            .post(format!("{}/api/v1/deployments", server.url))
            .bearer_auth(&key)
            .json(&json!({"function_id": f["id"], "version": f["version"], "selector": "tier=edge", "allow_breaking": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let plan: Value = http
            .get(format!("{}/api/v1/nodes/{node}/sync", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let results: Vec<Value> = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
            .collect();
        let r = http
            .post(format!("{}/api/v1/nodes/{node}/sync/ack", server.url))
            .bearer_auth(&token)
            .json(&json!({"plan_id": plan["plan_id"], "results": results}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http
            .post(format!("{}/api/v1/nodes/{node}/heartbeat", server.url))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        slowest = slowest.max(started.elapsed());
        slowest
    };

    let mut round = 0;
    for _ in 0..5 {
        run(round).await;
        round += 1;
    }
    // The broker dies mid-load.
    drop(broker);
    let outage = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut degraded = false;
    while outage.elapsed() < Duration::from_secs(3) || !degraded {
        slowest = slowest.max(run(round).await);
        round += 1;
        let (status, notifier) = notifier_status(&http, &server.url).await;
        assert_eq!(status, 200, "a broker outage made the server unready");
        degraded |= notifier == "degraded";
        assert!(
            outage.elapsed() < Duration::from_secs(30),
            "the notifier never reported the outage"
        );
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a round of API calls took {slowest:?} during the broker outage"
    );

    // The broker returns on the same port: notifications resume without a restart.
    let _broker = Mosquitto::start(port).expect("mosquitto restarts");
    let back = Instant::now();
    loop {
        run(round).await;
        round += 1;
        if notifier_status(&http, &server.url).await.1 == "ok" {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the notifier did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A valid module with a data segment of `n` bytes, distinct per `seed`.
fn big_module(seed: u32, n: usize) -> Vec<u8> {
    let data: String = (0..n)
        .map(|i| {
            format!(
                "\\{:02x}",
                (i as u32).wrapping_mul(31).wrapping_add(seed) as u8
            )
        })
        .collect();
    wasm_fixtures::wasm(&format!(
        r#"(module (memory (export "memory") 4)
             (data (i32.const 0) "{data}")
             (func (export "_start"))
             (func (export "id") (result i32) (i32.const {seed})))"#
    ))
}

async fn upload_raw(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    name: &str,
    wasm: Vec<u8>,
) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"name": name, "memory_pages": 4}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "wasm",
            reqwest::multipart::Part::bytes(wasm).file_name("f.wasm"),
        );
    let r = http
        .post(format!("{url}/api/v1/functions"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn assert_intact(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    acked: &[(String, Vec<u8>)],
    artifacts: &Path,
) {
    for (id, wasm) in acked {
        let r = http
            .get(format!("{url}/api/v1/functions/{id}/download"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{id} does not download");
        assert_eq!(
            Sha256::digest(r.bytes().await.unwrap()),
            Sha256::digest(wasm),
            "{id} is corrupt"
        );
    }
    for entry in std::fs::read_dir(artifacts.join("wasm")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            path.file_name().unwrap().to_string_lossy(),
            "a partial artifact is visible: {}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_corrupts_nothing_and_recovers_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("tmpfs"), "16m") else {
        eprintln!("SKIPPED: the disk-full test needs to mount a tmpfs (root)");
        return;
    };
    let data = mnt.0.join("data");
    let artifacts = data.join("artifacts");
    let env = [("EDGESYNC_RATE_LIMIT_RPS", "0")];
    let server = ServerProcess::start(&data, &env).await;
    let key = server.admin_key();
    let http = reqwest::Client::new();

    // Leave a little room, then upload until it runs out.
    let filler = mnt.0.join("filler");
    let free = |p: &Path| {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let room = 1_500_000u64;
    let fill = free(&mnt.0).saturating_sub(room);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();

    let mut acked: Vec<(String, Vec<u8>)> = Vec::new();
    let mut full = Vec::new();
    for i in 0..40 {
        let wasm = big_module(i, 200_000);
        let (status, body) =
            upload_raw(&http, &server.url, &key, &format!("big-{i}"), wasm.clone()).await;
        match status {
            201 => acked.push((body["id"].as_str().unwrap().to_owned(), wasm)),
            507 | 503 => {
                assert_eq!(body["retryable"], true, "{body}");
                full.push(body["code"].as_str().unwrap_or_default().to_owned());
                if full.len() >= 3 {
                    break;
                }
            }
            _ => panic!("upload {i} on a full disk: {status} {body}"),
        }
    }
    eprintln!("disk full: {} uploads fit, then {full:?}", acked.len());
    assert!(!acked.is_empty(), "nothing fit before the disk filled");
    assert!(!full.is_empty(), "the disk never filled");
    assert!(
        full.iter().any(|c| c == "storage_full"),
        "a full disk should say storage_full: {full:?}"
    );
    // Other writes on a full disk fail cleanly too (the record store shares the disk).
    let r = http
        .post(format!("{}/api/v1/nodes/register", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "on-full-disk", "pop": "fra"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    eprintln!("disk full: a registration answered {status}");
    assert!(
        matches!(status, 201 | 503 | 507),
        "register on a full disk: {status}"
    );
    let health = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the server died on a full disk");
    assert_intact(&http, &server.url, &key, &acked, &artifacts).await;

    // Space is freed: uploads work again without a restart.
    std::fs::remove_file(&filler).unwrap();
    let wasm = big_module(1000, 200_000);
    let (status, body) = upload_raw(&http, &server.url, &key, "after", wasm.clone()).await;
    assert_eq!(status, 201, "after freeing space: {body}");
    acked.push((body["id"].as_str().unwrap().to_owned(), wasm));
    let ready = http
        .get(format!("{}/ready", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_intact(&http, &server.url, &key, &acked, &artifacts).await;

    // And it all survives a kill and restart.
    server.kill();
    let server = ServerProcess::start(&data, &env).await;
    assert_intact(&http, &server.url, &key, &acked, &artifacts).await;
    drop(server);
    drop(mnt);
}

// =============================================================================================
// Conflicting edits at once, over real HTTP against the real binary.

struct Live {
    server: ServerProcess,
    http: reqwest::Client,
    key: String,
    _dir: tempfile::TempDir,
}

impl Live {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(
            &dir.path().join("data"),
            &[("EDGESYNC_RATE_LIMIT_RPS", "0")],
        )
        .await;
        let key = server.admin_key();
        Self {
            server,
            http: reqwest::Client::new(),
            key,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::send(req).await
    }

    async fn register(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/nodes/register",
                Some(json!({"name": name, "pop": "fra", "labels": {"tier": "edge"}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["node_id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn upload(&self, name: &str, wasm: Vec<u8>) -> Value {
        let (status, body) = upload_raw(&self.http, &self.server.url, &self.key, name, wasm).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn plan(&self, node: &str, token: &str) -> Value {
        let (status, plan) = Self::send(
            self.http
                .get(self.url(&format!("/api/v1/nodes/{node}/sync")))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(status, 200, "{plan}");
        plan
    }

    fn ack(
        &self,
        node: &str,
        token: &str,
        body: Value,
    ) -> impl std::future::Future<Output = (u16, Value)> + use<> {
        let req = self
            .http
            .post(self.url(&format!("/api/v1/nodes/{node}/sync/ack")))
            .bearer_auth(token)
            .json(&body);
        Self::send(req)
    }
}

fn results(plan: &Value, status: &str) -> Value {
    Value::Array(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match status {
                "failed" => json!({"action_id": a["id"], "status": status, "error": "boom"}),
                _ => json!({"action_id": a["id"], "status": status}),
            })
            .collect(),
    )
}

async fn all<T: Send + 'static>(
    futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acks_of_one_plan_apply_once_and_conflicting_ones_get_409() {
    let live = Live::start().await;
    let (node, token) = live.register("acker").await;
    let f = live.upload("hello", wasm_fixtures::hello()).await;
    live.admin(
        reqwest::Method::POST,
        "/api/v1/deployments",
        Some(json!({"function_id": f["id"], "version": 1, "selector": "tier=edge"})),
    )
    .await;
    let plan = live.plan(&node, &token).await;
    let ack = json!({"plan_id": plan["plan_id"], "results": results(&plan, "succeeded")});

    // The same ack eight times at once: all succeed, exactly one applies.
    let answers = all((0..8)
        .map(|_| live.ack(&node, &token, ack.clone()))
        .collect())
    .await;
    let applied = answers
        .iter()
        .filter(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["applied"] == true
        })
        .count();
    assert_eq!(applied, 1, "{answers:?}");

    // A second plan acked with different results at once: exactly one wins, the other is 409.
    let g = live.upload("world", wasm_fixtures::numbered(5)).await;
    live.admin(
        reqwest::Method::POST,
        "/api/v1/deployments",
        Some(json!({"function_id": g["id"], "version": 1, "selector": "tier=edge"})),
    )
    .await;
    let plan = live.plan(&node, &token).await;
    let ok = json!({"plan_id": plan["plan_id"], "results": results(&plan, "succeeded")});
    let failed = json!({"plan_id": plan["plan_id"], "results": results(&plan, "failed")});
    let answers = all(vec![
        live.ack(&node, &token, ok.clone()),
        live.ack(&node, &token, failed.clone()),
    ])
    .await;
    let winners: Vec<usize> = (0..2).filter(|&i| answers[i].0 == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let loser = &answers[1 - winners[0]];
    assert_eq!(loser.0, 409, "{loser:?}");
    assert_eq!(loser.1["code"], "plan_already_acked");

    // History holds each plan once, with the winner's results.
    let (_, history) = live
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/nodes/{node}/sync/history"),
            None,
        )
        .await;
    let records = history["items"].as_array().unwrap();
    let ids: BTreeSet<&str> = records
        .iter()
        .map(|r| r["plan_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), records.len(), "a plan recorded twice: {history}");
    let second = records
        .iter()
        .find(|r| r["plan_id"] == plan["plan_id"])
        .unwrap();
    let expected = if winners[0] == 0 {
        "succeeded"
    } else {
        "failed"
    };
    assert_eq!(second["status"], expected, "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deployments_of_one_function_agree_on_one_winner_everywhere() {
    let live = Live::start().await;
    let mut nodes = Vec::new();
    for i in 0..4 {
        nodes.push(live.register(&format!("d-{i}")).await);
    }
    let f = live.upload("fn", wasm_fixtures::numbered(1)).await;
    live.upload("fn", wasm_fixtures::numbered(2)).await;

    let deploy = |version: u32| {
        let req = live
            .http
            .post(live.url("/api/v1/deployments"))
            .bearer_auth(&live.key)
            .json(&json!({"function_id": f["id"], "version": version, "selector": "tier=edge", "allow_breaking": true}));
        Live::send(req)
    };
    let answers = all(vec![deploy(1), deploy(2)]).await;
    for (status, body) in &answers {
        assert_eq!(
            *status, 201,
            "two deployments of one function are both recorded: {body}"
        );
    }
    // The newer deployment wins on every node (equal priority; the same instant: the greater
    // id): each plan installs exactly one version of the function, the same one everywhere.
    let newest = answers
        .iter()
        .max_by_key(|(_, d)| {
            let created: edgesync_core::model::Timestamp =
                serde_json::from_value(d["created_at"].clone()).unwrap();
            (created, d["id"].as_str().unwrap().to_owned())
        })
        .map(|(_, d)| d.clone())
        .unwrap();
    for (node, token) in &nodes {
        let plan = live.plan(node, token).await;
        let installs: Vec<&Value> = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "install_function")
            .collect();
        assert_eq!(installs.len(), 1, "{plan}");
        assert_eq!(installs[0]["deployment_id"], newest["id"], "{plan}");
        let ack = json!({"plan_id": plan["plan_id"], "results": results(&plan, "succeeded")});
        assert_eq!(live.ack(node, token, ack).await.0, 200);
    }
    for (_, d) in &answers {
        let (_, detail) = live
            .admin(
                reqwest::Method::GET,
                &format!("/api/v1/deployments/{}", d["id"].as_str().unwrap()),
                None,
            )
            .await;
        let active = detail["counts"]["active"].as_u64().unwrap();
        if d["id"] == newest["id"] {
            assert_eq!(active, 4, "{detail}");
        } else {
            assert_eq!(active, 0, "{detail}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rollbacks_to_one_version_record_one_rollback() {
    let live = Live::start().await;
    live.register("r-1").await;
    let f = live.upload("fn", wasm_fixtures::numbered(1)).await;
    live.upload("fn", wasm_fixtures::numbered(2)).await;
    let (status, _) = live
        .admin(
            reqwest::Method::POST,
            "/api/v1/deployments",
            Some(json!({"function_id": f["id"], "version": 2, "selector": "tier=edge", "allow_breaking": true})),
        )
        .await;
    assert_eq!(status, 201);
    let id = f["id"].as_str().unwrap();
    let rollback = || {
        let req = live
            .http
            .post(live.url(&format!("/api/v1/functions/{id}/rollback")))
            .bearer_auth(&live.key)
            .json(&json!({"to_version": 1}));
        Live::send(req)
    };
    let answers = all((0..4).map(|_| rollback()).collect()).await;
    let mut recorded = 0;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["to_version"], 1);
        recorded += usize::from(body.get("entry").is_some_and(|e| !e.is_null()));
    }
    assert_eq!(recorded, 1, "exactly one rollback is recorded: {answers:?}");
    let (_, function) = live
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/functions/{id}"),
            None,
        )
        .await;
    assert_eq!(
        function["rollbacks"].as_array().map(Vec::len),
        Some(1),
        "{function}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_patches_of_one_node_let_exactly_one_win() {
    let live = Live::start().await;
    let (node, _) = live.register("p-1").await;
    let (_, before) = live
        .admin(reqwest::Method::GET, &format!("/api/v1/nodes/{node}"), None)
        .await;
    let revision = before["revision"].as_u64().unwrap();
    let patch = |i: usize| {
        let req = live
            .http
            .patch(live.url(&format!("/api/v1/nodes/{node}")))
            .bearer_auth(&live.key)
            .header("If-Match", revision.to_string())
            .json(&json!({"labels": {"tier": "edge", "writer": i.to_string()}}));
        Live::send(req)
    };
    let answers = all((0..8).map(patch).collect()).await;
    let winners: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert!(
            matches!(
                (*status, body["code"].as_str()),
                (412, Some("precondition_failed")) | (409, Some("revision_conflict"))
            ),
            "{status} {body}"
        );
    }
    let (_, after) = live
        .admin(reqwest::Method::GET, &format!("/api/v1/nodes/{node}"), None)
        .await;
    assert_eq!(after["revision"].as_u64(), Some(revision + 1));
    assert_eq!(after["labels"], winners[0].1["labels"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_polls_of_one_node_all_get_a_plan_and_it_converges() {
    let live = Live::start().await;
    let (node, token) = live.register("poller").await;
    let f = live.upload("fn", wasm_fixtures::numbered(3)).await;
    live.admin(
        reqwest::Method::POST,
        "/api/v1/deployments",
        Some(json!({"function_id": f["id"], "version": 1, "selector": "tier=edge"})),
    )
    .await;
    // Before the fix, the loser of this race got 409 `already_exists`.
    let poll = || {
        let req = live
            .http
            .get(live.url(&format!("/api/v1/nodes/{node}/sync")))
            .bearer_auth(&token);
        Live::send(req)
    };
    let answers = all((0..8).map(|_| poll()).collect()).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["actions"].as_array().unwrap().len(), 1, "{body}");
    }
    let plan = live.plan(&node, &token).await;
    let ack = json!({"plan_id": plan["plan_id"], "results": results(&plan, "succeeded")});
    assert_eq!(live.ack(&node, &token, ack).await.0, 200);
    assert!(
        live.plan(&node, &token).await["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
