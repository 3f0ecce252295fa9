//! The loop: long-poll with `If-None-Match` = the revision fully reached, apply a plan when one
//! comes, acknowledge it with per-action results and the node's real state. While the control
//! plane is away the node keeps serving and retries with backoff; a plan with failed actions
//! is retried (planned again by the server) after a growing pause.

use std::sync::Arc;
use std::time::Duration;

use edgesync_client::SyncPoll;
use edgesync_client::wire::{ActionStatus, SyncAckRequest};

use super::apply::apply_plan;
use crate::backoff::Backoff;
use crate::error::Result;
use crate::session::{Session, transient, unauthorized};
use crate::shared::Shared;
use crate::stats::Stats;

/// Runs until the node's credentials are refused for good.
pub(crate) async fn run(shared: Arc<Shared>, session: Arc<Session>) -> Result<()> {
    let mut known = shared.snapshot().sync_revision;
    let mut outage = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    let mut failing = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let wait = shared.config.sync_wait;
    loop {
        if let Err(e) = session.ensure_fresh().await {
            shared.contact_failed("token refresh", &e);
            outage.wait().await;
            continue;
        }
        let poll = session.node().sync(known.as_deref(), Some(wait)).await;
        match poll {
            Ok(SyncPoll::NotModified { .. }) => {
                outage.reset();
                shared.contact_ok();
            }
            Ok(SyncPoll::Plan(plan, revision)) if plan.actions.is_empty() => {
                outage.reset();
                shared.contact_ok();
                if known.as_deref() != Some(revision.as_str()) {
                    tracing::debug!(%revision, "target reached");
                    let saved = revision.clone();
                    if let Err(e) = shared.update_state(|s| s.sync_revision = Some(saved)) {
                        tracing::error!(error = %e, "cannot save the reached revision");
                    }
                    known = Some(revision);
                }
            }
            Ok(SyncPoll::Plan(plan, _)) => {
                outage.reset();
                shared.contact_ok();
                tracing::info!(plan_id = %plan.plan_id, revision = %plan.revision, actions = plan.actions.len(), "applying a plan");
                let results = apply_plan(&shared, session.node(), &plan).await;
                let complete = results.iter().all(|r| r.status == ActionStatus::Succeeded);
                let ack = SyncAckRequest {
                    plan_id: plan.plan_id,
                    results,
                    state: Some(shared.reported_state()),
                };
                match session.node().ack(&ack).await {
                    Ok(resp) => {
                        tracing::info!(plan_id = %plan.plan_id, status = ?resp.status, "plan acknowledged");
                        if let Some(reached) = resp.reached_revision {
                            known = Some(reached);
                        }
                    }
                    Err(e) => {
                        // The next poll plans from what the node reports; nothing is lost.
                        tracing::warn!(plan_id = %plan.plan_id, error = %e, "could not acknowledge a plan");
                        if complete {
                            known = Some(plan.revision.clone());
                        }
                    }
                }
                if complete {
                    failing.reset();
                } else {
                    let pause = failing.next_delay();
                    tracing::info!(?pause, "some actions failed; retrying them later");
                    pause_after_failure(&session, &plan.revision, pause).await;
                }
            }
            Err(e) if unauthorized(&e) => {
                tracing::warn!(error = %e, "the node token was refused; refreshing it");
                if let Err(err) = session.recover().await {
                    match &err {
                        crate::AgentError::Client(c) if transient(c) => outage.wait().await,
                        _ => return Err(err),
                    }
                }
            }
            Err(e) => {
                Stats::bump(&shared.stats.sync_errors);
                shared.contact_failed("sync", &e);
                outage.wait().await;
            }
        }
    }
}

/// Waits before planning failed actions again, but no longer than it takes the target to
/// change: a long poll on the failed plan's revision answers as soon as an operator changes
/// something (a fixed artifact, another version), or `304` when the pause is over.
async fn pause_after_failure(session: &Session, failed_revision: &str, pause: Duration) {
    let started = tokio::time::Instant::now();
    let wait = Duration::from_secs(pause.as_secs().max(1));
    let polled = session.node().sync(Some(failed_revision), Some(wait)).await;
    if polled.is_err() {
        // The server is away: the main loop's backoff takes over after the pause.
        tokio::time::sleep_until(started + pause).await;
    }
}
