//! A simulated edge node for tests: registers, polls, "applies" plans in memory (optionally
//! downloading and verifying every artifact) and acknowledges them, all in-process through the
//! `EdgeSync` facade.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use crate::control::{Ack, EMPTY_PLAN, ServedPlan};
use crate::error::Result;
use crate::model::*;
use crate::selector::Labels;
use crate::{EdgeSync, planner};

/// How a simulated node behaves.
#[derive(Clone, Debug, Default)]
pub struct SimBehavior {
    /// Installs of these functions fail (with `error_code` `simulated_failure`).
    pub failing_functions: Vec<FunctionId>,
    /// Every install fails.
    pub fail_all_installs: bool,
    /// Download each artifact through its signed URL and check its SHA-256.
    pub verify_artifacts: bool,
}

/// One simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Its id.
    pub id: NodeId,
    /// Its name.
    pub name: String,
    /// What it runs.
    pub state: ReportedState,
    /// The revision it has fully applied.
    pub applied_revision: Option<String>,
    /// Its behavior.
    pub behavior: SimBehavior,
    /// Bytes downloaded per artifact (when verifying).
    pub downloads: BTreeMap<String, usize>,
}

/// What one sync step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimStep {
    /// The node was current.
    NotModified,
    /// It applied a plan with this many actions, `failed` of them failing.
    Applied {
        /// Actions in the plan.
        actions: usize,
        /// Of which failed.
        failed: usize,
    },
}

/// One successful result per action of `plan`: what a node that applied all of it reports.
pub fn all_succeeded(plan: &ServedPlan) -> Vec<ActionResult> {
    plan.actions
        .iter()
        .map(|a| ActionResult {
            action_id: a.action.id,
            succeeded: true,
            error_code: None,
            error: None,
        })
        .collect()
}

impl SimNode {
    /// Registers a node with these labels in POP `pop`.
    pub async fn register(es: &EdgeSync, name: &str, pop: &str, labels: Labels) -> Result<Self> {
        let r = es
            .register_node(NodeRegistration {
                name: name.to_owned(),
                pop: pop.to_owned(),
                region: String::new(),
                labels,
                agent_version: "sim".into(),
                capabilities: vec!["wasm".into()],
                memory_budget_bytes: None,
            })
            .await?;
        Ok(Self {
            id: r.node.id,
            name: name.to_owned(),
            state: ReportedState::default(),
            applied_revision: None,
            behavior: SimBehavior::default(),
            downloads: BTreeMap::new(),
        })
    }

    /// Function → version it runs.
    pub fn runs(&self) -> BTreeMap<FunctionId, u32> {
        self.state
            .functions
            .iter()
            .map(|f| (f.function_id, f.version))
            .collect()
    }

    /// Polls once (with the revision it has, like `If-None-Match`), applies and acks the plan.
    pub async fn sync_once(&mut self, es: &EdgeSync) -> Result<SimStep> {
        if self.applied_revision.as_deref() == Some(es.sync_revision(self.id)?.as_str()) {
            return Ok(SimStep::NotModified);
        }
        let plan = es.sync_plan(self.id).await?;
        if plan.plan_id == EMPTY_PLAN {
            self.applied_revision = Some(plan.revision);
            return Ok(SimStep::NotModified);
        }
        let results = self.apply(es, &plan).await?;
        let failed = results.iter().filter(|r| !r.succeeded).count();
        let actions: Vec<PlanAction> = plan.actions.iter().map(|a| a.action.clone()).collect();
        let next = planner::apply(&self.state, &actions, &results, &plan.revision);
        es.ack_plan(
            self.id,
            Ack {
                plan_id: plan.plan_id,
                results,
                state: Some(next.clone()),
            },
        )
        .await?;
        if failed == 0 {
            self.applied_revision = Some(plan.revision.clone());
        }
        self.state = next;
        Ok(SimStep::Applied {
            actions: plan.actions.len(),
            failed,
        })
    }

    async fn apply(&mut self, es: &EdgeSync, plan: &ServedPlan) -> Result<Vec<ActionResult>> {
        let mut results = Vec::with_capacity(plan.actions.len());
        for served in &plan.actions {
            let mut outcome: std::result::Result<(), (String, String)> = Ok(());
            if let Action::InstallFunction(i) = &served.action.action {
                if self.behavior.fail_all_installs
                    || self.behavior.failing_functions.contains(&i.function_id)
                {
                    outcome = Err((
                        "simulated_failure".into(),
                        "the simulated node refused the install".into(),
                    ));
                } else if self.behavior.verify_artifacts {
                    outcome = self
                        .download(es, served.artifact_url.as_deref(), &i.sha256)
                        .await;
                }
            }
            results.push(match outcome {
                Ok(()) => ActionResult {
                    action_id: served.action.id,
                    succeeded: true,
                    error_code: None,
                    error: None,
                },
                Err((code, error)) => ActionResult {
                    action_id: served.action.id,
                    succeeded: false,
                    error_code: Some(code),
                    error: Some(error),
                },
            });
        }
        Ok(results)
    }

    async fn download(
        &mut self,
        es: &EdgeSync,
        url: Option<&str>,
        sha256: &str,
    ) -> std::result::Result<(), (String, String)> {
        let fail = |code: &str, msg: String| Err((code.to_owned(), msg));
        let Some(url) = url else {
            return fail("no_artifact_url", "the install carries no URL".into());
        };
        let Some((path, query)) = url.split_once('?') else {
            return fail("bad_artifact_url", url.to_owned());
        };
        let sha = path.rsplit('/').next().unwrap_or_default();
        let mut expires = 0i64;
        let mut signature = "";
        for kv in query.split('&') {
            match kv.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or(0),
                Some(("signature", v)) => signature = v,
                _ => {}
            }
        }
        let (_, stream) = match es.open_signed_artifact(sha, expires, signature).await {
            Ok(x) => x,
            Err(e) => return fail("download_failed", e.to_string()),
        };
        let chunks: Vec<bytes::Bytes> = match stream.try_collect().await {
            Ok(c) => c,
            Err(e) => return fail("download_failed", e.to_string()),
        };
        let bytes = chunks.concat();
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return fail(
                "sha256_mismatch",
                format!("downloaded bytes do not hash to {sha256}"),
            );
        }
        self.downloads.insert(sha256.to_owned(), bytes.len());
        Ok(())
    }
}

/// Syncs every node until none changes; returns the rounds it took (at most `max_rounds`).
pub async fn converge(es: &EdgeSync, nodes: &mut [SimNode], max_rounds: usize) -> Result<usize> {
    for round in 1..=max_rounds {
        let mut changed = false;
        for n in nodes.iter_mut() {
            if let SimStep::Applied { .. } = n.sync_once(es).await? {
                changed = true;
            }
        }
        if !changed {
            return Ok(round);
        }
    }
    Ok(max_rounds)
}
