//! The worker: runs [`Request`]s through the typed client on tokio tasks (never on the UI
//! thread) and sends each answer back as an [`Event::Response`].

use std::sync::Arc;

use edgesync_client::wire::{DeploymentStatus, NodeStatus, QueueCommandRequest};
use edgesync_client::{Client, NodeFilter, TelemetryFilter};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc};

use crate::action::{ApiError, Event, Payload, Request, Response};
use crate::app::FleetSummary;

/// Requests in flight at once (a slow link gets a queue, not a stampede).
const CONCURRENCY: usize = 4;
/// Entries of sync history fetched.
const HISTORY_LIMIT: u32 = 20;
/// Commands fetched for the node detail.
const COMMANDS_LIMIT: u32 = 10;
/// Nodes per page when listing.
const PAGE: u32 = 1000;

/// Sends requests off the UI thread.
#[derive(Clone)]
pub struct Worker {
    client: Client,
    events: mpsc::UnboundedSender<Event>,
    slots: Arc<Semaphore>,
}

impl Worker {
    /// A worker that answers on `events`.
    pub fn new(client: Client, events: mpsc::UnboundedSender<Event>) -> Self {
        Self {
            client,
            events,
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
        }
    }

    /// Runs `request` on a tokio task; the answer arrives as an event.
    pub fn submit(&self, request: Request) {
        let worker = self.clone();
        tokio::spawn(async move {
            let result = match worker.slots.acquire().await {
                Ok(_permit) => execute(&worker.client, &request).await,
                Err(_) => Err(ApiError::new("shutting_down", "the worker stopped")),
            };
            let _ = worker
                .events
                .send(Event::Response(Box::new(Response { request, result })));
        });
    }
}

/// Makes one request through the client.
pub async fn execute(client: &Client, request: &Request) -> Result<Payload, ApiError> {
    Ok(match request {
        Request::Fleet => Payload::Fleet(fleet(client).await?),
        Request::Nodes { selector } => {
            let filter = NodeFilter {
                selector: selector.clone(),
                limit: Some(PAGE),
                ..NodeFilter::default()
            };
            Payload::Nodes(client.list_all_nodes(&filter).await?)
        }
        Request::NodeHistory(id) | Request::SyncHistory(id) => {
            Payload::History(client.sync_history(*id, None, Some(HISTORY_LIMIT)).await?)
        }
        Request::NodeCommands(id) => Payload::Commands(
            client
                .list_commands(*id, None, Some(COMMANDS_LIMIT))
                .await?,
        ),
        Request::Functions => Payload::Functions(client.list_all_functions().await?),
        Request::Function(id) => Payload::Function(Box::new(client.get_function(*id).await?)),
        Request::Deployments => Payload::Deployments(client.list_deployments().await?.items),
        Request::Deployment(id) => Payload::Deployment(Box::new(client.get_deployment(*id).await?)),
        Request::SyncStats => Payload::SyncStats(client.sync_stats(None, None).await?),
        Request::Telemetry {
            node,
            window_s,
            step_s,
        } => {
            let since = OffsetDateTime::now_utc() - std::time::Duration::from_secs(*window_s);
            let filter = TelemetryFilter {
                since: Some(since),
                step: Some(std::time::Duration::from_secs(*step_s)),
                ..TelemetryFilter::default()
            };
            Payload::Telemetry(client.node_telemetry(*node, &filter).await?)
        }
        Request::Routes => Payload::Routes(client.list_routes().await?.items),
        Request::Schemas => Payload::Schemas(client.list_migrations().await?.items),
        Request::ApiKeys => Payload::ApiKeys(client.list_api_keys().await?.items),
        Request::QueueCommand {
            node,
            kind,
            payload,
        } => {
            // An idempotency key makes the request safe to retry on a flaky link.
            let request = QueueCommandRequest {
                kind: kind.clone(),
                payload: payload.clone(),
                timeout_s: edgesync_client::wire::default_timeout_s(),
                idempotency_key: Some(format!("edgesync-tui-{}", uuid::Uuid::new_v4())),
            };
            let (command, _) = client.queue_command(*node, &request).await?;
            Payload::CommandQueued(Box::new(command))
        }
        Request::Deploy(request) => {
            Payload::Deployment(Box::new(client.create_deployment(request).await?))
        }
        Request::Rollback { function } => {
            Payload::RolledBack(Box::new(client.rollback_function(*function, None).await?))
        }
        Request::Pause(id) => Payload::Deployment(Box::new(client.pause_deployment(*id).await?)),
        Request::Resume(id) => Payload::Deployment(Box::new(client.resume_deployment(*id).await?)),
        Request::Abort(id) => Payload::Deployment(Box::new(client.abort_deployment(*id).await?)),
    })
}

/// Node counts by status and live deployments.
async fn fleet(client: &Client) -> Result<FleetSummary, ApiError> {
    let filter = NodeFilter {
        limit: Some(PAGE),
        ..NodeFilter::default()
    };
    let (nodes, deployments) =
        tokio::try_join!(client.list_all_nodes(&filter), client.list_deployments())?;
    let mut s = FleetSummary {
        nodes: nodes.len() as u64,
        ..FleetSummary::default()
    };
    for n in &nodes {
        match n.status {
            NodeStatus::Online => s.online += 1,
            NodeStatus::Offline => s.offline += 1,
            NodeStatus::Draining => s.draining += 1,
            NodeStatus::Decommissioned => s.decommissioned += 1,
        }
    }
    for d in &deployments.items {
        match d.status {
            DeploymentStatus::InProgress => s.rolling_out += 1,
            DeploymentStatus::Paused | DeploymentStatus::Halted => s.stopped += 1,
            _ => {}
        }
    }
    Ok(s)
}
