//! State fixtures for the snapshot and update tests: a small fleet at a fixed instant, built
//! from JSON so that fields the server adds later keep their defaults here.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use edgesync_client::wire::{
    ApiKeyInfo, CommandList, DeploymentInfo, DeploymentSummary, FunctionInfo, FunctionSummary,
    MigrationInfo, NodeInfo, RouteInfo, SyncHistory, SyncStats, TelemetrySeries,
};
use edgesync_tui::app::{App, FleetSummary, Loadable, Settings};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// The fixtures' "now".
pub const NOW: OffsetDateTime = datetime!(2026-01-15 12:00:00 UTC);

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

pub const HELLO: u128 = 100;
pub const ECHO: u128 = 101;
pub const ROLLOUT: u128 = 200;
pub const DONE: u128 = 201;

fn at(seconds_ago: i64) -> String {
    let t = NOW - time::Duration::seconds(seconds_ago);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture matches the wire type")
}

pub fn node(
    n: u128,
    name: &str,
    pop: &str,
    labels: Value,
    status: &str,
    seen_ago: i64,
) -> NodeInfo {
    from(json!({
        "id": id(n), "name": name, "pop": pop, "region": "eu", "labels": labels,
        "agent_version": "0.1.0", "capabilities": ["wasm", "sqlite"],
        "status": status, "lifecycle": "active",
        "last_seen_at": at(seen_ago), "registered_at": at(86_400), "updated_at": at(3600),
        "reported": {
            "functions": [{"function_id": id(HELLO), "version": 2}],
            "schema_version": 3,
            "routes_revision": "r-5f2a",
            "sync_revision": "9c1e4b7a2d5f8e3c",
            "resources": {"cpu_percent": 12.5, "memory_bytes": 67_108_864u64, "disk_bytes": 1_288_490_188u64}
        },
        "revision": 7
    }))
}

/// Three edge nodes (fresh, stale, offline); what `tier=edge` selects.
pub fn edge_nodes() -> Vec<NodeInfo> {
    vec![
        node(
            1,
            "edge-fra-1",
            "fra",
            json!({"tier": "edge", "region": "eu"}),
            "online",
            3,
        ),
        node(
            2,
            "edge-fra-2",
            "fra",
            json!({"tier": "edge", "region": "eu"}),
            "online",
            20,
        ),
        node(
            3,
            "edge-nyc-1",
            "nyc",
            json!({"tier": "edge", "region": "us"}),
            "offline",
            95,
        ),
    ]
}

pub fn functions() -> Vec<FunctionSummary> {
    vec![
        from(json!({"id": id(ECHO), "name": "echo", "latest_version": 1, "updated_at": at(7200)})),
        from(json!({"id": id(HELLO), "name": "hello", "latest_version": 3, "updated_at": at(600)})),
    ]
}

fn version(n: u32, compat: Value, size: u64, sha: &str, ago: i64) -> Value {
    json!({
        "id": id(HELLO), "name": "hello", "version": n, "status": "ready",
        "sha256": sha, "size": size, "entrypoint": "_start", "memory_pages": 256,
        "max_execution_ms": 1000, "max_concurrency": 16, "description": "",
        "compatibility": compat, "exports": [], "imports": [], "created_at": at(ago)
    })
}

pub fn hello_detail() -> FunctionInfo {
    from(json!({
        "id": id(HELLO), "name": "hello", "latest_version": 3,
        "created_at": at(86_400), "updated_at": at(600),
        "versions": [
            version(1, json!({"status": "first", "reasons": []}), 1834, "5647c39a1d25e0f1aa", 86_400),
            version(2, json!({"status": "compatible", "against_version": 1, "reasons": ["info: export added: version"]}), 2211, "a1b2c3d4e5f60718bb", 7200),
            version(3, json!({"status": "breaking", "against_version": 2, "reasons": ["breaking: entrypoint _start removed", "breaking: import env.log added"]}), 2048, "ffee00112233445566", 600),
        ],
        "rollbacks": [{"from_versions": [3], "to_version": 2, "deployments": [id(DONE)], "by": "api key 1f3a", "at": at(300)}]
    }))
}

