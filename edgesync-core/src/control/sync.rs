//! Serving sync plans to nodes and applying their acks.
//!
//! A poll whose revision is current is answered from memory (see [`EdgeSync::sync_revision`]).
//! A node that is behind gets a plan computed in memory from its reported state and its target;
//! the first time a given plan is handed out it is recorded (one write: the pending history entry
//! and the per-node deployment states of retries, which turn `installing` again; unsynced, see
//! [`Store::commit_unsynced`](crate::store::Store::commit_unsynced)), and the same request
//! afterwards gets the same plan without a write. An ack is applied in one atomic commit: the history entry,
//! the node's new state and the per-node deployment states change together or not at all.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::EdgeSync;
use super::deployments::deployment_not_found;
use super::nodes::node_not_found;
use super::targets::DRAINING_REVISION;
use crate::desired::NodeTarget;
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::planner;
use crate::store::{Expect, Record, RecordKey, Versioned, Write};

/// The plan a node was last handed and has not acknowledged.
#[derive(Clone, Debug)]
struct OpenPlan {
    plan: Arc<SyncPlan>,
    base: ReportedState,
    /// Revision of the pending history record (1 once written).
    record_revision: u64,
}

/// Open plans by node.
#[derive(Debug, Default)]
pub(super) struct OpenPlans {
    by_node: RwLock<HashMap<NodeId, OpenPlan>>,
}

impl OpenPlans {
    fn get(&self, node: NodeId) -> Option<OpenPlan> {
        self.by_node
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .cloned()
    }

    /// Opens `plan` in place of `previous` (the plan open when it was made). False, changing
    /// nothing, when another plan was opened meanwhile (a concurrent poll of the same node).
    fn replace(&self, node: NodeId, previous: Option<PlanId>, plan: OpenPlan) -> bool {
        let mut map = self.by_node.write().unwrap_or_else(PoisonError::into_inner);
        if map.get(&node).map(|p| p.plan.plan_id) != previous {
            return false;
        }
        map.insert(node, plan);
        true
    }

    fn close(&self, node: NodeId, plan: PlanId) {
        let mut map = self.by_node.write().unwrap_or_else(PoisonError::into_inner);
        if map.get(&node).is_some_and(|p| p.plan.plan_id == plan) {
            map.remove(&node);
        }
    }

    /// Whether the node holds a plan that installs `deployment` and has not acknowledged it.
    pub(super) fn installs(&self, node: NodeId, deployment: DeploymentId) -> bool {
        self.by_node
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .is_some_and(|open| {
                open.plan.actions.iter().any(|pa| {
                    matches!(&pa.action, Action::InstallFunction(i) if i.deployment_id == deployment)
                })
            })
    }
}

/// An action as served: install actions carry a freshly signed artifact URL.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedAction {
    /// The action.
    pub action: PlanAction,
    /// For installs: where to download the binary (signed, expiring).
    pub artifact_url: Option<String>,
}

/// A plan as served to a node.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedPlan {
    /// Acknowledge with this id. Empty plans have the nil id and need no ack.
    pub plan_id: PlanId,
    /// The revision the node reaches by applying every action (the response's ETag).
    pub revision: String,
    /// What to do, in order.
    pub actions: Vec<ServedAction>,
}

/// A node's acknowledgement of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Ack {
    /// The plan.
    pub plan_id: PlanId,
    /// One result per action.
    pub results: Vec<ActionResult>,
    /// What the node runs now; derived from the plan and the results when absent.
    pub state: Option<ReportedState>,
}

/// What an ack did.
#[derive(Clone, Debug, PartialEq)]
pub struct AckOutcome {
    /// The history entry.
    pub sync_id: SyncRecordId,
    /// The sync's status.
    pub status: SyncStatus,
    /// The node's target revision now.
    pub revision: String,
    /// The revision the node reached: the plan's when every action succeeded, else `None`
    /// (send this, not `revision`, as `If-None-Match`, so failed actions are planned again).
    pub reached_revision: Option<String>,
    /// False when this ack repeated one already applied (nothing changed).
    pub applied: bool,
}

