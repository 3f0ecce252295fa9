//! HTTP tests of schemas, routes, deployments and the sync loop (plan, ack, long poll, history,
//! statistics) over a real sled store and file artifacts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Harness, assert_problem, json_of};
use edgesync_core::testkit::wasm_fixtures;
use poem::http::StatusCode;
use poem::test::TestResponse;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

async fn post(h: &Harness, path: &str, body: Value) -> TestResponse {
    h.client
        .post(path)
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&body)
        .send()
        .await
}

async fn post_raw(h: &Harness, path: &str, body: &str) -> TestResponse {
    h.client
        .post(path)
        .header("Authorization", Harness::bearer(&h.admin))
        .content_type("application/json")
        .body(body.to_owned())
        .send()
        .await
}

async fn delete(h: &Harness, path: &str) -> TestResponse {
    h.client
        .delete(path)
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await
}

/// Uploads `hello` as a new function; returns (id, sha256).
async fn upload_hello(h: &Harness, name: &str) -> (String, String) {
    let resp = h
        .upload(
            json!({"name": name, "memory_pages": 4}),
            &wasm_fixtures::hello(),
        )
        .await;
    resp.assert_status(StatusCode::CREATED);
    let v = json_of(resp).await;
    (
        v["id"].as_str().unwrap().to_owned(),
        v["sha256"].as_str().unwrap().to_owned(),
    )
}

