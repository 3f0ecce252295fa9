//! A request id for every request: taken from `x-request-id` when the client sends a sane one,
//! generated otherwise; echoed in the response, carried by every log line of the request and by
//! every problem body.

use std::future::Future;

use poem::{Endpoint, IntoResponse, Request, Response};

tokio::task_local! {
    static REQUEST_ID: String;
    static ERROR_CODE: std::cell::Cell<Option<&'static str>>;
}

/// Notes the error code the current request answers with (for metrics).
pub fn note_error(code: &'static str) {
    let _ = ERROR_CODE.try_with(|c| c.set(Some(code)));
}

/// The header carrying the id.
pub const HEADER: &str = "x-request-id";

/// The current request's id (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Whether the current task is serving an HTTP request.
pub fn in_request() -> bool {
    REQUEST_ID.try_with(|_| ()).is_ok()
}

/// Runs `fut` with `id` as the current request id.
pub fn scope<F: Future>(id: String, fut: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, fut)
}

fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Assigns the id, logs the request with its outcome and latency, and turns poem's own errors
/// into problem bodies.
pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = std::time::Instant::now();
    let handled = async {
        let resp = match next.call(req).await {
            Ok(resp) => resp.into_response(),
            // Our handlers' problem responses travel inside the error: keep them.
            Err(err) if err.is_from_response() => err.into_response(),
            Err(err) => {
                let core = crate::api::error::core_error_of_poem(&err);
                crate::api::error::problem_response(&core)
            }
        };
        (
            resp,
            ERROR_CODE.try_with(std::cell::Cell::get).ok().flatten(),
        )
    };
    let (mut resp, error_code) = ERROR_CODE
        .scope(
            std::cell::Cell::new(None),
            scope(
                id.clone(),
                tracing::Instrument::instrument(handled, span.clone()),
            ),
        )
        .await;
    if let Ok(v) = id.parse() {
        resp.headers_mut().insert(HEADER, v);
    }
    let elapsed = started.elapsed();
    let operation = resp
        .data::<poem_openapi::OperationId>()
        .map_or("unmatched", |o| o.0);
    let status = resp.status().as_u16();
    metrics.http(operation, method.as_str(), status, elapsed);
    if matches!(status, 401 | 403)
        && let Some(code) = error_code
    {
        metrics.auth_failure(code);
    }
    let _guard = span.enter();
    tracing::info!(
        status,
        operation,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request finished"
    );
    Ok(resp)
}
