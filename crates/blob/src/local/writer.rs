//! The local store's writer: a private temp file filled through a double buffer on the blocking
//! pool, published on commit by fdatasync → rename → directory fsync.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;

use super::layout::create_temp;
use super::{blocking, Inner};
use crate::{BlobId, BlobWriter, Error, Result};

/// A buffer write on the blocking pool; it hands back the file and the emptied buffer.
type WriteTask = JoinHandle<io::Result<(File, Vec<u8>)>>;

/// A blob being written to `tmp/<random>.tmp`.
///
/// Writes fill `buf`; a full buffer goes to the disk on the blocking pool while the caller
/// fills the other one, so producing (encrypting) and writing overlap and at most two buffers
/// exist per writer.
pub(crate) struct LocalWriter {
    inner: Arc<Inner>,
    temp: TempFile,
    /// The file, when no write task holds it.
    file: Option<File>,
    buf: Vec<u8>,
    /// The other buffer, back from the last write task.
    spare: Vec<u8>,
    /// The write task in flight; it hands back the file and its (emptied) buffer.
    in_flight: Option<WriteTask>,
    /// Set while a `write` runs; still set at the next call if that `write` failed or was
    /// cancelled midway, after which the writer refuses to continue.
    busy: bool,
}

impl LocalWriter {
    pub(crate) async fn create(inner: Arc<Inner>) -> Result<LocalWriter> {
        let path = inner.layout.temp_path();
        let file = {
            let path = path.clone();
            blocking(move || create_temp(&path).map_err(Error::io("create temp file"))).await?
        };
        let chunk = inner.options.chunk;
        Ok(LocalWriter {
            inner,
            temp: TempFile { path: Some(path) },
            file: Some(file),
            buf: Vec::with_capacity(chunk),
            spare: Vec::with_capacity(chunk),
            in_flight: None,
            busy: false,
        })
    }

    /// Waits for the write in flight, if any, and takes back the file and the spare buffer.
    async fn settle(&mut self) -> Result<()> {
        if let Some(task) = self.in_flight.as_mut() {
            let result = task.await;
            self.in_flight = None;
            let (file, spare) = result
                .map_err(io::Error::other)
                .and_then(|r| r)
                .map_err(Error::io("write temp file"))?;
            self.file = Some(file);
            self.spare = spare;
        }
        Ok(())
    }

    /// Sends the full buffer to the disk without waiting for it.
    async fn flush(&mut self) -> Result<()> {
        self.settle().await?;
        let mut file = self.file.take().ok_or(Error::Poisoned)?;
        let mut data = std::mem::replace(&mut self.buf, std::mem::take(&mut self.spare));
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            file.write_all(&data)?;
            data.clear();
            Ok((file, data))
        }));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, mut chunk: &[u8]) -> Result<()> {
        if self.busy {
            return Err(Error::Poisoned);
        }
        self.busy = true;
        let capacity = self.inner.options.chunk;
        while !chunk.is_empty() {
            let take = (capacity - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.buf.len() >= capacity {
                self.flush().await?;
            }
        }
        self.busy = false;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<BlobId> {
        if self.busy {
            return Err(Error::Poisoned);
        }
        self.settle().await?;
        let mut file = self.file.take().ok_or(Error::Poisoned)?;
        let tail = std::mem::take(&mut self.buf);
        let temp = self.temp.path.clone().ok_or(Error::Poisoned)?;
        let inner = Arc::clone(&self.inner);
        let id = BlobId::random();
        // If this future is dropped now, the task still runs: it may publish a blob nobody
        // learns the id of, which is an orphan for gc, never a partial blob.
        blocking(move || {
            file.write_all(&tail)
                .map_err(Error::io("write temp file"))?;
            // The data (and the file size) must be on disk before the name makes it visible.
            file.sync_data().map_err(Error::io("fdatasync blob"))?;
            inner.layout.stats.file_syncs.fetch_add(1, Relaxed);
            drop(file);
            inner
                .layout
                .publish(&temp, &id)
                .map_err(Error::io("publish blob"))?;
            inner.layout.stats.commits.fetch_add(1, Relaxed);
            Ok(())
        })
        .await?;
        // Renamed away: nothing left to clean up.
        self.temp.path = None;
        Ok(id)
    }

    async fn abort(mut self: Box<Self>) {
        // Let a write in flight finish first so the file is not recreated or written after the
        // unlink (harmless, but this way abort leaves tmp/ exactly as it found it).
        let _ = self.settle().await;
        if let Some(path) = self.temp.path.take() {
            let _ = tokio::task::spawn_blocking(move || remove_temp(path)).await;
        }
    }
}

/// The temp file's path while the writer may have left something there; removes it on drop.
struct TempFile {
    path: Option<PathBuf>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else { return };
        // Unlinking is one short syscall, but async callers should not block a runtime worker on
        // the filesystem: hand it to the blocking pool when there is one.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || remove_temp(path));
            }
            Err(_) => remove_temp(path),
        }
    }
}

fn remove_temp(path: PathBuf) {
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(error = %e, "could not remove an abandoned blob temp file; the next open will");
        }
    }
}
