//! A broker outage: publish stays instant, health degrades, the notifier reconnects by itself.

use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::Notifier;
use edgesync_core::notify::NotifierHealth;
use edgesync_mqtt::MqttNotifier;

use crate::support::{
    Broker, Subscriber, fast_options, free_port, notification, on_path, unique, wait_until,
};

#[tokio::test]
async fn survives_a_broker_outage() {
    let Some(mosquitto) = on_path("mosquitto") else {
        return;
    };
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut broker = Broker::on_port(&mosquitto, port).await;
    let run = unique();

    let mqtt = MqttNotifier::connect(&url, fast_options()).unwrap();
    assert!(mqtt.wait_connected(Duration::from_secs(5)).await);
    assert_eq!(mqtt.health(), NotifierHealth::Ok);

    // Outage.
    broker.kill();
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || mqtt.health()
            != NotifierHealth::Ok)
        .await,
        "health stayed Ok with the broker gone"
    );
    println!(
        "outage detected in {:?}: {:?}",
        killed.elapsed(),
        mqtt.health()
    );

    const N: usize = 10_000;
    let started = Instant::now();
    for i in 0..N {
        mqtt.publish(notification(
            format!("edgesync/nodes/{run}-down-{i}/sync"),
            i.to_string(),
        ));
    }
    let elapsed = started.elapsed();
    println!("{N} publishes during the outage took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    let NotifierHealth::Degraded(reason) = mqtt.health() else {
        panic!("health is Ok while the broker is down")
    };
    assert!(reason.contains(&port.to_string()), "{reason}");
    let stats = mqtt.stats();
    assert_eq!(
        (stats.queued, stats.dropped, stats.connected),
        (N, 0, false),
        "{stats:?}"
    );

    // Recovery, on its own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart().await;
    let restarted = Instant::now();
    assert!(
        mqtt.wait_connected(Duration::from_secs(10)).await,
        "did not reconnect: {:?}",
        mqtt.health()
    );
    println!(
        "reconnected {:?} after the broker restarted",
        restarted.elapsed()
    );
    assert_eq!(mqtt.health(), NotifierHealth::Ok);
    assert!(mqtt.stats().reconnects >= 1);

    let mut sub =
        Subscriber::connect(&url, &["edgesync/nodes/+/sync", "edgesync/nodes/+/deploy"]).await;
    let after: Vec<(String, Bytes)> = (0..5)
        .map(|i| {
            (
                format!("edgesync/nodes/{run}-up-{i}/deploy"),
                Bytes::from(format!("after-{i}")),
            )
        })
        .collect();
    for (topic, payload) in &after {
        mqtt.publish(notification(topic.clone(), payload.clone()));
    }
    let got = sub
        .collect(&format!("{run}-up"), after.len(), Duration::from_secs(10))
        .await;
    assert_eq!(got, after);

    // What waited in the queue during the outage was delivered after it.
    assert!(
        wait_until(Duration::from_secs(10), || mqtt.stats().acked
            >= (N + after.len()) as u64)
        .await,
        "{:?}",
        mqtt.stats()
    );
    let stats = mqtt.shutdown(Duration::from_secs(5)).await;
    println!("final stats: {stats:?}");
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn drop_and_shutdown_do_not_hang_while_the_broker_is_down() {
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let mqtt = MqttNotifier::connect(&url, fast_options()).unwrap();
    for i in 0..100 {
        mqtt.publish(notification(
            format!("edgesync/nodes/n{i}/sync"),
            i.to_string(),
        ));
    }
    let started = Instant::now();
    let stats = mqtt.shutdown(Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!((stats.published, stats.queued), (0, 100), "{stats:?}");

    let mqtt = MqttNotifier::connect(&url, fast_options()).unwrap();
    mqtt.publish(notification("edgesync/nodes/n/sync", "x"));
    let started = Instant::now();
    drop(mqtt);
    assert!(started.elapsed() < Duration::from_millis(50));
}

#[test]
fn connect_outside_a_runtime_is_an_error_not_a_panic() {
    let err = MqttNotifier::connect("mqtt://127.0.0.1:1", fast_options()).unwrap_err();
    assert_eq!(err.code(), edgesync_core::ErrorCode::Internal);
}

#[tokio::test]
async fn a_dead_broker_costs_one_attempt_per_pause() {
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let options = edgesync_mqtt::MqttNotifierOptions {
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(200),
        ..Default::default()
    };
    let mqtt = MqttNotifier::connect(&url, options).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Pauses of 50, 100, 200, 200, … ms: about seven attempts in a second, not thousands.
    let attempts = mqtt.stats().connection_errors;
    println!("{attempts} connection attempts in 1 s against a dead port");
    assert!((3..=10).contains(&attempts), "{attempts}");
}
