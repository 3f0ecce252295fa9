//! The task that drives rumqttc's `EventLoop`: connects, reconnects with capped exponential
//! backoff, and reports the link state (for `health()`) and broker acknowledgements.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Event, EventLoop, Outgoing, Packet};
use tokio::sync::watch;

use crate::stats::Counters;

/// The state of the broker connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Never connected yet; the first attempt is under way.
    Connecting,
    /// CONNACK received; publishes flow.
    Connected,
    /// The last attempt failed or the connection was lost; the reason is rumqttc's error.
    Down(String),
    /// Shut down.
    Stopped,
}

impl Link {
    pub(crate) fn is_connected(&self) -> bool {
        matches!(self, Link::Connected)
    }
}

/// Pauses between connection attempts: `min`, doubled after each failure, at most `max`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

/// Polls `eventloop` until the notifier disconnects (or the task is aborted).
///
/// rumqttc reconnects on the next `poll` after an error; this sleeps before that poll so a dead
/// broker costs one attempt per pause, not a spinning CPU.
pub(crate) async fn drive(
    mut eventloop: EventLoop,
    link: watch::Sender<Link>,
    counters: Arc<Counters>,
    backoff: Backoff,
    broker: String,
) {
    let mut pause = backoff.min;
    let mut ever_connected = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if ever_connected {
                    let n = Counters::bump(&counters.reconnects);
                    tracing::info!(%broker, reconnects = n, "reconnected to the MQTT broker");
                } else {
                    tracing::info!(%broker, "connected to the MQTT broker");
                }
                ever_connected = true;
                pause = backoff.min;
                link.send_replace(Link::Connected);
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                Counters::bump(&counters.acked);
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                tracing::info!(%broker, "disconnected from the MQTT broker");
                link.send_replace(Link::Stopped);
                return;
            }
            Ok(_) => {}
            Err(e) => {
                Counters::bump(&counters.connection_errors);
                let reason = e.to_string();
                let was_connected = link.send_replace(Link::Down(reason.clone())).is_connected();
                if was_connected {
                    tracing::warn!(%broker, error = %reason, "lost the MQTT broker; reconnecting");
                } else {
                    tracing::debug!(%broker, error = %reason, retry_in = ?pause, "MQTT connection attempt failed");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(backoff.max);
            }
        }
    }
}
