//! [`LocalBlobStore`]: blobs as files under a data directory, committed with
//! fdatasync → rename → (group) directory fsync. The discipline and its crash analysis are in
//! `docs/design/storage.md`.

mod layout;
mod writer;

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::reader::FileRangeStream;
use crate::{
    BlobId, BlobReader, BlobStore, BlobWriter, Error, GcReport, IsLive, Result, DEFAULT_CHUNK,
};
use layout::{is_shard_name, Layout, TMP_DIR};
use writer::LocalWriter;

/// Tuning of a [`LocalBlobStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalOptions {
    /// Size of read chunks and of the write buffer handed to the disk in one call.
    pub chunk: usize,
    /// Chunk reads a reader keeps in flight ahead of its consumer (memory per reader is about
    /// `chunk * read_ahead`).
    pub read_ahead: usize,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            chunk: DEFAULT_CHUNK,
            read_ahead: 2,
        }
    }
}

/// Counts of the durability work a [`LocalBlobStore`] did since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Blobs committed.
    pub commits: u64,
    /// File `fdatasync`s (one per commit; concurrent ones run in parallel).
    pub file_syncs: u64,
    /// Directory fsyncs actually issued.
    pub dir_syncs: u64,
    /// Directory fsyncs a commit needed but shared with a concurrent commit's fsync.
    pub dir_syncs_shared: u64,
}

/// A [`BlobStore`] on a local filesystem. Cheap to clone; clones share state.
///
/// Only one store may be open on a directory at a time, across processes: `open` deletes
/// whatever is in `tmp/`, which would include another live store's uploads. In `coffer` the
/// metadata database's file lock, taken first, guarantees this.
#[derive(Clone)]
pub struct LocalBlobStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    layout: Layout,
    options: LocalOptions,
}

impl std::fmt::Debug for LocalBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobStore")
            .field("root", &self.inner.layout.root)
            .field("options", &self.inner.options)
            .field("stats", &self.stats())
            .finish()
    }
}

impl LocalBlobStore {
    /// Opens (creating if needed) the store under `dir` with default options.
    pub async fn open(dir: impl AsRef<Path>) -> Result<LocalBlobStore> {
        LocalBlobStore::open_with(dir, LocalOptions::default()).await
    }

    /// Opens (creating if needed) the store under `dir`: creates the root and `tmp/` (0700)
    /// durably, and deletes every leftover temp file (uploads a crash interrupted).
    pub async fn open_with(dir: impl AsRef<Path>, options: LocalOptions) -> Result<LocalBlobStore> {
        let root = dir.as_ref().to_path_buf();
        let options = LocalOptions {
            chunk: options.chunk.max(1),
            read_ahead: options.read_ahead.max(1),
        };
        let layout = blocking(move || prepare(root)).await?;
        Ok(LocalBlobStore {
            inner: Arc::new(Inner { layout, options }),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.layout.root
    }

    /// Where blob `id` is stored (whether or not it exists); for checks and tests.
    pub fn path_of(&self, id: &BlobId) -> PathBuf {
        self.inner.layout.blob_path(id)
    }

    /// What durability work the store has done since it was opened.
    pub fn stats(&self) -> SyncStats {
        let c = &self.inner.layout.stats;
        SyncStats {
            commits: c.commits.load(Relaxed),
            file_syncs: c.file_syncs.load(Relaxed),
            dir_syncs: c.dir_syncs.load(Relaxed),
            dir_syncs_shared: c.dir_syncs_shared.load(Relaxed),
        }
    }
}

/// Runs blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|join| Error::Io {
            op: "blocking task",
            source: io::Error::other(join),
        })?
}

/// Creates the directories and clears `tmp/`.
fn prepare(root: PathBuf) -> Result<Layout> {
    let existed = root.is_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(layout::DIR_MODE)
        .create(&root)
        .map_err(Error::io("create root directory"))?;
    if !existed {
        // The root's own entry must be durable before any blob inside it is acknowledged.
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            layout::fsync_dir(parent).map_err(Error::io("fsync data directory parent"))?;
        }
    }
    let layout = Layout::new(root);
    layout::create_dir(&layout.tmp).map_err(Error::io("create tmp directory"))?;
    let mut removed = 0u64;
    for entry in fs::read_dir(&layout.tmp).map_err(Error::io("scan tmp directory"))? {
        let entry = entry.map_err(Error::io("scan tmp directory"))?;
        let path = entry.path();
        let result = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove leftover temp file")(e)),
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed temp files of interrupted blob writes");
    }
    // Also makes the tmp directory's entry durable (the root is synced last); deletions need
    // not be (a temp file that comes back after a crash is removed by the next open).
    layout
        .prepare_shards()
        .map_err(Error::io("prepare shard directories"))?;
    Ok(layout)
}

