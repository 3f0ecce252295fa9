//! Operator API keys.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
pub enum ScopeName {
    /// Everything.
    #[serde(rename = "admin")]
    #[cfg_attr(feature = "openapi", oai(rename = "admin"))]
    Admin,
    /// Upload functions; create deployments, routes and schemas; implies `read`.
    #[serde(rename = "deploy")]
    #[cfg_attr(feature = "openapi", oai(rename = "deploy"))]
    Deploy,
    /// Read everything.
    #[serde(rename = "read")]
    #[cfg_attr(feature = "openapi", oai(rename = "read"))]
    Read,
    /// Register nodes (enrollment keys).
    #[serde(rename = "nodes:register")]
    #[cfg_attr(feature = "openapi", oai(rename = "nodes:register"))]
    NodesRegister,
}

/// `POST /api/v1/api-keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Human name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// At least one scope.
    pub scopes: Vec<ScopeName>,
    /// When the key stops working.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub expires_at: Option<OffsetDateTime>,
    /// Requests with this key must be HMAC-signed (see `docs/api.md`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub require_signature: bool,
}

/// `POST /api/v1/api-keys/{id}/rotate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(deny_unknown_fields))]
#[serde(deny_unknown_fields)]
pub struct RotateApiKeyRequest {
    /// How long the old secret keeps working, in seconds (default 86400; at most 30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub grace_s: Option<u64>,
}

/// An API key as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKeyInfo {
    /// Id (the `Credential` of signed requests).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<ScopeName>,
    /// The secret's first characters, to recognize it.
    pub secret_prefix: String,
    /// Whether requests must be signed.
    pub require_signature: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub revoked_at: Option<OffsetDateTime>,
    /// Last use (updated within seconds, not on every request).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub last_used_at: Option<OffsetDateTime>,
    /// When the secret was last rotated.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub rotated_at: Option<OffsetDateTime>,
    /// Until when the secret before the last rotation still works.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub previous_valid_until: Option<OffsetDateTime>,
}

/// A key with its secret: the only time the secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKeyWithSecret {
    /// The secret (`esk_…`): keep it; it cannot be shown again.
    pub secret: String,
    /// The key.
    pub key: ApiKeyInfo,
}

/// Every key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKeyList {
    /// Newest first.
    pub items: Vec<ApiKeyInfo>,
}
