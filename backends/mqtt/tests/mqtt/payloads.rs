//! What the notifier sends is exactly what a subscriber receives.

use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::Notifier;
use edgesync_core::notify::NotifierHealth;
use edgesync_mqtt::{MqttNotifier, MqttNotifierOptions};

use crate::support::{Subscriber, notification, test_url, unique};

const FILTERS: &[&str] = &["edgesync/nodes/+/sync", "edgesync/nodes/+/deploy"];

#[tokio::test]
async fn subscriber_receives_exact_topics_and_payloads() {
    let Some(url) = test_url() else { return };
    let run = unique();
    let mut sub = Subscriber::connect(&url, FILTERS).await;
    let mqtt = MqttNotifier::connect(&url, MqttNotifierOptions::default()).unwrap();
    assert!(mqtt.wait_connected(Duration::from_secs(5)).await);
    assert_eq!(mqtt.health(), NotifierHealth::Ok);

    let deploy = format!(
        r#"{{"function_id":"{run}-f","version":3,"artifact_url":"https://cp.example/api/v1/functions/f/download?sig=abc&exp=1","sha256":"{}","memory_pages":16,"max_execution_ms":250}}"#,
        "ab".repeat(32)
    );
    let sent: Vec<(String, Bytes)> = vec![
        (
            format!("edgesync/nodes/{run}-a/sync"),
            Bytes::from(format!(r#"{{"node_id":"{run}-a","revision":42}}"#)),
        ),
        (
            format!("edgesync/nodes/{run}-a/deploy"),
            Bytes::from(deploy),
        ),
        (
            format!("edgesync/nodes/{run}-b/sync"),
            Bytes::from_static(&[0, 1, 0xfe, 0xff, b'\n', b'{']),
        ),
        (format!("edgesync/nodes/{run}-c/sync"), Bytes::new()),
    ];
    for (topic, payload) in &sent {
        mqtt.publish(notification(topic.clone(), payload.clone()));
    }

    let started = Instant::now();
    let mut got = sub.collect(&run, sent.len(), Duration::from_secs(5)).await;
    println!(
        "received {} notifications in {:?}",
        got.len(),
        started.elapsed()
    );
    // Nothing else arrives afterwards (no duplicates, nothing unexpected).
    got.extend(sub.collect(&run, 1, Duration::from_millis(300)).await);
    assert_eq!(got, sent);

    let stats = mqtt.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.published, stats.acked), (4, 4), "{stats:?}");
    assert_eq!(
        (stats.dropped, stats.failed, stats.queued),
        (0, 0, 0),
        "{stats:?}"
    );
    assert!(matches!(mqtt.health(), NotifierHealth::Degraded(_)));
}

#[tokio::test]
async fn shutdown_flushes_what_is_queued() {
    let Some(url) = test_url() else { return };
    let run = unique();
    // A topic of this run's own, so that other tests publishing on the shared broker at the
    // same time do not crowd this subscriber's queue at the broker; and no more messages than
    // Mosquitto queues for a subscriber by default (`max_queued_messages` 1000 beyond the 20 in
    // flight; it drops the newest beyond that), so a subscriber that reads nothing during the
    // burst still receives them all.
    let filter = format!("edgesync/shutdown/{run}/#");
    let mut sub = Subscriber::connect(&url, &[filter.as_str()]).await;
    let mqtt = MqttNotifier::connect(&url, MqttNotifierOptions::default()).unwrap();
    assert!(mqtt.wait_connected(Duration::from_secs(5)).await);

    const N: usize = 1_000;
    for i in 0..N {
        mqtt.publish(notification(
            format!("edgesync/shutdown/{run}/{i}"),
            i.to_string(),
        ));
    }
    let started = Instant::now();
    let stats = mqtt.shutdown(Duration::from_secs(10)).await;
    println!(
        "shutdown flushed {N} notifications in {:?}",
        started.elapsed()
    );
    assert_eq!(
        (stats.published, stats.acked),
        (N as u64, N as u64),
        "{stats:?}"
    );

    let got = sub.collect(&run, N, Duration::from_secs(5)).await;
    let payloads: Vec<Bytes> = got.into_iter().map(|(_, p)| p).collect();
    let expected: Vec<Bytes> = (0..N).map(|i| Bytes::from(i.to_string())).collect();
    assert_eq!(payloads, expected, "all of them, in order");

    // After shutdown, publish is a counted drop.
    mqtt.publish(notification(format!("edgesync/nodes/{run}/sync"), "late"));
    assert_eq!(mqtt.stats().dropped, 1);
}

#[tokio::test]
async fn bad_notifications_fail_without_breaking_the_connection() {
    let Some(url) = test_url() else { return };
    let run = unique();
    let mut sub = Subscriber::connect(&url, FILTERS).await;
    let options = MqttNotifierOptions {
        max_packet_size: 1024,
        ..Default::default()
    };
    let mqtt = MqttNotifier::connect(&url, options).unwrap();
    assert!(mqtt.wait_connected(Duration::from_secs(5)).await);

    mqtt.publish(notification(
        "edgesync/nodes/+/sync",
        "wildcards are not topic names",
    ));
    mqtt.publish(notification("", "empty topic"));
    mqtt.publish(notification(
        format!("edgesync/nodes/{run}/deploy"),
        vec![b'x'; 4096],
    ));
    mqtt.publish(notification(format!("edgesync/nodes/{run}/sync"), "ok"));

    let got = sub.collect(&run, 1, Duration::from_secs(5)).await;
    assert_eq!(
        got,
        vec![(format!("edgesync/nodes/{run}/sync"), Bytes::from("ok"))]
    );
    let stats = mqtt.stats();
    assert_eq!((stats.failed, stats.published), (3, 1), "{stats:?}");
    assert_eq!(
        (stats.connection_errors, stats.reconnects),
        (0, 0),
        "{stats:?}"
    );
    assert_eq!(mqtt.health(), NotifierHealth::Ok);
}
