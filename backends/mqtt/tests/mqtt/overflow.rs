//! A full queue drops the oldest notifications, counts them, and never blocks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::Notifier;
use edgesync_core::notify::NotifierHealth;
use edgesync_mqtt::{MqttConfig, MqttNotifier, MqttNotifierOptions};

use crate::support::{
    Proxy, Subscriber, fast_options, free_port, notification, test_url, unique, wait_until,
};

#[tokio::test]
async fn overflow_with_the_broker_down_counts_drops_and_never_blocks() {
    // Nothing listens on this port: the broker is down for the whole test.
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let options = MqttNotifierOptions {
        queue_capacity: 1_000,
        ..fast_options()
    };
    let mqtt = MqttNotifier::connect(&url, options).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || mqtt.stats().connection_errors
            > 0)
        .await,
        "no connection attempt failed"
    );

    const N: u64 = 50_000;
    let started = Instant::now();
    for i in 0..N {
        mqtt.publish(notification(
            format!("edgesync/nodes/n{i}/sync"),
            i.to_string(),
        ));
    }
    let elapsed = started.elapsed();
    println!("{N} publishes into a queue of 1000 with the broker down took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");

    let stats = mqtt.stats();
    assert_eq!(
        (stats.dropped, stats.queued),
        (N - 1_000, 1_000),
        "{stats:?}"
    );
    assert_eq!((stats.published, stats.failed), (0, 0), "{stats:?}");
    assert!(matches!(mqtt.health(), NotifierHealth::Degraded(_)));
}

#[tokio::test]
async fn overflow_keeps_the_newest_and_delivers_them_once_the_broker_is_back() {
    let Some(url) = test_url() else { return };
    let broker = MqttConfig::parse(&url, MqttNotifierOptions::default()).unwrap();
    let run = unique();
    let mut sub = Subscriber::connect(&url, &["edgesync/nodes/+/sync"]).await;
    // The notifier reaches the broker through a proxy that refuses service until set up.
    let proxy = Proxy::start((broker.host.trim_matches(['[', ']']).to_owned(), broker.port)).await;
    let options = MqttNotifierOptions {
        queue_capacity: 100,
        username: broker.username.clone(),
        password: broker.password.clone(),
        ..fast_options()
    };
    let mqtt = MqttNotifier::connect(&format!("mqtt://127.0.0.1:{}", proxy.port), options).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || mqtt.stats().connection_errors
            > 0)
        .await
    );

    for i in 0..250 {
        mqtt.publish(notification(
            format!("edgesync/nodes/{run}-{i}/sync"),
            i.to_string(),
        ));
    }
    assert_eq!(mqtt.stats().dropped, 150);

    proxy.set_up(true);
    assert!(mqtt.wait_connected(Duration::from_secs(5)).await);
    let got = sub.collect(&run, 100, Duration::from_secs(5)).await;
    let payloads: Vec<Bytes> = got.into_iter().map(|(_, p)| p).collect();
    let newest: Vec<Bytes> = (150..250).map(|i| Bytes::from(i.to_string())).collect();
    assert_eq!(payloads, newest);
    let stats = mqtt.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (stats.published, stats.acked, stats.dropped),
        (100, 100, 150),
        "{stats:?}"
    );
}
