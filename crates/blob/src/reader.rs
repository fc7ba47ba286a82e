//! [`BlobReader`]: a blob range as a stream of chunks, and the local file's positional reader.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::future::{poll_fn, Future};
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::task::JoinHandle;

/// The bytes of one blob range, as a stream of chunks in order.
///
/// Memory stays bounded whatever the range's size: a backend holds at most its read-ahead of
/// chunks. A chunk is never empty. An `Err` item ends the stream; in particular a blob that
/// turns out shorter than its range (truncated on disk) is `io::ErrorKind::UnexpectedEof`,
/// never a silently short read.
pub struct BlobReader {
    stream: Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>,
}

impl BlobReader {
    /// Wraps a backend's chunk stream (how a new backend produces a reader).
    pub fn new(stream: impl Stream<Item = io::Result<Bytes>> + Send + 'static) -> BlobReader {
        BlobReader {
            stream: Box::pin(stream),
        }
    }

    /// The next chunk, or `None` at the end of the range.
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await
    }
}

impl Stream for BlobReader {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader").finish_non_exhaustive()
    }
}

/// Reads a file range with positional reads (`pread`) on the blocking pool, keeping up to
/// `read_ahead` chunk reads in flight ahead of the consumer.
///
/// Each chunk is its own short blocking task, so a slow consumer holds no blocking thread while
/// it is not reading (a thread parked per slow download would exhaust the pool under load).
pub(crate) struct FileRangeStream {
    file: Arc<File>,
    /// The next offset not yet handed to a read task.
    next: u64,
    /// The end of the range (exclusive).
    end: u64,
    chunk: usize,
    read_ahead: usize,
    in_flight: VecDeque<JoinHandle<io::Result<Bytes>>>,
    done: bool,
}

impl FileRangeStream {
    pub(crate) fn new(
        file: File,
        offset: u64,
        len: u64,
        chunk: usize,
        read_ahead: usize,
    ) -> FileRangeStream {
        FileRangeStream {
            file: Arc::new(file),
            next: offset,
            end: offset + len,
            chunk: chunk.max(1),
            read_ahead: read_ahead.max(1),
            in_flight: VecDeque::new(),
            done: false,
        }
    }

    /// Starts chunk reads until `read_ahead` are in flight or the range is covered.
    fn top_up(&mut self) {
        while self.in_flight.len() < self.read_ahead && self.next < self.end {
            let offset = self.next;
            let len = (self.end - offset).min(self.chunk as u64) as usize;
            self.next += len as u64;
            let file = Arc::clone(&self.file);
            self.in_flight
                .push_back(tokio::task::spawn_blocking(move || {
                    read_exact_at(&file, offset, len)
                }));
        }
    }
}

/// Reads exactly `len` bytes at `offset`; a file that ends first is `UnexpectedEof`.
fn read_exact_at(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(len);
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob file is shorter than its committed length",
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf.freeze())
}

impl Stream for FileRangeStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        self.top_up();
        let Some(front) = self.in_flight.front_mut() else {
            self.done = true;
            return Poll::Ready(None);
        };
        let result = match Pin::new(front).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(result)) => result,
            Poll::Ready(Err(join)) => Err(io::Error::other(join)),
        };
        self.in_flight.pop_front();
        if result.is_err() {
            // An error ends the stream; reads still in flight finish and are dropped.
            self.done = true;
            self.in_flight.clear();
        } else {
            self.top_up();
        }
        Poll::Ready(Some(result))
    }
}
