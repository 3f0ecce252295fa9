//! HMAC-SHA256 request signing, as `docs/api.md` specifies it.
//!
//! A signed request carries
//!
//! ```text
//! Authorization: EdgeSync-HMAC-SHA256 Credential=<key id>, Timestamp=<unix seconds>, Nonce=<nonce>, Signature=<hex>
//! X-EdgeSync-Content-SHA256: <lowercase hex SHA-256 of the body; of the empty string when there is none>
//! ```
//!
//! where the signature is `hex(HMAC-SHA256(SHA-256(secret), canonical))` over the seven lines
//! of [`canonical_request`]. This is a deliberate re-implementation (the client does not depend
//! on `edgesync-core`); a test checks it against the documented worked example.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use reqwest::Url;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `Authorization` scheme of signed requests.
pub const SCHEME: &str = "EdgeSync-HMAC-SHA256";

/// The header carrying the body's SHA-256.
pub const CONTENT_SHA256_HEADER: &str = "x-edgesync-content-sha256";

/// SHA-256 of the empty string: the body hash of requests without a body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Length of the nonces this client generates (the server accepts 16–64).
const NONCE_LEN: usize = 32;

/// Lowercase hex SHA-256 of a body.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The string a signature covers: scheme, uppercase method, path, the query's `name=value`
/// pairs sorted bytewise and joined by `&`, timestamp, nonce and body hash, joined by `\n`.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    timestamp: i64,
    nonce: &str,
    body_sha256_hex: &str,
) -> String {
    let mut pairs: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    pairs.sort_unstable();
    format!(
        "{SCHEME}\n{}\n{path}\n{}\n{timestamp}\n{nonce}\n{body_sha256_hex}",
        method.to_ascii_uppercase(),
        pairs.join("&")
    )
}

/// The HMAC key of an API key: the 32-byte SHA-256 of its secret.
pub fn signing_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `hex(HMAC-SHA256(key, canonical))`.
pub fn sign(key: &[u8; 32], canonical: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps `unwrap` out.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(canonical.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The `Authorization` header value of a signed request.
pub fn authorization(key_id: &Uuid, timestamp: i64, nonce: &str, signature: &str) -> String {
    format!(
        "{SCHEME} Credential={key_id}, Timestamp={timestamp}, Nonce={nonce}, Signature={signature}"
    )
}

/// A fresh nonce: 32 characters of `A–Z a–z 0–9`.
pub fn nonce() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(NONCE_LEN)
        .map(char::from)
        .collect()
}

/// The current Unix time in seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Signs requests with one API key. Keeps only the derived HMAC key, never the secret.
#[derive(Clone)]
pub(crate) struct Signer {
    key_id: Uuid,
    key: [u8; 32],
}

impl Signer {
    /// A signer for the key `key_id` with this secret.
    pub(crate) fn new(key_id: Uuid, secret: &str) -> Self {
        Self {
            key_id,
            key: signing_key(secret),
        }
    }

    /// The `Authorization` value for a request to `url`, signed now with a fresh nonce.
    pub(crate) fn authorize(&self, method: &str, url: &Url, body_sha256_hex: &str) -> String {
        let timestamp = unix_now();
        let nonce = nonce();
        let canonical = canonical_request(
            method,
            url.path(),
            url.query(),
            timestamp,
            &nonce,
            body_sha256_hex,
        );
        authorization(
            &self.key_id,
            timestamp,
            &nonce,
            &sign(&self.key, &canonical),
        )
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The worked example of `docs/api.md`.
    #[test]
    fn documented_worked_example() {
        let secret = "esk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let body = br#"{"function_id":"x"}"#;
        let body_hash = body_sha256(body);
        assert_eq!(
            body_hash,
            "25c32594798252f767426adf304303a652370aa86a1b5e78a954c07afec09f2e"
        );
        let canonical = canonical_request(
            "post",
            "/api/v1/deployments",
            Some("dry_run=false&a=1"),
            1_767_225_600,
            "0123456789abcdef",
            &body_hash,
        );
        assert_eq!(
            canonical,
            "EdgeSync-HMAC-SHA256\nPOST\n/api/v1/deployments\na=1&dry_run=false\n1767225600\n0123456789abcdef\n25c32594798252f767426adf304303a652370aa86a1b5e78a954c07afec09f2e"
        );
        assert_eq!(
            sign(&signing_key(secret), &canonical),
            "d8bafb6f970430410ee6e5bf02beaf6d605bd5c399b92f3b7c987c5c279b4ad9"
        );
    }

    #[test]
    fn empty_body_and_no_query() {
        assert_eq!(body_sha256(b""), EMPTY_BODY_SHA256);
        let c = canonical_request("GET", "/api/v1/nodes", None, 1, "n", EMPTY_BODY_SHA256);
        assert_eq!(
            c,
            format!("{SCHEME}\nGET\n/api/v1/nodes\n\n1\nn\n{EMPTY_BODY_SHA256}")
        );
    }

    #[test]
    fn signer_uses_url_path_and_query_and_fresh_nonces() {
        let id = Uuid::nil();
        let signer = Signer::new(id, "esk_x");
        let url = Url::parse("http://h:1/api/v1/nodes?pop=fra&limit=2").unwrap();
        let a = signer.authorize("GET", &url, EMPTY_BODY_SHA256);
        let b = signer.authorize("GET", &url, EMPTY_BODY_SHA256);
        assert!(a.starts_with(&format!("{SCHEME} Credential={id}, Timestamp=")));
        assert_ne!(a, b, "every request gets its own nonce");
        let n = nonce();
        assert_eq!(n.len(), NONCE_LEN);
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{signer:?}").contains("key:"));
    }
}