/// The id of every empty plan (nothing to acknowledge).
pub const EMPTY_PLAN: PlanId = PlanId::from_uuid(uuid::Uuid::nil());

/// Longest long poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

impl EdgeSync {
    /// The node's current target revision, from memory. Polls compare it with the revision the
    /// node already has (`If-None-Match`) and answer "not modified" without any store access.
    pub fn sync_revision(&self, node_id: NodeId) -> Result<String> {
        self.inner
            .targets
            .revision(node_id)
            .ok_or_else(|| node_not_found(node_id))
    }

    /// Waits until the node's target revision differs from `known` or `timeout` passes
    /// (at most [`MAX_WAIT`]). Returns the revision then current.
    pub async fn wait_for_revision_change(
        &self,
        node_id: NodeId,
        known: &str,
        timeout: Duration,
    ) -> Result<String> {
        self.inner
            .targets
            .wait_for_change(node_id, known, timeout.min(MAX_WAIT))
            .await;
        self.sync_revision(node_id)
    }

    /// The plan that takes the node from what it reports to its target.
    pub async fn sync_plan(&self, node_id: NodeId) -> Result<ServedPlan> {
        // Only what the node reports, copied out in place (not its whole fleet entry).
        let current = self
            .inner
            .fleet
            .inspect(node_id, |e| e.state.reported.clone())
            .ok_or_else(|| node_not_found(node_id))?;
        let (target, draining) = self
            .inner
            .targets
            .get(node_id)
            .ok_or_else(|| node_not_found(node_id))?;
        if draining {
            return Ok(ServedPlan {
                plan_id: EMPTY_PLAN,
                revision: DRAINING_REVISION.to_owned(),
                actions: Vec::new(),
            });
        }
        let actions = planner::plan(&current, &target, &self.inner.catalog.migrations());
        if actions.is_empty() {
            self.abandon_open_plan(node_id).await;
            return Ok(ServedPlan {
                plan_id: EMPTY_PLAN,
                revision: target.revision.clone(),
                actions: Vec::new(),
            });
        }
        let actions = planner::number(actions);
        // Concurrent polls of one node race to issue the same plan: the loser re-reads and, on
        // the next round, serves the winner's open plan.
        let mut attempts = 0;
        let plan = loop {
            let issued = match self.inner.open_plans.get(node_id) {
                Some(open)
                    if open.plan.revision == target.revision
                        && open.base == current
                        && open.plan.actions == actions =>
                {
                    Ok(open.plan)
                }
                previous => {
                    self.issue_plan(node_id, &target, current.clone(), actions.clone(), previous)
                        .await
                }
            };
            match issued {
                Err(e) if e.code() == ErrorCode::RevisionConflict && attempts < 3 => {
                    attempts += 1;
                    tokio::task::yield_now().await;
                }
                other => break other?,
            }
        };
        self.serve(&plan).await
    }

