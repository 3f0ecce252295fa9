//! Liveness and readiness.

use serde::{Deserialize, Serialize};

/// `GET /health`: the process is alive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// `GET /ready`: whether the dependencies answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Readiness {
    /// True when the store and the artifact store answer.
    pub ready: bool,
    /// One entry per dependency.
    pub checks: Vec<DependencyCheck>,
}

/// The state of one dependency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DependencyCheck {
    /// `store`, `artifacts` or `notifier`.
    pub name: String,
    /// `ok`, `down` or (notifier only) `degraded`.
    pub status: String,
    /// Why it is not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<String>,
}
