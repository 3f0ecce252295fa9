//! `GET /_agent/status`: what the node runs and how it is doing (JSON); `GET /_agent/health`:
//! `ok` while the process serves. Also the answer of the `health_probe` command.

use std::sync::atomic::Ordering;

use edgesync_client::wire::RouteEntry;
use poem::Response;
use poem::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::reply;
use crate::db::LedgerEntry;
use crate::shared::{LinkStatus, Shared};
use crate::stats::{Counters, Stats};

/// A function as the status shows it.
#[derive(Debug, Serialize)]
pub(crate) struct FunctionStatus {
    function_id: Uuid,
    name: String,
    version: u32,
    sha256: String,
    entrypoint: String,
    memory_pages: u32,
    max_execution_ms: u32,
    max_concurrency: u32,
    in_flight: usize,
    kept_versions: Vec<u32>,
    stats: Counters,
}

/// Counters of the agent.
#[derive(Debug, Serialize)]
pub(crate) struct AgentCounters {
    artifact_downloads: u64,
    plans_applied: u64,
    sync_errors: u64,
    compiled_modules: usize,
}

/// The whole status.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReport {
    #[serde(flatten)]
    link: LinkStatus,
    agent_version: &'static str,
    uptime_s: u64,
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
    sync_revision: Option<String>,
    routes_revision: Option<String>,
    schema_version: u64,
    functions: Vec<FunctionStatus>,
    counters: AgentCounters,
    #[serde(skip_serializing_if = "Option::is_none")]
    routes: Option<Vec<RouteEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migrations: Option<Vec<LedgerEntry>>,
}

/// The status; `detailed` adds the route table and the migration ledger.
pub(crate) async fn report(shared: &Shared, detailed: bool) -> StatusReport {
    let state = shared.snapshot();
    let mut functions: Vec<FunctionStatus> = shared
        .functions
        .all()
        .into_iter()
        .map(|live| {
            let s = &live.spec;
            let permits = usize::try_from(s.max_concurrency.max(1)).unwrap_or(1);
            FunctionStatus {
                function_id: s.function_id,
                name: s.name.clone(),
                version: s.version,
                sha256: s.sha256.clone(),
                entrypoint: s.entrypoint.clone(),
                memory_pages: s.memory_pages,
                max_execution_ms: s.max_execution_ms,
                max_concurrency: s.max_concurrency,
                in_flight: permits.saturating_sub(live.slots.available_permits()),
                kept_versions: state
                    .functions
                    .get(&s.function_id)
                    .map(|slot| slot.history.iter().map(|h| h.version).collect())
                    .unwrap_or_default(),
                stats: shared.stats.totals(s.function_id),
            }
        })
        .collect();
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    let migrations = if detailed {
        match shared.db.ledger().await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the migration ledger");
                None
            }
        }
    } else {
        None
    };
    StatusReport {
        link: shared.link(),
        agent_version: env!("CARGO_PKG_VERSION"),
        uptime_s: shared.started.elapsed().as_secs(),
        now: OffsetDateTime::now_utc(),
        sync_revision: state.sync_revision,
        routes_revision: shared.routes.current().revision.clone(),
        schema_version: shared.schema_version.load(Ordering::Relaxed),
        functions,
        counters: AgentCounters {
            artifact_downloads: Stats::get(&shared.stats.artifact_downloads),
            plans_applied: Stats::get(&shared.stats.plans_applied),
            sync_errors: Stats::get(&shared.stats.sync_errors),
            compiled_modules: shared.functions.module_count(),
        },
        routes: detailed.then_some(state.routes.routes),
        migrations,
    }
}

/// `/_agent/<own>`.
pub(super) async fn endpoint(shared: &Shared, own: &str) -> Response {
    match own {
        "status" => match serde_json::to_vec_pretty(&report(shared, true).await) {
            Ok(body) => Response::builder()
                .content_type("application/json")
                .body(body),
            Err(e) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        },
        "health" => Response::builder()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        _ => reply::error(
            StatusCode::NOT_FOUND,
            "no_route",
            "the agent serves /_agent/status and /_agent/health",
        ),
    }
}
