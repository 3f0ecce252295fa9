//! HMAC-signed operator requests (`Authorization: EdgeSync-HMAC-SHA256 …`, see
//! `edgesync_core::auth::request_signing` and `docs/api.md`).
//!
//! This middleware verifies the signature, the timestamp window, the nonce and the body against
//! the signed `X-EdgeSync-Content-SHA256`, then lets the request through as the signing key: the
//! key id travels in a task-local for the request's duration and the `Authorization` header is
//! replaced by a fixed marker that only means something inside that scope. A client sending the
//! marker itself gets nothing: outside a verified scope it authenticates nobody.

use bytes::Bytes;
use edgesync_core::auth::request_signing::{self, CONTENT_SHA256_HEADER, SCHEME, SignatureHeader};
use edgesync_core::model::ApiKeyId;
use edgesync_core::{EdgeSync, Error, ErrorCode};
use futures::StreamExt;
use poem::http::header::AUTHORIZATION;
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use crate::api::error::problem_response;

/// The stand-in bearer credential of a verified signed request.
pub const SIGNED_MARKER: &str = "edgesync-signed-request";

tokio::task_local! {
    static SIGNED_KEY: ApiKeyId;
}

/// The key that signed the current request, inside a verified scope.
pub fn signed_key() -> Option<ApiKeyId> {
    SIGNED_KEY.try_with(|k| *k).ok()
}

/// Start of the error message when a streamed body does not match its signed hash;
/// [`crate::api::error::core_error_of_poem`] turns it into `request_signature_invalid`.
pub const BODY_MISMATCH: &str = "the body does not match the signed X-EdgeSync-Content-SHA256";

/// Verifies signed requests; passes everything else through untouched.
pub async fn verify<E: Endpoint>(
    next: E,
    mut req: Request,
    edgesync: EdgeSync,
) -> poem::Result<Response> {
    let Some(auth) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with(SCHEME))
        .map(str::to_owned)
    else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let fail = |e: Error| Ok(problem_response(&e));
    let header = match SignatureHeader::parse(&auth) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let Some(declared) = req
        .headers()
        .get(CONTENT_SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return fail(Error::new(
            ErrorCode::RequestSignatureInvalid,
            "signed requests carry X-EdgeSync-Content-SHA256: the body's SHA-256 in hex",
        ));
    };
    let canonical = request_signing::canonical_request(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query(),
        header.timestamp,
        &header.nonce,
        &declared,
    );
    let key_id = match edgesync.verify_signed_request(&header, &canonical) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(key_id = %header.key_id, code = %e.code(), reason = %e.message(), "signed request refused");
            return fail(e);
        }
    };
    let is_upload = req
        .content_type()
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let body = req.take_body();
    if is_upload {
        // Uploads stream: the hash is checked when the body ends, failing the upload (nothing is
        // stored) on a mismatch.
        req.set_body(Body::from_bytes_stream(verified_stream(body, declared)));
    } else {
        let bytes = match body.into_bytes().await {
            Ok(b) => b,
            Err(e) => return fail(crate::api::error::core_error_of_poem(&poem::Error::from(e))),
        };
        if hex::encode(Sha256::digest(&bytes)) != declared {
            return fail(Error::new(
                ErrorCode::RequestSignatureInvalid,
                BODY_MISMATCH,
            ));
        }
        req.set_body(Body::from(bytes));
    }
    if let Ok(v) = format!("Bearer {SIGNED_MARKER}").parse() {
        req.headers_mut().insert(AUTHORIZATION, v);
    }
    SIGNED_KEY
        .scope(key_id, async move {
            next.call(req).await.map(IntoResponse::into_response)
        })
        .await
}

fn verified_stream(
    body: Body,
    declared: String,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let inner = body.into_bytes_stream().boxed();
    futures::stream::unfold(Some((inner, Sha256::new(), declared)), |state| async move {
        let (mut inner, mut hasher, declared) = state?;
        match inner.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                Some((Ok(chunk), Some((inner, hasher, declared))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None if hex::encode(hasher.finalize()) == declared => None,
            None => Some((Err(std::io::Error::other(BODY_MISMATCH)), None)),
        }
    })
}
