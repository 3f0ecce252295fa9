//! Notification fan-out through a real broker: the time for N nodes' notifications to reach a
//! subscriber, as a ratio against a bare rumqttc client publishing the same messages to the
//! same broker in the same run.
//!
//! ```text
//! EDGESYNC_TEST_MQTT_URL=mqtt://127.0.0.1:1883 cargo bench -p edgesync-mqtt --bench fanout          # N = 10000, 5 rounds
//! EDGESYNC_TEST_MQTT_URL=mqtt://127.0.0.1:1883 cargo bench -p edgesync-mqtt --bench fanout -- 2000 3
//! ```
//!
//! Without `EDGESYNC_TEST_MQTT_URL` it says so and exits successfully. Each round sends one
//! notification per node (`<prefix>/s<k>/nodes/<i>/sync`, a JSON payload of about 100 bytes,
//! QoS 1) and stops the clock when independent subscribers have received all N. There are
//! [`SUBSCRIBERS`] of them (QoS 1, each on its own shard `s<k>`), as a fleet has many: a broker
//! keeps only so many QoS 1 messages queued for one client (Mosquitto: 1,000 by default) and
//! drops the rest, so one subscriber for 10k nodes would measure the broker's queue limit. Rounds run interleaved (a warm-up round first, discarded); each row reports
//! its median:
//!
//! * `(a)` baseline: a bare `rumqttc::AsyncClient` publishing the N messages itself, one
//!   `publish` call after the other on its own event loop;
//! * `(b)` ours: `MqttNotifier::publish` of the N notifications (what a deploy touching N nodes
//!   does), through its bounded queue and self-reconnecting publisher.
//!
//! The ratio is `t_a / t_b`: 1.00 is as fast as the bare client, 0.50 half as fast.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_core::{Notification, Notifier};
use edgesync_mqtt::{MqttConfig, MqttNotifier, MqttNotifierOptions};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// Independent subscribing clients; node `i` is on shard `i % SUBSCRIBERS`.
const SUBSCRIBERS: usize = 32;

/// How long a round may take before the bench gives up on it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(120);

fn options(config: &MqttConfig, client_id: String) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, config.host.clone(), config.port);
    options.set_max_packet_size(1024 * 1024, 1024 * 1024);
    options.set_keep_alive(Duration::from_secs(30));
    if let Some(user) = &config.username {
        options.set_credentials(user, config.password.clone().unwrap_or_default());
    }
    options
}

