//! Requests out, loading flags, and what each view polls.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{ERROR_TTL, INFO_TTL};
use crate::action::{Effect, Request};
use crate::app::{App, StatusKind, View};

/// Sends a request, unless the same read is already in flight (a slow link must not pile up
/// polls), and marks what it loads as loading.
pub(super) fn send(app: &mut App, request: Request, out: &mut Vec<Effect>) {
    if request.is_read() && app.in_flight.contains(&request) {
        return;
    }
    set_loading(app, &request, true);
    app.in_flight.push(request.clone());
    out.push(Effect::Request(request));
}

pub(super) fn set_loading(app: &mut App, request: &Request, loading: bool) {
    let flag = match request {
        Request::Fleet => &mut app.fleet.loading,
        Request::Nodes { .. } => &mut app.nodes.list.loading,
        Request::NodeHistory(_) => &mut app.nodes.history.loading,
        Request::NodeCommands(_) => &mut app.nodes.commands.loading,
        Request::Functions => &mut app.functions.list.loading,
        Request::Function(_) => &mut app.functions.detail.loading,
        Request::Deployments => &mut app.deployments.list.loading,
        Request::Deployment(_) => &mut app.deployments.detail.loading,
        Request::SyncStats => &mut app.sync.stats.loading,
        Request::SyncHistory(_) => &mut app.sync.history.loading,
        Request::Telemetry { .. } => &mut app.telemetry.series.loading,
        Request::Routes => &mut app.routes.list.loading,
        Request::Schemas => &mut app.schemas.list.loading,
        Request::ApiKeys => &mut app.api_keys.list.loading,
        _ => return,
    };
    *flag = loading;
}

pub(super) fn tick(app: &mut App, now: OffsetDateTime, out: &mut Vec<Effect>) {
    app.now = now;
    if let Some(status) = &app.status {
        let ttl = match status.kind {
            StatusKind::Info => INFO_TTL,
            StatusKind::Error => ERROR_TTL,
        };
        if now - status.at >= ttl {
            app.status = None;
        }
    }
    if due(app.last_refresh, now, app.settings.refresh_every) {
        app.last_refresh = Some(now);
        refresh_view(app, out);
    }
    if due(app.last_fleet, now, app.settings.fleet_every) {
        app.last_fleet = Some(now);
        send(app, Request::Fleet, out);
    }
}

pub(super) fn due(last: Option<OffsetDateTime>, now: OffsetDateTime, every: Duration) -> bool {
    last.is_none_or(|last| now - last >= every)
}

/// Requests what the current view shows (only that: polling stays cheap).
pub(super) fn refresh_view(app: &mut App, out: &mut Vec<Effect>) {
    let nodes = Request::Nodes {
        selector: app.nodes.selector.clone(),
    };
    let need_functions = app.functions.list.data.is_none();
    match app.view {
        View::Nodes => {
            send(app, nodes, out);
            if need_functions {
                send(app, Request::Functions, out);
            }
            if app.nodes.detail_open
                && let Some(id) = app.nodes.detail_node
            {
                send(app, Request::NodeHistory(id), out);
                send(app, Request::NodeCommands(id), out);
            }
        }
        View::Functions => {
            send(app, Request::Functions, out);
            if let Some(id) = app.selected_function().map(|f| f.id) {
                send(app, Request::Function(id), out);
            }
        }
        View::Deployments => {
            send(app, Request::Deployments, out);
            if need_functions {
                send(app, Request::Functions, out);
            }
            if let Some(id) = app.selected_deployment().map(|d| d.id) {
                send(app, Request::Deployment(id), out);
            }
        }
        View::Sync => {
            send(app, Request::SyncStats, out);
            send(app, nodes, out);
            if let Some(id) = app.sync.node {
                send(app, Request::SyncHistory(id), out);
            }
            ensure_context(app, out);
        }
        View::Telemetry => {
            send(app, nodes, out);
            if let Some(id) = app.telemetry.node {
                send(app, telemetry_request(app, id), out);
            }
            ensure_context(app, out);
        }
        View::Routes => {
            send(app, Request::Routes, out);
            if need_functions {
                send(app, Request::Functions, out);
            }
        }
        View::Schemas => send(app, Request::Schemas, out),
        View::ApiKeys => send(app, Request::ApiKeys, out),
    }
}

pub(super) fn telemetry_request(app: &App, node: Uuid) -> Request {
    Request::Telemetry {
        node,
        window_s: app.telemetry.window_s(),
        step_s: app.telemetry.step_s(),
    }
}

/// The sync and telemetry views follow the selected node: fetch when it changed.
pub(super) fn ensure_context(app: &mut App, out: &mut Vec<Effect>) {
    let node = app.selected_node().map(|n| n.id);
    match app.view {
        View::Sync if app.sync.node != node => {
            app.sync.node = node;
            app.sync.history.clear();
            if let Some(id) = node {
                send(app, Request::SyncHistory(id), out);
            }
        }
        View::Telemetry if app.telemetry.node != node => {
            app.telemetry.node = node;
            app.telemetry.series.clear();
            if let Some(id) = node {
                send(app, telemetry_request(app, id), out);
            }
        }
        _ => {}
    }
}

/// The node detail pane follows the selection while it is open.
pub(super) fn ensure_node_detail(app: &mut App, out: &mut Vec<Effect>) {
    if !app.nodes.detail_open {
        return;
    }
    let node = app.selected_node().map(|n| n.id);
    if app.nodes.detail_node != node {
        app.nodes.detail_node = node;
        app.nodes.history.clear();
        app.nodes.commands.clear();
        if let Some(id) = node {
            send(app, Request::NodeHistory(id), out);
            send(app, Request::NodeCommands(id), out);
        }
    }
}

/// The functions and deployments detail panes follow the selection.
pub(super) fn ensure_detail(app: &mut App, out: &mut Vec<Effect>) {
    match app.view {
        View::Functions => {
            if let Some(id) = app.selected_function().map(|f| f.id)
                && app.function_detail().is_none()
            {
                send(app, Request::Function(id), out);
            }
        }
        View::Deployments => {
            if let Some(id) = app.selected_deployment().map(|d| d.id)
                && app.deployment_detail().is_none()
            {
                send(app, Request::Deployment(id), out);
            }
        }
        View::Nodes => ensure_node_detail(app, out),
        View::Sync | View::Telemetry => ensure_context(app, out),
        _ => {}
    }
}
