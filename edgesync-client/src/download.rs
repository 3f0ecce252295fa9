//! Artifact downloads through signed URLs, verified against their SHA-256 while they stream
//! and capped in size, so a wrong or endless body is refused without being kept.

use std::io;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_LENGTH, HeaderMap};
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::request::Call;

/// How many bytes beyond its declared size an artifact may have before the download is cut
/// off (the digest check refuses any difference anyway; this only bounds memory).
pub(crate) const SIZE_SLACK: u64 = 64 * 1024;

/// The header with which the server's artifact endpoint states the size.
const CONTENT_SIZE_HEADER: &str = "x-content-size";

impl Client {
    /// Downloads an artifact by its (signed) URL and checks its SHA-256 while it streams.
    ///
    /// No credentials are sent: the URL is its own credential, and it may point at an object
    /// store. A relative URL is resolved against the base URL. The size is capped at what the
    /// server declares (`Content-Length` / `X-Content-Size`) plus 64 KiB, or at
    /// [`max_artifact_bytes`](crate::ClientBuilder::max_artifact_bytes) when it declares
    /// nothing.
    ///
    /// # Errors
    /// [`ClientError::DigestMismatch`] when the bytes differ; [`ClientError::TooLarge`] when
    /// they exceed the cap; [`ClientError::Io`] (timed out) when the body stalls longer than
    /// the client's timeout between two chunks.
    pub async fn download_artifact(&self, url: &str, expected_sha256: &str) -> Result<Bytes> {
        self.download_verified(url, expected_sha256, None).await
    }

    /// [`download_artifact`](Self::download_artifact) for an artifact whose size is known (a
    /// plan's `InstallFunctionAction::size`): the download is cut off beyond `size` + 64 KiB,
    /// whatever the server declares.
    pub async fn download_artifact_with_size(
        &self,
        url: &str,
        expected_sha256: &str,
        size: u64,
    ) -> Result<Bytes> {
        self.download_verified(url, expected_sha256, Some(size))
            .await
    }

    async fn download_verified(
        &self,
        url: &str,
        expected_sha256: &str,
        size: Option<u64>,
    ) -> Result<Bytes> {
        let expected = expected_sha256.to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ClientError::InvalidArgument(format!(
                "expected sha256 {expected_sha256:?} is not 64 hex digits"
            )));
        }
        let url = self
            .base_url()
            .join(url)
            .map_err(|e| ClientError::InvalidArgument(format!("artifact URL {url:?}: {e}")))?;
        let mut resp = self.send(Call::get_url(url).head_deadline()).await?;
        let declared = size.or_else(|| declared_size(resp.headers()));
        let limit = match declared {
            Some(d) => d.saturating_add(SIZE_SLACK),
            None => self.inner.max_artifact_bytes,
        };
        if let Some(announced) = declared_size(resp.headers())
            && announced > limit
        {
            return Err(ClientError::TooLarge { limit });
        }
        let capacity = declared.unwrap_or(0).min(limit).min(64 * 1024 * 1024);
        let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut hasher = Sha256::new();
        loop {
            let chunk = tokio::time::timeout(self.inner.timeout, resp.chunk())
                .await
                .map_err(|_| {
                    ClientError::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the artifact download stalled",
                    ))
                })?
                .map_err(ClientError::Transport)?;
            let Some(chunk) = chunk else { break };
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(ClientError::TooLarge { limit });
            }
            hasher.update(&chunk);
            body.extend_from_slice(&chunk);
        }
        let actual = hex::encode(hasher.finalize());
        if actual != expected {
            return Err(ClientError::DigestMismatch { expected, actual });
        }
        Ok(body.freeze())
    }
}

/// The size a response declares: `Content-Length`, else the server's `X-Content-Size`.
fn declared_size(headers: &HeaderMap) -> Option<u64> {
    [CONTENT_LENGTH.as_str(), CONTENT_SIZE_HEADER]
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok()?.trim().parse().ok())
}
