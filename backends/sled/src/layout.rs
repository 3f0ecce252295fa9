//! Which sled tree holds what.
//!
//! - One tree per [`Kind`], named [`kind_tree_name`] (the kind's name; telemetry's tree says
//!   that its keys lead with the hour), mapping `RecordKey::encode()` to the stored value (see
//!   [`crate::codec`]).
//! - One tree per [`UniqueIndex`], named `uniq_<index>`, mapping the value (UTF-8) to the encoded
//!   key of the record that holds it.
//!
//! A commit transacts over all of them at once (sled's `Transactional` for `[&Tree]`): every
//! tree touched by a write is in the set, and untouched trees cost nothing at commit. A commit
//! confined to one tree without unique values is one `sled::Batch` on that tree instead.

use edgesync_core::Result;
use edgesync_core::store::{Kind, UniqueIndex};

use crate::error::from_open;

/// The trees of one database, in a fixed order: the kinds in [`Kind::ALL`] order, then the
/// unique indexes in [`UniqueIndex::ALL`] order.
#[derive(Clone, Debug)]
pub(crate) struct Trees {
    all: Vec<sled::Tree>,
}

impl Trees {
    /// Opens (creating when missing) every tree of the layout.
    pub(crate) fn open(db: &sled::Db) -> Result<Self> {
        let kinds = Kind::ALL.iter().map(|k| kind_tree_name(*k).to_owned());
        let indexes = UniqueIndex::ALL.iter().map(|i| unique_tree_name(*i));
        let all = kinds
            .chain(indexes)
            .map(|name| db.open_tree(name).map_err(from_open))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { all })
    }

    /// Every tree, for a transaction over all of them.
    pub(crate) fn all(&self) -> &[sled::Tree] {
        &self.all
    }

    /// The records of one kind.
    pub(crate) fn kind(&self, kind: Kind) -> &sled::Tree {
        &self.all[kind_slot(kind)]
    }

    /// The holders of one unique index.
    pub(crate) fn unique(&self, index: UniqueIndex) -> &sled::Tree {
        &self.all[unique_slot(index)]
    }
}

/// The name of a kind's tree.
pub(crate) fn kind_tree_name(kind: Kind) -> &'static str {
    match kind {
        // Renamed when the hour became the first field of a telemetry key: a database written
        // before that holds the node-first keys in `telemetry` (see `crate::upgrade`).
        Kind::Telemetry => "telemetry_by_hour",
        other => other.as_str(),
    }
}

/// The name of a unique index's tree.
pub(crate) fn unique_tree_name(index: UniqueIndex) -> String {
    format!("uniq_{}", index.as_str())
}

/// Position of a kind's tree in [`Trees::all`] (and in a transaction's view).
pub(crate) fn kind_slot(kind: Kind) -> usize {
    // `Kind::ALL` lists the variants in declaration order; a test below holds that.
    kind as usize
}

/// Position of a unique index's tree in [`Trees::all`] (and in a transaction's view).
pub(crate) fn unique_slot(index: UniqueIndex) -> usize {
    Kind::ALL.len() + index as usize
}

/// The smallest byte string greater than every string that starts with `prefix`, if any.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_all_lists() {
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(kind_slot(*k), i);
        }
        for (i, u) in UniqueIndex::ALL.iter().enumerate() {
            assert_eq!(unique_slot(*u), Kind::ALL.len() + i);
        }
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(&[]), None);
    }
}
