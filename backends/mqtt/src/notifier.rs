//! [`MqttNotifier`]: the `Notifier` port on an MQTT broker.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use edgesync_core::notify::NotifierHealth;
use edgesync_core::{Error, Notification, Notifier, Result};
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{MqttConfig, MqttNotifierOptions};
use crate::connection::{self, Backoff, Link};
use crate::publisher::Publisher;
use crate::queue::Queue;
use crate::stats::{Counters, MqttStats};

/// Capacity of rumqttc's request channel. Small on purpose: the backlog waits in [`Queue`],
/// where overflow drops the oldest, not in rumqttc, which discards it on a clean reconnect.
const CLIENT_CHANNEL_CAPACITY: usize = 64;
/// Maximum unacknowledged QoS 1 publishes on the wire.
const INFLIGHT: u16 = 100;
/// How often `shutdown` and `wait_connected` look at progress.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Publishes notifications to an MQTT broker at QoS 1, without ever blocking the caller.
///
/// `publish` appends to a bounded in-process queue (when full, the oldest notification is
/// dropped and counted). A publisher task hands queued notifications to rumqttc while the broker
/// is connected; a connection task drives rumqttc's event loop and reconnects with capped
/// exponential backoff. `health()` is `Degraded` while the broker is unreachable.
///
/// Dropping the notifier stops both tasks at once (nothing queued is flushed); call
/// [`shutdown`](Self::shutdown) first to flush.
pub struct MqttNotifier {
    config: MqttConfig,
    client: AsyncClient,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    link: watch::Receiver<Link>,
    link_tx: watch::Sender<Link>,
    publisher_busy: Arc<AtomicBool>,
    closing: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl MqttNotifier {
    /// Parses `url` (see [`MqttConfig::parse`]) and starts connecting in the background.
    ///
    /// # Behavior
    /// - Returns at once: an unreachable broker is not an error (it makes `health()` degraded
    ///   until it answers); a bad URL, bad options or an unusable CA are `invalid_request`.
    /// - Must be called inside a tokio runtime (it spawns two tasks); outside one it fails with
    ///   `internal` instead of panicking.
    pub fn connect(url: &str, options: MqttNotifierOptions) -> Result<Self> {
        let config = MqttConfig::parse(url, options)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::internal("MqttNotifier::connect must be called inside a tokio runtime")
                .with_source(e)
        })?;
        let options = &config.options;

        let mut mqtt = MqttOptions::new(&config.client_id, &config.host, config.port);
        mqtt.set_keep_alive(options.keep_alive.max(Duration::from_secs(1)))
            .set_clean_session(true)
            .set_inflight(INFLIGHT)
            .set_max_packet_size(64 * 1024, options.max_packet_size);
        if let Some(user) = &config.username {
            mqtt.set_credentials(user, config.password.clone().unwrap_or_default());
        }
        if config.tls {
            let tls = crate::tls::client_config(options.ca_pem.as_deref())?;
            mqtt.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
        }
        let (client, mut eventloop) = AsyncClient::new(mqtt, CLIENT_CHANNEL_CAPACITY);
        let mut network = eventloop.network_options();
        network.set_connection_timeout(options.connect_timeout.as_secs().max(1));
        eventloop.set_network_options(network);

        let queue = Arc::new(Queue::new(options.queue_capacity));
        let counters = Arc::new(Counters::default());
        let (link_tx, link) = watch::channel(Link::Connecting);
        let publisher_busy = Arc::new(AtomicBool::new(false));
        let backoff = Backoff {
            min: options.reconnect_min,
            max: options.reconnect_max,
        };
        let broker = format!("{}:{}", config.host, config.port);
        let driver = runtime.spawn(connection::drive(
            eventloop,
            link_tx.clone(),
            counters.clone(),
            backoff,
            broker,
        ));
        let publisher = Publisher {
            client: client.clone(),
            queue: queue.clone(),
            counters: counters.clone(),
            attempts: options.publish_attempts,
            max_packet_size: options.max_packet_size,
            busy: publisher_busy.clone(),
        };
        let publisher = runtime.spawn(publisher.run(link.clone()));

