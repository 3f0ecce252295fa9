//! Mapping sled's errors onto EdgeSync's error codes.

use std::io;

use edgesync_core::{Error, ErrorCode};

/// What sled says when another process holds the database's file lock.
const LOCK_HELD: &str = "could not acquire lock";

/// Maps a sled error: I/O problems are `store_unavailable` (retryable), a full disk is
/// `storage_full`, detected corruption is `corrupt_record`, anything else is `internal`.
pub(crate) fn from_sled(e: sled::Error) -> Error {
    match &e {
        sled::Error::Io(io) if is_storage_full(io) => {
            Error::new(ErrorCode::StorageFull, "the store's disk is full").with_source(e)
        }
        sled::Error::Io(_) => Error::store_unavailable(e),
        sled::Error::Corruption { .. } => Error::corrupt("data file", e),
        _ => Error::internal(format!("sled: {e}")).with_source(e),
    }
}

/// Maps an error of opening a database; a held file lock gets a message an operator can act on.
pub(crate) fn from_open(e: sled::Error) -> Error {
    match &e {
        sled::Error::Io(io) if io.to_string().contains(LOCK_HELD) => Error::new(
            ErrorCode::StoreUnavailable,
            "the data directory is in use by another process",
        )
        .with_source(e),
        _ => from_sled(e),
    }
}

fn is_storage_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let enospc = sled::Error::Io(io::Error::from_raw_os_error(28));
        assert_eq!(from_sled(enospc).code(), ErrorCode::StorageFull);
        let eio = sled::Error::Io(io::Error::from_raw_os_error(5));
        let mapped = from_sled(eio);
        assert_eq!(mapped.code(), ErrorCode::StoreUnavailable);
        assert!(mapped.retryable());
        let lock = sled::Error::Io(io::Error::other(
            "could not acquire lock on \"/x/db\": Os { code: 11 }",
        ));
        let mapped = from_open(lock);
        assert_eq!(mapped.code(), ErrorCode::StoreUnavailable);
        assert!(mapped.message().contains("in use by another process"));
        assert_eq!(
            from_sled(sled::Error::ReportableBug("x".into())).code(),
            ErrorCode::Internal
        );
    }
}
