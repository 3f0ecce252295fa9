//! The server's request paths in process, without sockets: a node's heartbeat and an unchanged
//! sync poll (answered 304) through the whole HTTP application (middleware, routing,
//! authentication, body parsing, the control plane, the answer), each printed as a ratio against
//! `GET /bench/hello` through the same application in the same run.
//!
//! What a socket costs (TCP, HTTP/1 parsing and writing) is the same for every route, so these
//! ratios are lower than the fleet simulator's end-to-end ones: they show what the server's own
//! work on a request costs, and where a change to it moves the figure.
//!
//! `cargo bench -p edgesync-server --bench request_paths` (add `-- --nodes 64` for a quick run).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use edgesync_server::config::ServeArgs;
use edgesync_server::{app, wiring};
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request};
use serde_json::{Value, json};

/// The server binary's allocator, so allocation costs what it costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Median time per request over `rounds` rounds of `iters` requests; `make(i)` builds request i.
async fn time_per_request(
    ep: &BoxEndpoint<'static, poem::Response>,
    rounds: usize,
    iters: usize,
    expect: StatusCode,
    make: impl Fn(usize) -> Request,
) -> Duration {
    let mut samples = Vec::with_capacity(rounds);
    let mut i = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            let resp = ep.call(make(i)).await.unwrap();
            assert_eq!(resp.status(), expect);
            black_box(resp.into_body().into_bytes().await.unwrap());
            i += 1;
        }
        samples.push(start.elapsed() / iters as u32);
    }
    samples.sort();
    samples[rounds / 2]
}

fn report(name: &str, measured: Duration, baseline: Duration) {
    println!(
        "{name:<40} {:>9.2} µs/request   {:>5.2}× the baseline's rate (GET /bench/hello: {:.2} µs/request)",
        measured.as_secs_f64() * 1e6,
        baseline.as_secs_f64() / measured.as_secs_f64().max(1e-12),
        baseline.as_secs_f64() * 1e6,
    );
}

fn nodes_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--nodes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(nodes_arg()));
}

async fn run(nodes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut args =
        ServeArgs::defaults_for(dir.path().join("data"), "127.0.0.1:8080".parse().unwrap());
    args.bench_routes = true;
    args.rate_limit_rps = 0;
    let edgesync = wiring::build(&args).await.unwrap();
    let admin = edgesync
        .bootstrap_admin_key()
        .await
        .unwrap()
        .unwrap()
        .secret;
    let ep = app(&edgesync, args.http_limits()).map_to_response().boxed();

    let json_request = |method: Method, path: String, token: &str, body: &Value| {
        Request::builder()
            .method(method)
            .uri(path.parse().unwrap())
            .header("authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .body(serde_json::to_vec(body).unwrap())
    };
    eprintln!("registering {nodes} nodes…");
    let mut fleet: Vec<(String, String)> = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let body = json!({"name": format!("bench-{i}"), "pop": "fra", "region": "eu", "labels": {"tier": "edge"}, "agent_version": "1.0"});
        let resp = ep
            .call(json_request(
                Method::POST,
                "/api/v1/nodes/register".into(),
                &admin,
                &body,
            ))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let v: Value =
            serde_json::from_slice(&resp.into_body().into_bytes().await.unwrap()).unwrap();
        fleet.push((
            v["node_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        ));
    }
    // Every node learns its sync revision once, as a polling node would.
    let mut revisions = Vec::with_capacity(nodes);
    for (id, token) in &fleet {
        let req = Request::builder()
            .uri(format!("/api/v1/nodes/{id}/sync").parse().unwrap())
            .header("authorization", format!("Bearer {token}"))
            .finish();
        let resp = ep.call(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        revisions.push(resp.headers()["etag"].to_str().unwrap().to_owned());
    }

    let (rounds, iters) = (15, 2_000);
    let hello = || async {
        time_per_request(&ep, rounds, iters, StatusCode::OK, |_| {
            Request::builder()
                .uri("/bench/hello".parse().unwrap())
                .finish()
        })
        .await
    };
    let heartbeat_body = json!({"resources": {"cpu_percent": 3.5, "memory_bytes": 104857600}});
    // Baseline before and after: the faster one counts, so a slow start flatters nothing.
    let hello_first = hello().await;
    let heartbeat = time_per_request(&ep, rounds, iters, StatusCode::OK, |i| {
        let (id, token) = &fleet[i % fleet.len()];
        json_request(
            Method::POST,
            format!("/api/v1/nodes/{id}/heartbeat"),
            token,
            &heartbeat_body,
        )
    })
    .await;
    let not_modified = time_per_request(&ep, rounds, iters, StatusCode::NOT_MODIFIED, |i| {
        let n = i % fleet.len();
        let (id, token) = &fleet[n];
        Request::builder()
            .uri(format!("/api/v1/nodes/{id}/sync").parse().unwrap())
            .header("authorization", format!("Bearer {token}"))
            .header("if-none-match", &revisions[n])
            .finish()
    })
    .await;
    let baseline = hello_first.min(hello().await);

    println!("request paths in process, {nodes} nodes (sled store), one thread:");
    report("POST /api/v1/nodes/{id}/heartbeat", heartbeat, baseline);
    report("GET /api/v1/nodes/{id}/sync → 304", not_modified, baseline);
}
