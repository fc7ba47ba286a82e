//! The streaming decryptor: stored bytes of any slicing in, verified plaintext out one segment at a time; whole
//! objects or a planned range.

use zeroize::Zeroizing;

use crate::format::{Header, SegmentSize, HEADER_LEN, TAG_LEN, VERSION_PREFIX_LEN};
use crate::keys::{ObjectKeys, KEY_LEN};
use crate::range::{plan_range, RangePlan};
use crate::segment::SegmentCipher;
use crate::Error;

/// Decrypts one object, or one planned range of it. Feed stored bytes with [`update`](Self::update) in slices
/// of any size and call [`finish`](Self::finish) once.
///
/// Plaintext is appended to `out` a whole segment at a time and only after that segment's tag verified, so every
/// byte ever released is authentic and in its place. An error can still come after earlier segments were
/// released (a later segment tampered, or the stream truncated); a server streaming the result must then abort
/// the response rather than end it cleanly. After an error the decryptor stays failed.
///
/// Memory is one segment of buffered ciphertext. Slices holding a whole segment skip that buffer: they are copied
/// once into `out` and decrypted there in place.
pub struct Decryptor {
    stage: Stage,
    segments: Segments,
    failed: Option<Error>,
}

enum Stage {
    /// Whole-object mode before the header is complete.
    Header {
        key: Zeroizing<[u8; KEY_LEN]>,
        associated_data: Vec<u8>,
        bytes: Vec<u8>,
    },
    Body {
        cipher: SegmentCipher,
        segment_size: SegmentSize,
    },
}

/// Progress through the segments, apart from the cipher so both can be borrowed at once.
struct Segments {
    /// Ciphertext of the current segment while it is incomplete, or (whole-object mode) complete but not yet
    /// known to be non-final.
    buf: Vec<u8>,
    next: u64,
    range: Option<RangeState>,
}

struct RangeState {
    plan: RangePlan,
    /// Plaintext still to drop from the front of the range's first segment.
    skip: u64,
    /// Plaintext still to release.
    remaining: u64,
    /// Every planned segment verified.
    done: bool,
}

impl Decryptor {
    /// Decrypts a whole stored object (header included) under `data_key`, with the associated data it was
    /// encrypted with. The key is checked against the header's commitment as soon as the header has arrived.
    pub fn new(data_key: &[u8; KEY_LEN], associated_data: &[u8]) -> Self {
        Self {
            stage: Stage::Header {
                key: Zeroizing::new(*data_key),
                associated_data: associated_data.to_vec(),
                bytes: Vec::with_capacity(HEADER_LEN),
            },
            segments: Segments {
                buf: Vec::new(),
                next: 0,
                range: None,
            },
            failed: None,
        }
    }

    /// Decrypts the range `plan` describes: `header` is the stored object's first [`HEADER_LEN`] bytes, and the
    /// bytes fed to [`update`](Self::update) are the stored bytes at `plan.cipher_offset..+plan.cipher_len`.
    ///
    /// Each segment is verified at its own position; the last touched segment is verified as the final segment
    /// exactly when it is the object's last (by `plan.plain_len`), so a range cannot be served from a truncated or
    /// extended object. Only the requested bytes are released.
    pub fn starting_at(
        data_key: &[u8; KEY_LEN],
        associated_data: &[u8],
        header: &[u8],
        plan: &RangePlan,
    ) -> Result<Self, Error> {
        let parsed = Header::parse(header)?;
        if parsed.segment_size != plan.segment_size {
            return Err(Error::Malformed(
                "segment size differs from the one the range was planned with",
            ));
        }
        // A plan edited after planning is refused rather than trusted.
        let start = plan.first_segment * u64::from(plan.segment_size.get()) + plan.skip_front;
        let end = (start + plan.take)
            .checked_sub(1)
            .ok_or(Error::InvalidRange)?;
        if plan_range(plan.plain_len, plan.segment_size, start, end)? != *plan {
            return Err(Error::InvalidRange);
        }
        let cipher = unlock(&parsed, data_key, associated_data)?;
        Ok(Self {
            stage: Stage::Body {
                cipher,
                segment_size: parsed.segment_size,
            },
            segments: Segments {
                buf: Vec::new(),
                next: plan.first_segment,
                range: Some(RangeState {
                    plan: *plan,
                    skip: plan.skip_front,
                    remaining: plan.take,
                    done: false,
                }),
            },
            failed: None,
        })
    }

