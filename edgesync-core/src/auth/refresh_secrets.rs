//! Node refresh secrets: `esr_` + 256 random bits, exchanged for fresh node tokens. Stored as a
//! bcrypt hash and checked only when a node refreshes, so the slow hash never sits on a hot path.

use super::secrets::random_token;
use crate::error::{Error, Result};

/// Prefix of refresh secrets.
pub const REFRESH_PREFIX: &str = "esr_";

/// Default bcrypt cost for refresh secrets. The secrets carry 256 random bits, so no cost factor
/// is what protects them (nothing can enumerate 2^256 candidates); the cost only bounds hashing
/// time at registration, which a fleet of 100k nodes does often. 6 keeps a registration to a few
/// milliseconds of CPU.
pub const BCRYPT_COST: u32 = 6;

/// A new refresh secret and its bcrypt hash.
pub fn generate(cost: u32) -> Result<(String, String)> {
    let secret = format!("{REFRESH_PREFIX}{}", random_token()?);
    let hash = bcrypt::hash(&secret, cost)
        .map_err(|e| Error::internal("could not hash a refresh secret").with_source(e))?;
    Ok((secret, hash))
}

/// Whether `secret` matches `hash` (constant time inside bcrypt).
pub fn verify(secret: &str, hash: &str) -> bool {
    secret.starts_with(REFRESH_PREFIX) && bcrypt::verify(secret, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_and_verify() {
        let (secret, hash) = generate(4).unwrap();
        assert!(secret.starts_with(REFRESH_PREFIX));
        assert!(hash.starts_with("$2"));
        assert!(verify(&secret, &hash));
        assert!(!verify("esr_wrong", &hash));
        assert!(!verify(&secret.replace("esr_", "esk_"), &hash));
    }
}
