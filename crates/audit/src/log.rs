//! `AuditLog`: opening (with crash recovery), appending through the writer thread, closing, and metrics.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::digest::{DigestBody, DigestFile};
use crate::error::{Error, Result};
use crate::event::{iso8601, Event};
use crate::fsutil::{list_numbered, segment_name, sync_dir};
use crate::metrics::{Counters, Metrics};
use crate::record::GENESIS_PREV;
use crate::segment::{read_sidecar, scan, write_sidecar, Check, SegmentInfo};
use crate::signer::DigestSigner;
use crate::writer::{Cmd, DigestTail, Shared, Writer};

/// When appended records are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// An append completes only after an fsync covering it; concurrent appends share one fsync (group commit).
    PerEvent,
    /// An append completes once written to the OS; the writer fsyncs at most this often. A crash can lose up
    /// to this much of the most recent events, never corrupt older ones.
    Interval(Duration),
}

/// Where digest timestamps come from. Tests fix it to make digests byte-for-byte reproducible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// Always this instant.
    Fixed(OffsetDateTime),
}

/// Tuning of an [`AuditLog`].
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Durability of appends.
    pub sync: SyncMode,
    /// A segment is sealed and a new one started before it would grow past this.
    pub segment_max_bytes: u64,
    /// How often a signed digest is written (CloudTrail: hourly).
    pub digest_interval: Duration,
    /// Source of digest timestamps.
    pub clock: Clock,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            sync: SyncMode::PerEvent,
            segment_max_bytes: 64 << 20,
            digest_interval: Duration::from_secs(3600),
            clock: Clock::System,
        }
    }
}

/// An open, append-only audit log in a directory (`segments/`, `digests/`, `index/`).
///
/// Cheap to share behind an `Arc`: `append` only queues, one background thread does all writing.
pub struct AuditLog {
    pub(crate) dir: PathBuf,
    tx: Mutex<Option<Sender<Cmd>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) shared: Arc<Shared>,
    /// Key for MACing lookup `NextToken`s, fresh per open: tokens can't be forged and don't outlive the process.
    pub(crate) token_key: aws_lc_rs::hmac::Key,
}

/// The completion of one append: awaitable (`.await`) from async code, or [`Appended::wait`] from sync code.
/// Resolves to the record's sequence number once the record is written (and fsynced, in `PerEvent` mode).
#[must_use = "an append is only known to be recorded once this completes"]
pub struct Appended {
    rx: Result<oneshot::Receiver<Result<u64>>, Option<Error>>,
}

impl Appended {
    /// Blocks the current thread until the append completes. Do not call from inside an async runtime
    /// (tokio panics there); `.await` instead.
    pub fn wait(self) -> Result<u64> {
        match self.rx {
            Ok(rx) => rx.blocking_recv().unwrap_or(Err(Error::Closed)),
            Err(e) => Err(e.unwrap_or(Error::Closed)),
        }
    }
}

impl Future for Appended {
    type Output = Result<u64>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        match &mut self.rx {
            Ok(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            Err(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
        }
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log in `dir`.
    ///
    /// Recovery: the newest segment is checked record by record; an incomplete final record left by a crash is
    /// truncated (and logged) so the chain continues from the last complete record. Any other inconsistency
    /// (a record that fails its hash, a digest vouching for records that are not there) is tampering or disk
    /// corruption, and opening fails rather than chain new records onto it.
    pub fn open(dir: &Path, config: AuditConfig, signer: DigestSigner) -> Result<AuditLog> {
        if config.segment_max_bytes == 0 || config.digest_interval.is_zero() {
            return Err(Error::InvalidConfig(
                "segment_max_bytes and digest_interval must be positive".into(),
            ));
        }
        let segments_dir = dir.join("segments");
        let digests_dir = dir.join("digests");
        let index_dir = dir.join("index");
        // Records name principals, accounts and source addresses: only the owner may read the trail, and every
        // directory and file of it is owner-only from its creation.
        for d in [dir, &segments_dir, &digests_dir, &index_dir] {
            crate::fsutil::private_dir(d)?;
        }
        let (segments, file) = recover_segments(&segments_dir, &index_dir)?;
        // recover_segments always leaves at least the (possibly empty) active segment.
        let active = segments.last().cloned().ok_or(Error::Closed)?;
        let digest = recover_digest_tail(&digests_dir, active.last_seq, config.clock)?;
        let shared = Arc::new(Shared {
            segments: Mutex::new(segments),
            counters: Counters::default(),
            failed: Mutex::new(None),
        });
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let token_key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
            .map_err(|_| Error::Signing)?;
        let writer = Writer {
            segments_dir,
            digests_dir,
            index_dir,
            file,
            active,
            digest,
            next_digest: Instant::now() + config.digest_interval,
            config,
            signer,
            shared: Arc::clone(&shared),
            dirty: false,
            last_sync: Instant::now(),
            failed: None,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(Error::io(dir))?;
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            shared,
            token_key,
        })
    }

    /// Queues `event` for appending. Never blocks on disk I/O; the returned [`Appended`] completes when the
    /// record is written (Interval mode) or durable (PerEvent mode).
    pub fn append(&self, event: Event) -> Appended {
        let json = match serde_json::to_string(&event) {
            Ok(j) => j,
            Err(e) => {
                return Appended {
                    rx: Err(Some(Error::Encode(e.to_string()))),
                }
            }
        };
        let (done, rx) = oneshot::channel();
        let cmd = Cmd::Append {
            json,
            time: event.event_time.unix_timestamp(),
            done,
        };
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = tx.as_ref() else {
            return Appended {
                rx: Err(Some(Error::Closed)),
            };
        };
        self.shared.counters.backlog.fetch_add(1, Ordering::Relaxed);
        if tx.send(cmd).is_err() {
            self.shared.counters.backlog.fetch_sub(1, Ordering::Relaxed);
            return Appended {
                rx: Err(Some(Error::Closed)),
            };
        }
        Appended { rx: Ok(rx) }
    }

    /// Makes every completed append durable now (useful in Interval mode before a planned shutdown step).
    pub fn sync(&self) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.send(Cmd::Sync { done })?;
        rx.blocking_recv().unwrap_or(Err(Error::Closed))
    }

