//! Deployments: the list, and for the selected one its rollout (a gauge per batch, counts,
//! a failure-reason histogram) or its per-node states (Enter).

use edgesync_client::wire::{DeploymentInfo, DeploymentSummary, NodeDeploymentState, StrategyKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, LineGauge, Paragraph, Row};

use super::{bar, block, placeholder, render_table, style, table};
use crate::app::{App, Loadable};
use crate::format;

/// The deployments view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let rows = app.deployments.list.data.as_ref().map_or(0, Vec::len) as u16;
    let top_height = (rows + 3)
        .min(area.height.saturating_mul(2) / 5)
        .max(5.min(area.height));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Min(0)]).areas(area);
    draw_list(frame, top, app);
    let Some(selected) = app.selected_deployment() else {
        return;
    };
    if app.deployments.nodes_open {
        draw_nodes(frame, bottom, app, selected);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(bottom);
        draw_rollout(frame, left, app, selected);
        draw_failures(frame, right, selected);
    }
}

/// `batches of 2`, `canary 1 then rest`, `all at once`.
pub(crate) fn strategy(d: &DeploymentSummary) -> String {
    let s = &d.strategy;
    let size = match (s.batch_size, s.batch_percent) {
        (Some(n), _) => format!("{n}"),
        (None, Some(p)) => format!("{p}%"),
        (None, None) => "1".to_owned(),
    };
    match s.kind {
        StrategyKind::All => "all at once".to_owned(),
        StrategyKind::Batches => format!("batches of {size}"),
        StrategyKind::Canary => format!("canary {size} then rest"),
    }
}

fn function_label(app: &App, d: &DeploymentSummary) -> String {
    let name = app
        .function_name(d.function_id)
        .map_or_else(|| format::short_id(d.function_id), str::to_owned);
    format!("{name}@v{}", d.version)
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.deployments.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let block = block(format!("Deployments ({count})"), list);
    if placeholder(
        frame,
        area,
        block.clone(),
        list,
        count == 0,
        "no deployments yet (Functions → d deploys one)",
    ) {
        return;
    }
    let rows = list.data.as_deref().unwrap_or_default().iter().map(|d| {
        let c = &d.counts;
        Row::new(vec![
            Cell::from(format::deployment_label(d)),
            Cell::from(function_label(app, d)),
            Cell::from(Span::styled(
                format::deployment_status(d.status),
                style::deployment_status(d.status),
            )),
            Cell::from(strategy(d)),
            Cell::from(format!("{}/{}", d.rollout.released, d.rollout.batches)),
            Cell::from(format!("{}/{}", c.active, c.targeted)),
            Cell::from(Span::styled(
                c.failed.to_string(),
                if c.failed > 0 {
                    style::error()
                } else {
                    Style::new()
                },
            )),
            Cell::from(if d.selector.is_empty() {
                "(every node)".to_owned()
            } else {
                d.selector.clone()
            }),
            Cell::from(format::ago(app.now, d.created_at)),
        ])
    });
    let t = table(
        &[
            "NAME", "FUNCTION", "STATUS", "STRATEGY", "BATCHES", "ACTIVE", "FAILED", "SELECTOR",
            "AGE",
        ],
        rows.collect(),
        &[
            Constraint::Length(16),
            Constraint::Fill(1),
            Constraint::Length(11),
            Constraint::Length(18),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Length(8),
        ],
        block,
    );
    render_table(frame, area, t, app.deployments.selected);
}

/// Per batch: nodes, healthy (active) and failed, when the detail is in.
fn batch_health(detail: Option<&DeploymentInfo>, batch: u32) -> Option<(u64, u64)> {
    let detail = detail?;
    let mut healthy = 0;
    let mut failed = 0;
    for n in detail.nodes.iter().filter(|n| n.batch == Some(batch)) {
        match n.state {
            NodeDeploymentState::Active => healthy += 1,
            NodeDeploymentState::Failed => failed += 1,
            _ => {}
        }
    }
    Some((healthy, failed))
}

