//! `/api/v1/deployments`: create, list, read, pause, resume, abort, stop.

use edgesync_wire::{CreateDeploymentRequest, DeploymentInfo, DeploymentList};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `POST /api/v1/deployments`: runs a ready function version on the nodes the selector
    /// picks. Not retried once sent.
    pub async fn create_deployment(
        &self,
        request: &CreateDeploymentRequest,
    ) -> Result<DeploymentInfo> {
        self.json(Call::post("/api/v1/deployments").json(request)?)
            .await
    }

    /// `GET /api/v1/deployments`: every deployment, newest first, with per-state counts.
    pub async fn list_deployments(&self) -> Result<DeploymentList> {
        self.json(Call::get("/api/v1/deployments")).await
    }

    /// `GET /api/v1/deployments/{id}`: the deployment and every node it concerns.
    pub async fn get_deployment(&self, id: Uuid) -> Result<DeploymentInfo> {
        self.json(Call::get(format!("/api/v1/deployments/{id}")))
            .await
    }

    /// `DELETE /api/v1/deployments/{id}`: stops (aborts) it; answers it, now `aborted`.
    pub async fn delete_deployment(&self, id: Uuid) -> Result<DeploymentInfo> {
        self.json(Call::delete(format!("/api/v1/deployments/{id}")))
            .await
    }

    /// `POST /api/v1/deployments/{id}/pause`: released nodes keep the version; no further
    /// batch is released until it is resumed. Pausing a paused rollout changes nothing, so the
    /// request is retried.
    pub async fn pause_deployment(&self, id: Uuid) -> Result<DeploymentInfo> {
        self.json(Call::post(format!("/api/v1/deployments/{id}/pause")).idempotent())
            .await
    }

    /// `POST /api/v1/deployments/{id}/resume`: a paused or halted rollout goes on (the
    /// current batch gets a fresh timeout). Resuming a running rollout changes nothing, so the
    /// request is retried.
    pub async fn resume_deployment(&self, id: Uuid) -> Result<DeploymentInfo> {
        self.json(Call::post(format!("/api/v1/deployments/{id}/resume")).idempotent())
            .await
    }

    /// `POST /api/v1/deployments/{id}/abort`: same as
    /// [`delete_deployment`](Self::delete_deployment); answers it, now `aborted`.
    pub async fn abort_deployment(&self, id: Uuid) -> Result<DeploymentInfo> {
        self.json(Call::post(format!("/api/v1/deployments/{id}/abort")).idempotent())
            .await
    }
}
