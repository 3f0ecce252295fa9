//! Node credentials: short-lived HS256 JWTs.
//!
//! A token names its node (`sub`) and the node's credential generation (`gen`). Verifying needs
//! no lookup beyond the in-memory generation: bumping a node's generation (revoke,
//! decommission) invalidates every token issued before.
//!
//! Tokens are signed with `jsonwebtoken`. They are verified here, on every node request, more
//! strictly and about five times as fast (`hot_paths`): only tokens this issuer could have
//! signed are accepted, so the header must be exactly the one it writes (the algorithm is never
//! read from the token, so there is no algorithm to confuse), the HMAC-SHA256 over
//! `header.payload` is checked in constant time with a key schedule computed once, and the
//! claims are parsed once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, ErrorCode, Result};
use crate::model::{NodeId, Timestamp};

const ISSUER: &str = "edgesync";
const AUDIENCE: &str = "edgesync-node";

/// The claims of a node token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeClaims {
    /// The node id.
    pub sub: String,
    /// The node's credential generation when issued.
    pub r#gen: u64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Always `edgesync`.
    pub iss: String,
    /// Always `edgesync-node`.
    pub aud: String,
}

/// An HMAC-SHA256 tag.
const SIGNATURE_LEN: usize = 32;
/// Room for the decoded claims of any token this issuer signs (about 170 bytes); a longer
/// payload fails to decode, and no token this issuer signed has one.
const MAX_PAYLOAD_LEN: usize = 512;

/// [`NodeClaims`] as verification reads them: the strings borrowed from the decoded payload
/// (owned only when they hold JSON escapes, which no token this issuer signs does).
#[derive(Deserialize)]
struct BorrowedClaims<'a> {
    #[serde(borrow)]
    sub: std::borrow::Cow<'a, str>,
    r#gen: u64,
    /// Required, as in [`NodeClaims`], though verification does not use it.
    #[serde(rename = "iat")]
    _iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(borrow)]
    iss: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    aud: std::borrow::Cow<'a, str>,
}

/// Issues and verifies node tokens with one shared HMAC key.
#[derive(Clone)]
pub struct NodeTokenIssuer {
    encoding: EncodingKey,
    /// HMAC-SHA256 keyed once; each verification clones it.
    mac: Hmac<Sha256>,
    /// The first segment of every token this issuer signs.
    header: String,
    ttl: Duration,
}

impl std::fmt::Debug for NodeTokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTokenIssuer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl NodeTokenIssuer {
    /// An issuer with a 256-bit (or longer) key and a token lifetime.
    pub fn new(key: &[u8], ttl: Duration) -> Result<Self> {
        if key.len() < 32 {
            return Err(Error::internal(
                "the node token key must be at least 32 bytes",
            ));
        }
        let header = serde_json::to_vec(&Header::new(Algorithm::HS256))
            .map_err(|e| Error::internal("could not encode the token header").with_source(e))?;
        Ok(Self {
            encoding: EncodingKey::from_secret(key)
                .map_err(|e| Error::internal("bad token key").with_source(e))?,
            mac: Hmac::<Sha256>::new_from_slice(key)
                .map_err(|e| Error::internal("bad token key").with_source(e))?,
            header: URL_SAFE_NO_PAD.encode(header),
            ttl,
        })
    }

    /// How long tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `node` at `generation`, valid from `now` for the issuer's lifetime.
    pub fn issue(
        &self,
        node: NodeId,
        generation: u64,
        now: Timestamp,
    ) -> Result<(String, Timestamp)> {
        let iat = now.unix_millis() / 1000;
        let expires = now.plus(self.ttl);
        let claims = NodeClaims {
            sub: node.to_string(),
            r#gen: generation,
            iat,
            nbf: iat,
            exp: expires.unix_millis() / 1000,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal("could not sign a node token").with_source(e))?;
        Ok((token, expires))
    }

