//! HTTP tests of the node endpoints over a real sled store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Harness, assert_problem, json_of};
use poem::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_then_read_list_and_heartbeat() {
    let h = Harness::new().await;
    let (id, token) = h
        .register("edge-1", json!({"tier": "edge", "region": "eu"}))
        .await;

    let (status, node) = h.get_json(&format!("/api/v1/nodes/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(node["name"], "edge-1");
    assert_eq!(node["labels"]["tier"], "edge");
    assert_eq!(node["status"], "online");
    assert_eq!(node["lifecycle"], "active");

    let resp = h
        .client
        .post(format!("/api/v1/nodes/{id}/heartbeat"))
        .header("Authorization", Harness::bearer(&token))
        .body_json(
            &json!({"schema_version": 3, "resources": {"cpu_percent": 12.5, "memory_bytes": 1024}}),
        )
        .send()
        .await;
    resp.assert_status_is_ok();
    let hb = json_of(resp).await;
    assert_eq!(hb["status"], "online");

    let (_, node) = h.get_json(&format!("/api/v1/nodes/{id}")).await;
    assert_eq!(node["reported"]["schema_version"], 3);
    assert_eq!(node["reported"]["resources"]["cpu_percent"], 12.5);

    // The heartbeat reaches the store on the next maintenance pass.
    let report = h.edgesync.run_maintenance().await.unwrap();
    assert!(report.states_written >= 1);
    use edgesync_core::store::StoreExt;
    let stored = h
        .edgesync
        .store()
        .get_node_state(id.parse::<edgesync_core::model::NodeId>().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.reported.schema_version, 3);
}

#[tokio::test]
async fn registration_rejects_bad_input_and_stores_nothing() {
    let h = Harness::new().await;
    let post = |body: Vec<u8>| {
        h.client
            .post("/api/v1/nodes/register")
            .header("Authorization", Harness::bearer(&h.admin))
            .content_type("application/json")
            .body(body)
            .send()
    };
    assert_problem(post(b"{not json".to_vec()).await, 400, "invalid_request").await;
    assert_problem(
        post(br#"{"name":"a","pop":"fra","surprise":1}"#.to_vec()).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        post(br#"{"pop":"fra"}"#.to_vec()).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        post(br#"{"name":"-bad-","pop":"fra"}"#.to_vec()).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        post(br#"{"name":"ok","pop":"fra","labels":{"bad key!":"x"}}"#.to_vec()).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        post(format!(r#"{{"name":"{}","pop":"fra"}}"#, "x".repeat(64)).into_bytes()).await,
        400,
        "invalid_request",
    )
    .await;
    let wrong_type = h
        .client
        .post("/api/v1/nodes/register")
        .header("Authorization", Harness::bearer(&h.admin))
        .content_type("text/plain")
        .body("name=a")
        .send()
        .await;
    assert_problem(wrong_type, 415, "unsupported_media_type").await;

    let (_, list) = h.get_json("/api/v1/nodes").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn duplicate_names_conflict_and_store_nothing() {
    let h = Harness::new().await;
    h.register("dup", json!({})).await;
    let resp = h
        .client
        .post("/api/v1/nodes/register")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&json!({"name": "dup", "pop": "ams"}))
        .send()
        .await;
    assert_problem(resp, 409, "node_name_taken").await;
    let (_, list) = h.get_json("/api/v1/nodes").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["pop"], "fra");
}

#[tokio::test]
async fn credentials_are_checked_everywhere() {
    let h = Harness::new().await;
    let (a, token_a) = h.register("node-a", json!({})).await;
    let (b, _) = h.register("node-b", json!({})).await;
    let hb = |node: &str, auth: Option<String>| {
        let mut req = h
            .client
            .post(format!("/api/v1/nodes/{node}/heartbeat"))
            .body_json(&json!({}));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send()
    };
    assert_problem(hb(&a, None).await, 401, "missing_credentials").await;
    assert_problem(
        hb(&a, Some("Bearer garbage".into())).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        hb(&b, Some(Harness::bearer(&token_a))).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        hb(&a, Some(Harness::bearer(&h.admin))).await,
        403,
        "forbidden",
    )
    .await;
    hb(&a, Some(Harness::bearer(&token_a)))
        .await
        .assert_status_is_ok();

    // Operator endpoints: no key, unknown key, a node token.
    let get = |auth: Option<String>| {
        let mut req = h.client.get("/api/v1/nodes");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send()
    };
    assert_problem(get(None).await, 401, "missing_credentials").await;
    let unknown = format!("esk_{}", "A".repeat(43));
    assert_problem(
        get(Some(Harness::bearer(&unknown))).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(get(Some(Harness::bearer(&token_a))).await, 403, "forbidden").await;
    assert_problem(
        get(Some("Basic abc".into())).await,
        401,
        "missing_credentials",
    )
    .await;

    // A token signed by another server does not verify.
    let other = Harness::new().await;
    let (_, foreign) = other.register("node-a", json!({})).await;
    assert_problem(
        hb(&a, Some(Harness::bearer(&foreign))).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let h = Harness::new().await;
    let (status, body) = h
        .get_json(&format!("/api/v1/nodes/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("node_not_found"))
    );
    let resp = h
        .client
        .get("/api/v1/nodes/not-a-uuid")
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    assert_problem(resp, 400, "invalid_request").await;
    let resp = h.client.get("/api/v1/nowhere").send().await;
    assert_problem(resp, 404, "not_found").await;
}

#[tokio::test]
async fn listing_filters_and_pages() {
    let h = Harness::new().await;
    for i in 0..7 {
        let region = if i % 2 == 0 { "eu" } else { "us" };
        h.register(&format!("n{i}"), json!({"region": region, "tier": "edge"}))
            .await;
    }
    let (_, eu) = h.get_json("/api/v1/nodes?selector=region%3Deu").await;
    assert_eq!(eu["items"].as_array().unwrap().len(), 4);
    let (_, set) = h
        .get_json("/api/v1/nodes?selector=region%20in%20(eu,us),tier")
        .await;
    assert_eq!(set["items"].as_array().unwrap().len(), 7);
    let (status, bad) = h.get_json("/api/v1/nodes?selector=region%20in%20(").await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("invalid_selector"))
    );

    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(a) => format!("/api/v1/nodes?limit=3&after={a}"),
            None => "/api/v1/nodes?limit=3".to_owned(),
        };
        let (_, page) = h.get_json(&url).await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("n{i}")).collect::<Vec<_>>());
    let (status, _) = h.get_json("/api/v1/nodes?limit=0").await;
    assert_eq!(status, 400);
    let (_, by_pop) = h.get_json("/api/v1/nodes?pop=ams").await;
    assert_eq!(by_pop["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn nodes_go_offline_without_heartbeats() {
    let h = Harness::new().await;
    let (id, token) = h.register("sleepy", json!({})).await;
    h.clock.advance(Duration::from_secs(31));
    let report = h.edgesync.run_maintenance().await.unwrap();
    assert_eq!(report.status_changes, 1);
    let (_, node) = h.get_json(&format!("/api/v1/nodes/{id}")).await;
    assert_eq!(node["status"], "offline");
    let (_, offline) = h.get_json("/api/v1/nodes?status=offline").await;
    assert_eq!(offline["items"].as_array().unwrap().len(), 1);

    h.client
        .post(format!("/api/v1/nodes/{id}/heartbeat"))
        .header("Authorization", Harness::bearer(&token))
        .body_json(&json!({}))
        .send()
        .await
        .assert_status_is_ok();
    let (_, node) = h.get_json(&format!("/api/v1/nodes/{id}")).await;
    assert_eq!(node["status"], "online");
}

#[tokio::test]
async fn operators_relabel_drain_and_decommission() {
    let h = Harness::new().await;
    let (id, token) = h.register("worker", json!({"tier": "edge"})).await;
    let patch = |body: serde_json::Value, if_match: Option<&str>| {
        let mut req = h
            .client
            .patch(format!("/api/v1/nodes/{id}"))
            .header("Authorization", Harness::bearer(&h.admin))
            .body_json(&body);
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        req.send()
    };
    let resp = patch(json!({"labels": {"tier": "core"}}), Some("1")).await;
    resp.assert_status_is_ok();
    let node = json_of(resp).await;
    assert_eq!(node["labels"]["tier"], "core");
    assert_eq!(node["revision"], 2);
    assert_problem(
        patch(json!({"labels": {}}), Some("1")).await,
        412,
        "precondition_failed",
    )
    .await;
    assert_problem(
        patch(json!({"lifecycle": "sleeping"}), None).await,
        400,
        "invalid_request",
    )
    .await;

    let resp = patch(json!({"lifecycle": "draining"}), None).await;
    assert_eq!(json_of(resp).await["status"], "draining");

    let resp = patch(json!({"lifecycle": "decommissioned"}), None).await;
    assert_eq!(json_of(resp).await["status"], "decommissioned");
    let hb = h
        .client
        .post(format!("/api/v1/nodes/{id}/heartbeat"))
        .header("Authorization", Harness::bearer(&token))
        .body_json(&json!({}))
        .send()
        .await;
    assert_problem(hb, 401, "invalid_credentials").await;
    assert_problem(
        patch(json!({"lifecycle": "active"}), None).await,
        409,
        "node_decommissioned",
    )
    .await;
    assert_problem(
        h.client
            .patch(format!("/api/v1/nodes/{}", uuid::Uuid::new_v4()))
            .header("Authorization", Harness::bearer(&h.admin))
            .body_json(&json!({"labels": {}}))
            .send()
            .await,
        404,
        "node_not_found",
    )
    .await;
}

#[tokio::test]
async fn tokens_refresh_and_expire() {
    let h = Harness::new().await;
    let (id, token) = h.register("refresher", json!({})).await;
    let resp = h
        .client
        .post(format!("/api/v1/nodes/{id}/token"))
        .header("Authorization", Harness::bearer(&token))
        .send()
        .await;
    resp.assert_status(StatusCode::OK);
    let fresh = json_of(resp).await["token"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(2 * 3600));
    let hb = |t: &str| {
        h.client
            .post(format!("/api/v1/nodes/{id}/heartbeat"))
            .header("Authorization", Harness::bearer(t))
            .body_json(&json!({}))
            .send()
    };
    assert_problem(hb(&token).await, 401, "invalid_credentials").await;
    assert_problem(hb(&fresh).await, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn health_and_ready() {
    let h = Harness::new().await;
    h.client.get("/health").send().await.assert_status_is_ok();
    let resp = h.client.get("/ready").send().await;
    resp.assert_status_is_ok();
    let body = json_of(resp).await;
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"].as_array().unwrap().len(), 3);
    let resp = h
        .client
        .get("/health")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    resp.assert_header("x-request-id", "abc-123");
}

#[tokio::test]
async fn oversized_json_bodies_get_413() {
    let h = Harness::with(|a| a.max_body_bytes = 1024).await;
    let big = json!({"name": "big", "pop": "fra", "labels": {"note": "x".repeat(2000)}});
    let resp = h
        .client
        .post("/api/v1/nodes/register")
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&big)
        .send()
        .await;
    assert_problem(resp, 413, "payload_too_large").await;
    let (_, list) = h.get_json("/api/v1/nodes").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}
