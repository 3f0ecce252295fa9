//! Server-signed, expiring URLs for artifact downloads from stores that cannot presign
//! (the filesystem and memory backends).
//!
//! The signature is HMAC-SHA256 over `"{path}\n{expires}"` with a key shared by every server
//! replica, so any replica can serve a URL another one issued.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorCode, Result};
use crate::model::Timestamp;

/// Signs and verifies `path?expires=…&signature=…` pairs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner").finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// A signer with a key of at least 256 bits.
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.len() < 32 {
            return Err(Error::internal(
                "the URL signing key must be at least 32 bytes",
            ));
        }
        Ok(Self { key: key.to_vec() })
    }

    fn mac(&self, path: &str, expires: i64) -> Hmac<Sha256> {
        // new_from_slice accepts keys of any length for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts every key length"),
        };
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The query string (`expires=…&signature=…`) that authorizes `path` until `expires`.
    pub fn sign(&self, path: &str, expires: Timestamp) -> String {
        let exp = expires.unix_millis() / 1000;
        let sig = URL_SAFE_NO_PAD.encode(self.mac(path, exp).finalize().into_bytes());
        format!("expires={exp}&signature={sig}")
    }

    /// Checks a signature for `path` at `now`.
    pub fn verify(&self, path: &str, expires: i64, signature: &str, now: Timestamp) -> Result<()> {
        let bad =
            |why: &str| Error::new(ErrorCode::InvalidSignature, format!("the signed URL {why}"));
        let sig = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| bad("has a malformed signature"))?;
        self.mac(path, expires)
            .verify_slice(&sig)
            .map_err(|_| bad("does not match its signature"))?;
        if now.unix_millis() / 1000 >= expires {
            return Err(bad("has expired"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parts(q: &str) -> (i64, String) {
        let mut exp = 0;
        let mut sig = String::new();
        for kv in q.split('&') {
            let (k, v) = kv.split_once('=').unwrap();
            match k {
                "expires" => exp = v.parse().unwrap(),
                "signature" => sig = v.to_owned(),
                _ => panic!("unexpected {k}"),
            }
        }
        (exp, sig)
    }

    #[test]
    fn sign_verify_expire_tamper() {
        let s = UrlSigner::new(&[3u8; 32]).unwrap();
        let now = Timestamp::now_utc();
        let q = s.sign("/api/v1/artifacts/abc", now.plus(Duration::from_secs(60)));
        let (exp, sig) = parts(&q);
        s.verify("/api/v1/artifacts/abc", exp, &sig, now).unwrap();
        assert!(
            s.verify("/api/v1/artifacts/abd", exp, &sig, now).is_err(),
            "changed path"
        );
        assert!(
            s.verify("/api/v1/artifacts/abc", exp + 1, &sig, now)
                .is_err(),
            "changed expiry"
        );
        assert!(
            s.verify("/api/v1/artifacts/abc", exp, "AAAA", now).is_err(),
            "changed signature"
        );
        let later = now.plus(Duration::from_secs(61));
        let e = s
            .verify("/api/v1/artifacts/abc", exp, &sig, later)
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSignature);
        let other = UrlSigner::new(&[4u8; 32]).unwrap();
        assert!(
            other
                .verify("/api/v1/artifacts/abc", exp, &sig, now)
                .is_err(),
            "other key"
        );
    }
}
