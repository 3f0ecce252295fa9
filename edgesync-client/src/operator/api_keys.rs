//! `/api/v1/api-keys` (admin): create, list, read, revoke, rotate.

use std::time::Duration;

use edgesync_wire::{
    ApiKeyInfo, ApiKeyList, ApiKeyWithSecret, CreateApiKeyRequest, RotateApiKeyRequest,
};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::request::Call;

impl Client {
    /// `POST /api/v1/api-keys`: the answer has the secret, once. Not retried once sent.
    pub async fn create_api_key(&self, request: &CreateApiKeyRequest) -> Result<ApiKeyWithSecret> {
        self.json(Call::post("/api/v1/api-keys").json(request)?)
            .await
    }

    /// `GET /api/v1/api-keys`: every key, newest first (never their secrets).
    pub async fn list_api_keys(&self) -> Result<ApiKeyList> {
        self.json(Call::get("/api/v1/api-keys")).await
    }

    /// `GET /api/v1/api-keys/{id}`.
    pub async fn get_api_key(&self, id: Uuid) -> Result<ApiKeyInfo> {
        self.json(Call::get(format!("/api/v1/api-keys/{id}"))).await
    }

    /// `POST /api/v1/api-keys/{id}/revoke`: both secrets stop working; answers the revoked key
    /// (it stays listed, marked revoked). Revoking twice changes nothing, so it is retried.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<ApiKeyInfo> {
        self.json(Call::post(format!("/api/v1/api-keys/{id}/revoke")).idempotent())
            .await
    }

    /// `POST /api/v1/api-keys/{id}/rotate`: a new secret; the old one keeps working for
    /// `grace` (whole seconds; server default one day). Not retried once sent: a repeat would
    /// issue yet another secret and end the first one's grace.
    pub async fn rotate_api_key(
        &self,
        id: Uuid,
        grace: Option<Duration>,
    ) -> Result<ApiKeyWithSecret> {
        let body = RotateApiKeyRequest {
            grace_s: grace.map(|g| g.as_secs()),
        };
        self.json(Call::post(format!("/api/v1/api-keys/{id}/rotate")).json(&body)?)
            .await
    }
}