        Ok(Self {
            config,
            client,
            queue,
            counters,
            link,
            link_tx,
            publisher_busy,
            closing: AtomicBool::new(false),
            tasks: Mutex::new(vec![driver, publisher]),
        })
    }

    /// The configuration in use (its `Debug` hides the password).
    pub fn config(&self) -> &MqttConfig {
        &self.config
    }

    /// A snapshot of the counters, for metrics.
    pub fn stats(&self) -> MqttStats {
        self.counters
            .snapshot(self.queue.len(), self.link.borrow().is_connected())
    }

    /// Waits until the broker connection is up; false if it is not within `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut link = self.link.clone();
        tokio::time::timeout(timeout, link.wait_for(Link::is_connected))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Flushes best-effort, then disconnects and stops the tasks.
    ///
    /// # Behavior
    /// - From now on `publish` drops (and counts) what it is given.
    /// - Waits until every queued notification is handed to the client and every publish is
    ///   acknowledged by the broker, or until `timeout` (a broker that is down makes this wait
    ///   the whole `timeout`: it may come back).
    /// - Then sends DISCONNECT if connected, and stops both tasks. Calling it again is harmless.
    ///   Returns the final counters.
    pub async fn shutdown(&self, timeout: Duration) -> MqttStats {
        self.closing.store(true, Relaxed);
        let deadline = Instant::now() + timeout;
        while !self.flushed() && Instant::now() < deadline {
            tokio::time::sleep(POLL_EVERY).await;
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        if self.link.borrow().is_connected() && self.client.try_disconnect().is_ok() {
            // The driver returns once DISCONNECT is written.
            let disconnect_wait = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            let mut link = self.link.clone();
            let _ =
                tokio::time::timeout(disconnect_wait, link.wait_for(|l| *l == Link::Stopped)).await;
        }
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        self.link_tx.send_replace(Link::Stopped);
        self.stats()
    }

    /// Everything queued was published and every publish acknowledged (or given up on).
    fn flushed(&self) -> bool {
        let s = self.counters.snapshot(self.queue.len(), true);
        s.queued == 0 && !self.publisher_busy.load(Relaxed) && s.acked >= s.published
    }
}

impl Notifier for MqttNotifier {
    /// Queues `notification` for the broker; see the type's documentation.
    ///
    /// # Behavior
    /// - Never blocks, never fails, never panics: a mutex-guarded queue append.
    /// - A notification for a topic that already waits in the queue takes its place.
    /// - When the queue is full, the OLDEST queued notification is dropped and counted.
    /// - After [`shutdown`](MqttNotifier::shutdown), the notification is dropped and counted.
    fn publish(&self, notification: Notification) {
        let dropped = if self.closing.load(Relaxed) {
            Some(notification)
        } else {
            self.queue.push(notification)
        };
        if let Some(old) = dropped {
            let n = Counters::bump(&self.counters.dropped);
            if n.is_power_of_two() {
                tracing::warn!(topic = %old.topic, dropped = n, "MQTT notification dropped (queue full or shut down)");
            }
        }
    }

    /// `Ok` while connected to the broker, `Degraded` (with the reason) otherwise.
    fn health(&self) -> NotifierHealth {
        match &*self.link.borrow() {
            Link::Connected => NotifierHealth::Ok,
            Link::Connecting => NotifierHealth::Degraded(format!(
                "connecting to the MQTT broker {}:{}",
                self.config.host, self.config.port
            )),
            Link::Down(reason) => NotifierHealth::Degraded(format!(
                "MQTT broker {}:{} unreachable: {reason}",
                self.config.host, self.config.port
            )),
            Link::Stopped => NotifierHealth::Degraded("the MQTT notifier is shut down".to_owned()),
        }
    }
}

impl fmt::Debug for MqttNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttNotifier")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for MqttNotifier {
    /// Aborts both tasks; never waits.
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}
