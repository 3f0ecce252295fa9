//! API key secrets: `esk_` + 256 random bits; only their SHA-256 is stored.
//!
//! Keys are high-entropy random strings, so a fast hash is enough: nobody can brute-force 256
//! bits, and a slow hash would cap the request rate (every operator request checks a key).

use super::secrets::{random_token, sha256_hex};
use crate::error::Result;

/// The prefix that marks an EdgeSync API key (and lets secret scanners find leaked ones).
pub const API_KEY_PREFIX: &str = "esk_";

/// A freshly generated secret: shown once, then only its hash is kept.
pub struct GeneratedSecret {
    /// The secret itself, `esk_…`.
    pub secret: String,
    /// Lowercase hex SHA-256 of `secret`.
    pub sha256: String,
    /// The first 8 characters (`esk_` and 4 more), for recognizing the key in listings.
    pub display_prefix: String,
}

impl std::fmt::Debug for GeneratedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedSecret")
            .field("display_prefix", &self.display_prefix)
            .finish_non_exhaustive()
    }
}

/// Generates a new API key secret.
pub fn generate_api_key() -> Result<GeneratedSecret> {
    let secret = format!("{API_KEY_PREFIX}{}", random_token()?);
    Ok(GeneratedSecret {
        sha256: sha256_hex(&secret),
        display_prefix: secret.chars().take(8).collect(),
        secret,
    })
}

/// Whether a presented credential looks like an API key (cheap pre-check, no lookup).
pub fn looks_like_api_key(credential: &str) -> bool {
    credential.len() == API_KEY_PREFIX.len() + 43 && credential.starts_with(API_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_prefix_and_hash() {
        let k = generate_api_key().unwrap();
        assert!(looks_like_api_key(&k.secret));
        assert_eq!(k.sha256, sha256_hex(&k.secret));
        assert!(!format!("{k:?}").contains(&k.secret));
    }
}
