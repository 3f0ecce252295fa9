//! HMAC-SHA256 request signing: the secret never travels, a captured request cannot be replayed,
//! and a body cannot be changed after signing.
//!
//! A signed request carries
//!
//! ```text
//! Authorization: EdgeSync-HMAC-SHA256 Credential=<key id>, Timestamp=<unix seconds>, Nonce=<nonce>, Signature=<hex>
//! X-EdgeSync-Content-SHA256: <lowercase hex SHA-256 of the body (of the empty string when there is none)>
//! ```
//!
//! The signature is `hex(HMAC-SHA256(key, canonical))` where `key` is the 32-byte SHA-256 of the
//! API key's secret (what the server stores) and `canonical` is these lines joined by `\n`:
//!
//! ```text
//! EdgeSync-HMAC-SHA256
//! <METHOD, uppercase>
//! <path, exactly as sent, without the query>
//! <query: the `name=value` pairs as sent, sorted bytewise, joined by `&`; empty when none>
//! <timestamp>
//! <nonce>
//! <body SHA-256, lowercase hex>
//! ```
//!
//! The timestamp must be within ±300 s of the server's clock, and a nonce (16–64 characters of
//! `A–Z a–z 0–9 - _`) is accepted once per key within that window. `docs/api.md` has a worked
//! example.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{ApiKeyId, Timestamp};

/// The `Authorization` scheme name.
pub const SCHEME: &str = "EdgeSync-HMAC-SHA256";
/// The header carrying the body's SHA-256.
pub const CONTENT_SHA256_HEADER: &str = "x-edgesync-content-sha256";
/// How far a timestamp may be from the server's clock.
pub const WINDOW: Duration = Duration::from_secs(300);
/// SHA-256 of the empty string: the body hash of requests without a body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The parts of a signed request's `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The API key's id.
    pub key_id: ApiKeyId,
    /// Unix seconds when the client signed.
    pub timestamp: i64,
    /// A value used once.
    pub nonce: String,
    /// Lowercase hex HMAC.
    pub signature: String,
}

fn bad(why: &str) -> Error {
    Error::new(
        ErrorCode::RequestSignatureInvalid,
        format!("request signature: {why}"),
    )
}

impl SignatureHeader {
    /// Parses `EdgeSync-HMAC-SHA256 Credential=…, Timestamp=…, Nonce=…, Signature=…`.
    pub fn parse(value: &str) -> Result<Self> {
        let rest = value
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| bad("the Authorization scheme must be EdgeSync-HMAC-SHA256"))?;
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for part in rest.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| bad("expected Name=value pairs"))?;
            if fields.insert(k, v).is_some() {
                return Err(bad("a field appears twice"));
            }
        }
        let get = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| bad(&format!("{k} is missing")))
        };
        let key_id = get("Credential")?
            .parse()
            .map_err(|_| bad("Credential must be an API key id"))?;
        let timestamp = get("Timestamp")?
            .parse()
            .map_err(|_| bad("Timestamp must be Unix seconds"))?;
        let nonce = get("Nonce")?;
        if !(16..=64).contains(&nonce.len())
            || !nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("Nonce must be 16 to 64 characters of A-Z a-z 0-9 - _"));
        }
        let signature = get("Signature")?;
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("Signature must be 64 hex digits"));
        }
        Ok(Self {
            key_id,
            timestamp,
            nonce: nonce.to_owned(),
            signature: signature.to_ascii_lowercase(),
        })
    }

    /// The header value for these parts.
    pub fn to_header_value(&self) -> String {
        format!(
            "{SCHEME} Credential={}, Timestamp={}, Nonce={}, Signature={}",
            self.key_id, self.timestamp, self.nonce, self.signature
        )
    }
}

/// The string a signature covers.
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

