//! `update(&mut App, Action) -> Vec<Effect>`: every state change of the console, with no I/O.
//! Requests go out as [`Effect::Request`]; their answers come back as [`Action::Response`].

mod answers;
mod forms;
mod navigate;
mod poll;

use std::time::Duration;

use crate::action::{Action, Effect};
use crate::app::{App, FieldValue, Mode, Status, StatusKind, TELEMETRY_WINDOWS, View};
use answers::apply_response;
use forms::{
    DeploymentChange, ask_deployment, ask_rollback, edit_field, focus_field, open_command_form,
    open_deploy_form, submit_form,
};
use navigate::{Move, back, move_node, move_selection, open, set_selector, show};
use poll::{ensure_context, refresh_view, send, tick};

/// Rows PgUp / PgDn move.
pub(super) const PAGE: isize = 10;
/// How long an info message stays on the status line.
pub(super) const INFO_TTL: Duration = Duration::from_secs(8);
/// How long an error stays on the status line.
pub(super) const ERROR_TTL: Duration = Duration::from_secs(20);

/// Applies one action; returns what must happen outside.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut out = Vec::new();
    match action {
        Action::Quit => out.push(Effect::Quit),
        Action::Tick(now) => tick(app, now, &mut out),
        Action::Refresh => {
            app.last_refresh = Some(app.now);
            refresh_view(app, &mut out);
        }
        Action::NextView => {
            let next = View::ALL[(app.view.index() + 1) % View::ALL.len()];
            show(app, next, &mut out);
        }
        Action::PrevView => {
            let n = View::ALL.len();
            let prev = View::ALL[(app.view.index() + n - 1) % n];
            show(app, prev, &mut out);
        }
        Action::Show(view) => show(app, view, &mut out),
        Action::Up => move_selection(app, Move::By(-1), &mut out),
        Action::Down => move_selection(app, Move::By(1), &mut out),
        Action::PageUp => move_selection(app, Move::By(-PAGE), &mut out),
        Action::PageDown => move_selection(app, Move::By(PAGE), &mut out),
        Action::Top => move_selection(app, Move::Top, &mut out),
        Action::Bottom => move_selection(app, Move::Bottom, &mut out),
        Action::Open => open(app, &mut out),
        Action::Back => back(app, &mut out),
        Action::ToggleHelp => {
            app.mode = if app.mode == Mode::Help {
                Mode::Normal
            } else {
                Mode::Help
            };
        }
        Action::PrevNode => move_node(app, -1, &mut out),
        Action::NextNode => move_node(app, 1, &mut out),
        Action::CycleWindow => {
            app.telemetry.window = (app.telemetry.window + 1) % TELEMETRY_WINDOWS.len();
            app.telemetry.series.clear();
            app.telemetry.node = None;
            ensure_context(app, &mut out);
        }
        Action::StartFilter => {
            app.mode = Mode::Filter(app.nodes.selector.clone().unwrap_or_default());
        }
        Action::FilterInput(c) => {
            if let Mode::Filter(text) = &mut app.mode {
                text.push(c);
            }
        }
        Action::FilterBackspace => {
            if let Mode::Filter(text) = &mut app.mode {
                text.pop();
            }
        }
        Action::FilterSubmit => {
            if let Mode::Filter(text) = std::mem::take(&mut app.mode) {
                let selector = Some(text.trim().to_owned()).filter(|s| !s.is_empty());
                set_selector(app, selector, &mut out);
            }
        }
        Action::FilterCancel => app.mode = Mode::Normal,
        Action::OpenCommandForm => open_command_form(app),
        Action::OpenDeployForm => open_deploy_form(app),
        Action::AskRollback => ask_rollback(app),
        Action::AskPause => ask_deployment(app, DeploymentChange::Pause),
        Action::AskResume => ask_deployment(app, DeploymentChange::Resume),
        Action::AskAbort => ask_deployment(app, DeploymentChange::Abort),
        Action::FormInput(c) => edit_field(app, |v| {
            if let FieldValue::Text(s) = v {
                s.push(c);
            }
        }),
        Action::FormBackspace => edit_field(app, |v| {
            if let FieldValue::Text(s) = v {
                s.pop();
            }
        }),
        Action::FormCycle(step) => edit_field(app, |v| match v {
            FieldValue::Toggle(b) => *b = !*b,
            FieldValue::Choice { options, index } => {
                let n = options.len().max(1) as isize;
                *index = (*index as isize + step as isize).rem_euclid(n) as usize;
            }
            FieldValue::Text(_) => {}
        }),
        Action::FormNext => focus_field(app, 1),
        Action::FormPrev => focus_field(app, -1),
        Action::FormSubmit => submit_form(app, &mut out),
        Action::FormCancel => app.mode = Mode::Normal,
        Action::ConfirmYes => {
            if let Mode::Confirm(confirm) = std::mem::take(&mut app.mode) {
                let text = format!("{} …", confirm.title.to_lowercase());
                info(app, text);
                send(app, confirm.request, &mut out);
            }
        }
        Action::ConfirmNo => {
            if matches!(app.mode, Mode::Confirm(_)) {
                app.mode = Mode::Normal;
                info(app, "cancelled");
            }
        }
        Action::Response(response) => apply_response(app, *response, &mut out),
    }
    out
}

pub(super) fn info(app: &mut App, text: impl Into<String>) {
    app.status = Some(Status {
        kind: StatusKind::Info,
        text: text.into(),
        at: app.now,
    });
}

pub(super) fn error(app: &mut App, text: impl Into<String>) {
    app.status = Some(Status {
        kind: StatusKind::Error,
        text: text.into(),
        at: app.now,
    });
}
