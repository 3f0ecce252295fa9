//! The `ArtifactStore` port: where WASM binaries live.
//!
//! Keys are content addressed (`wasm/<sha256>`): equal binaries are stored once and no user
//! string ever becomes a path. Uploads are staged and only become visible under their final key
//! once complete, so a reader never sees half an artifact.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::model::Timestamp;

/// The key of a stored artifact: `wasm/<64 lowercase hex digits>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactKey(String);

impl ArtifactKey {
    const PREFIX: &'static str = "wasm/";

    /// The key for a binary with this SHA-256.
    pub fn for_sha256(digest: &[u8; 32]) -> Self {
        Self(format!("{}{}", Self::PREFIX, hex::encode(digest)))
    }

    /// The key for a lowercase hex SHA-256; rejects anything else.
    pub fn for_sha256_hex(hex_digest: &str) -> Result<Self> {
        if hex_digest.len() == 64
            && hex_digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(format!("{}{hex_digest}", Self::PREFIX)))
        } else {
            Err(Error::invalid("a sha256 must be 64 lowercase hex digits"))
        }
    }

    /// Parses a full key (`wasm/<hex>`).
    pub fn parse(key: &str) -> Result<Self> {
        match key.strip_prefix(Self::PREFIX) {
            Some(hex_digest) => Self::for_sha256_hex(hex_digest),
            None => Err(Error::invalid(format!("{key:?} is not an artifact key"))),
        }
    }

    /// The key as a path-like string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hex digest the key is named after.
    pub fn sha256_hex(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactKey({})", self.0)
    }
}

/// A stream of artifact bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// What the store knows about a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactMeta {
    /// The key.
    pub key: ArtifactKey,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: Timestamp,
}

/// Storage for function binaries.
///
/// Implementations: `memory://`, `file://` and `s3://` on the `object_store` crate. Each runs
/// `edgesync_core::testkit::artifact_suite`.
#[async_trait]
pub trait ArtifactStore: fmt::Debug + Send + Sync + 'static {
    /// Starts a staged upload.
    ///
    /// # Behavior
    /// - Nothing is visible under any artifact key until [`ArtifactUpload::finish`] succeeds.
    async fn start_upload(&self) -> Result<Box<dyn ArtifactUpload>>;

    /// Streams an artifact.
    ///
    /// # Behavior
    /// - Fails with `artifact_not_found` when the key is absent.
    async fn get(&self, key: &ArtifactKey) -> Result<ByteStream>;

    /// Reads an artifact's metadata; `Ok(None)` when absent.
    async fn head(&self, key: &ArtifactKey) -> Result<Option<ArtifactMeta>>;

    /// Deletes an artifact.
    ///
    /// # Behavior
    /// - Deleting an absent key succeeds (idempotent).
    async fn delete(&self, key: &ArtifactKey) -> Result<()>;

    /// Lists every stored artifact (not staged uploads).
    async fn list(&self) -> Result<Vec<ArtifactMeta>>;

    /// Removes staged uploads older than `older_than` left behind by crashed uploads; returns how
    /// many were removed.
    async fn remove_stale_uploads(&self, older_than: Timestamp) -> Result<usize>;

    /// A URL that downloads the artifact directly from the store until `expires_in` passes, when
    /// the store can sign one (S3 presigning). `Ok(None)` means the control plane serves the
    /// bytes itself behind a URL it signs.
    async fn presigned_url(
        &self,
        key: &ArtifactKey,
        expires_in: Duration,
    ) -> Result<Option<String>>;

    /// Checks that the store is reachable (for `/ready`).
    async fn check(&self) -> Result<()>;
}

/// A staged upload. Dropping it without `finish` or `abort` leaves a staged object that
/// [`ArtifactStore::remove_stale_uploads`] cleans up.
#[async_trait]
pub trait ArtifactUpload: Send {
    /// Appends a chunk.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Makes the upload visible under `key`, atomically. When `key` already exists (the same
    /// content, since keys are content addressed) the staged copy is discarded and this succeeds.
    async fn finish(self: Box<Self>, key: &ArtifactKey) -> Result<()>;

    /// Discards the upload.
    async fn abort(self: Box<Self>) -> Result<()>;
}
