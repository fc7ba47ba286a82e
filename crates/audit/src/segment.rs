//! Segment files: scanning and checking their records, the in-memory segment index, and index sidecars.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{record_hash, RawRecord};

/// What the lookup index knows about one segment. `len` only ever covers complete, written records.
#[derive(Clone, Debug)]
pub(crate) struct SegmentInfo {
    pub(crate) path: PathBuf,
    pub(crate) first_seq: u64,
    /// `first_seq - 1` while the segment is empty.
    pub(crate) last_seq: u64,
    pub(crate) len: u64,
    /// Earliest and latest `eventTime` in the segment (unix seconds); events may arrive slightly out of order,
    /// so these are a range, not the first and last record's times.
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) last_hash: [u8; 32],
}

impl SegmentInfo {
    pub(crate) fn empty(path: PathBuf, first_seq: u64, prev_hash: [u8; 32]) -> SegmentInfo {
        SegmentInfo {
            path,
            first_seq,
            last_seq: first_seq - 1,
            len: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            last_hash: prev_hash,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.last_seq < self.first_seq
    }

    pub(crate) fn note_time(&mut self, t: i64) {
        self.min_time = self.min_time.min(t);
        self.max_time = self.max_time.max(t);
    }
}

/// How thoroughly [`scan`] checks records.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Recompute every hash and check canonical form (verify, and the active segment on open).
    Full,
    /// Only parse sequence numbers and times (rebuilding the index of a sealed segment).
    Light,
}

/// The result of scanning one segment.
pub(crate) struct Scanned {
    pub(crate) info: SegmentInfo,
    /// Offset of an incomplete final line (no `\n`), if any; `info.len` stops before it.
    pub(crate) torn_at: Option<u64>,
}

/// The `eventTime` of an event, without parsing the rest of it.
#[derive(Deserialize)]
struct TimeOnly {
    #[serde(rename = "eventTime", with = "crate::event::iso8601")]
    event_time: time::OffsetDateTime,
}

/// Reads an event's `eventTime` as unix seconds.
pub(crate) fn event_time_of(event_json: &str) -> Option<i64> {
    serde_json::from_str::<TimeOnly>(event_json)
        .ok()
        .map(|t| t.event_time.unix_timestamp())
}

/// Scans `path`, whose first record must be `first_seq` chained onto `prev`, calling `each(seq, hash)` per record.
///
/// Returns the first problem found as the matching [`Error`] variant. An incomplete final line is not an error
/// here: it is returned in [`Scanned::torn_at`] for the caller to judge (torn tail of the newest segment, or
/// corruption of a sealed one).
pub(crate) fn scan(
    path: &Path,
    first_seq: u64,
    prev: [u8; 32],
    check: Check,
    mut each: impl FnMut(u64, &[u8; 32]),
) -> Result<Scanned> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut info = SegmentInfo::empty(path.to_path_buf(), first_seq, prev);
    let mut line = Vec::with_capacity(4096);
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(Error::io(path))?;
        if n == 0 {
            return Ok(Scanned {
                info,
                torn_at: None,
            });
        }
        if line.last() != Some(&b'\n') {
            return Ok(Scanned {
                info,
                torn_at: Some(offset),
            });
        }
        let body = &line[..n - 1];
        let expected_seq = info.last_seq + 1;
        let corrupt = |reason: String| Error::RecordCorrupt {
            segment: path.into(),
            offset,
            expected_seq,
            reason,
        };
        let rec = RawRecord::parse(body).map_err(corrupt)?;
        if rec.seq != expected_seq {
            return Err(Error::RecordOutOfSequence {
                segment: path.into(),
                offset,
                expected_seq,
                found_seq: rec.seq,
            });
        }
        let hash = match check {
            Check::Full => {
                if rec.prev != hex::encode(info.last_hash) {
                    return Err(Error::ChainBroken {
                        segment: path.into(),
                        offset,
                        seq: rec.seq,
                    });
                }
                if !rec.is_canonical(body) {
                    return Err(corrupt("line is not in canonical form".into()));
                }
                let computed = record_hash(rec.seq, &info.last_hash, rec.event_json());
                if rec.hash_bytes() != Some(computed) {
                    return Err(Error::RecordAltered {
                        segment: path.into(),
                        offset,
                        seq: rec.seq,
                    });
                }
                computed
            }
            Check::Light => rec
                .hash_bytes()
                .ok_or_else(|| corrupt("hash is not 64 lowercase hex digits".into()))?,
        };
        let t = event_time_of(rec.event_json())
            .ok_or_else(|| corrupt("event has no valid eventTime".into()))?;
        each(rec.seq, &hash);
        info.last_seq = rec.seq;
        info.last_hash = hash;
        info.note_time(t);
        offset += n as u64;
        info.len = offset;
    }
}

/// The index sidecar of a sealed segment (`index/<first seq>.json`), so `open` needn't re-read old segments.
/// Only an accelerator: it is trusted only when `len` equals the segment's size, and is not covered by digests.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sidecar {
    v: u32,
    first_seq: u64,
    last_seq: u64,
    len: u64,
    min_time: i64,
    max_time: i64,
    last_hash: String,
}

pub(crate) fn sidecar_path(index_dir: &Path, first_seq: u64) -> PathBuf {
    index_dir.join(format!("{first_seq:016}.json"))
}

pub(crate) fn write_sidecar(index_dir: &Path, info: &SegmentInfo) -> Result<()> {
    let s = Sidecar {
        v: 1,
        first_seq: info.first_seq,
        last_seq: info.last_seq,
        len: info.len,
        min_time: info.min_time,
        max_time: info.max_time,
        last_hash: hex::encode(info.last_hash),
    };
    let bytes = serde_json::to_vec(&s).map_err(|e| Error::Encode(e.to_string()))?;
    crate::fsutil::write_atomic(&sidecar_path(index_dir, info.first_seq), &bytes)
}

/// Loads a sealed segment's sidecar if it exists and matches the segment file's current size.
pub(crate) fn read_sidecar(index_dir: &Path, path: &Path, first_seq: u64) -> Option<SegmentInfo> {
    let bytes = std::fs::read(sidecar_path(index_dir, first_seq)).ok()?;
    let s: Sidecar = serde_json::from_slice(&bytes).ok()?;
    let len = std::fs::metadata(path).ok()?.len();
    if s.v != 1 || s.first_seq != first_seq || s.len != len || s.last_seq < first_seq {
        return None;
    }
    Some(SegmentInfo {
        path: path.to_path_buf(),
        first_seq,
        last_seq: s.last_seq,
        len,
        min_time: s.min_time,
        max_time: s.max_time,
        last_hash: crate::record::decode_hash(&s.last_hash)?,
    })
}
