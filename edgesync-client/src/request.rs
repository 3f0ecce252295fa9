//! One API call: how it is described ([`Call`]), authenticated, signed, sent, retried and
//! decoded. Every endpoint method is a few lines that build a `Call` and pick a decoder.

use std::time::Duration;

use bytes::Bytes;
use edgesync_wire::Problem;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::multipart::Upload;
use crate::retry::{Idempotency, retry_problem, retry_transport};
use crate::secret::Secret;
use crate::signing::{self, CONTENT_SHA256_HEADER, EMPTY_BODY_SHA256};

/// Most characters of a non-problem error body kept in [`ClientError::UnexpectedStatus`].
const MAX_ERROR_BODY_CHARS: usize = 512;

/// Which credential a call carries.
pub(crate) enum Auth {
    /// None (health, signed artifact URLs, refresh-secret exchange).
    None,
    /// The operator's API key: signed when a signing key is configured, bearer otherwise.
    Operator,
    /// A node token (bearer).
    Node(Option<Secret>),
}

/// The request body.
pub(crate) enum Payload {
    Empty,
    Json(Bytes),
    Upload(Box<Upload>),
}

/// How long a call may take.
#[derive(Clone, Copy)]
pub(crate) enum Deadline {
    /// The client's timeout plus this much (long polls add their wait).
    Total(Duration),
    /// The client's timeout until the answer's head; the caller bounds the body (downloads).
    Head,
    /// No overall limit (uploads: sending the body takes as long as it takes).
    None,
}

/// One API call, described.
pub(crate) struct Call {
    method: Method,
    url: UrlSpec,
    query: Vec<(&'static str, String)>,
    headers: HeaderMap,
    payload: Payload,
    auth: Auth,
    idempotency: Idempotency,
    conditional: bool,
    deadline: Deadline,
    accept: &'static [StatusCode],
}

enum UrlSpec {
    Path(String),
    Absolute(Url),
}

impl Call {
    fn new(method: Method, path: impl Into<String>, idempotency: Idempotency) -> Self {
        Self {
            method,
            url: UrlSpec::Path(path.into()),
            query: Vec::new(),
            headers: HeaderMap::new(),
            payload: Payload::Empty,
            auth: Auth::Operator,
            idempotency,
            conditional: false,
            deadline: Deadline::Total(Duration::ZERO),
            accept: &[],
        }
    }

    /// `GET path` (operator credentials; idempotent).
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, Idempotency::Idempotent)
    }

    /// `GET url` for an absolute URL, without credentials (signed artifact URLs).
    pub(crate) fn get_url(url: Url) -> Self {
        let mut call = Self::new(Method::GET, String::new(), Idempotency::Idempotent);
        call.url = UrlSpec::Absolute(url);
        call.auth = Auth::None;
        call
    }

    /// `PUT url` for an absolute URL, without credentials (signed upload URLs; idempotent).
    pub(crate) fn put_url(url: Url) -> Self {
        let mut call = Self::new(Method::PUT, String::new(), Idempotency::Idempotent);
        call.url = UrlSpec::Absolute(url);
        call.auth = Auth::None;
        call
    }

    /// `PUT path` (idempotent).
    pub(crate) fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path, Idempotency::Idempotent)
    }

    /// `DELETE path` (idempotent).
    pub(crate) fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path, Idempotency::Idempotent)
    }

    /// `POST path`: not idempotent unless [`idempotent`](Self::idempotent) says so.
    pub(crate) fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path, Idempotency::NotIdempotent)
    }

    /// `PATCH path`: not idempotent unless [`idempotent`](Self::idempotent) says so.
    pub(crate) fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path, Idempotency::NotIdempotent)
    }

    /// The API makes this request idempotent: repeating it is safe.
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }

    /// A JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ClientError::InvalidArgument(format!("body does not serialize: {e}")))?;
        self.payload = Payload::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// A multipart upload body.
    pub(crate) fn upload(mut self, upload: Upload) -> Self {
        self.payload = Payload::Upload(Box::new(upload));
        self.deadline = Deadline::None;
        self
    }

    /// A query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// A query parameter, when present.
    pub(crate) fn query_opt(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// A header.
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value).map_err(|_| {
            ClientError::InvalidArgument(format!("{name}: {value:?} is not a valid header value"))
        })?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// `If-Match`: the change applies only to this revision; a `revision_conflict` answer is
    /// then final, not retried.
    pub(crate) fn if_match(mut self, revision: Option<u64>) -> Result<Self> {
        if let Some(r) = revision {
            self = self.header(reqwest::header::IF_MATCH, &format!("\"{r}\""))?;
            self.conditional = true;
        }
        Ok(self)
    }

    /// Authenticate with a node token.
    pub(crate) fn node_auth(mut self, token: Option<Secret>) -> Self {
        self.auth = Auth::Node(token);
        self
    }

    /// Send no credentials.
    pub(crate) fn no_auth(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    /// Allow this much on top of the client's timeout (long polls).
    pub(crate) fn extra_time(mut self, extra: Duration) -> Self {
        self.deadline = Deadline::Total(extra);
        self
    }

    /// The client's timeout applies until the answer's head only; the caller bounds the body.
    pub(crate) fn head_deadline(mut self) -> Self {
        self.deadline = Deadline::Head;
        self
    }

    /// Error statuses whose answers the caller decodes itself (`/ready`'s 503).
    pub(crate) fn accept(mut self, statuses: &'static [StatusCode]) -> Self {
        self.accept = statuses;
        self
    }
}