    /// Records a newly issued plan (and supersedes the previous open one).
    async fn issue_plan(
        &self,
        node_id: NodeId,
        target: &NodeTarget,
        base: ReportedState,
        actions: Vec<PlanAction>,
        previous: Option<OpenPlan>,
    ) -> Result<Arc<SyncPlan>> {
        let now = self.now();
        let plan_id = PlanId::ordered();
        let plan = SyncPlan {
            plan_id,
            node_id,
            revision: target.revision.clone(),
            actions,
            issued_at: now,
        };
        let record = self.pending_record(&plan, &base, SyncStatus::Pending);
        let mut writes = vec![Write::create(Record::SyncRecord(record))];
        let mut installing = Vec::new();
        for pa in &plan.actions {
            if let Action::InstallFunction(i) = &pa.action {
                let current = self.inner.node_deployments.get(i.deployment_id, node_id);
                // A first attempt (nothing recorded yet, or pending) is `installing` while this
                // plan is open (`EdgeSync::node_deployment_state`): its history record says so,
                // and the ack records the outcome. Writing the state too would make every
                // node's first plan two random writes in two trees instead of one.
                let Some(current) = current.filter(|c| {
                    !matches!(
                        c.value.state,
                        NodeDeploymentState::Pending | NodeDeploymentState::Installing
                    )
                }) else {
                    continue;
                };
                let mut nd = current.value.clone();
                nd.state = NodeDeploymentState::Installing;
                nd.updated_at = now;
                writes.push(Write::update(
                    Record::NodeDeployment(nd.clone()),
                    current.revision,
                ));
                installing.push((nd, current.revision + 1));
            }
        }
        if let Some(prev) = &previous {
            let mut superseded =
                self.pending_record(&prev.plan, &prev.base, SyncStatus::Superseded);
            superseded.acked_at = None;
            writes.push(Write::update(
                Record::SyncRecord(superseded),
                prev.record_revision,
            ));
        }
        // Unsynced: a plan is the server's offer, rebuilt from the node's report whenever needed.
        // If a crash loses it, the node's ack of it is refused (`plan_not_found`) and its next
        // poll gets a new one; an ack, once answered, is durable and makes this record durable
        // too (it was applied first).
        let result = self.inner.store.commit_unsynced(&writes).await;
        let result = match result {
            // The previous plan was acknowledged meanwhile: leave its record alone.
            Err(e) if e.code() == ErrorCode::RevisionConflict && previous.is_some() => {
                writes.pop();
                self.inner.store.commit_unsynced(&writes).await
            }
            other => other,
        };
        let raced = |e: &Error| {
            matches!(
                e.code(),
                ErrorCode::RevisionConflict | ErrorCode::AlreadyExists
            )
        };
        if result.as_ref().is_err_and(raced) {
            // Another poll or replica moved this node's deployment states (or created them
            // first): the next attempt uses fresh ones.
            self.reload_node_deployments(node_id).await?;
        }
        result.map_err(|e| {
            if raced(&e) {
                Error::new(
                    ErrorCode::RevisionConflict,
                    "the node's deployment state changed while planning; poll again",
                )
            } else {
                e
            }
        })?;
        self.inner.node_deployments.put_all(
            installing
                .into_iter()
                .map(|(value, revision)| Versioned { revision, value }),
        );
        let plan = Arc::new(plan);
        let opened = OpenPlan {
            plan: plan.clone(),
            base,
            record_revision: 1,
        };
        let previous_id = previous.map(|p| p.plan.plan_id);
        if !self
            .inner
            .open_plans
            .replace(node_id, previous_id, opened.clone())
        {
            // A concurrent poll of this node opened its plan first: ours is never served.
            let superseded =
                self.pending_record(&opened.plan, &opened.base, SyncStatus::Superseded);
            self.inner
                .store
                .commit_unsynced(&[Write::update(Record::SyncRecord(superseded), 1)])
                .await?;
            return Err(Error::new(
                ErrorCode::RevisionConflict,
                "another poll of this node issued a plan meanwhile; poll again",
            ));
        }
        tracing::debug!(%node_id, %plan_id, actions = plan.actions.len(), revision = %plan.revision, "plan issued");
        Ok(plan)
    }

    /// Re-reads one node's per-deployment states from the store.
    async fn reload_node_deployments(&self, node_id: NodeId) -> Result<()> {
        let mut fresh = Vec::new();
        for d in self.inner.catalog.deployments() {
            if let Some(stored) = self
                .inner
                .store
                .get(&RecordKey::NodeDeployment {
                    deployment_id: d.id,
                    node_id,
                })
                .await?
                && let Record::NodeDeployment(nd) = stored.record
            {
                fresh.push(Versioned {
                    revision: stored.revision,
                    value: nd,
                });
            }
        }
        self.inner.node_deployments.put_all(fresh);
        Ok(())
    }

    /// A node that caught up without acknowledging its open plan (e.g. it reported the state in
    /// a heartbeat) will never ack it: mark it superseded so history and stats do not count it as
    /// pending forever. Best effort: a failure leaves it for the next empty poll.
    async fn abandon_open_plan(&self, node_id: NodeId) {
        let Some(open) = self.inner.open_plans.get(node_id) else {
            return;
        };
        let record = self.pending_record(&open.plan, &open.base, SyncStatus::Superseded);
        match self
            .inner
            .store
            .commit(&[Write::update(
                Record::SyncRecord(record),
                open.record_revision,
            )])
            .await
        {
            Ok(_) => self.inner.open_plans.close(node_id, open.plan.plan_id),
            // Acknowledged meanwhile: nothing to supersede.
            Err(e) if e.code() == ErrorCode::RevisionConflict => {
                self.inner.open_plans.close(node_id, open.plan.plan_id)
            }
            Err(e) => tracing::warn!(%node_id, error = %e, "could not supersede an abandoned plan"),
        }
    }

