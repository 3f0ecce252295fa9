//! API keys (never their secrets).

use edgesync_client::wire::ScopeName;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};

use super::{block, placeholder, render_table, style, table};
use crate::app::App;
use crate::format;

fn scope(s: ScopeName) -> &'static str {
    match s {
        ScopeName::Admin => "admin",
        ScopeName::Deploy => "deploy",
        ScopeName::Read => "read",
        ScopeName::NodesRegister => "nodes:register",
    }
}

/// The API keys view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.api_keys.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let block = block(format!("API keys ({count})"), list);
    if placeholder(frame, area, block.clone(), list, count == 0, "no API keys") {
        return;
    }
    let rows = list.data.as_deref().unwrap_or_default().iter().map(|k| {
        let (state, st) = if k.revoked_at.is_some() {
            ("revoked", style::dim())
        } else if k.expires_at.is_some_and(|e| e <= app.now) {
            ("expired", style::dim())
        } else {
            ("active", style::ok())
        };
        Row::new(vec![
            Cell::from(k.name.clone()),
            Cell::from(
                k.scopes
                    .iter()
                    .map(|s| scope(*s))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Cell::from(format!("{}…", k.secret_prefix)),
            Cell::from(Span::styled(state, st)),
            Cell::from(if k.require_signature { "signed" } else { "" }),
            Cell::from(format::ago(app.now, k.created_at)),
            Cell::from(
                k.last_used_at
                    .map_or_else(|| "never".to_owned(), |t| format::ago(app.now, t)),
            ),
        ])
    });
    let t = table(
        &[
            "NAME",
            "SCOPES",
            "PREFIX",
            "STATE",
            "HMAC",
            "CREATED",
            "LAST USED",
        ],
        rows.collect(),
        &[
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(10),
        ],
        block,
    );
    render_table(frame, area, t, app.api_keys.selected);
}
