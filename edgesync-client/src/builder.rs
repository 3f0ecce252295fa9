//! [`ClientBuilder`]: base URL, credentials, timeouts, retries, TLS roots.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use uuid::Uuid;

use crate::client::{Client, Inner};
use crate::error::{ClientError, Result};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::signing::Signer;

/// Default time a request may take (long polls get their wait on top).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to establish a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest artifact downloaded when its size is not known (the server's default
/// module limit).
const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// Configures a [`Client`]. Start with [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<Secret>,
    signer: Option<Signer>,
    node_token: Option<Secret>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    root_certificates: Vec<Vec<u8>>,
    user_agent: String,
    max_artifact_bytes: u64,
}

impl ClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            signer: None,
            node_token: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            root_certificates: Vec::new(),
            user_agent: concat!("edgesync-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
        }
    }

    /// Authenticates operator requests with this API key (`Authorization: Bearer esk_…`).
    pub fn api_key(mut self, secret: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(secret));
        self
    }

    /// Signs every operator request with this API key (HMAC-SHA256, see `docs/api.md`)
    /// instead of sending its secret. `key_id` is the key's id (`GET /api/v1/api-keys`). Takes
    /// precedence over [`api_key`](Self::api_key). Only the derived HMAC key is kept.
    pub fn signing_key(mut self, key_id: Uuid, secret: impl AsRef<str>) -> Self {
        self.signer = Some(Signer::new(key_id, secret.as_ref()));
        self
    }

    /// The node token [`Client::node`] hands to the node clients it makes.
    pub fn node_token(mut self, token: impl Into<String>) -> Self {
        self.node_token = Some(Secret::new(token));
        self
    }

    /// How long a request may take in total (default 30 s). Long polls add their wait;
    /// artifact downloads get it until the answer arrives and again between body chunks;
    /// uploads have no overall limit (wrap them in `tokio::time::timeout` if needed).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long establishing a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after the first attempt (default 2); see [`RetryPolicy`] for which.
    pub fn retries(mut self, max_retries: u32) -> Self {
        self.retry.max_retries = max_retries;
        self
    }

    /// The whole retry policy (retries and backoff).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Trusts the CA certificates of this PEM bundle in addition to the system's (for servers
    /// behind a private CA). May be called several times.
    pub fn root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// The `User-Agent` header (default `edgesync-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The largest artifact downloaded when neither the caller nor the server states its size
    /// (default 64 MiB).
    pub fn max_artifact_bytes(mut self, bytes: u64) -> Self {
        self.max_artifact_bytes = bytes;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the base URL is not an absolute `http(s)` URL or a
    /// certificate does not parse; [`ClientError::Transport`] when the HTTP stack cannot be
    /// set up.
    pub fn build(self) -> Result<Client> {
        let base_url = parse_base_url(&self.base_url)?;
        let mut http = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout);
        let mut certs = Vec::new();
        for pem in &self.root_certificates {
            let bundle = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientError::Config(format!("root certificate: {e}")))?;
            if bundle.is_empty() {
                return Err(ClientError::Config(
                    "root certificate: no certificate in the PEM data".into(),
                ));
            }
            certs.extend(bundle);
        }
        if !certs.is_empty() {
            http = http.tls_certs_merge(certs);
        }
        let http = http.build().map_err(ClientError::Transport)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key: self.api_key,
                signer: self.signer,
                node_token: self.node_token,
                timeout: self.timeout,
                retry: self.retry,
                max_artifact_bytes: self.max_artifact_bytes,
            }),
        })
    }
}

/// Parses the base URL; a trailing `/` is dropped so paths append cleanly.
fn parse_base_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| ClientError::Config(format!("base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ClientError::Config(format!(
            "base URL {raw:?}: must be an http:// or https:// URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Config(format!(
            "base URL {raw:?}: must not have a query or fragment"
        )));
    }
    Ok(url)
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("signer", &self.signer)
            .field("node_token", &self.node_token)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("root_certificates", &self.root_certificates.len())
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("http://h:8080/").unwrap().as_str(),
            "http://h:8080/"
        );
        assert_eq!(
            parse_base_url("https://h/edgesync/").unwrap().path(),
            "/edgesync"
        );
        assert!(parse_base_url("ftp://h").is_err());
        assert!(parse_base_url("h:8080").is_err());
        assert!(parse_base_url("http://h/?a=1").is_err());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let b = Client::builder("http://127.0.0.1:1")
            .api_key("esk_top_secret_api_key")
            .signing_key(Uuid::nil(), "esk_top_secret_signing")
            .node_token("eyJ.top.secret");
        let printed = format!("{b:?}");
        assert!(!printed.contains("top_secret"), "{printed}");
        assert!(!printed.contains("top.secret"), "{printed}");
        let client = b.build().unwrap();
        let printed = format!("{client:?}");
        assert!(!printed.contains("top_secret"), "{printed}");
        assert!(!printed.contains("top.secret"), "{printed}");
        let node = format!("{:?}", client.node(Uuid::nil()));
        assert!(!node.contains("top.secret"), "{node}");
    }

    #[test]
    fn bad_certificates_are_refused() {
        let err = Client::builder("https://h")
            .root_certificate("not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, ClientError::Config(_)), "{err}");
    }
}
