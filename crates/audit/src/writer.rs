//! The single writer thread: group commit of appends into the active segment, rotation, fsync policy, digests.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::digest::{self, DigestBody, DIGEST_VERSION};
use crate::error::{Error, Result};
use crate::event::iso8601;
use crate::log::{AuditConfig, SyncMode};
use crate::metrics::Counters;
use crate::record::{encode_line, LINE_OVERHEAD};
use crate::segment::{write_sidecar, SegmentInfo};
use crate::signer::DigestSigner;

/// Messages to the writer thread.
pub(crate) enum Cmd {
    /// Append one event (already serialized by the caller, so encoding runs on the callers' cores).
    Append {
        json: String,
        time: i64,
        done: oneshot::Sender<Result<u64>>,
    },
    /// Make everything written so far durable, then answer.
    Sync { done: oneshot::Sender<Result<()>> },
    /// Flush, fsync, write a final digest and stop.
    Close {
        done: std::sync::mpsc::Sender<Result<()>>,
    },
}

/// State shared with readers (lookup) and metrics.
pub(crate) struct Shared {
    /// Segments oldest first; the last is the active one. Updated after each write and before completing the
    /// batch's appends, so a lookup sees every completed append.
    pub(crate) segments: Mutex<Vec<SegmentInfo>>,
    pub(crate) counters: Counters,
    /// Why the writer stopped accepting appends (a failed write, fsync, rotation or digest), once it has.
    pub(crate) failed: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn snapshot(&self) -> Vec<SegmentInfo> {
        self.segments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn with_active(&self, f: impl FnOnce(&mut SegmentInfo)) {
        let mut segs = self.segments.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(last) = segs.last_mut() {
            f(last);
        }
    }
}

/// The last digest written, which the next one chains to.
pub(crate) struct DigestTail {
    pub(crate) digest_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) signature: Option<String>,
    pub(crate) end_time: String,
}

/// Everything the writer thread owns.
pub(crate) struct Writer {
    pub(crate) segments_dir: PathBuf,
    pub(crate) digests_dir: PathBuf,
    pub(crate) index_dir: PathBuf,
    pub(crate) file: File,
    pub(crate) active: SegmentInfo,
    pub(crate) digest: DigestTail,
    pub(crate) config: AuditConfig,
    pub(crate) signer: DigestSigner,
    pub(crate) shared: Arc<Shared>,
    /// Bytes written but not yet fsynced.
    pub(crate) dirty: bool,
    pub(crate) last_sync: Instant,
    pub(crate) next_digest: Instant,
    /// Set after a failed write/fsync: the file's state is unknown, so the writer refuses everything after it.
    pub(crate) failed: Option<String>,
}