impl Client {
    /// Sends a call, retrying per the policy; returns a 2xx or 304 answer (or an accepted
    /// status), and a [`ClientError`] otherwise.
    pub(crate) async fn send(&self, mut call: Call) -> Result<Response> {
        let url = self.resolve(&call);
        let policy = self.inner.retry;
        let mut retry = 0u32;
        loop {
            let request = self.build(&mut call, &url).await?;
            let replayable = match &call.payload {
                Payload::Upload(u) => u.replayable(),
                _ => true,
            };
            let may_retry = retry < policy.max_retries && replayable;
            let sent = self.inner.http.execute(request);
            let result = match call.deadline {
                Deadline::Head => match tokio::time::timeout(self.inner.timeout, sent).await {
                    Ok(result) => result,
                    Err(_) if may_retry && call.idempotency == Idempotency::Idempotent => {
                        tokio::time::sleep(policy.delay(retry, None)).await;
                        retry += 1;
                        continue;
                    }
                    Err(_) => {
                        return Err(ClientError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no answer within the client's timeout",
                        )));
                    }
                },
                _ => sent.await,
            };
            match result {
                Err(e) => {
                    if may_retry && retry_transport(&e, call.idempotency) {
                        let delay = policy.delay(retry, None);
                        tracing::debug!(url = %url, error = %e, attempt = retry + 1, ?delay, "retrying after a transport error");
                        tokio::time::sleep(delay).await;
                        retry += 1;
                        continue;
                    }
                    return Err(ClientError::Transport(e));
                }
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success()
                        || status == StatusCode::NOT_MODIFIED
                        || call.accept.contains(&status)
                    {
                        return Ok(resp);
                    }
                    let retry_after = retry_after(resp.headers());
                    let err = error_of(resp).await;
                    if let ClientError::Problem { problem, .. } = &err
                        && may_retry
                        && retry_problem(problem, call.idempotency, call.conditional)
                    {
                        let delay = policy.delay(retry, retry_after);
                        tracing::debug!(url = %url, code = %problem.code, attempt = retry + 1, ?delay, "retrying a retryable problem");
                        tokio::time::sleep(delay).await;
                        retry += 1;
                        continue;
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Sends a call and decodes its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        Ok(self.json_with_status(call).await?.1)
    }

    /// Sends a call and decodes its JSON answer, with the status.
    pub(crate) async fn json_with_status<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<(StatusCode, T)> {
        let resp = self.send(call).await?;
        decode(resp).await
    }

    /// Sends a call whose answer has no body worth reading (`204`).
    pub(crate) async fn empty(&self, call: Call) -> Result<()> {
        self.send(call).await.map(drop)
    }

    fn resolve(&self, call: &Call) -> Url {
        let mut url = match &call.url {
            UrlSpec::Path(p) => self.url(p),
            UrlSpec::Absolute(u) => u.clone(),
        };
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &call.query {
                pairs.append_pair(name, value);
            }
        }
        url
    }

    /// The request for one attempt (fresh nonce and timestamp each time).
    async fn build(&self, call: &mut Call, url: &Url) -> Result<reqwest::Request> {
        let mut req = self.inner.http.request(call.method.clone(), url.clone());
        req = req.headers(call.headers.clone());
        if let Deadline::Total(extra) = call.deadline {
            req = req.timeout(self.inner.timeout.saturating_add(extra));
        }
        let body_sha256 = match &mut call.payload {
            Payload::Empty => EMPTY_BODY_SHA256.to_owned(),
            Payload::Json(bytes) => {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
                signing::body_sha256(bytes)
            }
            Payload::Upload(upload) => {
                req = req.header(CONTENT_TYPE, upload.content_type());
                if let Some(len) = upload.len {
                    req = req.header(CONTENT_LENGTH, len);
                }
                let hash = upload.sha256.clone().unwrap_or_default();
                req = req.body(reqwest::Body::wrap_stream(upload.stream().await?));
                hash
            }
        };
        match &call.auth {
            Auth::None => {}
            Auth::Operator => {
                if let Some(signer) = &self.inner.signer {
                    req = req
                        .header(
                            AUTHORIZATION,
                            signer.authorize(call.method.as_str(), url, &body_sha256),
                        )
                        .header(CONTENT_SHA256_HEADER, body_sha256);
                } else if let Some(key) = &self.inner.api_key {
                    req = req.bearer_auth(key.expose());
                }
            }
            Auth::Node(token) => match token {
                Some(t) => req = req.bearer_auth(t.expose()),
                None => {
                    return Err(ClientError::Config(
                        "this node endpoint needs a node token: set one with \
                         ClientBuilder::node_token or NodeClient::set_token"
                            .into(),
                    ));
                }
            },
        }
        req.build().map_err(ClientError::Transport)
    }

    /// Whether uploads must carry their body hash (operator calls on a signing client).
    pub(crate) fn signs(&self) -> bool {
        self.inner.signer.is_some()
    }
}

/// Decodes a successful JSON answer.
pub(crate) async fn decode<T: DeserializeOwned>(resp: Response) -> Result<(StatusCode, T)> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(ClientError::Transport)?;
    let value =
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode { status, source })?;
    Ok((status, value))
}

/// The error an unsuccessful answer stands for.
pub(crate) async fn error_of(resp: Response) -> ClientError {
    let status = resp.status();
    match resp.bytes().await {
        Ok(bytes) => problem_or_unexpected(status, &bytes),
        Err(e) => ClientError::Transport(e),
    }
}

/// A problem answer when the body is one, an unexpected status otherwise.
pub(crate) fn problem_or_unexpected(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Problem>(body) {
        Ok(problem) => ClientError::Problem {
            status,
            problem: Box::new(problem),
        },
        Err(_) => ClientError::UnexpectedStatus {
            status,
            body: String::from_utf8_lossy(body)
                .chars()
                .take(MAX_ERROR_BODY_CHARS)
                .collect(),
        },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the server).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