fn draw_rollout(frame: &mut Frame<'_>, area: Rect, app: &App, d: &DeploymentSummary) {
    let detail = app.deployment_detail();
    let shown: Loadable<()> = Loadable {
        data: Some(()),
        loading: app.deployments.detail.loading,
        error: None,
    };
    let block = block(
        format!("Rollout of {}", format::deployment_label(d)),
        &shown,
    )
    .title_bottom(Line::styled(
        " Enter nodes · p pause · r resume · a abort ",
        style::dim(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let c = &d.counts;
    let s = &d.strategy;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", format::deployment_status(d.status)),
                style::deployment_status(d.status).bold(),
            ),
            Span::raw(format!(
                "· {} · {} · auto rollback {}",
                function_label(app, d),
                strategy(d),
                if s.auto_rollback { "on" } else { "off" },
            )),
        ]),
        Line::from(vec![
            Span::raw(format!("targeted {} · ", c.targeted)),
            Span::styled(format!("pending {}", c.pending), style::warn()),
            Span::raw(" · "),
            Span::styled(format!("installing {}", c.installing), style::warn()),
            Span::raw(" · "),
            Span::styled(format!("active {}", c.active), style::ok()),
            Span::raw(" · "),
            Span::styled(
                format!("failed {}", c.failed),
                if c.failed > 0 {
                    style::error()
                } else {
                    Style::new()
                },
            ),
        ]),
    ];
    let r = &d.rollout;
    lines.push(Line::from(format!(
        "removed {} · rolled back {} · {}/{} batches released · halt at {:.0}% failed{}",
        c.removed,
        c.rolled_back,
        r.released,
        r.batches,
        s.max_failure_ratio * 100.0,
        if r.excluded > 0 {
            format!(" · {} node(s) given up on", r.excluded)
        } else {
            String::new()
        }
    )));
    if let Some(reason) = &d.status_reason {
        lines.push(Line::styled(format!("reason: {reason}"), style::dim()));
    }
    lines.push(Line::raw(""));
    let text_height = lines.len() as u16;
    let [text_area, gauges_area] =
        Layout::vertical([Constraint::Length(text_height), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text_area);

    let rows = gauges_area.height as usize;
    let batches = r.batches as usize;
    let shown_batches = if batches > rows {
        rows.saturating_sub(1)
    } else {
        batches
    };
    let gauges: Vec<(String, f64, Style)> = (0..shown_batches)
        .map(|i| batch_gauge(detail, r, i, batches))
        .collect();
    let label_width = gauges
        .iter()
        .map(|g| g.0.chars().count())
        .max()
        .unwrap_or(0);
    for (i, (label, ratio, filled)) in gauges.into_iter().enumerate() {
        let gauge = LineGauge::default()
            .ratio(ratio)
            .label(Line::from(format!("{label:<label_width$}")))
            .filled_symbol("█")
            .unfilled_symbol("░")
            .filled_style(filled)
            .unfilled_style(style::dim());
        let row = Rect {
            y: gauges_area.y + i as u16,
            height: 1,
            ..gauges_area
        };
        frame.render_widget(gauge, row);
    }
    if shown_batches < batches {
        let row = Rect {
            y: gauges_area.y + shown_batches as u16,
            height: 1,
            ..gauges_area
        };
        frame.render_widget(
            Line::styled(
                format!("… {} more batch(es)", batches - shown_batches),
                style::dim(),
            ),
            row,
        );
    }
}

