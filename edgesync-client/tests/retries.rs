//! Retries and downloads against a tiny scripted server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TinyServer, fast_retries, json_ok, problem};
use edgesync_client::wire::{RouteRequest, SyncAckRequest, UpdateNodeRequest};
use edgesync_client::{Client, ClientError};
use poem::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn client(server: &TinyServer, retries: u32) -> Client {
    Client::builder(&server.base_url)
        .api_key("esk_test")
        .node_token("node-token")
        .retry_policy(fast_retries(retries))
        .build()
        .unwrap()
}

/// 503 `retryable: true` twice, then 200.
async fn flaky(ok: serde_json::Value) -> TinyServer {
    TinyServer::start(move |n, _| {
        if n < 2 {
            problem(503, "store_unavailable", true)
        } else {
            json_ok(ok.clone())
        }
    })
    .await
}

#[tokio::test]
async fn a_retryable_problem_is_retried() {
    let server = flaky(json!({"items": []})).await;
    let routes = client(&server, 3).list_routes().await.unwrap();
    assert!(routes.items.is_empty());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_limit() {
    let server = flaky(json!({"items": []})).await;
    let err = client(&server, 1).list_routes().await.unwrap_err();
    assert_eq!(err.code(), Some("store_unavailable"));
    assert!(err.retryable());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_non_retryable_problem_is_not_retried() {
    let server = TinyServer::start(|_, _| problem(409, "route_conflict", false)).await;
    let err = client(&server, 5).list_routes().await.unwrap_err();
    assert_eq!(err.code(), Some("route_conflict"));
    assert_eq!(err.status(), Some(StatusCode::CONFLICT));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_creating_post_is_not_retried_but_an_ack_is() {
    let server = flaky(json!({})).await;
    let err = client(&server, 5)
        .create_route(&RouteRequest {
            host: None,
            path: "/x".into(),
            methods: vec![],
            function_id: Uuid::nil(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("store_unavailable"));
    assert_eq!(server.hits(), 1, "a POST that creates is sent once");

    let server = flaky(json!({
        "sync_id": Uuid::nil(), "status": "succeeded", "revision": "r1",
        "reached_revision": "r1", "applied": true
    }))
    .await;
    let ack = client(&server, 5)
        .node(Uuid::nil())
        .ack(&SyncAckRequest {
            plan_id: Uuid::nil(),
            results: vec![],
            state: None,
        })
        .await
        .unwrap();
    assert!(ack.applied);
    assert_eq!(server.hits(), 3, "acks are idempotent per plan id");
}

#[tokio::test]
async fn a_conditional_revision_conflict_is_final() {
    let server = TinyServer::start(|_, _| problem(409, "revision_conflict", true)).await;
    let c = client(&server, 5);
    let update = UpdateNodeRequest::default();
    let err = c
        .update_node(Uuid::nil(), &update, Some(7))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("revision_conflict"));
    assert_eq!(server.hits(), 1, "the same If-Match would conflict again");
    // Without If-Match the conflict was the server's own race: retried.
    c.update_node(Uuid::nil(), &update, None).await.unwrap_err();
    assert_eq!(server.hits(), 1 + 6);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = TinyServer::start(|n, _| {
        if n == 0 {
            let mut resp = problem(429, "rate_limited", true);
            resp.headers_mut()
                .insert("retry-after", poem::http::HeaderValue::from_static("1"));
            resp
        } else {
            json_ok(json!({"items": []}))
        }
    })
    .await;
    let started = Instant::now();
    client(&server, 1).list_routes().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn errors_without_a_problem_body_are_unexpected_statuses() {
    let server = TinyServer::start(|_, _| {
        poem::Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body("<html>bad gateway</html>")
    })
    .await;
    let err = client(&server, 3).list_routes().await.unwrap_err();
    assert!(
        matches!(&err, ClientError::UnexpectedStatus { status, body } if *status == StatusCode::BAD_GATEWAY && body.contains("bad gateway")),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
    // A 200 with a body that is not the documented shape is a decode error.
    let server = TinyServer::start(|_, _| json_ok(json!({"unexpected": true}))).await;
    let err = client(&server, 3).list_routes().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn node_requests_carry_the_node_token_and_operator_requests_the_key() {
    let server = TinyServer::start(|_, req| {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let expected = if req.uri().path().ends_with("/heartbeat") {
            "Bearer node-token"
        } else if req.uri().path().starts_with("/artifact") {
            ""
        } else {
            "Bearer esk_test"
        };
        if auth == expected {
            if req.uri().path().starts_with("/artifact") {
                poem::Response::builder().body("abc")
            } else if req.uri().path().ends_with("/heartbeat") {
                json_ok(json!({
                    "status": "online", "server_time": "2026-01-01T00:00:00Z", "offline_after_s": 30
                }))
            } else {
                json_ok(json!({"items": []}))
            }
        } else {
            problem(401, "invalid_credentials", false)
        }
    })
    .await;
    let c = client(&server, 0);
    c.list_routes().await.unwrap();
    c.node(Uuid::nil())
        .heartbeat(&Default::default())
        .await
        .unwrap();
    let sha = hex::encode(Sha256::digest(b"abc"));
    // Artifact URLs are their own credential: nothing else is sent along.
    assert_eq!(
        c.download_artifact("/artifact/x?signature=s", &sha)
            .await
            .unwrap(),
        &b"abc"[..]
    );
}

#[tokio::test]
async fn a_wrong_artifact_is_a_digest_mismatch() {
    let server = TinyServer::start(|_, _| {
        poem::Response::builder()
            .content_type("application/wasm")
            .body("these are not the bytes you are looking for")
    })
    .await;
    let c = client(&server, 3);
    let expected = hex::encode(Sha256::digest(b"the real module"));
    let url = format!(
        "{}/api/v1/artifacts/{expected}?expires=1&signature=x",
        server.base_url
    );
    let err = c.download_artifact(&url, &expected).await.unwrap_err();
    match err {
        ClientError::DigestMismatch {
            expected: e,
            actual,
        } => {
            assert_eq!(e, expected);
            assert_eq!(
                actual,
                hex::encode(Sha256::digest(
                    b"these are not the bytes you are looking for"
                ))
            );
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert_eq!(server.hits(), 1, "a mismatch is not retried");
    // An expected digest that is not one is refused before anything is sent.
    let err = c.download_artifact(&url, "nope").await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err}");
}

#[tokio::test]
async fn oversized_artifacts_are_cut_off() {
    // Streamed without a declared length: the client's cap applies.
    let server = TinyServer::start(|_, _| {
        let chunks = futures::stream::iter(
            (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; 64 * 1024]))),
        );
        poem::Response::builder().body(poem::Body::from_bytes_stream(chunks))
    })
    .await;
    let c = Client::builder(&server.base_url)
        .max_artifact_bytes(1024 * 1024)
        .build()
        .unwrap();
    let sha = "0".repeat(64);
    let err = c
        .download_artifact(&format!("{}/a", server.base_url), &sha)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::TooLarge { limit } if limit == 1024 * 1024),
        "{err}"
    );
    // With a known size, the cap is that size plus slack.
    let err = c
        .download_artifact_with_size(&format!("{}/a", server.base_url), &sha, 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::TooLarge { limit } if limit == 1000 + 64 * 1024),
        "{err}"
    );
}

#[tokio::test]
async fn a_stalled_download_times_out() {
    let server = TinyServer::start(|_, _| {
        let first = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
            b"partial",
        ))]);
        let body = futures::StreamExt::chain(first, futures::stream::pending());
        poem::Response::builder().body(poem::Body::from_bytes_stream(body))
    })
    .await;
    let c = Client::builder(&server.base_url)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c
        .download_artifact(&format!("{}/a", server.base_url), &"0".repeat(64))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
