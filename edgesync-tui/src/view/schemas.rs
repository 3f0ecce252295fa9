//! Schemas: the migrations of the nodes' local databases, with the selected one's SQL.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Wrap};

use super::{block, placeholder, render_table, style, table};
use crate::app::App;
use crate::format;

/// The schemas view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let list = &app.schemas.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let block = block(format!("Schema migrations ({count})"), list);
    if placeholder(
        frame,
        area,
        block.clone(),
        list,
        count == 0,
        "no schema migrations",
    ) {
        return;
    }
    let items = list.data.as_deref().unwrap_or_default();
    let rows = items.iter().map(|m| {
        Row::new(vec![
            Cell::from(format!("v{}", m.version)),
            Cell::from(m.name.clone()),
            Cell::from(m.checksum.chars().take(12).collect::<String>()),
            Cell::from(if m.down_sql.is_some() { "yes" } else { "no" }),
            Cell::from(format::ago(app.now, m.created_at)),
        ])
    });
    let t = table(
        &["VERSION", "NAME", "CHECKSUM", "DOWN", "CREATED"],
        rows.collect(),
        &[
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(12),
            Constraint::Length(5),
            Constraint::Length(9),
        ],
        block,
    );
    render_table(frame, top, t, app.schemas.selected);
    if let Some(m) = items.get(app.schemas.selected) {
        let mut lines = vec![Line::styled("-- up", style::dim())];
        lines.extend(m.up_sql.lines().map(|l| Line::from(l.to_owned())));
        if let Some(down) = &m.down_sql {
            lines.push(Line::styled("-- down", style::dim()));
            lines.extend(down.lines().map(|l| Line::from(l.to_owned())));
        }
        let sql = Block::bordered()
            .border_style(style::border())
            .title(Line::styled(
                format!(" v{} {} ", m.version, m.name),
                style::title(),
            ));
        frame.render_widget(
            Paragraph::new(lines).block(sql).wrap(Wrap { trim: false }),
            bottom,
        );
    }
}
