//! Versioning: the one commit transaction that makes a version visible (and unlinks what it
//! replaces), version removal, resolution of "latest"/by-id reads, and ListObjectVersions.

use meta::Txn;
use time::OffsetDateTime;

use crate::buckets::Bucket;
use crate::keys::{id_text, key_prefix, latest_key, new_sort_id, parse_id, version_key};
use crate::list::{scan_composite, CompositeItem, CompositeScan};
use crate::model::{from_ms, ChecksumAlgorithm, Versioning, WriteConditions, NULL_VERSION};
use crate::records::{tables, Body, VersionRecord};
use crate::{ObjectError, Objects};

/// A version about to be committed: its record (sort id and null flag are assigned in the
/// transaction) and its inline body, if any.
pub(crate) struct NewVersion {
    pub bucket: String,
    pub key: String,
    pub record: VersionRecord,
    pub inline: Option<Vec<u8>>,
    pub conditions: WriteConditions,
}

/// Reads a version record.
fn get_version(txn: &Txn<'_>, vkey: &[u8]) -> Result<Option<VersionRecord>, ObjectError> {
    Ok(txn.get_json::<VersionRecord>(tables::VERSIONS, vkey)?)
}

/// The newest version of a key (object or delete marker), if any.
pub(crate) fn newest_version(
    txn: &Txn<'_>,
    bucket: &str,
    key: &str,
) -> Result<Option<VersionRecord>, ObjectError> {
    let rows = txn.scan_prefix(tables::VERSIONS, &key_prefix(bucket, key), None, 1)?;
    rows.into_iter()
        .next()
        .map(|(_, v)| meta::codec::decode_json(&v).map_err(ObjectError::from))
        .transpose()
}

/// Deletes a version's record, inline body and null pointer; returns the blobs it referenced
/// (to be deleted after the commit). Does not touch the latest index.
fn purge(
    txn: &mut Txn<'_>,
    bucket: &str,
    key: &str,
    record: &VersionRecord,
) -> Result<Vec<String>, ObjectError> {
    let vkey = version_key(bucket, key, &record.sort_id()?);
    txn.delete(tables::VERSIONS, vkey.clone());
    if matches!(record.body, Body::Inline { .. }) {
        txn.delete(tables::BODIES, vkey);
    }
    if record.null {
        txn.delete(tables::NULLS, key_prefix(bucket, key));
    }
    Ok(record.blobs())
}

/// Points the latest index at the key's newest version (or removes it when that is a delete
/// marker or there is none).
fn refresh_latest(txn: &mut Txn<'_>, bucket: &str, key: &str) -> Result<(), ObjectError> {
    match newest_version(txn, bucket, key)? {
        Some(rec) if !rec.delete_marker => {
            txn.put_json(tables::LATEST, latest_key(bucket, key), &rec)?
        }
        _ => txn.delete(tables::LATEST, latest_key(bucket, key)),
    }
    Ok(())
}

/// The key's "null" version, if any.
fn null_version(
    txn: &Txn<'_>,
    bucket: &str,
    key: &str,
) -> Result<Option<VersionRecord>, ObjectError> {
    let Some(sort) = txn.get(tables::NULLS, &key_prefix(bucket, key))? else {
        return Ok(None);
    };
    let vkey = [key_prefix(bucket, key), sort].concat();
    get_version(txn, &vkey)
}

/// Checks conditional-write headers against the key's current object.
fn check_write_conditions(
    current: Option<&VersionRecord>,
    conditions: &WriteConditions,
) -> Result<(), ObjectError> {
    if conditions.if_none_match_star && current.is_some() {
        return Err(ObjectError::PreconditionFailed);
    }
    if let Some(want) = &conditions.if_match {
        let current = current.ok_or(ObjectError::NoSuchKey {
            delete_marker: None,
        })?;
        if !crate::conditions::etag_matches(want, &current.etag) {
            return Err(ObjectError::PreconditionFailed);
        }
    }
    Ok(())
}

/// The commit transaction of every write: checks the bucket and conditions, assigns the version
/// id per the bucket's versioning state, stores record and inline body, updates the latest index
/// and unlinks a replaced null version. Returns the stored record and the blobs to delete.
pub(crate) fn commit_version(
    txn: &mut Txn<'_>,
    new: NewVersion,
) -> Result<(VersionRecord, Vec<String>), ObjectError> {
    let NewVersion {
        bucket,
        key,
        mut record,
        inline,
        conditions,
    } = new;
    let b = txn
        .get_json::<Bucket>(tables::BUCKETS, bucket.as_bytes())?
        .ok_or(ObjectError::NoSuchBucket)?;
    let current = txn.get_json::<VersionRecord>(tables::LATEST, &latest_key(&bucket, &key))?;
    check_write_conditions(current.as_ref(), &conditions)?;
    let newest = newest_version(txn, &bucket, &key)?;
    let newest_sort = newest.as_ref().map(VersionRecord::sort_id).transpose()?;
    let sort = new_sort_id(newest_sort.as_ref().map(|s| &s[..]));
    record.sort = id_text(&sort);
    record.null = b.versioning != Versioning::Enabled;
    let mut unlinked = Vec::new();
    if record.null {
        if let Some(old) = null_version(txn, &bucket, &key)? {
            unlinked = purge(txn, &bucket, &key, &old)?;
        }
        txn.put(tables::NULLS, key_prefix(&bucket, &key), sort.to_vec());
    }
    let vkey = version_key(&bucket, &key, &sort);
    txn.put_json(tables::VERSIONS, vkey.clone(), &record)?;
    if let Some(body) = inline {
        txn.put(tables::BODIES, vkey, body);
    }
    if record.delete_marker {
        txn.delete(tables::LATEST, latest_key(&bucket, &key));
    } else {
        txn.put_json(tables::LATEST, latest_key(&bucket, &key), &record)?;
    }
    Ok((record, unlinked))
}

