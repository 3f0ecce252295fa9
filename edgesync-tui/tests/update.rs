//! Update logic: key → action → state, and the effects `update` asks for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{NOW, ROLLOUT, app, id};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use edgesync_tui::action::{Action, ApiError, Effect, Event, Payload, Request, Response};
use edgesync_tui::app::{App, FieldValue, Loadable, Mode, StatusKind, View};
use edgesync_tui::keys::action_for;
use edgesync_tui::run::split_alt;
use edgesync_tui::update::update;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    let action = action_for(app, KeyEvent::new(code, KeyModifiers::NONE));
    action.map(|a| update(app, a)).unwrap_or_default()
}

fn typ(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(app, KeyCode::Char(c)))
        .collect()
}

fn requests(effects: &[Effect]) -> Vec<Request> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Request(r) => Some(r.clone()),
            Effect::Quit => None,
        })
        .collect()
}

fn answer(app: &mut App, request: Request, result: Result<Payload, ApiError>) -> Vec<Effect> {
    update(
        app,
        Action::Response(Box::new(Response { request, result })),
    )
}

#[test]
fn filter_entry_applies_a_selector_server_side() {
    let mut app = app();
    assert!(key(&mut app, KeyCode::Char('/')).is_empty());
    assert_eq!(app.mode, Mode::Filter(String::new()));
    // Keys type into the prompt rather than acting (q does not quit, j does not move).
    assert!(typ(&mut app, "tier=edgeq").is_empty());
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.mode, Mode::Filter("tier=edge".into()));
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.nodes.selector.as_deref(), Some("tier=edge"));
    let wanted = Request::Nodes {
        selector: Some("tier=edge".into()),
    };
    assert_eq!(requests(&effects), vec![wanted.clone()]);
    assert!(app.nodes.list.loading && app.nodes.list.data.is_none());

    // An answer for the previous selector (still in flight) is dropped.
    answer(
        &mut app,
        Request::Nodes { selector: None },
        Ok(Payload::Nodes(common::edge_nodes())),
    );
    assert!(app.nodes.list.data.is_none());
    answer(
        &mut app,
        wanted,
        Ok(Payload::Nodes(common::edge_nodes()[..2].to_vec())),
    );
    assert_eq!(app.nodes.list.data.as_ref().unwrap().len(), 2);
    assert!(!app.nodes.list.loading);

    // Esc clears it.
    let effects = key(&mut app, KeyCode::Esc);
    assert_eq!(app.nodes.selector, None);
    assert_eq!(requests(&effects), vec![Request::Nodes { selector: None }]);
}

#[test]
fn filter_cancel_keeps_the_previous_selector() {
    let mut app = app();
    app.nodes.selector = Some("tier=edge".into());
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.mode, Mode::Filter("tier=edge".into()));
    typ(&mut app, ",x=y");
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.nodes.selector.as_deref(), Some("tier=edge"));
}

#[test]
fn navigation_moves_within_bounds_and_switches_views() {
    let mut app = app();
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.nodes.selected, 0);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.nodes.selected, 2, "stops at the last row");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.nodes.selected, 0);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.nodes.selected, 2);

    let effects = key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Functions);
    assert!(requests(&effects).contains(&Request::Functions));
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, View::ApiKeys, "Shift-Tab wraps around");
    let effects = key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.view, View::Deployments);
    let sent = requests(&effects);
    assert!(sent.contains(&Request::Deployments));
    assert!(sent.contains(&Request::Deployment(id(ROLLOUT))));

    // Moving the deployment selection fetches the newly selected one's detail.
    let effects = key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        requests(&effects),
        vec![Request::Deployment(id(common::DONE))]
    );
}

#[test]
fn node_detail_follows_the_selection() {
    let mut app = app();
    let effects = key(&mut app, KeyCode::Enter);
    assert!(app.nodes.detail_open);
    assert_eq!(
        requests(&effects),
        vec![Request::NodeHistory(id(1)), Request::NodeCommands(id(1))]
    );
    let effects = key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.nodes.detail_node, Some(id(2)));
    assert_eq!(
        requests(&effects),
        vec![Request::NodeHistory(id(2)), Request::NodeCommands(id(2))]
    );
    key(&mut app, KeyCode::Esc);
    assert!(!app.nodes.detail_open);
}

