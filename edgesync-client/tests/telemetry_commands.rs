//! Telemetry and commands against the real server: a node pushes samples and operators read
//! them; operators queue commands, the node receives them and reports results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, register_request};
use edgesync_client::TelemetryFilter;
use edgesync_client::wire::{
    CommandOutcome, CommandResultRequest, CommandStatus, QueueCommandRequest, TelemetryBatch,
    TelemetrySample,
};
use serde_json::json;
use time::OffsetDateTime;

#[tokio::test]
async fn telemetry_round_trip() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let reg = admin
        .register_node(&register_request("edge-t", &[]))
        .await
        .unwrap();
    let node = server
        .builder()
        .build()
        .unwrap()
        .node_with_token(reg.node_id, &reg.token);
    let batch = TelemetryBatch {
        points: vec![TelemetrySample {
            metric: "function.invocations".into(),
            value: 3.0,
            labels: [("function".to_owned(), "hello".to_owned())].into(),
            ts: OffsetDateTime::now_utc(),
        }],
        events: Vec::new(),
    };
    assert_eq!(node.push_telemetry(&batch).await.unwrap().accepted, 1);

    let series = admin
        .node_telemetry(
            reg.node_id,
            &TelemetryFilter {
                metric: Some("function.invocations".into()),
                since: Some(OffsetDateTime::now_utc() - time::Duration::minutes(5)),
                ..TelemetryFilter::default()
            },
        )
        .await
        .unwrap();
    let points = series.points.unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].value, 3.0);

    // A bad batch is refused whole.
    let mut bad = batch.clone();
    bad.points[0].metric = "not a metric".into();
    let err = node.push_telemetry(&bad).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_request"));
}

#[tokio::test]
async fn commands_round_trip() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let reg = admin
        .register_node(&register_request("edge-c", &[]))
        .await
        .unwrap();
    let node = server
        .builder()
        .build()
        .unwrap()
        .node_with_token(reg.node_id, &reg.token);

    let request = QueueCommandRequest {
        kind: "flush_cache".into(),
        payload: json!({}),
        timeout_s: 60,
        idempotency_key: Some("flush-1".into()),
    };
    let (queued, created) = admin.queue_command(reg.node_id, &request).await.unwrap();
    assert!(created);
    let (again, created) = admin.queue_command(reg.node_id, &request).await.unwrap();
    assert!(!created, "the idempotency key names the first command");
    assert_eq!(again.id, queued.id);

    let delivered = node.receive_commands().await.unwrap();
    assert_eq!(delivered.items.len(), 1);
    assert_eq!(delivered.items[0].kind, "flush_cache");
    let done = node
        .report_command_result(
            queued.id,
            &CommandResultRequest {
                status: CommandOutcome::Succeeded,
                output: json!({"dropped_modules": 2}),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, CommandStatus::Succeeded);
    assert!(node.receive_commands().await.unwrap().items.is_empty());

    let read = admin.get_command(reg.node_id, queued.id).await.unwrap();
    assert_eq!(read.output.unwrap()["dropped_modules"], 2);
    let listed = admin
        .list_commands(reg.node_id, Some(CommandStatus::Succeeded), None)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    let (other, _) = admin
        .queue_command(
            reg.node_id,
            &QueueCommandRequest {
                idempotency_key: None,
                kind: "health_probe".into(),
                ..request
            },
        )
        .await
        .unwrap();
    let canceled = admin.cancel_command(reg.node_id, other.id).await.unwrap();
    assert_eq!(canceled.status, CommandStatus::Canceled);
}