    fn pending_record(
        &self,
        plan: &SyncPlan,
        base: &ReportedState,
        status: SyncStatus,
    ) -> SyncRecord {
        SyncRecord {
            id: SyncRecordId::from_uuid(*plan.plan_id.as_uuid()),
            node_id: plan.node_id,
            plan_id: plan.plan_id,
            revision: plan.revision.clone(),
            base: base.clone(),
            actions: plan.actions.clone(),
            results: Vec::new(),
            status,
            planned_at: plan.issued_at,
            acked_at: None,
        }
    }

    /// Attaches signed artifact URLs to a plan's install actions.
    async fn serve(&self, plan: &SyncPlan) -> Result<ServedPlan> {
        let mut actions = Vec::with_capacity(plan.actions.len());
        for pa in &plan.actions {
            let artifact_url = match &pa.action {
                Action::InstallFunction(i) => {
                    let key = crate::ArtifactKey::for_sha256_hex(&i.sha256)?;
                    Some(self.artifact_url(&key).await?.0)
                }
                _ => None,
            };
            actions.push(ServedAction {
                action: pa.clone(),
                artifact_url,
            });
        }
        Ok(ServedPlan {
            plan_id: plan.plan_id,
            revision: plan.revision.clone(),
            actions,
        })
    }

    /// Applies a node's ack atomically: the history entry, the node's state and the per-node
    /// deployment states. Idempotent per plan id: repeating an ack changes nothing.
    pub async fn ack_plan(&self, node_id: NodeId, ack: Ack) -> Result<AckOutcome> {
        if let Some(state) = &ack.state {
            state.validate()?;
        }
        if ack.plan_id == EMPTY_PLAN {
            if !ack.results.is_empty() {
                return Err(Error::invalid("an empty plan has no actions to report"));
            }
            self.inner.fleet.touch(node_id, self.now(), ack.state);
            let revision = self.sync_revision(node_id)?;
            return Ok(AckOutcome {
                sync_id: SyncRecordId::from_uuid(*EMPTY_PLAN.as_uuid()),
                status: SyncStatus::Succeeded,
                reached_revision: Some(revision.clone()),
                revision,
                applied: false,
            });
        }
        for attempt in 0..8 {
            // The first attempt trusts the plan this server handed out; a retry reads the store.
            match self.try_ack(node_id, &ack, attempt == 0).await {
                Err(e) if e.code() == ErrorCode::RevisionConflict && attempt < 7 => {
                    // Another replica (or a concurrent ack) moved this node's deployment states.
                    self.reload_node_deployments(node_id).await?;
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the ack kept conflicting; retry",
        ))
    }

    /// One attempt at [`Self::ack_plan`]. With `trust_open_plan`, the plan this server handed
    /// out and still holds open stands in for its history record (the commit checks the
    /// record's revision, so a record changed elsewhere fails it with a conflict); otherwise, or
    /// when it holds none, the record is read from the store.
    async fn try_ack(
        &self,
        node_id: NodeId,
        ack: &Ack,
        trust_open_plan: bool,
    ) -> Result<AckOutcome> {
        let open = self
            .inner
            .open_plans
            .get(node_id)
            .filter(|open| trust_open_plan && open.plan.plan_id == ack.plan_id);
        let (record, record_revision) = match open {
            Some(open) => (
                self.pending_record(&open.plan, &open.base, SyncStatus::Pending),
                open.record_revision,
            ),
            None => self.stored_sync_record(node_id, ack.plan_id).await?,
        };
        let results = normalize_results(&record, &ack.results)?;
        if record.status.is_acked() {
            return if record.results == results {
                Ok(AckOutcome {
                    sync_id: record.id,
                    status: record.status,
                    revision: self.sync_revision(node_id)?,
                    reached_revision: (record.status == SyncStatus::Succeeded)
                        .then(|| record.revision.clone()),
                    applied: false,
                })
            } else {
                Err(Error::new(
                    ErrorCode::PlanAlreadyAcked,
                    format!("plan {} was acknowledged with other results", ack.plan_id),
                ))
            };
        }
        let now = self.now();
        let new_state = match &ack.state {
            Some(s) => s.clone(),
            None => planner::apply(&record.base, &record.actions, &results, &record.revision),
        };
        let succeeded = results.iter().filter(|r| r.succeeded).count();
        let status = match succeeded {
            n if n == results.len() => SyncStatus::Succeeded,
            0 => SyncStatus::Failed,
            _ => SyncStatus::Partial,
        };
        let mut completed = record.clone();
        completed.results = results.clone();
        completed.status = status;
        completed.acked_at = Some(now);

        let mut node_state = self
            .inner
            .fleet
            .inspect(node_id, |e| e.state.clone())
            .ok_or_else(|| node_not_found(node_id))?;
        let deployment_writes =
            self.deployment_states_after(node_id, &record, &results, &new_state, now)?;
        node_state.reported = new_state;
        node_state.last_seen_at = Some(now);
        let mut writes = vec![
            Write::update(Record::SyncRecord(completed), record_revision),
            Write::Put {
                record: Record::NodeState(node_state.clone()),
                expect: Expect::Any,
            },
        ];
        writes.extend(deployment_writes.iter().map(|(nd, rev)| match rev {
            Some(r) => Write::update(Record::NodeDeployment(nd.clone()), *r),
            None => Write::create(Record::NodeDeployment(nd.clone())),
        }));
        self.inner.store.commit(&writes).await?;

        // Memory follows the store only after the commit succeeded.
        self.inner.fleet.set_persisted(node_id, node_state);
        self.inner
            .node_deployments
            .put_all(deployment_writes.into_iter().map(|(value, rev)| Versioned {
                revision: rev.map_or(1, |r| r + 1),
                value,
            }));
        self.inner.open_plans.close(node_id, ack.plan_id);
        tracing::info!(%node_id, plan_id = %ack.plan_id, status = status.as_str(), "plan acknowledged");
        Ok(AckOutcome {
            sync_id: record.id,
            status,
            revision: self.sync_revision(node_id)?,
            reached_revision: (status == SyncStatus::Succeeded).then(|| record.revision.clone()),
            applied: true,
        })
    }

    /// Node `node_id`'s history record of plan `plan_id`, with its revision.
    async fn stored_sync_record(
        &self,
        node_id: NodeId,
        plan_id: PlanId,
    ) -> Result<(SyncRecord, u64)> {
        let key = RecordKey::SyncRecord {
            node_id,
            id: SyncRecordId::from_uuid(*plan_id.as_uuid()),
        };
        let stored = self.inner.store.get(&key).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::PlanNotFound,
                format!("node {node_id} has no plan {plan_id}"),
            )
        })?;
        match stored.record {
            Record::SyncRecord(record) => Ok((record, stored.revision)),
            _ => Err(Error::internal("a sync key holds another record")),
        }
    }

    /// The per-node deployment states an ack changes, with the revision each write expects
    /// (`None`: create).
    fn deployment_states_after(
        &self,
        node_id: NodeId,
        record: &SyncRecord,
        results: &[ActionResult],
        state: &ReportedState,
        now: Timestamp,
    ) -> Result<Vec<(NodeDeployment, Option<u64>)>> {
        let (target, _) = self
            .inner
            .targets
            .get(node_id)
            .ok_or_else(|| node_not_found(node_id))?;
        let runs = |f: FunctionId, v: u32| {
            state
                .functions
                .iter()
                .any(|r| r.function_id == f && r.version == v)
        };
        let mut changes = StateChanges {
            node_id,
            now,
            index: &self.inner.node_deployments,
            changes: HashMap::new(),
        };
        // Installs in this plan: active or failed, with the node's error text.
        for pa in &record.actions {
            if let Action::InstallFunction(i) = &pa.action {
                let r = results.iter().find(|r| r.action_id == pa.id);
                match r {
                    Some(r) if r.succeeded => {
                        changes.set(i.deployment_id, NodeDeploymentState::Active, None, false)
                    }
                    Some(r) => changes.set(
                        i.deployment_id,
                        NodeDeploymentState::Failed,
                        Some((
                            r.error_code.clone(),
                            r.error.clone().unwrap_or_else(|| "install failed".into()),
                        )),
                        true,
                    ),
                    None => {}
                }
            }
        }
        // Winners the node already runs are active (e.g. a new deployment of the same version).
        for i in target.functions.values() {
            if runs(i.function_id, i.version)
                && !changes.changes.contains_key(&i.deployment_id)
                && self
                    .inner
                    .node_deployments
                    .get(i.deployment_id, node_id)
                    .is_none_or(|c| c.value.state != NodeDeploymentState::Active)
            {
                changes.set(i.deployment_id, NodeDeploymentState::Active, None, false);
            }
        }
        // Deployments that no longer target the node and whose version it no longer runs.
        for nd in self.inner.node_deployments.of_node(node_id) {
            let d = nd.value.deployment_id;
            if nd.value.state == NodeDeploymentState::Removed || changes.changes.contains_key(&d) {
                continue;
            }
            let Some(deployment) = self.inner.catalog.deployment(d) else {
                return Err(deployment_not_found(d));
            };
            let winner = target.deployment_for(deployment.function_id) == Some(d);
            if !winner && !runs(deployment.function_id, deployment.version) {
                changes.set(d, NodeDeploymentState::Removed, None, false);
            }
        }
        Ok(changes.changes.into_values().collect())
    }
}

