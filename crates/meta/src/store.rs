//! The store: direct reads, and transactions run by one group-committing thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use serde::de::DeserializeOwned;

use crate::backend::{Backend, Entry};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::txn::{prefix_range, Txn};
use crate::{codec, Error, Range, WriteBatch};

/// The most transactions one commit group takes. It bounds the size of one backend transaction
/// and the latency a transaction at the back of a group adds to those at the front.
const MAX_GROUP: usize = 1024;

/// The metadata store: a cheap-to-clone handle to a [`Backend`] and its committer thread.
///
/// Reads outside a transaction ([`Store::get`], [`Store::scan`]) go straight to the backend and
/// see the latest committed state. Writes happen only in [`Store::transact`] /
/// [`Store::transact_async`] closures, which one thread runs strictly one after another and
/// commits in groups; see `docs/design/meta.md`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("metrics", &self.inner.metrics.snapshot())
            .finish_non_exhaustive()
    }
}

struct Inner {
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    committer: Option<JoinHandle<()>>,
    committer_id: ThreadId,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue lets the committer drain what is queued and exit. Joining it means
        // the backend (and redb's file lock) is released when the last Store handle is gone, so
        // the same file can be reopened at once. If the last handle dies on the committer itself
        // (a closure captured a Store), joining would wait on ourselves; the thread exits alone.
        drop(self.queue.take());
        if let Some(handle) = self.committer.take() {
            if std::thread::current().id() != self.committer_id {
                let _ = handle.join();
            }
        }
    }
}

impl Store {
    /// Starts a store on `backend`, spawning its committer thread.
    pub fn new(backend: impl Backend) -> Result<Store, Error> {
        let backend: Arc<dyn Backend> = Arc::new(backend);
        let metrics = Arc::new(Metrics::default());
        let (queue, jobs) = mpsc::channel();
        let committer = {
            let backend = Arc::clone(&backend);
            let metrics = Arc::clone(&metrics);
            std::thread::Builder::new()
                .name("meta-committer".into())
                .spawn(move || run_committer(&*backend, &metrics, &jobs))
                .map_err(Error::backend)?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                metrics,
                queue: Some(queue),
                committer_id: committer.thread().id(),
                committer: Some(committer),
            }),
        })
    }

    /// The committed value under `key` in `table`.
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.inner.backend.get(table, key)
    }

    /// The committed value under `key`, decoded from the versioned JSON format.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        table: &str,
        key: &[u8],
    ) -> Result<Option<T>, Error> {
        self.get(table, key)?
            .map(|v| codec::decode_json(&v))
            .transpose()
    }

    /// Committed entries of `table` within `range`.
    pub fn scan(&self, table: &str, range: Range) -> Result<Vec<Entry>, Error> {
        self.inner.backend.scan(table, &range)
    }

    /// Committed entries whose key starts with `prefix`, ascending, strictly after
    /// `start_after` if given, at most `limit` (the shape of S3 and IAM list pagination).
    pub fn scan_prefix(
        &self,
        table: &str,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        self.scan(table, prefix_range(prefix, start_after, limit))
    }

    /// Runs `f` as a serializable transaction and blocks until its writes are durable.
    ///
    /// `Ok` means the writes are committed and fsynced. If `f` returns `Err` (or panics, which is
    /// reported as [`Error::Panicked`]) none of its writes apply. If the group commit fails, the
    /// error is [`Error::Commit`] and none of the writes apply. Must not be called from inside a
    /// transaction closure ([`Error::Reentrant`]), since the committer would wait on itself.
    pub fn transact<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        if std::thread::current().id() == self.inner.committer_id {
            return Err(Error::Reentrant.into());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(f, move |result| {
            // The caller may have gone away; its result is then simply dropped.
            let _ = tx.send(result);
        })?;
        rx.recv().unwrap_or_else(|_| Err(Error::Closed.into()))
    }

    /// [`Store::transact`] for async callers: the fsync happens on the committer thread and this
    /// future only awaits its answer, so no runtime worker ever blocks on the disk.
    ///
    /// Dropping the future does not cancel the transaction: once submitted, it runs and commits.
    pub async fn transact_async<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |result| {
            let _ = tx.send(result);
        })?;
        rx.await.unwrap_or_else(|_| Err(Error::Closed.into()))
    }

    /// A copy of the commit counters and latency histogram.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    fn submit<F, R, E>(
        &self,
        f: F,
        reply: impl FnOnce(Result<R, E>) + Send + 'static,
    ) -> Result<(), Error>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let queue = self.inner.queue.as_ref().ok_or(Error::Closed)?;
        self.inner.metrics.submitted();
        let job = Pending {
            f: Some(f),
            outcome: None,
            reply: Box::new(reply),
        };
        queue.send(Box::new(job)).map_err(|_| Error::Closed)
    }
}