pub fn rollout_summary(status: &str) -> DeploymentSummary {
    from(json!({
        "id": id(ROLLOUT), "name": "hello-v3-edge", "function_id": id(HELLO), "version": 3,
        "selector": "tier=edge", "priority": 0, "status": status,
        "created_at": at(240), "updated_at": at(30),
        "counts": {"targeted": 5, "pending": 1, "installing": 0, "active": 3, "failed": 1, "removed": 0, "rolled_back": 0},
        "failure_reasons": {"sha256_mismatch": 3, "timeout": 1, "instantiate_failed": 2},
        "strategy": {"kind": "batches", "batch_size": 2, "auto_rollback": true, "max_failure_ratio": 0.5},
        "rollout": {"batches": 3, "released": 2, "batch_sizes": [1, 2, 2], "excluded": 0}
    }))
}

pub fn done_summary() -> DeploymentSummary {
    from(json!({
        "id": id(DONE), "name": "", "function_id": id(ECHO), "version": 1,
        "selector": "", "priority": 0, "status": "completed",
        "created_at": at(7000), "updated_at": at(6000),
        "counts": {"targeted": 3, "pending": 0, "installing": 0, "active": 3, "failed": 0, "removed": 0, "rolled_back": 0},
        "failure_reasons": {},
        "strategy": {"kind": "all"},
        "rollout": {"batches": 1, "released": 1, "batch_sizes": [3], "excluded": 0}
    }))
}

fn dnode(n: u128, name: &str, state: &str, batch: u32, error: Option<&str>) -> Value {
    let mut v = json!({
        "node_id": id(n), "node_name": name, "state": state, "attempts": 1, "batch": batch,
        "observed_at": at(4), "updated_at": at(60)
    });
    if let Some(code) = error {
        v["error_code"] = json!(code);
        v["error"] = json!("downloaded bytes do not match the digest");
        v["attempts"] = json!(3);
    }
    v
}

pub fn rollout_detail(status: &str) -> DeploymentInfo {
    let mut v = serde_json::to_value(rollout_summary(status)).unwrap();
    v["nodes"] = json!([
        dnode(1, "edge-fra-1", "active", 0, None),
        dnode(2, "edge-fra-2", "active", 1, None),
        dnode(3, "edge-nyc-1", "failed", 1, Some("sha256_mismatch")),
        dnode(4, "edge-nyc-2", "pending", 2, None),
        dnode(5, "edge-sin-1", "active", 2, None),
    ]);
    from(v)
}

pub fn history() -> SyncHistory {
    from(json!({"items": [
        {"id": id(300), "plan_id": id(300), "revision": "9c1e4b7a2d5f8e3c", "status": "succeeded",
         "planned_at": at(40), "acked_at": at(39), "duration_ms": 850,
         "actions": [
            {"id": 0, "kind": "apply_migration", "subject": "migration 3 (users)", "status": "succeeded"},
            {"id": 1, "kind": "install_function", "subject": "hello@2", "status": "succeeded"}
         ]},
        {"id": id(301), "plan_id": id(301), "revision": "77aa01bc", "status": "partial",
         "planned_at": at(900), "acked_at": at(898), "duration_ms": 2300,
         "actions": [
            {"id": 0, "kind": "install_function", "subject": "hello@3", "status": "failed", "error_code": "sha256_mismatch"},
            {"id": 1, "kind": "set_routes", "subject": "2 routes", "status": "succeeded"}
         ]}
    ]}))
}

pub fn commands() -> CommandList {
    from(json!({"items": [
        {"id": id(400), "node_id": id(1), "kind": "health_probe", "payload": {}, "status": "succeeded",
         "created_at": at(12), "deadline": at(-288), "deliveries": 1, "output": {"ok": true, "uptime_s": 3600}},
        {"id": id(401), "node_id": id(1), "kind": "flush_cache", "payload": {}, "status": "queued",
         "created_at": at(2), "deadline": at(-298), "deliveries": 0}
    ]}))
}

pub fn stats() -> SyncStats {
    from(json!({
        "since": at(3600), "total": 240, "succeeded": 228, "partial": 8, "failed": 4, "pending": 2,
        "success_rate": 0.95,
        "failures_by_code": {"sha256_mismatch": 9, "timeout": 3, "unknown": 1},
        "duration_ms": {"p50": 120.0, "p90": 480.0, "p99": 1900.0, "max": 4200.0}
    }))
}