/// The per-node deployment states one ack changes, each with the revision it was read at.
struct StateChanges<'a> {
    node_id: NodeId,
    now: Timestamp,
    index: &'a super::node_deployments::NodeDeployments,
    changes: HashMap<DeploymentId, (NodeDeployment, Option<u64>)>,
}

impl StateChanges<'_> {
    /// Sets a state; `error` is `(code, text)` for failures.
    fn set(
        &mut self,
        d: DeploymentId,
        state: NodeDeploymentState,
        error: Option<(Option<String>, String)>,
        failed: bool,
    ) {
        let (error_code, error) = match error {
            Some((code, text)) => (code, Some(text)),
            None => (None, None),
        };
        let current = self.index.get(d, self.node_id);
        let mut nd = self
            .changes
            .get(&d)
            .map(|c| c.0.clone())
            .or_else(|| current.as_ref().map(|c| c.value.clone()))
            .unwrap_or(NodeDeployment::pending(d, self.node_id, self.now));
        if nd.state == state && nd.error == error && !failed {
            return;
        }
        nd.state = state;
        nd.error = error;
        nd.error_code = error_code;
        if failed || state == NodeDeploymentState::Active {
            nd.attempts += 1;
        }
        nd.updated_at = self.now;
        self.changes.insert(d, (nd, current.map(|c| c.revision)));
    }
}

/// Checks an ack's results against the plan: one result per action, ids in range, and returns
/// them in action order.
fn normalize_results(record: &SyncRecord, results: &[ActionResult]) -> Result<Vec<ActionResult>> {
    let n = record.actions.len();
    let mut slots: Vec<Option<ActionResult>> = vec![None; n];
    for r in results {
        let idx = usize::try_from(r.action_id).unwrap_or(usize::MAX);
        let slot = slots.get_mut(idx).ok_or_else(|| {
            Error::invalid(format!(
                "action_id {} is out of range: the plan has {n} actions (0..{})",
                r.action_id,
                n.saturating_sub(1)
            ))
        })?;
        if slot.is_some() {
            return Err(Error::invalid(format!(
                "action {} is reported twice",
                r.action_id
            )));
        }
        *slot = Some(r.clone());
    }
    let missing: Vec<String> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "every action needs a result; missing: {}",
            missing.join(", ")
        )));
    }
    Ok(slots.into_iter().flatten().collect())
}
