//! A `Notifier` wrapper that drops or delays notifications on a [`Faults`] schedule and can
//! report itself degraded: for proving that notifications are only hints (nodes converge by
//! polling when every one is lost) and that a broken broker never stalls the API.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::faulty::Faults;
use crate::error::ErrorCode;
use crate::notify::{Notification, Notifier, NotifierHealth};

/// Forwards to an inner notifier, except that
/// - a notification the [`faults`](Self::faults) schedule fails is dropped (counted in
///   [`dropped`](Self::dropped));
/// - with a delay on the schedule, delivery happens that much later on a spawned task
///   (`publish` itself still returns at once, as the port demands; outside a Tokio runtime the
///   notification is delivered at once);
/// - [`set_degraded`](Self::set_degraded) overrides the reported health.
#[derive(Debug)]
pub struct FaultyNotifier {
    inner: Arc<dyn Notifier>,
    faults: Faults,
    degraded: Mutex<Option<String>>,
    published: AtomicU64,
    dropped: AtomicU64,
}

impl FaultyNotifier {
    /// Wraps a notifier.
    pub fn new(inner: Arc<dyn Notifier>) -> Self {
        Self {
            inner,
            faults: Faults::new(),
            degraded: Mutex::new(None),
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// The drop/delay schedule (`set_down(true)` drops everything).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Reports `Degraded(why)` while set; `None` reports the inner notifier's health again.
    pub fn set_degraded(&self, why: Option<&str>) {
        *self
            .degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = why.map(str::to_owned);
    }

    /// Notifications published so far (delivered or not).
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::SeqCst)
    }

    /// Notifications dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Notifier for FaultyNotifier {
    fn publish(&self, notification: Notification) {
        self.published.fetch_add(1, Ordering::SeqCst);
        if self.faults.decide(ErrorCode::ServiceUnavailable).is_some() {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let delay = self.faults.delay();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if !delay.is_zero() => {
                let inner = self.inner.clone();
                handle.spawn(async move {
                    tokio::time::sleep(delay).await;
                    inner.publish(notification);
                });
            }
            _ => self.inner.publish(notification),
        }
    }

    fn health(&self) -> NotifierHealth {
        let degraded = self
            .degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match degraded {
            Some(why) => NotifierHealth::Degraded(why),
            None => self.inner.health(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::notify::InProcessNotifier;

    fn note(topic: &str) -> Notification {
        Notification {
            topic: topic.into(),
            payload: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn drops_delays_and_degrades_on_schedule() {
        let inner = Arc::new(InProcessNotifier::default());
        let mut rx = inner.subscribe();
        let n = FaultyNotifier::new(inner);
        n.faults().fail_next(1);
        n.publish(note("a"));
        n.publish(note("b"));
        assert_eq!(rx.recv().await.unwrap().topic, "b");
        assert_eq!((n.published(), n.dropped()), (2, 1));

        n.faults().set_delay(Duration::from_millis(50));
        let started = std::time::Instant::now();
        n.publish(note("c"));
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "never blocks"
        );
        assert_eq!(rx.recv().await.unwrap().topic, "c");
        assert!(started.elapsed() >= Duration::from_millis(50));

        n.set_degraded(Some("broker down"));
        assert_eq!(n.health(), NotifierHealth::Degraded("broker down".into()));
        n.set_degraded(None);
        assert_eq!(n.health(), NotifierHealth::Ok);
    }
}
