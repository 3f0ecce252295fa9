//! Limits enforced per call by a real agent: an endless loop is stopped at its time limit, a
//! memory bomb at its memory limit, calls beyond the concurrency limit are refused with 503 —
//! and the agent keeps serving through all of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use edgesync_e2e::{
    AgentProcess, ServerProcess, deploy, example_wasm, metadata, operator, route, upload,
};

const CONVERGE: Duration = Duration::from_secs(15);
/// The loop's time limit.
const LIMIT_MS: u64 = 300;
/// Allowed lateness of the timeout answer (epoch tick, thread hand-off, HTTP, a busy CI box).
const SLACK_MS: u64 = 700;

#[tokio::test]
async fn time_memory_and_concurrency_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), &[]).await;
    let ops = operator(&server);
    let agent = AgentProcess::start(
        &server.url,
        &server.admin_key(),
        "edge-limits",
        &[("tier", "edge")],
        &dir.path().join("agent"),
    )
    .await;

    let spin = upload(
        &ops,
        &metadata("spin", 1, LIMIT_MS as u32, 1),
        example_wasm("loop"),
    )
    .await;
    let bomb = upload(
        &ops,
        &metadata("bomb", 32, 5000, 4),
        example_wasm("memory-bomb"),
    )
    .await;
    let echo = upload(
        &ops,
        &metadata("echo", 32, 1000, 16),
        example_wasm("echo-json"),
    )
    .await;
    for f in [&spin, &bomb, &echo] {
        deploy(&ops, f.id, 1, "").await;
    }
    route(&ops, "/spin", &[], spin.id).await;
    route(&ops, "/bomb", &[], bomb.id).await;
    route(&ops, "/echo", &["POST"], echo.id).await;
    agent
        .wait_status("three functions and their routes", CONVERGE, |s| {
            s["functions"].as_array().is_some_and(|f| f.len() == 3)
                && s["routes"].as_array().is_some_and(|r| r.len() == 3)
        })
        .await;
    let http = reqwest::Client::new();
    let echo_ok = || async {
        let resp = http
            .post(format!("{}/echo", agent.url))
            .body(r#"{"n":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "{\"echo\":{\"n\":1}}\n");
    };
    echo_ok().await;

    // Time limit: 504 within the limit plus slack.
    let started = Instant::now();
    let resp = agent.get("/spin").await;
    let took = started.elapsed();
    assert_eq!(resp.status(), 504);
    assert_eq!(resp.headers()["x-edgesync-error"], "timeout");
    assert!(
        resp.text().await.unwrap().contains("time limit of 300 ms"),
        "a short text body"
    );
    assert!(took >= Duration::from_millis(LIMIT_MS), "{took:?}");
    assert!(
        took < Duration::from_millis(LIMIT_MS + SLACK_MS),
        "the timeout came after {took:?}"
    );
    echo_ok().await;

    // Concurrency: max_concurrency = 1; a second call while the first spins is refused at once.
    // On a busy machine the probe can reach the agent before the holder does; then the two
    // swap roles (the holder is refused, the probe times out) and the next attempt retries.
    let mut attempts = 0;
    let (resp, took) = loop {
        attempts += 1;
        assert!(attempts <= 20, "no call was ever refused for concurrency");
        let holder = tokio::spawn({
            let url = format!("{}/spin", agent.url);
            async move { reqwest::get(url).await.unwrap().status().as_u16() }
        });
        tokio::time::sleep(Duration::from_millis(LIMIT_MS / 6)).await;
        let started = Instant::now();
        let resp = agent.get("/spin").await;
        let took = started.elapsed();
        let holder = holder.await.unwrap();
        if resp.status() == 503 {
            assert_eq!(
                holder, 504,
                "the call holding the slot ran into the time limit"
            );
            break (resp, took);
        }
        assert_eq!(resp.status(), 504);
    };
    assert_eq!(resp.headers()["x-edgesync-error"], "concurrency_limit");
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(
        took < Duration::from_millis(LIMIT_MS),
        "refused only after {took:?}"
    );

    // Memory limit: 507, and the agent still serves.
    let resp = agent.get("/bomb").await;
    assert_eq!(resp.status(), 507);
    assert_eq!(resp.headers()["x-edgesync-error"], "memory_limit");
    echo_ok().await;

    // Every failure was counted.
    let status = agent.status().await;
    let stats = |name: &str| {
        status["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["stats"]
            .clone()
    };
    let spin_stats = stats("spin");
    assert!(
        spin_stats["timeouts"].as_u64().unwrap() >= 2,
        "{spin_stats}"
    );
    assert!(
        spin_stats["rejected"].as_u64().unwrap() >= 1,
        "{spin_stats}"
    );
    assert_eq!(stats("bomb")["memory_limits"], 1);
    assert_eq!(stats("echo")["errors"], 0);
}
