//! Fixtures shared by the tests: stores on each backend, a failing backend, a test error type.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};

use meta::{Backend, Entry, MemoryBackend, Range, RedbBackend, Store, WriteBatch};

pub const USERS: &str = "iam.users";
pub const KEYS: &str = "iam.keys";

/// A store plus whatever must outlive it (the temp dir of a redb file).
pub struct Fixture {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for Fixture {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

pub fn memory() -> Fixture {
    Fixture {
        store: Store::new(MemoryBackend::new()).unwrap(),
        _dir: None,
    }
}

pub fn redb() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let backend = RedbBackend::open(dir.path().join("meta.redb")).unwrap();
    Fixture {
        store: Store::new(backend).unwrap(),
        _dir: Some(dir),
    }
}

/// What test closures return on purpose, besides store errors.
// The wrapped error is only read through Debug, in failure messages.
#[allow(dead_code)]
#[derive(Debug)]
pub enum TestError {
    Meta(meta::Error),
    Abort,
}

impl From<meta::Error> for TestError {
    fn from(e: meta::Error) -> Self {
        TestError::Meta(e)
    }
}

/// Puts one key in its own transaction.
pub fn put(store: &Store, table: &'static str, key: &[u8], value: &[u8]) {
    let (key, value) = (key.to_vec(), value.to_vec());
    store
        .transact(move |txn| {
            txn.put(table, key, value);
            Ok::<_, meta::Error>(())
        })
        .unwrap();
}

pub fn keys(entries: &[Entry]) -> Vec<&[u8]> {
    entries.iter().map(|(k, _)| k.as_slice()).collect()
}

/// A future polled once with a no-op waker: the transaction is submitted to the committer's
/// queue (in call order) without waiting, so a test can line up a group deterministically.
pub fn submit_now<T>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Pin<Box<dyn Future<Output = T> + Send>> {
    let mut fut: Pin<Box<dyn Future<Output = T> + Send>> = Box::pin(fut);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        fut.as_mut().poll(&mut cx).is_pending(),
        "transaction answered before commit"
    );
    fut
}

/// Blocks the committer inside a transaction until the returned sender fires, so that everything
/// submitted meanwhile forms the next commit group. Returns once the committer is parked.
pub fn park_committer(store: &Store) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (parked_tx, parked) = std::sync::mpsc::channel::<()>();
    let s = store.clone();
    let handle = std::thread::spawn(move || {
        s.transact(move |_txn| {
            parked_tx.send(()).unwrap();
            wait.recv().unwrap();
            Ok::<_, meta::Error>(())
        })
        .unwrap();
    });
    parked.recv().unwrap();
    (release, handle)
}

/// A memory backend whose commits fail while `failing` is set: stands in for a full disk.
#[derive(Default)]
pub struct FlakyBackend {
    pub inner: MemoryBackend,
    pub failing: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("disk full")]
pub struct DiskFull;

impl Backend for FlakyBackend {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, meta::Error> {
        self.inner.get(table, key)
    }
    fn scan(&self, table: &str, range: &Range) -> Result<Vec<Entry>, meta::Error> {
        self.inner.scan(table, range)
    }
    fn commit(&self, batch: WriteBatch) -> Result<(), meta::Error> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(meta::Error::commit(DiskFull));
        }
        self.inner.commit(batch)
    }
}
