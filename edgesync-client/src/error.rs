//! The one error type of the client.

use edgesync_wire::Problem;
use reqwest::StatusCode;

/// Shorthand for results of client calls.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything a client call can fail with.
///
/// A `304 Not Modified` answer to a sync poll is not an error: it is
/// [`SyncPoll::NotModified`](crate::SyncPoll::NotModified).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an `application/problem+json` error.
    #[error("{status}: {} ({}; request id {})", problem.detail, problem.code, problem.request_id)]
    Problem {
        /// The HTTP status.
        status: StatusCode,
        /// The problem body: its `code` is the stable contract (boxed to keep results small).
        problem: Box<Problem>,
    },
    /// The server (or something in front of it) answered an error without a problem body.
    #[error("unexpected HTTP status {status}: {body}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body, for humans.
        body: String,
    },
    /// The request did not complete: connection refused or reset, timeout, TLS failure, an
    /// interrupted body.
    #[error("HTTP request failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// A successful answer whose body is not what the API documents.
    #[error("could not decode the {status} response: {source}")]
    Decode {
        /// The HTTP status.
        status: StatusCode,
        /// Why the body did not decode.
        #[source]
        source: serde_json::Error,
    },
    /// A downloaded artifact does not have the SHA-256 it must have.
    #[error("artifact digest mismatch: expected sha256 {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the bytes must have (lowercase hex).
        expected: String,
        /// The digest of the bytes received (lowercase hex).
        actual: String,
    },
    /// A body is larger than the client accepts.
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The client is missing something it needs (a base URL that parses, a credential, a
    /// certificate that parses).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// An argument cannot be sent as given.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Local I/O failed (reading a file or stream to upload), or an answer or a download
    /// stalled beyond the client's timeout (kind `TimedOut`).
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The problem's stable `code` (`node_not_found`, `rate_limited`, …), for problem answers.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }

    /// The problem body, for problem answers.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem { problem, .. } => Some(problem.as_ref()),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Problem { status, .. }
            | ClientError::UnexpectedStatus { status, .. }
            | ClientError::Decode { status, .. } => Some(*status),
            ClientError::Transport(e) => e.status(),
            _ => None,
        }
    }

    /// The server's request id (also in its logs), for problem answers.
    pub fn request_id(&self) -> Option<&str> {
        self.problem().map(|p| p.request_id.as_str())
    }

    /// Whether the same request may succeed later: a problem marked `retryable`, or a
    /// connection failure or timeout. Whether it is *safe* to repeat is another matter: see
    /// [`RetryPolicy`](crate::RetryPolicy).
    pub fn retryable(&self) -> bool {
        match self {
            ClientError::Problem { problem, .. } => problem.retryable,
            ClientError::Transport(e) => e.is_connect() || e.is_timeout(),
            ClientError::Io(e) => e.kind() == std::io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        match self {
            ClientError::Transport(e) => e.is_timeout(),
            ClientError::Io(e) => e.kind() == std::io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// Whether the answer was a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(code: &str, retryable: bool) -> ClientError {
        ClientError::Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            problem: Box::new(Problem {
                problem_type: format!("urn:edgesync:error:{code}"),
                title: "t".into(),
                status: 503,
                detail: "the store timed out".into(),
                code: code.into(),
                retryable,
                request_id: "abc".into(),
            }),
        }
    }

    #[test]
    fn accessors() {
        let e = problem("store_unavailable", true);
        assert_eq!(e.code(), Some("store_unavailable"));
        assert!(e.retryable());
        assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(e.request_id(), Some("abc"));
        assert!(e.to_string().contains("store_unavailable"));
        assert!(!problem("internal", false).retryable());
        let d = ClientError::DigestMismatch {
            expected: "a".into(),
            actual: "b".into(),
        };
        assert_eq!(d.code(), None);
        assert!(!d.retryable());
    }
}
