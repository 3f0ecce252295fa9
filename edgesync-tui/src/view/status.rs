//! The status line: the last message (errors show the problem's code and detail), requests
//! in flight, and the keys of the current view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::style;
use crate::app::{App, StatusKind};
use crate::keys;

/// One line.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let hints = keys::hints(app);
    let busy = if app.busy() {
        format!("↻ {} request(s) · ", app.in_flight.len())
    } else {
        String::new()
    };
    let right = format!("{busy}{hints} ");
    let [left_area, _, right_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(2),
        Constraint::Length(right.chars().count() as u16),
    ])
    .areas(area);
    let left = match &app.status {
        Some(s) => {
            let st = match s.kind {
                StatusKind::Info => style::ok(),
                StatusKind::Error => style::error(),
            };
            Line::styled(format!(" {}", s.text), st)
        }
        None => Line::styled(" ready", style::dim()),
    };
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(
        Paragraph::new(Line::styled(right, style::dim())),
        right_area,
    );
}
