//! Registering, heartbeating, reading and changing nodes.

use super::EdgeSync;
use super::fleet::{NodeEntry, derive_status};
use crate::error::{Error, ErrorCode, Result};
use crate::model::*;
use crate::selector::Selector;
use crate::store::{Record, StoreExt, Versioned, Write};

/// A node as operators see it: identity, lifecycle, presence and what it reports.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    /// The node's record.
    pub node: Node,
    /// Status at the time of the read.
    pub status: NodeStatus,
    /// Last heartbeat (or other sign of life).
    pub last_seen_at: Option<Timestamp>,
    /// What it reports running.
    pub reported: ReportedState,
    /// The record's store revision.
    pub revision: u64,
}

/// A registration's result: the node, its first token and its refresh secret.
#[derive(Clone)]
pub struct RegisteredNode {
    /// The node.
    pub node: Node,
    /// Its JWT.
    pub token: String,
    /// When the token expires.
    pub token_expires_at: Timestamp,
    /// Exchanged for fresh tokens when the current one expired (shown once).
    pub refresh_token: String,
}

impl std::fmt::Debug for RegisteredNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredNode")
            .field("node", &self.node)
            .field("token_expires_at", &self.token_expires_at)
            .finish_non_exhaustive()
    }
}

/// Filters for listing nodes; all present filters must match.
#[derive(Clone, Debug, Default)]
pub struct NodeFilter {
    /// Only nodes with this status.
    pub status: Option<NodeStatus>,
    /// Only nodes in this POP.
    pub pop: Option<String>,
    /// Only nodes whose labels match.
    pub selector: Option<Selector>,
    /// Resume after this node name (nodes list in name order).
    pub after: Option<String>,
    /// Page size (1 to 1000; default 100).
    pub limit: Option<usize>,
}

/// Maximum page size for node listings.
pub(crate) const MAX_NODE_PAGE: usize = 1000;

impl EdgeSync {
    fn view(&self, entry: &NodeEntry) -> NodeView {
        NodeView {
            status: derive_status(entry, self.now(), self.inner.config.offline_timeout),
            node: entry.node.value.clone(),
            last_seen_at: entry.state.last_seen_at,
            reported: entry.state.reported.clone(),
            revision: entry.node.revision,
        }
    }

    /// Registers a node and issues its first token. Names are unique; nothing is stored when
    /// validation fails.
    pub async fn register_node(&self, registration: NodeRegistration) -> Result<RegisteredNode> {
        registration.validate()?;
        let now = self.now();
        let (refresh_token, refresh_hash) = self.new_refresh_secret().await?;
        let node = Node {
            id: NodeId::random(),
            name: registration.name,
            pop: registration.pop,
            region: registration.region,
            labels: registration.labels,
            agent_version: registration.agent_version,
            capabilities: registration.capabilities,
            memory_budget_bytes: registration.memory_budget_bytes,
            lifecycle: NodeLifecycle::Active,
            credential_generation: 1,
            refresh_secret_bcrypt: Some(refresh_hash),
            registered_at: now,
            updated_at: now,
        };
        let mut state = NodeState::new(node.id);
        state.last_seen_at = Some(now);
        state.status = NodeStatus::Online;
        self.commit_control(&[
            Write::create(Record::Node(node.clone())),
            Write::create(Record::NodeState(state.clone())),
        ])
        .await
        .map_err(|e| {
            if e.code() == ErrorCode::UniqueViolation {
                Error::new(
                    ErrorCode::NodeNameTaken,
                    format!("a node named {:?} is already registered", node.name),
                )
            } else {
                e
            }
        })?;
        self.inner.fleet.insert(
            Versioned {
                revision: 1,
                value: node.clone(),
            },
            state,
        );
        self.retarget(super::Affected::Nodes(&[node.id]));
        let (token, token_expires_at) =
            self.inner
                .tokens
                .issue(node.id, node.credential_generation, now)?;
        tracing::info!(node_id = %node.id, name = %node.name, pop = %node.pop, "node registered");
        Ok(RegisteredNode {
            node,
            token,
            token_expires_at,
            refresh_token,
        })
    }

