//! `/api/v1/functions`: upload, list, read, download, delete.

use bytes::Bytes;
use edgesync_wire::{
    DownloadInfo, FunctionInfo, FunctionList, FunctionMetadata, FunctionSummary,
    FunctionVersionInfo, FunctionVersionList, RegisteredFunction, RollbackRequest,
    RollbackResponse,
};
use reqwest::header::HeaderName;
use uuid::Uuid;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::multipart::{Upload, WasmBody};
use crate::request::Call;

impl Client {
    /// `POST /api/v1/functions`: uploads a module as the next version of the function named
    /// in `metadata` (`multipart/form-data`, streamed). Not retried once sent.
    pub async fn upload_function(
        &self,
        metadata: &FunctionMetadata,
        wasm: impl Into<WasmBody>,
    ) -> Result<FunctionVersionInfo> {
        let meta = serde_json::to_vec(metadata)
            .map_err(|e| ClientError::InvalidArgument(format!("metadata: {e}")))?;
        let upload = Upload::multipart(&meta, wasm.into(), self.signs()).await?;
        self.json(Call::post("/api/v1/functions").upload(upload))
            .await
    }

    /// `GET /api/v1/functions`: one page of functions.
    pub async fn list_functions(
        &self,
        after: Option<Uuid>,
        limit: Option<u32>,
    ) -> Result<FunctionList> {
        let call = Call::get("/api/v1/functions")
            .query_opt("after", after)
            .query_opt("limit", limit);
        self.json(call).await
    }

    /// Every function, following `next` from page to page.
    pub async fn list_all_functions(&self) -> Result<Vec<FunctionSummary>> {
        let mut after = None;
        let mut all = Vec::new();
        loop {
            let page = self.list_functions(after, None).await?;
            all.extend(page.items);
            match page.next {
                Some(next) if after != Some(next) => after = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// `GET /api/v1/functions/{id}`: the function with its versions.
    pub async fn get_function(&self, id: Uuid) -> Result<FunctionInfo> {
        self.json(Call::get(format!("/api/v1/functions/{id}")))
            .await
    }

    /// `GET /api/v1/functions/{id}/download?redirect=false`: the signed URL, digest and size
    /// of a version's binary (the latest ready version when `version` is `None`).
    pub async fn function_download_info(
        &self,
        id: Uuid,
        version: Option<u32>,
    ) -> Result<DownloadInfo> {
        let call = Call::get(format!("/api/v1/functions/{id}/download"))
            .query_opt("version", version)
            .query("redirect", false);
        self.json(call).await
    }

    /// A version's binary, verified against its SHA-256 and size while it streams.
    pub async fn download_function(&self, id: Uuid, version: Option<u32>) -> Result<Bytes> {
        let info = self.function_download_info(id, version).await?;
        self.download_artifact_with_size(&info.url, &info.sha256, info.size)
            .await
    }

    /// `DELETE /api/v1/functions/{id}`: the function and every version (409
    /// `function_in_use` while a live deployment runs it).
    pub async fn delete_function(&self, id: Uuid) -> Result<()> {
        self.empty(Call::delete(format!("/api/v1/functions/{id}")))
            .await
    }

    /// `DELETE /api/v1/functions/{id}/versions/{version}`.
    pub async fn delete_function_version(&self, id: Uuid, version: u32) -> Result<()> {
        self.empty(Call::delete(format!(
            "/api/v1/functions/{id}/versions/{version}"
        )))
        .await
    }

    /// `POST /api/v1/functions/register`: validates the metadata and takes the next version
    /// number, `pending_upload`; send the module to its `upload_url` with
    /// [`upload_function_binary`](Self::upload_function_binary). Not retried once sent.
    pub async fn register_function(
        &self,
        metadata: &FunctionMetadata,
    ) -> Result<RegisteredFunction> {
        self.json(Call::post("/api/v1/functions/register").json(metadata)?)
            .await
    }

    /// `PUT <upload_url>`: the module of a registered version, streamed to its signed URL
    /// (no credentials sent). With `sha256`, other bytes are rejected by the server. An
    /// interrupted upload may be repeated, so a replayable body is retried.
    pub async fn upload_function_binary(
        &self,
        upload_url: &str,
        wasm: impl Into<WasmBody>,
        sha256: Option<&str>,
    ) -> Result<FunctionVersionInfo> {
        let url = self
            .base_url()
            .join(upload_url)
            .map_err(|e| ClientError::InvalidArgument(format!("upload URL {upload_url:?}: {e}")))?;
        let mut call = Call::put_url(url).upload(Upload::raw(wasm.into(), false).await?);
        if let Some(sha256) = sha256 {
            call = call.header(HeaderName::from_static("x-content-sha256"), sha256)?;
        }
        self.json(call).await
    }

    /// `GET /api/v1/functions/{id}/versions`: every version, oldest first.
    pub async fn list_function_versions(&self, id: Uuid) -> Result<FunctionVersionList> {
        self.json(Call::get(format!("/api/v1/functions/{id}/versions")))
            .await
    }

    /// `GET /api/v1/functions/{id}/versions/{version}`.
    pub async fn get_function_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> Result<FunctionVersionInfo> {
        self.json(Call::get(format!(
            "/api/v1/functions/{id}/versions/{version}"
        )))
        .await
    }

    /// `POST /api/v1/functions/{id}/rollback`: retargets every live deployment of the
    /// function to `to_version` (default: the highest ready version below the one they run).
    /// Retried only with an explicit `to_version`: repeating a default rollback would roll
    /// back one version further.
    pub async fn rollback_function(
        &self,
        id: Uuid,
        to_version: Option<u32>,
    ) -> Result<RollbackResponse> {
        let mut call = Call::post(format!("/api/v1/functions/{id}/rollback"))
            .json(&RollbackRequest { to_version })?;
        if to_version.is_some() {
            call = call.idempotent();
        }
        self.json(call).await
    }
}
