//! Connection settings: the database URL (whose password never reaches a log) and the pool,
//! timeout and retry settings.

use std::fmt;
use std::time::Duration;

use edgesync_core::{Error, Result};

/// Pool, timeout and retry settings of a [`CockroachStore`](crate::CockroachStore).
///
/// Holds no secret: the password lives only in the URL given to `connect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CockroachConfig {
    /// Most connections the pool opens (default 10).
    pub max_connections: u32,
    /// How long a call waits for a free connection, including opening one (default 5 s).
    pub acquire_timeout: Duration,
    /// The server-side `statement_timeout` of every connection; `None` keeps the server's
    /// default (default 30 s).
    pub statement_timeout: Option<Duration>,
    /// `application_name` shown in the database's session lists (default `edgesync`).
    pub application_name: String,
    /// How transactions are retried on serialization failures and lost connections.
    pub retry: RetryPolicy,
}

impl Default for CockroachConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            application_name: "edgesync".to_owned(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Capped exponential backoff with jitter for transactions that failed transiently (SQLSTATE
/// 40001, a lost connection, a pool timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5); at least 1.
    pub max_attempts: u32,
    /// The wait after the first failure (default 10 ms); doubles with every further failure.
    pub initial_backoff: Duration,
    /// The longest wait (default 500 ms).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The longest wait after failed attempt number `failed` (1-based), before jitter:
    /// `initial_backoff * 2^(failed-1)`, capped at `max_backoff`.
    pub fn backoff(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A PostgreSQL-protocol URL: `postgresql://`, `postgres://`, or `cockroachdb://` (rewritten to
/// `postgresql://`). `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks the scheme and shape of `url`.
    ///
    /// # Errors
    /// `invalid_request` for another scheme or a URL that does not parse.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        let normalized = if let Some(rest) = url.strip_prefix("cockroachdb://") {
            format!("postgresql://{rest}")
        } else if url.starts_with("postgresql://") || url.starts_with("postgres://") {
            url.to_owned()
        } else {
            let scheme = url.split("://").next().unwrap_or_default();
            return Err(Error::invalid(format!(
                "unsupported database URL scheme {scheme:?}: use postgresql://, postgres:// or cockroachdb://"
            )));
        };
        url::Url::parse(&normalized).map_err(|e| {
            Error::invalid(format!("the database URL does not parse: {e}")).with_source(e)
        })?;
        Ok(Self(normalized))
    }

    /// The URL, password included: only for opening connections.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password (in the user info or a `password=` parameter) replaced by
    /// `***`.
    pub fn redacted(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.0) else {
            return "postgresql://<unparsable>".to_owned();
        };
        if url.password().is_some() {
            // Cannot fail for URLs with a host, which every URL with a password has.
            let _ = url.set_password(Some("***"));
        }
        if url.query_pairs().any(|(k, _)| is_secret_param(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_secret_param(&k) {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

fn is_secret_param(key: &str) -> bool {
    matches!(key, "password" | "sslpassword")
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_normalized() {
        assert_eq!(
            DatabaseUrl::parse("cockroachdb://root@db:26257/edgesync?sslmode=disable")
                .unwrap()
                .expose(),
            "postgresql://root@db:26257/edgesync?sslmode=disable"
        );
        for ok in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert_eq!(DatabaseUrl::parse(ok).unwrap().expose(), ok);
        }
        for bad in ["mysql://u@h/db", "sled:///var/x", "db.example.com"] {
            assert_eq!(
                DatabaseUrl::parse(bad).unwrap_err().code(),
                edgesync_core::ErrorCode::InvalidRequest,
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_never_print() {
        let url = DatabaseUrl::parse(
            "cockroachdb://app:s3cr%40t@db:26257/edgesync?sslmode=verify-full&password=other",
        )
        .unwrap();
        for shown in [format!("{url:?}"), url.to_string()] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(!shown.contains("other"), "{shown}");
            assert!(shown.contains("app:***@db:26257/edgesync"), "{shown}");
            assert!(shown.contains("sslmode=verify-full"), "{shown}");
        }
        let plain = DatabaseUrl::parse("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!(plain.to_string(), "postgres://postgres@127.0.0.1/test");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let waits: Vec<u128> = (1..=8).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 500, 500]);
        assert_eq!(p.backoff(u32::MAX), p.max_backoff);
    }
}
