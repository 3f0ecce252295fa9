//! The rollout engine: batch plans, health gates, the circuit breaker, automatic rollback,
//! pause / resume, and previews.
//!
//! A deployment's batches are planned when it is created, from the nodes it would win, and
//! frozen in its record. The first batch is released at once; the engine (run by the job-lease
//! holder on every maintenance pass, driven by the `Clock`) releases the next batch once every
//! node of the current one is active or has failed (a node that is not active by
//! `batch_timeout_s` counts as failed), the bake time has passed and the rate limit allows. After
//! every batch the breaker compares failed ÷ executed with `max_failure_ratio` (once
//! `min_executed` nodes executed): a breach halts the rollout, and with `auto_rollback` the
//! deployment stops targeting anyone, so every changed node converges back to what it ran before
//! (the previous deployment's version, or nothing). Every status has a way out: halted and paused
//! deployments can be resumed or aborted; nothing stays in progress past its batch timeouts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::EdgeSync;
use super::deployments::deployment_not_found;
use crate::desired::{selects, target_for, winning_deployment};
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::planner;
use crate::store::{Record, StoreExt, Versioned, Write};

/// Nodes the rollout tally looks up under one hold of the fleet's read lock: short enough not
/// to hold heartbeats up, long enough that taking the lock costs little per node.
const TALLY_SLICE: usize = 1_024;

/// One node in a preview.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewNode {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Whether the new deployment would win the function on this node.
    pub wins: bool,
    /// The deployment that wins instead, when it does not.
    pub winner: Option<DeploymentId>,
    /// Why: the live deployments of the function that select the node, best first.
    pub competing: Vec<DeploymentId>,
    /// Its batch (0-based), when it wins.
    pub batch: Option<u32>,
    /// The plan it would get once its batch is released.
    pub plan: Vec<Action>,
    /// A digest of `plan` (without signed URLs), to compare with the plan it later gets.
    pub plan_hash: String,
}

/// What a deployment would do, computed without changing anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    /// Every node the selector matches.
    pub nodes: Vec<PreviewNode>,
    /// The batch plan.
    pub batches: Vec<Vec<NodeId>>,
}

/// A digest of what a plan does (which deployment chose an install is left out, so a preview's
/// hash matches the plan the deployment later hands out).
pub fn plan_hash(actions: &[Action]) -> String {
    use sha2::{Digest, Sha256};
    let normalized: Vec<Action> = actions
        .iter()
        .cloned()
        .map(|a| match a {
            Action::InstallFunction(mut i) => {
                i.deployment_id = DeploymentId::from_uuid(uuid::Uuid::nil());
                Action::InstallFunction(i)
            }
            other => other,
        })
        .collect();
    let json = serde_json::to_vec(&normalized).unwrap_or_default();
    format!("p-{}", &hex::encode(Sha256::digest(json))[..16])
}

fn order_key(order_by: Option<&str>, node: &Node) -> String {
    match order_by {
        Some("pop") => node.pop.clone(),
        Some(o) => match o.strip_prefix("label:") {
            Some(key) => node.labels.get(key).cloned().unwrap_or_default(),
            None => String::new(),
        },
        None => String::new(),
    }
}

/// Splits the nodes a deployment wins into batches according to its strategy.
pub(super) fn batches_for(strategy: &Strategy, mut nodes: Vec<&Node>) -> Vec<Vec<NodeId>> {
    let order_by = strategy.order_by.as_deref().filter(|o| *o != "name");
    nodes.sort_by(|a, b| {
        order_key(order_by, a)
            .cmp(&order_key(order_by, b))
            .then(a.name.cmp(&b.name))
    });
    let n = nodes.len();
    if n == 0 {
        return Vec::new();
    }
    let per_batch = |default: usize| {
        strategy
            .batch_size
            .map(|s| s as usize)
            .or_else(|| {
                strategy
                    .batch_percent
                    .map(|p| (n * p as usize).div_ceil(100))
            })
            .unwrap_or(default)
            .max(1)
    };
    let mut batches: Vec<Vec<NodeId>> = match strategy.kind {
        StrategyKind::All => vec![nodes.iter().map(|x| x.id).collect()],
        StrategyKind::Canary => {
            let canary = per_batch(1).min(n);
            vec![
                nodes[..canary].iter().map(|x| x.id).collect(),
                nodes[canary..].iter().map(|x| x.id).collect(),
            ]
        }
        StrategyKind::Batches
            if strategy.batch_size.is_none()
                && strategy.batch_percent.is_none()
                && order_by.is_some() =>
        {
            // One batch per distinct value: POP by POP, region by region.
            let mut groups: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
            for node in &nodes {
                groups
                    .entry(order_key(order_by, node))
                    .or_default()
                    .push(node.id);
            }
            groups.into_values().collect()
        }
        StrategyKind::Batches => nodes
            .chunks(per_batch(n.div_ceil(4)))
            .map(|c| c.iter().map(|x| x.id).collect())
            .collect(),
    };
    batches.retain(|b| !b.is_empty());
    // No batch larger than the per-minute rate: releases are spaced a minute apart.
    if let Some(rate) = strategy.max_per_minute {
        let rate = rate as usize;
        batches = batches
            .into_iter()
            .flat_map(|b| b.chunks(rate).map(<[NodeId]>::to_vec).collect::<Vec<_>>())
            .collect();
    }
    batches
}

