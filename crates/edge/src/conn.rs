//! Viewer connections and their limits: a cap on open connections, a TLS handshake timeout, a header read
//! timeout, an idle (keep-alive) timeout, and a bound on how long a response may sit unread — so that slow or
//! silent clients (slowloris, a TLS client that never says hello, a reader that never reads) cannot hold the
//! edge's connections.
//!
//! Every connection's I/O goes through [`Watched`], which notes when bytes arrive and when a write blocks; the
//! request pipeline marks requests in flight ([`Activity::begin`]) until their response body is done. A watchdog
//! per connection ([`watchdog`]) closes it when:
//!
//! * no request is in flight and the one being received (first byte, or connection start) is not complete
//!   within the header read timeout;
//! * no request is in flight and nothing arrived for the idle timeout since the last response;
//! * a write to the viewer has been blocked for the idle timeout.
//!
//! A request waiting for its origin is bounded by the origin's read timeout, not by these.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The limits of the edge's viewer listeners (`[edge] header_timeout_ms`, `tls_handshake_timeout_ms`,
/// `idle_timeout_ms`, `max_connections`).
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// Open connections over both listeners; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// What a connection has been doing, in milliseconds since it started (0: never / not now).
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// When the request now being received began (its first byte, or the connection's start).
    receiving_since: AtomicU64,
    /// When the last request in flight finished.
    idle_since: AtomicU64,
    /// When the write now blocked began blocking.
    write_blocked_since: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// A connection starting now: its first request is being received.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            receiving_since: AtomicU64::new(1),
            idle_since: AtomicU64::new(1),
            write_blocked_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Milliseconds since the start, at least 1 (0 means "not").
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    /// A request's head has arrived; it is in flight until the guard (kept with its response body) drops.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.receiving_since.store(0, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn read(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let _ = self.receiving_since.compare_exchange(
                0,
                self.now(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
    }

    /// When the connection must be closed (milliseconds since its start), as things stand.
    fn deadline(&self, limits: &ListenerLimits) -> Option<u64> {
        let ms = |d: Duration| d.as_millis() as u64;
        let blocked = self.write_blocked_since.load(Ordering::SeqCst);
        if blocked != 0 {
            return Some(blocked + ms(limits.idle_timeout));
        }
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let receiving = self.receiving_since.load(Ordering::SeqCst);
        if receiving != 0 {
            return Some(receiving + ms(limits.header_read_timeout));
        }
        Some(self.idle_since.load(Ordering::SeqCst) + ms(limits.idle_timeout))
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            a.idle_since.store(a.now(), Ordering::SeqCst);
        }
    }
}

/// Resolves when the connection must be closed. Polls at a quarter of the shortest limit (at most once a
/// second), so a change of state (a byte arriving on an idle connection) is noticed in time.
pub async fn watchdog(activity: Arc<Activity>, limits: ListenerLimits) {
    let tick = (limits.header_read_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        if let Some(deadline) = activity.deadline(&limits) {
            if activity.now() >= deadline {
                return;
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// A connection's I/O, noting arrivals and blocked writes in its [`Activity`].
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    fn note_write<R>(&self, polled: &Poll<R>) {
        let blocked = &self.activity.write_blocked_since;
        match polled {
            Poll::Pending => {
                let _ = blocked.compare_exchange(
                    0,
                    self.activity.now(),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
            Poll::Ready(_) => blocked.store(0, Ordering::SeqCst),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
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
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.note_write(&polled);
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request [`InFlight`] until it is done (or dropped).
#[derive(Debug)]
pub struct Guarded<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Guarded<B> {
        Guarded {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ListenerLimits {
        ListenerLimits {
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection_state() {
        let a = Activity::new();
        let l = limits();
        // A new connection has the header timeout to send its first request.
        assert_eq!(a.deadline(&l), Some(1 + 10_000));
        let guard = a.begin();
        assert_eq!(a.deadline(&l), None, "a request waiting for its origin");
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(guard);
        assert_eq!(
            a.deadline(&l),
            Some(5_001 + 60_000),
            "idle after the response"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        a.read();
        assert_eq!(
            a.deadline(&l),
            Some(7_001 + 10_000),
            "a new request is being received"
        );
        a.write_blocked_since.store(8_000, Ordering::SeqCst);
        assert_eq!(a.deadline(&l), Some(68_000), "a viewer that does not read");
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_fires_only_past_a_deadline() {
        let a = Activity::new();
        let mut l = limits();
        l.header_read_timeout = Duration::from_secs(1);
        let guard = a.begin();
        let closed =
            tokio::time::timeout(Duration::from_secs(30), watchdog(a.clone(), l.clone())).await;
        assert!(closed.is_err(), "a request in flight is not timed out here");
        drop(guard);
        a.read();
        let closed = tokio::time::timeout(Duration::from_secs(30), watchdog(a, l)).await;
        assert!(closed.is_ok(), "a request that never completes is");
    }
}
