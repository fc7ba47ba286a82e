//! Group fsync for one directory: concurrent callers share one `fsync` instead of queuing up
//! one each.
//!
//! The rule that makes sharing safe: a caller's change (a rename into the directory) is covered
//! only by an fsync that *started after* the change. A caller that arrives while an fsync is
//! running therefore waits for it to end and then for the next one, which it starts itself unless
//! another waiter got there first; everyone who arrived during one fsync shares the next. With a
//! flush costing about a millisecond, N concurrent committers into one directory pay two fsyncs
//! of latency and the disk sees about one fsync per millisecond instead of N.
//!
//! The lock guards only counters; it is never held across the fsync itself.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The fsync state of one directory.
#[derive(Default)]
pub(crate) struct DirSync {
    state: Mutex<State>,
    finished_cv: Condvar,
}

#[derive(Default)]
struct State {
    /// Fsyncs started so far; the running one (if any) is number `started`.
    started: u64,
    /// The number of the last fsync that finished.
    finished: u64,
    running: bool,
    /// Callers blocked waiting for an fsync (tests use it to stage an interleaving).
    waiting: usize,
    /// The error of fsync number `finished`, if it failed.
    last_error: Option<(io::ErrorKind, String)>,
}

impl DirSync {
    /// Returns once an fsync (`sync_fn`) that started after this call began has completed, and
    /// with its result. Runs `sync_fn` on this thread if no fsync is running; otherwise waits.
    /// Returns `Ok(true)` if this caller ran the fsync itself, `Ok(false)` if it shared one.
    ///
    /// Blocks the calling thread: call it on the blocking pool.
    pub(crate) fn sync(&self, sync_fn: impl FnOnce() -> io::Result<()>) -> io::Result<bool> {
        let mut state = self.lock();
        // Whatever is running now may have started before our change: we need a later one.
        let needed = state.started + 1;
        loop {
            if state.finished >= needed {
                return match &state.last_error {
                    None => Ok(false),
                    Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
                };
            }
            if !state.running {
                state.started += 1;
                let mine = state.started;
                state.running = true;
                drop(state);

                let result = sync_fn();

                let mut state = self.lock();
                state.running = false;
                state.finished = mine;
                state.last_error = result.as_ref().err().map(|e| (e.kind(), e.to_string()));
                drop(state);
                self.finished_cv.notify_all();
                return result.map(|()| true);
            }
            state.waiting += 1;
            state = self
                .finished_cv
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting -= 1;
        }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Only plain counters live under the lock and no code that can panic runs while it is
        // held, so a poisoned lock still guards consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_lone_caller_runs_its_own_fsync() {
        let dir = DirSync::default();
        assert!(dir.sync(|| Ok(())).unwrap());
        assert!(dir.sync(|| Ok(())).unwrap());
    }

    #[test]
    fn concurrent_callers_share_fsyncs() {
        let dir = Arc::new(DirSync::default());
        let runs = Arc::new(AtomicU64::new(0));
        let start = Arc::new(Barrier::new(32));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (dir, runs, start) = (dir.clone(), runs.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    dir.sync(|| {
                        runs.fetch_add(1, SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        let ran: usize = threads
            .into_iter()
            .map(|t| usize::from(t.join().unwrap()))
            .sum();
        let runs = runs.load(SeqCst);
        assert_eq!(ran as u64, runs);
        // At most one running fsync plus one shared follower per "wave"; 32 serial fsyncs would
        // mean no sharing at all.
        assert!(runs < 32, "{runs} fsyncs for 32 callers");
    }

    /// A caller arriving while an fsync runs must not be answered by that fsync: it started
    /// before the caller's change and may not cover it.
    #[test]
    fn an_fsync_already_running_does_not_cover_a_later_caller() {
        let dir = Arc::new(DirSync::default());
        let started = Arc::new(AtomicU64::new(0));
        let first_running = Arc::new(Barrier::new(2));
        let release_first = Arc::new(Barrier::new(2));

        let first = {
            let (dir, started) = (dir.clone(), started.clone());
            let (running, release) = (first_running.clone(), release_first.clone());
            std::thread::spawn(move || {
                dir.sync(|| {
                    started.fetch_add(1, SeqCst);
                    running.wait();
                    release.wait();
                    Ok(())
                })
                .unwrap()
            })
        };
        first_running.wait();
        // The first fsync is running now. A second caller arrives ("after its rename").
        let second = {
            let (dir, started) = (dir.clone(), started.clone());
            std::thread::spawn(move || {
                let before = started.load(SeqCst);
                dir.sync(|| {
                    started.fetch_add(1, SeqCst);
                    Ok(())
                })
                .unwrap();
                before
            })
        };
        while dir.waiting() == 0 {
            std::thread::yield_now();
        }
        release_first.wait();
        assert!(first.join().unwrap());
        let before = second.join().unwrap();
        assert_eq!(before, 1);
        assert_eq!(
            started.load(SeqCst),
            2,
            "the second caller needs its own fsync"
        );
    }

    #[test]
    fn an_error_reaches_every_caller_it_covers() {
        let dir = DirSync::default();
        let err = dir
            .sync(|| Err(io::Error::other("disk on fire")))
            .unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
        // A later fsync that succeeds clears it.
        assert!(dir.sync(|| Ok(())).unwrap());
    }
}
