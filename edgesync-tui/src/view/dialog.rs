//! Modal dialogs: the confirmation of a destructive action and the forms.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::style;
use crate::app::{Confirm, FieldValue, Form};

/// The confirmation dialog.
pub fn draw_confirm(frame: &mut Frame<'_>, area: Rect, confirm: &Confirm) {
    let width = 64.min(area.width);
    let popup = area.centered(
        Constraint::Length(width),
        Constraint::Length(8.min(area.height)),
    );
    let block = Block::bordered()
        .border_style(Style::new().fg(Color::Red))
        .title(Line::styled(
            format!(" {} ", confirm.title),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    let lines = vec![
        Line::from(confirm.message.clone()),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y ", Style::new().fg(Color::Black).bg(Color::Red).bold()),
            Span::raw(" confirm    "),
            Span::styled(" n ", Style::new().fg(Color::Black).bg(Color::Gray).bold()),
            Span::raw(" cancel"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}

/// A form.
pub fn draw_form(frame: &mut Frame<'_>, area: Rect, form: &Form) {
    let mut lines = Vec::new();
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let value = match &field.value {
            FieldValue::Text(s) if focused => format!("{s}▏"),
            FieldValue::Text(s) => s.clone(),
            FieldValue::Toggle(b) => if *b { "[x]" } else { "[ ]" }.to_owned(),
            FieldValue::Choice { options, index } => options
                .iter()
                .enumerate()
                .map(|(j, o)| {
                    if j == *index {
                        format!("({o})")
                    } else {
                        format!(" {o} ")
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        };
        let label_style = if focused {
            style::title()
        } else {
            style::dim()
        };
        let value_style = if focused {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(if focused { "▸ " } else { "  " }, label_style),
            Span::styled(format!("{:<15}", field.label), label_style),
            Span::styled(value, value_style),
        ]));
        if focused {
            lines.push(Line::styled(
                format!("{:17}{}", "", field.hint),
                style::dim(),
            ));
        }
    }
    lines.push(Line::raw(""));
    if let Some(e) = &form.error {
        lines.push(Line::styled(e.clone(), style::error()));
    }
    lines.push(Line::styled(
        "Tab/↓ next · Space/←→ change · Enter send · Esc cancel",
        style::dim(),
    ));
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = area.centered(
        Constraint::Length(72.min(area.width)),
        Constraint::Length(height),
    );
    let block = Block::bordered()
        .border_style(style::title())
        .title(Line::styled(format!(" {} ", form.title()), style::title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
