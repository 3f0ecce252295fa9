//! Rollouts over HTTP: the strategy on the wire, previews (`dry_run=true`) that change nothing,
//! batch-by-batch progress with counts, pause / resume / abort, and the breaker's failure-reason
//! histogram.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Harness, assert_problem, json_of};
use edgesync_core::testkit::wasm_fixtures;
use serde_json::{Value, json};

async fn post(h: &Harness, path: &str, body: Value) -> poem::test::TestResponse {
    h.client
        .post(path)
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&body)
        .send()
        .await
}

/// Polls a node's plan and acks every action with `status`.
async fn sync(h: &Harness, node: &str, token: &str, status: &str) {
    let plan = json_of(
        h.client
            .get(format!("/api/v1/nodes/{node}/sync"))
            .header("Authorization", Harness::bearer(token))
            .send()
            .await,
    )
    .await;
    let actions = plan["actions"].as_array().unwrap();
    if actions.is_empty() {
        return;
    }
    let results: Vec<Value> = actions
        .iter()
        .map(|a| {
            let st = if a["kind"] == "install_function" { status } else { "succeeded" };
            json!({"action_id": a["id"], "status": st, "error_code": "sha256_mismatch", "error": "digest differs"})
        })
        .collect();
    h.client
        .post(format!("/api/v1/nodes/{node}/sync/ack"))
        .header("Authorization", Harness::bearer(token))
        .body_json(&json!({"plan_id": plan["plan_id"], "results": results}))
        .send()
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn batched_rollout_preview_progress_controls_and_breaker() {
    let h = Harness::new().await;
    let mut nodes = Vec::new();
    for i in 0..6 {
        nodes.push(h.register(&format!("r{i}"), json!({"tier": "edge"})).await);
    }
    let f = json_of(
        h.upload(
            json!({"name": "hello", "memory_pages": 4}),
            &wasm_fixtures::hello(),
        )
        .await,
    )
    .await;
    let fid = f["id"].as_str().unwrap();
    let strategy = json!({"kind": "batches", "batch_size": 2, "max_failure_ratio": 0.4, "min_executed": 2, "auto_rollback": true, "max_retries": 0});

    // Preview: nothing changes.
    let resp = post(
        &h,
        "/api/v1/deployments?dry_run=true",
        json!({"function_id": fid, "version": 1, "selector": "tier=edge", "strategy": strategy}),
    )
    .await;
    resp.assert_status_is_ok();
    let preview = json_of(resp).await;
    assert_eq!(preview["nodes"].as_array().unwrap().len(), 6);
    assert_eq!(preview["batches"].as_array().unwrap().len(), 3);
    assert!(
        preview["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["wins"] == true && n["plan"][0] == "install_function")
    );
    let (_, list) = h.get_json("/api/v1/deployments").await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "a preview stored a deployment"
    );

    let resp = post(
        &h,
        "/api/v1/deployments",
        json!({"function_id": fid, "version": 1, "selector": "tier=edge", "strategy": strategy}),
    )
    .await;
    resp.assert_status(poem::http::StatusCode::CREATED);
    let d = json_of(resp).await;
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["strategy"]["kind"], "batches");
    assert_eq!(d["rollout"]["batches"], 3);
    assert_eq!(d["rollout"]["released"], 1);
    assert_eq!(d["counts"]["pending"], 6);
    let preview_sizes: Vec<usize> = preview["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_array().unwrap().len())
        .collect();
    let real_sizes: Vec<usize> = d["rollout"]["batch_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        preview_sizes, real_sizes,
        "the preview's batches are the rollout's"
    );
    // The first batch's nodes are the preview's first batch, and only they are targeted.
    let targeted: Vec<&str> = d["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["batch"] == 0)
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    let preview_first: Vec<&str> = preview["batches"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(targeted.len(), 2);
    assert!(targeted.iter().all(|t| preview_first.contains(t)));

    // Pause and resume.
    let paused =
        json_of(post(&h, &format!("/api/v1/deployments/{id}/pause"), json!({})).await).await;
    assert_eq!(paused["status"], "paused");
    let resumed =
        json_of(post(&h, &format!("/api/v1/deployments/{id}/resume"), json!({})).await).await;
    assert_eq!(resumed["status"], "in_progress");

    // The first batch: one node fails the install, one succeeds → 0.5 > 0.4 after 2: rolled back.
    let batch0: Vec<String> = preview["batches"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for (i, (node, token)) in nodes.iter().filter(|(n, _)| batch0.contains(n)).enumerate() {
        sync(&h, node, token, if i == 0 { "failed" } else { "succeeded" }).await;
    }
    h.clock.advance(Duration::from_secs(1));
    h.edgesync.run_maintenance().await.unwrap();
    let (_, d) = h.get_json(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(d["status"], "rolled_back", "{d}");
    assert_eq!(d["failure_reasons"], json!({"sha256_mismatch": 1}));
    assert_eq!(d["counts"]["failed"], 1);
    assert_eq!(d["counts"]["rolled_back"], 1);
    assert!(d["status_reason"].as_str().unwrap().contains("rolled back"));
    let failed = d["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["state"] == "failed")
        .unwrap();
    assert_eq!(failed["error_code"], "sha256_mismatch");
    assert!(failed["observed_at"].is_string());

    // Nothing to resume after a rollback; abort of a finished deployment changes nothing.
    assert_problem(
        post(&h, &format!("/api/v1/deployments/{id}/resume"), json!({})).await,
        409,
        "deployment_not_changeable",
    )
    .await;
    assert_problem(
        post(
            &h,
            &format!("/api/v1/deployments/{}/pause", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await,
        404,
        "deployment_not_found",
    )
    .await;
    let bad = post(&h, "/api/v1/deployments", json!({"function_id": fid, "version": 1, "strategy": {"kind": "batches", "max_failure_ratio": 2.0}})).await;
    assert_problem(bad, 400, "invalid_request").await;
    let bad = post(
        &h,
        "/api/v1/deployments",
        json!({"function_id": fid, "version": 1, "strategy": {"kind": "sometimes"}}),
    )
    .await;
    assert_problem(bad, 400, "invalid_request").await;
}
