//! Telemetry nodes push: validated batches, stored with retention, queried per node and metric
//! (optionally downsampled).

use std::collections::BTreeMap;
use std::time::Duration;

use super::EdgeSync;
use super::nodes::node_not_found;
use crate::error::{Error, Result};
use crate::model::{NodeId, TelemetryPoint, Timestamp};
use crate::selector::{Labels, validate_labels};
use crate::store::{Collection, ListQuery, Order, Record, RecordKey, Write, telemetry_hour};

/// Most points (plus events) in one batch.
pub const MAX_BATCH: usize = 1_000;
/// Longest metric name.
pub const MAX_METRIC_LEN: usize = 128;
/// How far in the future a sample may be stamped (clock skew).
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(300);

/// One sample as a node sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name (`[a-zA-Z_:][a-zA-Z0-9_:.]*`).
    pub metric: String,
    /// The value (finite).
    pub value: f64,
    /// Extra dimensions (label syntax).
    pub labels: Labels,
    /// When it was measured.
    pub ts: Timestamp,
}

/// An event as a node sends it; stored as a sample of metric `event.<kind>` with value 1 and
/// the message and level as labels, so events are queried like metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What happened (metric-name syntax, e.g. `function_trap`).
    pub kind: String,
    /// Severity: `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// Human text (at most 512 characters).
    pub message: String,
    /// Extra dimensions.
    pub labels: Labels,
    /// When it happened.
    pub ts: Timestamp,
}

/// A telemetry query.
#[derive(Clone, Debug, Default)]
pub struct TelemetryQuery {
    /// Only this metric (all metrics when absent).
    pub metric: Option<String>,
    /// From (inclusive; default: the retention horizon).
    pub since: Option<Timestamp>,
    /// Until (exclusive; default: now).
    pub until: Option<Timestamp>,
    /// Downsample into buckets of this width.
    pub step: Option<Duration>,
    /// Most raw samples returned (default and cap 10 000).
    pub limit: Option<usize>,
}

/// One downsampled bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Metric.
    pub metric: String,
    /// Start of the bucket.
    pub start: Timestamp,
    /// Samples in it.
    pub count: u64,
    /// Their mean.
    pub avg: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// Query results: raw samples or buckets.
#[derive(Clone, Debug, PartialEq)]
pub enum TelemetrySeries {
    /// Samples: each metric's in time order (a query of all metrics reads hour by hour, and
    /// within an hour metric by metric).
    Raw(Vec<TelemetryPoint>),
    /// Buckets in time order (per metric).
    Downsampled(Vec<Bucket>),
}

fn valid_metric(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_METRIC_LEN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.'))
}

const RAW_CAP: usize = 10_000;