    /// Verifies and decrypts what `ciphertext` completes, appending plaintext to `out`.
    pub fn update(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.update_inner(ciphertext, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Ends the stream: verifies the final segment (whole-object mode) or that every planned segment arrived
    /// (range mode). Fails with [`Error::Truncated`] if the stream stopped early.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let Stage::Body {
            cipher,
            segment_size,
        } = &self.stage
        else {
            return Err(Error::Truncated);
        };
        let seg = &mut self.segments;
        if let Some(range) = &seg.range {
            return if range.done {
                Ok(())
            } else {
                Err(Error::Truncated)
            };
        }
        if seg.buf.len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        match cipher.open(seg.next, true, &seg.buf, out) {
            Ok(()) if seg.buf.len() == TAG_LEN && seg.next > 0 => {
                // Writers never end a non-empty object with an empty segment; see `ciphertext_len`.
                Err(Error::Malformed("empty final segment after data"))
            }
            Ok(()) => Ok(()),
            Err(e) => {
                // A whole segment that verifies as non-final means the stream was cut at a segment boundary.
                let mut scratch = Vec::new();
                if seg.buf.len() == segment_size.sealed()
                    && cipher.open(seg.next, false, &seg.buf, &mut scratch).is_ok()
                {
                    scratch.fill(0);
                    Err(Error::Truncated)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn update_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Stage::Header {
            key,
            associated_data,
            bytes,
        } = &mut self.stage
        {
            let take = (HEADER_LEN - bytes.len()).min(input.len());
            bytes.extend_from_slice(&input[..take]);
            input = &input[take..];
            if bytes.len() >= VERSION_PREFIX_LEN {
                Header::check_prefix(bytes)?;
            }
            if bytes.len() < HEADER_LEN {
                return Ok(());
            }
            let header = Header::parse(bytes)?;
            let cipher = unlock(&header, key, associated_data)?;
            self.stage = Stage::Body {
                cipher,
                segment_size: header.segment_size,
            };
        }
        let Stage::Body {
            cipher,
            segment_size,
        } = &self.stage
        else {
            unreachable!("the header stage either returned or was replaced");
        };
        if self.segments.range.is_some() {
            self.segments.feed_range(cipher, input, out)
        } else {
            self.segments.feed_stream(cipher, *segment_size, input, out)
        }
    }
}

/// Checks `data_key` against the header's commitment and builds the segment cipher.
fn unlock(
    header: &Header,
    data_key: &[u8; KEY_LEN],
    associated_data: &[u8],
) -> Result<SegmentCipher, Error> {
    let keys = ObjectKeys::derive(data_key, &header.salt);
    if !keys.commits_to(&header.commitment) {
        return Err(Error::WrongKey);
    }
    Ok(SegmentCipher::new(&keys, header, associated_data))
}

impl Segments {
    /// Whole-object mode: a complete segment is opened as non-final once a byte after it has arrived; the last
    /// one waits for `finish`.
    fn feed_stream(
        &mut self,
        cipher: &SegmentCipher,
        size: SegmentSize,
        mut input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let sealed = size.sealed();
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(sealed);
        }
        while !input.is_empty() {
            if self.buf.len() == sealed {
                cipher.open(self.next, false, &self.buf, out)?;
                self.buf.clear();
                self.next += 1;
            }
            if self.buf.is_empty() && input.len() > sealed {
                let (segment, rest) = input.split_at(sealed);
                cipher.open(self.next, false, segment, out)?;
                self.next += 1;
                input = rest;
                continue;
            }
            let take = (sealed - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
        }
        Ok(())
    }

    /// Range mode: segment lengths and the final one are known from the plan, so each segment is opened as soon
    /// as it is complete.
    fn feed_range(
        &mut self,
        cipher: &SegmentCipher,
        mut input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        while !input.is_empty() {
            let range = self.range.as_ref().expect("range mode");
            if range.done {
                return Err(Error::Malformed(
                    "ciphertext continues past the planned range",
                ));
            }
            let need = usize::try_from(range.plan.sealed_len(self.next))
                .expect("a segment is at most 16 MiB");
            if self.buf.is_empty() && input.len() >= need {
                let (segment, rest) = input.split_at(need);
                self.open_in_range(cipher, segment, out)?;
                input = rest;
                continue;
            }
            let take = (need - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() == need {
                let buf = std::mem::take(&mut self.buf);
                let opened = self.open_in_range(cipher, &buf, out);
                self.buf = buf;
                self.buf.clear();
                opened?;
            }
        }
        Ok(())
    }

    /// Opens segment `self.next` of a range and releases only the part of it inside the range.
    fn open_in_range(
        &mut self,
        cipher: &SegmentCipher,
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let range = self.range.as_mut().expect("range mode");
        let last = self.next + 1 == range.plan.segment_count();
        let start = out.len();
        cipher.open(self.next, last, sealed, out)?;
        let skip = usize::try_from(range.skip).expect("skip is within one segment");
        out.drain(start..start + skip);
        range.skip = 0;
        let keep = (out.len() - start).min(usize::try_from(range.remaining).unwrap_or(usize::MAX));
        out.truncate(start + keep);
        range.remaining -= keep as u64;
        range.done = self.next == range.plan.last_segment;
        self.next += 1;
        Ok(())
    }
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("header_read", &matches!(self.stage, Stage::Body { .. }))
            .field("next_segment", &self.segments.next)
            .field("range", &self.segments.range.as_ref().map(|r| r.plan))
            .finish_non_exhaustive()
    }
}
