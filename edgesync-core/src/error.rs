//! The one error type of EdgeSync.
//!
//! Every error carries an [`ErrorCode`]: a stable, documented, snake_case identifier that clients
//! can match on. The code decides the [`ErrorKind`] (what went wrong, in the terms of the caller)
//! and whether retrying the same request can succeed. The HTTP layer maps kinds to statuses in one
//! place; nothing else needs to know.

use std::fmt;

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request itself is malformed or violates a rule; fix it before retrying.
    InvalidInput,
    /// The addressed record does not exist.
    NotFound,
    /// A record with the same identity (name, version, …) exists already.
    AlreadyExists,
    /// The request conflicts with the current state (a stale revision, a record in use).
    Conflict,
    /// No valid credentials were presented.
    Unauthenticated,
    /// Valid credentials, but not allowed to do this.
    PermissionDenied,
    /// The payload is larger than allowed.
    PayloadTooLarge,
    /// Too many requests; retry later.
    RateLimited,
    /// A dependency (store, artifact store, broker) is unavailable or timed out.
    Unavailable,
    /// Storage is full.
    InsufficientStorage,
    /// The request's content type is not accepted here.
    UnsupportedMediaType,
    /// The path exists, but not with this method.
    MethodNotAllowed,
    /// A conditional request's precondition (`If-Match`) does not hold.
    PreconditionFailed,
    /// A bug or an unexpected state; logged with details.
    Internal,
}

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident => ($code:literal, $kind:ident, $retryable:literal), )*) => {
        /// The catalogue of stable error codes. Each code has one kind and one retryability.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in catalogue order (used to document and test the catalogue).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable wire identifier, e.g. `node_name_taken`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// What kind of failure this code is.
            pub const fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$variant => ErrorKind::$kind,)* }
            }

            /// Whether repeating the same request later can succeed.
            pub const fn retryable(self) -> bool {
                match self { $(ErrorCode::$variant => $retryable,)* }
            }

            /// One line describing the code (its doc comment).
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!($($doc),*).trim_ascii(),)* }
            }
        }
    };
}