/// How the nodes of a rollout are doing.
#[derive(Debug, Default)]
struct Tally {
    active: usize,
    failed: usize,
    /// Released in the current batch, not active, not failed.
    pending_in_current: Vec<NodeId>,
    /// Failed in the current batch, with retries left.
    retrying_in_current: Vec<NodeId>,
}

impl EdgeSync {
    /// Plans a new deployment's batches and releases the first.
    pub(super) fn plan_rollout(
        &self,
        d: &mut Deployment,
        function_name: &str,
        version: &FunctionVersion,
    ) {
        // Plan against the catalog as if the deployment were fully released.
        let mut unrestricted = d.clone();
        unrestricted.strategy.kind = StrategyKind::All;
        let catalog = self
            .inner
            .catalog
            .catalog_with(unrestricted, (function_name.to_owned(), version.clone()));
        // The nodes `d` would win if fully released, batched under one read of the fleet: a
        // deploy to 100,000 nodes neither copies the fleet nor computes whole targets.
        let batches = self.inner.fleet.scan(|entries| {
            let nodes: Vec<&Node> = entries
                .map(|e| &e.node.value)
                .filter(|n| n.lifecycle == NodeLifecycle::Active && selects(d, n))
                .filter(|n| winning_deployment(n, &catalog, d.function_id) == Some(d.id))
                .collect();
            batches_for(&d.strategy, nodes)
        });
        d.rollout = Rollout {
            released: u32::from(!batches.is_empty()),
            batches,
            batch_started_at: Some(self.now()),
            batch_healthy_at: None,
            excluded: Vec::new(),
        };
    }

    /// Answers which nodes a deployment would reach, who wins each node's function and why, the
    /// batches, and each node's plan — changing nothing.
    pub fn preview_deployment(
        &self,
        d: &Deployment,
        function_name: &str,
        version: &FunctionVersion,
    ) -> Preview {
        let mut unrestricted = d.clone();
        unrestricted.strategy.kind = StrategyKind::All;
        let catalog = self.inner.catalog.catalog_with(
            unrestricted.clone(),
            (function_name.to_owned(), version.clone()),
        );
        let migrations = self.inner.catalog.migrations();
        let mut planned = d.clone();
        self.plan_rollout(&mut planned, function_name, version);
        let batch_of = |n: NodeId| {
            planned
                .rollout
                .batches
                .iter()
                .position(|b| b.contains(&n))
                .map(|i| i as u32)
        };
        let mut nodes = Vec::new();
        for entry in self.inner.fleet.snapshot() {
            let node = &entry.node.value;
            if !selects(d, node) {
                continue;
            }
            let target = target_for(node, &catalog);
            let winner = target.deployment_for(d.function_id);
            let competing: Vec<DeploymentId> = catalog
                .deployments_of(d.function_id)
                .iter()
                .filter(|c| selects(c, node))
                .map(|c| c.id)
                .collect();
            let plan = planner::plan(&entry.state.reported, &target, &migrations);
            nodes.push(PreviewNode {
                node_id: node.id,
                node_name: node.name.clone(),
                wins: winner == Some(d.id),
                winner: winner.filter(|w| *w != d.id),
                competing,
                batch: batch_of(node.id),
                plan_hash: plan_hash(&plan),
                plan,
            });
        }
        nodes.sort_by(|a, b| a.node_name.cmp(&b.node_name));
        Preview {
            nodes,
            batches: planned.rollout.batches,
        }
    }

