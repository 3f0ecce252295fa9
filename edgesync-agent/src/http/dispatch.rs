//! One request: route lookup (host, method, path) → the function → its concurrency slot →
//! the call on a blocking thread under the function's limits → the response. Every failure is
//! a clear status with a short text body, counted in the function's statistics:
//!
//! | situation | status | `X-EdgeSync-Error` |
//! |---|---|---|
//! | no route matches | 404 | `no_route` |
//! | the route's function is not installed here | 503 | `function_unavailable` |
//! | `max_concurrency` calls already running | 503 (`Retry-After: 1`) | `concurrency_limit` |
//! | body larger than the agent accepts | 413 | `request_too_large` |
//! | time limit reached | 504 | `timeout` |
//! | memory limit reached | 507 | `memory_limit` |
//! | trap, non-zero exit | 500 | `trap`, `exit_status` |
//! | output too large or not a CGI response | 502 | `output_too_large`, `bad_output` |

use std::sync::Arc;
use std::time::Instant;

use poem::http::StatusCode;
use poem::http::header::HOST;
use poem::{Request, Response};

use super::reply::{self, FUNCTION_HEADER};
use super::status;
use crate::runtime::wagi::{self, WagiRequest};
use crate::runtime::{CallInput, CallLimits, CallOutcome};
use crate::shared::Shared;
use crate::stats::Outcome;

/// Answers one request.
pub(super) async fn handle(shared: Arc<Shared>, mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if let Some(own) = path.strip_prefix("/_agent/") {
        return status::endpoint(&shared, own).await;
    }
    let routes = shared.routes.current();
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().host().map(str::to_owned));
    let method = req.method().as_str().to_owned();
    let Some(found) = routes.table.lookup(host.as_deref(), &method, &path) else {
        return reply::error(
            StatusCode::NOT_FOUND,
            "no_route",
            format!("no route matches {method} {path}"),
        );
    };
    let target = found.value.clone();
    let params = found.params.clone();
    let Some(function) = shared.functions.get(target.function_id) else {
        return reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "function_unavailable",
            "the function of this route is not installed on this node",
        );
    };
    let spec = function.spec.clone();
    let tag = format!("{}@{}", spec.name, spec.version);
    let record = |outcome: Outcome, started: Instant| {
        shared.stats.record(
            spec.function_id,
            &spec.name,
            spec.version,
            outcome,
            started.elapsed(),
        );
    };
    let started = Instant::now();
    let Ok(permit) = function.slots.clone().try_acquire_owned() else {
        record(Outcome::Rejected, started);
        let mut resp = reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "concurrency_limit",
            format!(
                "{} is running its maximum of {} concurrent requests; retry later",
                spec.name, spec.max_concurrency
            ),
        );
        resp.headers_mut()
            .insert("retry-after", poem::http::HeaderValue::from_static("1"));
        return tagged(resp, &tag);
    };
    let body = match req
        .take_body()
        .into_bytes_limit(shared.config.max_request_bytes)
        .await
    {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return tagged(
                reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    format!(
                        "the request body exceeds {} bytes",
                        shared.config.max_request_bytes
                    ),
                ),
                &tag,
            );
        }
        Err(e) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("could not read the request body: {e}"),
            );
        }
    };
    let module = match shared
        .functions
        .module(&shared.runtime, &shared.artifacts, &spec.sha256)
        .await
    {
        Ok(m) => m,
        Err(e) => {
            record(Outcome::Error, started);
            tracing::error!(function = %tag, error = %e, "module unavailable");
            return tagged(
                reply::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "function_unavailable",
                    format!("{tag} cannot run on this node right now"),
                ),
                &tag,
            );
        }
    };
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let node_name = shared.node_name();
    let env = wagi::environment(&WagiRequest {
        method: &method,
        path: &path,
        query: req.uri().query().unwrap_or(""),
        headers,
        params: &params,
        route: target.display.clone(),
        remote_addr: req
            .remote_addr()
            .as_socket_addr()
            .map(ToString::to_string)
            .unwrap_or_default(),
        content_length: body.len(),
        function_name: &spec.name,
        function_version: spec.version,
        node_name: &node_name,
    });
    let limits = CallLimits {
        entrypoint: spec.entrypoint.clone(),
        memory_pages: spec.memory_pages,
        max_execution_ms: spec.max_execution_ms,
        max_output_bytes: shared.config.max_response_bytes,
    };
    let input = CallInput {
        args: vec![spec.name.clone()],
        env,
        stdin: body,
    };
    let runtime = shared.runtime.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        runtime.invoke(&module, &limits, input)
    })
    .await;
    let outcome = match joined {
        Ok(o) => o,
        Err(e) => CallOutcome::Trapped {
            message: format!("the call's thread failed: {e}"),
            stderr: bytes::Bytes::new(),
        },
    };
    let (counted, resp) = respond(&tag, &spec, outcome);
    record(counted, started);
    tagged(resp, &tag)
}

