//! [`NodeClient`]: the endpoints an edge node calls with its own token — heartbeat, token
//! refresh, sync (with ETag and long poll), ack, artifact download.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use edgesync_wire::{
    HeartbeatResponse, InstallFunctionAction, NodeToken, RefreshTokenRequest, ReportedState,
    SyncAckRequest, SyncAckResponse, SyncPlan,
};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::request::{Call, decode};
use crate::secret::Secret;

mod commands;
mod telemetry;

/// Longest long poll the server accepts.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The answer to a sync poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncPoll {
    /// `304 Not Modified`: the node's target is still `revision`.
    NotModified {
        /// The current target revision (unquoted).
        revision: String,
    },
    /// A plan (possibly empty: nil `plan_id`, no actions) and the target revision from its
    /// `ETag` (unquoted): pass it back as `known_revision` once the plan is applied — or,
    /// better, the ack's `reached_revision`.
    Plan(SyncPlan, String),
}

impl SyncPoll {
    /// The target revision either way.
    pub fn revision(&self) -> &str {
        match self {
            SyncPoll::NotModified { revision } | SyncPoll::Plan(_, revision) => revision,
        }
    }
}

/// A node's view of the API: [`Client`] plus the node's id and token.
///
/// Cheap to clone; clones share the token, so a refresh through one is seen by all. Made by
/// [`Client::node`] or [`Client::node_with_token`].
#[derive(Clone)]
pub struct NodeClient {
    client: Client,
    node_id: Uuid,
    token: Arc<RwLock<Option<Secret>>>,
}

impl Client {
    /// The node client of `node_id`, with the token from
    /// [`ClientBuilder::node_token`](crate::ClientBuilder::node_token) (if any).
    pub fn node(&self, node_id: Uuid) -> NodeClient {
        NodeClient {
            client: self.clone(),
            node_id,
            token: Arc::new(RwLock::new(self.inner.node_token.clone())),
        }
    }

    /// The node client of `node_id` with its own token (a fleet simulator makes one per node,
    /// all sharing this client's connections).
    pub fn node_with_token(&self, node_id: Uuid, token: impl Into<String>) -> NodeClient {
        NodeClient {
            client: self.clone(),
            node_id,
            token: Arc::new(RwLock::new(Some(Secret::new(token)))),
        }
    }
}

impl NodeClient {
    /// The node's id.
    pub fn id(&self) -> Uuid {
        self.node_id
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Replaces the token (for this client and its clones).
    pub fn set_token(&self, token: impl Into<String>) {
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(Secret::new(token));
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.current_token().is_some()
    }

    fn current_token(&self) -> Option<Secret> {
        self.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/nodes/{}{rest}", self.node_id)
    }

    fn call(&self, call: Call) -> Call {
        call.node_auth(self.current_token())
    }

    /// `POST /api/v1/nodes/{id}/heartbeat`: reports the node's state and keeps it online.
    /// Retried like any idempotent request.
    pub async fn heartbeat(&self, state: &ReportedState) -> Result<HeartbeatResponse> {
        let call = self.call(
            Call::post(self.path("/heartbeat"))
                .idempotent()
                .json(state)?,
        );
        self.client.json(call).await
    }

    /// `POST /api/v1/nodes/{id}/token`: a fresh token while the current one is valid. The new
    /// token replaces the current one in this client.
    pub async fn refresh_token(&self) -> Result<NodeToken> {
        let call = self.call(Call::post(self.path("/token")).idempotent());
        let token: NodeToken = self.client.json(call).await?;
        self.set_token(token.token.clone());
        Ok(token)
    }

    /// `POST /api/v1/nodes/{id}/token/refresh`: exchanges the refresh secret (`esr_…`) for a
    /// token after the current one expired. The new token replaces the current one.
    pub async fn refresh_token_with_secret(&self, refresh_secret: &str) -> Result<NodeToken> {
        let call = Call::post(self.path("/token/refresh"))
            .idempotent()
            .no_auth()
            .json(&RefreshTokenRequest {
                refresh_token: refresh_secret.to_owned(),
            })?;
        let token: NodeToken = self.client.json(call).await?;
        self.set_token(token.token.clone());
        Ok(token)
    }

    /// `GET /api/v1/nodes/{id}/sync`: the plan to the node's target.
    ///
    /// With `known_revision` (the revision the node has fully applied) the answer is
    /// [`SyncPoll::NotModified`] while the target stays there; with `wait` as well the server
    /// holds the request until the target changes or the wait (capped at 60 s, whole seconds)
    /// is over. The request's time limit is the client's timeout plus the wait.
    pub async fn sync(
        &self,
        known_revision: Option<&str>,
        wait: Option<Duration>,
    ) -> Result<SyncPoll> {
        let wait = wait.map(|w| w.min(MAX_WAIT));
        let mut call = Call::get(self.path("/sync"))
            .query_opt("wait", wait.map(|w| w.as_secs()))
            .extra_time(wait.unwrap_or_default());
        if let Some(known) = known_revision {
            call = call.header(IF_NONE_MATCH, &format!("\"{known}\""))?;
        }
        let resp = self.client.send(self.call(call)).await?;
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(unquote);
        if resp.status() == StatusCode::NOT_MODIFIED {
            let revision = etag
                .or_else(|| known_revision.map(str::to_owned))
                .unwrap_or_default();
            return Ok(SyncPoll::NotModified { revision });
        }
        let (_, plan): (_, SyncPlan) = decode(resp).await?;
        let revision = etag.unwrap_or_else(|| plan.revision.clone());
        Ok(SyncPoll::Plan(plan, revision))
    }

    /// `POST /api/v1/nodes/{id}/sync/ack`: the results of a plan. Idempotent per plan id, so
    /// retried like a `GET`; repeating it answers `applied: false`.
    pub async fn ack(&self, ack: &SyncAckRequest) -> Result<SyncAckResponse> {
        let call = self.call(Call::post(self.path("/sync/ack")).idempotent().json(ack)?);
        self.client.json(call).await
    }

    /// Downloads an artifact by its signed URL, checking its SHA-256 while it streams (see
    /// [`Client::download_artifact`]).
    pub async fn download_artifact(&self, url: &str, expected_sha256: &str) -> Result<Bytes> {
        self.client.download_artifact(url, expected_sha256).await
    }

    /// Downloads the artifact of a plan's install action, checking its SHA-256 and capping it
    /// at the action's size (see [`Client::download_artifact_with_size`]).
    pub async fn download_install(&self, install: &InstallFunctionAction) -> Result<Bytes> {
        self.client
            .download_artifact_with_size(&install.artifact_url, &install.sha256, install.size)
            .await
    }
}

/// An entity tag's value: quotes and a weak prefix removed.
fn unquote(tag: &str) -> String {
    tag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}

impl fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeClient")
            .field("node_id", &self.node_id)
            .field("token", &self.current_token())
            .field("client", &self.client)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_unquoted() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("W/\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
    }
}
