//! What the sled benches share: a record's bytes as the store lays them out, for the raw-sled
//! baselines.

use edgesync_core::store::Record;

/// The stored key and value of `record` (`layout.rs`, `codec.rs`): key `RecordKey::encode()`,
/// value `[format 1][revision u64 BE][the Record's JSON]`, at revision 1.
pub(crate) fn stored(record: &Record) -> (Vec<u8>, Vec<u8>) {
    let mut value = vec![1u8];
    value.extend_from_slice(&1u64.to_be_bytes());
    value.extend_from_slice(&serde_json::to_vec(record).unwrap());
    (record.key().encode(), value)
}
