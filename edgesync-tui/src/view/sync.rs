//! Sync: fleet-wide statistics (success rate, failures by code, duration percentiles) and the
//! selected node's sync history.

use edgesync_client::wire::{ActionStatus, SyncRecordInfo};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, LineGauge, Paragraph, Row};

use super::{bar, block, kv, placeholder, style, table};
use crate::app::{App, Loadable};
use crate::format;

/// The sync view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [top, bottom] = Layout::vertical([Constraint::Length(10), Constraint::Min(0)]).areas(area);
    draw_stats(frame, top, app);
    draw_history(frame, bottom, app);
}

fn draw_stats(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let stats = &app.sync.stats;
    let block = block("Sync stats (last hour, fleet-wide)", stats);
    if placeholder(frame, area, block.clone(), stats, false, "") {
        return;
    }
    let Some(s) = &stats.data else { return };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [left, middle, right] = Layout::horizontal([
        Constraint::Percentage(36),
        Constraint::Percentage(38),
        Constraint::Percentage(26),
    ])
    .spacing(2)
    .areas(inner);

    let [rate_area, counts_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(left);
    let rate_style = if s.success_rate >= 0.99 {
        style::ok()
    } else if s.success_rate >= 0.9 {
        style::warn()
    } else {
        style::error()
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(s.success_rate.clamp(0.0, 1.0))
            .label(format!("success {:>5.1}%", s.success_rate * 100.0))
            .filled_symbol("█")
            .unfilled_symbol("░")
            .filled_style(rate_style)
            .unfilled_style(style::dim()),
        rate_area,
    );
    let counts = vec![
        kv("syncs", s.total.to_string()),
        kv(
            "succeeded",
            Span::styled(s.succeeded.to_string(), style::ok()),
        ),
        kv(
            "partial",
            Span::styled(s.partial.to_string(), style::warn()),
        ),
        kv("failed", Span::styled(s.failed.to_string(), style::error())),
        kv("pending", s.pending.to_string()),
        kv("since", format::ago(app.now, s.since)),
    ];
    frame.render_widget(Paragraph::new(counts), counts_area);

    let mut failures = vec![Line::styled("Failed actions by code", style::header())];
    if s.failures_by_code.is_empty() {
        failures.push(Line::styled("none", style::ok()));
    } else {
        let mut codes: Vec<(&String, &u64)> = s.failures_by_code.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let max = codes.first().map_or(0, |c| *c.1);
        let label = codes
            .iter()
            .map(|c| c.0.chars().count())
            .max()
            .unwrap_or(0)
            .min(16);
        let count = max.to_string().len();
        let width = (middle.width as usize).saturating_sub(label + count + 2);
        for (code, n) in codes {
            failures.push(Line::from(vec![
                Span::raw(format!("{:<label$} ", format::truncate(code, label))),
                Span::styled(format!("{:<width$}", bar(*n, max, width)), style::error()),
                Span::raw(format!(" {n:>count$}")),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(failures), middle);

    let d = &s.duration_ms;
    let durations = vec![
        Line::styled("Plan → ack durations", style::header()),
        kv("p50", format::millis(d.p50)),
        kv("p90", format::millis(d.p90)),
        kv("p99", format::millis(d.p99)),
        kv("max", format::millis(d.max)),
    ];
    frame.render_widget(Paragraph::new(durations), right);
}

fn actions(record: &SyncRecordInfo) -> String {
    if record.actions.is_empty() {
        return "(nothing to do)".into();
    }
    record
        .actions
        .iter()
        .map(|a| {
            let mark = match a.status {
                Some(ActionStatus::Succeeded) => "✓",
                Some(ActionStatus::Failed) => "✗",
                None => "…",
            };
            match &a.error_code {
                Some(code) => format!("{} {mark} {code}", a.subject),
                None => format!("{} {mark}", a.subject),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn draw_history(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let node = app.selected_node();
    let name = node.map_or_else(|| "—".to_owned(), |n| n.name.clone());
    let history = &app.sync.history;
    let count = history.data.as_ref().map_or(0, |h| h.items.len());
    let block = block(format!("Sync history of {name} ({count})"), history)
        .title_bottom(Line::styled(" [ ] or j k: another node ", style::dim()));
    if node.is_none() {
        let empty: Loadable<()> = Loadable::ready(());
        let text = if app.nodes.list.data.is_some() {
            "no node selected"
        } else {
            "loading nodes…"
        };
        placeholder(frame, area, block, &empty, true, text);
        return;
    }
    if placeholder(
        frame,
        area,
        block.clone(),
        history,
        count == 0,
        "this node has not synced yet",
    ) {
        return;
    }
    let items = history
        .data
        .as_ref()
        .map(|h| h.items.as_slice())
        .unwrap_or_default();
    let rows = items.iter().map(|r| {
        Row::new(vec![
            Cell::from(format::ago(app.now, r.planned_at)),
            Cell::from(Span::styled(
                format::sync_status(r.status),
                style::sync_status(r.status),
            )),
            Cell::from(
                r.duration_ms
                    .map_or_else(|| "—".to_owned(), |ms| format::millis(ms as f64)),
            ),
            Cell::from(format::truncate(&r.revision, 12)),
            Cell::from(actions(r)),
        ])
    });
    let t = table(
        &["PLANNED", "STATUS", "DURATION", "REVISION", "ACTIONS"],
        rows.collect(),
        &[
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Fill(1),
        ],
        block,
    );
    frame.render_widget(t, area);
}
