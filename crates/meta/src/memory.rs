//! An in-memory backend for tests: same ordering and atomicity as redb, no durability.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::backend::{Backend, Entry};
use crate::{Error, Range, WriteBatch};

type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A [`Backend`] held in a `BTreeMap` per table. Commits are atomic (one write lock) but, being
/// in memory, vanish with the process.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    tables: RwLock<Tables>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    // A poisoned lock can only come from a panic inside this module's short critical sections,
    // none of which leaves the maps half-updated, so the data is still consistent.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.read().get(table).and_then(|t| t.get(key)).cloned())
    }

    fn scan(&self, table: &str, range: &Range) -> Result<Vec<Entry>, Error> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let tables = self.read();
        let Some(t) = tables.get(table) else {
            return Ok(Vec::new());
        };
        let iter = t.range::<[u8], _>(range.slice_bounds());
        let limit = range.max_len().unwrap_or(usize::MAX);
        let clone = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
        Ok(if range.is_reverse() {
            iter.rev().take(limit).map(clone).collect()
        } else {
            iter.take(limit).map(clone).collect()
        })
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), Error> {
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        for (name, ops) in batch.tables() {
            let t = tables.entry(name.to_owned()).or_default();
            for (key, op) in ops {
                match op {
                    Some(value) => t.insert(key.clone(), value.clone()),
                    None => t.remove(key),
                };
            }
        }
        Ok(())
    }
}