impl EdgeSync {
    /// Stores a batch of samples and events from a node, all or nothing, in one write. Also a
    /// sign of life for the node.
    pub async fn ingest_telemetry(
        &self,
        node_id: NodeId,
        samples: Vec<Sample>,
        events: Vec<Event>,
    ) -> Result<usize> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        let total = samples.len() + events.len();
        if total == 0 {
            return Err(Error::invalid(
                "a telemetry batch needs at least one point or event",
            ));
        }
        if total > MAX_BATCH {
            return Err(Error::invalid(format!(
                "a batch holds at most {MAX_BATCH} points and events, got {total}"
            )));
        }
        let now = self.now();
        let oldest = now.minus(self.inner.config.telemetry_retention);
        let newest = now.plus(MAX_FUTURE_SKEW);
        let check_ts = |i: usize, ts: Timestamp| {
            if ts < oldest || ts > newest {
                Err(Error::invalid(format!(
                    "item {i}: timestamp {ts} is outside the accepted range ({oldest} to {newest})"
                )))
            } else {
                Ok(())
            }
        };
        let mut points: Vec<TelemetryPoint> = Vec::with_capacity(total);
        for (i, s) in samples.into_iter().enumerate() {
            if !valid_metric(&s.metric) {
                return Err(Error::invalid(format!(
                    "points[{i}]: metric {:?} is not a valid name",
                    s.metric
                )));
            }
            if !s.value.is_finite() {
                return Err(Error::invalid(format!("points[{i}]: value must be finite")));
            }
            validate_labels(&s.labels)
                .map_err(|e| Error::invalid(format!("points[{i}].labels: {e}")))?;
            if s.labels.len() > 16 {
                return Err(Error::invalid(format!("points[{i}]: at most 16 labels")));
            }
            check_ts(i, s.ts)?;
            points.push(TelemetryPoint {
                node_id,
                metric: s.metric,
                ts: s.ts,
                seq: 0,
                value: s.value,
                labels: s.labels,
            });
        }
        for (i, e) in events.into_iter().enumerate() {
            if !valid_metric(&e.kind) || e.kind.len() > MAX_METRIC_LEN - 6 {
                return Err(Error::invalid(format!(
                    "events[{i}]: kind {:?} is not a valid name",
                    e.kind
                )));
            }
            if !matches!(e.level.as_str(), "debug" | "info" | "warn" | "error") {
                return Err(Error::invalid(format!(
                    "events[{i}]: level must be debug, info, warn or error"
                )));
            }
            crate::model::validate::text(&format!("events[{i}].message"), &e.message, 512)?;
            validate_labels(&e.labels)
                .map_err(|err| Error::invalid(format!("events[{i}].labels: {err}")))?;
            check_ts(i, e.ts)?;
            let mut labels = e.labels;
            labels.insert("level".into(), e.level);
            labels.insert("message".into(), e.message);
            points.push(TelemetryPoint {
                node_id,
                metric: format!("event.{}", e.kind),
                ts: e.ts,
                seq: 0,
                value: 1.0,
                labels,
            });
        }
        // Samples of one metric at one instant get distinct sequence numbers.
        let mut seen: BTreeMap<(String, i128), u32> = BTreeMap::new();
        for p in &mut points {
            let n = seen
                .entry((p.metric.clone(), p.ts.unix_nanos()))
                .or_default();
            p.seq = *n;
            *n += 1;
        }
        let writes: Vec<Write> = points
            .into_iter()
            .map(|p| Write::put(Record::Telemetry(p)))
            .collect();
        self.inner.store.commit(&writes).await?;
        self.inner.fleet.touch(node_id, now, None);
        Ok(writes.len())
    }

    /// Reads a node's telemetry.
    pub async fn telemetry(
        &self,
        node_id: NodeId,
        query: &TelemetryQuery,
    ) -> Result<TelemetrySeries> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        if let Some(m) = &query.metric
            && !valid_metric(m)
        {
            return Err(Error::invalid(format!("metric {m:?} is not a valid name")));
        }
        let now = self.now();
        let since = query
            .since
            .unwrap_or_else(|| now.minus(self.inner.config.telemetry_retention));
        let until = query.until.unwrap_or_else(|| now.plus(MAX_FUTURE_SKEW));
        if until <= since {
            return Err(Error::invalid("until must be after since"));
        }
        if let Some(step) = query.step
            && (step < Duration::from_secs(1)
                || until.since(since).as_secs_f64() / step.as_secs_f64() > 10_000.0)
        {
            return Err(Error::invalid(
                "step must be at least 1 s and give at most 10 000 buckets",
            ));
        }
        let limit = query.limit.unwrap_or(RAW_CAP).clamp(1, RAW_CAP);
        let mut out: Vec<TelemetryPoint> = Vec::new();
        let since_nanos = nanos(since);
        let until_nanos = nanos(until);
        let Some((first, last)) = self
            .stored_telemetry_hours(
                telemetry_hour(since_nanos),
                telemetry_hour(until_nanos.saturating_sub(1)),
            )
            .await?
        else {
            return Ok(finish(out, query.step, since));
        };
        // Keys sort by hour, then node, metric and time: the node's series is one range in
        // each hour, read hour by hour.
        'hours: for hour in first..=last {
            let mut q = ListQuery {
                collection: Collection::Telemetry {
                    hour: Some(hour),
                    node_id: Some(node_id),
                    metric: query.metric.clone(),
                },
                after: query.metric.as_ref().map(|m| RecordKey::Telemetry {
                    node_id,
                    metric: m.clone(),
                    ts_nanos: since_nanos.saturating_sub(1),
                    seq: u32::MAX,
                }),
                limit: crate::store::MAX_PAGE,
                order: Order::Ascending,
            };
            loop {
                let page = self.inner.store.list(&q).await?;
                for s in page.items {
                    let Record::Telemetry(p) = s.record else {
                        continue;
                    };
                    if p.ts >= until {
                        if query.metric.is_some() {
                            break 'hours;
                        }
                        continue;
                    }
                    if p.ts >= since {
                        out.push(p);
                        if query.step.is_none() && out.len() >= limit {
                            break 'hours;
                        }
                    }
                }
                match page.next {
                    Some(n) => q.after = Some(n),
                    None => break,
                }
            }
        }
        Ok(finish(out, query.step, since))
    }

    /// The hours from `from` to `to` (inclusive) narrowed to those between the oldest and the
    /// newest stored sample, so that a query over a wide range reads no empty hours beyond
    /// them; `None` when no stored hour is in the range.
    async fn stored_telemetry_hours(&self, from: i64, to: i64) -> Result<Option<(i64, i64)>> {
        let (Some(oldest), Some(newest)) = (
            self.telemetry_end(Order::Ascending).await?,
            self.telemetry_end(Order::Descending).await?,
        ) else {
            return Ok(None);
        };
        let (first, last) = (from.max(oldest), to.min(newest));
        Ok((first <= last).then_some((first, last)))
    }

    /// Deletes telemetry older than the retention; returns how many samples went.
    ///
    /// Samples are keyed by hour first. A pass takes the oldest stored hour while it begins
    /// before the cutoff: an hour wholly before it goes entirely, the one the cutoff falls in
    /// loses the samples before it, and the pass ends there. It reads what it deletes, the rest
    /// of that one hour, and one sample per hour it visits; nothing of the later hours it keeps.
    pub async fn prune_telemetry(&self) -> Result<usize> {
        let cutoff = self.now().minus(self.inner.config.telemetry_retention);
        let cutoff_hour = telemetry_hour(nanos(cutoff));
        let mut deleted = 0;
        // Every visit to an hour before the cutoff's deletes at least the sample that found it.
        while let Some(hour) = self.telemetry_end(Order::Ascending).await? {
            if hour > cutoff_hour {
                break;
            }
            deleted += self.prune_telemetry_hour(hour, cutoff).await?;
            if hour == cutoff_hour {
                break;
            }
        }
        Ok(deleted)
    }

    /// Deletes the samples of one hour stamped before `cutoff`.
    async fn prune_telemetry_hour(&self, hour: i64, cutoff: Timestamp) -> Result<usize> {
        let mut deleted = 0;
        let mut q = ListQuery::all(Collection::Telemetry {
            hour: Some(hour),
            node_id: None,
            metric: None,
        });
        loop {
            let page = self.inner.store.list(&q).await?;
            let old: Vec<Write> = page
                .items
                .iter()
                .filter_map(|s| match &s.record {
                    Record::Telemetry(p) if p.ts < cutoff => Some(Write::delete(s.record.key())),
                    _ => None,
                })
                .collect();
            if !old.is_empty() {
                deleted += old.len();
                self.inner.store.commit(&old).await?;
            }
            match page.next {
                Some(n) => q.after = Some(n),
                None => return Ok(deleted),
            }
        }
    }

    /// The hour of the oldest (ascending) or newest (descending) stored sample.
    async fn telemetry_end(&self, order: Order) -> Result<Option<i64>> {
        let page = self
            .inner
            .store
            .list(&ListQuery {
                collection: Collection::ALL_TELEMETRY,
                after: None,
                limit: 1,
                order,
            })
            .await?;
        Ok(page.items.first().and_then(|s| match &s.record {
            Record::Telemetry(p) => Some(telemetry_hour(nanos(p.ts))),
            _ => None,
        }))
    }
}

