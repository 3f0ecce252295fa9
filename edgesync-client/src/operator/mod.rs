//! Operator endpoints, one file per resource. Each endpoint is one small method of
//! [`Client`](crate::Client): build a call, pick a decoder.

pub(crate) mod api_keys;
pub(crate) mod commands;
pub(crate) mod deployments;
pub(crate) mod functions;
pub(crate) mod health;
pub(crate) mod nodes;
pub(crate) mod routes;
pub(crate) mod schemas;
pub(crate) mod sync;
pub(crate) mod telemetry;

use serde::Serialize;

use crate::error::{ClientError, Result};

/// The wire name of an enum value (`online`, `draining`), for query parameters.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(ClientError::InvalidArgument(
            "value has no wire name".to_owned(),
        )),
    }
}
