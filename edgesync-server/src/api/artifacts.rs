//! `/api/v1/artifacts/{sha256}`: serves binaries behind server-signed, expiring URLs. The
//! signature in the query is the credential; no other authentication is needed.

use edgesync_core::EdgeSync;
use edgesync_core::artifacts::ArtifactMeta;
use futures::TryStreamExt;
use poem::Body;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Binary;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::error::ApiResult;

/// Artifact download endpoint.
pub struct ArtifactsApi {
    pub(crate) edgesync: EdgeSync,
}

/// The binary.
#[derive(ApiResponse)]
pub enum ArtifactBody {
    /// The module's bytes.
    #[oai(status = 200, content_type = "application/wasm")]
    Ok(
        Binary<Body>,
        /// Its SHA-256, lowercase hex.
        #[oai(header = "X-Content-SHA256")]
        String,
        /// Its size in bytes.
        #[oai(header = "X-Content-Size")]
        u64,
    ),
}

#[OpenApi(prefix_path = "/api/v1/artifacts", tag = "ApiTags::Artifacts")]
impl ArtifactsApi {
    /// Download an artifact through a signed URL
    ///
    /// The URLs come from sync plans and from `GET /api/v1/functions/{id}/download`. A changed
    /// path, expiry or signature, or an expired URL, is refused with 403.
    #[oai(path = "/:sha256", method = "get", operation_id = "get_artifact")]
    async fn get(
        &self,
        sha256: Path<String>,
        /// Unix seconds after which the URL stops working.
        expires: Query<i64>,
        /// The URL's signature.
        signature: Query<String>,
    ) -> ApiResult<ArtifactBody> {
        let (meta, stream): (ArtifactMeta, _) = self
            .edgesync
            .open_signed_artifact(&sha256.0, expires.0, &signature.0)
            .await?;
        let body = Body::from_bytes_stream(stream.map_err(std::io::Error::other));
        Ok(ArtifactBody::Ok(
            Binary(body),
            meta.key.sha256_hex().to_owned(),
            meta.size,
        ))
    }
}
