//! Sync history per node and statistics over a window.

use std::collections::BTreeMap;
use std::time::Duration;

use super::EdgeSync;
use super::nodes::node_not_found;
use crate::error::{Error, Result};
use crate::model::{NodeId, SyncRecord, SyncRecordId, SyncStatus, Timestamp};
use crate::store::{Collection, ListQuery, Order, Record, RecordKey, StoreExt};

/// What to compute statistics over.
#[derive(Clone, Debug)]
pub struct SyncStatsQuery {
    /// Syncs acknowledged within this long before now.
    pub window: Duration,
    /// Only this node.
    pub node_id: Option<NodeId>,
}

/// Statistics over acknowledged syncs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncStats {
    /// Start of the window.
    pub since: Option<Timestamp>,
    /// Acknowledged syncs in the window.
    pub total: u64,
    /// Fully successful ones.
    pub succeeded: u64,
    /// Partly failed ones.
    pub partial: u64,
    /// Entirely failed ones.
    pub failed: u64,
    /// `succeeded / total` (1.0 when there were none).
    pub success_rate: f64,
    /// Failed actions by the error code nodes reported (`unknown` when they gave none).
    pub failures_by_code: BTreeMap<String, u64>,
    /// Plan-to-ack durations in milliseconds: p50, p90, p99, max.
    pub duration_ms: Percentiles,
    /// Plans handed out and not acknowledged yet (in the window, by plan time).
    pub pending: u64,
}

/// Percentiles of a distribution.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let idx = ((values.len() as f64 - 1.0) * q).round() as usize;
            values[idx.min(values.len() - 1)]
        };
        Self {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// Longest statistics window (retention bounds history anyway).
pub const MAX_STATS_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

impl EdgeSync {
    /// A node's sync history, newest first, a page at a time.
    pub async fn sync_history(
        &self,
        node_id: NodeId,
        after: Option<SyncRecordId>,
        limit: usize,
    ) -> Result<(Vec<SyncRecord>, Option<SyncRecordId>)> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit must be between 1 and 1000"));
        }
        let page = self
            .inner
            .store
            .list(&ListQuery {
                collection: Collection::SyncRecords {
                    node_id: Some(node_id),
                },
                after: after.map(|id| RecordKey::SyncRecord { node_id, id }),
                limit,
                order: Order::Descending,
            })
            .await?;
        let next = page.next.and_then(|k| match k {
            RecordKey::SyncRecord { id, .. } => Some(id),
            _ => None,
        });
        let items = page
            .items
            .into_iter()
            .filter_map(|s| match s.record {
                Record::SyncRecord(r) => Some(r),
                _ => None,
            })
            .collect();
        Ok((items, next))
    }

    /// Success rate, failures by cause and durations over recent syncs.
    pub async fn sync_stats(&self, query: &SyncStatsQuery) -> Result<SyncStats> {
        if query.window.is_zero() || query.window > MAX_STATS_WINDOW {
            return Err(Error::invalid(
                "the window must be between 1 second and 30 days",
            ));
        }
        let since = self.now().minus(query.window);
        let mut stats = SyncStats {
            since: Some(since),
            ..SyncStats::default()
        };
        let mut durations = Vec::new();
        self.inner
            .store
            .for_each_record(
                Collection::SyncRecords {
                    node_id: query.node_id,
                },
                |s| {
                    let Record::SyncRecord(r) = s.record else {
                        return;
                    };
                    if r.status == SyncStatus::Pending && r.planned_at >= since {
                        stats.pending += 1;
                    }
                    let Some(acked) = r.acked_at else { return };
                    if acked < since {
                        return;
                    }
                    stats.total += 1;
                    match r.status {
                        SyncStatus::Succeeded => stats.succeeded += 1,
                        SyncStatus::Partial => stats.partial += 1,
                        SyncStatus::Failed => stats.failed += 1,
                        _ => {}
                    }
                    for res in r.results.iter().filter(|res| !res.succeeded) {
                        *stats
                            .failures_by_code
                            .entry(res.error_code.clone().unwrap_or_else(|| "unknown".into()))
                            .or_default() += 1;
                    }
                    if let Some(d) = r.duration() {
                        durations.push(d.as_secs_f64() * 1000.0);
                    }
                },
            )
            .await?;
        stats.success_rate = if stats.total == 0 {
            1.0
        } else {
            stats.succeeded as f64 / stats.total as f64
        };
        stats.duration_ms = Percentiles::of(durations);
        Ok(stats)
    }
}
