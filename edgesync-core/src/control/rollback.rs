//! Rollback: every live deployment of a function back to an earlier ready version, in one
//! commit that also records the rollback in the function's history. Nodes converge through the
//! normal sync path: the catalog changes, targets are recomputed, revisions move.

use std::collections::BTreeSet;

use super::EdgeSync;
use super::deployments::DeploymentDetail;
use crate::error::{Error, ErrorCode, Result};
use crate::model::function::MAX_ROLLBACK_HISTORY;
use crate::model::*;
use crate::store::{Collection, Record, StoreExt, Write};

/// What a rollback did.
#[derive(Clone, Debug, PartialEq)]
pub struct RollbackOutcome {
    /// The function.
    pub function_id: FunctionId,
    /// The version every live deployment runs now.
    pub to_version: u32,
    /// The history entry recorded; `None` when every live deployment already ran `to_version`
    /// (nothing changed, nothing recorded: repeating a rollback is harmless).
    pub entry: Option<RollbackEntry>,
    /// Every live deployment of the function, after the rollback.
    pub deployments: Vec<DeploymentDetail>,
}

impl EdgeSync {
    /// Retargets every live deployment of a function to `to_version`, by default the highest
    /// ready version below the highest version live deployments run. `by` names who asked (for
    /// the history and the deployments' `status_reason`).
    ///
    /// Fails with `rollback_unavailable` when no live deployment runs the function or there is
    /// no earlier ready version, `function_not_found` / `function_version_not_ready` for a
    /// `to_version` that does not exist or has no validated binary. A breaking target version
    /// needs no `allow_breaking`: it ran before, and going back is the point.
    pub async fn rollback_function(
        &self,
        id: FunctionId,
        to_version: Option<u32>,
        by: &str,
    ) -> Result<RollbackOutcome> {
        for _ in 0..5 {
            let function = self.function_record(id).await?;
            let live: Vec<_> = self
                .inner
                .store
                .list_all(Collection::Deployments)
                .await?
                .into_iter()
                .filter_map(|s| match s.record {
                    Record::Deployment(d) if d.is_live() && d.function_id == id => {
                        Some((s.revision, d))
                    }
                    _ => None,
                })
                .collect();
            let Some(current) = live.iter().map(|(_, d)| d.version).max() else {
                return Err(Error::new(
                    ErrorCode::RollbackUnavailable,
                    format!(
                        "no live deployment runs {}; deploy a version instead",
                        function.value.name
                    ),
                ));
            };
            let versions = self.function_versions(id).await?;
            let target = match to_version {
                Some(n) => versions
                    .iter()
                    .find(|v| v.version == n)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::FunctionNotFound,
                            format!("function {} has no version {n}", function.value.name),
                        )
                    })?
                    .clone(),
                None => versions
                    .iter()
                    .filter(|v| v.status == VersionStatus::Ready && v.version < current)
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::RollbackUnavailable,
                            format!(
                                "{} has no ready version before v{current}",
                                function.value.name
                            ),
                        )
                    })?
                    .clone(),
            };
            if target.status != VersionStatus::Ready {
                return Err(Error::new(
                    ErrorCode::FunctionVersionNotReady,
                    format!(
                        "{}@{} has no validated binary; roll back to a ready version",
                        function.value.name, target.version
                    ),
                ));
            }
            let changing: Vec<_> = live
                .iter()
                .filter(|(_, d)| d.version != target.version)
                .collect();
            if changing.is_empty() {
                return Ok(self.rollback_outcome(id, target.version, None));
            }
            let now = self.now();
            let from_versions: BTreeSet<u32> = changing.iter().map(|(_, d)| d.version).collect();
            let entry = RollbackEntry {
                from_versions: from_versions.iter().copied().collect(),
                to_version: target.version,
                deployments: changing.iter().map(|(_, d)| d.id).collect(),
                by: by.to_owned(),
                at: now,
            };
            let mut writes = Vec::with_capacity(changing.len() + 1);
            let mut updated = Vec::with_capacity(changing.len());
            for (revision, d) in &changing {
                let mut d = d.clone();
                d.status_reason = Some(format!(
                    "rolled back from v{} to v{} by {by}",
                    d.version, target.version
                ));
                d.version = target.version;
                d.status = DeploymentStatus::InProgress;
                d.updated_at = now;
                writes.push(Write::update(Record::Deployment(d.clone()), *revision));
                updated.push(d);
            }
            let mut f = function.value.clone();
            f.rollbacks.push(entry.clone());
            let excess = f.rollbacks.len().saturating_sub(MAX_ROLLBACK_HISTORY);
            f.rollbacks.drain(..excess);
            f.updated_at = now;
            writes.push(Write::update(
                Record::Function(f.clone()),
                function.revision,
            ));
            match self.commit_control(&writes).await {
                Ok(_) => {
                    for d in updated {
                        self.inner
                            .catalog
                            .put_deployment(d, Some((f.name.clone(), target.clone())));
                    }
                    let changed = self.retarget(super::Affected::All);
                    tracing::info!(
                        function_id = %id, name = %f.name, from = ?entry.from_versions,
                        to = target.version, deployments = entry.deployments.len(), by,
                        nodes_retargeted = changed, "function rolled back"
                    );
                    return Ok(self.rollback_outcome(id, target.version, Some(entry)));
                }
                // A deployment or the function changed meanwhile: decide again.
                Err(e) if e.code() == ErrorCode::RevisionConflict => {
                    tokio::task::yield_now().await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the function's deployments kept changing; try again",
        ))
    }

    fn rollback_outcome(
        &self,
        id: FunctionId,
        to_version: u32,
        entry: Option<RollbackEntry>,
    ) -> RollbackOutcome {
        let mut deployments: Vec<DeploymentDetail> = self
            .deployments()
            .into_iter()
            .filter(|d| d.deployment.function_id == id && d.deployment.is_live())
            .collect();
        deployments.sort_by_key(|d| d.deployment.id);
        RollbackOutcome {
            function_id: id,
            to_version,
            entry,
            deployments,
        }
    }
}
