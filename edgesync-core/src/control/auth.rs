//! Who is calling: operators with API keys, nodes with their tokens.

use super::EdgeSync;
use crate::auth::api_keys::{GeneratedSecret, generate_api_key, looks_like_api_key};
use crate::auth::request_signing::{self, SignatureHeader};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{ApiKey, ApiKeyId, Bootstrap, NodeId, NodeLifecycle, Scope, Setting};
use crate::store::{Collection, Record, StoreExt, Write};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An operator holding an API key.
    Operator {
        /// The key's id (safe to log).
        key_id: ApiKeyId,
    },
    /// A node holding its token.
    Node {
        /// The node.
        node_id: NodeId,
    },
}

/// What an endpoint demands of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredAccess {
    /// An API key granting this scope.
    Scope(Scope),
    /// The token of this very node.
    Node(NodeId),
}

fn unauthenticated(why: &str) -> Error {
    Error::new(ErrorCode::InvalidCredentials, why.to_owned())
}

impl EdgeSync {
    /// Checks a bearer credential against what an endpoint requires.
    ///
    /// Fails with `invalid_credentials` (401) for unknown, malformed, expired or revoked
    /// credentials, and with `forbidden` (403) for valid credentials of the wrong kind, scope or
    /// node.
    pub fn authenticate(&self, credential: &str, required: RequiredAccess) -> Result<Principal> {
        match required {
            RequiredAccess::Scope(scope) => {
                if !looks_like_api_key(credential) {
                    return Err(
                        if self.inner.tokens.verify(credential, self.now()).is_ok() {
                            Error::new(
                                ErrorCode::Forbidden,
                                "node tokens cannot call operator endpoints",
                            )
                        } else {
                            unauthenticated("the API key is malformed or unknown")
                        },
                    );
                }
                let now = self.now();
                let key = self
                    .inner
                    .keys
                    .find_by_secret(credential, now)
                    .ok_or_else(|| unauthenticated("the API key is unknown, expired or revoked"))?;
                if key.require_signature || self.inner.config.require_signatures {
                    return Err(Error::new(
                        ErrorCode::SignatureRequired,
                        format!(
                            "API key {} must sign its requests (EdgeSync-HMAC-SHA256)",
                            key.id
                        ),
                    ));
                }
                self.authorize_key(key.id, scope)
            }
            RequiredAccess::Node(node_id) => {
                if looks_like_api_key(credential) {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "node endpoints need the node's token, not an API key",
                    ));
                }
                let (token_node, generation) = self.inner.tokens.verify(credential, self.now())?;
                let (current_generation, lifecycle) = self
                    .inner
                    .fleet
                    .inspect(token_node, |e| {
                        (e.node.value.credential_generation, e.node.value.lifecycle)
                    })
                    .ok_or_else(|| unauthenticated("the node token names an unknown node"))?;
                if current_generation != generation || lifecycle == NodeLifecycle::Decommissioned {
                    return Err(unauthenticated("the node token was revoked"));
                }
                if token_node != node_id {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "a node may only act for itself",
                    ));
                }
                Ok(Principal::Node { node_id })
            }
        }
    }

    /// Checks that key `key_id` is active and grants `scope`; records its use.
    pub fn authorize_key(&self, key_id: ApiKeyId, scope: Scope) -> Result<Principal> {
        let now = self.now();
        let key = self
            .inner
            .keys
            .by_id(key_id)
            .filter(|k| k.is_active(now))
            .ok_or_else(|| unauthenticated("the API key is unknown, expired or revoked"))?;
        if !key.allows(scope) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!("API key {key_id} lacks the {:?} scope", scope.as_str()),
            ));
        }
        self.inner.keys.mark_used(key.id, now);
        Ok(Principal::Operator { key_id: key.id })
    }

    /// Verifies an HMAC-signed request (signature, timestamp window, nonce) and returns the key
    /// that signed it. `canonical` is [`request_signing::canonical_request`] of the request. The
    /// caller still checks the scope with [`EdgeSync::authorize_key`] and that the body matches
    /// the signed body hash.
    pub fn verify_signed_request(
        &self,
        header: &SignatureHeader,
        canonical: &str,
    ) -> Result<ApiKeyId> {
        let now = self.now();
        request_signing::check_timestamp(header.timestamp, now)?;
        let key = self
            .inner
            .keys
            .by_id(header.key_id)
            .filter(|k| k.is_active(now))
            .ok_or_else(|| unauthenticated("the signing key is unknown, expired or revoked"))?;
        let mut hashes = vec![key.secret_sha256.as_str()];
        if key.previous_secret_valid(now)
            && let Some(prev) = key.previous_secret_sha256.as_deref()
        {
            hashes.push(prev);
        }
        let verified = hashes.iter().any(|h| {
            hex::decode(h).is_ok_and(|k| request_signing::verify(&k, canonical, &header.signature))
        });
        if !verified {
            return Err(Error::new(
                ErrorCode::RequestSignatureInvalid,
                format!("the signature of key {} does not verify", key.id),
            ));
        }
        if !self
            .inner
            .nonces
            .check_and_insert(key.id, &header.nonce, now)
        {
            return Err(Error::new(
                ErrorCode::ReplayedRequest,
                format!("nonce already used by key {} within the window", key.id),
            ));
        }
        Ok(key.id)
    }

    /// On an empty store, creates the first admin key and returns its secret (shown once). Returns
    /// `None` when a key was bootstrapped before (by this or another replica).
    pub async fn bootstrap_admin_key(&self) -> Result<Option<GeneratedSecret>> {
        let store = &self.inner.store;
        if !store.list_all(Collection::ApiKeys).await?.is_empty() {
            return Ok(None);
        }
        let generated = generate_api_key()?;
        let now = self.now();
        let key = ApiKey {
            id: ApiKeyId::random(),
            name: "bootstrap-admin".into(),
            scopes: vec![Scope::Admin],
            secret_sha256: generated.sha256.clone(),
            secret_prefix: generated.display_prefix.clone(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            require_signature: false,
            previous_secret_sha256: None,
            previous_valid_until: None,
            rotated_at: None,
        };
        let claim = Setting::Bootstrap(Bootstrap {
            admin_key_id: key.id,
            at: now,
        });
        match self
            .commit_control(&[
                Write::create(Record::Setting(claim)),
                Write::create(Record::ApiKey(key.clone())),
            ])
            .await
        {
            Ok(_) => {
                self.inner.keys.insert(key);
                Ok(Some(generated))
            }
            Err(e) if e.code() == ErrorCode::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the last-use times of keys used since the last call (bounded lag, one write per
    /// used key, not per request).
    pub(super) async fn flush_key_usage(&self) -> Result<usize> {
        let used = self.inner.keys.take_used();
        let mut written = 0;
        for (id, at) in used {
            let Some(current) = self.inner.store.get_api_key(id).await? else {
                continue;
            };
            let mut key = current.value;
            if key.last_used_at.is_some_and(|t| t >= at) {
                continue;
            }
            key.last_used_at = Some(at);
            match self
                .inner
                .store
                .commit(&[Write::update(Record::ApiKey(key.clone()), current.revision)])
                .await
            {
                Ok(_) => {
                    self.inner.keys.insert(key);
                    written += 1;
                }
                // Someone changed the key meanwhile (revoked, rotated); the next use records it.
                Err(e) if e.code() == ErrorCode::RevisionConflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }
}
