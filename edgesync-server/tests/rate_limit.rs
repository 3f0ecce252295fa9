//! Rate limits (FN-12.2): a token bucket per API key and per node token, a bound on uploads in
//! progress, and a request deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, assert_problem, json_of, multipart};
use edgesync_core::control::NewApiKey;
use edgesync_core::model::Scope;
use edgesync_core::testkit::wasm_fixtures;
use edgesync_server::{rate_limit, request_id};
use futures::StreamExt;
use poem::test::{TestClient, TestResponse};
use poem::{Body, EndpointExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const BURST: u32 = 5;

/// A harness whose buckets hold `BURST` tokens and refill at one a second, so a quick burst of
/// `BURST + 1` requests finds the bucket empty.
async fn limited() -> Harness {
    Harness::with(|a| {
        a.rate_limit_rps = 1;
        a.rate_limit_burst = BURST;
    })
    .await
}

async fn get(h: &Harness, path: &str, credential: &str) -> TestResponse {
    h.client
        .get(path)
        .header("Authorization", Harness::bearer(credential))
        .send()
        .await
}

async fn second_admin_key(h: &Harness) -> String {
    let (_, secret) = h
        .edgesync
        .create_api_key(NewApiKey {
            name: "second".into(),
            scopes: vec![Scope::Admin],
            expires_at: None,
            require_signature: false,
        })
        .await
        .unwrap();
    secret.secret
}

/// Asserts a 429 `rate_limited`, retryable, with a whole-seconds `Retry-After` ≥ 1; returns it.
async fn assert_rate_limited(resp: TestResponse) -> u64 {
    let retry_after = resp
        .0
        .headers()
        .get("Retry-After")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = assert_problem(resp, 429, "rate_limited").await;
    assert_eq!(body["retryable"], true, "{body}");
    let retry_after: u64 = retry_after
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    retry_after
}

#[tokio::test]
async fn a_burst_beyond_the_limit_gets_429_and_other_keys_are_unaffected() {
    let h = limited().await;
    let other = second_admin_key(&h).await;
    let refused_before = rate_limit::rate_limited_total();
    for i in 0..BURST {
        let resp = get(&h, "/api/v1/functions", &h.admin).await;
        assert_eq!(resp.0.status(), 200, "request {i} of the burst");
    }
    let retry_after = assert_rate_limited(get(&h, "/api/v1/functions", &h.admin).await).await;
    assert!(
        retry_after <= 1,
        "one token refills in a second: {retry_after}"
    );
    assert!(rate_limit::rate_limited_total() > refused_before);

    // Another key has its own bucket, at the same moment.
    let resp = get(&h, "/api/v1/functions", &other).await;
    assert_eq!(resp.0.status(), 200);
    // The first one is still empty.
    assert_rate_limited(get(&h, "/api/v1/functions", &h.admin).await).await;
}

#[tokio::test]
async fn node_tokens_have_buckets_of_their_own() {
    let h = limited().await;
    let (a, a_token) = h.register("edge-a", json!({})).await;
    let (b, b_token) = h.register("edge-b", json!({})).await;
    // Empty the admin key's bucket (two tokens went to the registrations).
    while get(&h, "/api/v1/functions", &h.admin).await.0.status() == 200 {}
    assert_rate_limited(get(&h, "/api/v1/functions", &h.admin).await).await;

    // Node A is unaffected by the operator, until it spends its own burst.
    let sync_a = format!("/api/v1/nodes/{a}/sync");
    for i in 0..BURST {
        let resp = get(&h, &sync_a, &a_token).await;
        assert_eq!(resp.0.status(), 200, "node A's request {i}");
    }
    assert_rate_limited(get(&h, &sync_a, &a_token).await).await;

    // Node B is unaffected by node A.
    let resp = get(&h, &format!("/api/v1/nodes/{b}/sync"), &b_token).await;
    assert_eq!(resp.0.status(), 200);
}

#[tokio::test]
async fn buckets_refill_with_time() {
    let h = limited().await;
    while get(&h, "/api/v1/functions", &h.admin).await.0.status() == 200 {}
    let wait = assert_rate_limited(get(&h, "/api/v1/functions", &h.admin).await).await;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let resp = get(&h, "/api/v1/functions", &h.admin).await;
    assert_eq!(resp.0.status(), 200, "a token is back after Retry-After");
}

#[tokio::test]
async fn health_and_ready_are_never_limited() {
    let h = Harness::with(|a| {
        a.rate_limit_rps = 1;
        a.rate_limit_burst = 1;
    })
    .await;
    for _ in 0..20 {
        for path in ["/health", "/ready"] {
            let resp = get(&h, path, &h.admin).await;
            assert_ne!(resp.0.status(), 429, "{path} was limited");
            let resp = h.client.get(path).send().await;
            assert_ne!(resp.0.status(), 429, "{path} was limited");
        }
    }
    // The same bucket still limits the API.
    assert_eq!(get(&h, "/api/v1/functions", &h.admin).await.0.status(), 200);
    assert_rate_limited(get(&h, "/api/v1/functions", &h.admin).await).await;
}

#[tokio::test]
async fn zero_disables_rate_limiting() {
    let h = Harness::with(|a| {
        a.rate_limit_rps = 0;
        a.rate_limit_burst = 1;
    })
    .await;
    for _ in 0..50 {
        assert_eq!(get(&h, "/api/v1/functions", &h.admin).await.0.status(), 200);
    }
}

fn meta(name: &str) -> Value {
    json!({"name": name, "entrypoint": "_start", "memory_pages": 4, "max_execution_ms": 50})
}

/// An upload whose body sends its first half, reports on `started`, and sends the rest only
/// once `release` fires: the server holds it open meanwhile.
fn held_upload(name: &str) -> (String, Body, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (ct, body) = multipart(&meta(name), &wasm_fixtures::hello());
    let tail = body[body.len() / 2..].to_vec();
    let head = body[..body.len() / 2].to_vec();
    let (started_tx, started_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(head))]).chain(
        futures::stream::once(async move {
            let _ = started_tx.send(());
            let _ = release_rx.await;
            Ok(Bytes::from(tail))
        }),
    );
    (ct, Body::from_bytes_stream(stream), started_rx, release_tx)
}

