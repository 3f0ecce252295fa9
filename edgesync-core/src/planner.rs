//! The planner: `plan(current, target)` → the ordered actions that take a node from what it
//! reports to its target. Pure, deterministic, and idempotent: applying a plan and planning again
//! gives an empty plan.
//!
//! Order: migrations (ascending), installs, the route table, removals. Migrations come first so
//! functions that need the new schema find it; removals come last so routes never point at a
//! function that is gone.

use std::collections::BTreeSet;

use crate::desired::NodeTarget;
use crate::model::{
    Action, ActionResult, PlanAction, ReportedState, RunningFunction, SchemaMigration,
};

/// The actions that take a node from `current` to `target`. `migrations` is the full, ascending
/// list of registered migrations.
pub fn plan(
    current: &ReportedState,
    target: &NodeTarget,
    migrations: &[SchemaMigration],
) -> Vec<Action> {
    let mut actions = Vec::new();
    for m in migrations {
        if m.version > current.schema_version && m.version <= target.schema_version {
            actions.push(Action::ApplyMigration {
                version: m.version,
                name: m.name.clone(),
                up_sql: m.up_sql.clone(),
                checksum: m.checksum.clone(),
            });
        }
    }
    let running: BTreeSet<(_, _)> = current
        .functions
        .iter()
        .map(|f| (f.function_id, f.version))
        .collect();
    for install in target.functions.values() {
        if !running.contains(&(install.function_id, install.version)) {
            actions.push(Action::InstallFunction(install.clone()));
        }
    }
    let routes_differ = match &current.routes_revision {
        None => !target.routes.is_empty(),
        Some(r) => r != &target.routes_revision,
    };
    if routes_differ {
        actions.push(Action::SetRoutes {
            revision: target.routes_revision.clone(),
            routes: target.routes.clone(),
        });
    }
    let removals: BTreeSet<_> = current
        .functions
        .iter()
        .map(|f| f.function_id)
        .filter(|f| !target.functions.contains_key(f))
        .collect();
    for function_id in removals {
        actions.push(Action::RemoveFunction { function_id });
    }
    actions
}

/// Numbers actions 0, 1, 2 ….
pub fn number(actions: Vec<Action>) -> Vec<PlanAction> {
    actions
        .into_iter()
        .enumerate()
        .map(|(i, action)| PlanAction {
            id: u32::try_from(i).unwrap_or(u32::MAX),
            action,
        })
        .collect()
}

/// What a node runs after applying `actions` to `current`, given which of them succeeded.
/// `target_revision` becomes the node's sync revision when every action succeeded.
pub fn apply(
    current: &ReportedState,
    actions: &[PlanAction],
    results: &[ActionResult],
    target_revision: &str,
) -> ReportedState {
    let succeeded = |id: u32| results.iter().any(|r| r.action_id == id && r.succeeded);
    let mut next = current.clone();
    // Migrations apply in order: the schema advances only through the ones that succeeded
    // before the first failure.
    let mut migrations_blocked = false;
    for pa in actions {
        if !succeeded(pa.id) {
            if matches!(pa.action, Action::ApplyMigration { .. }) {
                migrations_blocked = true;
            }
            continue;
        }
        match &pa.action {
            Action::ApplyMigration { version, .. } => {
                if !migrations_blocked {
                    next.schema_version = next.schema_version.max(*version)
                }
            }
            Action::InstallFunction(i) => {
                next.functions.retain(|f| f.function_id != i.function_id);
                next.functions.push(RunningFunction {
                    function_id: i.function_id,
                    version: i.version,
                });
            }
            Action::SetRoutes { revision, .. } => next.routes_revision = Some(revision.clone()),
            Action::RemoveFunction { function_id } => {
                next.functions.retain(|f| &f.function_id != function_id)
            }
        }
    }
    next.functions.sort();
    if actions.iter().all(|a| succeeded(a.id)) {
        next.sync_revision = Some(target_revision.to_owned());
    }
    next
}
