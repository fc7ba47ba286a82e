//! The on-disk layout of a local blob store and the durable directory operations on it.
//!
//! ```text
//! <root>/tmp/<32 hex>.tmp      blobs being written (removed at open)
//! <root>/ab/cd/abcd…(32 hex)   committed blobs, sharded by the first two id bytes
//! ```

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Mutex, PoisonError};

use crate::dirsync::DirSync;
use crate::BlobId;

/// The name of the temp directory under the root.
pub(crate) const TMP_DIR: &str = "tmp";

/// Directories are private to the server's user.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Blob files are private to the server's user.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Paths, per-directory fsync state and counters of one open store.
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
    pub(crate) tmp: PathBuf,
    /// Fsync state per directory, created on first use: first-level shard dirs (`(1, ab)`) and
    /// leaf shard dirs (`(2, abcd)`). The lock covers only the lookup, never an fsync.
    dirs: Mutex<HashMap<(u8, u16), Arc<DirSync>>>,
    /// Per leaf shard (`abcd`): whether its entry in `ab/` is known durable, i.e. a fsync of
    /// `ab/` that started after the leaf existed has succeeded (at open, or by a committer).
    leaf_durable: Box<[AtomicBool]>,
    pub(crate) stats: Counters,
}

/// Counters behind [`crate::SyncStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) file_syncs: AtomicU64,
    pub(crate) dir_syncs: AtomicU64,
    pub(crate) dir_syncs_shared: AtomicU64,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Layout {
        Layout {
            tmp: root.join(TMP_DIR),
            root,
            dirs: Mutex::new(HashMap::new()),
            leaf_durable: (0..=u16::MAX).map(|_| AtomicBool::new(false)).collect(),
            stats: Counters::default(),
        }
    }

    /// Where a committed blob lives.
    pub(crate) fn blob_path(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// A fresh temp file path (random, so concurrent writers never collide).
    pub(crate) fn temp_path(&self) -> PathBuf {
        let name = hex::encode(crate::id::random_bytes());
        self.tmp.join(format!("{name}.tmp"))
    }

    fn dir_sync(&self, key: (u8, u16)) -> Arc<DirSync> {
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(dirs.entry(key).or_default())
    }

    /// Fsyncs `dir`, sharing the fsync with concurrent callers (see [`DirSync`]).
    fn sync_dir(&self, sync: &DirSync, dir: &Path) -> io::Result<()> {
        let ran = sync.sync(|| fsync_dir(dir))?;
        let counter = if ran {
            &self.stats.dir_syncs
        } else {
            &self.stats.dir_syncs_shared
        };
        counter.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Creates the 256 top-level shard dirs and makes them and every existing leaf's entry
    /// durable, so steady-state commits only sync their leaf. Run at open, before any writer:
    /// a directory found on disk may be in the page cache only, if the process that created it
    /// crashed before its parent was synced.
    pub(crate) fn prepare_shards(&self) -> io::Result<()> {
        for top in 0..=u8::MAX {
            let top_dir = self.root.join(format!("{top:02x}"));
            create_dir(&top_dir)?;
            let leaves: Vec<u16> = fs::read_dir(&top_dir)?
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| is_shard_name(name, 2))
                .filter_map(|name| u8::from_str_radix(&name, 16).ok())
                .map(|leaf| u16::from_be_bytes([top, leaf]))
                .collect();
            // No leaves, nothing whose durability depends on this directory: skip the flush (a
            // fresh store opens with one fsync, of the root).
            if !leaves.is_empty() {
                fsync_dir(&top_dir)?;
            }
            for leaf in leaves {
                self.leaf_durable[usize::from(leaf)].store(true, Release);
            }
        }
        fsync_dir(&self.root)
    }

    /// Moves a fully written, fdatasynced temp file to its final place and makes the new
    /// directory entry durable: rename, then fsync of the leaf shard dir (shared with concurrent
    /// committers), and, the first time a leaf shard is used after being created, a fsync of its
    /// parent so that the leaf's own entry is durable too.
    pub(crate) fn publish(&self, temp: &Path, id: &BlobId) -> io::Result<PathBuf> {
        let target = self.blob_path(id);
        let leaf_dir = target.parent().expect("blob paths have a shard dir");
        let top_dir = leaf_dir.parent().expect("shard dirs have a parent");
        match fs::rename(temp, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && temp.exists() => {
                // The shard does not exist yet. Creating it races with other committers, so
                // "already exists" is success; durability of the new entries is handled below
                // whoever created them.
                create_dir(top_dir)?;
                create_dir(leaf_dir)?;
                fs::rename(temp, &target)?;
            }
            Err(e) => return Err(e),
        }

        let bytes = id.as_bytes();
        let leaf_index = u16::from_be_bytes([bytes[0], bytes[1]]);
        let result = (|| {
            // The top-level dirs were made durable at open; a leaf made (or first used) since
            // needs its entry in the top dir synced once.
            let leaf_durable = &self.leaf_durable[usize::from(leaf_index)];
            if !leaf_durable.load(Acquire) {
                let top = self.dir_sync((1, u16::from(bytes[0])));
                self.sync_dir(&top, top_dir)?;
                leaf_durable.store(true, Release);
            }
            self.sync_dir(&self.dir_sync((2, leaf_index)), leaf_dir)
        })();
        match result {
            Ok(()) => Ok(target),
            Err(e) => {
                // Not known durable, and the caller will report failure: take it back out so a
                // blob is never visible without its writer having been told it committed.
                let _ = fs::remove_file(&target);
                Err(e)
            }
        }
    }
}

/// Creates a private temp file that must not exist yet.
pub(crate) fn create_temp(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates one private directory; an existing one is fine.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(DIR_MODE).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn fsync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Whether `name` is `len` lowercase hex digits (a shard directory name).
pub(crate) fn is_shard_name(name: &str, len: usize) -> bool {
    name.len() == len && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
