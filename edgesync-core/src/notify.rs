//! The `Notifier` port: hints to nodes and watchers that something changed.
//!
//! Notifications are hints, never the source of truth: a node that misses one converges on its
//! next poll. Publishing must therefore never block or fail the caller.

use std::fmt;

use bytes::Bytes;
use tokio::sync::broadcast;

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Topic, e.g. `edgesync/nodes/<node_id>/sync`.
    pub topic: String,
    /// JSON payload.
    pub payload: Bytes,
}

/// The health of a notifier, for `/ready`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifierHealth {
    /// Delivering.
    Ok,
    /// Not delivering right now (e.g. broker unreachable); the API keeps working.
    Degraded(String),
}

/// Publishes notifications without blocking.
pub trait Notifier: fmt::Debug + Send + Sync + 'static {
    /// Queues a notification.
    ///
    /// # Behavior
    /// - Returns at once; never blocks on the network.
    /// - May drop notifications under overload or outage (they are hints); implementations count
    ///   what they drop.
    fn publish(&self, notification: Notification);

    /// Current health.
    fn health(&self) -> NotifierHealth;
}

/// Fans notifications out to in-process subscribers (TUI live view, tests).
#[derive(Debug)]
pub struct InProcessNotifier {
    sender: broadcast::Sender<Notification>,
}

impl InProcessNotifier {
    /// A notifier whose subscribers may lag by at most `capacity` notifications before they
    /// start losing the oldest.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Receives every notification published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }
}

impl Default for InProcessNotifier {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl Notifier for InProcessNotifier {
    fn publish(&self, notification: Notification) {
        // No subscribers is fine: notifications are hints.
        let _ = self.sender.send(notification);
    }

    fn health(&self) -> NotifierHealth {
        NotifierHealth::Ok
    }
}

/// Several notifiers behind one (e.g. MQTT and in-process).
#[derive(Debug)]
pub struct FanOut(pub Vec<std::sync::Arc<dyn Notifier>>);

impl Notifier for FanOut {
    fn publish(&self, notification: Notification) {
        for n in &self.0 {
            n.publish(notification.clone());
        }
    }

    fn health(&self) -> NotifierHealth {
        self.0
            .iter()
            .map(|n| n.health())
            .find(|h| *h != NotifierHealth::Ok)
            .unwrap_or(NotifierHealth::Ok)
    }
}
