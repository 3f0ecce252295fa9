//! The help overlay: every key, from [`crate::keys::HELP`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{heading, style};
use crate::keys::{HELP, HelpSection};

fn lines(sections: &[HelpSection]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (section, keys) in sections {
        lines.push(heading(section));
        for (key, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<15}"), style::header()),
                Span::raw(*what),
            ]));
        }
    }
    lines
}

/// Draws the overlay centred over `area`: two columns when the terminal is wide enough.
pub fn draw(frame: &mut Frame<'_>, area: Rect) {
    let block = Block::bordered()
        .border_style(style::title())
        .title(Line::styled(" Keys ", style::title()))
        .title_bottom(Line::styled(" any key closes ", style::dim()));
    if area.width >= 118 {
        let split = 2;
        let (left, right) = (lines(&HELP[..split]), lines(&HELP[split..]));
        let height = (left.len().max(right.len()) as u16 + 2).min(area.height);
        let popup = area.centered(Constraint::Length(116), Constraint::Length(height));
        let inner = block.inner(popup);
        frame.render_widget(Clear, popup);
        frame.render_widget(block, popup);
        let [l, _, r] = Layout::horizontal([
            Constraint::Length(56),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(left), l);
        frame.render_widget(Paragraph::new(right), r);
    } else {
        let all = lines(HELP);
        let height = (all.len() as u16 + 2).min(area.height);
        let popup = area.centered(
            Constraint::Length(78.min(area.width)),
            Constraint::Length(height),
        );
        frame.render_widget(Clear, popup);
        frame.render_widget(Paragraph::new(all).block(block), popup);
    }
}
