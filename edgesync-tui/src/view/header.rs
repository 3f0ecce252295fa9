//! The header (server, fleet summary, last update) and the view switcher.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Tabs};

use super::style;
use crate::app::{App, View};
use crate::format;

/// Two lines: the server and the fleet summary.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let mut first = vec![
        Span::styled(
            " EdgeSync ",
            Style::new()
                .fg(Color::Black)
                .bg(style::ACCENT)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(app.settings.server_label.clone(), Style::new().bold()),
    ];
    if let Some(at) = app.last_answer {
        first.push(Span::styled(
            format!("  · updated {}", format::ago(app.now, at)),
            style::dim(),
        ));
    }
    let second = match (&app.fleet.data, &app.fleet.error) {
        (Some(f), _) => {
            let mut spans = vec![
                Span::raw(format!(" nodes {}  ", f.nodes)),
                Span::styled("●", style::ok()),
                Span::raw(format!(" {} online  ", f.online)),
                Span::styled("●", style::error()),
                Span::raw(format!(" {} offline  ", f.offline)),
                Span::styled("●", style::warn()),
                Span::raw(format!(" {} draining", f.draining)),
            ];
            if f.decommissioned > 0 {
                spans.push(Span::styled(
                    format!("  {} decommissioned", f.decommissioned),
                    style::dim(),
                ));
            }
            spans.push(Span::raw(format!(
                "   deployments: {} rolling out, {} paused/halted",
                f.rolling_out, f.stopped
            )));
            Line::from(spans)
        }
        (None, Some(e)) => Line::styled(format!(" fleet: {e}"), style::error()),
        (None, None) => Line::styled(" fleet: loading…", style::dim()),
    };
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
    let clock = Paragraph::new(Line::styled(
        format!("{} UTC ", format::clock(app.now)),
        style::dim(),
    ))
    .alignment(Alignment::Right);
    frame.render_widget(
        clock,
        Rect {
            height: 1.min(area.height),
            ..area
        },
    );
}

/// `1 Nodes  2 Functions  …` with the current view highlighted.
pub fn draw_tabs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let titles = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| Line::from(format!("{} {}", i + 1, v.title())));
    let tabs = Tabs::new(titles)
        .select(app.view.index())
        .style(style::dim())
        .highlight_style(
            Style::new()
                .fg(Color::Black)
                .bg(style::ACCENT)
                .add_modifier(Modifier::BOLD),
        )
        .divider(" ");
    frame.render_widget(tabs, area);
}
