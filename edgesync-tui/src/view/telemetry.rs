//! Telemetry: a sparkline per metric for the selected node over a time window.

use std::collections::BTreeMap;

use edgesync_client::wire::TelemetrySeries;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Sparkline};

use super::{block, placeholder, render_table, style, table};
use crate::app::{App, Loadable};
use crate::format;

/// Rows one metric takes (border + two rows of bars).
const METRIC_HEIGHT: u16 = 4;

/// One metric's buckets laid on the window's time slots.
#[derive(Debug, PartialEq)]
pub struct MetricLine {
    /// The metric.
    pub metric: String,
    /// Per slot, the bucket's mean (oldest first); `None` where nothing was reported.
    pub slots: Vec<Option<f64>>,
    /// The latest value.
    pub last: f64,
    /// Smallest value in the window.
    pub min: f64,
    /// Largest value in the window.
    pub max: f64,
}

/// Groups a series by metric onto `window_s / step_s` slots ending at `now`.
pub fn metric_lines(
    series: &TelemetrySeries,
    now: time::OffsetDateTime,
    window_s: u64,
    step_s: u64,
) -> Vec<MetricLine> {
    let step = step_s.max(1);
    let slots = (window_s / step).max(1) as usize;
    let since = now - std::time::Duration::from_secs(window_s);
    let mut by_metric: BTreeMap<String, Vec<(time::OffsetDateTime, f64, f64, f64)>> =
        BTreeMap::new();
    for b in series.buckets.iter().flatten() {
        by_metric
            .entry(b.metric.clone())
            .or_default()
            .push((b.start, b.avg, b.min, b.max));
    }
    for p in series.points.iter().flatten() {
        by_metric
            .entry(p.metric.clone())
            .or_default()
            .push((p.ts, p.value, p.value, p.value));
    }
    by_metric
        .into_iter()
        .map(|(metric, samples)| {
            let mut line = vec![None; slots];
            let mut min = f64::INFINITY;
            let mut max = f64::NEG_INFINITY;
            let mut last = (time::OffsetDateTime::UNIX_EPOCH, 0.0);
            for (at, avg, lo, hi) in samples {
                min = min.min(lo);
                max = max.max(hi);
                if at >= last.0 {
                    last = (at, avg);
                }
                let offset = (at - since).whole_seconds();
                if offset >= 0 {
                    let i = (offset as u64 / step) as usize;
                    if i < slots {
                        line[i] = Some(avg);
                    }
                }
            }
            MetricLine {
                metric,
                slots: line,
                last: last.1,
                min: if min.is_finite() { min } else { 0.0 },
                max: if max.is_finite() { max } else { 0.0 },
            }
        })
        .collect()
}

/// `12.3`, `1.2k`, `3.4M`.
fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a == a.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The telemetry view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(area);
    draw_nodes(frame, left, app);
    draw_metrics(frame, right, app);
}

fn draw_nodes(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.nodes.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let title = match &app.nodes.selector {
        Some(sel) => format!("Nodes [{sel}]"),
        None => "Nodes".to_owned(),
    };
    let block = block(title, list);
    if placeholder(frame, area, block.clone(), list, count == 0, "no nodes") {
        return;
    }
    let rows = list.data.as_deref().unwrap_or_default().iter().map(|n| {
        Row::new(vec![
            Cell::from(n.name.clone()),
            Cell::from(Span::styled("●", style::node_status(n.status))),
        ])
    });
    let t = table(
        &["NAME", ""],
        rows.collect(),
        &[Constraint::Fill(1), Constraint::Length(1)],
        block,
    );
    render_table(frame, area, t, app.nodes.selected);
}

fn draw_metrics(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.telemetry;
    let name = app
        .selected_node()
        .map_or_else(|| "—".to_owned(), |n| n.name.clone());
    let title = format!(
        "Telemetry of {name} · last {} · {}s buckets",
        format::duration(std::time::Duration::from_secs(t.window_s())),
        t.step_s()
    );
    let block =
        block(title, &t.series).title_bottom(Line::styled(" [ ] node · w window ", style::dim()));
    if app.selected_node().is_none() {
        let empty: Loadable<()> = Loadable::ready(());
        placeholder(frame, area, block, &empty, true, "select a node");
        return;
    }
    let lines = t
        .series
        .data
        .as_ref()
        .map(|s| metric_lines(s, app.now, t.window_s(), t.step_s()))
        .unwrap_or_default();
    if placeholder(
        frame,
        area,
        block.clone(),
        &t.series,
        lines.is_empty(),
        "no telemetry in this window",
    ) {
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let fit = (inner.height / METRIC_HEIGHT) as usize;
    let shown = if lines.len() > fit {
        fit.saturating_sub(1)
    } else {
        lines.len()
    };
    let mut constraints = vec![Constraint::Length(METRIC_HEIGHT); shown];
    constraints.push(Constraint::Min(0));
    let areas = Layout::vertical(constraints).split(inner);
    for (line, rect) in lines.iter().zip(areas.iter()).take(shown) {
        let metric_block = Block::bordered()
            .border_style(style::border())
            .title(Line::from(vec![
                Span::styled(format!(" {} ", line.metric), style::header()),
                Span::raw(format!(
                    "last {} · min {} · max {} ",
                    number(line.last),
                    number(line.min),
                    number(line.max)
                )),
            ]));
        let width = metric_block.inner(*rect).width as usize;
        // Scaled to 0–1000 so small values keep their shape; newest slots on the right.
        let top = line.max.max(f64::MIN_POSITIVE);
        let bars: Vec<Option<u64>> = line
            .slots
            .iter()
            .map(|v| v.map(|v| ((v.max(0.0) / top) * 1000.0).round() as u64))
            .collect();
        let start = bars.len().saturating_sub(width);
        frame.render_widget(
            Sparkline::default()
                .block(metric_block)
                .data(&bars[start..])
                .max(1000)
                .style(style::title()),
            *rect,
        );
    }
    if shown < lines.len()
        && let Some(rest) = areas.get(shown)
    {
        frame.render_widget(
            Line::styled(
                format!("… {} more metric(s)", lines.len() - shown),
                style::dim(),
            ),
            *rest,
        );
    }
}
