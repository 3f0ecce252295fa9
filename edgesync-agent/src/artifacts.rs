//! The artifact cache: verified modules stored content-addressed as
//! `<data-dir>/artifacts/<sha256>.wasm` (written to a temp file, then renamed). A file whose
//! bytes no longer hash to its name is deleted on read, never used.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::{AgentError, Result};
use crate::fsutil::{create_dir, write_atomic};

/// The cache directory.
#[derive(Clone, Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
}

/// Whether `sha256` is 64 lowercase hex digits (the only strings that become file names).
pub(crate) fn valid_sha256(sha256: &str) -> bool {
    sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ArtifactCache {
    /// The cache under `data_dir/artifacts`, created if needed.
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join("artifacts");
        create_dir(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf> {
        if !valid_sha256(sha256) {
            return Err(AgentError::Config(format!(
                "{sha256:?} is not a lowercase hex SHA-256"
            )));
        }
        Ok(self.dir.join(format!("{sha256}.wasm")))
    }

    /// The module with this digest, if cached and intact.
    pub(crate) async fn load(&self, sha256: &str) -> Result<Option<Bytes>> {
        let path = self.path(sha256)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AgentError::io(path, e)),
        };
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            tracing::warn!(path = %path.display(), %actual, "a cached artifact is corrupt; deleting it");
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(None);
        }
        Ok(Some(Bytes::from(bytes)))
    }

    /// Stores a module already verified against `sha256`.
    pub(crate) async fn store(&self, sha256: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(sha256)?;
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes, None))
            .await
            .map_err(|e| AgentError::Internal(format!("artifact write task failed: {e}")))?
    }

    /// Deletes every cached module not in `keep` (and leftovers of interrupted writes).
    pub(crate) fn retain(&self, keep: &HashSet<String>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wanted = name
                .strip_suffix(".wasm")
                .is_some_and(|sha| keep.contains(sha));
            if !wanted {
                tracing::debug!(file = %name, "dropping an artifact no version needs");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn store_load_verify_retain() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::open(dir.path()).unwrap();
        let bytes = Bytes::from_static(b"\0asm\x01\0\0\0");
        let sha = hex::encode(Sha256::digest(&bytes));
        assert!(cache.load(&sha).await.unwrap().is_none());
        cache.store(&sha, bytes.clone()).await.unwrap();
        assert_eq!(cache.load(&sha).await.unwrap().unwrap(), bytes);

        // Tampered on disk: refused and removed.
        std::fs::write(cache.path(&sha).unwrap(), b"other").unwrap();
        assert!(cache.load(&sha).await.unwrap().is_none());
        assert!(!cache.path(&sha).unwrap().exists());

        cache.store(&sha, bytes.clone()).await.unwrap();
        cache.retain(&HashSet::new());
        assert!(cache.load(&sha).await.unwrap().is_none());
        assert!(cache.load("../../etc/passwd").await.is_err());
    }
}
