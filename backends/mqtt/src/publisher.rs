//! The task that takes notifications from the queue and hands them to rumqttc at QoS 1.
//!
//! It only takes from the queue while the broker is connected, so during an outage the newest
//! notifications wait in the bounded queue (and the oldest are dropped) instead of piling up in
//! rumqttc, where a reconnect with a clean session would discard them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use edgesync_core::Notification;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::watch;

use crate::connection::Link;
use crate::queue::Queue;
use crate::stats::Counters;

/// The first wait for room in rumqttc's request channel; doubled per attempt up to
/// [`MAX_ATTEMPT_WAIT`].
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_millis(50);
const MAX_ATTEMPT_WAIT: Duration = Duration::from_secs(1);
/// Room for the fixed header, remaining length, topic length and packet id of a PUBLISH.
const PUBLISH_OVERHEAD: usize = 16;

/// What the publisher needs; shared with the notifier for `shutdown` to see progress.
#[derive(Debug)]
pub(crate) struct Publisher {
    pub(crate) client: AsyncClient,
    pub(crate) queue: Arc<Queue>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) attempts: u32,
    pub(crate) max_packet_size: usize,
    /// True while a notification has left the queue but is not yet published or failed.
    pub(crate) busy: Arc<AtomicBool>,
}

impl Publisher {
    /// Runs until the link is stopped (or the task is aborted).
    pub(crate) async fn run(self, mut link: watch::Receiver<Link>) {
        loop {
            if !wait_connected(&mut link).await {
                return;
            }
            let n = tokio::select! {
                n = self.queue.pop() => n,
                // Wake up on a disconnect so no notification is taken while down.
                r = link.changed() => if r.is_err() { return } else { continue },
            };
            self.busy.store(true, Relaxed);
            let stopped = self.send(n, &mut link).await;
            self.busy.store(false, Relaxed);
            if stopped {
                return;
            }
        }
    }

    /// Offers `n` to the client up to `attempts` times, each waiting for room a little longer.
    /// Waiting for a connection does not use up attempts. Returns true when the link stopped.
    async fn send(&self, n: Notification, link: &mut watch::Receiver<Link>) -> bool {
        if n.topic.is_empty() || !rumqttc::valid_topic(&n.topic) {
            self.fail(&n, "the topic is not a valid MQTT topic name");
            return false;
        }
        if n.topic.len() + n.payload.len() + PUBLISH_OVERHEAD > self.max_packet_size {
            self.fail(&n, "the notification exceeds the maximum MQTT packet size");
            return false;
        }
        let mut wait = FIRST_ATTEMPT_WAIT;
        for _ in 0..self.attempts {
            if !wait_connected(link).await {
                return true;
            }
            let publish = self.client.publish_bytes(
                n.topic.as_str(),
                QoS::AtLeastOnce,
                false,
                n.payload.clone(),
            );
            match tokio::time::timeout(wait, publish).await {
                Ok(Ok(())) => {
                    Counters::bump(&self.counters.published);
                    return false;
                }
                // The event loop is gone: only happens when the notifier is being torn down.
                Ok(Err(_)) => {
                    self.fail(&n, "the MQTT event loop has stopped");
                    return true;
                }
                Err(_) => wait = (wait * 2).min(MAX_ATTEMPT_WAIT),
            }
        }
        self.fail(&n, "the MQTT client stayed busy");
        false
    }

    fn fail(&self, n: &Notification, why: &str) {
        let failed = Counters::bump(&self.counters.failed);
        if failed.is_power_of_two() {
            tracing::warn!(topic = %n.topic, failed, "MQTT notification not published: {why}");
        }
    }
}

/// Waits until the link is connected; false when it is stopped or its sender is gone.
async fn wait_connected(link: &mut watch::Receiver<Link>) -> bool {
    match link
        .wait_for(|l| matches!(l, Link::Connected | Link::Stopped))
        .await
    {
        Ok(l) => l.is_connected(),
        Err(_) => false,
    }
}
