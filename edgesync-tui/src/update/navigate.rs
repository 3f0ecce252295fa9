//! Views, selections, panes and the label-selector filter.

use super::poll::{ensure_context, ensure_detail, ensure_node_detail, refresh_view, send};
use crate::action::{Effect, Request};
use crate::app::{App, View};

pub(super) fn show(app: &mut App, view: View, out: &mut Vec<Effect>) {
    if app.view == view {
        return;
    }
    app.view = view;
    app.last_refresh = Some(app.now);
    refresh_view(app, out);
}

pub(super) enum Move {
    By(isize),
    Top,
    Bottom,
}

pub(super) fn step(selected: &mut usize, len: usize, how: &Move) {
    if len == 0 {
        *selected = 0;
        return;
    }
    *selected = match how {
        Move::By(d) => (*selected as isize + d).clamp(0, len as isize - 1) as usize,
        Move::Top => 0,
        Move::Bottom => len - 1,
    };
}

pub(super) fn len<T>(data: &Option<Vec<T>>) -> usize {
    data.as_ref().map_or(0, Vec::len)
}

pub(super) fn move_selection(app: &mut App, how: Move, out: &mut Vec<Effect>) {
    match app.view {
        View::Nodes | View::Sync | View::Telemetry => {
            let n = len(&app.nodes.list.data);
            step(&mut app.nodes.selected, n, &how);
        }
        View::Functions => {
            let n = len(&app.functions.list.data);
            step(&mut app.functions.selected, n, &how);
        }
        View::Deployments if app.deployments.nodes_open => {
            let n = app.deployment_detail().map_or(0, |d| d.nodes.len());
            step(&mut app.deployments.node_selected, n, &how);
        }
        View::Deployments => {
            let n = len(&app.deployments.list.data);
            let before = app.deployments.selected;
            step(&mut app.deployments.selected, n, &how);
            if before != app.deployments.selected {
                app.deployments.node_selected = 0;
            }
        }
        View::Routes => {
            let n = len(&app.routes.list.data);
            step(&mut app.routes.selected, n, &how);
        }
        View::Schemas => {
            let n = len(&app.schemas.list.data);
            step(&mut app.schemas.selected, n, &how);
        }
        View::ApiKeys => {
            let n = len(&app.api_keys.list.data);
            step(&mut app.api_keys.selected, n, &how);
        }
    }
    ensure_detail(app, out);
}

pub(super) fn move_node(app: &mut App, delta: isize, out: &mut Vec<Effect>) {
    let n = len(&app.nodes.list.data);
    step(&mut app.nodes.selected, n, &Move::By(delta));
    ensure_context(app, out);
}

pub(super) fn open(app: &mut App, out: &mut Vec<Effect>) {
    match app.view {
        View::Nodes => {
            if app.selected_node().is_none() {
                return;
            }
            app.nodes.detail_open = !app.nodes.detail_open;
            if app.nodes.detail_open {
                app.nodes.detail_node = None;
                ensure_node_detail(app, out);
            }
        }
        View::Deployments if app.selected_deployment().is_some() => {
            app.deployments.nodes_open = !app.deployments.nodes_open;
            app.deployments.node_selected = 0;
            ensure_detail(app, out);
        }
        _ => {}
    }
}

pub(super) fn back(app: &mut App, out: &mut Vec<Effect>) {
    app.status = None;
    match app.view {
        View::Nodes if app.nodes.detail_open => app.nodes.detail_open = false,
        View::Nodes if app.nodes.selector.is_some() => set_selector(app, None, out),
        View::Deployments if app.deployments.nodes_open => app.deployments.nodes_open = false,
        _ => {}
    }
}

pub(super) fn set_selector(app: &mut App, selector: Option<String>, out: &mut Vec<Effect>) {
    if app.nodes.selector == selector && app.nodes.list.data.is_some() {
        return;
    }
    app.nodes.selector = selector.clone();
    app.nodes.list.clear();
    app.nodes.selected = 0;
    app.nodes.detail_open = false;
    send(app, Request::Nodes { selector }, out);
}
