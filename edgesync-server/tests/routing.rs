//! Which endpoint answers which path: the few pages outside the API (index, OpenAPI document,
//! Swagger UI, metrics, the bench route) and the API itself, including paths that only look
//! like the pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, assert_problem};

/// The `Content-Type` of a response, without parameters.
fn media_type(resp: &poem::test::TestResponse) -> String {
    let value = resp.0.headers()["content-type"].to_str().unwrap();
    value.split(';').next().unwrap().trim().to_owned()
}

#[tokio::test]
async fn pages_outside_the_api_answer_from_their_own_routes() {
    let h = Harness::new().await;
    for (path, media) in [
        ("/", "text/html"),
        ("/openapi.json", "application/json"),
        ("/docs", "text/html"),
        ("/metrics", "text/plain"),
    ] {
        let resp = h.client.get(path).send().await;
        resp.assert_status_is_ok();
        assert_eq!(media_type(&resp), media, "{path}");
    }
    let spec: serde_json::Value = h
        .client
        .get("/openapi.json")
        .send()
        .await
        .json()
        .await
        .value()
        .deserialize();
    assert!(spec["paths"]["/api/v1/nodes/{id}/sync"].is_object());
    // Without --bench-routes the bench route does not exist.
    assert_problem(h.client.get("/bench/hello").send().await, 404, "not_found").await;
}

#[tokio::test]
async fn the_bench_route_answers_when_enabled() {
    let h = Harness::with(|args| args.bench_routes = true).await;
    let resp = h.client.get("/bench/hello").send().await;
    resp.assert_status_is_ok();
    resp.assert_text("hello").await;
}

#[tokio::test]
async fn every_other_path_reaches_the_api() {
    let h = Harness::new().await;
    h.client.get("/health").send().await.assert_status_is_ok();
    // Paths that merely start like the pages are the API's, and unknown to it.
    for path in ["/docsx", "/metrics/x", "/openapi.json/x", "/api/v1/nowhere"] {
        let resp = h.client.get(path).send().await;
        assert_problem(resp, 404, "not_found").await;
    }
}
