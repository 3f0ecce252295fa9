//! Applying a plan, action by action, in order. A failed migration (or a checksum mismatch)
//! blocks every later migration and install of the same plan: they are reported failed with
//! `blocked_by_migration`, since functions may need the schema they did not get.

use edgesync_client::NodeClient;
use edgesync_client::wire::{
    ActionResult, ActionStatus, ApplyMigrationAction, RemoveFunctionAction, SetRoutesAction,
    SyncAction, SyncPlan,
};

use super::install::install;
use crate::routes::Routes;
use crate::shared::Shared;
use crate::state::RoutesState;
use crate::stats::Stats;

/// Why an action failed: a machine-readable code and a message.
#[derive(Debug)]
pub(super) struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Applies every action of `plan`; one result per action, in order. Saves the reached
/// revision when every action succeeded.
pub(crate) async fn apply_plan(
    shared: &Shared,
    node: &NodeClient,
    plan: &SyncPlan,
) -> Vec<ActionResult> {
    let mut results = Vec::with_capacity(plan.actions.len());
    let mut blocked_by: Option<u64> = None;
    for action in &plan.actions {
        let outcome = match (action, blocked_by) {
            (SyncAction::ApplyMigration(_) | SyncAction::InstallFunction(_), Some(version)) => {
                Err(Failure::new(
                    "blocked_by_migration",
                    format!("migration {version} did not apply"),
                ))
            }
            (SyncAction::ApplyMigration(m), None) => {
                let r = migrate(shared, m).await;
                if r.is_err() {
                    blocked_by = Some(m.version);
                }
                r
            }
            (SyncAction::InstallFunction(i), None) => install(shared, node, i).await,
            (SyncAction::SetRoutes(r), _) => set_routes(shared, r),
            (SyncAction::RemoveFunction(r), _) => remove(shared, r),
        };
        if let Err(f) = &outcome {
            tracing::warn!(plan_id = %plan.plan_id, action = action.id(), kind = ?action.kind(), code = f.code, error = %f.message, "action failed");
        }
        results.push(result(action.id(), outcome));
    }
    shared.collect_garbage();
    Stats::bump(&shared.stats.plans_applied);
    if results.iter().all(|r| r.status == ActionStatus::Succeeded) {
        let revision = plan.revision.clone();
        if let Err(e) = shared.update_state(|s| s.sync_revision = Some(revision)) {
            tracing::error!(error = %e, "cannot save the reached revision");
        }
    }
    results
}

fn result(action_id: u32, outcome: Result<(), Failure>) -> ActionResult {
    match outcome {
        Ok(()) => ActionResult {
            action_id,
            status: ActionStatus::Succeeded,
            error: None,
            error_code: None,
        },
        Err(f) => ActionResult {
            action_id,
            status: ActionStatus::Failed,
            error: Some(f.message),
            error_code: Some(f.code.to_owned()),
        },
    }
}

async fn migrate(shared: &Shared, m: &ApplyMigrationAction) -> Result<(), Failure> {
    let ran = shared
        .db
        .apply(
            m.version,
            m.name.clone(),
            m.up_sql.clone(),
            m.checksum.clone(),
        )
        .await
        .map_err(|e| Failure::new(e.code(), e.to_string()))?;
    shared.refresh_schema_version().await;
    if ran {
        tracing::info!(version = m.version, name = %m.name, "migration applied");
    }
    Ok(())
}

fn set_routes(shared: &Shared, r: &SetRoutesAction) -> Result<(), Failure> {
    let routes = Routes::compile(Some(r.revision.clone()), r.routes.clone())
        .map_err(|e| Failure::new("invalid_route", e))?;
    shared
        .update_state(|s| {
            s.routes = RoutesState {
                revision: Some(r.revision.clone()),
                routes: r.routes.clone(),
            }
        })
        .map_err(|e| Failure::new("storage_failed", e.to_string()))?;
    shared.routes.swap(routes);
    tracing::info!(revision = %r.revision, routes = r.routes.len(), "route table swapped");
    Ok(())
}

fn remove(shared: &Shared, r: &RemoveFunctionAction) -> Result<(), Failure> {
    shared
        .update_state(|s| s.functions.remove(&r.function_id))
        .map_err(|e| Failure::new("storage_failed", e.to_string()))?;
    if shared.functions.deactivate(r.function_id) {
        tracing::info!(function_id = %r.function_id, "function removed");
    }
    Ok(())
}