#[test]
fn pause_asks_for_confirmation_then_sends_the_request() {
    let mut app = app();
    app.view = View::Deployments;
    assert!(key(&mut app, KeyCode::Char('p')).is_empty());
    let Mode::Confirm(confirm) = &app.mode else {
        panic!("expected a confirmation, got {:?}", app.mode)
    };
    assert_eq!(confirm.request, Request::Pause(id(ROLLOUT)));
    assert!(confirm.message.contains("hello-v3-edge"));

    // n cancels: nothing is sent.
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);

    key(&mut app, KeyCode::Char('p'));
    let effects = key(&mut app, KeyCode::Char('y'));
    assert_eq!(effects, vec![Effect::Request(Request::Pause(id(ROLLOUT)))]);
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.in_flight.contains(&Request::Pause(id(ROLLOUT))));

    // The answer updates the list and the detail, and says so.
    let effects = answer(
        &mut app,
        Request::Pause(id(ROLLOUT)),
        Ok(Payload::Deployment(Box::new(common::rollout_detail(
            "paused",
        )))),
    );
    assert!(!app.in_flight.contains(&Request::Pause(id(ROLLOUT))));
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.kind, StatusKind::Info);
    assert_eq!(status.text, "deployment hello-v3-edge is now paused");
    assert_eq!(
        app.selected_deployment().unwrap().status,
        edgesync_client::wire::DeploymentStatus::Paused
    );
    assert!(requests(&effects).contains(&Request::Deployments));
}

#[test]
fn resume_and_abort_need_the_right_status() {
    let mut app = app();
    app.view = View::Deployments;
    // In progress: nothing to resume.
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert!(status.text.contains("cannot be resumed"), "{}", status.text);

    key(&mut app, KeyCode::Char('a'));
    let Mode::Confirm(confirm) = &app.mode else {
        panic!("abort asks first")
    };
    assert_eq!(confirm.request, Request::Abort(id(ROLLOUT)));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Request(Request::Abort(id(ROLLOUT)))]
    );
}

#[test]
fn server_errors_go_to_the_status_line() {
    let mut app = app();
    app.view = View::Deployments;
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Char('y'));
    answer(
        &mut app,
        Request::Pause(id(ROLLOUT)),
        Err(ApiError {
            status: Some(409),
            code: "invalid_state".into(),
            detail: "deployment is completed: it cannot be paused".into(),
        }),
    );
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert_eq!(
        status.text,
        "pause failed: invalid_state: deployment is completed: it cannot be paused"
    );
    // A failed poll keeps the data it had and records the error.
    app.nodes.list.loading = true;
    answer(
        &mut app,
        Request::Nodes { selector: None },
        Err(ApiError::new("unreachable", "connection refused")),
    );
    assert!(app.nodes.list.data.is_some());
    assert_eq!(app.nodes.list.error.as_ref().unwrap().code, "unreachable");
    assert!(!app.nodes.list.loading);
}

#[test]
fn polling_refreshes_the_current_view_and_never_piles_up() {
    let mut app = App::new(Default::default(), NOW);
    let effects = update(&mut app, Action::Tick(NOW));
    let sent = requests(&effects);
    assert!(sent.contains(&Request::Nodes { selector: None }));
    assert!(sent.contains(&Request::Fleet));
    assert!(app.nodes.list.loading);

    // Within the refresh interval: nothing.
    let t1 = NOW + Duration::from_secs(1);
    assert!(update(&mut app, Action::Tick(t1)).is_empty());

    // Due again, but the same reads are still in flight over a slow link: nothing new.
    let t2 = NOW + Duration::from_secs(2);
    assert!(requests(&update(&mut app, Action::Tick(t2))).is_empty());

    answer(
        &mut app,
        Request::Nodes { selector: None },
        Ok(Payload::Nodes(common::edge_nodes())),
    );
    let t4 = NOW + Duration::from_secs(4);
    let sent = requests(&update(&mut app, Action::Tick(t4)));
    assert_eq!(sent, vec![Request::Nodes { selector: None }]);

    // Only the current view is polled (a new view loads at once).
    let sent = requests(&key(&mut app, KeyCode::Char('7')));
    assert_eq!(sent, vec![Request::Schemas]);
    answer(
        &mut app,
        Request::Schemas,
        Ok(Payload::Schemas(common::schemas())),
    );
    let t6 = NOW + Duration::from_secs(6);
    let sent = requests(&update(&mut app, Action::Tick(t6)));
    assert_eq!(sent, vec![Request::Schemas]);
}

