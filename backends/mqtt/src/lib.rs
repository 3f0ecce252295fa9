//! # edgesync-mqtt
//!
//! The EdgeSync [`Notifier`](edgesync_core::Notifier) on an MQTT broker, through `rumqttc`.
//!
//! ```no_run
//! # async fn example() -> edgesync_core::Result<()> {
//! use edgesync_core::{Notification, Notifier};
//! use edgesync_mqtt::{MqttNotifier, MqttNotifierOptions};
//!
//! let mqtt = MqttNotifier::connect("mqtt://127.0.0.1:1883", MqttNotifierOptions::default())?;
//! mqtt.publish(Notification {
//!     topic: "edgesync/nodes/n-1/sync".into(),
//!     payload: bytes::Bytes::from_static(br#"{"revision":7}"#),
//! });
//! mqtt.shutdown(std::time::Duration::from_secs(2)).await;
//! # Ok(()) }
//! ```
//!
//! Delivery: QoS 1 (at least once) from here to the broker, best effort end to end. A bounded
//! queue absorbs outages and bursts; when it is full the oldest notification is dropped. Nodes
//! converge by polling regardless: notifications are hints, never the source of truth.

mod config;
mod connection;
mod notifier;
mod publisher;
mod queue;
mod stats;
mod tls;

pub use config::{MqttConfig, MqttNotifierOptions};
pub use notifier::MqttNotifier;
pub use stats::MqttStats;
