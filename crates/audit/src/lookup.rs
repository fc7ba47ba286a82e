//! `LookupEvents`: filtered, newest-first, paginated reads that scan segments backwards from their end.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::log::AuditLog;
use crate::record::RawRecord;
use crate::segment::SegmentInfo;

/// CloudTrail's `LookupAttributeKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupAttribute {
    /// `eventID`.
    EventId,
    /// `eventName`.
    EventName,
    /// `readOnly`, given as `true` or `false`.
    ReadOnly,
    /// `userIdentity.userName`, or for role sessions the session name.
    Username,
    /// Any `resources[].type`.
    ResourceType,
    /// Any `resources[].ARN`.
    ResourceName,
    /// `eventSource`.
    EventSource,
    /// `userIdentity.accessKeyId`.
    AccessKeyId,
}

/// A `LookupEvents` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupQuery {
    /// At most one attribute filter, as in CloudTrail.
    pub attribute: Option<(LookupAttribute, String)>,
    /// Only events at or after this time.
    pub start: Option<OffsetDateTime>,
    /// Only events at or before this time.
    pub end: Option<OffsetDateTime>,
    /// Page size, 1..=50.
    pub max_results: usize,
    /// Token from the previous page of the same query.
    pub next_token: Option<String>,
    /// Only events recorded for this account (`recipientAccountId`): each account sees its own trail.
    pub account: Option<String>,
}

impl Default for LookupQuery {
    fn default() -> LookupQuery {
        LookupQuery {
            attribute: None,
            start: None,
            end: None,
            max_results: 50,
            next_token: None,
            account: None,
        }
    }
}

/// One event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The parsed event.
    pub event: Event,
    /// The event JSON exactly as stored and hashed: the `CloudTrailEvent` string of `LookupEvents`.
    pub raw_json: String,
}

/// One page of results, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct LookupPage {
    /// The events.
    pub events: Vec<StoredEvent>,
    /// Present when more events may match.
    pub next_token: Option<String>,
}

/// Where the previous page stopped: continue with the records before `offset` in segment `segment`.
struct Cursor {
    segment: u64,
    offset: u64,
}

impl AuditLog {
    /// Runs a `LookupEvents` query. Sees every event whose append has completed.
    ///
    /// Order is newest first by append order (which is event time order, give or take clock skew between
    /// callers). Cost is proportional to the records scanned: segments outside the time range are skipped
    /// using the in-memory index, and each segment is read backwards from its end, so a page of recent events
    /// reads only the tail of the newest segment. This reads files synchronously; async callers should use
    /// `spawn_blocking`.
    pub fn lookup(&self, q: &LookupQuery) -> Result<LookupPage> {
        if !(1..=50).contains(&q.max_results) {
            return Err(Error::InvalidQuery(
                "MaxResults must be between 1 and 50".into(),
            ));
        }
        if let (Some(s), Some(e)) = (q.start, q.end) {
            if s > e {
                return Err(Error::InvalidQuery(
                    "StartTime must not be after EndTime".into(),
                ));
            }
        }
        if let Some((LookupAttribute::ReadOnly, v)) = &q.attribute {
            if v != "true" && v != "false" {
                return Err(Error::InvalidQuery("ReadOnly must be true or false".into()));
            }
        }
        let fingerprint = query_fingerprint(q);
        let cursor = q
            .next_token
            .as_deref()
            .map(|t| self.decode_token(t, &fingerprint))
            .transpose()?;
        let start = q.start.map(|t| t.unix_timestamp());
        let end = q.end.map(|t| t.unix_timestamp());
        let segments = self.shared.snapshot();
        if let Some(c) = &cursor {
            if !segments
                .iter()
                .any(|s| s.first_seq == c.segment && c.offset <= s.len)
            {
                return Err(Error::InvalidNextToken);
            }
        }

        // Collect one more match than the page holds: it tells whether a next page exists.
        let want = q.max_results + 1;
        let mut found: Vec<(StoredEvent, u64, u64)> = Vec::with_capacity(want);
        'segments: for seg in segments.iter().rev() {
            let hi = match &cursor {
                Some(c) if seg.first_seq > c.segment => continue,
                Some(c) if seg.first_seq == c.segment => c.offset,
                _ => seg.len,
            };
            if seg.is_empty()
                || start.is_some_and(|s| seg.max_time < s)
                || end.is_some_and(|e| seg.min_time > e)
            {
                continue;
            }
            let mut lines = RevLines::new(seg, hi)?;
            while let Some((offset, line)) = lines.next_line()? {
                let corrupt = |reason: String| Error::RecordCorrupt {
                    segment: seg.path.clone(),
                    offset,
                    expected_seq: 0,
                    reason,
                };
                let rec = RawRecord::parse(&line).map_err(corrupt)?;
                let raw = rec.event_json();
                let event: Event = serde_json::from_str(raw).map_err(|e| corrupt(e.to_string()))?;
                let t = event.event_time.unix_timestamp();
                if start.is_some_and(|s| t < s) || end.is_some_and(|e| t > e) || !matches(&event, q)
                {
                    continue;
                }
                found.push((
                    StoredEvent {
                        event,
                        raw_json: raw.to_owned(),
                    },
                    seg.first_seq,
                    offset,
                ));
                if found.len() == want {
                    break 'segments;
                }
            }
        }
        let next_token = if found.len() == want {
            found.pop();
            found.last().map(|(_, segment, offset)| {
                self.encode_token(
                    &Cursor {
                        segment: *segment,
                        offset: *offset,
                    },
                    &fingerprint,
                )
            })
        } else {
            None
        };
        Ok(LookupPage {
            events: found.into_iter().map(|(e, _, _)| e).collect(),
            next_token,
        })
    }

    fn encode_token(&self, c: &Cursor, fingerprint: &[u8]) -> String {
        let payload = format!("1.{}.{}", c.segment, c.offset);
        let tag = hmac::sign(&self.token_key, &[fingerprint, payload.as_bytes()].concat());
        URL_SAFE_NO_PAD.encode(format!("{payload}.{}", hex::encode(&tag.as_ref()[..16])))
    }

    fn decode_token(&self, token: &str, fingerprint: &[u8]) -> Result<Cursor> {
        let bad = || Error::InvalidNextToken;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?)
            .map_err(|_| bad())?;
        let (payload, tag_hex) = text.rsplit_once('.').ok_or_else(bad)?;
        let tag = hex::decode(tag_hex).map_err(|_| bad())?;
        let full = hmac::sign(&self.token_key, &[fingerprint, payload.as_bytes()].concat());
        // Compare in constant time: the tag is what keeps clients from pointing reads at arbitrary offsets.
        if tag.len() != 16
            || aws_lc_rs::constant_time::verify_slices_are_equal(&full.as_ref()[..16], &tag)
                .is_err()
        {
            return Err(bad());
        }
        let mut parts = payload.split('.');
        let (Some("1"), Some(seg), Some(off), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Cursor {
            segment: seg.parse().map_err(|_| bad())?,
            offset: off.parse().map_err(|_| bad())?,
        })
    }
}

