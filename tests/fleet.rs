//! Server and three agents as real processes on loopback: migrations reach every agent's
//! SQLite in order; a deployment by selector reaches only the matching agents, which then
//! serve the route; a v2 rollout switches them; heartbeats report what they run; telemetry and
//! commands flow.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use edgesync_client::TelemetryFilter;
use edgesync_client::wire::{
    CommandStatus, CreateMigrationRequest, QueueCommandRequest, RunningFunction,
};
use edgesync_e2e::{
    AgentProcess, ServerProcess, deploy, example_wasm, metadata, operator, route, upload,
};
use serde_json::json;

const CONVERGE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn deploy_by_selector_migrate_roll_out_v2() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), &[]).await;
    let ops = operator(&server);
    let key = server.admin_key();

    // Migrations first: every node gets them, whatever runs on it.
    for (version, name, sql) in [
        (
            1,
            "kv",
            "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);",
        ),
        (2, "kv_seed", "INSERT INTO kv VALUES ('greeting', 'hello');"),
    ] {
        ops.create_migration(&CreateMigrationRequest {
            version,
            name: name.into(),
            up_sql: sql.into(),
            down_sql: None,
        })
        .await
        .unwrap();
    }

    let (dir_a, dir_b, dir_c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let (a, b, c) = tokio::join!(
        AgentProcess::start(
            &server.url,
            &key,
            "edge-a",
            &[("tier", "edge"), ("region", "eu")],
            &dir_a,
        ),
        AgentProcess::start(
            &server.url,
            &key,
            "edge-b",
            &[("tier", "edge"), ("region", "us")],
            &dir_b,
        ),
        AgentProcess::start(&server.url, &key, "core-c", &[("tier", "core")], &dir_c,),
    );
    let agents = [&a, &b, &c];

    for agent in agents {
        let status = agent
            .wait_status("migrations", CONVERGE, |s| s["schema_version"] == 2)
            .await;
        let ledger: Vec<(u64, bool)> = status["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["version"].as_u64().unwrap(),
                    m["dirty"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(ledger, [(1, false), (2, false)], "{}", agent.name);
    }

    // v1 to tier=edge only, behind a route.
    let v1 = upload(&ops, &metadata("hello", 8, 1000, 8), example_wasm("hello")).await;
    deploy(&ops, v1.id, 1, "tier=edge").await;
    route(&ops, "/hello/:name", &["GET"], v1.id).await;
    for agent in [&a, &b] {
        agent
            .wait_for_answer("/hello/bob", 200, "hello from the edge", CONVERGE)
            .await;
    }
    // core-c runs nothing, so its route table stays empty.
    let c_status = c.status().await;
    assert!(c_status["functions"].as_array().unwrap().is_empty());
    assert!(c_status["routes"].as_array().unwrap().is_empty());
    let resp = c.get("/hello/bob").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-edgesync-error"], "no_route");

    // v2 (echoes the request) rolls out to the same selector and replaces v1.
    let v2 = upload(
        &ops,
        &metadata("hello", 8, 1000, 8),
        example_wasm("hello-v2"),
    )
    .await;
    assert_eq!((v2.id, v2.version), (v1.id, 2));
    deploy(&ops, v1.id, 2, "tier=edge").await;
    for agent in [&a, &b] {
        let body = agent
            .wait_for_answer("/hello/bob?x=1", 200, "hello v2 from the edge", CONVERGE)
            .await;
        assert!(body.contains("X_PARAM_NAME=bob"), "{body}");
        assert!(body.contains("QUERY_STRING=x=1"), "{body}");
        assert!(body.contains("X_FUNCTION_VERSION=2"), "{body}");
        assert!(
            body.contains(&format!("X_NODE_NAME={}", agent.name)),
            "{body}"
        );
        let status = agent.status().await;
        assert_eq!(status["counters"]["artifact_downloads"], 2);
        assert_eq!(status["functions"][0]["kept_versions"], json!([2, 1]));
    }
    assert_eq!(c.counter("artifact_downloads").await, 0);
    assert_eq!(c.get("/hello/bob").await.status(), 404);

    // Heartbeats carry what each node runs.
    let a_id = a.node_id().await;
    let deadline = Instant::now() + CONVERGE;
    loop {
        let node = ops.get_node(a_id).await.unwrap();
        if node.reported.functions
            == [RunningFunction {
                function_id: v1.id,
                version: 2,
            }]
            && node.reported.schema_version == 2
        {
            assert!(node.reported.resources.memory_bytes > 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "heartbeat state: {:?}",
            node.reported
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Telemetry: invocations of hello were pushed.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let series = ops
            .node_telemetry(
                a_id,
                &TelemetryFilter {
                    metric: Some("function.invocations".into()),
                    ..TelemetryFilter::default()
                },
            )
            .await
            .unwrap();
        let total: f64 = series
            .points
            .unwrap_or_default()
            .iter()
            .map(|p| p.value)
            .sum();
        if total >= 2.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no invocation telemetry yet");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Commands: a known one succeeds with an answer, an unknown one fails with a message.
    let (probe, _) = ops
        .queue_command(a_id, &command("health_probe", json!({})))
        .await
        .unwrap();
    let (flush, _) = ops
        .queue_command(a_id, &command("flush_cache", json!({})))
        .await
        .unwrap();
    let (bogus, _) = ops
        .queue_command(a_id, &command("frobnicate", json!({})))
        .await
        .unwrap();
    let probe = wait_command(&ops, a_id, probe.id).await;
    assert_eq!(probe.status, CommandStatus::Succeeded);
    assert_eq!(probe.output.unwrap()["name"], "edge-a");
    assert_eq!(
        wait_command(&ops, a_id, flush.id).await.status,
        CommandStatus::Succeeded
    );
    let bogus = wait_command(&ops, a_id, bogus.id).await;
    assert_eq!(bogus.status, CommandStatus::Failed);
    assert!(
        bogus.output.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("unknown command kind")
    );
    // After flushing the compiled modules the function still answers (compiled again).
    a.wait_for_answer("/hello/x", 200, "hello v2", CONVERGE)
        .await;

    eprintln!("fleet test took {:?}", started.elapsed());
}

fn command(kind: &str, payload: serde_json::Value) -> QueueCommandRequest {
    QueueCommandRequest {
        kind: kind.into(),
        payload,
        timeout_s: 60,
        idempotency_key: None,
    }
}

async fn wait_command(
    ops: &edgesync_client::Client,
    node: uuid::Uuid,
    id: uuid::Uuid,
) -> edgesync_client::wire::CommandInfo {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let c = ops.get_command(node, id).await.unwrap();
        if matches!(c.status, CommandStatus::Succeeded | CommandStatus::Failed) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "command {} still {:?}",
            c.kind,
            c.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
