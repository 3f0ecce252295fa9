//! The one error body of the API (RFC 9457 problem details).

use serde::{Deserialize, Serialize};

/// The media type of error bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An error: `application/problem+json` with a stable `code` and a `retryable` flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Problem {
    /// A URI naming the problem type: `urn:edgesync:error:<code>`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", oai(rename = "type"))]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable error code (see the catalogue in `docs/api.md`).
    pub code: String,
    /// Whether repeating the same request later can succeed.
    pub retryable: bool,
    /// Identifies the request in the server's logs (`x-request-id`).
    pub request_id: String,
}
