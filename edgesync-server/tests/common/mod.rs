//! A control plane on a real sled store and file artifacts in a temp dir, driven in-process
//! through poem's `TestClient`, with a manual clock.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use edgesync_core::{EdgeSync, ManualClock};
use edgesync_server::config::ServeArgs;
use edgesync_server::{app, wiring};
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json};

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub edgesync: EdgeSync,
    pub clock: Arc<ManualClock>,
    pub client: TestClient<BoxEndpoint<'static, poem::Response>>,
    pub admin: String,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut ServeArgs)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args =
            ServeArgs::defaults_for(dir.path().join("data"), "127.0.0.1:8080".parse().unwrap());
        tweak(&mut args);
        let clock = Arc::new(ManualClock::starting_now());
        let edgesync = wiring::build_with_clock(&args, clock.clone())
            .await
            .unwrap();
        let admin = edgesync
            .bootstrap_admin_key()
            .await
            .unwrap()
            .unwrap()
            .secret;
        let ep = app(&edgesync, args.http_limits()).map_to_response().boxed();
        Self {
            dir,
            edgesync,
            clock,
            client: TestClient::new(ep),
            admin,
        }
    }

    pub fn bearer(secret: &str) -> String {
        format!("Bearer {secret}")
    }

    /// Registers a node; returns (id, token).
    pub async fn register(&self, name: &str, labels: Value) -> (String, String) {
        let resp = self
            .client
            .post("/api/v1/nodes/register")
            .header("Authorization", Self::bearer(&self.admin))
            .body_json(&json!({"name": name, "pop": "fra", "region": "eu", "labels": labels, "agent_version": "1.0"}))
            .send()
            .await;
        resp.assert_status(poem::http::StatusCode::CREATED);
        let body = json_of(resp).await;
        (
            body["node_id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(path)
            .header("Authorization", Self::bearer(&self.admin))
            .send()
            .await;
        let status = resp.0.status().as_u16();
        (status, json_of(resp).await)
    }
}

pub async fn json_of(resp: TestResponse) -> Value {
    let bytes = resp.0.into_body().into_bytes().await.unwrap();
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Asserts a problem+json error with `status` and `code`; returns the body.
pub async fn assert_problem(resp: TestResponse, status: u16, code: &str) -> Value {
    let got = resp.0.status().as_u16();
    let ct = resp.0.content_type().unwrap_or_default().to_owned();
    let body = json_of(resp).await;
    assert_eq!(got, status, "status; body: {body}");
    assert_eq!(ct, "application/problem+json", "content type; body: {body}");
    assert_eq!(body["code"], code, "code; body: {body}");
    assert_eq!(body["status"], status);
    assert!(body["retryable"].is_boolean());
    assert!(
        !body["request_id"].as_str().unwrap_or_default().is_empty(),
        "request_id missing: {body}"
    );
    body
}

/// Builds a multipart body with `metadata` then `wasm` parts.
pub fn multipart(metadata: &Value, wasm: &[u8]) -> (String, Vec<u8>) {
    multipart_parts(&[
        (
            "metadata",
            "application/json",
            serde_json::to_vec(metadata).unwrap(),
        ),
        ("wasm", "application/wasm", wasm.to_vec()),
    ])
}

pub fn multipart_parts(parts: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "edgesync-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, ct, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Harness {
    pub async fn upload(&self, metadata: Value, wasm: &[u8]) -> TestResponse {
        let (ct, body) = multipart(&metadata, wasm);
        self.client
            .post("/api/v1/functions")
            .header("Authorization", Self::bearer(&self.admin))
            .content_type(ct)
            .body(body)
            .send()
            .await
    }
}
