//! HTTP tests of function versions: listing and reading them, the compatibility check and the
//! `allow_breaking` gate on deployments, rollback end to end (deployments, history, the nodes'
//! plans), and the upload/download round trip property on the file backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, assert_problem, json_of};
use edgesync_core::testkit::wasm_fixtures;
use poem::http::StatusCode;
use poem::test::TestResponse;
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PUBLIC: &str = "http://127.0.0.1:8080";

fn meta(name: &str) -> Value {
    json!({"name": name, "entrypoint": "_start", "memory_pages": 4})
}

/// Version 1: `_start` and `id() -> i32`.
fn v1() -> Vec<u8> {
    wasm_fixtures::numbered(1)
}

/// Same interface as v1, plus an export: compatible.
fn v2() -> Vec<u8> {
    wasm_fixtures::wasm(
        r#"(module (memory (export "memory") 1)
             (func (export "_start"))
             (func (export "id") (result i32) (i32.const 2))
             (func (export "extra")))"#,
    )
}

/// `id` now takes a parameter and a new host import is needed: breaking.
fn v3() -> Vec<u8> {
    wasm_fixtures::wasm(
        r#"(module (import "env" "clock" (func (result i64)))
             (memory (export "memory") 1)
             (func (export "_start"))
             (func (export "id") (param i32) (result i32) (local.get 0))
             (func (export "extra")))"#,
    )
}

async fn post(h: &Harness, path: &str, body: Value) -> TestResponse {
    h.client
        .post(path)
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&body)
        .send()
        .await
}

async fn upload(h: &Harness, name: &str, wasm: &[u8]) -> Value {
    let resp = h.upload(meta(name), wasm).await;
    resp.assert_status(StatusCode::CREATED);
    json_of(resp).await
}

async fn deploy(h: &Harness, id: &str, version: u64, selector: &str, allow: bool) -> TestResponse {
    post(
        h,
        "/api/v1/deployments",
        json!({"function_id": id, "version": version, "selector": selector, "allow_breaking": allow}),
    )
    .await
}

#[tokio::test]
async fn versions_are_listed_with_their_compatibility_and_breaking_ones_need_a_flag() {
    let h = Harness::new().await;
    let first = upload(&h, "api", &v1()).await;
    let id = first["id"].as_str().unwrap().to_owned();
    upload(&h, "api", &v2()).await;
    let third = upload(&h, "api", &v3()).await;

    let (status, list) = h
        .get_json(&format!("/api/v1/functions/{id}/versions"))
        .await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    let numbers: Vec<u64> = items
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3], "oldest first");
    assert_eq!(
        items[0]["compatibility"],
        json!({"status": "first", "reasons": []})
    );
    let c2 = &items[1]["compatibility"];
    assert_eq!(c2["status"], "compatible");
    assert_eq!(c2["against_version"], 1);
    assert_eq!(
        c2["reasons"],
        json!(["info: function export `extra` was added"])
    );
    let c3 = &items[2]["compatibility"];
    assert_eq!(c3["status"], "breaking");
    assert_eq!(c3["against_version"], 2);
    let reasons: Vec<&str> = c3["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(
            &"breaking: function export `id` signature changed from () -> (i32) to (i32) -> (i32)"
        ),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("breaking: new host import `env.clock`")),
        "{reasons:?}"
    );

    // One version; the same document as in the list and as the upload answered.
    let (status, one) = h
        .get_json(&format!("/api/v1/functions/{id}/versions/3"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one, items[2]);
    assert_eq!(one, third);
    let (status, missing) = h
        .get_json(&format!("/api/v1/functions/{id}/versions/9"))
        .await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("function_not_found"))
    );
    let (status, missing) = h
        .get_json(&format!(
            "/api/v1/functions/{}/versions",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("function_not_found"))
    );

    // Deploying the breaking version needs the flag; the problem lists the reasons.
    let problem =
        assert_problem(deploy(&h, &id, 3, "", false).await, 409, "breaking_version").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("function export `id` signature changed"),
        "{detail}"
    );
    assert!(detail.contains("allow_breaking"), "{detail}");
    assert_eq!(
        h.get_json("/api/v1/deployments").await.1["items"],
        json!([])
    );
    deploy(&h, &id, 2, "", false)
        .await
        .assert_status(StatusCode::CREATED);
    deploy(&h, &id, 3, "tier=canary", true)
        .await
        .assert_status(StatusCode::CREATED);
}

