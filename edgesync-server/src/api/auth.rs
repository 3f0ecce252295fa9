//! The two credentials of the API, declared as OpenAPI security schemes: operators send an
//! API key, nodes send their token. Both travel as `Authorization: Bearer …`.

use edgesync_core::model::{NodeId, Scope};
use edgesync_core::{EdgeSync, Principal, RequiredAccess};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

/// An operator API key (`esk_…`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "esk_ API key")]
pub struct ApiKeyAuth(pub Bearer);

/// A node's JWT, issued at registration.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct NodeAuth(pub Bearer);

impl ApiKeyAuth {
    /// Checks the key grants `scope`.
    pub fn require(&self, edgesync: &EdgeSync, scope: Scope) -> edgesync_core::Result<Principal> {
        if self.0.token == crate::signing::SIGNED_MARKER {
            return match crate::signing::signed_key() {
                Some(key) => edgesync.authorize_key(key, scope),
                None => Err(edgesync_core::Error::new(
                    edgesync_core::ErrorCode::InvalidCredentials,
                    "the API key is malformed or unknown",
                )),
            };
        }
        edgesync.authenticate(&self.0.token, RequiredAccess::Scope(scope))
    }
}

impl NodeAuth {
    /// Checks the token belongs to `node`.
    pub fn require(&self, edgesync: &EdgeSync, node: NodeId) -> edgesync_core::Result<Principal> {
        edgesync.authenticate(&self.0.token, RequiredAccess::Node(node))
    }
}
