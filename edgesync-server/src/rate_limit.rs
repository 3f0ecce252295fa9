//! Keeps one client from starving the others (FN-12.2): a token bucket per credential, a bound
//! on uploads in progress, and a deadline for everything else. Each is a poem middleware
//! function; refusals are problem bodies (`rate_limited` 429 with `Retry-After`,
//! `service_unavailable` 503).
//!
//! Buckets are keyed without authenticating (that is the handlers' job, done once) and without
//! keeping secrets: a bearer credential (API key or node token) is keyed by a SHA-256 prefix of
//! the whole credential, so a forged token never lands in someone else's bucket; an HMAC-signed
//! request by the key id it names *and* the client address (the id alone is public, so keying
//! by it would let anyone drain a key's bucket); anything else by the client address (IPv6 by
//! its /64). `/health` and `/ready` are never limited.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use edgesync_core::auth::request_signing::SignatureHeader;
use edgesync_core::{Error, ErrorCode};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use poem::http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use poem::http::{HeaderMap, Method};
use poem::web::RemoteAddr;
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::api::error::problem_response;

/// Paths that are never rate limited (probes must see the truth while clients are throttled).
pub const EXEMPT_PATHS: [&str; 2] = ["/health", "/ready"];

/// How many checks between sweeps of idle buckets.
const SWEEP_EVERY: u64 = 4096;

static RATE_LIMITED: AtomicU64 = AtomicU64::new(0);

/// Requests refused with `rate_limited` since the process started (rate and upload limits).
pub fn rate_limited_total() -> u64 {
    RATE_LIMITED.load(Ordering::Relaxed)
}

/// A token bucket per client.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl RateLimiter {
    /// Buckets refilling at `rps` tokens a second and holding `burst` (0: `rps`); `None` when
    /// `rps` is 0 (rate limiting off).
    pub fn new(rps: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(rps)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            buckets: governor::RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            checks: AtomicU64::new(0),
        })
    }

    /// Takes a token from `key`'s bucket, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        // Buckets of clients that went quiet are full again and can go: sweep now and then so
        // a stream of new keys (forged credentials, many addresses) cannot grow the map forever.
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
        self.buckets
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.buckets.clock().now()))
    }

    /// Buckets currently tracked.
    pub fn tracked_keys(&self) -> usize {
        self.buckets.len()
    }
}

/// The bucket a request draws from. Never contains a secret.
pub fn bucket_key(headers: &HeaderMap, remote: &RemoteAddr) -> String {
    let Some(auth) = headers.get(AUTHORIZATION) else {
        return format!("addr:{}", client_address(remote));
    };
    if let Some(signed) = auth
        .to_str()
        .ok()
        .and_then(|v| SignatureHeader::parse(v).ok())
    {
        return format!("signed:{}@{}", signed.key_id, client_address(remote));
    }
    let digest = Sha256::digest(auth.as_bytes());
    format!("credential:{}", hex::encode(&digest[..16]))
}