/// Binds a token to the query it came from, as CloudTrail rejects a token reused with different parameters.
fn query_fingerprint(q: &LookupQuery) -> Vec<u8> {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        q.account,
        q.attribute,
        q.start.map(|t| t.unix_timestamp()),
        q.end.map(|t| t.unix_timestamp())
    )
    .into_bytes()
}

/// CloudTrail's attribute semantics: exact, case-sensitive matches.
fn matches(e: &Event, q: &LookupQuery) -> bool {
    if q.account
        .as_ref()
        .is_some_and(|a| *a != e.recipient_account_id)
    {
        return false;
    }
    let Some((attr, v)) = &q.attribute else {
        return true;
    };
    let id = &e.user_identity;
    match attr {
        LookupAttribute::EventId => e.event_id.to_string() == *v,
        LookupAttribute::EventName => e.event_name == *v,
        LookupAttribute::ReadOnly => (if e.read_only { "true" } else { "false" }) == v,
        LookupAttribute::Username => {
            id.user_name.as_deref() == Some(v)
                || e.session_name() == Some(v)
                // CloudTrail shows the root user as "root".
                || (id.identity_type == crate::event::IdentityType::Root && v == "root")
        }
        LookupAttribute::ResourceType => {
            e.resources.iter().flatten().any(|r| r.resource_type == *v)
        }
        LookupAttribute::ResourceName => e.resources.iter().flatten().any(|r| r.arn == *v),
        LookupAttribute::EventSource => e.event_source == *v,
        LookupAttribute::AccessKeyId => id.access_key_id.as_deref() == Some(v),
    }
}

/// Reads a segment's lines backwards from byte `hi` (a line boundary), in 64 KiB chunks.
struct RevLines<'a> {
    seg: &'a SegmentInfo,
    file: File,
    /// Bytes `[pos, pos + buf.len())` of the file, not yet returned; `buf` ends with a complete line's `\n`.
    pos: u64,
    buf: Vec<u8>,
}

const CHUNK: u64 = 64 * 1024;

impl<'a> RevLines<'a> {
    fn new(seg: &'a SegmentInfo, hi: u64) -> Result<RevLines<'a>> {
        let file = File::open(&seg.path).map_err(Error::io(&seg.path))?;
        Ok(RevLines {
            seg,
            file,
            pos: hi,
            buf: Vec::new(),
        })
    }

    /// The previous line (without `\n`) and its byte offset.
    fn next_line(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            let search_end = self.buf.len().saturating_sub(1);
            if let Some(i) = self.buf[..search_end].iter().rposition(|b| *b == b'\n') {
                let line = self.buf[i + 1..search_end].to_vec();
                self.buf.truncate(i + 1);
                return Ok(Some((self.pos + i as u64 + 1, line)));
            }
            if self.pos == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = self.buf[..search_end].to_vec();
                self.buf.clear();
                return Ok(Some((0, line)));
            }
            let n = CHUNK.min(self.pos);
            let mut chunk = vec![0u8; n as usize];
            let path = &self.seg.path;
            self.file
                .seek(SeekFrom::Start(self.pos - n))
                .map_err(Error::io(path))?;
            self.file.read_exact(&mut chunk).map_err(Error::io(path))?;
            chunk.extend_from_slice(&self.buf);
            self.buf = chunk;
            self.pos -= n;
        }
    }
}
