//! Nodes: the fleet table, the label-selector prompt and the node detail pane.

use edgesync_client::wire::NodeInfo;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Wrap};

use super::{block, heading, kv, placeholder, render_table, style, table};
use crate::app::{App, Mode};
use crate::format;

/// The nodes view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let mut area = area;
    if let Mode::Filter(text) = &app.mode {
        let [prompt, rest] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
        draw_prompt(frame, prompt, text);
        area = rest;
    }
    if app.nodes.detail_open {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(area);
        draw_table(frame, left, app);
        draw_detail(frame, right, app);
    } else {
        draw_table(frame, area, app);
    }
}

fn draw_prompt(frame: &mut Frame<'_>, area: Rect, text: &str) {
    let block = Block::bordered()
        .border_style(style::title())
        .title(Line::styled(" Filter by label selector ", style::title()))
        .title_bottom(Line::styled(
            " e.g. tier=edge,region in (eu,us),!canary · Enter apply (empty: all) · Esc cancel ",
            style::dim(),
        ));
    let line = Line::from(vec![
        Span::styled("/ ", style::title()),
        Span::raw(text.to_owned()),
        Span::styled("▏", style::title()),
    ]);
    frame.render_widget(Paragraph::new(line).block(block), area);
}

/// `hello@2, echo@1`.
pub(crate) fn running(app: &App, node: &NodeInfo) -> String {
    if node.reported.functions.is_empty() {
        return "—".into();
    }
    node.reported
        .functions
        .iter()
        .map(|f| {
            let name = app
                .function_name(f.function_id)
                .map_or_else(|| format::short_id(f.function_id), str::to_owned);
            format!("{name}@{}", f.version)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn draw_table(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.nodes.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let title = match &app.nodes.selector {
        Some(sel) => format!("Nodes [{sel}] ({count})"),
        None => format!("Nodes ({count})"),
    };
    let block = block(title, list);
    let empty = match &app.nodes.selector {
        Some(sel) => format!("no node matches {sel} (Esc clears the filter)"),
        None => "no nodes registered yet".to_owned(),
    };
    if placeholder(frame, area, block.clone(), list, count == 0, &empty) {
        return;
    }
    let nodes = list.data.as_deref().unwrap_or_default();
    // Beside the detail pane, only the columns that fit.
    let compact = app.nodes.detail_open;
    let rows = nodes.iter().map(|n| {
        let seen = n
            .last_seen_at
            .map_or_else(|| "never".to_owned(), |t| format::ago(app.now, t));
        let mut cells = vec![
            Cell::from(n.name.clone()),
            Cell::from(Span::styled(
                format!("● {}", format::node_status(n.status)),
                style::node_status(n.status),
            )),
        ];
        if !compact {
            cells.push(Cell::from(n.pop.clone()));
        }
        cells.push(Cell::from(format::labels(&n.labels)));
        cells.push(Cell::from(Span::styled(seen, style::staleness(app, n))));
        if !compact {
            cells.push(Cell::from(running(app, n)));
            cells.push(Cell::from(format!("v{}", n.reported.schema_version)));
        }
        Row::new(cells)
    });
    let t = if compact {
        table(
            &["NAME", "STATUS", "LABELS", "LAST SEEN"],
            rows.collect(),
            &[
                Constraint::Min(10),
                Constraint::Length(16),
                Constraint::Fill(1),
                Constraint::Length(9),
            ],
            block,
        )
    } else {
        table(
            &[
                "NAME",
                "STATUS",
                "POP",
                "LABELS",
                "LAST SEEN",
                "FUNCTIONS",
                "SCHEMA",
            ],
            rows.collect(),
            &[
                Constraint::Min(12),
                Constraint::Length(16),
                Constraint::Length(8),
                Constraint::Fill(2),
                Constraint::Length(9),
                Constraint::Fill(1),
                Constraint::Length(6),
            ],
            block,
        )
    };
    render_table(frame, area, t, app.nodes.selected);
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(node) = app.selected_node() else {
        return;
    };
    let block = Block::bordered()
        .border_style(style::border())
        .title(Line::styled(format!(" {} ", node.name), style::title()))
        .title_bottom(Line::styled(" Esc close · c command ", style::dim()));
    let r = &node.reported;
    let mut lines = vec![
        kv("id", node.id.to_string()),
        kv(
            "status",
            Span::styled(
                format!(
                    "{} (lifecycle {:?})",
                    format::node_status(node.status),
                    node.lifecycle
                )
                .to_lowercase(),
                style::node_status(node.status),
            ),
        ),
        kv(
            "pop",
            format!("{} · region {}", node.pop, or_dash(&node.region)),
        ),
        kv(
            "agent",
            format!(
                "{} · {}",
                or_dash(&node.agent_version),
                if node.capabilities.is_empty() {
                    "—".to_owned()
                } else {
                    node.capabilities.join(", ")
                }
            ),
        ),
        kv(
            "last seen",
            Span::styled(
                node.last_seen_at
                    .map_or_else(|| "never".to_owned(), |t| format::ago(app.now, t)),
                style::staleness(app, node),
            ),
        ),
        heading("Labels"),
    ];
    if node.labels.is_empty() {
        lines.push(Line::styled("  (none)", style::dim()));
    }
    for (k, v) in &node.labels {
        lines.push(Line::from(format!("  {k}={v}")));
    }
    lines.push(heading("Reported state"));
    lines.push(kv("functions", running(app, node)));
    lines.push(kv("schema", format!("v{}", r.schema_version)));
    lines.push(kv(
        "routes rev",
        r.routes_revision.clone().unwrap_or_else(|| "—".into()),
    ));
    lines.push(kv(
        "sync rev",
        r.sync_revision
            .as_deref()
            .map_or_else(|| "—".into(), |s| format::truncate(s, 16)),
    ));
    lines.push(kv(
        "resources",
        format!(
            "cpu {:.1}% · mem {} · disk {}",
            r.resources.cpu_percent,
            format::bytes(r.resources.memory_bytes),
            format::bytes(r.resources.disk_bytes)
        ),
    ));
    lines.push(heading("Recent syncs"));
    match &app.nodes.history.data {
        Some(h) if h.items.is_empty() => lines.push(Line::styled("  (none)", style::dim())),
        Some(h) => {
            for s in h.items.iter().take(5) {
                let took = s
                    .duration_ms
                    .map_or_else(|| "—".to_owned(), |ms| format::millis(ms as f64));
                lines.push(Line::from(vec![
                    Span::raw(format!("  {:<9}", format::ago(app.now, s.planned_at))),
                    Span::styled(
                        format!("{:<11}", format::sync_status(s.status)),
                        style::sync_status(s.status),
                    ),
                    Span::raw(format!("{} action(s) · {took}", s.actions.len())),
                ]));
            }
        }
        None => lines.push(loading_line(&app.nodes.history)),
    }
    lines.push(heading("Commands"));
    match &app.nodes.commands.data {
        Some(c) if c.items.is_empty() => {
            lines.push(Line::styled("  (none; c queues one)", style::dim()));
        }
        Some(c) => {
            // Time, kind and status take 37 columns; the output gets the rest of the line.
            let room = (area.width as usize).saturating_sub(2 + 37);
            for cmd in c.items.iter().take(5) {
                let output = cmd
                    .output
                    .as_ref()
                    .map(|o| format::truncate(&o.to_string(), room))
                    .unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::raw(format!("  {:<9}", format::ago(app.now, cmd.created_at))),
                    Span::raw(format!("{:<16}", format::truncate(&cmd.kind, 15))),
                    Span::styled(
                        format!("{:<10}", format::command_status(cmd.status)),
                        style::command_status(cmd.status),
                    ),
                    Span::styled(output, style::dim()),
                ]));
            }
        }
        None => lines.push(loading_line(&app.nodes.commands)),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn loading_line<T>(data: &crate::app::Loadable<T>) -> Line<'static> {
    match &data.error {
        Some(e) => Line::styled(format!("  error: {e}"), style::error()),
        None => Line::styled("  loading…", style::dim()),
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s.to_owned()
    }
}