/// The HMAC key of an API key: the SHA-256 of its secret.
pub fn signing_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// Signs a canonical request.
pub fn sign(key: &[u8], canonical: &str) -> String {
    let mut m = mac(key);
    m.update(canonical.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn verify(key: &[u8], canonical: &str, signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let mut m = mac(key);
    m.update(canonical.as_bytes());
    m.verify_slice(&sig).is_ok()
}

/// Checks the timestamp against `now` (±[`WINDOW`]).
pub fn check_timestamp(timestamp: i64, now: Timestamp) -> Result<()> {
    let now_s = now.unix_millis() / 1000;
    let window = WINDOW.as_secs() as i64;
    if (timestamp - now_s).abs() > window {
        return Err(Error::new(
            ErrorCode::RequestExpired,
            format!(
                "the request's timestamp is more than {window} s away from the server's clock ({now_s})"
            ),
        ));
    }
    Ok(())
}

/// Remembers nonces for the signing window so a request cannot be replayed.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: Mutex<HashMap<(ApiKeyId, String), Timestamp>>,
}

impl NonceCache {
    /// Records the nonce; false when it was already used within the window (a replay).
    pub fn check_and_insert(&self, key: ApiKeyId, nonce: &str, now: Timestamp) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget nonces old enough that their timestamps can no longer pass the window check.
        if seen.len() > 10_000 {
            let horizon = now.minus(WINDOW * 2);
            seen.retain(|_, at| *at > horizon);
        }
        let entry = (key, nonce.to_owned());
        match seen.get(&entry) {
            Some(at) if now.since(*at) <= WINDOW * 2 => false,
            _ => {
                seen.insert(entry, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_verifies() {
        // The worked example in docs/api.md.
        let secret = "esk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let canonical = canonical_request(
            "post",
            "/api/v1/deployments",
            Some("dry_run=false&a=1"),
            1_767_225_600,
            "0123456789abcdef",
            &hex::encode(Sha256::digest(br#"{"function_id":"x"}"#)),
        );
        assert_eq!(
            canonical.lines().collect::<Vec<_>>(),
            vec![
                "EdgeSync-HMAC-SHA256",
                "POST",
                "/api/v1/deployments",
                "a=1&dry_run=false",
                "1767225600",
                "0123456789abcdef",
                "25c32594798252f767426adf304303a652370aa86a1b5e78a954c07afec09f2e",
            ]
        );
        let key = signing_key(secret);
        let sig = sign(&key, &canonical);
        // Computed independently with Python's hmac module (see docs/api.md).
        assert_eq!(
            sig,
            "d8bafb6f970430410ee6e5bf02beaf6d605bd5c399b92f3b7c987c5c279b4ad9"
        );
        assert!(verify(&key, &canonical, &sig));
        assert!(!verify(&key, &canonical.replace("POST", "PUT"), &sig));
        assert!(!verify(&signing_key("esk_other"), &canonical, &sig));
    }

    #[test]
    fn header_round_trip_and_rejections() {
        let h = SignatureHeader {
            key_id: ApiKeyId::random(),
            timestamp: 1_767_225_600,
            nonce: "abcdefghijklmnop".into(),
            signature: "ab".repeat(32),
        };
        assert_eq!(SignatureHeader::parse(&h.to_header_value()).unwrap(), h);
        for bad in [
            "Bearer x",
            "EdgeSync-HMAC-SHA256 Credential=nope, Timestamp=1, Nonce=abcdefghijklmnop, Signature=00",
            &h.to_header_value().replace("abcdefghijklmnop", "short"),
            &h.to_header_value().replace(", Timestamp=1767225600", ""),
        ] {
            assert!(SignatureHeader::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_and_nonces() {
        let now = Timestamp::from_unix_millis(1_767_225_600_000);
        check_timestamp(1_767_225_600 - 299, now).unwrap();
        assert_eq!(
            check_timestamp(1_767_225_600 + 301, now)
                .unwrap_err()
                .code(),
            ErrorCode::RequestExpired
        );
        let cache = NonceCache::default();
        let key = ApiKeyId::random();
        assert!(cache.check_and_insert(key, "n1n1n1n1n1n1n1n1", now));
        assert!(
            !cache.check_and_insert(key, "n1n1n1n1n1n1n1n1", now),
            "replay"
        );
        assert!(
            cache.check_and_insert(ApiKeyId::random(), "n1n1n1n1n1n1n1n1", now),
            "per key"
        );
    }
}
