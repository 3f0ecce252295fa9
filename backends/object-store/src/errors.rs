//! Mapping `object_store` and I/O errors to EdgeSync error codes.

use std::error::Error as StdError;
use std::io;

use edgesync_core::{ArtifactKey, Error, ErrorCode};

/// Whether the backend said the object does not exist.
pub(crate) fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

/// `artifact_not_found` for `key`.
pub(crate) fn artifact_not_found(key: &ArtifactKey) -> Error {
    Error::new(ErrorCode::ArtifactNotFound, format!("no artifact {key}"))
}

/// Any other backend failure: `storage_full` when the disk is full, else the retryable
/// `artifact_store_unavailable`. The backend error is kept as the source.
pub(crate) fn unavailable(e: object_store::Error) -> Error {
    if is_storage_full(&e) {
        storage_full(e)
    } else {
        Error::artifacts_unavailable(e)
    }
}

/// Like [`unavailable`], for a plain I/O error.
pub(crate) fn io_unavailable(e: io::Error) -> Error {
    if is_storage_full(&e) {
        storage_full(e)
    } else {
        Error::artifacts_unavailable(e)
    }
}

/// A read failure: `artifact_not_found` when the object vanished, else as [`unavailable`].
pub(crate) fn read_failed(e: object_store::Error, key: &ArtifactKey) -> Error {
    if is_not_found(&e) {
        artifact_not_found(key).with_source(e)
    } else {
        unavailable(e)
    }
}

fn storage_full(e: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Error {
    Error::new(ErrorCode::StorageFull, "the artifact store is out of space").with_source(e)
}

/// Whether an I/O error meaning "disk full" (ENOSPC, or a quota) is anywhere in the chain.
fn is_storage_full(e: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if matches!(
                io.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ) {
                return true;
            }
            // `io::Error::source` skips a custom payload and returns the payload's source, so
            // look at the payload itself too.
            if let Some(inner) = io.get_ref()
                && is_storage_full(inner)
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: io::Error) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: Box::new(source),
        }
    }

    #[test]
    fn disk_full_anywhere_in_the_chain_is_storage_full() {
        const ENOSPC: i32 = 28;
        for e in [
            generic(io::Error::from(io::ErrorKind::StorageFull)),
            generic(io::Error::from_raw_os_error(ENOSPC)),
            generic(io::Error::other(io::Error::from_raw_os_error(ENOSPC))),
            generic(io::Error::other(generic(io::Error::from(
                io::ErrorKind::QuotaExceeded,
            )))),
        ] {
            let mapped = unavailable(e);
            assert_eq!(mapped.code(), ErrorCode::StorageFull, "{mapped:?}");
        }
        assert_eq!(
            io_unavailable(io::Error::from_raw_os_error(ENOSPC)).code(),
            ErrorCode::StorageFull
        );
    }

    #[test]
    fn other_failures_are_retryable_unavailability() {
        let mapped = unavailable(generic(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert_eq!(mapped.code(), ErrorCode::ArtifactStoreUnavailable);
        assert!(mapped.retryable());
        assert!(StdError::source(&mapped).is_some(), "the cause is kept");
    }

    #[test]
    fn not_found_while_reading_is_artifact_not_found() {
        let key = ArtifactKey::for_sha256(&[0; 32]);
        let e = object_store::Error::NotFound {
            path: key.to_string(),
            source: "gone".into(),
        };
        assert_eq!(read_failed(e, &key).code(), ErrorCode::ArtifactNotFound);
    }
}
