//! Listing as ordered range scans: ListObjects (V1 and V2) over the latest-version index, and the
//! composite-key scan behind ListObjectVersions and ListMultipartUploads. A common prefix is
//! emitted once and skipped with a single seek past everything under it.

use std::ops::Bound;

use meta::{prefix_successor, Range, Store};
use time::OffsetDateTime;

use crate::keys::{bucket_prefix, decode_token, encode_token, escaped_prefix, split_composite};
use crate::model::{from_ms, ChecksumAlgorithm, ChecksumType};
use crate::records::{tables, VersionRecord};
use crate::{ObjectError, Objects};

/// Rows fetched per scan while listing.
const BATCH: usize = 1000;
/// S3's page size cap.
pub const MAX_KEYS: usize = 1000;

const TOKEN_KEY: u8 = 0;
const TOKEN_PREFIX: u8 = 1;

/// ListObjects / ListObjectsV2 parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjects {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// V2 `start-after` or V1 `marker`: list keys strictly after it.
    pub start_after: Option<String>,
    /// V2 `continuation-token`, as returned in [`ObjectPage::next_continuation_token`].
    pub continuation_token: Option<String>,
    /// At most this many keys plus common prefixes (capped at 1000).
    pub max_keys: usize,
}

/// A current object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub etag: String,
    pub size: u64,
    pub last_modified: OffsetDateTime,
    pub owner: String,
    pub storage_class: &'static str,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
}

/// One page of ListObjects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// V2: pass back as `continuation_token`.
    pub next_continuation_token: Option<String>,
    /// V1: the last key or common prefix of the page (the next `marker`).
    pub next_marker: Option<String>,
}

/// Where a delimiter splits `rest` (the key after the prefix): the common prefix length in `rest`.
fn common_prefix_len(rest: &str, delimiter: Option<&str>) -> Option<usize> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    rest.find(d).map(|i| i + d.len())
}

/// Everything under `full_prefix` is skipped by starting at its successor.
fn seek_past(full_prefix: &[u8]) -> Bound<Vec<u8>> {
    match prefix_successor(full_prefix) {
        Some(next) => Bound::Included(next),
        // Nothing sorts after an all-0xff prefix: an empty range.
        None => Bound::Excluded(vec![0xff; full_prefix.len() + 1]),
    }
}

fn later(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    let key = |x: &Bound<Vec<u8>>| match x {
        Bound::Included(k) => (Some(k.clone()), 0),
        Bound::Excluded(k) => (Some(k.clone()), 1),
        Bound::Unbounded => (None, 0),
    };
    if key(&a) >= key(&b) {
        a
    } else {
        b
    }
}