pub fn telemetry() -> TelemetrySeries {
    let mut buckets = Vec::new();
    for i in 0..60i64 {
        let start = at(900 - i * 15);
        let cpu = 20.0 + 15.0 * ((i as f64) / 6.0).sin() + if i > 50 { 40.0 } else { 0.0 };
        buckets.push(json!({"metric": "cpu_percent", "start": start, "count": 3, "avg": cpu, "min": cpu - 2.0, "max": cpu + 2.0}));
        if i % 2 == 0 {
            let rps = 100.0 + i as f64 * 4.0;
            buckets.push(json!({"metric": "requests_per_s", "start": start, "count": 3, "avg": rps, "min": rps, "max": rps}));
        }
    }
    from(json!({"buckets": buckets}))
}

pub fn routes() -> Vec<RouteInfo> {
    vec![
        from(
            json!({"id": id(500), "host": "api.example.com", "path": "/hello/:name", "methods": ["GET"], "function_id": id(HELLO), "created_at": at(5000), "updated_at": at(5000)}),
        ),
        from(
            json!({"id": id(501), "path": "/echo/...", "methods": [], "function_id": id(ECHO), "created_at": at(4000), "updated_at": at(100)}),
        ),
    ]
}

pub fn schemas() -> Vec<MigrationInfo> {
    vec![
        from(
            json!({"version": 1, "name": "init", "up_sql": "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);", "checksum": "0a1b2c3d4e5f60718293", "created_at": at(90_000)}),
        ),
        from(
            json!({"version": 2, "name": "users", "up_sql": "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL\n);", "down_sql": "DROP TABLE users;", "checksum": "ffeeddccbbaa99887766", "created_at": at(3000)}),
        ),
    ]
}

pub fn api_keys() -> Vec<ApiKeyInfo> {
    vec![
        from(
            json!({"id": id(600), "name": "ci-deployer", "scopes": ["deploy"], "secret_prefix": "esk_9fQ2", "require_signature": true, "created_at": at(600), "last_used_at": at(30)}),
        ),
        from(
            json!({"id": id(601), "name": "bootstrap-admin", "scopes": ["admin"], "secret_prefix": "esk_Z_Yv", "require_signature": false, "created_at": at(86_400), "last_used_at": at(1)}),
        ),
        from(
            json!({"id": id(602), "name": "old-reader", "scopes": ["read"], "secret_prefix": "esk_00ab", "require_signature": false, "created_at": at(900_000), "revoked_at": at(86_400)}),
        ),
    ]
}

/// A console with everything loaded, on the nodes view.
pub fn app() -> App {
    let settings = Settings {
        server_label: "http://127.0.0.1:8080".into(),
        ..Settings::default()
    };
    let mut app = App::new(settings, NOW);
    app.last_answer = Some(NOW - time::Duration::seconds(1));
    app.last_refresh = Some(NOW);
    app.last_fleet = Some(NOW);
    app.fleet = Loadable::ready(FleetSummary {
        nodes: 12,
        online: 10,
        offline: 1,
        draining: 1,
        decommissioned: 0,
        rolling_out: 1,
        stopped: 0,
    });
    app.nodes.list = Loadable::ready(edge_nodes());
    app.functions.list = Loadable::ready(functions());
    app.functions.selected = 1;
    app.functions.detail = Loadable::ready(hello_detail());
    app.deployments.list = Loadable::ready(vec![rollout_summary("in_progress"), done_summary()]);
    app.deployments.detail = Loadable::ready(rollout_detail("in_progress"));
    app.sync.stats = Loadable::ready(stats());
    app.sync.node = Some(id(1));
    app.sync.history = Loadable::ready(history());
    app.telemetry.node = Some(id(1));
    app.telemetry.series = Loadable::ready(telemetry());
    app.routes.list = Loadable::ready(routes());
    app.schemas.list = Loadable::ready(schemas());
    app.schemas.selected = 1;
    app.api_keys.list = Loadable::ready(api_keys());
    app
}

/// Draws `app` on a `width`×`height` test terminal.
pub fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| edgesync_tui::view::draw(frame, app))
        .unwrap();
    terminal
}