async fn create_deployment(h: &Harness, function_id: &str, selector: &str) -> Value {
    let resp = post(
        h,
        "/api/v1/deployments",
        json!({"function_id": function_id, "version": 1, "selector": selector, "name": "hello-eu"}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    json_of(resp).await
}

/// `GET /api/v1/nodes/{node}/sync` with the node's token.
async fn poll(
    h: &Harness,
    node: &str,
    token: &str,
    query: &str,
    etag: Option<&str>,
) -> TestResponse {
    let mut req = h
        .client
        .get(format!("/api/v1/nodes/{node}/sync{query}"))
        .header("Authorization", Harness::bearer(token));
    if let Some(e) = etag {
        req = req.header("If-None-Match", e);
    }
    req.send().await
}

/// A 200 poll: (ETag, plan).
async fn plan_of(resp: TestResponse) -> (String, Value) {
    resp.assert_status_is_ok();
    let etag = resp
        .0
        .headers()
        .get("ETag")
        .expect("ETag header")
        .to_str()
        .unwrap()
        .to_owned();
    let plan = json_of(resp).await;
    assert_eq!(
        etag,
        format!("\"{}\"", plan["revision"].as_str().unwrap()),
        "the ETag is the quoted revision"
    );
    (etag, plan)
}

async fn ack(h: &Harness, node: &str, auth: &str, body: Value) -> TestResponse {
    h.client
        .post(format!("/api/v1/nodes/{node}/sync/ack"))
        .header("Authorization", Harness::bearer(auth))
        .body_json(&body)
        .send()
        .await
}

fn all_succeeded(plan: &Value) -> Value {
    let results: Vec<Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!({"action_id": a["id"], "status": "succeeded"}))
        .collect();
    json!({"plan_id": plan["plan_id"], "results": results})
}

async fn history(h: &Harness, node: &str) -> Value {
    let (status, body) = h
        .get_json(&format!("/api/v1/nodes/{node}/sync/history"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The server's JSON and the wire types' serde agree: a client parses it and writes it back
/// unchanged.
fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) {
    let typed: T = serde_json::from_value(v.clone()).expect("parses as the wire type");
    assert_eq!(&serde_json::to_value(&typed).unwrap(), v);
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Schemas

#[tokio::test]
async fn schemas_register_once_and_stay_immutable() {
    let h = Harness::new().await;
    let v1 = json!({"version": 1, "name": "users", "up_sql": "CREATE TABLE users (id INTEGER)"});
    let resp = post(&h, "/api/v1/schemas", v1.clone()).await;
    resp.assert_status(StatusCode::CREATED);
    let created = json_of(resp).await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["name"], "users");
    assert_eq!(created["up_sql"], "CREATE TABLE users (id INTEGER)");
    assert_eq!(created["checksum"].as_str().unwrap().len(), 64);
    assert!(created["created_at"].is_string());
    assert!(created.get("down_sql").is_none());

    // The same migration again: 200 with the same record.
    let resp = post(&h, "/api/v1/schemas", v1.clone()).await;
    resp.assert_status(StatusCode::OK);
    assert_eq!(json_of(resp).await, created);

    // Same version, other content.
    assert_problem(
        post(
            &h,
            "/api/v1/schemas",
            json!({"version": 1, "name": "users", "up_sql": "CREATE TABLE users (id TEXT)"}),
        )
        .await,
        409,
        "schema_checksum_mismatch",
    )
    .await;
    assert_problem(
        post(
            &h,
            "/api/v1/schemas",
            json!({"version": 1, "name": "users", "up_sql": "CREATE TABLE users (id INTEGER)", "down_sql": "DROP TABLE users"}),
        )
        .await,
        409,
        "schema_checksum_mismatch",
    )
    .await;

    let resp = post(
        &h,
        "/api/v1/schemas",
        json!({"version": 3, "name": "orders", "up_sql": "CREATE TABLE orders (id INTEGER)", "down_sql": "DROP TABLE orders"}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    assert_eq!(json_of(resp).await["down_sql"], "DROP TABLE orders");
    assert_problem(
        post(
            &h,
            "/api/v1/schemas",
            json!({"version": 2, "name": "late", "up_sql": "SELECT 1"}),
        )
        .await,
        409,
        "schema_version_not_increasing",
    )
    .await;

    // Malformed or invalid bodies.
    for bad in [
        "{not json",
        r#"{"version": 4, "name": "x", "up_sql": "SELECT 1", "surprise": true}"#,
        r#"{"version": 4, "name": "x"}"#,
        r#"{"version": 0, "name": "x", "up_sql": "SELECT 1"}"#,
        r#"{"version": -4, "name": "x", "up_sql": "SELECT 1"}"#,
        r#"{"version": 4, "name": "x", "up_sql": "   "}"#,
        r#"{"version": 4, "name": "-bad-", "up_sql": "SELECT 1"}"#,
    ] {
        let resp = post_raw(&h, "/api/v1/schemas", bad).await;
        let body = assert_problem(resp, 400, "invalid_request").await;
        assert!(!body["detail"].as_str().unwrap().is_empty(), "{bad}");
    }

    let (status, list) = h.get_json("/api/v1/schemas").await;
    assert_eq!(status, 200);
    let versions: Vec<u64> = items(&list)
        .iter()
        .map(|m| m["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 3], "ascending, and nothing else was stored");
    assert_eq!(items(&list)[0], created);
    round_trips::<edgesync_wire::MigrationList>(&list);
}

// ---------------------------------------------------------------------------------------------
// Routes

#[tokio::test]
async fn routes_are_created_checked_replaced_and_deleted() {
    let h = Harness::new().await;
    let (f, _) = upload_hello(&h, "hello").await;
    let (g, _) = upload_hello(&h, "other").await;

    let resp = post(
        &h,
        "/api/v1/routes",
        json!({"host": "API.example.com", "path": "/users/:id", "methods": ["GET"], "function_id": f}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let route = json_of(resp).await;
    assert_eq!(route["host"], "api.example.com", "stored normalized");
    assert_eq!(route["path"], "/users/:id");
    assert_eq!(route["methods"], json!(["GET"]));
    assert_eq!(route["function_id"], f.as_str());
    let id = route["id"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(1));

    // Same host and path shape with a shared method.
    assert_problem(
        post(
            &h,
            "/api/v1/routes",
            json!({"host": "api.example.com", "path": "/users/:name", "methods": ["GET", "POST"], "function_id": g}),
        )
        .await,
        409,
        "route_conflict",
    )
    .await;
    // Another method on the same shape is fine; methods default to all.
    let resp = post(
        &h,
        "/api/v1/routes",
        json!({"host": "api.example.com", "path": "/users/:name", "methods": ["POST"], "function_id": g}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let resp = post(
        &h,
        "/api/v1/routes",
        json!({"path": "/static/...", "function_id": g}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let any = json_of(resp).await;
    assert!(any.get("host").is_none());
    assert_eq!(any["methods"], json!([]));

    assert_problem(
        post(
            &h,
            "/api/v1/routes",
            json!({"path": "/nobody", "function_id": uuid::Uuid::new_v4()}),
        )
        .await,
        404,
        "function_not_found",
    )
    .await;
    for bad in [
        json!({"path": "no-slash", "function_id": f}),
        json!({"path": "/a//b", "function_id": f}),
        json!({"path": "/a", "methods": ["FETCH"], "function_id": f}),
        json!({"host": "bad host", "path": "/a", "function_id": f}),
        json!({"path": "/a", "function_id": f, "extra": 1}),
        json!({"path": "/a", "function_id": "not-a-uuid"}),
    ] {
        assert_problem(
            post(&h, "/api/v1/routes", bad).await,
            400,
            "invalid_request",
        )
        .await;
    }
    let (_, list) = h.get_json("/api/v1/routes").await;
    assert_eq!(items(&list).len(), 3, "failed requests stored nothing");
    assert_eq!(items(&list)[0]["id"], id.as_str(), "oldest first");

    // Replace.
    let put = |id: String, body: Value| {
        h.client
            .put(format!("/api/v1/routes/{id}"))
            .header("Authorization", Harness::bearer(&h.admin))
            .body_json(&body)
            .send()
    };
    let resp = put(
        id.clone(),
        json!({"host": "api.example.com", "path": "/people/:id", "methods": ["GET", "HEAD"], "function_id": g}),
    )
    .await;
    resp.assert_status_is_ok();
    let updated = json_of(resp).await;
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["path"], "/people/:id");
    assert_eq!(updated["function_id"], g.as_str());
    assert_eq!(updated["created_at"], route["created_at"]);
    let (status, got) = h.get_json(&format!("/api/v1/routes/{id}")).await;
    assert_eq!((status, &got), (200, &updated));
    // Replacing into a conflict changes nothing.
    assert_problem(
        put(
            id.clone(),
            json!({"host": "api.example.com", "path": "/users/:x", "methods": ["POST"], "function_id": g}),
        )
        .await,
        409,
        "route_conflict",
    )
    .await;
    assert_eq!(h.get_json(&format!("/api/v1/routes/{id}")).await.1, updated);
    assert_problem(
        put(
            uuid::Uuid::new_v4().to_string(),
            json!({"path": "/x", "function_id": g}),
        )
        .await,
        404,
        "route_not_found",
    )
    .await;

    // Delete.
    let resp = delete(&h, &format!("/api/v1/routes/{id}")).await;
    resp.assert_status(StatusCode::NO_CONTENT);
    assert_problem(
        delete(&h, &format!("/api/v1/routes/{id}")).await,
        404,
        "route_not_found",
    )
    .await;
    let (_, list) = h.get_json("/api/v1/routes").await;
    assert_eq!(items(&list).len(), 2);
    round_trips::<edgesync_wire::RouteList>(&list);
}

// ---------------------------------------------------------------------------------------------
// Deployments

#[tokio::test]
async fn deployments_are_created_listed_read_and_stopped() {
    let h = Harness::new().await;
    let (eu, _) = h.register("edge-eu", json!({"region": "eu"})).await;
    h.register("edge-us", json!({"region": "us"})).await;
    let (f, _) = upload_hello(&h, "hello").await;

    let d = create_deployment(&h, &f, "region in (eu)").await;
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["name"], "hello-eu");
    assert_eq!(d["function_id"], f.as_str());
    assert_eq!(d["version"], 1);
    assert_eq!(d["selector"], "region in (eu)");
    assert_eq!(d["priority"], 0);
    assert_eq!(d["status"], "in_progress");
    assert!(d.get("pop").is_none());
    assert_eq!(
        d["counts"],
        json!({"targeted": 1, "pending": 1, "installing": 0, "active": 0, "failed": 0, "removed": 0, "rolled_back": 0})
    );
    let nodes = d["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["node_id"], eu.as_str());
    assert_eq!(nodes[0]["node_name"], "edge-eu");
    assert_eq!(nodes[0]["state"], "pending");
    assert_eq!(nodes[0]["attempts"], 0);
    assert!(nodes[0].get("updated_at").is_none());

    // Rejected requests store nothing.
    let unknown = uuid::Uuid::new_v4().to_string();
    for (body, status, code) in [
        (
            json!({"function_id": f, "version": 1, "selector": "region in ("}),
            400,
            "invalid_selector",
        ),
        (
            json!({"function_id": unknown, "version": 1}),
            404,
            "function_not_found",
        ),
        (
            json!({"function_id": f, "version": 9}),
            404,
            "function_not_found",
        ),
        (
            json!({"function_id": f, "version": 1, "colour": "red"}),
            400,
            "invalid_request",
        ),
        (
            json!({"function_id": f, "version": 1, "priority": 2_000_000}),
            400,
            "invalid_request",
        ),
        (
            json!({"function_id": f, "version": 1, "pop": "-bad-"}),
            400,
            "invalid_request",
        ),
    ] {
        assert_problem(post(&h, "/api/v1/deployments", body).await, status, code).await;
    }

    // An everywhere deployment (default selector) of the same version, lower priority.
    let resp = post(
        &h,
        "/api/v1/deployments",
        json!({"function_id": f, "version": 1, "priority": -1}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let everywhere = json_of(resp).await;
    assert_eq!(everywhere["selector"], "");
    assert_eq!(
        everywhere["counts"]["targeted"], 1,
        "edge-eu goes to the other one"
    );

    let (status, list) = h.get_json("/api/v1/deployments").await;
    assert_eq!(status, 200);
    assert_eq!(items(&list).len(), 2);
    assert_eq!(items(&list)[0]["id"], everywhere["id"], "newest first");
    assert_eq!(items(&list)[1]["id"], id.as_str());
    assert_eq!(items(&list)[1]["counts"]["pending"], 1);
    assert!(
        items(&list)[1].get("nodes").is_none(),
        "the list has counts, not nodes"
    );

    let (status, got) = h.get_json(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["nodes"], d["nodes"]);

    // A live deployment pins its version.
    assert_problem(
        delete(&h, &format!("/api/v1/functions/{f}/versions/1")).await,
        409,
        "function_in_use",
    )
    .await;

    let resp = delete(&h, &format!("/api/v1/deployments/{id}")).await;
    resp.assert_status_is_ok();
    let stopped = json_of(resp).await;
    assert_eq!(stopped["status"], "aborted");
    assert!(stopped["status_reason"].is_string());
    assert_eq!(stopped["counts"]["targeted"], 0);
    let (_, got) = h.get_json(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(got["status"], "aborted");
    // Stopping again changes nothing.
    let resp = delete(&h, &format!("/api/v1/deployments/{id}")).await;
    resp.assert_status_is_ok();
    assert_eq!(json_of(resp).await["status"], "aborted");

    let resp = delete(
        &h,
        &format!("/api/v1/deployments/{}", everywhere["id"].as_str().unwrap()),
    )
    .await;
    resp.assert_status_is_ok();
    delete(&h, &format!("/api/v1/functions/{f}/versions/1"))
        .await
        .assert_status(StatusCode::NO_CONTENT);

    let (status, body) = h
        .get_json(&format!("/api/v1/deployments/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("deployment_not_found"))
    );
    assert_problem(
        delete(&h, &format!("/api/v1/deployments/{}", uuid::Uuid::new_v4())).await,
        404,
        "deployment_not_found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The sync loop

struct Fleet {
    h: Harness,
    eu: String,
    eu_token: String,
    us: String,
    us_token: String,
    function_id: String,
    sha256: String,
    deployment_id: String,
    route_id: String,
}

/// Two nodes, a function deployed to the `eu` one, a migration and a route.
async fn fleet() -> Fleet {
    let h = Harness::new().await;
    let (eu, eu_token) = h
        .register("edge-eu", json!({"tier": "edge", "region": "eu"}))
        .await;
    let (us, us_token) = h
        .register("edge-us", json!({"tier": "edge", "region": "us"}))
        .await;
    let (function_id, sha256) = upload_hello(&h, "hello").await;
    post(
        &h,
        "/api/v1/schemas",
        json!({"version": 1, "name": "init", "up_sql": "CREATE TABLE kv (k TEXT, v TEXT)"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let d = create_deployment(&h, &function_id, "tier=edge,region=eu").await;
    let resp = post(
        &h,
        "/api/v1/routes",
        json!({"path": "/hello", "methods": ["GET"], "function_id": function_id}),
    )
    .await;
    resp.assert_status(StatusCode::CREATED);
    let route = json_of(resp).await;
    Fleet {
        eu,
        eu_token,
        us,
        us_token,
        function_id,
        sha256,
        deployment_id: d["id"].as_str().unwrap().to_owned(),
        route_id: route["id"].as_str().unwrap().to_owned(),
        h,
    }
}

#[tokio::test]
async fn nodes_sync_over_http() {
    let Fleet {
        h,
        eu,
        eu_token,
        us,
        us_token,
        function_id,
        sha256,
        deployment_id,
        route_id,
    } = fleet().await;

    // The selected node gets migration, install and routes, in that order.
    let (etag, plan) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    let revision = plan["revision"].as_str().unwrap().to_owned();
    assert!(revision.starts_with("t-"), "{revision}");
    assert_ne!(plan["plan_id"], NIL);
    let actions = plan["actions"].as_array().unwrap();
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["apply_migration", "install_function", "set_routes"]);
    let ids: Vec<u64> = actions.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(actions[0]["version"], 1);
    assert_eq!(actions[0]["name"], "init");
    assert_eq!(actions[0]["up_sql"], "CREATE TABLE kv (k TEXT, v TEXT)");
    assert_eq!(actions[0]["checksum"].as_str().unwrap().len(), 64);
    let install = &actions[1];
    assert_eq!(install["function_id"], function_id.as_str());
    assert_eq!(install["name"], "hello");
    assert_eq!(install["version"], 1);
    assert_eq!(install["deployment_id"], deployment_id.as_str());
    assert_eq!(install["sha256"], sha256.as_str());
    assert_eq!(install["size"], wasm_fixtures::hello().len());
    assert_eq!(install["entrypoint"], "_start");
    assert_eq!(install["memory_pages"], 4);
    assert!(install["max_execution_ms"].is_u64());
    assert!(install["max_concurrency"].is_u64());
    let routes = &actions[2];
    assert!(routes["revision"].as_str().unwrap().starts_with("r-"));
    assert_eq!(
        routes["routes"],
        json!([{"route_id": route_id, "path": "/hello", "methods": ["GET"], "function_id": function_id, "version": 1}])
    );

    round_trips::<edgesync_wire::SyncPlan>(&plan);

    // The artifact URL downloads the exact bytes.
    let url = install["artifact_url"].as_str().unwrap();
    let path = url
        .strip_prefix("http://127.0.0.1:8080")
        .expect("server-signed URL on the public base");
    let resp = h.client.get(path).send().await;
    resp.assert_status_is_ok();
    let bytes = resp.0.into_body().into_bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha256);

    // Asking again before acknowledging gives the same plan.
    let (etag2, again) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    assert_eq!(etag2, etag);
    assert_eq!(again["plan_id"], plan["plan_id"]);
    assert_eq!(again["actions"].as_array().unwrap().len(), 3);

    // The node is installing.
    let (_, d) = h
        .get_json(&format!("/api/v1/deployments/{deployment_id}"))
        .await;
    assert_eq!(d["nodes"][0]["state"], "installing");
    assert_eq!(d["counts"]["installing"], 1);

    // The other node only needs the schema; once it has it, its plan is empty.
    let (_, other) = plan_of(poll(&h, &us, &us_token, "", None).await).await;
    let kinds: Vec<&str> = other["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["apply_migration"], "no install, no routes: {other}");
    h.client
        .post(format!("/api/v1/nodes/{us}/heartbeat"))
        .header("Authorization", Harness::bearer(&us_token))
        .body_json(&json!({"schema_version": 1}))
        .send()
        .await
        .assert_status_is_ok();
    let (_, empty) = plan_of(poll(&h, &us, &us_token, "", None).await).await;
    assert_eq!(empty["plan_id"], NIL);
    assert_eq!(empty["actions"], json!([]));
    assert_eq!(empty["revision"], other["revision"]);

    // Acknowledge: every action succeeded.
    h.clock.advance(Duration::from_millis(1500));
    let resp = ack(&h, &eu, &eu_token, all_succeeded(&plan)).await;
    resp.assert_status_is_ok();
    let outcome = json_of(resp).await;
    assert_eq!(outcome["sync_id"], plan["plan_id"]);
    assert_eq!(outcome["status"], "succeeded");
    assert_eq!(outcome["revision"], revision.as_str());
    assert_eq!(outcome["applied"], true);

    // Repeating it changes nothing; other results conflict.
    let resp = ack(&h, &eu, &eu_token, all_succeeded(&plan)).await;
    resp.assert_status_is_ok();
    let repeat = json_of(resp).await;
    assert_eq!(repeat["applied"], false);
    assert_eq!(repeat["status"], "succeeded");
    let mut changed = all_succeeded(&plan);
    changed["results"][1] =
        json!({"action_id": 1, "status": "failed", "error": "disk full", "error_code": "io"});
    assert_problem(
        ack(&h, &eu, &eu_token, changed).await,
        409,
        "plan_already_acked",
    )
    .await;

    // Current now: 304 with the ETag and no body, quoted or bare; the plan is empty without it.
    for tag in [etag.as_str(), revision.as_str()] {
        let resp = poll(&h, &eu, &eu_token, "", Some(tag)).await;
        resp.assert_status(StatusCode::NOT_MODIFIED);
        resp.assert_header("ETag", etag.as_str());
        assert_eq!(json_of(resp).await, Value::Null, "no body");
    }
    let (_, now) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    assert_eq!(now["plan_id"], NIL);
    // A stale revision gets the (empty) plan.
    let (_, stale) = plan_of(poll(&h, &eu, &eu_token, "", Some("\"t-stale\"")).await).await;
    assert_eq!(stale["revision"], revision.as_str());

    // The deployment sees the node active (and so completed).
    let (_, d) = h
        .get_json(&format!("/api/v1/deployments/{deployment_id}"))
        .await;
    assert_eq!(d["status"], "completed");
    assert_eq!(d["nodes"][0]["state"], "active");
    assert_eq!(d["nodes"][0]["attempts"], 1);
    assert!(d["nodes"][0]["updated_at"].is_string());
    assert_eq!(d["counts"]["active"], 1);
    round_trips::<edgesync_wire::DeploymentInfo>(&d);

    // The node reports what it runs.
    let (_, node) = h.get_json(&format!("/api/v1/nodes/{eu}")).await;
    assert_eq!(node["reported"]["schema_version"], 1);
    assert_eq!(node["reported"]["sync_revision"], revision.as_str());
    assert_eq!(
        node["reported"]["functions"],
        json!([{"function_id": function_id, "version": 1}])
    );

    // History and statistics.
    let hist = history(&h, &eu).await;
    assert_eq!(items(&hist).len(), 1);
    let sync = &items(&hist)[0];
    assert_eq!(sync["id"], plan["plan_id"]);
    assert_eq!(sync["plan_id"], plan["plan_id"]);
    assert_eq!(sync["revision"], revision.as_str());
    assert_eq!(sync["status"], "succeeded");
    assert!(sync["planned_at"].is_string() && sync["acked_at"].is_string());
    assert_eq!(sync["duration_ms"], 1500);
    let recorded = sync["actions"].as_array().unwrap();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[1]["kind"], "install_function");
    assert_eq!(recorded[1]["subject"], "hello@1");
    assert!(recorded.iter().all(|a| a["status"] == "succeeded"));
    assert!(hist.get("next").is_none());
    round_trips::<edgesync_wire::SyncHistory>(&hist);

    let (status, stats) = h.get_json("/api/v1/sync/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["succeeded"], 1);
    assert_eq!(stats["partial"], 0);
    assert_eq!(stats["failed"], 0);
    assert_eq!(stats["success_rate"], 1.0);
    assert_eq!(stats["failures_by_code"], json!({}));
    assert_eq!(stats["duration_ms"]["p50"], 1500.0);
    assert_eq!(stats["duration_ms"]["max"], 1500.0);
    assert!(stats["since"].is_string());
    round_trips::<edgesync_wire::SyncStats>(&stats);
    round_trips::<edgesync_wire::SyncAckResponse>(&outcome);
    let (_, us_stats) = h
        .get_json(&format!("/api/v1/sync/stats?node_id={us}&window_s=60"))
        .await;
    assert_eq!(us_stats["total"], 0);
    assert_eq!(us_stats["success_rate"], 1.0);
    let (status, body) = h.get_json("/api/v1/sync/stats?window_s=0").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn failed_actions_are_recorded_and_counted() {
    let Fleet {
        h,
        eu,
        eu_token,
        deployment_id,
        ..
    } = fleet().await;
    let (_, plan) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    let mut body = all_succeeded(&plan);
    body["results"][1] = json!({"action_id": 1, "status": "failed", "error": "sha256 mismatch", "error_code": "sha256_mismatch"});
    let resp = ack(&h, &eu, &eu_token, body).await;
    resp.assert_status_is_ok();
    let outcome = json_of(resp).await;
    assert_eq!(outcome["status"], "partial");
    assert_eq!(outcome["applied"], true);

    let (_, d) = h
        .get_json(&format!("/api/v1/deployments/{deployment_id}"))
        .await;
    assert_eq!(d["status"], "in_progress");
    assert_eq!(d["nodes"][0]["state"], "failed");
    assert_eq!(d["nodes"][0]["error"], "sha256 mismatch");
    assert_eq!(d["counts"]["failed"], 1);
    let (_, list) = h.get_json("/api/v1/deployments").await;
    round_trips::<edgesync_wire::DeploymentList>(&list);

    let hist = history(&h, &eu).await;
    let recorded = &items(&hist)[0]["actions"][1];
    assert_eq!(recorded["status"], "failed");
    assert_eq!(recorded["error"], "sha256 mismatch");
    assert_eq!(recorded["error_code"], "sha256_mismatch");
    round_trips::<edgesync_wire::SyncHistory>(&hist);

    let (_, stats) = h.get_json("/api/v1/sync/stats").await;
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["partial"], 1);
    assert_eq!(stats["success_rate"], 0.0);
    assert_eq!(stats["failures_by_code"], json!({"sha256_mismatch": 1}));

    // The next plan retries the install.
    let (_, retry) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    assert_ne!(retry["plan_id"], plan["plan_id"]);
    assert_eq!(retry["actions"][0]["kind"], "install_function");
}

#[tokio::test]
async fn bad_acks_change_nothing() {
    let Fleet {
        h,
        eu,
        eu_token,
        us_token,
        ..
    } = fleet().await;
    let (_, plan) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
    let before = history(&h, &eu).await;
    assert_eq!(items(&before).len(), 1);
    assert_eq!(items(&before)[0]["status"], "pending");
    assert!(items(&before)[0]["actions"][0].get("status").is_none());

    let good = all_succeeded(&plan);
    let mut unknown_plan = good.clone();
    unknown_plan["plan_id"] = json!(uuid::Uuid::new_v4());
    let mut out_of_range = good.clone();
    out_of_range["results"][2]["action_id"] = json!(7);
    let mut twice = good.clone();
    twice["results"][2]["action_id"] = json!(1);
    let mut missing_one = good.clone();
    missing_one["results"].as_array_mut().unwrap().pop();
    let mut bad_status = good.clone();
    bad_status["results"][0]["status"] = json!("maybe");
    let mut extra = good.clone();
    extra["surprise"] = json!(true);
    let mut bad_state = good.clone();
    bad_state["state"] = json!({"functions": "nope"});
    let cases = [
        (unknown_plan, eu_token.as_str(), 404, "plan_not_found"),
        (out_of_range, &eu_token, 400, "invalid_request"),
        (twice, &eu_token, 400, "invalid_request"),
        (missing_one, &eu_token, 400, "invalid_request"),
        (
            json!({"plan_id": plan["plan_id"]}),
            &eu_token,
            400,
            "invalid_request",
        ),
        (bad_status, &eu_token, 400, "invalid_request"),
        (extra, &eu_token, 400, "invalid_request"),
        (bad_state, &eu_token, 400, "invalid_request"),
        (good.clone(), &us_token, 403, "forbidden"),
        (good.clone(), &h.admin, 403, "forbidden"),
    ];
    for (body, auth, status, code) in cases {
        let resp = ack(&h, &eu, auth, body.clone()).await;
        assert_problem(resp, status, code).await;
        assert_eq!(history(&h, &eu).await, before, "after {body}");
    }
    let resp = h
        .client
        .post(format!("/api/v1/nodes/{eu}/sync/ack"))
        .body_json(&good)
        .send()
        .await;
    assert_problem(resp, 401, "missing_credentials").await;
    assert_eq!(history(&h, &eu).await, before);
    let (_, stats) = h.get_json("/api/v1/sync/stats").await;
    assert_eq!(
        (stats["total"].as_u64(), stats["pending"].as_u64()),
        (Some(0), Some(1))
    );

    // The plan is still open: the good ack applies.
    let resp = ack(&h, &eu, &eu_token, good).await;
    resp.assert_status_is_ok();
    assert_eq!(json_of(resp).await["applied"], true);
}

#[tokio::test]
async fn sync_endpoints_check_credentials() {
    let Fleet {
        h,
        eu,
        eu_token,
        us_token,
        function_id,
        ..
    } = fleet().await;
    // Node endpoints: only the node's own token.
    assert_problem(poll(&h, &eu, &us_token, "", None).await, 403, "forbidden").await;
    assert_problem(poll(&h, &eu, &h.admin, "", None).await, 403, "forbidden").await;
    let resp = h
        .client
        .get(format!("/api/v1/nodes/{eu}/sync"))
        .send()
        .await;
    assert_problem(resp, 401, "missing_credentials").await;
    assert_eq!(
        items(&history(&h, &eu).await).len(),
        0,
        "no plan was issued"
    );

    // Operator endpoints: not with a node token.
    let as_node = |method: poem::http::Method, path: String, body: Option<Value>| {
        let mut req = h
            .client
            .request(method, path)
            .header("Authorization", Harness::bearer(&eu_token));
        if let Some(b) = body {
            req = req.body_json(&b);
        }
        req.send()
    };
    use poem::http::Method;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/schemas".to_owned(),
            Some(json!({"version": 2, "name": "x", "up_sql": "SELECT 1"})),
        ),
        (Method::GET, "/api/v1/schemas".to_owned(), None),
        (
            Method::POST,
            "/api/v1/routes".to_owned(),
            Some(json!({"path": "/x", "function_id": function_id})),
        ),
        (Method::GET, "/api/v1/routes".to_owned(), None),
        (
            Method::POST,
            "/api/v1/deployments".to_owned(),
            Some(json!({"function_id": function_id, "version": 1})),
        ),
        (Method::GET, "/api/v1/deployments".to_owned(), None),
        (
            Method::GET,
            format!("/api/v1/nodes/{eu}/sync/history"),
            None,
        ),
        (Method::GET, "/api/v1/sync/stats".to_owned(), None),
    ] {
        assert_problem(as_node(method, path, body).await, 403, "forbidden").await;
    }
    let (_, schemas) = h.get_json("/api/v1/schemas").await;
    assert_eq!(items(&schemas).len(), 1);
    let (_, routes) = h.get_json("/api/v1/routes").await;
    assert_eq!(items(&routes).len(), 1);
    let (_, deployments) = h.get_json("/api/v1/deployments").await;
    assert_eq!(items(&deployments).len(), 1);

    // Unknown nodes and bad parameters.
    let (status, body) = h
        .get_json(&format!(
            "/api/v1/nodes/{}/sync/history",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("node_not_found"))
    );
    let (status, _) = h
        .get_json(&format!("/api/v1/nodes/{eu}/sync/history?limit=0"))
        .await;
    assert_eq!(status, 400);
    assert_problem(
        poll(&h, &eu, &eu_token, "?wait=61", None).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        poll(&h, &eu, &eu_token, "?wait=soon", None).await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn history_pages_newest_first() {
    let Fleet {
        h, eu, eu_token, ..
    } = fleet().await;
    // Three plans: each ack fails the install, so the next poll issues a new plan.
    let mut plan_ids = Vec::new();
    for _ in 0..3 {
        let (_, plan) = plan_of(poll(&h, &eu, &eu_token, "", None).await).await;
        let results: Vec<Value> = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let status = if a["kind"] == "install_function" {
                    "failed"
                } else {
                    "succeeded"
                };
                json!({"action_id": a["id"], "status": status})
            })
            .collect();
        ack(
            &h,
            &eu,
            &eu_token,
            json!({"plan_id": plan["plan_id"], "results": results}),
        )
        .await
        .assert_status_is_ok();
        plan_ids.push(plan["plan_id"].clone());
    }
    plan_ids.reverse();
    let (_, page1) = h
        .get_json(&format!("/api/v1/nodes/{eu}/sync/history?limit=2"))
        .await;
    let next = page1["next"].as_str().expect("a next page").to_owned();
    let (_, page2) = h
        .get_json(&format!(
            "/api/v1/nodes/{eu}/sync/history?limit=2&after={next}"
        ))
        .await;
    assert!(page2.get("next").is_none());
    let got: Vec<Value> = items(&page1)
        .iter()
        .chain(items(&page2))
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(got, plan_ids);
    let (_, stats) = h.get_json("/api/v1/sync/stats").await;
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["failures_by_code"], json!({"unknown": 3}));
}

// ---------------------------------------------------------------------------------------------
// Long polls

#[tokio::test]
async fn long_polls_wake_on_change_and_time_out_with_304() {
    let h = Harness::new().await;
    let (node, token) = h.register("poller", json!({"region": "eu"})).await;
    let (f, _) = upload_hello(&h, "hello").await;

    // Nothing to do yet: an empty plan whose ETag is the current revision.
    let (etag, plan) = plan_of(poll(&h, &node, &token, "", None).await).await;
    assert_eq!(plan["plan_id"], NIL);

    // A deployment created while the node waits wakes it up with the new plan.
    let started = Instant::now();
    let (resp, _) = tokio::join!(poll(&h, &node, &token, "?wait=5", Some(&etag)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        create_deployment(&h, &f, "region=eu").await
    });
    let elapsed = started.elapsed();
    let (new_etag, plan) = plan_of(resp).await;
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(3),
        "woke after {elapsed:?}"
    );
    assert_ne!(new_etag, etag);
    assert_eq!(plan["actions"][0]["kind"], "install_function");

    // Nothing changes: 304 once the wait is over.
    let started = Instant::now();
    let resp = poll(&h, &node, &token, "?wait=1", Some(&new_etag)).await;
    let elapsed = started.elapsed();
    resp.assert_status(StatusCode::NOT_MODIFIED);
    resp.assert_header("ETag", new_etag.as_str());
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );

    // Without `wait`, a current node gets 304 at once; `wait` without If-None-Match does not
    // wait.
    let started = Instant::now();
    poll(&h, &node, &token, "", Some(&new_etag))
        .await
        .assert_status(StatusCode::NOT_MODIFIED);
    poll(&h, &node, &token, "?wait=60", None)
        .await
        .assert_status_is_ok();
    assert!(started.elapsed() < Duration::from_millis(900));
}