/// Removes one version permanently (DELETE with versionId); returns it and its blobs.
pub(crate) fn remove_version(
    txn: &mut Txn<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(VersionRecord, Vec<String>)>, ObjectError> {
    if txn.get(tables::BUCKETS, bucket.as_bytes())?.is_none() {
        return Err(ObjectError::NoSuchBucket);
    }
    let Some(record) = lookup_version(txn, bucket, key, version_id)? else {
        return Ok(None);
    };
    let blobs = purge(txn, bucket, key, &record)?;
    refresh_latest(txn, bucket, key)?;
    Ok(Some((record, blobs)))
}

/// A version by its public id ("null" or an id we issued). A malformed id is `InvalidArgument`.
pub(crate) fn lookup_version(
    txn: &Txn<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<VersionRecord>, ObjectError> {
    if version_id == NULL_VERSION {
        return null_version(txn, bucket, key);
    }
    let sort = parse_version_id(version_id)?;
    get_version(txn, &version_key(bucket, key, &sort))
}

pub(crate) fn parse_version_id(version_id: &str) -> Result<[u8; 16], ObjectError> {
    parse_id(version_id)
        .ok_or_else(|| ObjectError::InvalidArgument("Invalid version id specified".into()))
}

/// Rewrites an existing version record in place (tagging), keeping the latest index in step.
pub(crate) fn rewrite_version(
    txn: &mut Txn<'_>,
    bucket: &str,
    key: &str,
    record: &VersionRecord,
) -> Result<(), ObjectError> {
    txn.put_json(
        tables::VERSIONS,
        version_key(bucket, key, &record.sort_id()?),
        record,
    )?;
    let lk = latest_key(bucket, key);
    if let Some(latest) = txn.get_json::<VersionRecord>(tables::LATEST, &lk)? {
        if latest.sort == record.sort {
            txn.put_json(tables::LATEST, lk, record)?;
        }
    }
    Ok(())
}

/// ListObjectVersions parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListVersions {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

/// One entry of ListObjectVersions: a version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub etag: String,
    pub size: u64,
    pub last_modified: OffsetDateTime,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
}

/// One page of ListObjectVersions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionPage {
    pub versions: Vec<ObjectVersion>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

impl Objects {
    /// ListObjectVersions: keys in order, each key's versions newest first, delete markers
    /// included; `CommonPrefixes` under a delimiter (each skipped with one seek).
    pub fn list_object_versions(
        &self,
        bucket: &str,
        req: &ListVersions,
    ) -> Result<VersionPage, ObjectError> {
        self.head_bucket(bucket)?;
        let id_marker = match (&req.key_marker, &req.version_id_marker) {
            (Some(key), Some(v)) if !v.is_empty() => {
                if v == NULL_VERSION {
                    self.store()
                        .get(tables::NULLS, &key_prefix(bucket, key))?
                        .and_then(|s| <[u8; 16]>::try_from(s.as_slice()).ok())
                } else {
                    Some(parse_version_id(v)?)
                }
            }
            _ => None,
        };
        let scan = scan_composite(
            self.store(),
            &CompositeScan {
                table: tables::VERSIONS,
                bucket,
                prefix: &req.prefix,
                delimiter: req.delimiter.as_deref(),
                key_marker: req.key_marker.as_deref(),
                id_marker,
                max: req.max_keys,
            },
        )?;
        let mut page = VersionPage {
            is_truncated: scan.truncated,
            ..VersionPage::default()
        };
        // Resuming inside a key's versions: the ones that follow are not its latest.
        let mut prev_key = id_marker.and(req.key_marker.clone());
        for item in scan.items {
            match item {
                CompositeItem::Prefix(p) => {
                    page.next_key_marker = Some(p.clone());
                    page.next_version_id_marker = None;
                    page.common_prefixes.push(p);
                }
                CompositeItem::Entry { key, value, .. } => {
                    let rec: VersionRecord = meta::codec::decode_json(&value)?;
                    let is_latest = prev_key.as_deref() != Some(key.as_str());
                    prev_key = Some(key.clone());
                    page.next_key_marker = Some(key.clone());
                    page.next_version_id_marker = Some(rec.version_id());
                    page.versions.push(ObjectVersion {
                        version_id: rec.version_id(),
                        is_latest,
                        is_delete_marker: rec.delete_marker,
                        etag: rec.etag.clone(),
                        size: rec.size,
                        last_modified: from_ms(rec.last_modified_ms),
                        owner: rec.owner.clone(),
                        checksum_algorithm: rec.checksum.as_ref().map(|c| c.algorithm),
                        key,
                    });
                }
            }
        }
        if !page.is_truncated {
            page.next_key_marker = None;
            page.next_version_id_marker = None;
        }
        Ok(page)
    }
}