error_codes! {
    /// The request body or a parameter is malformed or fails validation.
    InvalidRequest => ("invalid_request", InvalidInput, false),
    /// A label selector does not parse.
    InvalidSelector => ("invalid_selector", InvalidInput, false),
    /// The uploaded bytes are not a valid WebAssembly module.
    InvalidWasm => ("invalid_wasm", InvalidInput, false),
    /// The upload was empty.
    EmptyWasm => ("empty_wasm", InvalidInput, false),
    /// Component-model binaries are not supported; upload a core module.
    WasmComponentUnsupported => ("wasm_component_unsupported", InvalidInput, false),
    /// The module does not export the declared entrypoint.
    EntrypointMissing => ("entrypoint_missing", InvalidInput, false),
    /// The declared entrypoint is exported, but not as a function.
    EntrypointNotFunction => ("entrypoint_not_function", InvalidInput, false),
    /// The module's memory does not fit the declared `memory_pages`.
    MemoryLimitExceeded => ("memory_limit_exceeded", InvalidInput, false),
    /// The uploaded bytes do not hash to the SHA-256 the client declared (`X-Content-SHA256`).
    Sha256Mismatch => ("sha256_mismatch", InvalidInput, false),
    /// The function's limits exceed this server's quotas.
    QuotaExceeded => ("quota_exceeded", InvalidInput, false),
    /// The upload exceeds the maximum module size.
    WasmTooLarge => ("wasm_too_large", PayloadTooLarge, false),
    /// The request body exceeds the maximum size.
    PayloadTooLarge => ("payload_too_large", PayloadTooLarge, false),
    /// The request's content type is not accepted by this endpoint.
    UnsupportedMediaType => ("unsupported_media_type", UnsupportedMediaType, false),
    /// The path does not accept this method.
    MethodNotAllowed => ("method_not_allowed", MethodNotAllowed, false),
    /// No node with this id.
    NodeNotFound => ("node_not_found", NotFound, false),
    /// No function (or function version) with this id.
    FunctionNotFound => ("function_not_found", NotFound, false),
    /// No artifact with this key; the signed URL may point at a deleted function.
    ArtifactNotFound => ("artifact_not_found", NotFound, false),
    /// No API key with this id.
    ApiKeyNotFound => ("api_key_not_found", NotFound, false),
    /// No deployment with this id.
    DeploymentNotFound => ("deployment_not_found", NotFound, false),
    /// No route with this id.
    RouteNotFound => ("route_not_found", NotFound, false),
    /// This node has no command with this id.
    CommandNotFound => ("command_not_found", NotFound, false),
    /// This node has no plan with this id (or the plan was lost to a server crash before it was
    /// acknowledged): poll again.
    PlanNotFound => ("plan_not_found", NotFound, false),
    /// The addressed resource does not exist.
    NotFound => ("not_found", NotFound, false),
    /// Another node already has this name.
    NodeNameTaken => ("node_name_taken", AlreadyExists, false),
    /// The record exists already.
    AlreadyExists => ("already_exists", AlreadyExists, false),
    /// The record changed since it was read; read it again and retry.
    RevisionConflict => ("revision_conflict", Conflict, true),
    /// The record is no longer at the revision the request named in `If-Match`; read it again
    /// and decide (repeating the same request fails the same way).
    PreconditionFailed => ("precondition_failed", PreconditionFailed, false),
    /// A unique value (name, key) is already held by another record.
    UniqueViolation => ("unique_violation", AlreadyExists, false),
    /// A live deployment uses this function version; stop the deployment first.
    FunctionInUse => ("function_in_use", Conflict, false),
    /// The plan was already acknowledged with different results.
    PlanAlreadyAcked => ("plan_already_acked", Conflict, false),
    /// Another route already has the same host, path shape and a shared method.
    RouteConflict => ("route_conflict", Conflict, false),
    /// A migration with this version exists with a different checksum; migrations are immutable.
    SchemaChecksumMismatch => ("schema_checksum_mismatch", Conflict, false),
    /// Migration versions must increase; this one is not above the current head.
    SchemaVersionNotIncreasing => ("schema_version_not_increasing", Conflict, false),
    /// The function version has no validated binary yet.
    FunctionVersionNotReady => ("function_version_not_ready", Conflict, false),
    /// The version is not waiting for its binary: it is ready, rejected, or its upload expired.
    VersionNotPending => ("version_not_pending", Conflict, false),
    /// The version breaks compatibility with the previous one; deploy it with `allow_breaking`.
    BreakingVersion => ("breaking_version", Conflict, false),
    /// Nothing to roll back: no live deployment runs the function, or no earlier ready version.
    RollbackUnavailable => ("rollback_unavailable", Conflict, false),
    /// The API key is revoked or expired; it cannot be changed.
    ApiKeyInactive => ("api_key_inactive", Conflict, false),
    /// A selected node cannot fit the deployment in its advertised memory budget.
    AdmissionRejected => ("admission_rejected", Conflict, false),
    /// The idempotency key was already used for a different command.
    IdempotencyKeyReused => ("idempotency_key_reused", Conflict, false),
    /// The command already finished; it cannot be canceled.
    CommandFinished => ("command_finished", Conflict, false),
    /// The deployment's status does not allow this (e.g. resuming a completed one).
    DeploymentNotChangeable => ("deployment_not_changeable", Conflict, false),
    /// The node is decommissioned; it can no longer act.
    NodeDecommissioned => ("node_decommissioned", Conflict, false),
    /// No credentials were presented.
    MissingCredentials => ("missing_credentials", Unauthenticated, false),
    /// The credentials are unknown, malformed, expired or revoked.
    InvalidCredentials => ("invalid_credentials", Unauthenticated, false),
    /// This API key must sign its requests (HMAC); a bearer secret is not accepted.
    SignatureRequired => ("signature_required", Unauthenticated, false),
    /// The request's HMAC signature is malformed or does not verify.
    RequestSignatureInvalid => ("request_signature_invalid", Unauthenticated, false),
    /// The signed request's timestamp is outside the accepted window; check the client's clock.
    RequestExpired => ("request_expired", Unauthenticated, false),
    /// This signed request (its nonce) was already seen.
    ReplayedRequest => ("replayed_request", Unauthenticated, false),
    /// The credentials are valid but do not allow this operation.
    Forbidden => ("forbidden", PermissionDenied, false),
    /// The signed URL is malformed, tampered with or expired.
    InvalidSignature => ("invalid_signature", PermissionDenied, false),
    /// The store is unreachable or timed out.
    StoreUnavailable => ("store_unavailable", Unavailable, true),
    /// The artifact store is unreachable or timed out.
    ArtifactStoreUnavailable => ("artifact_store_unavailable", Unavailable, true),
    /// The server is shutting down or not ready.
    ServiceUnavailable => ("service_unavailable", Unavailable, true),
    /// Storage is full.
    StorageFull => ("storage_full", InsufficientStorage, true),
    /// Too many requests.
    RateLimited => ("rate_limited", RateLimited, true),
    /// Stored data could not be decoded; an operator must look at it.
    CorruptRecord => ("corrupt_record", Internal, false),
    /// An unexpected internal error.
    Internal => ("internal", Internal, false),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every EdgeSync operation.
///
/// `message` is meant for humans and may change; `code` is the contract.
#[derive(Debug)]
pub struct Error {
    code: ErrorCode,
    message: String,
    source: Option<Source>,
}

/// Shorthand for `Result<T, edgesync_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a code and a human-readable message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause (kept for logs, never sent to clients).
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The kind, derived from the code.
    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }

    /// Whether repeating the request later can succeed.
    pub fn retryable(&self) -> bool {
        self.code.retryable()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `invalid_request` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `internal` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// `store_unavailable` wrapping a backend error.
    pub fn store_unavailable(source: impl Into<Source>) -> Self {
        Self::new(ErrorCode::StoreUnavailable, "the store is unavailable").with_source(source)
    }

    /// `artifact_store_unavailable` wrapping a backend error.
    pub fn artifacts_unavailable(source: impl Into<Source>) -> Self {
        Self::new(
            ErrorCode::ArtifactStoreUnavailable,
            "the artifact store is unavailable",
        )
        .with_source(source)
    }

    /// `corrupt_record` for data that does not decode.
    pub fn corrupt(what: impl fmt::Display, source: impl Into<Source>) -> Self {
        Self::new(
            ErrorCode::CorruptRecord,
            format!("stored {what} could not be decoded"),
        )
        .with_source(source)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_described() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s} is not snake_case"
            );
            assert!(!code.description().is_empty(), "{s} has no description");
        }
    }

    #[test]
    fn unavailable_errors_are_retryable_and_input_errors_are_not() {
        for code in ErrorCode::ALL {
            match code.kind() {
                ErrorKind::Unavailable | ErrorKind::RateLimited => assert!(code.retryable()),
                ErrorKind::InvalidInput | ErrorKind::NotFound => assert!(!code.retryable()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod catalogue_docs {
    use super::ErrorCode;

    #[test]
    fn docs_api_md_lists_every_code() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md"))
            .unwrap_or_default();
        for code in ErrorCode::ALL {
            assert!(
                doc.contains(&format!("| `{}` |", code.as_str())),
                "docs/api.md does not document {}",
                code.as_str()
            );
        }
    }
}
