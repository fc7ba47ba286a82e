//! Byte layout of the engine's metadata keys, version ids, upload ids and list tokens.
//!
//! Every key starts with the bucket name and a `0x00` (bucket names never contain it). Object
//! keys inside composite keys are escaped (`0x00` → `0x00 0xFF`) and terminated by `0x00 0x00`,
//! which keeps byte order equal to key order and makes the encoding prefix-free, so
//! "all versions of key k" is an exact prefix and no other key's entries interleave. The full
//! layout is specified in `docs/design/objects.md`.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::ObjectError;

/// Length of a sort id: 8 bytes of inverted commit time (µs), 8 random bytes.
pub(crate) const SORT_ID_LEN: usize = 16;

/// `bucket ‖ 0x00`: the prefix of everything a bucket owns in a table.
pub(crate) fn bucket_prefix(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k
}

/// Appends `key` escaped (no terminator): a prefix-preserving, order-preserving encoding.
pub(crate) fn push_escaped(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
}

/// `bucket ‖ 0 ‖ esc(key) ‖ 0 0`: the prefix of every version of `key`.
pub(crate) fn key_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    push_escaped(&mut k, key.as_bytes());
    k.extend_from_slice(&[0, 0]);
    k
}

/// `bucket ‖ 0 ‖ esc(prefix)`: the prefix of every version of every key starting with `prefix`.
pub(crate) fn escaped_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    push_escaped(&mut k, prefix.as_bytes());
    k
}

/// Splits a composite key back into (object key, trailing id bytes).
pub(crate) fn split_composite(
    bucket_len: usize,
    full: &[u8],
) -> Result<(String, &[u8]), ObjectError> {
    let body = full
        .get(bucket_len + 1..)
        .ok_or_else(|| ObjectError::Internal("short metadata key".into()))?;
    let mut key = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == 0 {
            match body.get(i + 1) {
                Some(0xff) => {
                    key.push(0);
                    i += 2;
                    continue;
                }
                Some(0) => {
                    let key = String::from_utf8(key)
                        .map_err(|_| ObjectError::Internal("non-UTF-8 object key".into()))?;
                    return Ok((key, &body[i + 2..]));
                }
                _ => break,
            }
        }
        key.push(b);
        i += 1;
    }
    Err(ObjectError::Internal(
        "malformed composite metadata key".into(),
    ))
}

/// `bucket ‖ 0 ‖ key` (raw: nothing follows it): the latest-version index key.
pub(crate) fn latest_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The version record key: `key_prefix ‖ sort id`.
pub(crate) fn version_key(bucket: &str, key: &str, sort: &[u8; SORT_ID_LEN]) -> Vec<u8> {
    let mut k = key_prefix(bucket, key);
    k.extend_from_slice(sort);
    k
}

static LAST_MICROS: AtomicU64 = AtomicU64::new(0);

/// Microseconds since the epoch, strictly increasing within this process.
fn monotonic_micros() -> u64 {
    let now =
        u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0);
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A fresh sort id: newer ids sort first (inverted time), random tail for uniqueness across
/// processes. `below` (the newest existing sort id of the key) forces it to sort before that
/// one even if the wall clock stepped back.
pub(crate) fn new_sort_id(below: Option<&[u8]>) -> [u8; SORT_ID_LEN] {
    let mut inverted = u64::MAX - monotonic_micros();
    if let Some(newest) = below.and_then(|b| b.get(..8)) {
        let newest = u64::from_be_bytes(newest.try_into().expect("8 bytes"));
        if inverted >= newest {
            inverted = newest.saturating_sub(1);
        }
    }
    let mut id = [0u8; SORT_ID_LEN];
    id[..8].copy_from_slice(&inverted.to_be_bytes());
    id[8..].copy_from_slice(&random8());
    id
}

/// An upload id or write id: time first (so uploads list in initiation order), then random.
pub(crate) fn new_ascending_id() -> [u8; SORT_ID_LEN] {
    let mut id = [0u8; SORT_ID_LEN];
    id[..8].copy_from_slice(&monotonic_micros().to_be_bytes());
    id[8..].copy_from_slice(&random8());
    id
}

fn random8() -> [u8; 8] {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut b = [0u8; 8];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the system random number generator failed");
    b
}

/// Public text of a sort or upload id: 32 lowercase hex digits (URL-safe, order-preserving).
pub(crate) fn id_text(id: &[u8; SORT_ID_LEN]) -> String {
    hex::encode(id)
}

/// Parses an id handed out by [`id_text`]; anything else is `None`.
pub(crate) fn parse_id(text: &str) -> Option<[u8; SORT_ID_LEN]> {
    if text.len() != 2 * SORT_ID_LEN
        || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut id = [0u8; SORT_ID_LEN];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(id)
}

/// A continuation token: opaque base64url of a kind byte and the position (a key or common prefix).
pub(crate) fn encode_token(kind: u8, position: &str) -> String {
    let mut raw = vec![kind];
    raw.extend_from_slice(position.as_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

/// Decodes [`encode_token`]; a token we did not hand out is `InvalidArgument`.
pub(crate) fn decode_token(token: &str) -> Result<(u8, String), ObjectError> {
    let bad =
        || ObjectError::InvalidArgument("The continuation token provided is incorrect".into());
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let (&kind, rest) = raw.split_first().ok_or_else(bad)?;
    let pos = String::from_utf8(rest.to_vec()).map_err(|_| bad())?;
    Ok((kind, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_preserves_order_and_is_prefix_free() {
        let keys = ["", "a", "a\0", "a\0b", "a\u{1}", "ab", "b"];
        let enc: Vec<_> = keys.iter().map(|k| key_prefix("bk", k)).collect();
        for w in enc.windows(2) {
            assert!(w[0] < w[1]);
        }
        for (i, a) in enc.iter().enumerate() {
            for (j, b) in enc.iter().enumerate() {
                if i != j {
                    assert!(
                        !b.starts_with(a),
                        "{:?} is a prefix of {:?}",
                        keys[i],
                        keys[j]
                    );
                }
            }
        }
        let vk = version_key("bk", "a\0b", &[7; 16]);
        let (k, rest) = split_composite(2, &vk).unwrap();
        assert_eq!((k.as_str(), rest), ("a\0b", &[7u8; 16][..]));
    }

    #[test]
    fn sort_ids_go_newest_first_and_respect_below() {
        let a = new_sort_id(None);
        let b = new_sort_id(None);
        assert!(b < a);
        let forced = new_sort_id(Some(&[0, 0, 0, 0, 0, 0, 0, 5, 9, 9, 9, 9, 9, 9, 9, 9]));
        assert_eq!(&forced[..8], &[0, 0, 0, 0, 0, 0, 0, 4]);
        assert_eq!(parse_id(&id_text(&a)), Some(a));
        assert_eq!(parse_id("null"), None);
        assert_eq!(parse_id(&id_text(&a).to_uppercase()), None);
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token(1, "photos/2024/");
        assert_eq!(decode_token(&t).unwrap(), (1, "photos/2024/".into()));
        assert!(decode_token("!!!").is_err());
        assert!(decode_token("").is_err());
    }
}