impl Writer {
    /// Runs until a `Close` arrives or every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Cmd>) {
        let mut batch = Vec::new();
        let mut buf = Vec::with_capacity(1 << 16);
        loop {
            let first = match rx.recv_timeout(self.wait_for()) {
                Ok(cmd) => cmd,
                Err(RecvTimeoutError::Timeout) => {
                    self.on_timers();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // The AuditLog went away without close() (e.g. a panic unwinding past it): still leave a
                    // clean, durable, digested log.
                    let _ = self.close();
                    return;
                }
            };
            batch.push(first);
            // Group commit: take everything queued right now into this one write and one fsync.
            while let Ok(cmd) = rx.try_recv() {
                batch.push(cmd);
            }
            if self.process(&mut batch, &mut buf) {
                return;
            }
            self.on_timers();
        }
    }

    /// How long to block waiting for commands before a timer (interval fsync or digest) is due.
    fn wait_for(&self) -> Duration {
        if self.failed.is_some() {
            // Timers are off after a failure; without this, a past-due fsync deadline would spin the thread.
            return Duration::from_secs(3600);
        }
        let now = Instant::now();
        let mut due = self.next_digest;
        if let (SyncMode::Interval(d), true) = (self.config.sync, self.dirty) {
            due = due.min(self.last_sync + d);
        }
        due.saturating_duration_since(now)
    }

    fn on_timers(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let now = Instant::now();
        if let (SyncMode::Interval(d), true) = (self.config.sync, self.dirty) {
            if now >= self.last_sync + d {
                self.guard(|w| w.sync());
            }
        }
        if now >= self.next_digest {
            self.guard(|w| w.write_digest());
            self.next_digest = Instant::now() + self.config.digest_interval;
        }
    }

    /// Runs `f`, turning an error into the failed state (logged once).
    fn guard(&mut self, f: impl FnOnce(&mut Writer) -> Result<()>) -> bool {
        match f(self) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "audit writer failed; refusing further appends");
                self.failed = Some(e.to_string());
                *self.shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                false
            }
        }
    }

    /// Handles one batch. Returns true when the writer should stop.
    fn process(&mut self, batch: &mut Vec<Cmd>, buf: &mut Vec<u8>) -> bool {
        let mut appended = Vec::new();
        let mut syncs = Vec::new();
        let mut close = None;
        buf.clear();
        let mut n_appends = 0u64;
        for cmd in batch.drain(..) {
            match cmd {
                Cmd::Append { json, time, done } => {
                    n_appends += 1;
                    if let Some(why) = &self.failed {
                        let _ = done.send(Err(Error::WriterFailed(why.clone())));
                        continue;
                    }
                    let seq = self.active.last_seq + 1;
                    // Rotate before a record that would overflow a non-empty segment: a record never spans files.
                    let pending = self.active.len + buf.len() as u64;
                    if pending > 0
                        && pending + json.len() as u64 + LINE_OVERHEAD
                            > self.config.segment_max_bytes
                    {
                        let ok = self.guard(|w| w.write_out(buf)) && self.guard(|w| w.rotate());
                        if !ok {
                            let _ = done.send(Err(Error::WriterFailed(
                                self.failed.clone().unwrap_or_default(),
                            )));
                            continue;
                        }
                    }
                    let hash = encode_line(buf, seq, &self.active.last_hash, &json);
                    self.active.last_seq = seq;
                    self.active.last_hash = hash;
                    self.active.note_time(time);
                    appended.push((seq, done));
                }
                Cmd::Sync { done } => syncs.push(done),
                Cmd::Close { done } => close = Some(done),
            }
        }
        let ok = self.failed.is_none() && self.guard(|w| w.write_out(buf));
        self.shared
            .counters
            .backlog
            .fetch_sub(n_appends, Ordering::Relaxed);
        let durable_now = matches!(self.config.sync, SyncMode::PerEvent) || !syncs.is_empty();
        let ok = ok && (!durable_now || self.guard(|w| w.sync()));
        for (seq, done) in appended {
            let _ = done.send(if ok {
                Ok(seq)
            } else {
                Err(Error::WriterFailed(self.failed.clone().unwrap_or_default()))
            });
        }
        for done in syncs {
            let _ = done.send(if ok {
                Ok(())
            } else {
                Err(Error::WriterFailed(self.failed.clone().unwrap_or_default()))
            });
        }
        if let Some(done) = close {
            let _ = done.send(self.close());
            return true;
        }
        false
    }

    /// Writes `buf` to the active segment in one `write_all`, then publishes the new length to readers.
    fn write_out(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(buf)
            .map_err(Error::io(&self.active.path))?;
        self.active.len += buf.len() as u64;
        buf.clear();
        self.dirty = true;
        let snapshot = self.active.clone();
        self.shared.with_active(|a| *a = snapshot);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let start = Instant::now();
        // fdatasync: the file size is data for this purpose, so appended bytes are durable after it.
        self.file
            .sync_data()
            .map_err(Error::io(&self.active.path))?;
        self.shared.counters.record_fsync(start.elapsed());
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the active segment (fsync + sidecar) and starts the next one.
    fn rotate(&mut self) -> Result<()> {
        self.sync()?;
        write_sidecar(&self.index_dir, &self.active)?;
        let first_seq = self.active.last_seq + 1;
        let path = self
            .segments_dir
            .join(crate::fsutil::segment_name(first_seq));
        let file = crate::fsutil::private_file()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        crate::fsutil::sync_dir(&self.segments_dir)?;
        self.file = file;
        self.active = SegmentInfo::empty(path, first_seq, self.active.last_hash);
        let new = self.active.clone();
        self.shared
            .segments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(new);
        Ok(())
    }

    /// Writes a signed digest covering the records since the previous one (none when nothing new was written:
    /// an empty digest would only add files, and the chain already proves nothing was removed).
    pub(crate) fn write_digest(&mut self) -> Result<()> {
        let last_seq = self.active.last_seq;
        if last_seq == self.digest.last_seq {
            return Ok(());
        }
        // A digest must never vouch for records that a crash could still lose.
        self.sync()?;
        let end_time = iso8601::format(self.config.clock.now());
        let body = DigestBody {
            digest_version: DIGEST_VERSION,
            digest_seq: self.digest.digest_seq + 1,
            digest_start_time: self.digest.end_time.clone(),
            digest_end_time: end_time.clone(),
            first_seq: self.digest.last_seq + 1,
            last_seq,
            last_record_hash: hex::encode(self.active.last_hash),
            previous_digest_signature: self.digest.signature.clone(),
            public_key_fingerprint: self.signer.fingerprint(),
            signature_algorithm: "SHA256withRSA".into(),
        };
        let (bytes, sig) = digest::encode(&body, &self.signer)?;
        crate::fsutil::write_atomic(
            &self.digests_dir.join(digest::file_name(body.digest_seq)),
            &bytes,
        )?;
        self.digest = DigestTail {
            digest_seq: body.digest_seq,
            last_seq,
            signature: Some(sig),
            end_time,
        };
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(why) = &self.failed {
            return Err(Error::WriterFailed(why.clone()));
        }
        self.sync()?;
        self.write_digest()
    }
}

impl crate::log::Clock {
    pub(crate) fn now(&self) -> OffsetDateTime {
        match self {
            crate::log::Clock::System => OffsetDateTime::now_utc(),
            crate::log::Clock::Fixed(t) => *t,
        }
    }
}
