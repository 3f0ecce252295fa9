//! [`Client`]: one HTTP connection pool, the base URL and the operator credentials.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::builder::ClientBuilder;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::signing::Signer;

/// The EdgeSync API client.
///
/// Cheap to clone (the connection pool and settings are shared behind an `Arc`); clones and
/// [`NodeClient`](crate::NodeClient)s made from it share one connection pool. Operator
/// endpoints are methods of this type; node endpoints are on [`Client::node`]. Its `Debug`
/// output never shows a credential.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone shares.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) api_key: Option<Secret>,
    pub(crate) signer: Option<Signer>,
    pub(crate) node_token: Option<Secret>,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_artifact_bytes: u64,
}

impl Client {
    /// Starts configuring a client for the server at `base_url` (`http://127.0.0.1:8080`,
    /// `https://edgesync.example.com`; a path prefix is kept).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The absolute URL of an API path (`/api/v1/nodes`).
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.inner.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &i.base_url.as_str())
            .field("api_key", &i.api_key)
            .field("signer", &i.signer)
            .field("node_token", &i.node_token)
            .field("timeout", &i.timeout)
            .field("retry", &i.retry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_keep_the_base_path() {
        let c = Client::builder("http://h:1/prefix/").build().unwrap();
        assert_eq!(
            c.url("/api/v1/nodes").as_str(),
            "http://h:1/prefix/api/v1/nodes"
        );
        let c = Client::builder("http://h:1").build().unwrap();
        assert_eq!(c.url("/health").as_str(), "http://h:1/health");
    }
}