/// The client's address as a bucket name: the IP (not the port), IPv6 by its /64 since one
/// client usually holds a whole /64.
fn client_address(remote: &RemoteAddr) -> String {
    match remote.as_socket_addr().map(|a| a.ip().to_canonical()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let s = ip.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(wait: Duration, message: String) -> Response {
    RATE_LIMITED.fetch_add(1, Ordering::Relaxed);
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    tracing::info!(retry_after_s = seconds, "{message}");
    let mut resp = problem_response(&Error::new(
        ErrorCode::RateLimited,
        format!("{message}; retry after {seconds} s"),
    ));
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    resp
}

/// Refuses requests whose bucket is empty (`limiter` `None`: no limit).
pub async fn limit_rate<E: Endpoint>(
    next: E,
    req: Request,
    limiter: Option<Arc<RateLimiter>>,
) -> poem::Result<Response> {
    if let Some(limiter) = limiter
        && !EXEMPT_PATHS.contains(&req.uri().path())
    {
        let key = bucket_key(req.headers(), req.remote_addr());
        if let Err(wait) = limiter.check(&key) {
            let whose = match key.split(':').next() {
                Some("credential") => "credential",
                Some("signed") => "API key from this address",
                _ => "client address",
            };
            return Ok(too_many_requests(
                wait,
                format!("too many requests for this {whose}"),
            ));
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The semaphore bounding uploads in progress (`None` for 0: unbounded).
pub fn upload_slots(max: usize) -> Option<Arc<Semaphore>> {
    (max > 0).then(|| Arc::new(Semaphore::new(max)))
}

/// Whether a request is an upload: a streamed `multipart/form-data` body, or a raw module `PUT`
/// to a signed upload URL (`/api/v1/uploads/…`), which [`crate::body_limit`] leaves to the upload
/// handler to bound (by the maximum module size).
pub fn is_upload(req: &Request) -> bool {
    req.content_type()
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
        || (req.method() == Method::PUT && req.uri().path().starts_with("/api/v1/uploads/"))
}

/// Refuses an upload at once (429, `Retry-After: 1`) when `slots` are all taken, rather than
/// queueing it behind slow clients.
pub async fn limit_uploads<E: Endpoint>(
    next: E,
    req: Request,
    slots: Option<Arc<Semaphore>>,
) -> poem::Result<Response> {
    let _permit = match slots {
        Some(slots) if is_upload(&req) => match slots.try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                return Ok(too_many_requests(
                    Duration::from_secs(1),
                    "too many uploads in progress".to_owned(),
                ));
            }
        },
        _ => None,
    };
    next.call(req).await.map(IntoResponse::into_response)
}

/// Whether a request is exempt from the deadline: uploads (bounded by size instead) and
/// long-poll sync requests (`GET /api/v1/nodes/{id}/sync?wait=…`, bounded by `wait`).
pub fn is_exempt_from_timeout(req: &Request) -> bool {
    is_upload(req) || is_long_poll(req)
}

fn is_long_poll(req: &Request) -> bool {
    let is_sync_path = req
        .uri()
        .path()
        .strip_prefix("/api/v1/nodes/")
        .and_then(|rest| rest.strip_suffix("/sync"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    req.method() == Method::GET
        && is_sync_path
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.split('=').next() == Some("wait"))
        })
}

/// Answers 503 `service_unavailable` when the handler has not answered within `after` (`None`:
/// no deadline). The handler is dropped, as when a client disconnects.
pub async fn timeout<E: Endpoint>(
    next: E,
    req: Request,
    after: Option<Duration>,
) -> poem::Result<Response> {
    let after = match after {
        Some(after) if !is_exempt_from_timeout(&req) => after,
        _ => return next.call(req).await.map(IntoResponse::into_response),
    };
    match tokio::time::timeout(after, next.call(req)).await {
        Ok(resp) => resp.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(timeout_ms = after.as_millis() as u64, "request timed out");
            Ok(problem_response(&Error::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "the request did not complete within {} s; retry later",
                    after.as_secs_f64()
                ),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(auth) = auth {
            h.insert(AUTHORIZATION, auth.parse().unwrap());
        }
        h
    }

    fn addr(s: &str) -> RemoteAddr {
        RemoteAddr(poem::Addr::SocketAddr(s.parse().unwrap()))
    }

    #[test]
    fn bearer_credentials_are_keyed_by_a_hash_of_the_whole_credential() {
        let a = bucket_key(&headers(Some("Bearer esk_secret-a")), &addr("10.0.0.1:1"));
        let b = bucket_key(&headers(Some("Bearer esk_secret-b")), &addr("10.0.0.1:1"));
        let a_elsewhere = bucket_key(&headers(Some("Bearer esk_secret-a")), &addr("10.9.9.9:2"));
        assert!(a.starts_with("credential:"), "{a}");
        assert!(!a.contains("secret"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, a_elsewhere);
    }

    #[test]
    fn anonymous_requests_are_keyed_by_address_without_port_and_ipv6_by_64() {
        assert_eq!(
            bucket_key(&headers(None), &addr("10.0.0.1:1234")),
            "addr:10.0.0.1"
        );
        assert_eq!(
            bucket_key(&headers(None), &addr("10.0.0.1:1234")),
            bucket_key(&headers(None), &addr("10.0.0.1:9999"))
        );
        assert_eq!(
            bucket_key(&headers(None), &addr("[2001:db8:1:2:aaaa::1]:80")),
            bucket_key(&headers(None), &addr("[2001:db8:1:2:bbbb::7]:80"))
        );
        assert_eq!(
            bucket_key(&headers(None), &addr("[::ffff:10.0.0.1]:1")),
            "addr:10.0.0.1"
        );
        assert_eq!(
            bucket_key(&headers(None), &RemoteAddr::default()),
            "addr:unknown"
        );
    }

    #[test]
    fn signed_requests_are_keyed_by_key_id_and_address() {
        let id = uuid::Uuid::now_v7();
        let header = |sig: &str| {
            format!(
                "EdgeSync-HMAC-SHA256 Credential={id}, Timestamp=1700000000, Nonce=abcdefgh12345678, Signature={sig}"
            )
        };
        let one = bucket_key(
            &headers(Some(&header(&"a".repeat(64)))),
            &addr("10.0.0.1:1"),
        );
        let two = bucket_key(
            &headers(Some(&header(&"b".repeat(64)))),
            &addr("10.0.0.1:2"),
        );
        let other = bucket_key(
            &headers(Some(&header(&"a".repeat(64)))),
            &addr("10.0.0.2:1"),
        );
        assert!(one.starts_with("signed:"), "{one}");
        assert_eq!(one, two, "every signature of a key shares its bucket");
        assert_ne!(one, other);
    }

    #[test]
    fn buckets_refill_and_say_how_long_to_wait() {
        let limiter = RateLimiter::new(1, 3).unwrap();
        for _ in 0..3 {
            limiter.check("k").unwrap();
        }
        let wait = limiter.check("k").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        limiter.check("other").unwrap();
        assert_eq!(limiter.tracked_keys(), 2);
        assert!(RateLimiter::new(0, 10).is_none());
    }

    #[test]
    fn long_polls_and_uploads_have_no_deadline() {
        let req = |method: Method, uri: &str, ct: Option<&str>| {
            let mut b = Request::builder().method(method).uri(uri.parse().unwrap());
            if let Some(ct) = ct {
                b = b.content_type(ct);
            }
            b.finish()
        };
        assert!(is_exempt_from_timeout(&req(
            Method::GET,
            "/api/v1/nodes/abc/sync?wait=30",
            None
        )));
        assert!(is_exempt_from_timeout(&req(
            Method::GET,
            "/api/v1/nodes/abc/sync?x=1&wait=5",
            None
        )));
        assert!(!is_exempt_from_timeout(&req(
            Method::GET,
            "/api/v1/nodes/abc/sync",
            None
        )));
        assert!(!is_exempt_from_timeout(&req(
            Method::GET,
            "/api/v1/nodes/abc/sync?waiting=1",
            None
        )));
        assert!(!is_exempt_from_timeout(&req(
            Method::GET,
            "/api/v1/nodes/a/b/sync?wait=1",
            None
        )));
        assert!(!is_exempt_from_timeout(&req(
            Method::POST,
            "/api/v1/nodes/abc/sync?wait=1",
            None
        )));
        assert!(is_exempt_from_timeout(&req(
            Method::POST,
            "/api/v1/functions",
            Some("multipart/form-data; boundary=x")
        )));
        assert!(!is_exempt_from_timeout(&req(
            Method::POST,
            "/api/v1/functions",
            Some("application/json")
        )));
    }
}
