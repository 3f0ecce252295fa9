//! `/api/v1/nodes`: registration, reads, listing, operator changes, credential reissue.

use edgesync_wire::{
    NodeCredentials, NodeInfo, NodeList, NodeStatus, RegisterNodeRequest, RegisterNodeResponse,
    UpdateNodeRequest,
};
use uuid::Uuid;

use super::wire_name;
use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

/// Filters and paging of [`Client::list_nodes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFilter {
    /// Only nodes with this status.
    pub status: Option<NodeStatus>,
    /// Only nodes in this POP.
    pub pop: Option<String>,
    /// Kubernetes-style label selector (`tier=edge,region in (eu,us)`).
    pub selector: Option<String>,
    /// Resume after this node name (`next` of the previous page).
    pub after: Option<String>,
    /// Page size, 1–1000 (server default 100).
    pub limit: Option<u32>,
}

impl Client {
    /// `POST /api/v1/nodes/register`: registers a node (needs `nodes:register`). Not retried
    /// once sent: a repeat would be `node_name_taken`.
    pub async fn register_node(
        &self,
        request: &RegisterNodeRequest,
    ) -> Result<RegisterNodeResponse> {
        self.json(Call::post("/api/v1/nodes/register").json(request)?)
            .await
    }

    /// `GET /api/v1/nodes/{id}`.
    pub async fn get_node(&self, id: Uuid) -> Result<NodeInfo> {
        self.json(Call::get(format!("/api/v1/nodes/{id}"))).await
    }

    /// `GET /api/v1/nodes`: one page of nodes in name order.
    pub async fn list_nodes(&self, filter: &NodeFilter) -> Result<NodeList> {
        let status = filter.status.as_ref().map(wire_name).transpose()?;
        let call = Call::get("/api/v1/nodes")
            .query_opt("status", status)
            .query_opt("pop", filter.pop.as_ref())
            .query_opt("selector", filter.selector.as_ref())
            .query_opt("after", filter.after.as_ref())
            .query_opt("limit", filter.limit);
        self.json(call).await
    }

    /// Every node matching the filter, following `next` from page to page (`filter.after`
    /// is the starting point).
    pub async fn list_all_nodes(&self, filter: &NodeFilter) -> Result<Vec<NodeInfo>> {
        let mut filter = filter.clone();
        let mut all = Vec::new();
        loop {
            let page = self.list_nodes(&filter).await?;
            all.extend(page.items);
            match page.next {
                Some(next) if filter.after.as_ref() != Some(&next) => filter.after = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// `PATCH /api/v1/nodes/{id}`: replaces labels and/or sets the lifecycle. With
    /// `if_match` (the node's `revision`) the change applies only to that revision, else 409
    /// `revision_conflict` (not retried). The body states absolute values, so the request is
    /// retried like a `PUT`.
    pub async fn update_node(
        &self,
        id: Uuid,
        request: &UpdateNodeRequest,
        if_match: Option<u64>,
    ) -> Result<NodeInfo> {
        let call = Call::patch(format!("/api/v1/nodes/{id}"))
            .idempotent()
            .if_match(if_match)?
            .json(request)?;
        self.json(call).await
    }

    /// `POST /api/v1/nodes/{id}/credentials` (admin): revokes every token and the refresh
    /// secret of the node; the answer has the new refresh secret.
    pub async fn reissue_node_credentials(&self, id: Uuid) -> Result<NodeCredentials> {
        self.json(Call::post(format!("/api/v1/nodes/{id}/credentials")))
            .await
    }
}