    /// Pauses a rollout: released nodes keep it, no further batch is released.
    pub async fn pause_deployment(&self, id: DeploymentId) -> Result<super::DeploymentDetail> {
        self.change_deployment(id, |d, _| match d.status {
            DeploymentStatus::InProgress => {
                d.status = DeploymentStatus::Paused;
                d.status_reason = Some("paused by an operator".into());
                Ok(())
            }
            DeploymentStatus::Paused => Ok(()),
            s => Err(not_in(s, "paused")),
        })
        .await
    }

    /// Resumes a paused or halted rollout (a halted one starts its breaker afresh from the
    /// current batch).
    pub async fn resume_deployment(&self, id: DeploymentId) -> Result<super::DeploymentDetail> {
        self.change_deployment(id, |d, now| match d.status {
            DeploymentStatus::Paused | DeploymentStatus::Halted => {
                d.status = DeploymentStatus::InProgress;
                d.status_reason = Some("resumed by an operator".into());
                d.rollout.batch_started_at = Some(now);
                d.rollout.batch_healthy_at = None;
                Ok(())
            }
            DeploymentStatus::InProgress => Ok(()),
            s => Err(not_in(s, "resumed")),
        })
        .await
    }

    /// Aborts a deployment (same as deleting it): nodes go back to what they ran before.
    pub async fn abort_deployment(&self, id: DeploymentId) -> Result<super::DeploymentDetail> {
        self.delete_deployment(id).await
    }

    async fn change_deployment(
        &self,
        id: DeploymentId,
        change: impl Fn(&mut Deployment, Timestamp) -> Result<()>,
    ) -> Result<super::DeploymentDetail> {
        for _ in 0..5 {
            let current = self
                .inner
                .store
                .get_deployment(id)
                .await?
                .ok_or_else(|| deployment_not_found(id))?;
            let mut d = current.value.clone();
            let now = self.now();
            change(&mut d, now)?;
            if d == current.value {
                return self.deployment(id);
            }
            d.updated_at = now;
            match self
                .commit_control(&[Write::update(
                    Record::Deployment(d.clone()),
                    current.revision,
                )])
                .await
            {
                Ok(_) => {
                    tracing::info!(deployment_id = %id, status = d.status.as_str(), reason = ?d.status_reason, "deployment status changed");
                    self.inner.catalog.put_deployment(d.clone(), None);
                    self.retarget(super::Affected::SelectedBy(&d));
                    return self.deployment(id);
                }
                Err(e) if e.code() == ErrorCode::RevisionConflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the deployment kept changing; try again",
        ))
    }

    /// Where the released nodes of `d` stand. `failed`: the nodes whose state for `d` is
    /// `Failed`; `excluded`: the nodes `d` gave up on. The fleet is read a slice of nodes at a
    /// time, in place: this runs over every released node on every maintenance pass.
    fn tally(
        &self,
        d: &Deployment,
        failed: &HashMap<NodeId, u32>,
        excluded: &HashSet<NodeId>,
    ) -> Tally {
        let mut t = Tally::default();
        let current = (d.rollout.released as usize).saturating_sub(1);
        for (i, batch) in d
            .rollout
            .batches
            .iter()
            .enumerate()
            .take(d.rollout.released as usize)
        {
            let in_current = i == current;
            for slice in batch.chunks(TALLY_SLICE) {
                self.inner.fleet.inspect_each(slice, |node, entry| {
                    let runs = entry.is_some_and(|e| {
                        e.state
                            .reported
                            .functions
                            .iter()
                            .any(|f| f.function_id == d.function_id && f.version == d.version)
                    });
                    let given_up = excluded.contains(&node);
                    if runs {
                        t.active += 1;
                    } else if given_up || failed.contains_key(&node) {
                        // A failure counts against the breaker at once; the batch still waits
                        // for the node's retries (or its timeout).
                        t.failed += 1;
                        if !given_up && in_current {
                            t.retrying_in_current.push(node);
                        }
                    } else if in_current {
                        t.pending_in_current.push(node);
                    }
                });
            }
        }
        t
    }

