//! Telemetry pushes: per function, invocations, errors (with timeouts, memory-limit hits and
//! refusals) and latency p50/p99 over the window since the last push; for the node, resident
//! memory, disk use and artifact downloads. A batch that cannot be sent is kept (up to the
//! server's batch limit) and sent with the next one.

use std::sync::Arc;

use edgesync_client::wire::{Labels, TelemetryBatch, TelemetrySample};
use time::OffsetDateTime;

use crate::resources;
use crate::session::{Session, unauthorized};
use crate::shared::Shared;
use crate::stats::Stats;

/// Most samples one batch may carry.
const MAX_BATCH: usize = 1000;

/// Runs forever.
pub(crate) async fn run(shared: Arc<Shared>, session: Arc<Session>) {
    let mut tick = tokio::time::interval(shared.config.telemetry_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut pending: Vec<TelemetrySample> = Vec::new();
    loop {
        tick.tick().await;
        pending.extend(samples(&shared));
        if pending.len() > MAX_BATCH {
            pending.drain(..pending.len() - MAX_BATCH);
        }
        if let Err(e) = session.ensure_fresh().await {
            shared.contact_failed("token refresh", &e);
            continue;
        }
        let batch = TelemetryBatch {
            points: pending.clone(),
            events: Vec::new(),
        };
        match session.node().push_telemetry(&batch).await {
            Ok(accepted) => {
                tracing::debug!(accepted = accepted.accepted, "telemetry pushed");
                pending.clear();
            }
            Err(e) if unauthorized(&e) => {
                if let Err(err) = session.recover().await {
                    shared.contact_failed("token refresh", &err);
                }
            }
            Err(e) if e.status().is_some_and(|s| s.is_client_error()) => {
                tracing::warn!(error = %e, "telemetry refused; dropping the batch");
                pending.clear();
            }
            Err(e) => shared.contact_failed("telemetry", &e),
        }
    }
}

/// The samples of one window.
fn samples(shared: &Shared) -> Vec<TelemetrySample> {
    let ts = OffsetDateTime::now_utc();
    let sample = |metric: &str, value: f64, labels: Labels| TelemetrySample {
        metric: metric.to_owned(),
        value,
        labels,
        ts,
    };
    let mut out = Vec::new();
    for (id, w) in shared.stats.take_windows() {
        let labels: Labels = [
            ("function".to_owned(), label_value(&w.name)),
            ("function_id".to_owned(), id.to_string()),
            ("version".to_owned(), w.version.to_string()),
        ]
        .into_iter()
        .collect();
        let c = &w.counters;
        for (metric, value) in [
            ("function.invocations", c.invocations),
            ("function.errors", c.errors),
            ("function.timeouts", c.timeouts),
            ("function.memory_limits", c.memory_limits),
            ("function.rejected", c.rejected),
        ] {
            out.push(sample(metric, value as f64, labels.clone()));
        }
        if let (Some(p50), Some(p99)) = (w.percentile(0.5), w.percentile(0.99)) {
            out.push(sample("function.latency_p50_ms", p50, labels.clone()));
            out.push(sample("function.latency_p99_ms", p99, labels));
        }
    }
    let node = Labels::new();
    out.push(sample(
        "agent.memory_rss_bytes",
        resources::rss_bytes() as f64,
        node.clone(),
    ));
    out.push(sample(
        "agent.disk_bytes",
        crate::fsutil::dir_size(&shared.config.data_dir) as f64,
        node.clone(),
    ));
    out.push(sample(
        "agent.artifact_downloads",
        Stats::get(&shared.stats.artifact_downloads) as f64,
        node,
    ));
    out
}

/// A label value the server accepts: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_value(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_cleaned() {
        assert_eq!(label_value("hello-world"), "hello-world");
        assert_eq!(label_value("-a b/c_"), "a_b_c");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
    }
}