    /// Verifies signature, algorithm, issuer, audience and time claims; returns the node and
    /// generation. The caller still checks the generation against the node's current one.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<(NodeId, u64)> {
        let invalid =
            |why: &str| Error::new(ErrorCode::InvalidCredentials, format!("node token {why}"));
        let unverified = || invalid("is malformed or its signature does not verify");
        let (signed, signature) = token.rsplit_once('.').ok_or_else(unverified)?;
        let (header, payload) = signed.split_once('.').ok_or_else(unverified)?;
        if header != self.header {
            return Err(unverified());
        }
        // Decoded into buffers on the stack: this runs on every node request.
        // (base64 wants room for its rounded-up estimate of the decoded length.)
        let mut sig = [0u8; SIGNATURE_LEN + 3];
        let decoded = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut sig)
            .map_err(|_| unverified())?;
        if decoded != SIGNATURE_LEN {
            return Err(unverified());
        }
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&sig[..SIGNATURE_LEN])
            .map_err(|_| unverified())?;
        let mut buf = [0u8; MAX_PAYLOAD_LEN];
        let len = URL_SAFE_NO_PAD
            .decode_slice(payload, &mut buf)
            .map_err(|_| unverified())?;
        let claims: BorrowedClaims<'_> =
            serde_json::from_slice(&buf[..len]).map_err(|_| unverified())?;
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(invalid("was not issued to a node by this server"));
        }
        let now_s = now.unix_millis() / 1000;
        // A little leeway for clocks that disagree by a few seconds.
        const LEEWAY_S: i64 = 30;
        if claims.exp + LEEWAY_S <= now_s {
            return Err(invalid("has expired"));
        }
        if claims.nbf > now_s + LEEWAY_S {
            return Err(invalid("is not valid yet"));
        }
        let node: NodeId = claims.sub.parse().map_err(|_| invalid("names no node"))?;
        Ok((node, claims.r#gen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> NodeTokenIssuer {
        NodeTokenIssuer::new(&[7u8; 32], Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn issue_then_verify() {
        let now = Timestamp::now_utc();
        let node = NodeId::random();
        let (token, exp) = issuer().issue(node, 3, now).unwrap();
        assert_eq!(exp, now.plus(Duration::from_secs(900)));
        assert_eq!(issuer().verify(&token, now).unwrap(), (node, 3));
    }

    #[test]
    fn rejects_expired_future_tampered_wrong_key_and_alg_none() {
        let now = Timestamp::now_utc();
        let node = NodeId::random();
        let (token, _) = issuer().issue(node, 1, now).unwrap();
        let code = |r: Result<(NodeId, u64)>| r.unwrap_err().code();

        assert_eq!(
            code(issuer().verify(&token, now.plus(Duration::from_secs(3600)))),
            ErrorCode::InvalidCredentials
        );
        assert_eq!(
            code(issuer().verify(&token, now.minus(Duration::from_secs(3600)))),
            ErrorCode::InvalidCredentials
        );

        let other = NodeTokenIssuer::new(&[8u8; 32], Duration::from_secs(900)).unwrap();
        assert!(
            other.verify(&token, now).is_err(),
            "a token signed with another key verified"
        );

        // Tampered payload: another node id with the original signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = serde_json::Value::String(NodeId::random().to_string());
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(
            issuer().verify(&forged, now).is_err(),
            "a tampered token verified"
        );

        // alg: none with no signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(
            issuer().verify(&unsigned, now).is_err(),
            "alg none verified"
        );

        // The same claims under a header other than the one the issuer writes (here: the
        // same algorithm, spelled differently), even correctly signed.
        let other_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        let resigned = {
            let signed = format!("{other_header}.{}", parts[1]);
            let mut mac = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).unwrap();
            mac.update(signed.as_bytes());
            format!(
                "{signed}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        assert!(
            issuer().verify(&resigned, now).is_err(),
            "another header verified"
        );

        // Signed by this key but for another audience or issuer.
        let sign = |claims: &NodeClaims| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(&[7u8; 32]).unwrap(),
            )
            .unwrap()
        };
        let good: NodeClaims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        for claims in [
            NodeClaims {
                aud: "edgesync-operator".into(),
                ..good.clone()
            },
            NodeClaims {
                iss: "someone-else".into(),
                ..good.clone()
            },
        ] {
            assert!(issuer().verify(&sign(&claims), now).is_err(), "{claims:?}");
        }
        assert_eq!(issuer().verify(&sign(&good), now).unwrap(), (node, 1));

        for garbage in [
            "not a token",
            "",
            "a.b",
            "..",
            "a.b.c.d",
            &format!("{token}x"),
        ] {
            assert!(issuer().verify(garbage, now).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(NodeTokenIssuer::new(&[1u8; 16], Duration::from_secs(1)).is_err());
    }
}
