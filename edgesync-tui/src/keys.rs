//! Keys → actions, and the help overlay's table (kept side by side so they cannot drift).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::action::Action;
use crate::app::{App, FieldValue, Mode, View};

/// One section of the help overlay: a title and `(key, what it does)` rows.
pub type HelpSection = (&'static str, &'static [(&'static str, &'static str)]);

/// Every key, by where it works.
pub const HELP: &[HelpSection] = &[
    (
        "Everywhere",
        &[
            ("?", "show / hide this help"),
            ("q  Ctrl-C", "quit"),
            ("Tab  Shift-Tab", "next / previous view"),
            ("1 … 8", "jump to a view"),
            ("j k  ↓ ↑", "move the selection"),
            ("g G  Home End", "first / last row"),
            ("PgUp PgDn", "move a page"),
            ("R", "refresh now (views also poll)"),
            ("Esc", "close the pane, clear the filter"),
        ],
    ),
    (
        "Nodes",
        &[
            ("/", "filter by label selector (tier=edge,…)"),
            ("Enter", "detail: labels, state, syncs, commands"),
            ("c", "queue a command on the node"),
        ],
    ),
    (
        "Functions",
        &[
            ("d", "deploy (selector, strategy, batches)"),
            ("r", "roll back to the previous ready version"),
        ],
    ),
    (
        "Deployments",
        &[
            ("Enter", "per-node states of the rollout"),
            ("p", "pause the rollout"),
            ("r", "resume the rollout"),
            ("a", "abort the deployment"),
        ],
    ),
    (
        "Sync · Telemetry",
        &[
            ("[ ]", "previous / next node"),
            ("w", "telemetry: cycle the time window"),
        ],
    ),
    (
        "Prompts and dialogs",
        &[
            ("Enter", "apply the filter / send the form"),
            ("Tab  ↓ ↑", "next / previous form field"),
            ("Space  ← →", "toggle a switch, change a choice"),
            ("y  n", "confirm / cancel"),
        ],
    ),
];

/// The action a key stands for in the current state, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match &app.mode {
        Mode::Help => Some(Action::ToggleHelp),
        Mode::Confirm(_) => match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::ConfirmYes),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::ConfirmNo),
            _ => None,
        },
        Mode::Filter(_) => match key.code {
            KeyCode::Enter => Some(Action::FilterSubmit),
            KeyCode::Esc => Some(Action::FilterCancel),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::FilterInput(c)),
            _ => None,
        },
        Mode::Form(form) => {
            let text = form
                .fields
                .get(form.focus)
                .is_some_and(|f| f.value.is_text());
            let choice = form
                .fields
                .get(form.focus)
                .is_some_and(|f| matches!(f.value, FieldValue::Choice { .. }));
            match key.code {
                KeyCode::Enter => Some(Action::FormSubmit),
                KeyCode::Esc => Some(Action::FormCancel),
                KeyCode::Tab | KeyCode::Down => Some(Action::FormNext),
                KeyCode::BackTab | KeyCode::Up => Some(Action::FormPrev),
                KeyCode::Backspace if text => Some(Action::FormBackspace),
                KeyCode::Left if choice => Some(Action::FormCycle(-1)),
                KeyCode::Right if choice => Some(Action::FormCycle(1)),
                KeyCode::Char(' ') if !text => Some(Action::FormCycle(1)),
                KeyCode::Char(c) if text && !ctrl => Some(Action::FormInput(c)),
                _ => None,
            }
        }
        Mode::Normal => normal(app, key),
    }
}

fn normal(app: &App, key: KeyEvent) -> Option<Action> {
    let global = match key.code {
        KeyCode::Char('q') => Some(Action::Quit),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Tab => Some(Action::NextView),
        KeyCode::BackTab => Some(Action::PrevView),
        KeyCode::Char(c @ '1'..='8') => {
            let i = c as usize - '1' as usize;
            View::ALL.get(i).copied().map(Action::Show)
        }
        KeyCode::Char('j') | KeyCode::Down => Some(Action::Down),
        KeyCode::Char('k') | KeyCode::Up => Some(Action::Up),
        KeyCode::Char('g') | KeyCode::Home => Some(Action::Top),
        KeyCode::Char('G') | KeyCode::End => Some(Action::Bottom),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown => Some(Action::PageDown),
        KeyCode::Char('R') => Some(Action::Refresh),
        KeyCode::Esc => Some(Action::Back),
        KeyCode::Enter => Some(Action::Open),
        _ => None,
    };
    if global.is_some() {
        return global;
    }
    match (app.view, key.code) {
        (View::Nodes, KeyCode::Char('/')) => Some(Action::StartFilter),
        (View::Nodes, KeyCode::Char('c')) => Some(Action::OpenCommandForm),
        (View::Functions, KeyCode::Char('d')) => Some(Action::OpenDeployForm),
        (View::Functions, KeyCode::Char('r')) => Some(Action::AskRollback),
        (View::Deployments, KeyCode::Char('p')) => Some(Action::AskPause),
        (View::Deployments, KeyCode::Char('r')) => Some(Action::AskResume),
        (View::Deployments, KeyCode::Char('a')) => Some(Action::AskAbort),
        (View::Sync | View::Telemetry, KeyCode::Char('[')) => Some(Action::PrevNode),
        (View::Sync | View::Telemetry, KeyCode::Char(']')) => Some(Action::NextNode),
        (View::Telemetry, KeyCode::Char('w')) => Some(Action::CycleWindow),
        _ => None,
    }
}

/// The key hints of the status line for the current view.
pub fn hints(app: &App) -> &'static str {
    match &app.mode {
        Mode::Filter(_) => "Enter apply · Esc cancel",
        Mode::Form(_) => "Tab next · Space toggle · Enter send · Esc cancel",
        Mode::Confirm(_) => "y confirm · n cancel",
        Mode::Help => "any key closes",
        Mode::Normal => match app.view {
            View::Nodes => "/ filter · Enter detail · c command · ? help",
            View::Functions => "d deploy · r rollback · ? help",
            View::Deployments => "Enter nodes · p pause · r resume · a abort · ? help",
            View::Sync => "[ ] node · ? help",
            View::Telemetry => "[ ] node · w window · ? help",
            View::Routes | View::Schemas | View::ApiKeys => "Tab views · ? help",
        },
    }
}
