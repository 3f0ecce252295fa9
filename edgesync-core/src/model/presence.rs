//! Node presence in buckets: when each node was last seen and the resources it last reported,
//! many nodes to a record.
//!
//! A heartbeat that reports nothing new (the same functions, schema, routes and revision) only
//! moves presence. Written behind once a second, presence costs the store one record per
//! bucket that changed, about a thousand for a whole fleet, instead of one per node; a node's
//! own [`NodeState`](super::NodeState) is written when what it runs changes. Reading the store
//! back, the later of the two sightings wins.

use serde::{Deserialize, Serialize};

use super::ids::NodeId;
use super::node::ResourceUsage;
use super::time::Timestamp;

/// How many buckets the fleet's presence is spread over.
pub const PRESENCE_BUCKETS: u16 = 1024;

/// The bucket of node `id`: from the last bytes of its id, which are random in every id this
/// server issues.
pub fn presence_bucket(id: NodeId) -> u16 {
    let bytes = id.as_uuid().as_bytes();
    u16::from_be_bytes([bytes[14], bytes[15]]) % PRESENCE_BUCKETS
}

/// The presence of the nodes of one bucket, as last written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceBucket {
    /// Which bucket (`0..PRESENCE_BUCKETS`).
    pub bucket: u16,
    /// One entry per node of the bucket that has been seen.
    pub entries: Vec<PresenceEntry>,
}

/// One node's presence. Serialized as a JSON array
/// `[node_id, last_seen_at, cpu_percent, memory_bytes, disk_bytes]`: a bucket holds about a
/// hundred of them at 100,000 nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "EntryFields", into = "EntryFields")]
pub struct PresenceEntry {
    /// The node.
    pub node_id: NodeId,
    /// Its last heartbeat, ack or telemetry.
    pub last_seen_at: Timestamp,
    /// The resource usage it reported last.
    pub resources: ResourceUsage,
}

type EntryFields = (NodeId, Timestamp, f64, u64, u64);

impl From<EntryFields> for PresenceEntry {
    fn from((node_id, last_seen_at, cpu_percent, memory_bytes, disk_bytes): EntryFields) -> Self {
        Self {
            node_id,
            last_seen_at,
            resources: ResourceUsage {
                cpu_percent,
                memory_bytes,
                disk_bytes,
            },
        }
    }
}

impl From<PresenceEntry> for EntryFields {
    fn from(e: PresenceEntry) -> Self {
        (
            e.node_id,
            e.last_seen_at,
            e.resources.cpu_percent,
            e.resources.memory_bytes,
            e.resources.disk_bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_compact_arrays_and_round_trip() {
        let entry = PresenceEntry {
            node_id: NodeId::random(),
            last_seen_at: Timestamp::from_unix_millis(1_764_504_000_123),
            resources: ResourceUsage {
                cpu_percent: 3.5,
                memory_bytes: 104_857_600,
                disk_bytes: 7,
            },
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert!(json.is_array(), "{json}");
        assert_eq!(json[2], 3.5);
        let back: PresenceEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn buckets_spread_ids_over_the_whole_range() {
        let mut seen = vec![0u32; usize::from(PRESENCE_BUCKETS)];
        for _ in 0..20_000 {
            let b = presence_bucket(NodeId::random());
            assert!(b < PRESENCE_BUCKETS);
            seen[usize::from(b)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "a bucket was never used");
        assert!(seen.iter().all(|&n| n < 60), "buckets are uneven: {seen:?}");
    }
}
