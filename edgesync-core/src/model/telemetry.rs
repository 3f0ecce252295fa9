//! Telemetry points nodes push.

use serde::{Deserialize, Serialize};

use super::ids::NodeId;
use super::time::Timestamp;
use crate::selector::Labels;

/// One metric sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryPoint {
    /// The node.
    pub node_id: NodeId,
    /// Metric name.
    pub metric: String,
    /// When it was measured.
    pub ts: Timestamp,
    /// Disambiguates samples of the same metric at the same instant.
    pub seq: u32,
    /// The value.
    pub value: f64,
    /// Extra dimensions.
    pub labels: Labels,
}
