//! Caps JSON request bodies so one client cannot make the server buffer without bound. Uploads
//! (`multipart/form-data`, and raw module `PUT`s to signed upload URLs) are exempt here: they are
//! limited while they stream (the module by the maximum module size, the metadata part by 64 KiB).

use futures::StreamExt;
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use edgesync_core::{Error, ErrorCode};

/// Start of the message of a body cut off at the limit. poem reports a failed body read as a
/// parse error; [`crate::api::error::core_error_of_poem`] recognizes this message and answers
/// 413 instead of 400.
pub const TOO_LARGE: &str = "request bodies are limited to";

/// Returns a middleware function limiting bodies to `max` bytes.
pub async fn limit<E: Endpoint>(next: E, mut req: Request, max: usize) -> poem::Result<Response> {
    if !crate::rate_limit::is_upload(&req) {
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            let err = Error::new(
                ErrorCode::PayloadTooLarge,
                format!("{TOO_LARGE} {max} bytes"),
            );
            return Ok(crate::api::error::problem_response(&err));
        }
        // Bodies without a length (chunked) are cut off at the limit while they stream.
        let body = req.take_body();
        let mut seen = 0usize;
        let limited = body.into_bytes_stream().map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len();
            if seen > max {
                Err(std::io::Error::other(format!(
                    "request bodies are limited to {max} bytes"
                )))
            } else {
                Ok(chunk)
            }
        });
        req.set_body(Body::from_bytes_stream(limited));
    }
    next.call(req).await.map(IntoResponse::into_response)
}
