//! The byte format of a stored record.
//!
//! A value in a kind tree is `[format: u8 = 1][revision: u64 big-endian][record: JSON]`. The
//! fixed header lets a commit read a record's revision without parsing the JSON; the JSON body
//! is the `Record`'s serde form, so the data stays readable with ordinary tools.

use edgesync_core::store::{Record, Stored};
use edgesync_core::{Error, Result};

/// The only format so far.
const FORMAT_V1: u8 = 1;
/// Format byte + revision.
const HEADER_LEN: usize = 1 + 8;

/// Serializes a record's body once, before a commit runs (the transaction may run its closure
/// more than once, and serializing outside it keeps the global transaction lock short).
pub(crate) fn encode_body(record: &Record) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| {
        Error::internal(format!("a {:?} record did not serialize", record.kind())).with_source(e)
    })
}

/// The stored value for a serialized body at a revision.
pub(crate) fn encode_value(revision: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&revision.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The revision of a stored value, without decoding the record.
pub(crate) fn decode_revision(value: &[u8]) -> Result<u64> {
    let header = value
        .get(..HEADER_LEN)
        .ok_or_else(|| corrupt("value is shorter than its header"))?;
    let (format, revision) = header.split_at(1);
    if format != [FORMAT_V1] {
        return Err(corrupt(format!("unknown format {}", format[0])));
    }
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(revision);
    Ok(u64::from_be_bytes(bytes))
}

/// Decodes a stored value.
pub(crate) fn decode(value: &[u8]) -> Result<Stored> {
    let revision = decode_revision(value)?;
    let record =
        serde_json::from_slice(&value[HEADER_LEN..]).map_err(|e| Error::corrupt("record", e))?;
    Ok(Stored { revision, record })
}

fn corrupt(why: impl Into<String>) -> Error {
    Error::corrupt("record", why.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use edgesync_core::ErrorCode;
    use edgesync_core::testkit::fixtures;

    use super::*;

    #[test]
    fn values_round_trip() {
        for record in fixtures::one_of_each() {
            let body = encode_body(&record).unwrap();
            let value = encode_value(42, &body);
            assert_eq!(decode_revision(&value).unwrap(), 42);
            assert_eq!(
                decode(&value).unwrap(),
                Stored {
                    revision: 42,
                    record
                }
            );
        }
    }

    #[test]
    fn garbage_is_corrupt() {
        for bad in [
            &b""[..],
            b"\x01\x00",
            b"\x02\x00\x00\x00\x00\x00\x00\x00\x01{}",
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x01{",
        ] {
            assert_eq!(
                decode(bad).unwrap_err().code(),
                ErrorCode::CorruptRecord,
                "{bad:?}"
            );
        }
    }
}
