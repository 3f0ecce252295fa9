//! The node's credentials on disk: `<data-dir>/credentials.json`, mode 0600, written
//! atomically. The agent registers once; afterwards it reuses them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{AgentError, Result};
use crate::fsutil::write_atomic;

/// File name under the data directory.
const FILE: &str = "credentials.json";

/// What the agent needs to act as its node. `Debug` hides the secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Credentials {
    /// The control plane these belong to (a warning is logged when it changes).
    pub(crate) server: String,
    /// The node's id.
    pub(crate) node_id: Uuid,
    /// The node's name.
    pub(crate) name: String,
    /// The current node token (JWT).
    pub(crate) token: String,
    /// When the token expires.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) token_expires_at: OffsetDateTime,
    /// When to refresh it (three quarters into its life).
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) refresh_at: OffsetDateTime,
    /// The long-lived refresh secret (`esr_…`), exchanged for a token once it has expired.
    pub(crate) refresh_token: String,
}

impl Credentials {
    /// The moment three quarters into a token's life that starts now.
    pub(crate) fn refresh_point(expires_at: OffsetDateTime) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now + (expires_at - now) * 0.75
    }

    /// Takes a fresh token.
    pub(crate) fn set_token(&mut self, token: String, expires_at: OffsetDateTime) {
        self.token = token;
        self.token_expires_at = expires_at;
        self.refresh_at = Self::refresh_point(expires_at);
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("node_id", &self.node_id)
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("token_expires_at", &self.token_expires_at)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// Where the credentials live.
pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The stored credentials, if the agent registered before.
pub(crate) fn load(data_dir: &Path) -> Result<Option<Credentials>> {
    let path = path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AgentError::io(path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AgentError::Corrupt {
            path,
            message: format!("not valid credentials ({e}); remove it to register again"),
        })
}

/// Stores the credentials (mode 0600, atomically).
pub(crate) fn save(data_dir: &Path, credentials: &Credentials) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(credentials).map_err(|e| AgentError::Corrupt {
        path: path(data_dir),
        message: e.to_string(),
    })?;
    write_atomic(&path(data_dir), &bytes, Some(0o600))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trip_private_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let creds = Credentials {
            server: "http://s".into(),
            node_id: Uuid::new_v4(),
            name: "edge-1".into(),
            token: "eyJ.very.secret".into(),
            token_expires_at: expires,
            refresh_at: Credentials::refresh_point(expires),
            refresh_token: "esr_very_secret".into(),
        };
        save(dir.path(), &creds).unwrap();
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.node_id, creds.node_id);
        assert_eq!(loaded.refresh_token, creds.refresh_token);
        assert!(!format!("{loaded:?}").contains("secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(creds.refresh_at < expires);
    }
}
