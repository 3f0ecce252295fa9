//! Deployments: "run version N of function F on the nodes this selector picks", and where each
//! node is with it.

use super::EdgeSync;
use super::functions::function_not_found;
use crate::error::{Error, ErrorCode, Result};
use crate::model::validate;
use crate::model::*;
use crate::selector::Selector;
use crate::store::{Record, StoreExt, Write};

/// What an operator sends to deploy.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDeployment {
    /// Human-friendly name (may be empty).
    pub name: String,
    /// The function.
    pub function_id: FunctionId,
    /// The version to run.
    pub version: u32,
    /// Which nodes.
    pub selector: Selector,
    /// Only nodes of this POP, when set.
    pub pop: Option<String>,
    /// Overlaps: the highest priority wins, then the newest.
    pub priority: i32,
    /// Deploy even a version whose compatibility check found breaking changes.
    pub allow_breaking: bool,
    /// How to roll it out (default: all at once).
    pub strategy: Strategy,
}

/// Largest |priority|.
pub const MAX_PRIORITY: i32 = 1_000_000;

/// One node's state in a deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentNodeState {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Where it is.
    pub state: NodeDeploymentState,
    /// The node's error text, when it failed.
    pub error: Option<String>,
    /// The node's error code, when it failed.
    pub error_code: Option<String>,
    /// Install attempts.
    pub attempts: u32,
    /// When the state last changed (`None`: targeted, nothing reported yet).
    pub updated_at: Option<Timestamp>,
    /// Its rollout batch (0-based), if any.
    pub batch: Option<u32>,
    /// The node's last sign of life.
    pub observed_at: Option<Timestamp>,
}

/// A deployment with every node it concerns.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentDetail {
    /// The deployment.
    pub deployment: Deployment,
    /// Its status as operators see it (`completed` once every targeted node runs it).
    pub status: DeploymentStatus,
    /// Nodes it targets now, and nodes it targeted before.
    pub nodes: Vec<DeploymentNodeState>,
}

impl DeploymentDetail {
    /// How many nodes are in each state.
    pub fn count(&self, state: NodeDeploymentState) -> usize {
        self.nodes.iter().filter(|n| n.state == state).count()
    }

    /// Failed nodes by error code (`unknown` when the node gave none).
    pub fn failure_reasons(&self) -> std::collections::BTreeMap<String, u64> {
        let mut out = std::collections::BTreeMap::new();
        for n in self
            .nodes
            .iter()
            .filter(|n| n.state == NodeDeploymentState::Failed)
        {
            *out.entry(n.error_code.clone().unwrap_or_else(|| "unknown".into()))
                .or_insert(0) += 1;
        }
        out
    }
}

impl EdgeSync {
    /// A node's state in deployment `d`, given the `recorded` one: a first attempt is stored
    /// only when the node acknowledges it, so a node holding an open plan of this server that
    /// installs `d` is `installing` although nothing (or `pending`) is recorded.
    pub(super) fn node_deployment_state(
        &self,
        d: DeploymentId,
        node: NodeId,
        recorded: Option<NodeDeploymentState>,
    ) -> Option<NodeDeploymentState> {
        match recorded {
            None | Some(NodeDeploymentState::Pending)
                if self.inner.open_plans.installs(node, d) =>
            {
                Some(NodeDeploymentState::Installing)
            }
            other => other,
        }
    }

    /// Creates a deployment and releases its first batch (every node for `all`). The version
    /// must be ready; a breaking version needs `allow_breaking`; every node it would reach must
    /// fit it in its memory budget.
    pub async fn create_deployment(&self, new: NewDeployment) -> Result<DeploymentDetail> {
        let (deployment, function, version) = self.draft_deployment(new).await?;
        self.admit(&deployment, &function.name, &version)?;
        self.commit_control(&[Write::create(Record::Deployment(deployment.clone()))])
            .await?;
        self.inner
            .catalog
            .put_deployment(deployment.clone(), Some((function.name.clone(), version)));
        let changed = self.retarget(super::Affected::SelectedBy(&deployment));
        tracing::info!(
            deployment_id = %deployment.id, function = %function.name, version = deployment.version,
            selector = %deployment.selector, priority = deployment.priority,
            strategy = ?deployment.strategy.kind, batches = deployment.rollout.batches.len(),
            nodes_retargeted = changed, "deployment created"
        );
        self.deployment(deployment.id)
    }

    /// What a new deployment would do (nodes, winners, batches, plans), changing nothing. The
    /// same checks as [`EdgeSync::create_deployment`] apply.
    pub async fn preview_new_deployment(&self, new: NewDeployment) -> Result<super::Preview> {
        let (deployment, function, version) = self.draft_deployment(new).await?;
        self.admit(&deployment, &function.name, &version)?;
        Ok(self.preview_deployment(&deployment, &function.name, &version))
    }

