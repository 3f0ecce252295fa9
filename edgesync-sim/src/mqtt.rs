//! Simulated nodes that learn of a new target from MQTT instead of holding a long poll: each
//! subscribes (QoS 1) to its own `edgesync/nodes/{id}/sync` topic and polls once when a
//! notification names a revision it does not have.
//!
//! A real node holds its own broker connection; the simulator shares [`CLIENTS`] connections
//! between its nodes (every node still has its own subscription, so the broker routes each
//! notification to exactly one node, as in a fleet) because a broker keeps only so many QoS 1
//! messages queued for one client (Mosquitto: 1,000) and a process only so many sockets.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Broker connections the simulated nodes share.
pub(crate) const CLIENTS: usize = 16;

/// Subscriptions per SUBSCRIBE packet.
const FILTERS_PER_SUBSCRIBE: usize = 100;

/// A received notification: the node it names and the revision it announces.
pub(crate) struct Notified {
    /// The node's id (from the topic).
    pub(crate) node_id: String,
    /// `revision` from the payload, when it has one.
    pub(crate) revision: Option<String>,
}

/// The simulated nodes' broker connections and what they received.
pub(crate) struct Subscribers {
    /// Every notification any of the connections received, in arrival order.
    pub(crate) received: mpsc::UnboundedReceiver<Notified>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `host` and `port` of an `mqtt://host:port` URL.
fn broker(url: &str) -> anyhow::Result<(String, u16)> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("bad MQTT URL {url}"))?;
    if parsed.scheme() != "mqtt" {
        bail!("the simulator's nodes speak plain mqtt:// only, not {url}");
    }
    let host = parsed.host_str().context("the MQTT URL has no host")?;
    Ok((host.to_owned(), parsed.port().unwrap_or(1883)))
}

/// What a notification says: the node in `edgesync/nodes/{id}/sync` and the payload's revision.
fn parse(topic: &str, payload: &[u8]) -> Option<Notified> {
    let node_id = topic
        .strip_prefix("edgesync/nodes/")?
        .strip_suffix("/sync")?
        .to_owned();
    let revision = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| v["revision"].as_str().map(str::to_owned));
    Some(Notified { node_id, revision })
}

/// Subscribes every node in `node_ids` to its sync topic on the broker at `url`; returns once
/// the broker acknowledged every subscription.
pub(crate) async fn subscribe(
    url: &str,
    run: &str,
    node_ids: &[String],
) -> anyhow::Result<Subscribers> {
    let (host, port) = broker(url)?;
    let (tx, received) = mpsc::unbounded_channel();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut expected = 0;
    let mut tasks = Vec::with_capacity(CLIENTS);
    for k in 0..CLIENTS {
        let mine: Vec<SubscribeFilter> = node_ids
            .iter()
            .skip(k)
            .step_by(CLIENTS)
            .map(|id| SubscribeFilter::new(format!("edgesync/nodes/{id}/sync"), QoS::AtLeastOnce))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut options = MqttOptions::new(format!("edgesync-sim-{run}-{k}"), &host, port);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let tx = tx.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(n) = parse(&p.topic, &p.payload) {
                            let _ = tx.send(n);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    // rumqttc reconnects on the next poll; do not spin while the broker is away.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }));
        for chunk in mine.chunks(FILTERS_PER_SUBSCRIBE) {
            client.subscribe_many(chunk.to_vec()).await?;
            expected += 1;
        }
        // The event loop owns the connection; the client handle only queues requests.
        drop(client);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::Relaxed) < expected {
        if Instant::now() > deadline {
            bail!(
                "the broker at {url} acknowledged {} of {expected} subscriptions within 30 s",
                acked.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Subscribers { received, tasks })
}

/// Node id → position, for routing notifications to simulated nodes.
pub(crate) fn index(node_ids: &[String]) -> HashMap<&str, usize> {
    node_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_notification_names_its_node_and_revision() {
        let n = parse(
            "edgesync/nodes/abc/sync",
            br#"{"node_id":"abc","revision":"r1"}"#,
        )
        .unwrap();
        assert_eq!(n.node_id, "abc");
        assert_eq!(n.revision.as_deref(), Some("r1"));
        assert!(parse("edgesync/nodes/abc/deploy", b"{}").is_none());
        assert!(
            parse("edgesync/nodes/abc/sync", b"not json")
                .unwrap()
                .revision
                .is_none()
        );
    }

    #[test]
    fn only_plain_mqtt_urls_are_accepted() {
        assert_eq!(
            broker("mqtt://127.0.0.1:1884").unwrap(),
            ("127.0.0.1".to_owned(), 1884)
        );
        assert_eq!(broker("mqtt://broker").unwrap().1, 1883);
        assert!(broker("mqtts://broker:8883").is_err());
        assert!(broker("http://broker").is_err());
    }
}
