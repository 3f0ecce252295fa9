//! Requests the OpenAPI document does not allow, as a fuzzer (`.ci/schemathesis`) sends them:
//! each is refused with a problem body and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, assert_problem, json_of};
use poem::http::Method;
use serde_json::{Value, json};

async fn post(h: &Harness, path: &str, credential: &str, body: Value) -> poem::test::TestResponse {
    h.client
        .post(path)
        .header("Authorization", Harness::bearer(credential))
        .body_json(&body)
        .send()
        .await
}

#[tokio::test]
async fn undeclared_methods_answer_405_with_allow() {
    let h = Harness::new().await;
    let id = uuid::Uuid::new_v4();
    for (method, path, allow) in [
        (
            Method::TRACE,
            format!("/api/v1/nodes/{id}"),
            "GET, HEAD, PATCH",
        ),
        (Method::GET, "/api/v1/nodes/register".to_owned(), "POST"),
        (
            Method::POST,
            format!("/api/v1/nodes/{id}/commands/history"),
            "GET, HEAD",
        ),
        (Method::DELETE, "/health".to_owned(), "GET, HEAD"),
        (Method::PUT, "/ready".to_owned(), "GET, HEAD"),
    ] {
        let resp = h
            .client
            .request(method.clone(), &path)
            .header("Authorization", Harness::bearer(&h.admin))
            .send()
            .await;
        resp.assert_header("allow", allow);
        assert_problem(resp, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn numbers_and_booleans_are_not_strings() {
    let h = Harness::new().await;
    let resp = post(
        &h,
        "/api/v1/functions/register",
        &h.admin,
        json!({"name": false}),
    )
    .await;
    let body = assert_problem(resp, 400, "invalid_request").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`name` must be a string"),
        "{body}"
    );
    let resp = post(
        &h,
        "/api/v1/nodes/register",
        &h.admin,
        json!({"name": 42, "pop": "fra"}),
    )
    .await;
    assert_problem(resp, 400, "invalid_request").await;
    let resp = post(
        &h,
        "/api/v1/nodes/register",
        &h.admin,
        json!({"name": "edge-1", "pop": "fra", "labels": {"tier": true}}),
    )
    .await;
    assert_problem(resp, 400, "invalid_request").await;

    let (_, functions) = h.get_json("/api/v1/functions").await;
    assert_eq!(functions["items"], json!([]), "a function was created");
    let (_, nodes) = h.get_json("/api/v1/nodes").await;
    assert_eq!(nodes["items"], json!([]), "a node was registered");
}

#[tokio::test]
async fn null_is_refused_where_the_document_does_not_allow_it() {
    let h = Harness::new().await;
    let created = post(
        &h,
        "/api/v1/api-keys",
        &h.admin,
        json!({"name": "ci", "scopes": ["read"]}),
    )
    .await;
    let key = json_of(created).await["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = post(
        &h,
        &format!("/api/v1/api-keys/{key}/rotate"),
        &h.admin,
        json!({"grace_s": null}),
    )
    .await;
    let body = assert_problem(resp, 400, "invalid_request").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`grace_s` must not be null"),
        "{body}"
    );
    let (_, after) = h.get_json(&format!("/api/v1/api-keys/{key}")).await;
    assert!(after["rotated_at"].is_null(), "the key rotated: {after}");

    let (node, token) = h.register("edge-1", json!({})).await;
    let resp = post(
        &h,
        &format!("/api/v1/nodes/{node}/heartbeat"),
        &token,
        json!({"schema_version": 3, "resources": {"disk_bytes": null}}),
    )
    .await;
    assert_problem(resp, 400, "invalid_request").await;
    let (_, info) = h.get_json(&format!("/api/v1/nodes/{node}")).await;
    assert_eq!(info["reported"]["schema_version"], 0, "{info}");
    let resp = post(&h, "/api/v1/nodes/register", &h.admin, Value::Null).await;
    assert_problem(resp, 400, "invalid_request").await;

    // Where the document allows any JSON, `null` is a value like any other.
    let resp = post(
        &h,
        &format!("/api/v1/nodes/{node}/commands"),
        &h.admin,
        json!({"kind": "flush_cache", "payload": null}),
    )
    .await;
    resp.assert_status(poem::http::StatusCode::CREATED);
}