#[test]
fn command_form_validates_and_queues() {
    let mut app = app();
    key(&mut app, KeyCode::Char('c'));
    let Mode::Form(form) = &app.mode else {
        panic!("c opens the command form")
    };
    assert_eq!(form.value("kind"), "health_probe");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typ(&mut app, "{\"x\": ");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let Mode::Form(form) = &app.mode else {
        panic!("an invalid payload keeps the form open")
    };
    assert!(form.error.as_ref().unwrap().contains("not JSON"));
    typ(&mut app, "1}");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        requests(&effects),
        vec![Request::QueueCommand {
            node: id(1),
            kind: "health_probe".into(),
            payload: serde_json::json!({"x": 1}),
        }]
    );
}

#[test]
fn deploy_form_builds_a_batched_rollout() {
    let mut app = app();
    app.view = View::Functions;
    key(&mut app, KeyCode::Char('d'));
    let Mode::Form(form) = &app.mode else {
        panic!("d opens the deploy form")
    };
    assert_eq!(form.value("version"), "3", "the latest ready version");
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "tier=edge");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Right); // batches
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Backspace);
    typ(&mut app, "2");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char(' ')); // auto rollback on
    let Mode::Form(form) = &app.mode else {
        panic!()
    };
    assert_eq!(form.fields[4].value, FieldValue::Toggle(true));
    let effects = key(&mut app, KeyCode::Enter);
    let sent: [Request; 1] = requests(&effects).try_into().unwrap();
    let [Request::Deploy(request)] = sent else {
        panic!("expected a deploy request")
    };
    assert_eq!(request.function_id, id(common::HELLO));
    assert_eq!(request.version, 3);
    assert_eq!(request.selector, "tier=edge");
    assert_eq!(
        request.strategy.kind,
        edgesync_client::wire::StrategyKind::Batches
    );
    assert_eq!(request.strategy.batch_size, Some(2));
    assert!(request.strategy.auto_rollback);

    // The created deployment is shown on the deployments view.
    let created = common::rollout_detail("in_progress");
    answer(
        &mut app,
        Request::Deploy(request),
        Ok(Payload::Deployment(Box::new(created))),
    );
    assert_eq!(app.view, View::Deployments);
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("created deployment")
    );
}

#[test]
fn rollback_is_confirmed() {
    let mut app = app();
    app.view = View::Functions;
    key(&mut app, KeyCode::Char('r'));
    let Mode::Confirm(confirm) = &app.mode else {
        panic!("rollback asks first")
    };
    assert!(confirm.message.contains("hello"));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Request(Request::Rollback {
            function: id(common::HELLO)
        })]
    );
}

#[test]
fn help_overlay_takes_any_key_and_quit_works() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode, Mode::Help);
    assert!(
        key(&mut app, KeyCode::Char('q')).is_empty(),
        "q closes help first"
    );
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    app.mode = Mode::Filter(String::new());
    assert_eq!(action_for(&app, ctrl_c), Some(Action::Quit));
}

#[test]
fn alt_keys_are_esc_then_the_key() {
    let alt_1 = Event::Key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT));
    let split = split_alt(alt_1);
    assert_eq!(split.len(), 2);
    assert!(matches!(&split[0], Event::Key(k) if k.code == KeyCode::Esc));
    assert!(
        matches!(&split[1], Event::Key(k) if k.code == KeyCode::Char('1') && k.modifiers.is_empty())
    );
}

#[test]
fn messages_fade() {
    let mut app = app();
    app.status = Some(edgesync_tui::app::Status {
        kind: StatusKind::Info,
        text: "hi".into(),
        at: NOW,
    });
    update(&mut app, Action::Tick(NOW + Duration::from_secs(3)));
    assert!(app.status.is_some());
    update(&mut app, Action::Tick(NOW + Duration::from_secs(9)));
    assert!(app.status.is_none());
    let _ = Loadable::<()>::default();
}