/// Registers a node and returns (id, token).
async fn node(h: &Harness, name: &str, labels: Value) -> (String, String) {
    h.register(name, labels).await
}

/// The version of `function` the node's current plan installs, if any.
async fn planned_version(h: &Harness, node: &str, token: &str, function: &str) -> Option<u64> {
    let resp = h
        .client
        .get(format!("/api/v1/nodes/{node}/sync"))
        .header("Authorization", Harness::bearer(token))
        .send()
        .await;
    resp.assert_status_is_ok();
    let plan = json_of(resp).await;
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "install_function" && a["function_id"] == function)
        .map(|a| a["version"].as_u64().unwrap())
}

#[tokio::test]
async fn rollback_retargets_every_live_deployment_and_records_it() {
    let h = Harness::new().await;
    let id = upload(&h, "api", &v1()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    upload(&h, "api", &v2()).await;
    upload(&h, "api", &v3()).await;
    let pending = json_of(post(&h, "/api/v1/functions/register", meta("api")).await).await;
    assert_eq!(pending["version"], 4);
    let other = upload(&h, "other", &v1()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nothing live yet.
    let rollback_path = format!("/api/v1/functions/{id}/rollback");
    let rollback = |body: Value| post(&h, &rollback_path, body);
    assert_problem(rollback(json!({})).await, 409, "rollback_unavailable").await;

    let (eu, eu_token) = node(&h, "eu-1", json!({"region": "eu"})).await;
    let (us, us_token) = node(&h, "us-1", json!({"region": "us"})).await;
    let d_eu = json_of(deploy(&h, &id, 3, "region=eu", true).await).await;
    let d_us = json_of(deploy(&h, &id, 2, "region=us", false).await).await;
    assert_eq!(d_us["version"], 2);
    let d_other = json_of(deploy(&h, &other, 1, "", false).await).await;
    assert_eq!(planned_version(&h, &eu, &eu_token, &id).await, Some(3));
    assert_eq!(planned_version(&h, &us, &us_token, &id).await, Some(2));
    let (_, versions_before) = h
        .get_json(&format!("/api/v1/functions/{id}/versions"))
        .await;

    // Bad targets.
    assert_problem(
        rollback(json!({"to_version": 9})).await,
        404,
        "function_not_found",
    )
    .await;
    assert_problem(
        rollback(json!({"to_version": 4})).await,
        409,
        "function_version_not_ready",
    )
    .await;
    assert_problem(rollback(json!({"to": 1})).await, 400, "invalid_request").await;

    // Default: the ready version below the highest one live deployments run (v3 → v2). Both
    // deployments end up on v2; only the one that changed is in the entry.
    let resp = rollback(json!({})).await;
    resp.assert_status_is_ok();
    let out = json_of(resp).await;
    assert_eq!(out["function_id"], id.as_str());
    assert_eq!(out["to_version"], 2);
    let entry = &out["entry"];
    assert_eq!(entry["from_versions"], json!([3]));
    assert_eq!(entry["to_version"], 2);
    assert_eq!(entry["deployments"], json!([d_eu["id"]]));
    assert!(
        entry["by"].as_str().unwrap().starts_with("api key "),
        "{entry}"
    );
    let deployments = out["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2);
    assert!(deployments.iter().all(|d| d["version"] == 2), "{out}");
    let (_, d) = h
        .get_json(&format!(
            "/api/v1/deployments/{}",
            d_eu["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(d["version"], 2);
    assert_eq!(d["status"], "in_progress");
    assert!(
        d["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("rolled back from v3 to v2 by api key "),
        "{d}"
    );
    assert_eq!(planned_version(&h, &eu, &eu_token, &id).await, Some(2));
    assert_eq!(planned_version(&h, &us, &us_token, &id).await, Some(2));

    // Explicit target: both deployments to v1. Another function is untouched.
    let out = json_of(rollback(json!({"to_version": 1})).await).await;
    assert_eq!(out["entry"]["from_versions"], json!([2]));
    assert_eq!(out["entry"]["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(planned_version(&h, &eu, &eu_token, &id).await, Some(1));
    assert_eq!(planned_version(&h, &us, &us_token, &id).await, Some(1));
    let (_, d) = h
        .get_json(&format!(
            "/api/v1/deployments/{}",
            d_other["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(d["version"], 1);
    assert!(d.get("status_reason").is_none(), "{d}");

    // Repeating it changes and records nothing; there is nothing below v1.
    let same = json_of(rollback(json!({"to_version": 1})).await).await;
    assert!(same.get("entry").is_none(), "{same}");
    assert_problem(rollback(json!({})).await, 409, "rollback_unavailable").await;

    // The history is on the function, oldest first; version metadata never changed.
    let (_, f) = h.get_json(&format!("/api/v1/functions/{id}")).await;
    let history = f["rollbacks"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0]["to_version"].as_u64(),
            history[1]["to_version"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let (_, versions_after) = h
        .get_json(&format!("/api/v1/functions/{id}/versions"))
        .await;
    assert_eq!(versions_after, versions_before, "versions are immutable");

    // A rolled-back function cannot be deleted while deployments run it.
    let del = h
        .client
        .delete(format!("/api/v1/functions/{id}"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    assert_problem(del, 409, "function_in_use").await;
}

/// WAT for a valid module with `funcs` extra functions and a data segment of `data` bytes.
fn generated(funcs: usize, data: &[u8]) -> Vec<u8> {
    let escaped: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let bodies: String = (0..funcs)
        .map(|i| format!("(func (export \"f{i}\") (result i32) (i32.const {i}))\n"))
        .collect();
    wasm_fixtures::wasm(&format!(
        r#"(module (memory (export "memory") 1)
             (data (i32.const 0) "{escaped}")
             (func (export "_start"))
             {bodies})"#
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, .. ProptestConfig::default() })]

    /// Seed "Property 2": any bytes that validate come back bit-identical with the same SHA-256,
    /// through the one-step and the two-step upload alike (file artifact backend).
    #[test]
    fn uploads_come_back_bit_identical(
        funcs in 0usize..24,
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        two_step in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let h = Harness::new().await;
            let wasm = generated(funcs, &data);
            let digest = hex::encode(Sha256::digest(&wasm));
            let (id, version) = if two_step {
                let r = json_of(post(&h, "/api/v1/functions/register", meta("prop")).await).await;
                let path = r["upload_url"].as_str().unwrap().strip_prefix(PUBLIC).unwrap().to_owned();
                let resp = h.client.put(path).content_type("application/wasm").body(wasm.clone()).send().await;
                resp.assert_status_is_ok();
                let v = json_of(resp).await;
                assert_eq!(v["sha256"], digest.as_str());
                (r["id"].as_str().unwrap().to_owned(), r["version"].as_u64().unwrap())
            } else {
                let v = upload(&h, "prop", &wasm).await;
                assert_eq!(v["sha256"], digest.as_str());
                (v["id"].as_str().unwrap().to_owned(), v["version"].as_u64().unwrap())
            };
            let (status, info) = h
                .get_json(&format!("/api/v1/functions/{id}/download?redirect=false&version={version}"))
                .await;
            assert_eq!(status, 200, "{info}");
            assert_eq!(info["sha256"], digest.as_str());
            let path = info["url"].as_str().unwrap().strip_prefix(PUBLIC).unwrap().to_owned();
            let resp = h.client.get(path).send().await;
            resp.assert_status_is_ok();
            resp.assert_header("X-Content-SHA256", digest.as_str());
            let bytes = resp.0.into_body().into_bytes().await.unwrap();
            assert_eq!(bytes.as_ref(), wasm.as_slice(), "bit-identical");
        });
    }
}
