//! The agent's one error type.

use std::path::PathBuf;

use edgesync_client::ClientError;

/// Shorthand for results of agent operations.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;

/// Everything that can stop the agent or one of its operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration is incomplete or contradictory.
    #[error("configuration: {0}")]
    Config(String),
    /// A file or directory of the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of the data directory does not hold what it should.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The local SQLite database failed.
    #[error("local database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A call to the control plane failed.
    #[error("control plane: {0}")]
    Client(#[from] ClientError),
    /// The WASM engine could not be set up, or a module not compiled.
    #[error("wasm: {0}")]
    Wasm(String),
    /// A background task failed unexpectedly (a bug).
    #[error("internal: {0}")]
    Internal(String),
    /// The HTTP listener could not be opened.
    #[error("could not listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
    /// An [`AgentError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AgentError::Io {
            path: path.into(),
            source,
        }
    }
}