/// A queued transaction with its types erased, so one queue carries every caller's closure.
trait Job: Send {
    /// Runs the closure over `group`; returns its writes if it succeeded.
    fn run(&mut self, backend: &dyn Backend, group: &WriteBatch) -> Option<WriteBatch>;

    /// Answers the caller once the group's commit is known.
    fn finish(self: Box<Self>, commit: Result<(), Error>);
}

enum Outcome<R, E> {
    Done(R),
    Failed(E),
    Panicked(String),
}

struct Pending<F, R, E> {
    f: Option<F>,
    outcome: Option<Outcome<R, E>>,
    reply: Box<dyn FnOnce(Result<R, E>) + Send>,
}

impl<F, R, E> Job for Pending<F, R, E>
where
    F: FnOnce(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<Error> + Send + 'static,
{
    fn run(&mut self, backend: &dyn Backend, group: &WriteBatch) -> Option<WriteBatch> {
        let f = self.f.take()?;
        let mut txn = Txn::new(backend, group);
        // AssertUnwindSafe is sound here: a panicking closure can only have touched its own
        // Txn buffer (discarded below) and its own captures; the group overlay is read-only to it.
        let (outcome, writes) = match catch_unwind(AssertUnwindSafe(|| f(&mut txn))) {
            Ok(Ok(r)) => (Outcome::Done(r), Some(txn.into_writes())),
            Ok(Err(e)) => (Outcome::Failed(e), None),
            Err(payload) => (Outcome::Panicked(panic_message(&*payload)), None),
        };
        self.outcome = Some(outcome);
        writes
    }

    fn finish(self: Box<Self>, commit: Result<(), Error>) {
        let result = match self.outcome {
            Some(Outcome::Done(r)) => commit.map(|()| r).map_err(E::from),
            Some(Outcome::Failed(e)) => Err(e),
            Some(Outcome::Panicked(msg)) => Err(Error::Panicked(msg).into()),
            None => Err(Error::Closed.into()),
        };
        (self.reply)(result);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// The committer: take everything queued, run it in order over an accumulating overlay, commit
/// the overlay once, then answer every caller. Returns when every Store handle is gone.
fn run_committer(backend: &dyn Backend, metrics: &Metrics, jobs: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        // No waiting for stragglers: whatever queued up during the previous fsync forms this
        // group, which is what makes grouping adapt to load without adding latency when idle.
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }

        let mut writes = WriteBatch::new();
        for job in &mut group {
            let own = job.run(backend, &writes);
            metrics.executed(own.is_some());
            if let Some(own) = own {
                writes.absorb(own);
            }
        }

        // A group that wrote nothing (all reads, or all aborted) has nothing to make durable.
        let commit = if writes.is_empty() {
            Ok(())
        } else {
            let started = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| backend.commit(writes))).unwrap_or_else(
                |payload| {
                    Err(Error::Panicked(format!(
                        "backend commit: {}",
                        panic_message(&*payload)
                    )))
                },
            );
            metrics.committed(started.elapsed(), result.is_ok());
            if let Err(e) = &result {
                tracing::error!(error = %e, transactions = group.len(), "metadata group commit failed");
            }
            result
        };

        for job in group {
            job.finish(commit.clone());
        }
    }
}
