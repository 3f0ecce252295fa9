//! Parsing artifact store URLs into a typed configuration. Pure: no I/O, no environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use edgesync_core::{Error, Result};
use url::Url;

const SUPPORTED: &str = "supported: memory://, file:///absolute/path, \
     s3://bucket?endpoint=http://host:port&region=us-east-1&prefix=some/prefix";

/// Where artifacts are stored, as parsed from a URL by [`ArtifactStoreConfig::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactStoreConfig {
    /// `memory://`: in process memory, lost on exit.
    Memory,
    /// `file:///abs/path`: a local directory, created when missing.
    File {
        /// The directory holding `wasm/` and `staging/`.
        root: PathBuf,
    },
    /// `s3://bucket?…`: an S3 bucket or an S3-compatible server.
    S3(S3Config),
}

/// The configuration of an S3 artifact store.
///
/// Credentials are not part of the URL: unless set here, they come from the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …) when the store is
/// opened. `Debug` never prints the secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket name.
    pub bucket: String,
    /// A custom endpoint (`http://127.0.0.1:9000`); plain HTTP is allowed when it is `http://`.
    /// `None` means AWS itself (or `AWS_ENDPOINT` from the environment).
    pub endpoint: Option<String>,
    /// The region; `None` means `AWS_DEFAULT_REGION` from the environment, else `us-east-1`.
    pub region: Option<String>,
    /// A key prefix every object is stored under (`team-a/artifacts`), without slashes at
    /// either end.
    pub prefix: Option<String>,
    /// The access key id; `None` means `AWS_ACCESS_KEY_ID` from the environment.
    pub access_key_id: Option<String>,
    /// The secret access key; `None` means `AWS_SECRET_ACCESS_KEY` from the environment.
    pub secret_access_key: Option<String>,
}

impl S3Config {
    /// Sets explicit credentials instead of the ones from the environment.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// Whether the endpoint is plain HTTP.
    pub fn allows_http(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ArtifactStoreConfig {
    /// Parses an artifact store URL.
    ///
    /// # Behavior
    /// - `memory://` (nothing after it).
    /// - `file:///abs/path`: an absolute local path; no host, query or fragment.
    /// - `s3://bucket` with optional query parameters `endpoint` (`http(s)://host[:port]`),
    ///   `region` and `prefix`; no path, port, credentials or unknown parameters.
    /// - Anything else fails with `invalid_request`, naming the supported schemes. The message
    ///   never repeats the URL, so a pasted secret does not end up in logs.
    pub fn parse(url: &str) -> Result<Self> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::invalid(format!(
                "the artifact store URL does not parse ({e}); {SUPPORTED}"
            ))
        })?;
        match parsed.scheme() {
            "memory" => parse_memory(&parsed),
            "file" => parse_file(&parsed),
            "s3" => parse_s3(&parsed).map(Self::S3),
            other => Err(Error::invalid(format!(
                "unsupported artifact store URL scheme {other:?}; {SUPPORTED}"
            ))),
        }
    }
}

impl FromStr for ArtifactStoreConfig {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn parse_memory(url: &Url) -> Result<ArtifactStoreConfig> {
    let bare = url.host_str().unwrap_or_default().is_empty()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none();
    if bare {
        Ok(ArtifactStoreConfig::Memory)
    } else {
        Err(Error::invalid(
            "a memory:// artifact store URL takes no host, path or parameters",
        ))
    }
}

fn parse_file(url: &Url) -> Result<ArtifactStoreConfig> {
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "a file:// artifact store URL takes no parameters",
        ));
    }
    match url.to_file_path() {
        Ok(root) if root.is_absolute() && root.parent().is_some() => {
            Ok(ArtifactStoreConfig::File { root })
        }
        _ => Err(Error::invalid(
            "a file:// artifact store URL needs an absolute directory below /, \
             e.g. file:///var/lib/edgesync/artifacts",
        )),
    }
}

fn parse_s3(url: &Url) -> Result<S3Config> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "credentials do not belong in an s3:// URL; \
             set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
        ));
    }
    if url.port().is_some() {
        return Err(Error::invalid(
            "an s3:// URL names a bucket, not a server; put the server in ?endpoint=",
        ));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(Error::invalid(
            "an s3:// URL takes no path; use ?prefix= to store under a key prefix",
        ));
    }
    if url.fragment().is_some() {
        return Err(Error::invalid("an s3:// URL takes no fragment"));
    }
    let bucket = url.host_str().unwrap_or_default();
    if !valid_bucket(bucket) {
        return Err(Error::invalid(
            "an s3:// URL needs a bucket name of 3 to 63 lowercase letters, digits, '.' and '-'",
        ));
    }

    let mut config = S3Config {
        bucket: bucket.to_owned(),
        ..S3Config::default()
    };
    for (name, value) in url.query_pairs() {
        let slot = match name.as_ref() {
            "endpoint" => &mut config.endpoint,
            "region" => &mut config.region,
            "prefix" => &mut config.prefix,
            other => {
                return Err(Error::invalid(format!(
                    "unknown s3:// URL parameter {other:?}; known: endpoint, region, prefix"
                )));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(Error::invalid(format!(
                "the s3:// URL parameter {name:?} is given twice"
            )));
        }
    }
    validate_endpoint(config.endpoint.as_deref())?;
    if config.region.as_deref().is_some_and(str::is_empty) {
        return Err(Error::invalid("the s3:// URL parameter region is empty"));
    }
    validate_prefix(config.prefix.as_deref())?;
    Ok(config)
}

fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

fn validate_endpoint(endpoint: Option<&str>) -> Result<()> {
    let Some(endpoint) = endpoint else {
        return Ok(());
    };
    let ok = Url::parse(endpoint).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.username().is_empty()
            && u.password().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "the s3:// URL parameter endpoint must be an http:// or https:// URL \
             without credentials, e.g. endpoint=http://127.0.0.1:9000",
        ))
    }
}

fn validate_prefix(prefix: Option<&str>) -> Result<()> {
    let Some(prefix) = prefix else {
        return Ok(());
    };
    let ok = !prefix.is_empty()
        && prefix.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && !segment.chars().any(char::is_control)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "the s3:// URL parameter prefix must be non-empty '/'-separated segments \
             (no empty, '.' or '..' segments)",
        ))
    }
}
