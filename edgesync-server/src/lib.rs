//! # edgesync-server
//!
//! The `edgesync` binary: the HTTP face of [`edgesync_core::EdgeSync`]. This crate is the only
//! one that knows HTTP. It wires backends from URLs, serves the OpenAPI-described API, and runs
//! the background jobs.

pub mod api;
pub mod body_limit;
pub mod config;
pub mod jobs;
pub mod request_id;
pub mod signing;
pub mod wiring;

use edgesync_core::EdgeSync;
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Route};

/// Limits the HTTP layer enforces.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Largest JSON request body.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The whole HTTP application over a control plane: the API, `/openapi.json`, Swagger UI at
/// `/docs`, request ids, logging and problem bodies for every error.
pub fn app(edgesync: &EdgeSync, limits: HttpLimits) -> impl Endpoint + 'static {
    let service = api::service(edgesync);
    let spec = service.spec();
    let docs = service.swagger_ui();
    Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .nest("/docs", docs)
        .at("/", make_sync(|_| Html(INDEX).into_response()))
        .nest("/", service)
        .around({
            let edgesync = edgesync.clone();
            move |ep, req| signing::verify(ep, req, edgesync.clone())
        })
        .around(move |ep, req| body_limit::limit(ep, req, limits.max_body_bytes))
        .around(request_id::middleware)
}

/// The OpenAPI document, as checked in under `openapi/openapi.json`. It does not depend on the
/// control plane's state, so an in-memory instance describes it.
pub async fn openapi_json() -> edgesync_core::Result<String> {
    let edgesync = wiring::in_memory().await?;
    Ok(api::service(&edgesync).spec())
}

const INDEX: &str = "<!doctype html><title>EdgeSync</title><h1>EdgeSync control plane</h1>\
<p><a href=\"/docs\">API documentation</a> · <a href=\"/openapi.json\">OpenAPI document</a> · \
<a href=\"/health\">health</a> · <a href=\"/ready\">readiness</a></p>";