    /// Flushes, fsyncs, writes a final digest and stops the writer. Dropping the log does the same but can only
    /// log a failure; call this to see it.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let (done, rx) = std::sync::mpsc::channel();
        let sent = self.send(Cmd::Close { done });
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let result = match sent {
            Ok(()) => rx.recv().unwrap_or(Err(Error::Closed)),
            Err(e) => Err(e),
        };
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if t.join().is_err() {
                return Err(Error::WriterFailed("audit writer thread panicked".into()));
            }
        }
        result
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        tx.as_ref()
            .ok_or(Error::Closed)?
            .send(cmd)
            .map_err(|_| Error::Closed)
    }

    /// Why appends are refused, if they are: the writer failed (a write, fsync, rotation or digest went wrong,
    /// after which the segment's state on disk is unknown) or the log is closed. `None` while appends can
    /// succeed. A failed writer never resumes: reopening the log — which checks the active segment and
    /// truncates a torn tail — is the way back.
    pub fn failure(&self) -> Option<String> {
        if let Some(why) = self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Some(why);
        }
        let open = self.tx.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        let running = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished());
        (!open || !running).then(|| Error::Closed.to_string())
    }

    /// Queue backlog, fsync count and fsync latency histogram.
    pub fn metrics(&self) -> Metrics {
        self.shared.counters.snapshot()
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            if let Err(e) = self.shutdown() {
                tracing::error!(error = %e, "closing the audit log on drop failed");
            }
        }
    }
}

/// Rebuilds the segment index and returns it with the active (last) segment opened for appending.
fn recover_segments(
    segments_dir: &Path,
    index_dir: &Path,
) -> Result<(Vec<SegmentInfo>, std::fs::File)> {
    let files = list_numbered(segments_dir, "log")?;
    let mut segments = Vec::with_capacity(files.len() + 1);
    let mut next_seq = 1;
    let mut prev = GENESIS_PREV;
    let count = files.len();
    for (i, (first_seq, path)) in files.into_iter().enumerate() {
        if first_seq != next_seq {
            return Err(Error::SegmentMisplaced {
                segment: path,
                reason: format!("starts at seq {first_seq} but seq {next_seq} comes next"),
            });
        }
        let is_last = i + 1 == count;
        let info = if is_last {
            // The active segment is checked fully: new records will chain onto its last hash.
            let scanned = scan(&path, first_seq, prev, Check::Full, |_, _| {})?;
            if let Some(offset) = scanned.torn_at {
                let len = std::fs::metadata(&path).map_err(Error::io(&path))?.len();
                tracing::warn!(
                    segment = %path.display(), offset, dropped_bytes = len - offset,
                    "audit log: truncating torn final record left by a crash"
                );
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(Error::io(&path))?;
                f.set_len(offset).map_err(Error::io(&path))?;
                f.sync_all().map_err(Error::io(&path))?;
            }
            scanned.info
        } else if let Some(info) = read_sidecar(index_dir, &path, first_seq) {
            info
        } else {
            let scanned = scan(&path, first_seq, prev, Check::Light, |_, _| {})?;
            if scanned.torn_at.is_some() || scanned.info.is_empty() {
                return Err(Error::SegmentMisplaced {
                    segment: path,
                    reason: "a sealed segment is empty or ends in an incomplete record".into(),
                });
            }
            write_sidecar(index_dir, &scanned.info)?;
            scanned.info
        };
        next_seq = info.last_seq + 1;
        prev = info.last_hash;
        segments.push(info);
    }
    if segments.is_empty() {
        let path = segments_dir.join(segment_name(1));
        crate::fsutil::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        sync_dir(segments_dir)?;
        segments.push(SegmentInfo::empty(path, 1, GENESIS_PREV));
    }
    let active = segments.last().map(|s| s.path.clone()).unwrap_or_default();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&active)
        .map_err(Error::io(&active))?;
    Ok((segments, file))
}

/// Reads the newest digest so the next one chains to it.
fn recover_digest_tail(digests_dir: &Path, last_record: u64, clock: Clock) -> Result<DigestTail> {
    let Some((n, path)) = list_numbered(digests_dir, "json")?.pop() else {
        return Ok(DigestTail {
            digest_seq: 0,
            last_seq: 0,
            signature: None,
            end_time: iso8601::format(clock.now()),
        });
    };
    let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
    let invalid = |reason: String| Error::DigestInvalid {
        digest: path.clone(),
        reason,
    };
    let file: DigestFile<'_> =
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    let body: DigestBody =
        serde_json::from_str(file.body.get()).map_err(|e| invalid(e.to_string()))?;
    if body.digest_seq != n {
        return Err(invalid(format!(
            "file name says digest {n}, body says {}",
            body.digest_seq
        )));
    }
    if body.last_seq > last_record {
        return Err(Error::DigestMismatch {
            digest: path,
            reason: format!(
                "covers records through seq {} but the log ends at seq {last_record}",
                body.last_seq
            ),
        });
    }
    Ok(DigestTail {
        digest_seq: n,
        last_seq: body.last_seq,
        signature: Some(file.signature),
        end_time: body.digest_end_time,
    })
}
