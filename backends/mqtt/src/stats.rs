//! Counters of what happened to notifications, for metrics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a notifier's counters; all counts since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MqttStats {
    /// Notifications handed to the MQTT client for sending at QoS 1.
    pub published: u64,
    /// Publishes the broker acknowledged (PUBACK).
    pub acked: u64,
    /// Notifications dropped without an attempt: the oldest in a full queue, or published after
    /// shutdown.
    pub dropped: u64,
    /// Notifications given up on: the client stayed busy for every attempt, or the packet was
    /// too large or the topic invalid.
    pub failed: u64,
    /// Successful connections after the first one.
    pub reconnects: u64,
    /// Failed connection attempts and lost connections.
    pub connection_errors: u64,
    /// Notifications waiting in the queue right now.
    pub queued: usize,
    /// Whether the broker connection is up right now.
    pub connected: bool,
}

/// The live counters behind [`MqttStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) connection_errors: AtomicU64,
}

impl Counters {
    /// Adds one to `counter` and returns the new value.
    pub(crate) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Relaxed) + 1
    }

    pub(crate) fn snapshot(&self, queued: usize, connected: bool) -> MqttStats {
        MqttStats {
            published: self.published.load(Relaxed),
            acked: self.acked.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            connection_errors: self.connection_errors.load(Relaxed),
            queued,
            connected,
        }
    }
}
