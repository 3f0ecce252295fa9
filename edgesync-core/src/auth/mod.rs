//! Authentication primitives: API key secrets, node tokens and signed URLs.
//!
//! Nothing here stores anything; the control plane decides what to keep (hashes only).

pub mod api_keys;
pub mod node_token;
pub mod refresh_secrets;
pub mod request_signing;
pub mod secrets;
pub mod url_signer;

pub use api_keys::{GeneratedSecret, generate_api_key};
pub use node_token::{NodeClaims, NodeTokenIssuer};
pub use url_signer::UrlSigner;
