//! A set of puts and deletes across tables that a backend applies atomically.

use std::collections::BTreeMap;

use crate::range::Range;

/// One pending change to a key: `Some(value)` puts, `None` deletes.
pub type Op = Option<Vec<u8>>;

/// Puts and deletes across named tables, applied all-or-nothing by [`crate::Backend::commit`].
///
/// Only the last operation on a key is kept, so a batch is also the overlay that a transaction
/// (and a commit group) reads its own writes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    tables: BTreeMap<&'static str, BTreeMap<Vec<u8>, Op>>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Sets `key` in `table` to `value`, replacing any earlier operation on that key.
    pub fn put(&mut self, table: &'static str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.tables
            .entry(table)
            .or_default()
            .insert(key.into(), Some(value.into()));
    }

    /// Removes `key` from `table`, replacing any earlier operation on that key.
    pub fn delete(&mut self, table: &'static str, key: impl Into<Vec<u8>>) {
        self.tables
            .entry(table)
            .or_default()
            .insert(key.into(), None);
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(BTreeMap::is_empty)
    }

    /// The number of keys the batch changes.
    pub fn len(&self) -> usize {
        self.tables.values().map(BTreeMap::len).sum()
    }

    /// The changes, table by table, each table's keys in ascending order.
    pub fn tables(&self) -> impl Iterator<Item = (&'static str, &BTreeMap<Vec<u8>, Op>)> {
        self.tables.iter().map(|(t, ops)| (*t, ops))
    }

    /// The pending operation on `key`, if the batch has one: `Some(None)` means "deleted here".
    pub(crate) fn lookup(&self, table: &str, key: &[u8]) -> Option<Option<&[u8]>> {
        self.tables
            .get(table)
            .and_then(|ops| ops.get(key))
            .map(|op| op.as_deref())
    }

    /// The pending operations whose keys fall within `range`'s bounds, ascending.
    pub(crate) fn in_range<'a>(
        &'a self,
        table: &str,
        range: &Range,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        let ops = if range.is_empty() {
            None
        } else {
            self.tables.get(table)
        };
        // The bounds are consumed here, so the iterator borrows only the batch.
        ops.map(|ops| ops.range::<[u8], _>(range.slice_bounds()))
            .into_iter()
            .flatten()
            .map(|(k, op)| (k.as_slice(), op.as_deref()))
    }

    /// Applies `later` on top of this batch, so that its operations win.
    pub(crate) fn absorb(&mut self, later: WriteBatch) {
        for (table, ops) in later.tables {
            self.tables.entry(table).or_default().extend(ops);
        }
    }
}
