//! `/api/v1/nodes`: registration, heartbeats, tokens, reads and operator changes.

use edgesync_core::control::NodeFilter;
use edgesync_core::model::{NodeId, NodeRegistration, NodeUpdate, Scope};
use edgesync_core::selector::Selector;
use edgesync_core::{EdgeSync, Error, ErrorCode};
use edgesync_wire as w;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::{ApiKeyAuth, NodeAuth};
use super::convert;
use super::error::ApiResult;
use super::json::{JsonBody, TypedJsonBody};

/// Node endpoints.
pub struct NodesApi {
    pub(crate) edgesync: EdgeSync,
}

/// `201 Created` with the new node and its token.
#[derive(ApiResponse)]
pub enum Registered {
    /// The node is registered; keep the token secret.
    #[oai(status = 201)]
    Created(Json<w::RegisterNodeResponse>),
}

#[OpenApi(prefix_path = "/api/v1/nodes", tag = "ApiTags::Nodes")]
impl NodesApi {
    /// Register a node
    ///
    /// Creates a node and returns its id and first token. Needs an API key with the
    /// `nodes:register` scope (an enrollment key). Names are unique.
    #[oai(path = "/register", method = "post", operation_id = "register_node")]
    async fn register(
        &self,
        auth: ApiKeyAuth,
        body: JsonBody<w::RegisterNodeRequest>,
    ) -> ApiResult<Registered> {
        auth.require(&self.edgesync, Scope::NodesRegister)?;
        let r = body.0;
        let registered = self
            .edgesync
            .register_node(NodeRegistration {
                name: r.name,
                pop: r.pop,
                region: r.region,
                labels: r.labels,
                agent_version: r.agent_version,
                capabilities: r.capabilities,
                memory_budget_bytes: r.memory_budget_bytes,
            })
            .await?;
        let view = self.edgesync.get_node(registered.node.id)?;
        Ok(Registered::Created(Json(w::RegisterNodeResponse {
            node_id: *registered.node.id.as_uuid(),
            token: registered.token,
            token_expires_at: registered.token_expires_at.into(),
            refresh_token: registered.refresh_token,
            node: convert::node_info(&view),
        })))
    }

