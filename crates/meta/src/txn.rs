//! A transaction's view: its own writes over the commit group's writes over the backend.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, Entry};
use crate::{codec, Error, Range, WriteBatch};

/// The handle a transaction closure reads and writes through.
///
/// Reads see, in order of precedence: this transaction's own writes, the writes of the
/// transactions that ran before it in the same commit group, then the backend's committed
/// state. Writes are buffered here and reach the backend only if the closure returns `Ok`.
pub struct Txn<'a> {
    backend: &'a dyn Backend,
    group: &'a WriteBatch,
    own: WriteBatch,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(backend: &'a dyn Backend, group: &'a WriteBatch) -> Self {
        Txn {
            backend,
            group,
            own: WriteBatch::new(),
        }
    }

    pub(crate) fn into_writes(self) -> WriteBatch {
        self.own
    }

    /// The value under `key` in `table`.
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        if let Some(op) = self.own.lookup(table, key) {
            return Ok(op.map(<[u8]>::to_vec));
        }
        if let Some(op) = self.group.lookup(table, key) {
            return Ok(op.map(<[u8]>::to_vec));
        }
        self.backend.get(table, key)
    }

    /// The value under `key`, decoded from the versioned JSON format (see [`codec`]).
    pub fn get_json<T: DeserializeOwned>(
        &self,
        table: &str,
        key: &[u8],
    ) -> Result<Option<T>, Error> {
        self.get(table, key)?
            .map(|v| codec::decode_json(&v))
            .transpose()
    }

    /// Entries of `table` within `range`, including this transaction's own writes.
    pub fn scan(&self, table: &str, range: Range) -> Result<Vec<Entry>, Error> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        // Pending operations in range, the transaction's own winning over the group's.
        let mut overlay: BTreeMap<&[u8], Option<&[u8]>> =
            self.group.in_range(table, &range).collect();
        overlay.extend(self.own.in_range(table, &range));

        // Each pending key can hide at most one backend entry, so fetching `limit + pending`
        // backend entries always leaves at least `limit` survivors before the cut-off point,
        // unless the backend ran out, in which case nothing lies beyond it anyway.
        let mut wide = range.clone();
        wide.limit = range.limit.map(|l| l.saturating_add(overlay.len()));
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            self.backend.scan(table, &wide)?.into_iter().collect();
        for (key, op) in overlay {
            match op {
                Some(v) => merged.insert(key.to_vec(), v.to_vec()),
                None => merged.remove(key),
            };
        }
        let limit = range.limit.unwrap_or(usize::MAX);
        Ok(if range.reverse {
            merged.into_iter().rev().take(limit).collect()
        } else {
            merged.into_iter().take(limit).collect()
        })
    }

    /// Entries whose key starts with `prefix`, ascending, strictly after `start_after` if given,
    /// at most `limit`.
    pub fn scan_prefix(
        &self,
        table: &str,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        self.scan(table, prefix_range(prefix, start_after, limit))
    }

    /// Sets `key` in `table` to `value`.
    pub fn put(&mut self, table: &'static str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.own.put(table, key, value);
    }

    /// Stores `value` under `key` in the versioned JSON format (see [`codec`]).
    pub fn put_json<T: Serialize + ?Sized>(
        &mut self,
        table: &'static str,
        key: impl Into<Vec<u8>>,
        value: &T,
    ) -> Result<(), Error> {
        let bytes = codec::encode_json(value)?;
        self.own.put(table, key, bytes);
        Ok(())
    }

    /// Removes `key` from `table`; removing an absent key is not an error.
    pub fn delete(&mut self, table: &'static str, key: impl Into<Vec<u8>>) {
        self.own.delete(table, key);
    }
}

pub(crate) fn prefix_range(prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Range {
    let range = Range::prefix(prefix).limit(limit);
    match start_after {
        Some(cursor) => range.after(cursor),
        None => range,
    }
}
