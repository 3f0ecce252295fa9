//! Answers: data into the state (dropping stale ones), outcomes onto the status line.

use std::mem::discriminant;

use edgesync_client::wire::{DeploymentInfo, NodeInfo};
use uuid::Uuid;

use super::poll::{ensure_detail, send, set_loading};
use super::{error, info};
use crate::action::{ApiError, Effect, Payload, Request, Response};
use crate::app::{App, View};
use crate::format::short_id;

/// What a request is about, for error messages.
pub(super) fn subject(request: &Request) -> &'static str {
    match request {
        Request::Fleet => "fleet summary",
        Request::Nodes { .. } => "nodes",
        Request::NodeHistory(_) | Request::SyncHistory(_) => "sync history",
        Request::NodeCommands(_) => "commands",
        Request::Functions | Request::Function(_) => "functions",
        Request::Deployments | Request::Deployment(_) => "deployments",
        Request::SyncStats => "sync stats",
        Request::Telemetry { .. } => "telemetry",
        Request::Routes => "routes",
        Request::Schemas => "schemas",
        Request::ApiKeys => "API keys",
        Request::QueueCommand { .. } => "queue command",
        Request::Deploy(_) => "deploy",
        Request::Rollback { .. } => "rollback",
        Request::Pause(_) => "pause",
        Request::Resume(_) => "resume",
        Request::Abort(_) => "abort",
    }
}

pub(super) fn apply_response(app: &mut App, response: Response, out: &mut Vec<Effect>) {
    let Response { request, result } = response;
    if let Some(i) = app.in_flight.iter().position(|r| *r == request) {
        app.in_flight.remove(i);
    }
    let still = app
        .in_flight
        .iter()
        .any(|r| discriminant(r) == discriminant(&request));
    set_loading(app, &request, still);
    app.last_answer = Some(app.now);
    let payload = match result {
        Ok(payload) => payload,
        Err(e) => {
            record_error(app, &request, e.clone());
            error(app, format!("{} failed: {e}", subject(&request)));
            return;
        }
    };
    match (request, payload) {
        (Request::Fleet, Payload::Fleet(summary)) => app.fleet.set(Ok(summary)),
        (Request::Nodes { selector }, Payload::Nodes(nodes)) if selector == app.nodes.selector => {
            let keep = app.selected_node().map(|n| n.id);
            app.nodes.selected = reselect(&nodes, keep, app.nodes.selected, |n| n.id);
            app.nodes.list.set(Ok(nodes));
            ensure_detail(app, out);
        }
        (Request::NodeHistory(id), Payload::History(h)) if app.nodes.detail_node == Some(id) => {
            app.nodes.history.set(Ok(h));
        }
        (Request::NodeCommands(id), Payload::Commands(c)) if app.nodes.detail_node == Some(id) => {
            app.nodes.commands.set(Ok(c));
        }
        (Request::Functions, Payload::Functions(list)) => {
            let keep = app.selected_function().map(|f| f.id);
            app.functions.selected = reselect(&list, keep, app.functions.selected, |f| f.id);
            app.functions.list.set(Ok(list));
            if app.view == View::Functions {
                ensure_detail(app, out);
            }
        }
        (Request::Function(id), Payload::Function(f))
            if app.selected_function().map(|f| f.id) == Some(id) =>
        {
            app.functions.detail.set(Ok(*f));
        }
        (Request::Deployments, Payload::Deployments(list)) => {
            let keep = app.selected_deployment().map(|d| d.id);
            app.deployments.selected = reselect(&list, keep, app.deployments.selected, |d| d.id);
            app.deployments.list.set(Ok(list));
            if app.view == View::Deployments {
                ensure_detail(app, out);
            }
        }
        (Request::Deployment(id), Payload::Deployment(d))
            if app.selected_deployment().map(|d| d.id) == Some(id) =>
        {
            replace_summary(app, &d);
            app.deployments.detail.set(Ok(*d));
        }
        (Request::SyncStats, Payload::SyncStats(s)) => app.sync.stats.set(Ok(s)),
        (Request::SyncHistory(id), Payload::History(h)) if app.sync.node == Some(id) => {
            app.sync.history.set(Ok(h));
        }
        (Request::Telemetry { node, window_s, .. }, Payload::Telemetry(t))
            if app.telemetry.node == Some(node) && app.telemetry.window_s() == window_s =>
        {
            app.telemetry.series.set(Ok(t));
        }
        (Request::Routes, Payload::Routes(list)) => {
            app.routes.selected = app.routes.selected.min(list.len().saturating_sub(1));
            app.routes.list.set(Ok(list));
        }
        (Request::Schemas, Payload::Schemas(list)) => {
            app.schemas.selected = app.schemas.selected.min(list.len().saturating_sub(1));
            app.schemas.list.set(Ok(list));
        }
        (Request::ApiKeys, Payload::ApiKeys(list)) => {
            app.api_keys.selected = app.api_keys.selected.min(list.len().saturating_sub(1));
            app.api_keys.list.set(Ok(list));
        }
        (Request::QueueCommand { node, .. }, Payload::CommandQueued(c)) => {
            let name = node_name(app, node);
            info(
                app,
                format!(
                    "queued {} on {name} (command {}): see the node detail",
                    c.kind,
                    short_id(c.id)
                ),
            );
            if app.view == View::Nodes && app.selected_node().map(|n| n.id) == Some(node) {
                app.nodes.detail_open = true;
                app.nodes.detail_node = Some(node);
            }
            send(app, Request::NodeCommands(node), out);
        }
        (Request::Deploy(_), Payload::Deployment(d)) => {
            let label = crate::format::deployment_label(&d.deployment);
            info(
                app,
                format!(
                    "created deployment {label}: {} node(s) targeted, {} batch(es)",
                    d.deployment.counts.targeted, d.deployment.rollout.batches
                ),
            );
            let list = app.deployments.list.data.get_or_insert_with(Vec::new);
            list.insert(0, d.deployment.clone());
            app.deployments.selected = 0;
            app.deployments.nodes_open = false;
            app.deployments.detail.set(Ok(*d));
            app.view = View::Deployments;
            app.last_refresh = Some(app.now);
            send(app, Request::Deployments, out);
            send(app, Request::Fleet, out);
        }
        (Request::Rollback { function }, Payload::RolledBack(r)) => {
            let name = app
                .function_name(function)
                .map_or_else(|| short_id(function), str::to_owned);
            let text = match &r.entry {
                Some(entry) => format!(
                    "rolled back {name} to v{}: {} deployment(s) retargeted",
                    r.to_version,
                    entry.deployments.len()
                ),
                None => format!(
                    "nothing to roll back: live deployments of {name} already run v{}",
                    r.to_version
                ),
            };
            info(app, text);
            app.functions.detail.clear();
            send(app, Request::Function(function), out);
        }
        (Request::Pause(_) | Request::Resume(_) | Request::Abort(_), Payload::Deployment(d)) => {
            let label = crate::format::deployment_label(&d.deployment);
            let status = crate::format::deployment_status(d.deployment.status);
            info(app, format!("deployment {label} is now {status}"));
            replace_summary(app, &d);
            if app.selected_deployment().map(|s| s.id) == Some(d.deployment.id) {
                app.deployments.detail.set(Ok(*d));
            }
            send(app, Request::Deployments, out);
            send(app, Request::Fleet, out);
        }
        _ => {}
    }
}

