//! `/api/v1/uploads/{function_id}/{version}`: receives the binary of a version registered with
//! `POST /api/v1/functions/register`. The signature in the query is the credential; no other
//! authentication is needed.

use edgesync_core::EdgeSync;
use edgesync_core::control::UploadTarget;
use edgesync_core::model::FunctionId;
use edgesync_wire as w;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::convert;
use super::error::ApiResult;
use super::upload::RawWasm;

/// Signed upload endpoint.
pub struct UploadsApi {
    pub(crate) edgesync: EdgeSync,
}

/// The version, now `ready`.
#[derive(ApiResponse)]
pub enum UploadAccepted {
    /// Stored and validated.
    #[oai(status = 200)]
    Ok(Json<w::FunctionVersionInfo>),
}

#[OpenApi(prefix_path = "/api/v1/uploads", tag = "ApiTags::Functions")]
impl UploadsApi {
    /// Upload a registered version's binary through its signed URL
    ///
    /// The URL comes from `POST /api/v1/functions/register`; send no `Authorization` header.
    /// The module streams through the same checks as `POST /api/v1/functions` (size, SHA-256,
    /// valid core module, entrypoint, memory) and the version turns `ready`. Bytes that fail a
    /// check, or do not hash to `X-Content-SHA256` when it is sent, turn the version `rejected`
    /// with the reason (register again). An interrupted upload leaves it `pending_upload`: the
    /// same URL can be used again until it expires. A changed path, expiry or signature, or an
    /// expired URL, is refused with 403; a version no longer pending with 409.
    #[oai(
        path = "/:function_id/:version",
        method = "put",
        operation_id = "upload_function_binary"
    )]
    async fn put(
        &self,
        function_id: Path<Uuid>,
        version: Path<u32>,
        /// Unix seconds after which the URL stops working.
        expires: Query<i64>,
        /// The URL's signature.
        signature: Query<String>,
        /// SHA-256 of the body (64 hex digits); when sent, other bytes are rejected.
        #[oai(name = "X-Content-SHA256")]
        declared_sha256: Header<Option<String>>,
        body: RawWasm,
    ) -> ApiResult<UploadAccepted> {
        let target = UploadTarget {
            function_id: FunctionId::from_uuid(function_id.0),
            version: version.0,
            expires: expires.0,
            signature: signature.0,
        };
        let (function, version) = self
            .edgesync
            .complete_upload(target, declared_sha256.0.as_deref(), body.into_stream())
            .await?;
        Ok(UploadAccepted::Ok(Json(convert::version_info(
            &function, &version,
        ))))
    }
}