/// The response for a call's outcome, and how it counts.
fn respond(
    tag: &str,
    spec: &crate::state::FunctionSpec,
    outcome: CallOutcome,
) -> (Outcome, Response) {
    let kind = outcome.kind();
    match outcome {
        CallOutcome::Completed { stdout, stderr } => {
            log_stderr(tag, &stderr);
            match wagi::parse_output(&stdout).and_then(reply::from_wagi) {
                Ok(resp) => (Outcome::Ok, resp),
                Err(e) => {
                    tracing::warn!(function = %tag, error = %e, "the function's output is not a CGI response");
                    (
                        Outcome::Error,
                        reply::error(
                            StatusCode::BAD_GATEWAY,
                            "bad_output",
                            format!("{tag} wrote an invalid response: {e}"),
                        ),
                    )
                }
            }
        }
        CallOutcome::TimedOut => {
            tracing::warn!(function = %tag, limit_ms = spec.max_execution_ms, "time limit reached");
            (
                Outcome::Timeout,
                reply::error(
                    StatusCode::GATEWAY_TIMEOUT,
                    kind,
                    format!(
                        "{tag} exceeded its time limit of {} ms",
                        spec.max_execution_ms
                    ),
                ),
            )
        }
        CallOutcome::MemoryLimit => {
            tracing::warn!(function = %tag, limit_pages = spec.memory_pages, "memory limit reached");
            (
                Outcome::MemoryLimit,
                reply::error(
                    StatusCode::INSUFFICIENT_STORAGE,
                    kind,
                    format!(
                        "{tag} exceeded its memory limit of {} pages ({} KiB)",
                        spec.memory_pages,
                        u64::from(spec.memory_pages) * 64
                    ),
                ),
            )
        }
        CallOutcome::OutputTooLarge => (
            Outcome::Error,
            reply::error(
                StatusCode::BAD_GATEWAY,
                kind,
                format!("{tag} wrote more than the agent's response limit"),
            ),
        ),
        CallOutcome::Exited { code, stderr } => {
            log_stderr(tag, &stderr);
            (
                Outcome::Error,
                reply::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    kind,
                    format!("{tag} exited with status {code}"),
                ),
            )
        }
        CallOutcome::Trapped { message, stderr } => {
            log_stderr(tag, &stderr);
            tracing::warn!(function = %tag, trap = %message, "the function trapped");
            (
                Outcome::Error,
                reply::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    kind,
                    format!("{tag} trapped: {message}"),
                ),
            )
        }
    }
}

fn log_stderr(tag: &str, stderr: &[u8]) {
    if !stderr.is_empty() {
        tracing::debug!(function = %tag, stderr = %String::from_utf8_lossy(stderr), "function stderr");
    }
}

fn tagged(mut resp: Response, tag: &str) -> Response {
    if let Ok(v) = poem::http::HeaderValue::from_str(tag) {
        resp.headers_mut().insert(FUNCTION_HEADER, v);
    }
    resp
}