    /// Heartbeat
    ///
    /// Reports the node's state and keeps it online. Needs the node's own token. Answered from
    /// memory; the state is written to the store within a second.
    #[oai(
        path = "/:id/heartbeat",
        method = "post",
        operation_id = "node_heartbeat"
    )]
    async fn heartbeat(
        &self,
        auth: NodeAuth,
        id: Path<Uuid>,
        body: TypedJsonBody<w::ReportedState>,
    ) -> ApiResult<Json<w::HeartbeatResponse>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let status = self
            .edgesync
            .heartbeat(node, convert::reported_from_wire(body.0))?;
        Ok(Json(w::HeartbeatResponse {
            status: convert::node_status(status),
            server_time: self.edgesync.clock().now().into(),
            offline_after_s: self.edgesync.config().offline_timeout.as_secs(),
        }))
    }

    /// Refresh the node's token
    ///
    /// Returns a fresh token for a node that holds a valid one.
    #[oai(
        path = "/:id/token",
        method = "post",
        operation_id = "refresh_node_token"
    )]
    async fn refresh_token(&self, auth: NodeAuth, id: Path<Uuid>) -> ApiResult<Json<w::NodeToken>> {
        let node = NodeId::from_uuid(id.0);
        auth.require(&self.edgesync, node)?;
        let (token, expires_at) = self.edgesync.refresh_node_token(node)?;
        Ok(Json(w::NodeToken {
            token,
            expires_at: expires_at.into(),
        }))
    }

    /// Exchange a refresh secret for a token
    ///
    /// For a node whose token has expired: the refresh secret from registration (or from
    /// `POST /api/v1/nodes/{id}/credentials`) is the credential; no `Authorization` header.
    #[oai(
        path = "/:id/token/refresh",
        method = "post",
        operation_id = "refresh_node_token_with_secret"
    )]
    async fn refresh_with_secret(
        &self,
        id: Path<Uuid>,
        body: JsonBody<w::RefreshTokenRequest>,
    ) -> ApiResult<Json<w::NodeToken>> {
        let (token, expires_at) = self
            .edgesync
            .refresh_node_token_with_secret(NodeId::from_uuid(id.0), &body.0.refresh_token)
            .await?;
        Ok(Json(w::NodeToken {
            token,
            expires_at: expires_at.into(),
        }))
    }

    /// Revoke and reissue a node's credentials
    ///
    /// Every token and the refresh secret of the node stop working at once; the answer carries a
    /// new refresh secret to re-enroll the node with. Needs `admin`.
    #[oai(
        path = "/:id/credentials",
        method = "post",
        operation_id = "reissue_node_credentials"
    )]
    async fn reissue(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<w::NodeCredentials>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        let refresh_token = self
            .edgesync
            .reissue_node_credentials(NodeId::from_uuid(id.0))
            .await?;
        Ok(Json(w::NodeCredentials { refresh_token }))
    }

    /// Get a node
    #[oai(path = "/:id", method = "get", operation_id = "get_node")]
    async fn get(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::NodeInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let view = self.edgesync.get_node(NodeId::from_uuid(id.0))?;
        Ok(Json(convert::node_info(&view)))
    }

    /// List nodes
    ///
    /// Nodes in name order, filtered by status, POP and a Kubernetes-style label selector
    /// (`selector=tier=edge,region in (eu,us)`), a page at a time.
    #[oai(path = "/", method = "get", operation_id = "list_nodes")]
    async fn list(
        &self,
        auth: ApiKeyAuth,
        /// Only nodes with this status.
        status: Query<Option<w::NodeStatus>>,
        /// Only nodes in this POP.
        pop: Query<Option<String>>,
        /// Label selector, Kubernetes syntax.
        selector: Query<Option<String>>,
        /// Resume after this node name (`next` of the previous page).
        after: Query<Option<String>>,
        /// Page size, 1–1000 (default 100).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<w::NodeList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let selector = selector
            .0
            .map(|s| {
                Selector::parse(&s)
                    .map_err(|e| Error::new(ErrorCode::InvalidSelector, format!("selector: {e}")))
            })
            .transpose()?;
        let (items, next) = self.edgesync.list_nodes(&NodeFilter {
            status: status.0.map(convert::node_status_from_wire),
            pop: pop.0,
            selector,
            after: after.0,
            limit: limit.0.map(|l| l as usize),
        })?;
        Ok(Json(w::NodeList {
            items: items.iter().map(convert::node_info).collect(),
            next,
        }))
    }

    /// Change a node
    ///
    /// Replaces labels and/or sets the lifecycle (`draining` cordons, `decommissioned` retires
    /// the node for good and revokes its tokens). With `If-Match: <revision>` the change only
    /// applies to that revision (412 `precondition_failed` otherwise).
    #[oai(path = "/:id", method = "patch", operation_id = "update_node")]
    async fn update(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        /// Apply only if the node is at this revision.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: JsonBody<w::UpdateNodeRequest>,
    ) -> ApiResult<Json<w::NodeInfo>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        let expected = if_match
            .0
            .map(|v| {
                v.trim_matches('"')
                    .parse::<u64>()
                    .map_err(|_| Error::invalid("If-Match must be a node revision (a number)"))
            })
            .transpose()?;
        let view = self
            .edgesync
            .update_node(
                NodeId::from_uuid(id.0),
                NodeUpdate {
                    labels: body.0.labels,
                    lifecycle: body.0.lifecycle.map(convert::lifecycle_from_wire),
                },
                expected,
            )
            .await?;
        Ok(Json(convert::node_info(&view)))
    }
}
