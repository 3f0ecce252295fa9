//! Which presence buckets changed since they were last written (see
//! [`PresenceBucket`](crate::model::PresenceBucket)).
//!
//! A sighting that only moves a node's presence bumps its bucket's counter (under the fleet's
//! write lock); the maintenance pass takes the counters, then builds the changed buckets from the
//! fleet, writes them, and records the counters it wrote. A sighting after the counters were
//! taken leaves its bucket changed for the next pass, so none is lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::model::PRESENCE_BUCKETS;

/// Change counters per bucket, and the counters last written.
#[derive(Debug)]
pub(super) struct PresenceChanges {
    changed: Box<[AtomicU64]>,
    written: Mutex<Box<[u64]>>,
}

impl Default for PresenceChanges {
    fn default() -> Self {
        let buckets = usize::from(PRESENCE_BUCKETS);
        Self {
            changed: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            written: Mutex::new(vec![0; buckets].into_boxed_slice()),
        }
    }
}

impl PresenceChanges {
    /// Notes that a node of `bucket` was seen.
    pub(super) fn mark(&self, bucket: u16) {
        self.changed[usize::from(bucket)].fetch_add(1, Ordering::SeqCst);
    }

    /// The buckets that changed since they were last written, each with the counter to pass to
    /// [`Self::written`] once it is.
    pub(super) fn pending(&self) -> Vec<(u16, u64)> {
        let written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        (0..PRESENCE_BUCKETS)
            .filter_map(|b| {
                let now = self.changed[usize::from(b)].load(Ordering::SeqCst);
                (now != written[usize::from(b)]).then_some((b, now))
            })
            .collect()
    }

    /// Records buckets as written up to the counters [`Self::pending`] gave.
    pub(super) fn written(&self, buckets: &[(u16, u64)]) {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        for &(b, counter) in buckets {
            written[usize::from(b)] = counter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_pending_until_written_and_again_after_a_later_sighting() {
        let changes = PresenceChanges::default();
        assert!(changes.pending().is_empty());
        changes.mark(3);
        changes.mark(3);
        changes.mark(1000);
        let pending = changes.pending();
        assert_eq!(pending, vec![(3, 2), (1000, 1)]);
        // Seen again between taking the counters and writing: still pending afterwards.
        changes.mark(3);
        changes.written(&pending);
        assert_eq!(changes.pending(), vec![(3, 3)]);
        changes.written(&changes.pending());
        assert!(changes.pending().is_empty());
    }
}