/// One batch's gauge: its label, how healthy it is (0–1) and the bar's style.
fn batch_gauge(
    detail: Option<&DeploymentInfo>,
    r: &edgesync_client::wire::RolloutProgress,
    i: usize,
    batches: usize,
) -> (String, f64, Style) {
    let size = u64::from(r.batch_sizes.get(i).copied().unwrap_or(0));
    let released = (i as u32) < r.released;
    let name = format!("batch {}/{batches}  {size} node(s)", i + 1);
    match (released, batch_health(detail, i as u32)) {
        (false, _) => (format!("{name}  waiting"), 0.0, style::dim()),
        (true, Some((healthy, failed))) => {
            let st = if failed > 0 {
                style::error()
            } else if healthy >= size {
                style::ok()
            } else {
                style::title()
            };
            let failed_text = if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            };
            let ratio = if size == 0 {
                1.0
            } else {
                (healthy as f64 / size as f64).min(1.0)
            };
            (
                format!("{name}  {healthy}/{size} healthy{failed_text}"),
                ratio,
                st,
            )
        }
        (true, None) => (format!("{name}  released"), 0.0, style::title()),
    }
}

fn draw_failures(frame: &mut Frame<'_>, area: Rect, d: &DeploymentSummary) {
    let block = Block::bordered()
        .border_style(style::border())
        .title(Line::styled(" Failure reasons ", style::title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if d.failure_reasons.is_empty() {
        frame.render_widget(Line::styled("no failures", style::ok()), inner);
        return;
    }
    let mut reasons: Vec<(&String, &u64)> = d.failure_reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let max = reasons.first().map_or(0, |r| *r.1);
    let label_width = reasons
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .min(18);
    let count_width = max.to_string().len();
    let bar_width = (inner.width as usize).saturating_sub(label_width + count_width + 2);
    let lines: Vec<Line<'_>> = reasons
        .iter()
        .map(|(code, n)| {
            Line::from(vec![
                Span::raw(format!(
                    "{:<label_width$} ",
                    format::truncate(code, label_width)
                )),
                Span::styled(
                    format!("{:<bar_width$}", bar(**n, max, bar_width)),
                    style::error(),
                ),
                Span::raw(format!(" {n:>count_width$}")),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_nodes(frame: &mut Frame<'_>, area: Rect, app: &App, d: &DeploymentSummary) {
    let data = &app.deployments.detail;
    let detail = app.deployment_detail();
    let shown: Loadable<()> = Loadable {
        data: detail.map(|_| ()),
        loading: data.loading,
        error: data.error.clone(),
    };
    let count = detail.map_or(0, |d| d.nodes.len());
    let block = block(
        format!(
            "Nodes of {} ({count}) · {}",
            format::deployment_label(d),
            format::deployment_status(d.status)
        ),
        &shown,
    )
    .title_bottom(Line::styled(
        " Esc back · p pause · r resume · a abort ",
        style::dim(),
    ));
    if placeholder(
        frame,
        area,
        block.clone(),
        &shown,
        count == 0,
        "no node is targeted",
    ) {
        return;
    }
    let Some(detail) = detail else { return };
    let rows = detail.nodes.iter().map(|n| {
        let error = match (&n.error_code, &n.error) {
            (Some(code), Some(e)) => format!("{code}: {e}"),
            (Some(code), None) => code.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        Row::new(vec![
            Cell::from(n.node_name.clone()),
            Cell::from(Span::styled(
                format::node_deployment_state(n.state),
                style::node_deployment_state(n.state),
            )),
            Cell::from(
                n.batch
                    .map_or_else(|| "—".to_owned(), |b| (b + 1).to_string()),
            ),
            Cell::from(n.attempts.to_string()),
            Cell::from(
                n.observed_at
                    .map_or_else(|| "never".to_owned(), |t| format::ago(app.now, t)),
            ),
            Cell::from(
                n.updated_at
                    .map_or_else(|| "—".to_owned(), |t| format::ago(app.now, t)),
            ),
            Cell::from(Span::styled(error, style::error())),
        ])
    });
    let t = table(
        &[
            "NODE", "STATE", "BATCH", "ATTEMPTS", "SEEN", "CHANGED", "ERROR",
        ],
        rows.collect(),
        &[
            Constraint::Length(16),
            Constraint::Length(11),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Fill(1),
        ],
        block,
    );
    render_table(frame, area, t, app.deployments.node_selected);
}