/// A timestamp as the nanoseconds of a telemetry key (saturating).
fn nanos(ts: Timestamp) -> i64 {
    let n = ts.unix_nanos();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

fn finish(
    points: Vec<TelemetryPoint>,
    step: Option<Duration>,
    since: Timestamp,
) -> TelemetrySeries {
    match step {
        None => TelemetrySeries::Raw(points),
        Some(step) => TelemetrySeries::Downsampled(downsample(&points, since, step)),
    }
}

fn downsample(points: &[TelemetryPoint], since: Timestamp, step: Duration) -> Vec<Bucket> {
    let step_ns = i128::try_from(step.as_nanos()).unwrap_or(i128::MAX).max(1);
    let base = since.unix_nanos();
    let mut buckets: BTreeMap<(String, i128), Bucket> = BTreeMap::new();
    for p in points {
        let idx = (p.ts.unix_nanos() - base).div_euclid(step_ns);
        let start = Timestamp::from_unix_nanos(base + idx * step_ns).unwrap_or(p.ts);
        let b = buckets.entry((p.metric.clone(), idx)).or_insert(Bucket {
            metric: p.metric.clone(),
            start,
            count: 0,
            avg: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        });
        b.count += 1;
        b.avg += (p.value - b.avg) / b.count as f64;
        b.min = b.min.min(p.value);
        b.max = b.max.max(p.value);
    }
    buckets.into_values().collect()
}
