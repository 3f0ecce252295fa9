//! `/api/v1/deployments`: run a function version on the nodes a label selector picks, and see
//! where each node is with it.

use edgesync_core::control::NewDeployment;
use edgesync_core::model::{DeploymentId, FunctionId, Scope};
use edgesync_core::selector::Selector;
use edgesync_core::{EdgeSync, Error, ErrorCode};
use edgesync_wire as w;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::ApiKeyAuth;
use super::convert;
use super::error::ApiResult;
use super::json::JsonBody;

/// Deployment endpoints.
pub struct DeploymentsApi {
    pub(crate) edgesync: EdgeSync,
}

/// `201 Created` with the new deployment, or (`dry_run=true`) `200` with what it would do.
#[derive(ApiResponse)]
pub enum DeploymentCreated {
    /// Created; the selected nodes receive the function on their next sync (batch by batch).
    #[oai(status = 201)]
    Created(Json<Box<w::DeploymentInfo>>),
    /// Preview: which nodes match, who wins each (and why), the batches, each node's plan.
    /// Nothing changed.
    #[oai(status = 200)]
    Preview(Json<w::DeploymentPreview>),
}

#[OpenApi(prefix_path = "/api/v1/deployments", tag = "ApiTags::Deployments")]
impl DeploymentsApi {
    /// Create a deployment
    ///
    /// Runs a ready function version on every node the label selector (Kubernetes syntax;
    /// empty: every node) and the optional POP pick. Where live deployments of the same
    /// function overlap on a node, the highest `priority` wins, then the newest. Needs `deploy`.
    #[oai(path = "/", method = "post", operation_id = "create_deployment")]
    async fn create(
        &self,
        auth: ApiKeyAuth,
        /// `true`: answer what the deployment would do, change nothing.
        dry_run: Query<Option<bool>>,
        body: JsonBody<w::CreateDeploymentRequest>,
    ) -> ApiResult<DeploymentCreated> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let r = body.0;
        let selector = Selector::parse(&r.selector)
            .map_err(|e| Error::new(ErrorCode::InvalidSelector, format!("selector: {e}")))?;
        let new = NewDeployment {
            name: r.name,
            function_id: FunctionId::from_uuid(r.function_id),
            version: r.version,
            selector,
            pop: r.pop,
            priority: r.priority,
            allow_breaking: r.allow_breaking,
            strategy: convert::strategy_from_wire(r.strategy),
        };
        if dry_run.0.unwrap_or(false) {
            let preview = self.edgesync.preview_new_deployment(new).await?;
            return Ok(DeploymentCreated::Preview(Json(convert::preview(&preview))));
        }
        let detail = self.edgesync.create_deployment(new).await?;
        Ok(DeploymentCreated::Created(Json(Box::new(
            convert::deployment_info(&detail),
        ))))
    }

    /// List deployments
    ///
    /// Every deployment, newest first, with how many nodes are in each state.
    #[oai(path = "/", method = "get", operation_id = "list_deployments")]
    async fn list(&self, auth: ApiKeyAuth) -> ApiResult<Json<w::DeploymentList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        Ok(Json(w::DeploymentList {
            items: self
                .edgesync
                .deployments()
                .iter()
                .map(convert::deployment_summary)
                .collect(),
        }))
    }

    /// Get a deployment
    ///
    /// The deployment with every node it targets (and targeted before) and its state there.
    #[oai(path = "/:id", method = "get", operation_id = "get_deployment")]
    async fn get(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::DeploymentInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let detail = self.edgesync.deployment(DeploymentId::from_uuid(id.0))?;
        Ok(Json(convert::deployment_info(&detail)))
    }

    /// Pause a rollout
    ///
    /// Released nodes keep the version; no further batch is released until it is resumed.
    /// Needs `deploy`.
    #[oai(
        path = "/:id/pause",
        method = "post",
        operation_id = "pause_deployment"
    )]
    async fn pause(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::DeploymentInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let detail = self
            .edgesync
            .pause_deployment(DeploymentId::from_uuid(id.0))
            .await?;
        Ok(Json(convert::deployment_info(&detail)))
    }

    /// Resume a paused or halted rollout
    ///
    /// The current batch gets a fresh timeout and the breaker looks again. Needs `deploy`.
    #[oai(
        path = "/:id/resume",
        method = "post",
        operation_id = "resume_deployment"
    )]
    async fn resume(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::DeploymentInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let detail = self
            .edgesync
            .resume_deployment(DeploymentId::from_uuid(id.0))
            .await?;
        Ok(Json(convert::deployment_info(&detail)))
    }

    /// Abort a deployment
    ///
    /// Same as `DELETE`: it stops targeting anyone; nodes go back to what they ran before.
    /// Needs `deploy`.
    #[oai(
        path = "/:id/abort",
        method = "post",
        operation_id = "abort_deployment"
    )]
    async fn abort(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::DeploymentInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let detail = self
            .edgesync
            .abort_deployment(DeploymentId::from_uuid(id.0))
            .await?;
        Ok(Json(convert::deployment_info(&detail)))
    }

    /// Stop a deployment
    ///
    /// Aborts it: nodes drop the function unless another live deployment keeps it. Answers the
    /// deployment, now `aborted`; stopping a stopped deployment changes nothing. Needs `deploy`.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_deployment")]
    async fn delete(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::DeploymentInfo>> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let detail = self
            .edgesync
            .delete_deployment(DeploymentId::from_uuid(id.0))
            .await?;
        Ok(Json(convert::deployment_info(&detail)))
    }
}