/// Drives `eventloop` until the process ends, forwarding every received publish's topic.
fn drive(mut eventloop: EventLoop, received: Option<mpsc::UnboundedSender<String>>) {
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(tx) = &received {
                        let _ = tx.send(p.topic);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("MQTT connection error: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

/// The messages of one round: one per node, under a topic prefix unique to the round.
fn messages(prefix: &str, n: usize) -> Vec<Notification> {
    (0..n)
        .map(|i| Notification {
            topic: format!("{prefix}/s{}/nodes/{i}/sync", i % SUBSCRIBERS),
            payload: Bytes::from(format!(
                r#"{{"kind":"sync","node":{i},"revision":"t-{i:016x}","reason":"deployment"}}"#
            )),
        })
        .collect()
}

/// Waits until `n` messages under `prefix` arrived; the time since `started`.
async fn received_all(
    rx: &mut mpsc::UnboundedReceiver<String>,
    prefix: &str,
    n: usize,
    started: Instant,
) -> Duration {
    let mut got = 0;
    while got < n {
        let topic = tokio::time::timeout(ROUND_TIMEOUT, rx.recv())
            .await
            .expect("the subscriber stopped receiving")
            .expect("the subscriber's connection ended");
        if topic.starts_with(prefix) {
            got += 1;
        }
    }
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let Ok(url) = std::env::var("EDGESYNC_TEST_MQTT_URL") else {
        println!("SKIPPED: the fan-out bench needs EDGESYNC_TEST_MQTT_URL (a running broker)");
        return;
    };
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000);
    let rounds = args.get(1).copied().unwrap_or(5).max(1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(&url, n, rounds));
}

async fn run(url: &str, n: usize, rounds: usize) {
    let config = MqttConfig::parse(url, MqttNotifierOptions::default()).unwrap();
    let run_id = format!("{:x}", std::process::id());
    let base = format!("edgesync-bench/{run_id}");

    // The subscribers, connected and subscribed before anything is sent.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut subscribers = Vec::new();
    for k in 0..SUBSCRIBERS {
        let (sub, sub_loop) =
            AsyncClient::new(options(&config, format!("bench-sub{k}-{run_id}")), 64);
        drive(sub_loop, Some(tx.clone()));
        sub.subscribe(format!("{base}/+/s{k}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        sub.subscribe(format!("{base}/ready/{k}"), QoS::AtLeastOnce)
            .await
            .unwrap();
        subscribers.push(sub);
    }
    // A marker per subscriber proves its subscriptions are active.
    let (raw, raw_loop) = AsyncClient::new(options(&config, format!("bench-raw-{run_id}")), 1024);
    drive(raw_loop, None);
    let mut ready = std::collections::BTreeSet::new();
    while ready.len() < SUBSCRIBERS {
        for k in (0..SUBSCRIBERS).filter(|k| !ready.contains(k)) {
            raw.publish(
                format!("{base}/ready/{k}"),
                QoS::AtLeastOnce,
                false,
                "ready",
            )
            .await
            .unwrap();
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Ok(Some(topic)) = tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            if let Some(k) = topic
                .rsplit('/')
                .next()
                .and_then(|k| k.parse::<usize>().ok())
            {
                ready.insert(k);
            }
        }
    }

    let ours = MqttNotifier::connect(
        url,
        MqttNotifierOptions {
            queue_capacity: n.max(10_000),
            client_id: Some(format!("bench-ours-{run_id}")),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        ours.wait_connected(Duration::from_secs(10)).await,
        "the notifier did not connect to {}:{}",
        config.host,
        config.port
    );

    let (mut raw_times, mut our_times) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let prefix = format!("{base}/r{round}a");
        let batch = messages(&prefix, n);
        let started = Instant::now();
        for m in batch {
            raw.publish_bytes(m.topic, QoS::AtLeastOnce, false, m.payload)
                .await
                .unwrap();
        }
        let t_raw = received_all(&mut rx, &prefix, n, started).await;

        let prefix = format!("{base}/r{round}b");
        let batch = messages(&prefix, n);
        let started = Instant::now();
        for m in batch {
            ours.publish(m);
        }
        let t_ours = received_all(&mut rx, &prefix, n, started).await;

        if round > 0 {
            raw_times.push(t_raw);
            our_times.push(t_ours);
        }
    }

    let (a, b) = (median(raw_times), median(our_times));
    let stats = ours.shutdown(Duration::from_secs(5)).await;
    println!(
        "notification fan-out through {}:{}: N = {n} notifications (one per node, QoS 1, ~100 B), \
         {rounds} rounds + 1 warm-up, interleaved, median of each; time until {SUBSCRIBERS} subscribers have all N",
        config.host, config.port
    );
    println!(
        "row                                              notifications      median   per second   ratio"
    );
    println!(
        "(a) bare rumqttc client, publish one after another  {n:>10}  {:>8.1} ms  {:>11.0}    base",
        a.as_secs_f64() * 1e3,
        n as f64 / a.as_secs_f64()
    );
    println!(
        "(b) MqttNotifier::publish (queue + publisher)      {n:>10}  {:>8.1} ms  {:>11.0}    {:.2}",
        b.as_secs_f64() * 1e3,
        n as f64 / b.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64()
    );
    println!("notifier counters after the run: {stats:?}");
    println!(
        "ratio = t(a) / t(row) in this run: 1.00 = as fast as a bare rumqttc client, 0.50 = half as fast"
    );
}
