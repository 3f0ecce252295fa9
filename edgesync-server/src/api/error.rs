//! Every error leaves the server as `application/problem+json` with a stable code, a
//! `retryable` flag and the request id. Kinds map to statuses here and nowhere else.

use edgesync_core::{Error, ErrorCode, ErrorKind};
use edgesync_wire::{PROBLEM_CONTENT_TYPE, Problem};
use poem::http::StatusCode;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use crate::request_id;

/// An API error response. Each variant is one status, all with a [`Problem`] body.
#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "from_poem_error")]
pub enum ApiError {
    /// The request is malformed or invalid.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// Valid credentials that do not allow this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// Nothing with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Conflicts with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The `If-Match` precondition does not hold.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// The body is too large.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The content type is not accepted.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Too many requests.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>),
    /// An unexpected error.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A dependency is unavailable; retry.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
    /// Storage is full; retry once space is freed.
    #[oai(status = 507, content_type = "application/problem+json")]
    InsufficientStorage(Json<Problem>),
}

/// The HTTP status of an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem body for an error.
pub fn problem_of(err: &Error) -> Problem {
    let code = err.code();
    let status = status_of(code.kind());
    // Internal details stay in the logs.
    let detail = if code.kind() == ErrorKind::Internal {
        "an internal error occurred; the request id identifies it in the server's logs".to_owned()
    } else {
        err.message().to_owned()
    };
    Problem {
        problem_type: format!("urn:edgesync:error:{}", code.as_str()),
        title: code.description().to_owned(),
        status: status.as_u16(),
        detail,
        code: code.as_str().to_owned(),
        retryable: code.retryable(),
        request_id: request_id::current(),
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        log_error(&err);
        let body = Json(problem_of(&err));
        match err.kind() {
            ErrorKind::InvalidInput => ApiError::BadRequest(body),
            ErrorKind::Unauthenticated => ApiError::Unauthorized(body),
            ErrorKind::PermissionDenied => ApiError::Forbidden(body),
            ErrorKind::NotFound => ApiError::NotFound(body),
            ErrorKind::AlreadyExists | ErrorKind::Conflict => ApiError::Conflict(body),
            ErrorKind::PreconditionFailed => ApiError::PreconditionFailed(body),
            ErrorKind::PayloadTooLarge => ApiError::PayloadTooLarge(body),
            ErrorKind::UnsupportedMediaType => ApiError::UnsupportedMediaType(body),
            ErrorKind::RateLimited => ApiError::TooManyRequests(body),
            ErrorKind::Unavailable => ApiError::Unavailable(body),
            ErrorKind::InsufficientStorage => ApiError::InsufficientStorage(body),
            // No endpoint declares 405; the router answers those itself.
            ErrorKind::MethodNotAllowed | ErrorKind::Internal => ApiError::Internal(body),
        }
    }
}

fn log_error(err: &Error) {
    crate::request_id::note_error(err.code().as_str());
    let source = std::error::Error::source(err).map(ToString::to_string);
    match err.kind() {
        ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::InsufficientStorage => {
            tracing::error!(code = %err.code(), message = %err.message(), source, "request failed")
        }
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => {
            tracing::warn!(code = %err.code(), reason = %err.message(), "authentication failed")
        }
        _ => tracing::info!(code = %err.code(), message = %err.message(), "request rejected"),
    }
}

/// Maps poem's own errors (unparsable JSON, unknown fields, missing credentials, wrong content
/// type, …) into the catalogue.
pub fn core_error_of_poem(err: &poem::Error) -> Error {
    let message = err.to_string();
    if message.contains(crate::body_limit::TOO_LARGE) {
        return Error::new(ErrorCode::PayloadTooLarge, message);
    }
    if message.contains(crate::signing::BODY_MISMATCH) {
        return Error::new(ErrorCode::RequestSignatureInvalid, message);
    }
    let code = match err.status() {
        StatusCode::UNAUTHORIZED => ErrorCode::MissingCredentials,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        s if s.is_client_error() => ErrorCode::InvalidRequest,
        _ => ErrorCode::Internal,
    };
    let message = match code {
        ErrorCode::MissingCredentials => {
            "send `Authorization: Bearer <credential>`: an API key for operator endpoints, the node's token for node endpoints".to_owned()
        }
        ErrorCode::UnsupportedMediaType => format!("{message}; see the OpenAPI document for accepted content types"),
        _ => message,
    };
    Error::new(code, message)
}

/// The bad-request handler poem-openapi calls for request parsing failures.
pub fn from_poem_error(err: poem::Error) -> ApiError {
    ApiError::from(core_error_of_poem(&err))
}

/// A problem response outside poem-openapi (router 404/405, middleware).
pub fn problem_response(err: &Error) -> poem::Response {
    log_error(err);
    let problem = problem_of(err);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    poem::Response::builder()
        .status(status_of(err.kind()))
        .content_type(PROBLEM_CONTENT_TYPE)
        .body(body)
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
