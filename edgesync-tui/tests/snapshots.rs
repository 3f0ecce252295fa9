//! Snapshot tests of every view, drawn on ratatui's `TestBackend` from state fixtures (no
//! network). Review changes with `cargo insta review`; CI runs with `INSTA_UPDATE=no`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{NOW, app, id, render};
use edgesync_tui::action::{ApiError, Request};
use edgesync_tui::app::{
    App, Confirm, Field, FieldValue, Form, FormKind, Loadable, Mode, Status, StatusKind, View,
};
use insta::assert_snapshot;
use ratatui::style::Color;

const W: u16 = 120;
const H: u16 = 30;

fn snap(app: &App) -> String {
    render(app, W, H).backend().to_string()
}

#[test]
fn nodes_filtered_by_selector() {
    let mut app = app();
    app.nodes.selector = Some("tier=edge".into());
    assert_snapshot!(snap(&app));
}

#[test]
fn nodes_filter_prompt() {
    let mut app = app();
    app.mode = Mode::Filter("tier=edge,region in (eu".into());
    assert_snapshot!(snap(&app));
}

#[test]
fn node_detail() {
    let mut app = app();
    app.nodes.detail_open = true;
    app.nodes.detail_node = Some(id(1));
    app.nodes.history = Loadable::ready(common::history());
    app.nodes.commands = Loadable::ready(common::commands());
    assert_snapshot!(snap(&app));
}

#[test]
fn functions_and_versions() {
    let mut app = app();
    app.view = View::Functions;
    assert_snapshot!(snap(&app));
}

#[test]
fn deployments_rollout_in_progress() {
    let mut app = app();
    app.view = View::Deployments;
    assert_snapshot!(snap(&app));
}

#[test]
fn deployment_per_node_states() {
    let mut app = app();
    app.view = View::Deployments;
    app.deployments.nodes_open = true;
    app.deployments.node_selected = 2;
    assert_snapshot!(snap(&app));
}

#[test]
fn sync_stats_and_history() {
    let mut app = app();
    app.view = View::Sync;
    assert_snapshot!(snap(&app));
}

#[test]
fn telemetry_sparklines() {
    let mut app = app();
    app.view = View::Telemetry;
    assert_snapshot!(snap(&app));
}

#[test]
fn routes() {
    let mut app = app();
    app.view = View::Routes;
    assert_snapshot!(snap(&app));
}

#[test]
fn schemas() {
    let mut app = app();
    app.view = View::Schemas;
    assert_snapshot!(snap(&app));
}

#[test]
fn api_keys() {
    let mut app = app();
    app.view = View::ApiKeys;
    assert_snapshot!(snap(&app));
}

#[test]
fn help_overlay() {
    let mut app = app();
    app.mode = Mode::Help;
    assert_snapshot!(snap(&app));
}

#[test]
fn help_overlay_narrow() {
    let mut app = app();
    app.mode = Mode::Help;
    assert_snapshot!(render(&app, 80, 40).backend().to_string());
}

#[test]
fn confirm_pause() {
    let mut app = app();
    app.view = View::Deployments;
    app.mode = Mode::Confirm(Confirm {
        title: "Pause rollout".into(),
        message: "Pause deployment hello-v3-edge (hello@v3)? Released nodes keep it; no further batch is released until you resume.".into(),
        request: Request::Pause(id(common::ROLLOUT)),
    });
    assert_snapshot!(snap(&app));
}

#[test]
fn deploy_form() {
    let mut app = app();
    app.view = View::Functions;
    app.mode = Mode::Form(Form {
        kind: FormKind::Deploy {
            function: id(common::HELLO),
            function_name: "hello".into(),
        },
        fields: vec![
            Field {
                label: "version",
                value: FieldValue::Text("2".into()),
                hint: "a ready version",
            },
            Field {
                label: "selector",
                value: FieldValue::Text("tier=edge".into()),
                hint: "label selector; empty: every node",
            },
            Field {
                label: "strategy",
                value: FieldValue::Choice {
                    options: vec!["all", "batches", "canary"],
                    index: 1,
                },
                hint: "← → to change",
            },
            Field {
                label: "auto rollback",
                value: FieldValue::Toggle(true),
                hint: "on a breach, nodes go back",
            },
        ],
        focus: 2,
        error: Some("batch size must be a number ≥ 1".into()),
    });
    assert_snapshot!(snap(&app));
}

#[test]
fn error_in_status_line() {
    let mut app = app();
    app.nodes.selector = Some("tier in (".into());
    app.nodes.list = Loadable {
        data: None,
        loading: false,
        error: Some(ApiError {
            status: Some(400),
            code: "invalid_selector".into(),
            detail: "selector \"tier in (\": expected a value after '('".into(),
        }),
    };
    app.status = Some(Status {
        kind: StatusKind::Error,
        text: "nodes failed: invalid_selector: selector \"tier in (\": expected a value after '('"
            .into(),
        at: NOW,
    });
    assert_snapshot!(snap(&app));
}

#[test]
fn loading_state() {
    let mut app = App::new(Default::default(), NOW);
    app.fleet.loading = true;
    app.nodes.list.loading = true;
    app.in_flight = vec![
        Request::Fleet,
        Request::Nodes { selector: None },
        Request::Functions,
    ];
    assert_snapshot!(snap(&app));
}

#[test]
fn small_terminal_deployments() {
    let mut app = app();
    app.view = View::Deployments;
    assert_snapshot!(render(&app, 80, 24).backend().to_string());
}

#[test]
fn tiny_terminal_does_not_panic() {
    let mut app = app();
    for view in View::ALL {
        app.view = view;
        for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10)] {
            render(&app, w, h);
        }
    }
    app.mode = Mode::Help;
    render(&app, 12, 4);
}

/// The last-seen column is coloured by staleness: green under half the offline timeout,
/// yellow above, red when offline.
#[test]
fn staleness_colours() {
    let app = app();
    let terminal = render(&app, W, H);
    let buffer = terminal.backend().buffer();
    let colour_of = |needle: &str, row: u16| {
        let line: String = (0..W)
            .map(|x| buffer[(x, row)].symbol().to_owned())
            .collect();
        let x = line.find(needle).expect("text on the row");
        let col = line[..x].chars().count() as u16;
        buffer[(col, row)].fg
    };
    // Rows: header (2), tabs (1), border (1), table header (1), then the nodes.
    assert_eq!(colour_of("3s ago", 5), Color::Green);
    assert_eq!(colour_of("20s ago", 6), Color::Yellow);
    assert_eq!(colour_of("1m ago", 7), Color::Red);
    assert_eq!(colour_of("● online", 5), Color::Green);
    assert_eq!(colour_of("● offline", 7), Color::Red);
}
