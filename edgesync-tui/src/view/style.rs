//! Colours and text styles in one place.

use edgesync_client::wire::{
    CommandStatus, DeploymentStatus, NodeDeploymentState, NodeInfo, NodeStatus, SyncStatus,
};
use ratatui::style::{Color, Modifier, Style};

use crate::app::App;

/// The accent colour (titles, headings).
pub const ACCENT: Color = Color::Cyan;

/// Block titles.
pub fn title() -> Style {
    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
}

/// Borders.
pub fn border() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Table headers.
pub fn header() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

/// The selected row.
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// Secondary text.
pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Errors.
pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// Good news.
pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

/// Warnings.
pub fn warn() -> Style {
    Style::new().fg(Color::Yellow)
}

/// A node's status.
pub fn node_status(s: NodeStatus) -> Style {
    match s {
        NodeStatus::Online => ok(),
        NodeStatus::Offline => error(),
        NodeStatus::Draining => warn(),
        NodeStatus::Decommissioned => dim(),
    }
}

/// How fresh a node's last heartbeat is: green within half the offline timeout, yellow
/// after, red once offline (or never seen).
pub fn staleness(app: &App, node: &NodeInfo) -> Style {
    let Some(seen) = node.last_seen_at else {
        return error();
    };
    if node.status == NodeStatus::Offline {
        return error();
    }
    let age = (app.now - seen).as_seconds_f64().max(0.0);
    let timeout = app.settings.offline_timeout.as_secs_f64();
    if age < timeout / 2.0 {
        ok()
    } else if age < timeout {
        warn()
    } else {
        error()
    }
}

/// A deployment's status.
pub fn deployment_status(s: DeploymentStatus) -> Style {
    match s {
        DeploymentStatus::InProgress => Style::new().fg(ACCENT),
        DeploymentStatus::Paused => warn(),
        DeploymentStatus::Halted => error(),
        DeploymentStatus::Completed => ok(),
        DeploymentStatus::RolledBack => Style::new().fg(Color::Magenta),
        DeploymentStatus::Aborted => dim(),
    }
}

/// A node's state in a deployment.
pub fn node_deployment_state(s: NodeDeploymentState) -> Style {
    match s {
        NodeDeploymentState::Active => ok(),
        NodeDeploymentState::Failed => error(),
        NodeDeploymentState::Pending | NodeDeploymentState::Installing => warn(),
        NodeDeploymentState::Removed => dim(),
        NodeDeploymentState::RolledBack => Style::new().fg(Color::Magenta),
    }
}

/// A sync's status.
pub fn sync_status(s: SyncStatus) -> Style {
    match s {
        SyncStatus::Succeeded => ok(),
        SyncStatus::Partial => warn(),
        SyncStatus::Failed => error(),
        SyncStatus::Pending | SyncStatus::Superseded => dim(),
    }
}

/// A command's status.
pub fn command_status(s: CommandStatus) -> Style {
    match s {
        CommandStatus::Succeeded => ok(),
        CommandStatus::Failed | CommandStatus::TimedOut => error(),
        CommandStatus::Queued | CommandStatus::Delivered => warn(),
        CommandStatus::Canceled => dim(),
    }
}
