//! `/api/v1/api-keys`: create (secret shown once), list, revoke, rotate. Needs `admin`.

use std::time::Duration;

use edgesync_core::EdgeSync;
use edgesync_core::control::NewApiKey;
use edgesync_core::model::{ApiKey, ApiKeyId, Scope};
use edgesync_wire as w;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::ApiKeyAuth;
use super::error::ApiResult;
use super::json::JsonBody;

/// API key endpoints.
pub struct ApiKeysApi {
    pub(crate) edgesync: EdgeSync,
}

/// `201 Created` with the secret.
#[derive(ApiResponse)]
pub enum Created {
    /// The key and its secret (shown this once).
    #[oai(status = 201)]
    Created(Json<w::ApiKeyWithSecret>),
}

/// Default grace period of a rotation.
const DEFAULT_GRACE: Duration = Duration::from_secs(86_400);

pub(crate) fn scope_from_wire(s: w::ScopeName) -> Scope {
    match s {
        w::ScopeName::Admin => Scope::Admin,
        w::ScopeName::Deploy => Scope::Deploy,
        w::ScopeName::Read => Scope::Read,
        w::ScopeName::NodesRegister => Scope::NodesRegister,
    }
}

fn scope_to_wire(s: Scope) -> w::ScopeName {
    match s {
        Scope::Admin => w::ScopeName::Admin,
        Scope::Deploy => w::ScopeName::Deploy,
        Scope::Read => w::ScopeName::Read,
        Scope::NodesRegister => w::ScopeName::NodesRegister,
    }
}

fn info(k: &ApiKey) -> w::ApiKeyInfo {
    w::ApiKeyInfo {
        id: *k.id.as_uuid(),
        name: k.name.clone(),
        scopes: k.scopes.iter().copied().map(scope_to_wire).collect(),
        secret_prefix: k.secret_prefix.clone(),
        require_signature: k.require_signature,
        created_at: k.created_at.into(),
        expires_at: k.expires_at.map(Into::into),
        revoked_at: k.revoked_at.map(Into::into),
        last_used_at: k.last_used_at.map(Into::into),
        rotated_at: k.rotated_at.map(Into::into),
        previous_valid_until: k.previous_valid_until.map(Into::into),
    }
}

#[OpenApi(prefix_path = "/api/v1/api-keys", tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key
    ///
    /// The answer carries the secret (`esk_…`, 256 random bits) once; only its SHA-256 is kept.
    #[oai(path = "/", method = "post", operation_id = "create_api_key")]
    async fn create(
        &self,
        auth: ApiKeyAuth,
        body: JsonBody<w::CreateApiKeyRequest>,
    ) -> ApiResult<Created> {
        auth.require(&self.edgesync, Scope::Admin)?;
        let r = body.0;
        let (key, generated) = self
            .edgesync
            .create_api_key(NewApiKey {
                name: r.name,
                scopes: r.scopes.into_iter().map(scope_from_wire).collect(),
                expires_at: r.expires_at.map(Into::into),
                require_signature: r.require_signature,
            })
            .await?;
        Ok(Created::Created(Json(w::ApiKeyWithSecret {
            secret: generated.secret,
            key: info(&key),
        })))
    }

    /// List API keys (never their secrets)
    #[oai(path = "/", method = "get", operation_id = "list_api_keys")]
    async fn list(&self, auth: ApiKeyAuth) -> ApiResult<Json<w::ApiKeyList>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        Ok(Json(w::ApiKeyList {
            items: self.edgesync.api_keys().iter().map(info).collect(),
        }))
    }

    /// Get an API key
    #[oai(path = "/:id", method = "get", operation_id = "get_api_key")]
    async fn get(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::ApiKeyInfo>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        Ok(Json(info(
            &self.edgesync.api_key(ApiKeyId::from_uuid(id.0))?,
        )))
    }

    /// Revoke an API key
    ///
    /// Both its secrets stop working at once, for good. The key stays listed, marked revoked,
    /// so that its history (who had it, when it was last used) remains: revoking is a change of
    /// state like rotation, not a deletion. Revoking a revoked key changes nothing.
    #[oai(path = "/:id/revoke", method = "post", operation_id = "revoke_api_key")]
    async fn revoke(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::ApiKeyInfo>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        let key = self
            .edgesync
            .revoke_api_key(ApiKeyId::from_uuid(id.0))
            .await?;
        Ok(Json(info(&key)))
    }

    /// Rotate an API key's secret
    ///
    /// Issues a new secret; the old one keeps working for `grace_s` seconds (default one day),
    /// then stops.
    #[oai(path = "/:id/rotate", method = "post", operation_id = "rotate_api_key")]
    async fn rotate(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        body: JsonBody<w::RotateApiKeyRequest>,
    ) -> ApiResult<Json<w::ApiKeyWithSecret>> {
        auth.require(&self.edgesync, Scope::Admin)?;
        let grace = body.0.grace_s.map_or(DEFAULT_GRACE, Duration::from_secs);
        let (key, generated) = self
            .edgesync
            .rotate_api_key(ApiKeyId::from_uuid(id.0), grace)
            .await?;
        Ok(Json(w::ApiKeyWithSecret {
            secret: generated.secret,
            key: info(&key),
        }))
    }
}
