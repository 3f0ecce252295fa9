//! Operator API keys. Only their SHA-256 is stored.

use serde::{Deserialize, Serialize};

use super::ids::ApiKeyId;
use super::time::Timestamp;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
    /// Upload functions, create deployments, routes and schemas.
    #[serde(rename = "deploy")]
    Deploy,
    /// Read everything.
    #[serde(rename = "read")]
    Read,
    /// Register nodes (enrollment).
    #[serde(rename = "nodes:register")]
    NodesRegister,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [
        Scope::Admin,
        Scope::Deploy,
        Scope::Read,
        Scope::NodesRegister,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Deploy => "deploy",
            Scope::Read => "read",
            Scope::NodesRegister => "nodes:register",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "admin" => Scope::Admin,
            "deploy" => Scope::Deploy,
            "read" => Scope::Read,
            "nodes:register" => Scope::NodesRegister,
            _ => return None,
        })
    }

    /// Whether holding `self` grants `needed`. `admin` grants everything; `deploy` grants `read`.
    pub fn grants(self, needed: Scope) -> bool {
        self == needed || self == Scope::Admin || (self == Scope::Deploy && needed == Scope::Read)
    }
}

/// A stored API key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Identity.
    pub id: ApiKeyId,
    /// Human name.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// First characters of the secret, for recognizing it in lists.
    pub secret_prefix: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Last successful use (kept with bounded lag, not written on every request).
    pub last_used_at: Option<Timestamp>,
    /// Requests with this key must be HMAC-signed (the secret never travels).
    #[serde(default)]
    pub require_signature: bool,
    /// The secret replaced by the last rotation, still accepted until `previous_valid_until`.
    #[serde(default)]
    pub previous_secret_sha256: Option<String>,
    /// End of the rotation grace period.
    #[serde(default)]
    pub previous_valid_until: Option<Timestamp>,
    /// When the secret was last rotated.
    #[serde(default)]
    pub rotated_at: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key grants `needed`.
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|s| s.grants(needed))
    }

    /// Whether the key works at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether the previous secret (before the last rotation) still works at `now`.
    pub fn previous_secret_valid(&self, now: Timestamp) -> bool {
        self.previous_secret_sha256.is_some() && self.previous_valid_until.is_some_and(|t| now < t)
    }
}
