//! Routes: host and path patterns mapped to functions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};

use super::{block, placeholder, render_table, style, table};
use crate::app::App;
use crate::format;

/// The routes view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.routes.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let block = block(format!("Routes ({count})"), list);
    if placeholder(frame, area, block.clone(), list, count == 0, "no routes") {
        return;
    }
    let rows = list.data.as_deref().unwrap_or_default().iter().map(|r| {
        let function = app
            .function_name(r.function_id)
            .map_or_else(|| format::short_id(r.function_id), str::to_owned);
        Row::new(vec![
            Cell::from(if r.methods.is_empty() {
                "*".to_owned()
            } else {
                r.methods.join(",")
            }),
            Cell::from(r.host.clone().unwrap_or_else(|| "*".into())),
            Cell::from(r.path.clone()),
            Cell::from(function),
            Cell::from(format::ago(app.now, r.updated_at)),
            Cell::from(Span::styled(format::short_id(r.id), style::dim())),
        ])
    });
    let t = table(
        &["METHODS", "HOST", "PATH", "FUNCTION", "UPDATED", "ID"],
        rows.collect(),
        &[
            Constraint::Length(16),
            Constraint::Fill(1),
            Constraint::Fill(2),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(8),
        ],
        block,
    );
    render_table(frame, area, t, app.routes.selected);
}
