//! The production backend: one redb file, one write transaction per commit group.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, TableDefinition, TableError};

use crate::backend::{Backend, Entry};
use crate::{Error, Range, WriteBatch};

// Every coffer table is an untyped byte map; typing happens above the store (see codec).
fn definition(table: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(table)
}

type Guard<'a> = redb::AccessGuard<'a, &'static [u8]>;

// Copies an entry out of redb's pages, so no read transaction outlives the scan.
fn owned(item: Result<(Guard<'_>, Guard<'_>), redb::StorageError>) -> Result<Entry, Error> {
    let (k, v) = item.map_err(Error::backend)?;
    Ok((k.value().to_vec(), v.value().to_vec()))
}

/// A [`Backend`] on a redb database file. Commits use [`Durability::Immediate`], so
/// [`Backend::commit`] returns only after redb's fsync.
pub struct RedbBackend {
    db: Database,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend").finish_non_exhaustive()
    }
}

impl RedbBackend {
    /// Opens the database at `path`, creating it if the file does not exist or is empty.
    ///
    /// The file holds every metadata record, so it is owner-only: a new file is created with mode 0600 before
    /// redb initializes it (redb itself would create it with the process umask, and a chmod afterwards would
    /// leave a window), and an existing file with group or other permissions is restricted.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        create_private(path).map_err(Error::backend)?;
        let db = Database::create(path).map_err(Error::backend)?;
        Ok(RedbBackend { db })
    }
}

fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl Backend for RedbBackend {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let txn = self.db.begin_read().map_err(Error::backend)?;
        let t = match txn.open_table(definition(table)) {
            Ok(t) => t,
            // Tables are created by their first commit; before that they read as empty.
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(Error::backend(e)),
        };
        let value = t.get(key).map_err(Error::backend)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: &str, range: &Range) -> Result<Vec<Entry>, Error> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_read().map_err(Error::backend)?;
        let t = match txn.open_table(definition(table)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(Error::backend(e)),
        };
        let iter = t
            .range::<&[u8]>(range.slice_bounds())
            .map_err(Error::backend)?;
        let limit = range.max_len().unwrap_or(usize::MAX);
        if range.is_reverse() {
            iter.rev().take(limit).map(owned).collect()
        } else {
            iter.take(limit).map(owned).collect()
        }
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), Error> {
        let mut txn = self.db.begin_write().map_err(Error::commit)?;
        // Immediate is redb's default; it is set explicitly because the store's promise that an
        // acknowledged write is durable rests on it.
        txn.set_durability(Durability::Immediate)
            .map_err(Error::commit)?;
        for (name, ops) in batch.tables() {
            let mut t = txn.open_table(definition(name)).map_err(Error::commit)?;
            for (key, op) in ops {
                match op {
                    Some(value) => t.insert(key.as_slice(), value.as_slice()).map(drop),
                    None => t.remove(key.as_slice()).map(drop),
                }
                .map_err(Error::commit)?;
            }
        }
        // Dropping an uncommitted WriteTransaction on the error paths above aborts it, so a
        // failed batch leaves nothing behind.
        txn.commit().map_err(Error::commit)
    }
}
