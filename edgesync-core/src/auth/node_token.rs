//! Node credentials: short-lived HS256 JWTs.
//!
//! A token names its node (`sub`) and the node's credential generation (`gen`). Verifying needs
//! no lookup beyond the in-memory generation: bumping a node's generation (revoke,
//! decommission) invalidates every token issued before.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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

/// Issues and verifies node tokens with one shared HMAC key.
#[derive(Clone)]
pub struct NodeTokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
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
        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked against the injected clock, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        Ok(Self {
            encoding: EncodingKey::from_secret(key)
                .map_err(|e| Error::internal("bad token key").with_source(e))?,
            decoding: DecodingKey::from_secret(key)
                .map_err(|e| Error::internal("bad token key").with_source(e))?,
            validation,
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
        let data = jsonwebtoken::decode::<NodeClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid("is malformed or its signature does not verify"))?;
        let claims = data.claims;
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
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

        assert!(issuer().verify("not a token", now).is_err());
        assert!(issuer().verify("", now).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(NodeTokenIssuer::new(&[1u8; 16], Duration::from_secs(1)).is_err());
    }
}
