//! Managing API keys: create (the secret is shown once), list, revoke, rotate with a grace
//! period during which the old secret keeps working.

use std::time::Duration;

use super::EdgeSync;
use crate::auth::api_keys::{GeneratedSecret, generate_api_key};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{ApiKey, ApiKeyId, Scope, Timestamp, validate};
use crate::store::{Record, StoreExt, Write};

/// What an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    /// Human name.
    pub name: String,
    /// What it may do (at least one).
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// Whether its requests must be HMAC-signed.
    pub require_signature: bool,
}

/// Longest rotation grace period.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

impl EdgeSync {
    /// Creates a key and returns it with its secret (the only time the secret is visible).
    pub async fn create_api_key(&self, new: NewApiKey) -> Result<(ApiKey, GeneratedSecret)> {
        validate::name("name", &new.name)?;
        if new.scopes.is_empty() {
            return Err(Error::invalid("an API key needs at least one scope"));
        }
        let now = self.now();
        if new.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::invalid("expires_at must be in the future"));
        }
        let mut scopes = new.scopes;
        scopes.sort();
        scopes.dedup();
        let generated = generate_api_key()?;
        let key = ApiKey {
            id: ApiKeyId::random(),
            name: new.name,
            scopes,
            secret_sha256: generated.sha256.clone(),
            secret_prefix: generated.display_prefix.clone(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
            require_signature: new.require_signature,
            previous_secret_sha256: None,
            previous_valid_until: None,
            rotated_at: None,
        };
        self.commit_control(&[Write::create(Record::ApiKey(key.clone()))])
            .await?;
        self.inner.keys.insert(key.clone());
        tracing::info!(key_id = %key.id, name = %key.name, scopes = ?key.scopes, "API key created");
        Ok((key, generated))
    }

    /// Every key (never the secrets), newest first.
    pub fn api_keys(&self) -> Vec<ApiKey> {
        let mut keys = self.inner.keys.all();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        keys
    }

    /// One key.
    pub fn api_key(&self, id: ApiKeyId) -> Result<ApiKey> {
        self.inner.keys.by_id(id).ok_or_else(|| key_not_found(id))
    }

    /// Revokes a key at once (both secrets, if it is in a rotation grace period).
    pub async fn revoke_api_key(&self, id: ApiKeyId) -> Result<ApiKey> {
        self.update_key(id, |key, now| {
            if key.revoked_at.is_none() {
                key.revoked_at = Some(now);
            }
            Ok(())
        })
        .await
        .map(|(k, _)| k)
    }

    /// Gives a key a new secret; the old one keeps working for `grace`, then stops.
    pub async fn rotate_api_key(
        &self,
        id: ApiKeyId,
        grace: Duration,
    ) -> Result<(ApiKey, GeneratedSecret)> {
        if grace > MAX_ROTATION_GRACE {
            return Err(Error::invalid("the grace period can be at most 30 days"));
        }
        let generated = generate_api_key()?;
        let (key, _) = self
            .update_key(id, |key, now| {
                if !key.is_active(now) {
                    return Err(Error::new(
                        ErrorCode::ApiKeyInactive,
                        "a revoked or expired key cannot be rotated",
                    ));
                }
                key.previous_secret_sha256 = Some(key.secret_sha256.clone());
                key.previous_valid_until = Some(now.plus(grace));
                key.secret_sha256 = generated.sha256.clone();
                key.secret_prefix = generated.display_prefix.clone();
                key.rotated_at = Some(now);
                Ok(())
            })
            .await?;
        tracing::info!(key_id = %id, grace_s = grace.as_secs(), "API key rotated");
        Ok((key, generated))
    }

    async fn update_key(
        &self,
        id: ApiKeyId,
        change: impl Fn(&mut ApiKey, Timestamp) -> Result<()>,
    ) -> Result<(ApiKey, u64)> {
        for _ in 0..5 {
            let current = self
                .inner
                .store
                .get_api_key(id)
                .await?
                .ok_or_else(|| key_not_found(id))?;
            let mut key = current.value.clone();
            change(&mut key, self.now())?;
            if key == current.value {
                return Ok((key, current.revision));
            }
            match self
                .commit_control(&[Write::update(Record::ApiKey(key.clone()), current.revision)])
                .await
            {
                Ok(_) => {
                    self.inner.keys.insert(key.clone());
                    return Ok((key, current.revision + 1));
                }
                Err(e) if e.code() == ErrorCode::RevisionConflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the key kept changing; try again",
        ))
    }
}

fn key_not_found(id: ApiKeyId) -> Error {
    Error::new(
        ErrorCode::ApiKeyNotFound,
        format!("no API key with id {id}"),
    )
}
