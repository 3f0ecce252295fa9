//! Drawing: `draw(frame, &App)` lays everything out from the frame's size on every draw (so
//! resizes just work) and never changes the state. One file per view.

pub mod api_keys;
pub mod deployments;
pub mod dialog;
pub mod functions;
pub mod header;
pub mod help;
pub mod nodes;
pub mod routes;
pub mod schemas;
pub mod status;
pub mod style;
pub mod sync;
pub mod telemetry;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};

use crate::app::{App, Loadable, Mode, View};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let [header_area, tabs_area, body, status_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, header_area, app);
    header::draw_tabs(frame, tabs_area, app);
    match app.view {
        View::Nodes => nodes::draw(frame, body, app),
        View::Functions => functions::draw(frame, body, app),
        View::Deployments => deployments::draw(frame, body, app),
        View::Sync => sync::draw(frame, body, app),
        View::Telemetry => telemetry::draw(frame, body, app),
        View::Routes => routes::draw(frame, body, app),
        View::Schemas => schemas::draw(frame, body, app),
        View::ApiKeys => api_keys::draw(frame, body, app),
    }
    status::draw(frame, status_area, app);
    match &app.mode {
        Mode::Help => help::draw(frame, area),
        Mode::Confirm(confirm) => dialog::draw_confirm(frame, area, confirm),
        Mode::Form(form) => dialog::draw_form(frame, area, form),
        Mode::Normal | Mode::Filter(_) => {}
    }
}

/// A bordered block titled ` title ` with a refresh marker while a request is out.
pub(crate) fn block<T>(title: impl Into<String>, data: &Loadable<T>) -> Block<'static> {
    let mut spans = vec![Span::styled(format!(" {} ", title.into()), style::title())];
    if data.loading && data.data.is_some() {
        spans.push(Span::styled("↻ ", style::dim()));
    }
    Block::bordered()
        .border_style(style::border())
        .title(Line::from(spans))
}

/// Draws the block with "loading…", the error, or `empty` inside, when there is nothing to
/// show; returns `true` when it did.
pub(crate) fn placeholder<T>(
    frame: &mut Frame<'_>,
    area: Rect,
    block: Block<'static>,
    data: &Loadable<T>,
    is_empty: bool,
    empty: &str,
) -> bool {
    let line = match (&data.data, &data.error) {
        (None, Some(e)) => Line::styled(format!("error: {e}"), style::error()),
        (None, None) if data.loading => Line::styled("loading…", style::dim()),
        (None, None) => Line::styled("waiting for the first refresh…", style::dim()),
        (Some(_), _) if is_empty => Line::styled(empty.to_owned(), style::dim()),
        (Some(_), _) => return false,
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let middle = Rect {
        y: inner.y + inner.height / 2,
        height: inner.height.min(1),
        ..inner
    };
    frame.render_widget(
        Paragraph::new(line)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        middle,
    );
    true
}

/// A table with a header row and a highlighted selection.
pub(crate) fn table<'a>(
    header: &[&'a str],
    rows: Vec<Row<'a>>,
    widths: &[Constraint],
    block: Block<'a>,
) -> Table<'a> {
    Table::new(rows, widths.to_vec())
        .header(Row::new(header.to_vec()).style(style::header()))
        .block(block)
        .column_spacing(2)
        .row_highlight_style(style::selected())
        .highlight_symbol("▸ ")
}

/// Renders a table with row `selected` highlighted (scrolled into view).
pub(crate) fn render_table(frame: &mut Frame<'_>, area: Rect, table: Table<'_>, selected: usize) {
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// A `key  value` line of a detail pane.
pub(crate) fn kv<'a>(key: &'a str, value: impl Into<Span<'a>>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{key:<12}"), style::dim()),
        value.into(),
    ])
}

/// A section heading of a detail pane.
pub(crate) fn heading(text: &str) -> Line<'static> {
    Line::styled(
        text.to_owned(),
        Style::new().add_modifier(Modifier::BOLD).fg(style::ACCENT),
    )
}

/// A horizontal bar `████▌` of `value / max` over `width` cells.
pub(crate) fn bar(value: u64, max: u64, width: usize) -> String {
    if max == 0 || width == 0 {
        return String::new();
    }
    let eighths = (value as f64 / max as f64 * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let rest = eighths % 8;
    let mut s = "█".repeat(full.min(width));
    if rest > 0 && full < width {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][rest - 1]);
    }
    if s.is_empty() && value > 0 {
        s.push('▏');
    }
    s
}
