//! # edgesync-server
//!
//! The `edgesync` binary: the HTTP face of [`edgesync_core::EdgeSync`]. This crate is the only
//! one that knows HTTP. It wires backends from URLs, serves the OpenAPI-described API, and runs
//! the background jobs.

pub mod allow;
pub mod api;
pub mod body_limit;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod signing;
pub mod tls;
pub mod wiring;

use edgesync_core::EdgeSync;
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Route};

/// Limits the HTTP layer enforces.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Largest JSON request body.
    pub max_body_bytes: usize,
    /// Average requests per second per API key, node token or unauthenticated client address;
    /// 0 disables rate limiting.
    pub rate_limit_rps: u32,
    /// Requests a client may make at once before the rate applies; 0 means the rate itself.
    pub rate_limit_burst: u32,
    /// Uploads in progress at once; 0 means unbounded.
    pub max_concurrent_uploads: usize,
    /// How long a request may take (uploads and long polls excepted); `None`: no limit.
    pub request_timeout: Option<std::time::Duration>,
    /// Serve `GET /bench/hello`: a trivial route benchmarks measure the server against.
    pub bench_routes: bool,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            rate_limit_rps: 100,
            rate_limit_burst: 200,
            max_concurrent_uploads: 4,
            request_timeout: Some(std::time::Duration::from_secs(30)),
            bench_routes: false,
        }
    }
}

/// The whole HTTP application over a control plane: the API, `/openapi.json`, Swagger UI at
/// `/docs`, `/metrics`, request ids, logging, rate limits and a request deadline
/// ([`rate_limit`]), and problem bodies for every error.
pub fn app(edgesync: &EdgeSync, limits: HttpLimits) -> impl Endpoint + 'static {
    app_with_metrics(
        edgesync,
        limits,
        std::sync::Arc::new(metrics::Metrics::new()),
    )
}

/// [`app`] recording into `metrics` (shared with the metered store and artifact store that
/// [`wiring::build_instrumented`] wraps).
pub fn app_with_metrics(
    edgesync: &EdgeSync,
    limits: HttpLimits,
    metrics: std::sync::Arc<metrics::Metrics>,
) -> impl Endpoint + 'static {
    let service = api::service(edgesync);
    let spec = service.spec();
    let docs = service.swagger_ui();
    let rate = rate_limit::RateLimiter::new(limits.rate_limit_rps, limits.rate_limit_burst)
        .map(std::sync::Arc::new);
    let uploads = rate_limit::upload_slots(limits.max_concurrent_uploads);
    let allowed = std::sync::Arc::new(allow::AllowedMethods::from_spec(&spec));
    let other = Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .nest("/docs", docs)
        .at(
            "/bench/hello",
            // Without --bench-routes, the same problem body as any unknown path.
            poem::endpoint::make(move |_| async move {
                if limits.bench_routes {
                    Ok::<_, poem::Error>("hello".into_response())
                } else {
                    Err(poem::error::NotFoundError.into())
                }
            }),
        )
        .at("/metrics", {
            let edgesync = edgesync.clone();
            let metrics = metrics.clone();
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                    .body(metrics.render(&edgesync))
            })
        })
        .at("/", make_sync(|_| Html(INDEX).into_response()));
    Dispatch {
        api: service.data(metrics.clone()).into_endpoint(),
        other,
    }
    .around(move |ep, req| allow::middleware(ep, req, allowed.clone()))
    .around({
        let edgesync = edgesync.clone();
        move |ep, req| signing::verify(ep, req, edgesync.clone())
    })
    .around(move |ep, req| body_limit::limit(ep, req, limits.max_body_bytes))
    .around(move |ep, req| rate_limit::timeout(ep, req, limits.request_timeout))
    .around(move |ep, req| rate_limit::limit_uploads(ep, req, uploads.clone()))
    .around(move |ep, req| rate_limit::limit_rate(ep, req, rate.clone()))
    .around(move |ep, req| request_id::middleware(ep, req, metrics.clone()))
}

/// Sends the few paths outside the API (the document, its UI, the bench route, metrics, the
/// index) to a small router and every other request straight to the OpenAPI service. Nesting
/// the service under `/` instead cost every API request a second route match, a rewritten URI
/// and a boxed endpoint (docs/performance.md, the 304 profile).
struct Dispatch<A> {
    api: A,
    other: Route,
}

impl<A: Endpoint> Endpoint for Dispatch<A> {
    type Output = poem::Response;

    // A plain `Either` of the two futures rather than an `async fn`: with one more state
    // machine, the future the seven middleware layers nest around it passes the compiler's
    // default type-layout depth, in every crate that runs the app.
    fn call(
        &self,
        req: poem::Request,
    ) -> impl std::future::Future<Output = poem::Result<poem::Response>> + Send {
        use futures::future::{Either, TryFutureExt};
        let path = req.uri().path();
        let outside_api = matches!(path, "/" | "/openapi.json" | "/bench/hello" | "/metrics")
            || path == "/docs"
            || path.starts_with("/docs/");
        if outside_api {
            Either::Left(self.other.call(req))
        } else {
            Either::Right(self.api.call(req).map_ok(IntoResponse::into_response))
        }
    }
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
