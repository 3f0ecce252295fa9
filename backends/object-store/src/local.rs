//! `file://` specifics: sweeping partial staged files that `object_store` does not list.
//!
//! `LocalFileSystem` writes a multipart upload to `<path>#<n>` and renames it to `<path>` on
//! completion. It removes that file when the upload is dropped, but a crash leaves it behind, and
//! `list` hides such names. This module finds them in `staging/` directly.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use edgesync_core::model::Timestamp;
use edgesync_core::{Error, Result};
use uuid::Uuid;

use crate::errors;
use crate::layout::STAGING;

/// Removes partial staged files under `<root>/staging/` last modified before `older_than`;
/// returns how many were removed.
pub(crate) async fn remove_stale_partials(root: PathBuf, older_than: Timestamp) -> Result<usize> {
    tokio::task::spawn_blocking(move || sweep(&root.join(STAGING), older_than))
        .await
        .map_err(|e| Error::internal("the staging sweep panicked").with_source(e))?
        .map_err(errors::io_unavailable)
}

/// Checks that the root directory is still there (the object store would just report every
/// object as missing).
pub(crate) async fn check_root(root: PathBuf) -> Result<()> {
    match tokio::fs::metadata(&root).await {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(errors::io_unavailable(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", root.display()),
        ))),
        Err(e) => Err(errors::io_unavailable(e)),
    }
}

fn sweep(dir: &Path, older_than: Timestamp) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if !is_partial_upload_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() || timestamp(meta.modified()?) >= older_than {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// `<uuid>#<digits>`: a partial multipart upload of ours.
fn is_partial_upload_name(name: &str) -> bool {
    name.split_once('#').is_some_and(|(id, n)| {
        Uuid::parse_str(id).is_ok() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn timestamp(t: SystemTime) -> Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos())
            .ok()
            .and_then(Timestamp::from_unix_nanos)
            .unwrap_or(Timestamp::MAX),
        Err(_) => Timestamp::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_partial_uploads_are_swept() {
        let id = Uuid::new_v4();
        assert!(is_partial_upload_name(&format!("{id}#1")));
        assert!(is_partial_upload_name(&format!("{id}#12")));
        assert!(!is_partial_upload_name(&id.to_string()));
        assert!(!is_partial_upload_name(&format!("{id}#")));
        assert!(!is_partial_upload_name(&format!("{id}#x")));
        assert!(!is_partial_upload_name("notes.txt#1"));
    }
}