impl Objects {
    /// ListObjects (V1: `start_after` = marker) and ListObjectsV2: current objects only, in key
    /// order, with common prefixes, `max_keys` entries per page.
    pub fn list_objects(&self, bucket: &str, req: &ListObjects) -> Result<ObjectPage, ObjectError> {
        self.head_bucket(bucket)?;
        let store = self.store();
        let base = bucket_prefix(bucket);
        let full_prefix = [base.as_slice(), req.prefix.as_bytes()].concat();
        let end = match prefix_successor(&full_prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let mut start = Bound::Included(full_prefix.clone());
        if let Some(sa) = &req.start_after {
            start = later(
                start,
                Bound::Excluded([base.as_slice(), sa.as_bytes()].concat()),
            );
        }
        if let Some(token) = &req.continuation_token {
            let (kind, pos) = decode_token(token)?;
            let at = [base.as_slice(), pos.as_bytes()].concat();
            start = later(
                start,
                if kind == TOKEN_PREFIX {
                    seek_past(&at)
                } else {
                    Bound::Excluded(at)
                },
            );
        }
        let max = req.max_keys.min(MAX_KEYS);
        let mut page = ObjectPage::default();
        let mut count = 0;
        let mut last: Option<(u8, String)> = None;
        'scan: while count < max {
            let rows = store.scan(
                tables::LATEST,
                Range::new(start.clone(), end.clone()).limit((max - count).min(BATCH)),
            )?;
            if rows.is_empty() {
                break;
            }
            for (k, v) in rows {
                let key = String::from_utf8(k[base.len()..].to_vec())
                    .map_err(|_| ObjectError::Internal("non-UTF-8 key in index".into()))?;
                if let Some(n) =
                    common_prefix_len(&key[req.prefix.len()..], req.delimiter.as_deref())
                {
                    let cp = key[..req.prefix.len() + n].to_owned();
                    start = seek_past(&[base.as_slice(), cp.as_bytes()].concat());
                    // A prefix at or before the marker was (or would have been) listed already.
                    if req.start_after.as_deref().is_none_or(|sa| cp.as_str() > sa) {
                        page.common_prefixes.push(cp.clone());
                        last = Some((TOKEN_PREFIX, cp));
                        count += 1;
                    }
                    continue 'scan;
                }
                let rec: VersionRecord = meta::codec::decode_json(&v)?;
                page.objects.push(ListedObject {
                    key: key.clone(),
                    etag: rec.etag,
                    size: rec.size,
                    last_modified: from_ms(rec.last_modified_ms),
                    owner: rec.owner,
                    storage_class: "STANDARD",
                    checksum_algorithm: rec.checksum.as_ref().map(|c| c.algorithm),
                    checksum_type: rec.checksum.as_ref().map(|c| c.kind),
                });
                start = Bound::Excluded(k);
                last = Some((TOKEN_KEY, key));
                count += 1;
            }
        }
        if count == max && max > 0 {
            page.is_truncated = !store
                .scan(tables::LATEST, Range::new(start, end).limit(1))?
                .is_empty();
        }
        if page.is_truncated {
            if let Some((kind, pos)) = last {
                page.next_continuation_token = Some(encode_token(kind, &pos));
                page.next_marker = Some(pos);
            }
        }
        Ok(page)
    }
}

/// A scan over a table keyed `bucket ‖ 0 ‖ esc(key) ‖ 0 0 ‖ id(16)`.
pub(crate) struct CompositeScan<'a> {
    pub table: &'static str,
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Start after this key: after all its entries, or after `(key, id_marker)` if given.
    pub key_marker: Option<&'a str>,
    pub id_marker: Option<[u8; 16]>,
    pub max: usize,
}

pub(crate) enum CompositeItem {
    Entry {
        key: String,
        #[allow(dead_code)]
        id: Vec<u8>,
        value: Vec<u8>,
    },
    Prefix(String),
}

pub(crate) struct CompositeResult {
    pub items: Vec<CompositeItem>,
    pub truncated: bool,
}

pub(crate) fn scan_composite(
    store: &Store,
    s: &CompositeScan<'_>,
) -> Result<CompositeResult, ObjectError> {
    let base_len = s.bucket.len();
    let full_prefix = escaped_prefix(s.bucket, s.prefix);
    let end = match prefix_successor(&full_prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    let mut start = Bound::Included(full_prefix.clone());
    if let Some(km) = s.key_marker {
        let kp = crate::keys::key_prefix(s.bucket, km);
        start = later(
            start,
            match s.id_marker {
                Some(id) => Bound::Excluded([kp, id.to_vec()].concat()),
                None => seek_past(&kp),
            },
        );
    }
    let max = s.max.min(MAX_KEYS);
    let mut items = Vec::new();
    'scan: while items.len() < max {
        let rows = store.scan(
            s.table,
            Range::new(start.clone(), end.clone()).limit((max - items.len()).min(BATCH)),
        )?;
        if rows.is_empty() {
            break;
        }
        for (k, v) in rows {
            let (key, id) = split_composite(base_len, &k)?;
            if let Some(n) = common_prefix_len(&key[s.prefix.len()..], s.delimiter) {
                let cp = key[..s.prefix.len() + n].to_owned();
                start = seek_past(&escaped_prefix(s.bucket, &cp));
                if s.key_marker.is_none_or(|m| cp.as_str() > m) {
                    items.push(CompositeItem::Prefix(cp));
                }
                continue 'scan;
            }
            let id = id.to_vec();
            start = Bound::Excluded(k);
            items.push(CompositeItem::Entry { key, id, value: v });
        }
    }
    let truncated = items.len() == max
        && max > 0
        && !store
            .scan(s.table, Range::new(start, end).limit(1))?
            .is_empty();
    Ok(CompositeResult { items, truncated })
}
