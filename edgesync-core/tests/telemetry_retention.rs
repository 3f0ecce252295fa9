//! Telemetry across hours: queries read a node's series hour by hour, and retention deletes
//! exactly what is older than the retention while reading little of what it keeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use edgesync_core::control::{Config, Sample, TelemetryQuery, TelemetrySeries};
use edgesync_core::model::*;
use edgesync_core::selector::Labels;
use edgesync_core::store::memory::MemoryStore;
use edgesync_core::testkit::counting::CountingStore;
use edgesync_core::testkit::{MemArtifacts, fixtures};
use edgesync_core::{Clock, EdgeSync, ManualClock};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

async fn server(store: Arc<CountingStore>, clock: Arc<ManualClock>) -> EdgeSync {
    EdgeSync::builder()
        .store(store)
        .artifacts(Arc::new(MemArtifacts::default()))
        .clock(clock)
        .config(Config {
            bcrypt_cost: 4,
            telemetry_retention: 6 * HOUR,
            ..Config::default()
        })
        .build()
        .await
        .unwrap()
}

fn sample(metric: &str, ts: Timestamp, value: f64) -> Sample {
    Sample {
        metric: metric.into(),
        value,
        labels: Labels::new(),
        ts,
    }
}

fn raw(series: TelemetrySeries) -> Vec<TelemetryPoint> {
    match series {
        TelemetrySeries::Raw(points) => points,
        other => panic!("expected raw samples, got {other:?}"),
    }
}

#[tokio::test]
async fn retention_deletes_exactly_the_old_samples_and_reads_little_else() {
    // 00:30 on 2026-01-01: the hours do not start with the retention window.
    let start = Timestamp::from_unix_millis(1_767_225_600_000 + 30 * 60_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
    let es = server(store.clone(), clock.clone()).await;
    let mut nodes = Vec::new();
    for i in 0..4 {
        let node = es
            .register_node(fixtures::registration(&format!("n{i}"), Labels::new()))
            .await
            .unwrap()
            .node;
        nodes.push(node.id);
    }

    // Ten hours: every node sends a cpu and a mem sample every ten minutes.
    let mut stamps = Vec::new();
    for step in 0..60u32 {
        let now = clock.now();
        for node in &nodes {
            es.ingest_telemetry(
                *node,
                vec![
                    sample("cpu", now, f64::from(step)),
                    sample("mem", now, f64::from(step)),
                ],
                Vec::new(),
            )
            .await
            .unwrap();
        }
        stamps.push(now);
        clock.advance(10 * MINUTE);
    }
    let now = clock.now();
    let cutoff = now.minus(6 * HOUR);
    let old = stamps.iter().filter(|ts| **ts < cutoff).count();
    let kept = stamps.len() - old;
    assert!(old > 0 && kept > 0);

    let listed = store.listed();
    let deleted = es.prune_telemetry().await.unwrap();
    assert_eq!(
        deleted,
        old * nodes.len() * 2,
        "exactly the samples before the cutoff"
    );
    // It reads what it deletes, what it keeps of the hour the cutoff falls in (at most an
    // hour's samples) and one sample per hour it visits; not the five later hours it keeps.
    let hour_of_samples = 6 * nodes.len() * 2;
    let hours_visited = 6;
    let read = usize::try_from(store.listed() - listed).unwrap();
    assert!(
        read <= deleted + hour_of_samples + hours_visited,
        "read {read} samples to delete {deleted}"
    );
    assert!(read < 480 / 2, "read {read} of 480 samples");
    assert_eq!(
        es.prune_telemetry().await.unwrap(),
        0,
        "nothing left to delete"
    );

    // What is left is exactly the newer samples, in time order, across the hours.
    let cpu = raw(es
        .telemetry(
            nodes[2],
            &TelemetryQuery {
                metric: Some("cpu".into()),
                since: Some(start),
                ..TelemetryQuery::default()
            },
        )
        .await
        .unwrap());
    let expected: Vec<Timestamp> = stamps.iter().copied().filter(|ts| *ts >= cutoff).collect();
    assert_eq!(cpu.iter().map(|p| p.ts).collect::<Vec<_>>(), expected);
    assert!(
        cpu.iter()
            .all(|p| p.node_id == nodes[2] && p.metric == "cpu")
    );
}

#[tokio::test]
async fn queries_span_hours_and_respect_their_bounds_and_limit() {
    let start = Timestamp::from_unix_millis(1_767_225_600_000 + 50 * 60_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
    let es = server(store.clone(), clock.clone()).await;
    let node = es
        .register_node(fixtures::registration("n", Labels::new()))
        .await
        .unwrap()
        .node
        .id;
    let other = es
        .register_node(fixtures::registration("o", Labels::new()))
        .await
        .unwrap()
        .node
        .id;
    // Every 20 minutes for three hours, from 00:50: samples in four clock hours.
    let mut stamps = Vec::new();
    for step in 0..9u32 {
        let now = clock.now();
        for id in [node, other] {
            es.ingest_telemetry(
                id,
                vec![sample("a", now, f64::from(step)), sample("b", now, 1.0)],
                Vec::new(),
            )
            .await
            .unwrap();
        }
        stamps.push(now);
        clock.advance(20 * MINUTE);
    }

    let all = raw(es
        .telemetry(node, &TelemetryQuery::default())
        .await
        .unwrap());
    assert_eq!(all.len(), 18, "both metrics, every hour, one node");
    assert!(all.iter().all(|p| p.node_id == node));
    for metric in ["a", "b"] {
        let ts: Vec<Timestamp> = all
            .iter()
            .filter(|p| p.metric == metric)
            .map(|p| p.ts)
            .collect();
        assert_eq!(ts, stamps, "{metric} in time order");
    }

    // Bounds: [01:30, 02:50) holds the samples of 01:30, 01:50, 02:10 and 02:30.
    let since = start.plus(40 * MINUTE);
    let until = start.plus(2 * HOUR);
    let a = raw(es
        .telemetry(
            node,
            &TelemetryQuery {
                metric: Some("a".into()),
                since: Some(since),
                until: Some(until),
                ..TelemetryQuery::default()
            },
        )
        .await
        .unwrap());
    assert_eq!(
        a.iter().map(|p| p.value).collect::<Vec<_>>(),
        [2.0, 3.0, 4.0, 5.0]
    );

    // A limit stops at the earliest samples.
    let first = raw(es
        .telemetry(
            node,
            &TelemetryQuery {
                metric: Some("a".into()),
                limit: Some(3),
                ..TelemetryQuery::default()
            },
        )
        .await
        .unwrap());
    assert_eq!(
        first.iter().map(|p| p.value).collect::<Vec<_>>(),
        [0.0, 1.0, 2.0]
    );

    // A range far wider than the data reads no more than the data's own hours.
    let listed = store.listed();
    let wide = raw(es
        .telemetry(
            node,
            &TelemetryQuery {
                metric: Some("b".into()),
                since: Some(start.minus(Duration::from_secs(5 * 86400))),
                until: Some(start.plus(Duration::from_secs(86400))),
                ..TelemetryQuery::default()
            },
        )
        .await
        .unwrap());
    assert_eq!(wide.len(), 9);
    assert!(
        store.listed() - listed <= 9 + 2,
        "two probes and the node's samples"
    );
}
