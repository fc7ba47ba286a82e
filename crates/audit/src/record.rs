//! Segment record format v1: one JSON line per record, hash-chained with SHA-256 (spec: docs/design/audit.md).

use aws_lc_rs::digest::{Context, SHA256};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The record format version written by this build.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Domain-separation prefix of the record hash preimage, so a record hash can never collide with another
/// SHA-256 use in coffer.
const HASH_DOMAIN: &[u8] = b"coffer-audit/v1\n";

/// The most bytes a line adds around its event JSON: the fixed keys, a 20-digit seq, two hashes and `}\n`.
pub(crate) const LINE_OVERHEAD: u64 = 192;

/// `prev` of the first record ever written (seq 1).
pub(crate) const GENESIS_PREV: [u8; 32] = [0; 32];

/// The SHA-256 a record commits to: `SHA-256("coffer-audit/v1\n" || seq || "\n" || hex(prev) || "\n" || event)`,
/// with `seq` in decimal ASCII, `prev` in lowercase hex, and `event` the exact event JSON bytes in the line.
pub(crate) fn record_hash(seq: u64, prev: &[u8; 32], event_json: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(HASH_DOMAIN);
    ctx.update(seq.to_string().as_bytes());
    ctx.update(b"\n");
    ctx.update(hex::encode(prev).as_bytes());
    ctx.update(b"\n");
    ctx.update(event_json.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Appends the line for one record (including its `\n`) to `out` and returns the record's hash.
///
/// `event_json` must be compact JSON (as `serde_json::to_string` writes it): it then never contains a raw newline,
/// which is what makes a line boundary a record boundary.
pub(crate) fn encode_line(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    event_json: &str,
) -> [u8; 32] {
    let hash = record_hash(seq, prev, event_json);
    write_line(out, seq, &hex::encode(prev), &hex::encode(hash), event_json);
    hash
}

fn write_line(out: &mut Vec<u8>, seq: u64, prev_hex: &str, hash_hex: &str, event_json: &str) {
    out.extend_from_slice(format!("{{\"v\":{RECORD_VERSION},\"seq\":{seq},\"prev\":\"").as_bytes());
    out.extend_from_slice(prev_hex.as_bytes());
    out.extend_from_slice(b"\",\"hash\":\"");
    out.extend_from_slice(hash_hex.as_bytes());
    out.extend_from_slice(b"\",\"event\":");
    out.extend_from_slice(event_json.as_bytes());
    out.extend_from_slice(b"}\n");
}

/// A record line parsed without checking its hash (lookups trust the log; `verify` checks it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecord<'a> {
    pub(crate) v: u32,
    pub(crate) seq: u64,
    #[serde(borrow)]
    pub(crate) prev: &'a str,
    #[serde(borrow)]
    pub(crate) hash: &'a str,
    #[serde(borrow)]
    pub(crate) event: &'a RawValue,
}

impl<'a> RawRecord<'a> {
    /// Parses one line (without its trailing `\n`).
    pub(crate) fn parse(line: &'a [u8]) -> Result<RawRecord<'a>, String> {
        let rec: RawRecord<'a> =
            serde_json::from_slice(line).map_err(|e| format!("not a record: {e}"))?;
        if rec.v != RECORD_VERSION {
            return Err(format!("unsupported record version {}", rec.v));
        }
        Ok(rec)
    }

    /// The event JSON exactly as stored.
    pub(crate) fn event_json(&self) -> &'a str {
        self.event.get()
    }

    /// Checks the line is byte-identical to what this build writes for the same fields, so that no alteration
    /// (extra whitespace, reordered keys, escaped characters) can hide behind an equivalent parse.
    pub(crate) fn is_canonical(&self, line: &[u8]) -> bool {
        let mut again = Vec::with_capacity(line.len() + 1);
        write_line(
            &mut again,
            self.seq,
            self.prev,
            self.hash,
            self.event_json(),
        );
        again.pop();
        again == line
    }

    /// The stored hash, decoded; `None` unless it is 64 lowercase hex digits.
    pub(crate) fn hash_bytes(&self) -> Option<[u8; 32]> {
        decode_hash(self.hash)
    }
}

/// Decodes a 64-digit lowercase hex hash.
pub(crate) fn decode_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips_and_hash_commits_to_every_field() {
        let mut line = Vec::new();
        let h = encode_line(&mut line, 7, &GENESIS_PREV, r#"{"a":1}"#);
        assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        let rec = RawRecord::parse(body).unwrap();
        assert_eq!((rec.seq, rec.event_json()), (7, r#"{"a":1}"#));
        assert!(rec.is_canonical(body));
        assert_eq!(rec.hash_bytes(), Some(h));
        assert_ne!(record_hash(8, &GENESIS_PREV, r#"{"a":1}"#), h);
        assert_ne!(record_hash(7, &[1; 32], r#"{"a":1}"#), h);
        assert_ne!(record_hash(7, &GENESIS_PREV, r#"{"a":2}"#), h);
    }

    #[test]
    fn non_canonical_line_is_rejected() {
        let mut line = Vec::new();
        encode_line(&mut line, 1, &GENESIS_PREV, r#"{"a":1}"#);
        let text = String::from_utf8(line)
            .unwrap()
            .replace(r#""v":1,"#, r#""v": 1,"#);
        let body = text.trim_end().as_bytes();
        let rec = RawRecord::parse(body).unwrap();
        assert!(!rec.is_canonical(body));
    }
}
