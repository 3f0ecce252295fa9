//! Telemetry (ingest, query, downsampling, retention), commands (lifecycle, expiry, cancel,
//! duplicate delivery, late results) and `/metrics` parsed by a Prometheus text parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Harness, assert_problem, json_of};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

fn ts(h: &Harness, offset_s: i64) -> String {
    let now = edgesync_core::Clock::now(h.clock.as_ref()).as_offset_date_time();
    (now + time::Duration::seconds(offset_s))
        .format(&Rfc3339)
        .unwrap()
}

async fn push(h: &Harness, node: &str, token: &str, body: Value) -> poem::test::TestResponse {
    h.client
        .post(format!("/api/v1/nodes/{node}/telemetry"))
        .header("Authorization", Harness::bearer(token))
        .body_json(&body)
        .send()
        .await
}

#[tokio::test]
async fn telemetry_ingest_query_downsample_and_retention() {
    let h = Harness::new().await;
    let (node, token) = h.register("t1", json!({})).await;
    let points: Vec<Value> = (0..60)
        .map(|i| json!({"metric": "cpu", "value": i as f64, "labels": {"core": "0"}, "ts": ts(&h, -600 + i * 10)}))
        .collect();
    let resp = push(&h, &node, &token, json!({"points": points, "events": [{"kind": "function_trap", "level": "error", "message": "unreachable", "ts": ts(&h, -5)}]})).await;
    resp.assert_status_is_ok();
    assert_eq!(json_of(resp).await["accepted"], 61);

    let (status, raw) = h
        .get_json(&format!("/api/v1/nodes/{node}/telemetry?metric=cpu"))
        .await;
    assert_eq!(status, 200, "{raw}");
    let pts = raw["points"].as_array().unwrap();
    assert_eq!(pts.len(), 60);
    assert!(
        pts.windows(2)
            .all(|w| w[0]["ts"].as_str() < w[1]["ts"].as_str()),
        "time order"
    );

    let since = ts(&h, -600).replace(':', "%3A").replace('+', "%2B");
    let (_, buckets) = h
        .get_json(&format!(
            "/api/v1/nodes/{node}/telemetry?metric=cpu&step=60&since={since}"
        ))
        .await;
    let b = buckets["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 10, "{buckets}");
    assert_eq!(b[0]["count"], 6);
    assert_eq!(b[0]["min"], 0.0);
    assert_eq!(b[0]["max"], 5.0);
    assert_eq!(b[0]["avg"], 2.5);

    let (_, events) = h
        .get_json(&format!(
            "/api/v1/nodes/{node}/telemetry?metric=event.function_trap"
        ))
        .await;
    assert_eq!(events["points"][0]["labels"]["message"], "unreachable");

    // Bad batches are rejected whole.
    for bad in [
        json!({"points": [{"metric": "ok", "value": 1.0, "ts": ts(&h, 0)}, {"metric": "bad name!", "value": 1.0, "ts": ts(&h, 0)}]}),
        json!({"points": [{"metric": "future", "value": 1.0, "ts": ts(&h, 3600)}]}),
        json!({"points": [{"metric": "ancient", "value": 1.0, "ts": ts(&h, -30 * 86400)}]}),
        json!({"points": []}),
        json!({"events": [{"kind": "x", "level": "panic", "ts": ts(&h, 0)}]}),
        json!({"points": [{"metric": "x", "value": 1.0, "ts": ts(&h, 0), "extra": 1}]}),
    ] {
        assert_problem(push(&h, &node, &token, bad).await, 400, "invalid_request").await;
    }
    let (_, ok) = h
        .get_json(&format!("/api/v1/nodes/{node}/telemetry?metric=ok"))
        .await;
    assert!(
        ok["points"].as_array().unwrap().is_empty(),
        "part of a rejected batch was stored"
    );

    // Retention: eight days later everything is pruned.
    h.clock.advance(Duration::from_secs(8 * 86400));
    assert_eq!(h.edgesync.prune_telemetry().await.unwrap(), 61);
    let (_, gone) = h.get_json(&format!("/api/v1/nodes/{node}/telemetry")).await;
    assert!(gone["points"].as_array().unwrap().is_empty());

    // Another node's token cannot push for this node.
    let (_, other) = h.register("t2", json!({})).await;
    assert_problem(
        push(
            &h,
            &node,
            &other,
            json!({"points": [{"metric": "m", "value": 1.0, "ts": ts(&h, 0)}]}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

async fn queue(h: &Harness, node: &str, body: Value) -> poem::test::TestResponse {
    h.client
        .post(format!("/api/v1/nodes/{node}/commands"))
        .header("Authorization", Harness::bearer(&h.admin))
        .body_json(&body)
        .send()
        .await
}

async fn receive(h: &Harness, node: &str, token: &str) -> Vec<Value> {
    let resp = h
        .client
        .get(format!("/api/v1/nodes/{node}/commands"))
        .header("Authorization", Harness::bearer(token))
        .send()
        .await;
    resp.assert_status_is_ok();
    json_of(resp).await["items"].as_array().unwrap().clone()
}

async fn report(h: &Harness, node: &str, token: &str, cid: &str, status: &str) -> Value {
    let resp = h
        .client
        .post(format!("/api/v1/nodes/{node}/commands/{cid}/result"))
        .header("Authorization", Harness::bearer(token))
        .body_json(&json!({"status": status, "output": {"ok": status == "succeeded"}}))
        .send()
        .await;
    resp.assert_status_is_ok();
    json_of(resp).await
}

#[tokio::test]
async fn command_lifecycle_expiry_cancel_duplicates_and_late_results() {
    let h = Harness::new().await;
    let (node, token) = h.register("c1", json!({})).await;
    assert!(receive(&h, &node, &token).await.is_empty());

    let resp = queue(&h, &node, json!({"kind": "flush_cache", "payload": {"all": true}, "timeout_s": 60, "idempotency_key": "k1"})).await;
    resp.assert_status(poem::http::StatusCode::CREATED);
    let cmd = json_of(resp).await;
    let cid = cmd["id"].as_str().unwrap().to_owned();
    assert_eq!(cmd["status"], "queued");

    // The same key again: the same command, not a second one.
    let again = queue(
        &h,
        &node,
        json!({"kind": "flush_cache", "payload": {"all": true}, "idempotency_key": "k1"}),
    )
    .await;
    again.assert_status_is_ok();
    assert_eq!(json_of(again).await["id"], cid.as_str());
    assert_problem(
        queue(
            &h,
            &node,
            json!({"kind": "restart_function", "idempotency_key": "k1"}),
        )
        .await,
        409,
        "idempotency_key_reused",
    )
    .await;

    // At-least-once: delivered until the node reports.
    let first = receive(&h, &node, &token).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["status"], "delivered");
    let second = receive(&h, &node, &token).await;
    assert_eq!(second[0]["id"], cid.as_str());
    assert_eq!(second[0]["deliveries"], 2);
    let done = report(&h, &node, &token, &cid, "succeeded").await;
    assert_eq!(done["status"], "succeeded");
    assert!(receive(&h, &node, &token).await.is_empty());
    // A repeated report changes nothing.
    assert_eq!(
        report(&h, &node, &token, &cid, "failed").await["status"],
        "succeeded"
    );

    // Expiry: past the deadline the maintenance pass times it out; a late result is kept apart.
    let late =
        json_of(queue(&h, &node, json!({"kind": "run_migration", "timeout_s": 5})).await).await;
    let late_id = late["id"].as_str().unwrap().to_owned();
    receive(&h, &node, &token).await;
    h.clock.advance(Duration::from_secs(6));
    assert_eq!(
        h.edgesync
            .run_maintenance()
            .await
            .unwrap()
            .commands_timed_out,
        1
    );
    let after = report(&h, &node, &token, &late_id, "succeeded").await;
    assert_eq!(after["status"], "timed_out");
    assert_eq!(after["late_result"]["succeeded"], true);

    // Cancel.
    let c = json_of(
        queue(
            &h,
            &node,
            json!({"kind": "custom_thing", "payload": [1, 2]}),
        )
        .await,
    )
    .await;
    let c_id = c["id"].as_str().unwrap();
    let resp = h
        .client
        .post(format!("/api/v1/nodes/{node}/commands/{c_id}/cancel"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    assert_eq!(json_of(resp).await["status"], "canceled");
    assert!(
        receive(&h, &node, &token).await.is_empty(),
        "a canceled command is not delivered"
    );
    let resp = h
        .client
        .post(format!("/api/v1/nodes/{node}/commands/{c_id}/cancel"))
        .header("Authorization", Harness::bearer(&h.admin))
        .send()
        .await;
    assert_problem(resp, 409, "command_finished").await;

    let (_, history) = h
        .get_json(&format!("/api/v1/nodes/{node}/commands/history"))
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 3);
    let (_, timed_out) = h
        .get_json(&format!(
            "/api/v1/nodes/{node}/commands/history?status=timed_out"
        ))
        .await;
    assert_eq!(timed_out["items"].as_array().unwrap().len(), 1);

    // Bad input.
    assert_problem(
        queue(&h, &node, json!({"kind": "x", "timeout_s": 0})).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        queue(&h, &node, json!({"kind": "bad kind!"})).await,
        400,
        "invalid_request",
    )
    .await;
    let (status, _) = h
        .get_json(&format!(
            "/api/v1/nodes/{node}/commands/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_parse_and_move_with_the_fleet() {
    let h = Harness::new().await;
    let scrape = || async {
        let resp = h.client.get("/metrics").send().await;
        resp.assert_status_is_ok();
        let text = resp.0.into_body().into_string().await.unwrap();
        let lines: Vec<_> = text.lines().map(|l| Ok(l.to_owned())).collect();
        prometheus_parse::Scrape::parse(lines.into_iter()).unwrap()
    };
    let value = |s: &prometheus_parse::Scrape, name: &str, label: (&str, &str)| -> f64 {
        s.samples
            .iter()
            .find(|x| x.metric == name && x.labels.get(label.0) == Some(label.1))
            .map(|x| match x.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or(0.0)
    };
    let before = scrape().await;
    assert_eq!(value(&before, "edgesync_nodes", ("status", "online")), 0.0);
    h.register("m1", json!({})).await;
    h.register("m2", json!({})).await;
    let after = scrape().await;
    assert_eq!(value(&after, "edgesync_nodes", ("status", "online")), 2.0);
    h.clock.advance(Duration::from_secs(31));
    let later = scrape().await;
    assert_eq!(value(&later, "edgesync_nodes", ("status", "offline")), 2.0);
    assert!(
        later
            .samples
            .iter()
            .all(|s| s.metric.starts_with("edgesync_")),
        "every metric is prefixed"
    );
    assert!(later.samples.iter().any(|s| {
        s.metric
            .starts_with("edgesync_http_request_duration_seconds")
    }));
    // Auth failures are counted by reason.
    h.client.get("/api/v1/nodes").send().await;
    let s = scrape().await;
    assert!(
        value(
            &s,
            "edgesync_auth_failures_total",
            ("reason", "missing_credentials")
        ) >= 1.0
    );
}
