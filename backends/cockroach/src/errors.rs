//! Mapping sqlx's errors (and SQLSTATEs) onto EdgeSync's error codes.
//!
//! Every database call goes through [`classify`]: it decides whether the failure is worth another
//! attempt of the whole transaction ([`Failure::Retry`]) or is the final answer
//! ([`Failure::Final`]).

use edgesync_core::store::UniqueIndex;
use edgesync_core::{Error, ErrorCode};

use crate::schema;

/// What one attempt of a transaction ended with, when it did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Transient: run the whole transaction again (after a backoff).
    Retry(sqlx::Error),
    /// The answer to give the caller.
    Final(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Final(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

/// SQLSTATEs worth retrying the whole transaction on.
const RETRYABLE_STATES: &[&str] = &[
    "40001", // serialization_failure (CockroachDB: "restart transaction")
    "40P01", // deadlock_detected
    "53300", // too_many_connections
    "55P03", // lock_not_available
    "57P01", // admin_shutdown (a node draining)
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now
];

/// Classifies an error of any statement before `COMMIT`.
pub(crate) fn classify(e: sqlx::Error) -> Failure {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let constraint = db.constraint().map(str::to_owned);
            classify_state(&code, constraint.as_deref(), e)
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => Failure::Retry(e),
        sqlx::Error::PoolClosed => Failure::Final(
            Error::new(ErrorCode::StoreUnavailable, "the connection pool is closed").with_source(e),
        ),
        sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => Failure::Final(
            Error::new(
                ErrorCode::StoreUnavailable,
                "cannot connect to the database (TLS or configuration)",
            )
            .with_source(e),
        ),
        _ => Failure::Final(Error::internal(format!("database: {e}")).with_source(e)),
    }
}

/// Classifies an error of `COMMIT` itself. A lost connection there leaves the outcome unknown:
/// the transaction may have committed, so running it again could apply it twice. That is reported
/// as `store_unavailable` instead of being retried; a definite abort (40001) is still retried.
pub(crate) fn classify_commit(e: sqlx::Error) -> Failure {
    match classify(e) {
        Failure::Retry(e) if !matches!(e, sqlx::Error::Database(_)) => Failure::Final(
            Error::new(
                ErrorCode::StoreUnavailable,
                "the connection was lost while committing; the outcome is unknown",
            )
            .with_source(e),
        ),
        other => other,
    }
}

fn classify_state(code: &str, constraint: Option<&str>, e: sqlx::Error) -> Failure {
    if RETRYABLE_STATES.contains(&code) || code.starts_with("08") {
        return Failure::Retry(e);
    }
    let final_error = match code {
        "23505" => match constraint.and_then(schema::unique_index_of_constraint) {
            Some(index) => unique_violation(index).with_source(e),
            // Another transaction inserted the same primary key concurrently: run again, and the
            // fresh read sees it.
            None => return Failure::Retry(e),
        },
        "53100" => Error::new(ErrorCode::StorageFull, "the database's disk is full").with_source(e),
        "53200" => Error::store_unavailable(e),
        "57014" => Error::new(ErrorCode::StoreUnavailable, "a statement timed out").with_source(e),
        // CockroachDB: the statement's outcome is unknown (ambiguous result).
        "40003" => Error::new(
            ErrorCode::StoreUnavailable,
            "the database could not tell whether the transaction committed",
        )
        .with_source(e),
        // PostgreSQL cannot store NUL in TEXT or JSONB (CockroachDB can).
        "22021" | "22P05" => {
            Error::invalid("text containing NUL characters cannot be stored").with_source(e)
        }
        "22003" | "22008" => {
            Error::invalid("a value is out of the database's range").with_source(e)
        }
        "42P01" | "42703" => Error::internal(
            "the database schema is missing or outdated; run the store's migrations",
        )
        .with_source(e),
        _ => Error::internal(format!("database error {code}: {e}")).with_source(e),
    };
    Failure::Final(final_error)
}

/// `unique_violation` for a value of `index`.
pub(crate) fn unique_violation(index: UniqueIndex) -> Error {
    Error::new(
        ErrorCode::UniqueViolation,
        format!(
            "the {} is already held by another record",
            index.as_str().replace('_', " ")
        ),
    )
}

/// `store_unavailable` after `attempts` attempts ended in transient failures.
pub(crate) fn exhausted(what: &str, attempts: u32, last: sqlx::Error) -> Error {
    Error::new(
        ErrorCode::StoreUnavailable,
        format!("{what} did not succeed after {attempts} attempts (contention or a lost connection); retry later"),
    )
    .with_source(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_code(f: Failure) -> ErrorCode {
        match f {
            Failure::Final(e) => e.code(),
            Failure::Retry(e) => panic!("expected a final error, got a retry of {e}"),
        }
    }

    fn other() -> sqlx::Error {
        sqlx::Error::Protocol("x".into())
    }

    #[test]
    fn sqlstates_map_to_codes() {
        for code in ["40001", "40P01", "57P01", "08006", "08001", "53300"] {
            assert!(
                matches!(classify_state(code, None, other()), Failure::Retry(_)),
                "{code} retries"
            );
        }
        assert_eq!(
            final_code(classify_state("23505", Some("nodes_name_key"), other())),
            ErrorCode::UniqueViolation
        );
        assert_eq!(
            final_code(classify_state(
                "23505",
                Some("commands_idempotency_key"),
                other()
            )),
            ErrorCode::UniqueViolation
        );
        assert!(matches!(
            classify_state("23505", Some("nodes_pkey"), other()),
            Failure::Retry(_)
        ));
        assert_eq!(
            final_code(classify_state("53100", None, other())),
            ErrorCode::StorageFull
        );
        assert_eq!(
            final_code(classify_state("40003", None, other())),
            ErrorCode::StoreUnavailable
        );
        assert_eq!(
            final_code(classify_state("22P05", None, other())),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            final_code(classify_state("XX000", None, other())),
            ErrorCode::Internal
        );
    }

    #[test]
    fn connection_errors_retry_but_not_at_commit() {
        let io = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(classify(io()), Failure::Retry(_)));
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            Failure::Retry(_)
        ));
        let at_commit = final_code(classify_commit(io()));
        assert_eq!(at_commit, ErrorCode::StoreUnavailable);
        assert_eq!(
            final_code(classify(sqlx::Error::PoolClosed)),
            ErrorCode::StoreUnavailable
        );
        assert_eq!(final_code(classify(other())), ErrorCode::Internal);
    }

    #[test]
    fn exhausted_retries_are_retryable_unavailability() {
        let e = exhausted("commit", 5, sqlx::Error::PoolTimedOut);
        assert_eq!(e.code(), ErrorCode::StoreUnavailable);
        assert!(e.retryable());
        assert!(std::error::Error::source(&e).is_some());
    }
}
