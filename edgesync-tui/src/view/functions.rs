//! Functions and the selected function's versions (compatibility, size, digest).

use edgesync_client::wire::{CompatibilityStatus, VersionStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use super::{block, placeholder, render_table, style, table};
use crate::app::{App, Loadable};
use crate::format;

/// The functions view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area);
    draw_list(frame, top, app);
    draw_versions(frame, bottom, app);
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let list = &app.functions.list;
    let count = list.data.as_ref().map_or(0, Vec::len);
    let block = block(format!("Functions ({count})"), list);
    if placeholder(
        frame,
        area,
        block.clone(),
        list,
        count == 0,
        "no functions uploaded yet",
    ) {
        return;
    }
    let rows = list.data.as_deref().unwrap_or_default().iter().map(|f| {
        Row::new(vec![
            Cell::from(f.name.clone()),
            Cell::from(format!("v{}", f.latest_version)),
            Cell::from(format::ago(app.now, f.updated_at)),
            Cell::from(Span::styled(f.id.to_string(), style::dim())),
        ])
    });
    let t = table(
        &["NAME", "LATEST", "UPDATED", "ID"],
        rows.collect(),
        &[
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(36),
        ],
        block,
    );
    render_table(frame, area, t, app.functions.selected);
}

fn draw_versions(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let name = app
        .selected_function()
        .map_or_else(String::new, |f| f.name.clone());
    let detail = app.function_detail();
    // Show what we have for the selected function only.
    let shown: Loadable<()> = Loadable {
        data: detail.map(|_| ()),
        loading: app.functions.detail.loading,
        error: app.functions.detail.error.clone(),
    };
    let title = format!("Versions of {name}");
    let block =
        block(title, &shown).title_bottom(Line::styled(" d deploy · r roll back ", style::dim()));
    if app.selected_function().is_none() {
        let empty: Loadable<()> = Loadable::ready(());
        placeholder(frame, area, block, &empty, true, "select a function");
        return;
    }
    let versions_empty = detail.is_some_and(|d| d.versions.is_empty());
    if placeholder(
        frame,
        area,
        block.clone(),
        &shown,
        versions_empty,
        "no versions",
    ) {
        return;
    }
    let Some(detail) = detail else { return };
    let rows: Vec<Row<'_>> = detail
        .versions
        .iter()
        .rev()
        .map(|v| {
            let (status, status_style) = match v.status {
                VersionStatus::Ready => ("ready", style::ok()),
                VersionStatus::PendingUpload => ("pending upload", style::warn()),
                VersionStatus::Rejected => ("rejected", style::error()),
            };
            let (compat, compat_style) = match v.compatibility.as_ref().map(|c| c.status) {
                Some(CompatibilityStatus::Compatible) => {
                    let against = v
                        .compatibility
                        .as_ref()
                        .and_then(|c| c.against_version)
                        .map_or_else(String::new, |a| format!(" with v{a}"));
                    (format!("compatible{against}"), style::ok())
                }
                Some(CompatibilityStatus::Breaking) => {
                    let n = v.compatibility.as_ref().map_or(0, |c| {
                        c.reasons
                            .iter()
                            .filter(|r| r.starts_with("breaking"))
                            .count()
                    });
                    (format!("breaking ({n})"), style::error())
                }
                Some(CompatibilityStatus::First) => ("first".to_owned(), style::dim()),
                None => ("—".to_owned(), style::dim()),
            };
            Row::new(vec![
                Cell::from(format!("v{}", v.version)),
                Cell::from(Span::styled(status, status_style)),
                Cell::from(Span::styled(compat, compat_style)),
                Cell::from(v.size.map_or_else(|| "—".to_owned(), format::bytes)),
                Cell::from(
                    v.sha256
                        .as_deref()
                        .map_or_else(|| "—".to_owned(), |s| s.chars().take(12).collect()),
                ),
                Cell::from(format!(
                    "{} · {} pages · {} ms",
                    v.entrypoint, v.memory_pages, v.max_execution_ms
                )),
                Cell::from(format::ago(app.now, v.created_at)),
            ])
        })
        .collect();
    let block = match detail.rollbacks.last() {
        Some(last) => block.title_bottom(Line::styled(
            format!(
                " last rollback: v{} → v{} by {}, {} ",
                last.from_versions
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",v"),
                last.to_version,
                last.by,
                format::ago(app.now, last.at)
            ),
            style::warn(),
        )),
        None => block,
    };
    let t = table(
        &[
            "VERSION", "STATUS", "COMPAT", "SIZE", "SHA256", "LIMITS", "CREATED",
        ],
        rows,
        &[
            Constraint::Length(8),
            Constraint::Length(14),
            Constraint::Length(18),
            Constraint::Length(10),
            Constraint::Length(12),
            Constraint::Fill(1),
            Constraint::Length(10),
        ],
        block,
    );
    frame.render_widget(t, area);
}
