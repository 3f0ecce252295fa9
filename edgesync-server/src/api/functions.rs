//! `/api/v1/functions`: upload (in one request, or registered first and uploaded through a
//! signed URL), read, list, download, delete and roll back WASM functions and their versions.

use edgesync_core::EdgeSync;
use edgesync_core::model::{FunctionId, Scope};
use edgesync_core::{Principal, control::RollbackOutcome};
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
use super::upload::WasmUpload;

/// Function endpoints.
pub struct FunctionsApi {
    pub(crate) edgesync: EdgeSync,
}

/// `201 Created` with the new version.
#[derive(ApiResponse)]
pub enum Uploaded {
    /// Stored and validated.
    #[oai(status = 201)]
    Created(Json<w::FunctionVersionInfo>),
}

/// `201 Created` with the pending version and its upload URL.
#[derive(ApiResponse)]
pub enum Registered {
    /// Registered; `PUT` the binary to `upload_url` before `expires_at`.
    #[oai(status = 201)]
    Created(Json<w::RegisteredFunction>),
}

/// `204 No Content`.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

/// A download: a redirect to the signed URL, or its description.
#[derive(ApiResponse)]
pub enum Download {
    /// The signed URL, its expiry and the digest the bytes must have (`redirect=false`).
    #[oai(status = 200)]
    Info(Json<w::DownloadInfo>),
    /// Follow `Location` to the signed URL (default).
    #[oai(status = 302)]
    Redirect(
        /// The signed, expiring URL of the binary.
        #[oai(header = "Location")]
        String,
        /// The SHA-256 the bytes must have.
        #[oai(header = "X-Content-SHA256")]
        String,
    ),
}

