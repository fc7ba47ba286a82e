//! Guards of one API connection against slow and idle clients: a watchdog that closes a connection whose request
//! head is late, that sits idle between requests, or whose response the client stops reading; and a request body
//! that fails when the client stops sending it.
//!
//! hyper's own `header_read_timeout` starts when a connection becomes ready for a head — at accept and after
//! every response — so it would be the keep-alive idle limit too. Keeping the two apart (a short wait for a head
//! once it has begun, a longer keep-alive) needs to know when a head begins, which only the I/O sees: hence
//! [`GuardedIo`], which notes read and write progress, and [`Watch`], which the service marks at the start and
//! end of each request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::dispatch::BoxError;

/// Time limits of a connection (see `server::Limits` for what each means).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// What a connection is doing, shared by its I/O, its service and its watchdog. Times are milliseconds since
/// `epoch` plus one, so that 0 can mean "not set".
#[derive(Debug)]
pub(crate) struct Watch {
    epoch: Instant,
    /// A request is being handled (from its head being parsed until its response body is done with).
    in_request: AtomicBool,
    /// When the connection last became ready for a request head (accept, or the end of a response).
    ready_since: AtomicU64,
    /// When the first byte of the next request head arrived, if it has.
    head_started: AtomicU64,
    /// Requests started on this connection.
    requests: AtomicU64,
    /// Since when a response write has been waiting for the client to read, if one is.
    write_blocked: AtomicU64,
}

impl Watch {
    pub(crate) fn new() -> Arc<Watch> {
        Arc::new(Watch {
            epoch: Instant::now(),
            in_request: AtomicBool::new(false),
            ready_since: AtomicU64::new(1),
            head_started: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn read_progress(&self) {
        if !self.in_request.load(Ordering::Acquire)
            && self.head_started.load(Ordering::Acquire) == 0
        {
            self.head_started.store(self.now(), Ordering::Release);
        }
    }

    fn write_progress(&self) {
        self.write_blocked.store(0, Ordering::Release);
    }

    fn write_pending(&self) {
        if self.write_blocked.load(Ordering::Acquire) == 0 {
            self.write_blocked.store(self.now(), Ordering::Release);
        }
    }

    /// A request head has been parsed: the handler and the response have as long as they take, as long as the
    /// client keeps reading (and, through [`TimeoutBody`], sending).
    pub(crate) fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.in_request.store(true, Ordering::Release);
    }

    /// The response is done with: the connection waits for the next head.
    fn request_finished(&self) {
        self.head_started.store(0, Ordering::Release);
        self.write_blocked.store(0, Ordering::Release);
        self.ready_since.store(self.now(), Ordering::Release);
        self.in_request.store(false, Ordering::Release);
    }

    /// When the connection is due to be closed, if it is due at all in its current state.
    fn deadline(&self, t: Timeouts) -> Option<u64> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
        if self.in_request.load(Ordering::Acquire) {
            let blocked = self.write_blocked.load(Ordering::Acquire);
            return (blocked != 0).then(|| blocked.saturating_add(ms(t.idle)));
        }
        let head = self.head_started.load(Ordering::Acquire);
        if self.requests.load(Ordering::Acquire) == 0 {
            // A new connection owes its first head within the header timeout of being accepted.
            return Some(
                self.ready_since
                    .load(Ordering::Acquire)
                    .saturating_add(ms(t.header)),
            );
        }
        if head != 0 {
            return Some(head.saturating_add(ms(t.header)));
        }
        Some(
            self.ready_since
                .load(Ordering::Acquire)
                .saturating_add(ms(t.idle)),
        )
    }

    /// Completes when the connection has overstayed one of its timeouts. Wakes at least every quarter of the
    /// shorter timeout (at most once a second) to notice state changes that bring a deadline forward.
    pub(crate) async fn expired(self: Arc<Self>, t: Timeouts) {
        let tick =
            (t.header.min(t.idle) / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
        loop {
            let now = self.now();
            let wait = match self.deadline(t) {
                Some(due) if due <= now => return,
                Some(due) => Duration::from_millis(due - now).min(tick),
                None => tick,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Marks the end of a request when the response body is done with (hyper drops it once it is written, or when
/// the connection fails).
#[derive(Debug)]
pub(crate) struct RequestGuard(pub(crate) Arc<Watch>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that holds its request's [`RequestGuard`].
pub(crate) struct GuardedBody<B> {
    pub(crate) inner: B,
    pub(crate) _guard: RequestGuard,
}

impl<B: Body + Unpin> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, noting progress for its [`Watch`].
pub(crate) struct GuardedIo<T> {
    inner: T,
    watch: Arc<Watch>,
}

impl<T> GuardedIo<T> {
    pub(crate) fn new(inner: T, watch: Arc<Watch>) -> Self {
        Self { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read_progress();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> GuardedIo<T> {
    fn note_write(&self, polled: &Poll<io::Result<usize>>) {
        match polled {
            Poll::Ready(Ok(n)) if *n > 0 => self.watch.write_progress(),
            Poll::Pending => self.watch.write_pending(),
            _ => {}
        }
    }
}

/// The error of a request body whose client stopped sending it.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no request body data arrived for {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// A request body that fails with [`BodyTimeout`] when no data arrives for `timeout` while it is being read.
/// The timer restarts with every frame, so a large upload at any steady speed is never cut off.
pub(crate) struct TimeoutBody<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl<B> TimeoutBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
            armed: false,
        }
    }
}

impl<B> Body for TimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.armed = false;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = tokio::time::Instant::now() + this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.armed {
            sleep.as_mut().reset(deadline);
            this.armed = true;
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_millis(100),
        idle: Duration::from_millis(1000),
    };

    #[test]
    fn deadlines_follow_the_connection_state() {
        let w = Watch::new();
        // New connection: the header timeout from accept, bytes or not.
        assert_eq!(w.deadline(T), Some(1 + 100));
        w.read_progress();
        assert_eq!(w.deadline(T), Some(1 + 100));
        // In a request: no deadline until a write waits for the client.
        w.request_started();
        assert_eq!(w.deadline(T), None);
        w.read_progress();
        w.write_pending();
        let blocked = w.write_blocked.load(Ordering::Acquire);
        assert_eq!(w.deadline(T), Some(blocked + 1000));
        w.write_progress();
        assert_eq!(w.deadline(T), None);
        // Kept alive: the idle timeout, until a new head begins, then the header timeout from its first byte.
        w.request_finished();
        let ready = w.ready_since.load(Ordering::Acquire);
        assert_eq!(w.deadline(T), Some(ready + 1000));
        w.read_progress();
        let head = w.head_started.load(Ordering::Acquire);
        assert_eq!(w.deadline(T), Some(head + 100));
    }

    /// A body fed by a channel: pending until the test sends the next chunk.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out_and_a_flowing_one_does_not() {
        use http_body_util::BodyExt;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut body = TimeoutBody::new(Fed(rx), Duration::from_secs(5));
        // A chunk every 4 s, for longer than the timeout in all: the timer restarts with each one.
        for _ in 0..5 {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            });
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "x");
        }
        let started = tokio::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<BodyTimeout>().is_some(), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        drop(tx);
    }
}
