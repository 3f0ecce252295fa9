//! The bounded in-process queue between `publish` and the publisher task.
//!
//! Notifications are hints, and a newer one for a topic supersedes an older one (a node's newer
//! revision, its newer deploy). So a notification for a topic already waiting takes that one's
//! place in line instead of queueing behind it: a deploy to N nodes queues at most one
//! notification per node and topic, however often their targets change before the broker
//! catches up. When the queue is full all the same, the OLDEST notification is evicted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use edgesync_core::Notification;
use tokio::sync::Notify;

/// What waits, in order, and where each topic waits.
#[derive(Debug, Default)]
struct Waiting {
    items: VecDeque<Notification>,
    /// Sequence number of `items[0]`; item `i` has `head + i`.
    head: u64,
    /// Topic → sequence number of its waiting notification.
    by_topic: HashMap<String, u64>,
}

impl Waiting {
    fn pop_front(&mut self) -> Option<Notification> {
        let n = self.items.pop_front()?;
        if self.by_topic.get(&n.topic) == Some(&self.head) {
            self.by_topic.remove(&n.topic);
        }
        self.head += 1;
        Some(n)
    }
}

/// A bounded FIFO, coalesced by topic, that never blocks the producer.
#[derive(Debug)]
pub(crate) struct Queue {
    waiting: Mutex<Waiting>,
    capacity: usize,
    ready: Notify,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            waiting: Mutex::new(Waiting {
                items: VecDeque::with_capacity(capacity.min(1024)),
                ..Waiting::default()
            }),
            capacity: capacity.max(1),
            ready: Notify::new(),
        }
    }

    /// Queues `n`, in the place of a waiting notification for the same topic if there is one;
    /// returns the evicted oldest notification when the queue was full.
    pub(crate) fn push(&self, n: Notification) -> Option<Notification> {
        let evicted = {
            let mut w = self.lock();
            if let Some(&seq) = w.by_topic.get(&n.topic) {
                let at = usize::try_from(seq - w.head).unwrap_or(usize::MAX);
                if let Some(slot) = w.items.get_mut(at) {
                    *slot = n;
                    return None;
                }
            }
            let evicted = if w.items.len() >= self.capacity {
                w.pop_front()
            } else {
                None
            };
            let seq = w.head + w.items.len() as u64;
            w.by_topic.insert(n.topic.clone(), seq);
            w.items.push_back(n);
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
        self.lock().items.len()
    }

    /// Never panics: nothing panics while holding the lock, and a poisoned queue is still a
    /// valid queue.
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
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

    fn on(topic: &str, payload: &str) -> Notification {
        Notification {
            topic: topic.to_owned(),
            payload: bytes::Bytes::from(payload.to_owned()),
        }
    }

    #[tokio::test]
    async fn a_newer_notification_for_a_waiting_topic_takes_its_place() {
        let q = Queue::new(3);
        assert_eq!(q.push(on("a", "1")), None);
        assert_eq!(q.push(on("b", "1")), None);
        assert_eq!(q.push(on("a", "2")), None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().await, on("a", "2"));
        // Once taken, the topic queues anew, behind what waits.
        assert_eq!(q.push(on("a", "3")), None);
        assert_eq!(q.push(on("c", "1")), None);
        assert_eq!(q.push(on("b", "2")), None);
        assert_eq!(q.len(), 3, "b2 took b1's place, at the front");
        assert_eq!(q.push(on("d", "1")), Some(on("b", "2")));
        // b left the queue when evicted: b3 queues at the back, evicting the oldest (a3).
        assert_eq!(q.push(on("b", "3")), Some(on("a", "3")));
        for expected in [on("c", "1"), on("d", "1"), on("b", "3")] {
            assert_eq!(q.pop().await, expected);
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
