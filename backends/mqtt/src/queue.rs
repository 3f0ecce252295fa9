//! The bounded in-process queue between `publish` and the publisher task.
//!
//! When full, the OLDEST notification is evicted: notifications are hints, and the newest one
//! describes the most recent change (a newer revision supersedes an older one for the same node).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use edgesync_core::Notification;
use tokio::sync::Notify;

/// A bounded FIFO that never blocks the producer.
#[derive(Debug)]
pub(crate) struct Queue {
    items: Mutex<VecDeque<Notification>>,
    capacity: usize,
    ready: Notify,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            ready: Notify::new(),
        }
    }

    /// Appends `n`; returns the evicted oldest notification when the queue was full.
    pub(crate) fn push(&self, n: Notification) -> Option<Notification> {
        let evicted = {
            let mut items = self.lock();
            let evicted = if items.len() >= self.capacity {
                items.pop_front()
            } else {
                None
            };
            items.push_back(n);
            evicted
        };
        self.ready.notify_one();
        evicted
    }

    /// Takes the oldest notification, waiting for one.
    pub(crate) async fn pop(&self) -> Notification {
        loop {
            if let Some(n) = self.lock().pop_front() {
                return n;
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check above
            // and this await is not missed.
            self.ready.notified().await;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Never panics: nothing panics while holding the lock, and a poisoned queue is still a
    /// valid queue.
    fn lock(&self) -> MutexGuard<'_, VecDeque<Notification>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> Notification {
        Notification {
            topic: format!("t/{i}"),
            payload: bytes::Bytes::from(i.to_string()),
        }
    }

    #[tokio::test]
    async fn evicts_the_oldest_when_full_and_keeps_order() {
        let q = Queue::new(3);
        for i in 0..3 {
            assert_eq!(q.push(n(i)), None);
        }
        assert_eq!(q.push(n(3)), Some(n(0)));
        assert_eq!(q.push(n(4)), Some(n(1)));
        assert_eq!(q.len(), 3);
        for i in 2..5 {
            assert_eq!(q.pop().await, n(i));
        }
        assert_eq!(q.len(), 0);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = std::sync::Arc::new(Queue::new(1));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.push(n(7));
        assert_eq!(waiter.await.unwrap(), n(7));
    }
}
