//! Shared helpers: store constructors for the suite, test data, and on-disk inspection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use blob::{BlobId, BlobReader, BlobStore, LocalBlobStore, LocalOptions, MemoryBlobStore};

/// A small chunk, so modest test blobs span many chunks and boundaries.
pub const CHUNK: usize = 1024;

/// A store under test, with what is needed to inspect it from outside.
pub struct Harness {
    pub store: Arc<dyn BlobStore>,
    /// The root directory of a local store.
    pub root: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// Files anywhere under the root except in `tmp/` (none for the memory store).
    pub fn files_outside_tmp(&self) -> Vec<PathBuf> {
        self.root
            .as_deref()
            .map(|root| {
                files_under(root)
                    .into_iter()
                    .filter(|p| !p.starts_with(root.join("tmp")))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Files in `tmp/` (none for the memory store).
    pub fn temp_files(&self) -> Vec<PathBuf> {
        self.root
            .as_deref()
            .map(|root| files_under(&root.join("tmp")))
            .unwrap_or_default()
    }
}

pub async fn memory() -> Harness {
    Harness {
        store: Arc::new(MemoryBlobStore::with_chunk(CHUNK)),
        root: None,
        _dir: None,
    }
}

pub async fn local() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = open_local(&root).await;
    Harness {
        store: Arc::new(store),
        root: Some(root),
        _dir: Some(dir),
    }
}

pub async fn open_local(root: &Path) -> LocalBlobStore {
    let options = LocalOptions {
        chunk: CHUNK,
        read_ahead: 3,
    };
    LocalBlobStore::open_with(root, options).await.unwrap()
}

/// Deterministic, position- and seed-dependent bytes, so a misplaced range never matches.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `data` in pieces of the given sizes (cycled) and commits.
pub async fn put_in_pieces(store: &dyn BlobStore, data: &[u8], pieces: &[usize]) -> BlobId {
    let mut w = store.create().await.unwrap();
    let mut rest = data;
    for &size in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let take = size.max(1).min(rest.len());
        w.write(&rest[..take]).await.unwrap();
        rest = &rest[take..];
    }
    w.commit().await.unwrap()
}

pub async fn put(store: &dyn BlobStore, data: &[u8]) -> BlobId {
    put_in_pieces(store, data, &[data.len().max(1)]).await
}

/// Drains a reader, checking that every chunk is non-empty and at most [`CHUNK`] bytes.
pub async fn read_all(mut reader: BlobReader) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = reader.chunk().await {
        let chunk = chunk?;
        assert!(!chunk.is_empty(), "empty chunk");
        assert!(chunk.len() <= CHUNK, "chunk of {} bytes", chunk.len());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub async fn read_range(store: &dyn BlobStore, id: &BlobId, offset: u64, len: u64) -> Vec<u8> {
    read_all(store.read(id, offset, len).await.unwrap())
        .await
        .unwrap()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