/// Every committed blob under `layout`, with its path. Entries that are not ours (foreign
/// files, unexpected names) are skipped with a warning, never deleted.
fn walk(layout: &Layout) -> Result<Vec<(BlobId, PathBuf)>> {
    let mut found = Vec::new();
    for top in read_dir_names(&layout.root)? {
        if top == TMP_DIR {
            continue;
        }
        if !is_shard_name(&top, 2) {
            tracing::warn!(name = %top, "unexpected entry in blob root, ignored");
            continue;
        }
        let top_path = layout.root.join(&top);
        for leaf in read_dir_names(&top_path)? {
            if !is_shard_name(&leaf, 2) {
                tracing::warn!(name = %leaf, "unexpected entry in blob shard, ignored");
                continue;
            }
            let leaf_path = top_path.join(&leaf);
            for name in read_dir_names(&leaf_path)? {
                match name.parse::<BlobId>() {
                    Ok(id) if name[0..2] == top && name[2..4] == leaf => {
                        found.push((id, leaf_path.join(&name)));
                    }
                    _ => tracing::warn!(name = %name, "unexpected file in blob shard, ignored"),
                }
            }
        }
    }
    Ok(found)
}

/// The names in `dir` (a directory removed meanwhile has none); non-UTF-8 names are skipped.
fn read_dir_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list blob directory")(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("list blob directory"))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

fn not_found_as(id: BlobId, op: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |e| {
        if e.kind() == io::ErrorKind::NotFound {
            Error::NotFound(id)
        } else {
            Error::Io { op, source: e }
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(
            LocalWriter::create(Arc::clone(&self.inner)).await?,
        ))
    }

    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<BlobReader> {
        let id = *id;
        let path = self.inner.layout.blob_path(&id);
        let LocalOptions { chunk, read_ahead } = self.inner.options;
        blocking(move || {
            let file = fs::File::open(&path).map_err(not_found_as(id, "open blob"))?;
            let size = file.metadata().map_err(Error::io("stat blob"))?.len();
            if offset.checked_add(len).is_none_or(|end| end > size) {
                return Err(Error::OutOfRange {
                    id,
                    offset,
                    len,
                    size,
                });
            }
            Ok(BlobReader::new(FileRangeStream::new(
                file, offset, len, chunk, read_ahead,
            )))
        })
        .await
    }

    async fn len(&self, id: &BlobId) -> Result<u64> {
        let id = *id;
        let path = self.inner.layout.blob_path(&id);
        blocking(move || {
            fs::metadata(&path)
                .map(|m| m.len())
                .map_err(not_found_as(id, "stat blob"))
        })
        .await
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        let path = self.inner.layout.blob_path(id);
        // No directory fsync: a delete lost in a crash brings back an unreferenced blob, which
        // gc removes again (docs/design/storage.md).
        blocking(move || match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("delete blob")(e)),
            _ => Ok(()),
        })
        .await
    }

    async fn list(&self) -> Result<Vec<BlobId>> {
        let inner = Arc::clone(&self.inner);
        blocking(move || Ok(walk(&inner.layout)?.into_iter().map(|(id, _)| id).collect())).await
    }

    async fn gc(&self, live: &IsLive<'_>, grace: Duration) -> Result<GcReport> {
        let inner = Arc::clone(&self.inner);
        let all = blocking(move || walk(&inner.layout)).await?;
        let mut report = GcReport {
            scanned: all.len() as u64,
            ..GcReport::default()
        };
        let candidates: Vec<PathBuf> = all
            .into_iter()
            .filter_map(|(id, path)| (!live(&id)).then_some(path))
            .collect();
        report.live = report.scanned - candidates.len() as u64;
        let (young, deleted, bytes_freed) = blocking(move || {
            let now = SystemTime::now();
            let (mut young, mut deleted, mut bytes) = (0u64, 0u64, 0u64);
            for path in candidates {
                let meta = match fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("stat blob")(e)),
                };
                // A clock step backwards makes a blob look young: keeping it is the safe side.
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .unwrap_or(Duration::ZERO);
                if age < grace {
                    young += 1;
                    continue;
                }
                match fs::remove_file(&path) {
                    Ok(()) => {
                        deleted += 1;
                        bytes += meta.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("delete blob")(e)),
                }
            }
            Ok((young, deleted, bytes))
        })
        .await?;
        report.young = young;
        report.deleted = deleted;
        report.bytes_freed = bytes_freed;
        if deleted > 0 {
            tracing::info!(deleted, bytes_freed, "removed unreferenced blobs");
        }
        Ok(report)
    }
}