/// Keeps the selection on the same item across a refresh.
pub(super) fn reselect<T>(
    list: &[T],
    keep: Option<Uuid>,
    previous: usize,
    id: impl Fn(&T) -> Uuid,
) -> usize {
    keep.and_then(|k| list.iter().position(|x| id(x) == k))
        .unwrap_or_else(|| previous.min(list.len().saturating_sub(1)))
}

pub(super) fn replace_summary(app: &mut App, d: &DeploymentInfo) {
    if let Some(list) = &mut app.deployments.list.data
        && let Some(slot) = list.iter_mut().find(|s| s.id == d.deployment.id)
    {
        *slot = d.deployment.clone();
    }
}

pub(super) fn node_name(app: &App, id: Uuid) -> String {
    app.nodes
        .list
        .data
        .as_ref()
        .and_then(|l| l.iter().find(|n: &&NodeInfo| n.id == id))
        .map_or_else(|| short_id(id), |n| n.name.clone())
}

pub(super) fn record_error(app: &mut App, request: &Request, e: ApiError) {
    let slot = match request {
        Request::Fleet => &mut app.fleet.error,
        Request::Nodes { selector } if *selector == app.nodes.selector => &mut app.nodes.list.error,
        Request::NodeHistory(_) => &mut app.nodes.history.error,
        Request::NodeCommands(_) => &mut app.nodes.commands.error,
        Request::Functions => &mut app.functions.list.error,
        Request::Function(_) => &mut app.functions.detail.error,
        Request::Deployments => &mut app.deployments.list.error,
        Request::Deployment(_) => &mut app.deployments.detail.error,
        Request::SyncStats => &mut app.sync.stats.error,
        Request::SyncHistory(_) => &mut app.sync.history.error,
        Request::Telemetry { .. } => &mut app.telemetry.series.error,
        Request::Routes => &mut app.routes.list.error,
        Request::Schemas => &mut app.schemas.list.error,
        Request::ApiKeys => &mut app.api_keys.list.error,
        _ => return,
    };
    *slot = Some(e);
}