#[tokio::test]
async fn uploads_beyond_the_limit_get_429_without_waiting() {
    let h = Harness::with(|a| a.max_concurrent_uploads = 2).await;
    let send = |ct: String, body: Body| {
        h.client
            .post("/api/v1/functions")
            .header("Authorization", Harness::bearer(&h.admin))
            .content_type(ct)
            .body(body)
            .send()
    };
    let (ct1, body1, started1, release1) = held_upload("slow-one");
    let (ct2, body2, started2, release2) = held_upload("slow-two");
    let (first, second, third) = tokio::join!(send(ct1, body1), send(ct2, body2), async {
        // Both slow uploads are inside the handler, holding their slots.
        started1.await.unwrap();
        started2.await.unwrap();
        let (ct, body) = multipart(&meta("quick"), &wasm_fixtures::hello());
        let third = tokio::time::timeout(
            Duration::from_secs(5),
            h.client
                .post("/api/v1/functions")
                .header("Authorization", Harness::bearer(&h.admin))
                .content_type(ct)
                .body(body)
                .send(),
        )
        .await
        .expect("the third upload is answered at once, not queued");
        release1.send(()).unwrap();
        release2.send(()).unwrap();
        third
    });
    let retry_after = third.0.headers().get("Retry-After").cloned();
    assert_problem(third, 429, "rate_limited").await;
    assert_eq!(retry_after.unwrap(), "1");
    for resp in [first, second] {
        let status = resp.0.status();
        let body = json_of(resp).await;
        assert_eq!(status, 201, "{body}");
    }
    // The slots are free again.
    let resp = h.upload(meta("after"), &wasm_fixtures::hello()).await;
    resp.assert_status(poem::http::StatusCode::CREATED);
}

/// A tiny endpoint that takes `delay` to answer, behind the timeout and request-id middleware.
fn sleepy(delay: Duration, deadline: Duration) -> TestClient<impl poem::Endpoint> {
    let ep = poem::endpoint::make(move |_| async move {
        tokio::time::sleep(delay).await;
        "done"
    })
    .around(move |ep, req| rate_limit::timeout(ep, req, Some(deadline)))
    .around(|ep, req| {
        request_id::middleware(ep, req, Arc::new(edgesync_server::metrics::Metrics::new()))
    });
    TestClient::new(ep)
}

#[tokio::test]
async fn slow_requests_get_503_after_the_deadline() {
    let client = sleepy(Duration::from_secs(5), Duration::from_millis(100));
    let started = std::time::Instant::now();
    let resp = client.get("/api/v1/functions").send().await;
    let body = assert_problem(resp, 503, "service_unavailable").await;
    assert_eq!(body["retryable"], true);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at the deadline"
    );

    let fast = sleepy(Duration::from_millis(10), Duration::from_secs(5));
    fast.get("/api/v1/functions")
        .send()
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn long_polls_and_uploads_are_not_cut_off() {
    let client = sleepy(Duration::from_millis(400), Duration::from_millis(100));
    client
        .get("/api/v1/nodes/0197a0a0-0000-7000-8000-000000000000/sync?wait=30")
        .send()
        .await
        .assert_status_is_ok();
    client
        .post("/api/v1/functions")
        .content_type("multipart/form-data; boundary=x")
        .body("--x--\r\n")
        .send()
        .await
        .assert_status_is_ok();
    // A sync request without `wait` is not a long poll.
    let resp = client
        .get("/api/v1/nodes/0197a0a0-0000-7000-8000-000000000000/sync")
        .send()
        .await;
    assert_problem(resp, 503, "service_unavailable").await;
}