    /// Moves every in-progress rollout along (run by the job-lease holder on each maintenance
    /// pass): retries, timeouts, the breaker, batch releases, completion. Returns how many
    /// deployments changed.
    pub async fn advance_rollouts(&self) -> Result<usize> {
        let mut changed = 0;
        for (id, status) in self.inner.catalog.deployment_statuses() {
            // Completed and halted deployments still give up on nodes past their retries: work
            // only when some node failed.
            let active = match status {
                DeploymentStatus::InProgress => true,
                DeploymentStatus::Completed
                | DeploymentStatus::Halted
                | DeploymentStatus::Paused => self.inner.node_deployments.any_failed(id),
                _ => false,
            };
            let Some(d) = active.then(|| self.inner.catalog.deployment(id)).flatten() else {
                continue;
            };
            match self.advance(d).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(e) if e.code() == ErrorCode::RevisionConflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }

    async fn advance(&self, mut d: Deployment) -> Result<bool> {
        let now = self.now();
        let before = d.clone();
        let mut node_writes: Vec<Write> = Vec::new();
        let mut node_states: Vec<Versioned<NodeDeployment>> = Vec::new();

        // Nodes that failed past their retries are given up on: they stay where they were.
        // Only the failed nodes are looked at (few), not every released one.
        let failed = self.inner.node_deployments.failed(d.id);
        let mut excluded: HashSet<NodeId> = d.rollout.excluded.iter().copied().collect();
        let given_up: HashSet<NodeId> = failed
            .iter()
            .filter(|(node, attempts)| {
                **attempts > d.strategy.max_retries && !excluded.contains(node)
            })
            .map(|(node, _)| *node)
            .collect();
        if !given_up.is_empty() {
            // In release order, and only nodes this rollout released.
            let newly: Vec<NodeId> = d
                .rollout
                .released_nodes()
                .filter(|node| given_up.contains(node) && excluded.insert(**node))
                .copied()
                .collect();
            d.rollout.excluded.extend(newly);
        }

        if d.status != DeploymentStatus::InProgress {
            return self.save_progress(d, before, Vec::new(), Vec::new()).await;
        }
        // Failed nodes that used up their retries (excluded) no longer hold the batch.
        let mut tally = self.tally(&d, &failed, &excluded);
        let started = d.rollout.batch_started_at.unwrap_or(d.created_at);
        let timed_out = now.since(started) >= Duration::from_secs(d.strategy.batch_timeout_s);
        if timed_out && !tally.retrying_in_current.is_empty() {
            // Still failing at the batch timeout: given up on.
            d.rollout.excluded.append(&mut tally.retrying_in_current);
        }
        if timed_out && !tally.pending_in_current.is_empty() {
            // Not active by the batch timeout: failed (and no longer targeted by this rollout).
            for node in std::mem::take(&mut tally.pending_in_current) {
                let current = self.inner.node_deployments.get(d.id, node);
                let mut nd = current
                    .as_ref()
                    .map(|c| c.value.clone())
                    .unwrap_or(NodeDeployment::pending(d.id, node, now));
                nd.state = NodeDeploymentState::Failed;
                nd.error_code = Some("timeout".into());
                nd.error = Some(format!(
                    "not active within the batch timeout of {} s",
                    d.strategy.batch_timeout_s
                ));
                nd.updated_at = now;
                stage(&mut node_writes, &mut node_states, current.as_ref(), nd);
                d.rollout.excluded.push(node);
                tally.failed += 1;
            }
        }

        let executed = tally.active + tally.failed;
        let ratio = if executed == 0 {
            0.0
        } else {
            tally.failed as f64 / executed as f64
        };
        let batch_done =
            tally.pending_in_current.is_empty() && tally.retrying_in_current.is_empty();
        if executed >= d.strategy.min_executed as usize && ratio > d.strategy.max_failure_ratio {
            let reason = format!(
                "failure ratio {ratio:.2} exceeded {:.2} after {executed} nodes ({} failed)",
                d.strategy.max_failure_ratio, tally.failed
            );
            if d.strategy.auto_rollback {
                d.status = DeploymentStatus::RolledBack;
                d.status_reason = Some(format!("{reason}; rolled back automatically"));
                // Record it on every node this rollout changed.
                for node in d.rollout.released_nodes().copied().collect::<Vec<_>>() {
                    if node_states.iter().any(|s| s.value.node_id == node) {
                        continue;
                    }
                    let current = self.inner.node_deployments.get(d.id, node);
                    let state = self.node_deployment_state(
                        d.id,
                        node,
                        current.as_ref().map(|c| c.value.state),
                    );
                    if !matches!(
                        state,
                        Some(NodeDeploymentState::Active | NodeDeploymentState::Installing)
                    ) {
                        continue;
                    }
                    let mut nd = current
                        .as_ref()
                        .map(|c| c.value.clone())
                        .unwrap_or(NodeDeployment::pending(d.id, node, now));
                    nd.state = NodeDeploymentState::RolledBack;
                    nd.updated_at = now;
                    stage(&mut node_writes, &mut node_states, current.as_ref(), nd);
                }
            } else {
                d.status = DeploymentStatus::Halted;
                d.status_reason = Some(reason);
            }
        } else if batch_done {
            if d.rollout.batch_healthy_at.is_none() {
                d.rollout.batch_healthy_at = Some(now);
            }
            let baked = d
                .rollout
                .batch_healthy_at
                .is_some_and(|h| now.since(h) >= Duration::from_secs(d.strategy.bake_s));
            let rate_ok = d.strategy.max_per_minute.is_none()
                || d.rollout
                    .batch_started_at
                    .is_none_or(|s| now.since(s) >= Duration::from_secs(60));
            if (d.rollout.released as usize) >= d.rollout.batches.len() {
                d.status = DeploymentStatus::Completed;
                d.status_reason = Some(format!(
                    "{} nodes active, {} failed",
                    tally.active, tally.failed
                ));
            } else if baked && rate_ok {
                d.rollout.released += 1;
                d.rollout.batch_started_at = Some(now);
                d.rollout.batch_healthy_at = None;
            }
        }
        self.save_progress(d, before, node_writes, node_states)
            .await
    }

    /// Writes a rollout's new state (and the node states it changed), when anything changed.
    async fn save_progress(
        &self,
        mut d: Deployment,
        before: Deployment,
        node_writes: Vec<Write>,
        node_states: Vec<Versioned<NodeDeployment>>,
    ) -> Result<bool> {
        if d == before {
            return Ok(false);
        }
        let now = self.now();
        d.updated_at = now;
        let current = self
            .inner
            .store
            .get_deployment(d.id)
            .await?
            .ok_or_else(|| deployment_not_found(d.id))?;
        if current.value != before {
            return Err(Error::new(
                ErrorCode::RevisionConflict,
                "the deployment changed meanwhile",
            ));
        }
        let mut writes = vec![Write::update(
            Record::Deployment(d.clone()),
            current.revision,
        )];
        writes.extend(node_writes);
        self.commit_control(&writes).await?;
        self.inner.node_deployments.put_all(node_states);
        if d.status != before.status {
            tracing::info!(deployment_id = %d.id, status = d.status.as_str(), reason = ?d.status_reason, "rollout status changed");
        } else if d.rollout.released != before.rollout.released {
            tracing::info!(deployment_id = %d.id, released = d.rollout.released, batches = d.rollout.batches.len(), "rollout batch released");
        }
        self.inner.catalog.put_deployment(d.clone(), None);
        self.retarget(super::Affected::SelectedBy(&d));
        Ok(true)
    }
}

fn not_in(status: DeploymentStatus, action: &str) -> Error {
    Error::new(
        ErrorCode::DeploymentNotChangeable,
        format!(
            "a deployment that is {} cannot be {action}",
            status.as_str()
        ),
    )
}

/// Adds a per-node deployment state to a commit being built (`current`: the stored one it
/// replaces), and to the states the cache takes once that commit succeeds.
fn stage(
    writes: &mut Vec<Write>,
    states: &mut Vec<Versioned<NodeDeployment>>,
    current: Option<&Versioned<NodeDeployment>>,
    nd: NodeDeployment,
) {
    writes.push(match current {
        Some(c) => Write::update(Record::NodeDeployment(nd.clone()), c.revision),
        None => Write::create(Record::NodeDeployment(nd.clone())),
    });
    states.push(Versioned {
        revision: current.map_or(1, |c| c.revision + 1),
        value: nd,
    });
}