#[OpenApi(prefix_path = "/api/v1/functions", tag = "ApiTags::Functions")]
impl FunctionsApi {
    /// Upload a function version
    ///
    /// `multipart/form-data` with a `metadata` part (JSON) first and a `wasm` part second. The
    /// module is streamed, hashed with SHA-256 and validated (a valid core module; the
    /// entrypoint is an exported function; its memory fits `memory_pages`) in one pass.
    /// Uploading an existing name adds the next version. Needs `deploy`.
    #[oai(path = "/", method = "post", operation_id = "upload_function")]
    async fn upload(&self, auth: ApiKeyAuth, body: WasmUpload) -> ApiResult<Uploaded> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let (metadata, stream) = body.into_parts().await?;
        let (function, version) = self
            .edgesync
            .upload_function(convert::spec_from_wire(metadata), stream)
            .await?;
        Ok(Uploaded::Created(Json(convert::version_info(
            &function, &version,
        ))))
    }

    /// Register a function version, binary to follow
    ///
    /// Validates the metadata (name, entrypoint, memory_pages, max_execution_ms,
    /// max_concurrency; this server's quotas) and takes the next version number at once, in
    /// state `pending_upload`. `PUT` the module to the returned `upload_url` (signed, expiring;
    /// see `upload_function_binary`). A version whose upload never comes is rejected ("upload
    /// expired") after the URL expires. Needs `deploy`.
    #[oai(
        path = "/register",
        method = "post",
        operation_id = "register_function"
    )]
    async fn register(
        &self,
        auth: ApiKeyAuth,
        body: JsonBody<w::FunctionMetadata>,
    ) -> ApiResult<Registered> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        let pending = self
            .edgesync
            .register_function(convert::spec_from_wire(body.0))
            .await?;
        Ok(Registered::Created(Json(convert::registered(&pending))))
    }

    /// List functions
    #[oai(path = "/", method = "get", operation_id = "list_functions")]
    async fn list(
        &self,
        auth: ApiKeyAuth,
        /// Resume after this function id (`next` of the previous page).
        after: Query<Option<Uuid>>,
        /// Page size, 1–1000 (default 100).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<w::FunctionList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let limit = limit.0.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(edgesync_core::Error::invalid("limit must be between 1 and 1000").into());
        }
        let (items, next) = self
            .edgesync
            .list_functions(after.0.map(FunctionId::from_uuid), limit as usize)
            .await?;
        Ok(Json(w::FunctionList {
            items: items.iter().map(convert::function_summary).collect(),
            next: next.map(convert::uuid_of),
        }))
    }

    /// Get a function with its versions
    #[oai(path = "/:id", method = "get", operation_id = "get_function")]
    async fn get(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Json<w::FunctionInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let detail = self
            .edgesync
            .get_function(FunctionId::from_uuid(id.0))
            .await?;
        Ok(Json(convert::function_info(&detail)))
    }

    /// List a function's versions
    ///
    /// Oldest first, each with its status, limits, digest, module summary and compatibility
    /// with the previous ready version.
    #[oai(
        path = "/:id/versions",
        method = "get",
        operation_id = "list_function_versions"
    )]
    async fn versions(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<w::FunctionVersionList>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let detail = self
            .edgesync
            .get_function(FunctionId::from_uuid(id.0))
            .await?;
        Ok(Json(w::FunctionVersionList {
            items: detail
                .versions
                .iter()
                .map(|v| convert::version_info(&detail.function, v))
                .collect(),
        }))
    }

    /// Get one version of a function
    #[oai(
        path = "/:id/versions/:version",
        method = "get",
        operation_id = "get_function_version"
    )]
    async fn version(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        version: Path<u32>,
    ) -> ApiResult<Json<w::FunctionVersionInfo>> {
        auth.require(&self.edgesync, Scope::Read)?;
        let detail = self
            .edgesync
            .get_function(FunctionId::from_uuid(id.0))
            .await?;
        let v = self
            .edgesync
            .function_version(detail.function.id, Some(version.0))
            .await?;
        Ok(Json(convert::version_info(&detail.function, &v)))
    }

    /// Roll a function back
    ///
    /// Retargets every live deployment of the function to `to_version` (default: the highest
    /// ready version below the one live deployments run), in one change recorded in the
    /// function's `rollbacks` history and in each deployment's `status_reason`. Nodes converge
    /// on their next sync. 409 `rollback_unavailable` when no live deployment runs the function
    /// or there is no earlier ready version. Needs `deploy`.
    #[oai(
        path = "/:id/rollback",
        method = "post",
        operation_id = "rollback_function"
    )]
    async fn rollback(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        body: JsonBody<w::RollbackRequest>,
    ) -> ApiResult<Json<w::RollbackResponse>> {
        let principal = auth.require(&self.edgesync, Scope::Deploy)?;
        let by = match principal {
            Principal::Operator { key_id } => format!("api key {key_id}"),
            Principal::Node { node_id } => format!("node {node_id}"),
        };
        let outcome: RollbackOutcome = self
            .edgesync
            .rollback_function(FunctionId::from_uuid(id.0), body.0.to_version, &by)
            .await?;
        Ok(Json(convert::rollback(&outcome)))
    }

    /// Download a function's binary
    ///
    /// Redirects to a signed, expiring URL of the binary (the latest ready version unless
    /// `version` is given). With `redirect=false`, answers the URL and digest as JSON instead.
    #[oai(
        path = "/:id/download",
        method = "get",
        operation_id = "download_function"
    )]
    async fn download(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        /// Version to download (default: the latest ready one).
        version: Query<Option<u32>>,
        /// `false` answers JSON instead of a redirect.
        redirect: Query<Option<bool>>,
    ) -> ApiResult<Download> {
        auth.require(&self.edgesync, Scope::Read)?;
        let function_id = FunctionId::from_uuid(id.0);
        let resolved = self
            .edgesync
            .function_version(function_id, version.0)
            .await?;
        let d = self
            .edgesync
            .download_function(function_id, Some(resolved.version))
            .await?;
        if redirect.0.unwrap_or(true) {
            Ok(Download::Redirect(d.url, d.sha256))
        } else {
            Ok(Download::Info(Json(w::DownloadInfo {
                url: d.url,
                expires_at: d.expires_at.into(),
                sha256: d.sha256,
                size: d.size,
                version: resolved.version,
            })))
        }
    }

    /// Delete a function
    ///
    /// Deletes the function and every version. Fails with 409 `function_in_use` while a live
    /// deployment runs it. Needs `deploy`.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_function")]
    async fn delete(&self, auth: ApiKeyAuth, id: Path<Uuid>) -> ApiResult<Deleted> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        self.edgesync
            .delete_function(FunctionId::from_uuid(id.0))
            .await?;
        Ok(Deleted::NoContent)
    }

    /// Delete one version of a function
    ///
    /// Fails with 409 `function_in_use` while a live deployment runs it. Needs `deploy`.
    #[oai(
        path = "/:id/versions/:version",
        method = "delete",
        operation_id = "delete_function_version"
    )]
    async fn delete_version(
        &self,
        auth: ApiKeyAuth,
        id: Path<Uuid>,
        version: Path<u32>,
    ) -> ApiResult<Deleted> {
        auth.require(&self.edgesync, Scope::Deploy)?;
        self.edgesync
            .delete_function_version(FunctionId::from_uuid(id.0), version.0)
            .await?;
        Ok(Deleted::NoContent)
    }
}