    /// Validates a new deployment and builds it with its rollout plan, storing nothing.
    async fn draft_deployment(
        &self,
        new: NewDeployment,
    ) -> Result<(Deployment, Function, FunctionVersion)> {
        validate::text("name", &new.name, 128)?;
        if let Some(pop) = &new.pop {
            validate::name("pop", pop)?;
        }
        validate::range("priority", new.priority, -MAX_PRIORITY, MAX_PRIORITY)?;
        new.strategy.validate()?;
        let function = self
            .inner
            .store
            .get_function(new.function_id)
            .await?
            .ok_or_else(|| function_not_found(new.function_id))?
            .value;
        let version = self
            .inner
            .store
            .get_function_version(new.function_id, new.version)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::FunctionNotFound,
                    format!("function {} has no version {}", function.name, new.version),
                )
            })?
            .value;
        if version.status != VersionStatus::Ready {
            return Err(Error::new(
                ErrorCode::FunctionVersionNotReady,
                format!(
                    "{}@{} has no validated binary yet",
                    function.name, new.version
                ),
            ));
        }
        if let Some(c) = &version.compatibility
            && c.status == CompatibilityStatus::Breaking
            && !new.allow_breaking
        {
            let breaking: Vec<&str> = c
                .reasons
                .iter()
                .filter_map(|r| r.strip_prefix(crate::wasm::BREAKING_PREFIX))
                .collect();
            return Err(Error::new(
                ErrorCode::BreakingVersion,
                format!(
                    "{}@{} breaks compatibility with v{}: {}; set allow_breaking to deploy it anyway",
                    function.name,
                    new.version,
                    c.against_version.unwrap_or_default(),
                    breaking.join("; ")
                ),
            ));
        }
        let now = self.now();
        let deployment = Deployment {
            id: DeploymentId::ordered(),
            name: new.name,
            function_id: new.function_id,
            version: new.version,
            selector: new.selector,
            pop: new.pop,
            priority: new.priority,
            strategy: new.strategy,
            status: DeploymentStatus::InProgress,
            status_reason: None,
            rollout: Rollout::default(),
            created_at: now,
            updated_at: now,
        };
        let mut deployment = deployment;
        self.plan_rollout(&mut deployment, &function.name, &version);
        Ok((deployment, function, version))
    }

    /// Admission: on every node the deployment would win, the functions' memory
    /// (`memory_pages × 64 KiB × max_concurrency`, summed) must fit the node's advertised budget.
    fn admit(&self, deployment: &Deployment, name: &str, version: &FunctionVersion) -> Result<()> {
        // Every node it would reach once fully released, not only the first batch.
        let mut unrestricted = deployment.clone();
        unrestricted.strategy.kind = StrategyKind::All;
        let deployment = &unrestricted;
        let catalog = self
            .inner
            .catalog
            .catalog_with(deployment.clone(), (name.to_owned(), version.clone()));
        // Only the nodes that advertise a budget and that the deployment selects are copied
        // out (their records, not their presence); only those it wins get a whole target.
        let candidates = self.inner.fleet.nodes_where(|n| {
            n.memory_budget_bytes.is_some() && crate::desired::selects(deployment, n)
        });
        for node in &candidates {
            let Some(budget) = node.memory_budget_bytes else {
                continue;
            };
            if crate::desired::winning_deployment(node, &catalog, deployment.function_id)
                != Some(deployment.id)
            {
                continue;
            }
            let target = crate::desired::target_for(node, &catalog);
            let need = |i: &InstallFunction| {
                u64::from(i.memory_pages) * 65_536 * u64::from(i.max_concurrency)
            };
            let total: u64 = target.functions.values().map(need).sum();
            if total > budget {
                let parts: Vec<String> = target
                    .functions
                    .values()
                    .map(|i| {
                        format!(
                            "{}@{}: {} pages × 64 KiB × {} = {}",
                            i.name,
                            i.version,
                            i.memory_pages,
                            i.max_concurrency,
                            need(i)
                        )
                    })
                    .collect();
                return Err(Error::new(
                    ErrorCode::AdmissionRejected,
                    format!(
                        "node {} offers {budget} bytes to functions but would need {total} ({})",
                        node.name,
                        parts.join("; ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every deployment, newest first.
    pub fn deployments(&self) -> Vec<DeploymentDetail> {
        let mut all = self.inner.catalog.deployments();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        all.into_iter().map(|d| self.detail(d)).collect()
    }

    /// One deployment with its per-node states.
    pub fn deployment(&self, id: DeploymentId) -> Result<DeploymentDetail> {
        let d = self
            .inner
            .catalog
            .deployment(id)
            .ok_or_else(|| deployment_not_found(id))?;
        Ok(self.detail(d))
    }

    fn detail(&self, deployment: Deployment) -> DeploymentDetail {
        use std::collections::{BTreeSet, HashMap};
        let recorded: HashMap<NodeId, NodeDeployment> = self
            .inner
            .node_deployments
            .of_deployment(deployment.id)
            .into_iter()
            .map(|r| (r.value.node_id, r.value))
            .collect();
        let targeted: HashMap<NodeId, u32> = if deployment.is_live() {
            self.inner
                .targets
                .nodes_targeted_by(deployment.id)
                .into_iter()
                .collect()
        } else {
            HashMap::new()
        };
        let rollout = &deployment.rollout;
        let batch_of: HashMap<NodeId, u32> = rollout
            .batches
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.iter().map(move |n| (*n, i as u32)))
            .collect();
        let waiting = matches!(
            deployment.status,
            DeploymentStatus::InProgress | DeploymentStatus::Paused
        );
        let mut ids: BTreeSet<NodeId> = targeted.keys().chain(recorded.keys()).copied().collect();
        if waiting {
            ids.extend(batch_of.keys().copied());
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for node_id in ids {
            let entry = self.inner.fleet.get(node_id);
            let record = recorded.get(&node_id);
            // A node that runs the version is active, whichever deployment put it there.
            let runs = entry.as_ref().is_some_and(|e| {
                e.state.reported.functions.iter().any(|f| {
                    f.function_id == deployment.function_id && f.version == deployment.version
                })
            });
            let recorded_state =
                self.node_deployment_state(deployment.id, node_id, record.map(|r| r.state));
            let state = if targeted.contains_key(&node_id) {
                match recorded_state {
                    _ if runs => NodeDeploymentState::Active,
                    Some(s)
                        if !matches!(
                            s,
                            NodeDeploymentState::Removed | NodeDeploymentState::RolledBack
                        ) =>
                    {
                        s
                    }
                    _ => NodeDeploymentState::Pending,
                }
            } else {
                match recorded_state {
                    Some(s @ (NodeDeploymentState::Failed | NodeDeploymentState::RolledBack)) => s,
                    // Not released yet: waiting for its batch.
                    _ if waiting
                        && batch_of.contains_key(&node_id)
                        && !rollout.excluded.contains(&node_id)
                        && !rollout.released_nodes().any(|n| *n == node_id) =>
                    {
                        NodeDeploymentState::Pending
                    }
                    // Stopped, superseded or out of the selector.
                    _ => NodeDeploymentState::Removed,
                }
            };
            let failed = state == NodeDeploymentState::Failed;
            nodes.push(DeploymentNodeState {
                node_id,
                node_name: entry
                    .as_ref()
                    .map(|e| e.node.value.name.clone())
                    .unwrap_or_default(),
                state,
                error: record.and_then(|r| r.error.clone()).filter(|_| failed),
                error_code: record.and_then(|r| r.error_code.clone()).filter(|_| failed),
                attempts: record.map_or(0, |r| r.attempts),
                updated_at: record.map(|r| r.updated_at),
                batch: batch_of.get(&node_id).copied(),
                observed_at: entry.and_then(|e| e.state.last_seen_at),
            });
        }
        nodes.sort_by(|a, b| a.node_name.cmp(&b.node_name));
        let all_released = rollout.released as usize >= rollout.batches.len();
        let all_active = !targeted.is_empty()
            && all_released
            && nodes
                .iter()
                .filter(|n| targeted.contains_key(&n.node_id))
                .all(|n| n.state == NodeDeploymentState::Active);
        let status = match deployment.status {
            DeploymentStatus::InProgress if all_active => DeploymentStatus::Completed,
            s => s,
        };
        DeploymentDetail {
            deployment,
            status,
            nodes,
        }
    }

    /// Stops a deployment: nodes drop the function unless another live deployment keeps it.
    pub async fn delete_deployment(&self, id: DeploymentId) -> Result<DeploymentDetail> {
        for _ in 0..5 {
            let current = self
                .inner
                .store
                .get_deployment(id)
                .await?
                .ok_or_else(|| deployment_not_found(id))?;
            if !current.value.is_live() {
                return self.deployment(id);
            }
            let mut d = current.value;
            d.status = DeploymentStatus::Aborted;
            d.status_reason = Some("deleted by an operator".into());
            d.updated_at = self.now();
            match self
                .commit_control(&[Write::update(
                    Record::Deployment(d.clone()),
                    current.revision,
                )])
                .await
            {
                Ok(_) => {
                    self.inner.catalog.put_deployment(d.clone(), None);
                    let changed = self.retarget(super::Affected::SelectedBy(&d));
                    tracing::info!(deployment_id = %id, nodes_retargeted = changed, "deployment stopped");
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
}

pub(super) fn deployment_not_found(id: DeploymentId) -> Error {
    Error::new(
        ErrorCode::DeploymentNotFound,
        format!("no deployment with id {id}"),
    )
}