    /// Records a heartbeat in memory (written behind within the flush interval) and returns the
    /// node's status. The caller has authenticated the node.
    pub fn heartbeat(&self, node_id: NodeId, reported: ReportedState) -> Result<NodeStatus> {
        reported.validate()?;
        self.inner
            .fleet
            .touch(node_id, self.now(), Some(reported))
            .ok_or_else(|| node_not_found(node_id))
    }

    /// Issues a fresh token to an authenticated node (same credential generation).
    pub fn refresh_node_token(&self, node_id: NodeId) -> Result<(String, Timestamp)> {
        let generation = self
            .inner
            .fleet
            .inspect(node_id, |e| e.node.value.credential_generation)
            .ok_or_else(|| node_not_found(node_id))?;
        self.inner.tokens.issue(node_id, generation, self.now())
    }

    async fn new_refresh_secret(&self) -> Result<(String, String)> {
        let cost = self.inner.config.bcrypt_cost;
        tokio::task::spawn_blocking(move || crate::auth::refresh_secrets::generate(cost))
            .await
            .map_err(|e| Error::internal("hashing task failed").with_source(e))?
    }

    /// Exchanges a node's refresh secret for a fresh token (for nodes whose token expired).
    pub async fn refresh_node_token_with_secret(
        &self,
        node_id: NodeId,
        secret: &str,
    ) -> Result<(String, Timestamp)> {
        let invalid = || {
            Error::new(
                ErrorCode::InvalidCredentials,
                "the refresh token is unknown or revoked",
            )
        };
        let entry = self.inner.fleet.get(node_id).ok_or_else(invalid)?;
        let node = entry.node.value;
        if node.lifecycle == NodeLifecycle::Decommissioned {
            return Err(invalid());
        }
        let Some(hash) = node.refresh_secret_bcrypt.clone() else {
            return Err(invalid());
        };
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            crate::auth::refresh_secrets::verify(&secret, &hash)
        })
        .await
        .map_err(|e| Error::internal("hashing task failed").with_source(e))?;
        if !ok {
            return Err(invalid());
        }
        self.inner
            .tokens
            .issue(node_id, node.credential_generation, self.now())
    }

    /// Revokes every credential of a node (tokens and refresh secret) and issues a new refresh
    /// secret for re-enrolling it. Returns the new refresh secret (shown once).
    pub async fn reissue_node_credentials(&self, node_id: NodeId) -> Result<String> {
        let (secret, hash) = self.new_refresh_secret().await?;
        for _ in 0..5 {
            let current = self
                .inner
                .store
                .get_node(node_id)
                .await?
                .ok_or_else(|| node_not_found(node_id))?;
            let mut node = current.value;
            if node.lifecycle == NodeLifecycle::Decommissioned {
                return Err(Error::new(
                    ErrorCode::NodeDecommissioned,
                    "a decommissioned node gets no credentials",
                ));
            }
            node.credential_generation += 1;
            node.refresh_secret_bcrypt = Some(hash.clone());
            node.updated_at = self.now();
            match self
                .commit_control(&[Write::update(Record::Node(node.clone()), current.revision)])
                .await
            {
                Ok(_) => {
                    self.inner.fleet.update_node(Versioned {
                        revision: current.revision + 1,
                        value: node,
                    });
                    tracing::info!(%node_id, "node credentials revoked and reissued");
                    return Ok(secret);
                }
                Err(e) if e.code() == ErrorCode::RevisionConflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the node kept changing; try again",
        ))
    }

    /// Reads a node.
    pub fn get_node(&self, node_id: NodeId) -> Result<NodeView> {
        self.inner
            .fleet
            .get(node_id)
            .map(|e| self.view(&e))
            .ok_or_else(|| node_not_found(node_id))
    }

    /// Lists nodes in name order, filtered, one page at a time. Returns the page and the name to
    /// pass as `after` for the next page, if there may be one.
    pub fn list_nodes(&self, filter: &NodeFilter) -> Result<(Vec<NodeView>, Option<String>)> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=MAX_NODE_PAGE).contains(&limit) {
            return Err(Error::invalid(format!(
                "limit must be between 1 and {MAX_NODE_PAGE}"
            )));
        }
        let now = self.now();
        let offline_after = self.inner.config.offline_timeout;
        // Matched in place and only the page copied out: an operator paging through 100,000
        // nodes must not copy the whole fleet once per page.
        let mut views: Vec<NodeView> = self.inner.fleet.scan(|entries| {
            let mut hits: Vec<&NodeEntry> = entries
                .filter(|e| filter.after.as_ref().is_none_or(|a| &e.node.value.name > a))
                .filter(|e| filter.pop.as_ref().is_none_or(|p| &e.node.value.pop == p))
                .filter(|e| {
                    filter
                        .selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&e.node.value.labels))
                })
                .filter(|e| {
                    filter
                        .status
                        .is_none_or(|s| derive_status(e, now, offline_after) == s)
                })
                .collect();
            let by_name =
                |a: &&NodeEntry, b: &&NodeEntry| a.node.value.name.cmp(&b.node.value.name);
            // One more than the page tells whether there is a next one.
            if hits.len() > limit + 1 {
                hits.select_nth_unstable_by(limit, by_name);
                hits.truncate(limit + 1);
            }
            hits.sort_unstable_by(by_name);
            hits.into_iter().map(|e| self.view(e)).collect()
        });
        let next = if views.len() > limit {
            views.truncate(limit);
            views.last().map(|v| v.node.name.clone())
        } else {
            None
        };
        Ok((views, next))
    }

    /// Changes a node's labels or lifecycle. Decommissioning revokes every token of the node.
    /// `expected_revision`, when given, makes the change conditional on what the caller read.
    pub async fn update_node(
        &self,
        node_id: NodeId,
        update: NodeUpdate,
        expected_revision: Option<u64>,
    ) -> Result<NodeView> {
        update.validate()?;
        for _ in 0..5 {
            let current = self
                .inner
                .store
                .get_node(node_id)
                .await?
                .ok_or_else(|| node_not_found(node_id))?;
            if let Some(expected) = expected_revision
                && expected != current.revision
            {
                return Err(Error::new(
                    ErrorCode::PreconditionFailed,
                    format!(
                        "the node is at revision {}, the update expected {expected}",
                        current.revision
                    ),
                ));
            }
            let mut node = current.value.clone();
            if node.lifecycle == NodeLifecycle::Decommissioned
                && update
                    .lifecycle
                    .is_some_and(|l| l != NodeLifecycle::Decommissioned)
            {
                return Err(Error::new(
                    ErrorCode::NodeDecommissioned,
                    "a decommissioned node cannot come back; register it again",
                ));
            }
            if let Some(labels) = &update.labels {
                node.labels = labels.clone();
            }
            if let Some(lifecycle) = update.lifecycle {
                if lifecycle == NodeLifecycle::Decommissioned && node.lifecycle != lifecycle {
                    node.credential_generation += 1;
                }
                node.lifecycle = lifecycle;
            }
            if node == current.value {
                return self.get_node(node_id);
            }
            node.updated_at = self.now();
            match self
                .commit_control(&[Write::update(Record::Node(node.clone()), current.revision)])
                .await
            {
                Ok(revs) => {
                    let revision = revs.first().copied().unwrap_or(current.revision + 1);
                    self.inner.fleet.update_node(Versioned {
                        revision,
                        value: node,
                    });
                    self.retarget(super::Affected::Nodes(&[node_id]));
                    tracing::info!(%node_id, ?update, "node updated");
                    return self.get_node(node_id);
                }
                Err(e) if e.code() == ErrorCode::RevisionConflict => {
                    if expected_revision.is_some() {
                        return Err(Error::new(
                            ErrorCode::PreconditionFailed,
                            "the node changed after the revision named in If-Match",
                        ));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the node kept changing; try again",
        ))
    }

    /// How many nodes are in each status right now (statuses with none are left out).
    pub fn node_counts_by_status(&self) -> Vec<(NodeStatus, u64)> {
        let now = self.now();
        let offline_after = self.inner.config.offline_timeout;
        let mut counts = std::collections::BTreeMap::new();
        self.inner.fleet.scan(|entries| {
            for e in entries {
                *counts
                    .entry(derive_status(e, now, offline_after))
                    .or_insert(0u64) += 1;
            }
        });
        counts.into_iter().collect()
    }

    /// How many nodes are registered.
    pub fn node_count(&self) -> usize {
        self.inner.fleet.len()
    }
}

pub(super) fn node_not_found(id: NodeId) -> Error {
    Error::new(ErrorCode::NodeNotFound, format!("no node with id {id}"))
}
