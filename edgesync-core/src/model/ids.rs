//! Typed identifiers. Each is a UUID underneath; the type keeps a node id from being passed where
//! a function id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) id: spreads writes evenly across a distributed database.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// A fresh time-ordered (v7) id: sorts by creation time.
            pub fn ordered() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID underneath.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(
    /// Identifies an edge node.
    NodeId
);
id_type!(
    /// Identifies a function (all its versions share it).
    FunctionId
);
id_type!(
    /// Identifies a deployment.
    DeploymentId
);
id_type!(
    /// Identifies a route.
    RouteId
);
id_type!(
    /// Identifies a sync plan handed to a node.
    PlanId
);
id_type!(
    /// Identifies a recorded sync (one acknowledged plan).
    SyncRecordId
);
id_type!(
    /// Identifies a command queued for a node.
    CommandId
);
id_type!(
    /// Identifies an API key (not its secret).
    ApiKeyId
);
