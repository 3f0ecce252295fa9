//! Small text helpers shared by the views and the status line.

use std::time::Duration;

use edgesync_client::wire::{
    CommandStatus, DeploymentStatus, DeploymentSummary, Labels, NodeDeploymentState, NodeStatus,
    StrategyKind, SyncStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// The last 8 hex digits of an id (ids are UUIDv7, whose first digits are a timestamp shared
/// by everything created in the same minute; the last ones are random).
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string()[24..].to_owned()
}

/// A deployment's name, or its short id when it has none.
pub fn deployment_label(d: &DeploymentSummary) -> String {
    if d.name.is_empty() {
        short_id(d.id)
    } else {
        d.name.clone()
    }
}

/// `in progress`, `paused`, …
pub fn deployment_status(s: DeploymentStatus) -> &'static str {
    match s {
        DeploymentStatus::InProgress => "in progress",
        DeploymentStatus::Paused => "paused",
        DeploymentStatus::Halted => "halted",
        DeploymentStatus::Completed => "completed",
        DeploymentStatus::RolledBack => "rolled back",
        DeploymentStatus::Aborted => "aborted",
    }
}

/// `all`, `batches`, `canary`.
pub fn strategy_kind(k: StrategyKind) -> &'static str {
    match k {
        StrategyKind::All => "all",
        StrategyKind::Batches => "batches",
        StrategyKind::Canary => "canary",
    }
}

/// `online`, `offline`, …
pub fn node_status(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Online => "online",
        NodeStatus::Offline => "offline",
        NodeStatus::Draining => "draining",
        NodeStatus::Decommissioned => "decommissioned",
    }
}

/// `pending`, `installing`, …
pub fn node_deployment_state(s: NodeDeploymentState) -> &'static str {
    match s {
        NodeDeploymentState::Pending => "pending",
        NodeDeploymentState::Installing => "installing",
        NodeDeploymentState::Active => "active",
        NodeDeploymentState::Failed => "failed",
        NodeDeploymentState::Removed => "removed",
        NodeDeploymentState::RolledBack => "rolled back",
    }
}

/// `succeeded`, `partial`, …
pub fn sync_status(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::Pending => "pending",
        SyncStatus::Succeeded => "succeeded",
        SyncStatus::Partial => "partial",
        SyncStatus::Failed => "failed",
        SyncStatus::Superseded => "superseded",
    }
}

/// `queued`, `delivered`, …
pub fn command_status(s: CommandStatus) -> &'static str {
    match s {
        CommandStatus::Queued => "queued",
        CommandStatus::Delivered => "delivered",
        CommandStatus::Succeeded => "succeeded",
        CommandStatus::Failed => "failed",
        CommandStatus::TimedOut => "timed out",
        CommandStatus::Canceled => "canceled",
    }
}

/// How long ago `then` was: `3s ago`, `5m ago`, `2h ago`, `4d ago` (`just now` in the future).
pub fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds();
    if secs < 0 {
        return "just now".into();
    }
    format!("{} ago", duration(Duration::from_secs(secs as u64)))
}

/// `45s`, `12m`, `3h`, `2d`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `512 B`, `1.5 KiB`, `64.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `k=v,k=v` (sorted by key).
pub fn labels(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Milliseconds, compactly: `850 ms`, `1.2 s`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// `hh:mm:ss` (UTC).
pub fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// Truncates to `max` characters with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn relative_times() {
        let now = datetime!(2026-01-01 12:00:00 UTC);
        assert_eq!(ago(now, datetime!(2026-01-01 11:59:57 UTC)), "3s ago");
        assert_eq!(ago(now, datetime!(2026-01-01 11:55:00 UTC)), "5m ago");
        assert_eq!(ago(now, datetime!(2026-01-01 09:00:00 UTC)), "3h ago");
        assert_eq!(ago(now, datetime!(2025-12-30 12:00:00 UTC)), "2d ago");
        assert_eq!(ago(now, datetime!(2026-01-01 12:00:05 UTC)), "just now");
    }

    #[test]
    fn sizes_and_text() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 * 1024 * 1024), "64.0 MiB");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(millis(850.0), "850 ms");
        assert_eq!(millis(1250.0), "1.2 s");
    }
}
