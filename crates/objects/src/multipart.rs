//! Multipart uploads: create, upload part (each part its own envelope and blob), complete
//! (validated part list, S3's multipart ETag and checksums, one commit), abort, and listings.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_core::Stream;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::checksum::{b64, b64_decode, combine_crc, composite, md5};
use crate::conditions::etag_matches;
use crate::keys::{id_text, key_prefix, new_ascending_id, parse_id};
use crate::list::{scan_composite, CompositeItem, CompositeScan};
use crate::model::{
    from_ms, now_ms, Checksum, ChecksumAlgorithm, ChecksumType, EncryptionDescriptor,
    ObjectMetadata, PutOutcome, Tag, WriteConditions,
};
use crate::put::{checksum_plan, LateChecksum};
use crate::records::{part_aad, tables, Body, PartRecord, PartRef, UploadRecord, VersionRecord};
use crate::seal::{SealSpec, SealedBody};
use crate::versions::{commit_version, NewVersion};
use crate::{validate_key, validate_metadata, ObjectError, Objects, MAX_PART_NUMBER};

/// CreateMultipartUpload. The encryption descriptor is fixed here for every part.
#[derive(Debug, Clone)]
pub struct CreateMultipartUpload {
    pub bucket: String,
    pub key: String,
    pub owner: String,
    pub metadata: ObjectMetadata,
    pub descriptor: EncryptionDescriptor,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `x-amz-checksum-type`; defaults to COMPOSITE for SHA and CRC32/CRC32C, FULL_OBJECT for
    /// CRC64NVME (which has no composite form).
    pub checksum_type: Option<ChecksumType>,
    pub tags: Vec<Tag>,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated: OffsetDateTime,
    pub owner: String,
    pub metadata: ObjectMetadata,
    pub descriptor: EncryptionDescriptor,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    pub tags: Vec<Tag>,
}

/// UploadPart (and UploadPartCopy, whose body is the copy source's plaintext stream).
#[derive(Debug)]
pub struct UploadPart {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number: u32,
    /// The upload's data key, unwrapped by the caller from [`UploadInfo::descriptor`].
    pub data_key: Zeroizing<[u8; 32]>,
    pub content_length: Option<u64>,
    pub content_md5: Option<String>,
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
    /// A checksum declared as a trailer, verified once the body ended.
    pub late_checksum: Option<LateChecksum>,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    /// Hex MD5, without quotes.
    pub etag: String,
    pub size: u64,
    pub last_modified: OffsetDateTime,
    /// Base64 checksum in the upload's algorithm.
    pub checksum: Option<String>,
}

/// One entry of CompleteMultipartUpload's part list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    pub part_number: u32,
    /// With or without quotes.
    pub etag: String,
    /// The part's checksum as the client sent it, if any.
    pub checksum: Option<String>,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartPage {
    pub parts: Vec<PartInfo>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// ListMultipartUploads parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploads {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadPage {
    pub uploads: Vec<UploadInfo>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

fn upload_key(bucket: &str, key: &str, upload: &[u8; 16]) -> Vec<u8> {
    [key_prefix(bucket, key), upload.to_vec()].concat()
}

fn part_key(upload: &[u8; 16], number: u32) -> Vec<u8> {
    [&upload[..], &number.to_be_bytes()[..]].concat()
}

fn parse_upload(upload_id: &str) -> Result<[u8; 16], ObjectError> {
    parse_id(upload_id).ok_or(ObjectError::NoSuchUpload)
}

fn load_upload(
    txn: &meta::Txn<'_>,
    bucket: &str,
    key: &str,
    upload: &[u8; 16],
) -> Result<UploadRecord, ObjectError> {
    if txn.get(tables::BUCKETS, bucket.as_bytes())?.is_none() {
        return Err(ObjectError::NoSuchBucket);
    }
    txn.get_json::<UploadRecord>(tables::UPLOADS, &upload_key(bucket, key, upload))?
        .ok_or(ObjectError::NoSuchUpload)
}

/// Every part record of an upload.
fn all_parts(txn: &meta::Txn<'_>, upload: &[u8; 16]) -> Result<Vec<PartRecord>, ObjectError> {
    txn.scan(tables::PARTS, meta::Range::prefix(upload))?
        .into_iter()
        .map(|(_, v)| meta::codec::decode_json(&v).map_err(ObjectError::from))
        .collect()
}

fn upload_info(rec: UploadRecord) -> UploadInfo {
    UploadInfo {
        upload_id: rec.upload_id,
        key: rec.key,
        initiated: from_ms(rec.initiated_ms),
        owner: rec.owner,
        metadata: rec.metadata,
        descriptor: rec.descriptor,
        checksum_algorithm: rec.checksum_algorithm,
        checksum_type: rec.checksum_type,
        tags: rec.tags,
    }
}

fn part_info(p: &PartRecord) -> PartInfo {
    PartInfo {
        part_number: p.number,
        etag: p.etag.clone(),
        size: p.size,
        last_modified: from_ms(p.last_modified_ms),
        checksum: p.checksum.clone(),
    }
}

impl Objects {
    /// CreateMultipartUpload: returns the upload id.
    pub async fn create_multipart_upload(
        &self,
        req: CreateMultipartUpload,
    ) -> Result<UploadInfo, ObjectError> {
        validate_key(&req.key)?;
        validate_metadata(&req.metadata)?;
        crate::tagging::validate_tags(&req.tags)?;
        let checksum_type = match (req.checksum_algorithm, req.checksum_type) {
            (None, t) => t,
            (Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumType::Composite)) => {
                return Err(ObjectError::InvalidRequest(
                    "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.".into(),
                ))
            }
            (Some(a), Some(ChecksumType::FullObject)) if !a.is_crc() => {
                return Err(ObjectError::InvalidRequest(format!(
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.as_str().to_ascii_lowercase()
                )))
            }
            (Some(ChecksumAlgorithm::Crc64Nvme), None) => Some(ChecksumType::FullObject),
            (Some(_), None) => Some(ChecksumType::Composite),
            (Some(_), t) => t,
        };
        let upload = new_ascending_id();
        let record = UploadRecord {
            upload_id: id_text(&upload),
            key: req.key.clone(),
            initiated_ms: now_ms(),
            owner: req.owner,
            metadata: req.metadata,
            descriptor: req.descriptor,
            checksum_algorithm: req.checksum_algorithm,
            checksum_type,
            tags: req.tags,
        };
        let stored = record.clone();
        let (bucket, key) = (req.bucket, req.key);
        self.store()
            .transact_async(move |txn| {
                if txn.get(tables::BUCKETS, bucket.as_bytes())?.is_none() {
                    return Err(ObjectError::NoSuchBucket);
                }
                txn.put_json(tables::UPLOADS, upload_key(&bucket, &key, &upload), &stored)?;
                Ok(())
            })
            .await?;
        Ok(upload_info(record))
    }

    /// The upload `upload_id` of `bucket/key` (its descriptor tells the caller how to unwrap the
    /// data key for [`Objects::upload_part`]).
    pub fn multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, ObjectError> {
        self.head_bucket(bucket)?;
        let upload = parse_upload(upload_id)?;
        self.store()
            .get_json::<UploadRecord>(tables::UPLOADS, &upload_key(bucket, key, &upload))?
            .map(upload_info)
            .ok_or(ObjectError::NoSuchUpload)
    }

    /// UploadPart / UploadPartCopy: seals `body` as its own envelope in its own blob, verifies
    /// digests, and records it (replacing an earlier upload of the same part number).
    pub async fn upload_part<S, E>(&self, req: UploadPart, body: S) -> Result<PartInfo, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !(1..=MAX_PART_NUMBER).contains(&req.part_number) {
            return Err(ObjectError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let info = self.multipart_upload(&req.bucket, &req.key, &req.upload_id)?;
        let upload = parse_upload(&req.upload_id)?;
        let (algorithm, checks) = checksum_plan(
            info.checksum_algorithm,
            &req.checksums,
            req.late_checksum.as_ref(),
        )?;
        let write_id = id_text(&new_ascending_id());
        let sealed = self
            .seal(
                body,
                SealSpec {
                    data_key: &req.data_key,
                    aad: part_aad(
                        &req.bucket,
                        &req.key,
                        &req.upload_id,
                        req.part_number,
                        &write_id,
                    ),
                    declared_len: req.content_length,
                    content_md5: req.content_md5.as_deref(),
                    checksums: checks,
                    late_checksum: req.late_checksum,
                    allow_inline: false,
                },
            )
            .await?;
        let SealedBody::Blob { id, cipher_len } = sealed.body else {
            return Err(ObjectError::Internal(
                "part was not sealed into a blob".into(),
            ));
        };
        let record = PartRecord {
            number: req.part_number,
            size: sealed.size,
            cipher_len,
            blob: id.to_hex(),
            write_id,
            etag: hex::encode(sealed.md5),
            last_modified_ms: now_ms(),
            checksum: sealed.checksums.get(&algorithm).map(|c| b64(c)),
        };
        let stored = record.clone();
        let (bucket, key) = (req.bucket, req.key);
        let committed = self
            .store()
            .transact_async(move |txn| {
                load_upload(txn, &bucket, &key, &upload)?;
                let pk = part_key(&upload, stored.number);
                let old = txn.get_json::<PartRecord>(tables::PARTS, &pk)?;
                txn.put_json(tables::PARTS, pk, &stored)?;
                Ok(old.map(|o| o.blob))
            })
            .await;
        match committed {
            Ok(old) => {
                self.delete_blobs(old.into_iter().collect()).await;
                Ok(part_info(&record))
            }
            Err(e) => {
                self.delete_blobs(vec![record.blob]).await;
                Err(e)
            }
        }
    }

    /// CompleteMultipartUpload: validates `parts` (ascending, each uploaded with that ETag, all
    /// but the last at least the minimum part size), then in one transaction makes the object
    /// visible (evaluating `conditions`), removes the upload, and unlinks unused parts.
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        conditions: WriteConditions,
    ) -> Result<PutOutcome, ObjectError> {
        let upload = parse_upload(upload_id)?;
        if parts.is_empty() {
            return Err(ObjectError::InvalidRequest(
                "You must specify at least one part".into(),
            ));
        }
        if parts
            .windows(2)
            .any(|w| w[0].part_number >= w[1].part_number)
        {
            return Err(ObjectError::InvalidPartOrder);
        }
        let min_part = self.config().min_part_size;
        let (b, k, uid) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        let (record, unlinked) = self
            .store()
            .transact_async(move |txn| {
                let up = load_upload(txn, &b, &k, &upload)?;
                let stored: BTreeMap<u32, PartRecord> = all_parts(txn, &upload)?
                    .into_iter()
                    .map(|p| (p.number, p))
                    .collect();
                let mut chosen = Vec::with_capacity(parts.len());
                for (i, want) in parts.iter().enumerate() {
                    let p = stored
                        .get(&want.part_number)
                        .ok_or(ObjectError::InvalidPart)?;
                    if !etag_matches(&want.etag, &p.etag) || want.etag.trim() == "*" {
                        return Err(ObjectError::InvalidPart);
                    }
                    if want
                        .checksum
                        .as_ref()
                        .is_some_and(|c| Some(c.trim()) != p.checksum.as_deref())
                    {
                        return Err(ObjectError::InvalidPart);
                    }
                    if i + 1 < parts.len() && p.size < min_part {
                        return Err(ObjectError::EntityTooSmall);
                    }
                    chosen.push(p.clone());
                }
                let checksum = multipart_checksum(&up, &chosen);
                let mut md5s = Vec::with_capacity(16 * chosen.len());
                for p in &chosen {
                    md5s.extend_from_slice(
                        &hex::decode(&p.etag)
                            .map_err(|_| ObjectError::Internal("bad part etag".into()))?,
                    );
                }
                let record = VersionRecord {
                    sort: String::new(),
                    null: false,
                    delete_marker: false,
                    write_id: id_text(&new_ascending_id()),
                    last_modified_ms: now_ms(),
                    owner: up.owner.clone(),
                    size: chosen.iter().map(|p| p.size).sum(),
                    etag: format!("{}-{}", hex::encode(md5(&md5s)), chosen.len()),
                    metadata: up.metadata.clone(),
                    descriptor: up.descriptor.clone(),
                    checksum,
                    tags: up.tags.clone(),
                    body: Body::Parts {
                        upload_id: uid,
                        parts: chosen
                            .iter()
                            .map(|p| PartRef {
                                number: p.number,
                                size: p.size,
                                cipher_len: p.cipher_len,
                                blob: p.blob.clone(),
                                write_id: p.write_id.clone(),
                                etag: p.etag.clone(),
                                checksum: p.checksum.clone(),
                            })
                            .collect(),
                    },
                };
                let (record, mut unlinked) = commit_version(
                    txn,
                    NewVersion {
                        bucket: b.clone(),
                        key: k.clone(),
                        record,
                        inline: None,
                        conditions,
                    },
                )?;
                txn.delete(tables::UPLOADS, upload_key(&b, &k, &upload));
                for (n, p) in &stored {
                    txn.delete(tables::PARTS, part_key(&upload, *n));
                    if !parts.iter().any(|c| c.part_number == *n) {
                        unlinked.push(p.blob.clone());
                    }
                }
                Ok((record, unlinked))
            })
            .await?;
        self.delete_blobs(unlinked).await;
        Ok(PutOutcome {
            version_id: record.version_id(),
            etag: record.etag,
            size: record.size,
            checksum: record.checksum,
            last_modified: from_ms(record.last_modified_ms),
        })
    }

    /// AbortMultipartUpload: removes the upload and its parts, then deletes the part blobs.
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), ObjectError> {
        let upload = parse_upload(upload_id)?;
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let blobs = self
            .store()
            .transact_async(move |txn| {
                load_upload(txn, &b, &k, &upload)?;
                txn.delete(tables::UPLOADS, upload_key(&b, &k, &upload));
                let parts = all_parts(txn, &upload)?;
                for p in &parts {
                    txn.delete(tables::PARTS, part_key(&upload, p.number));
                }
                Ok::<_, ObjectError>(parts.into_iter().map(|p| p.blob).collect::<Vec<_>>())
            })
            .await?;
        self.delete_blobs(blobs).await;
        Ok(())
    }

    /// ListParts: parts after `part_number_marker`, at most `max_parts` (≤ 1000).
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: Option<u32>,
        max_parts: usize,
    ) -> Result<PartPage, ObjectError> {
        self.multipart_upload(bucket, key, upload_id)?;
        let upload = parse_upload(upload_id)?;
        let max = max_parts.min(1000);
        let after = part_number_marker.map(|n| part_key(&upload, n));
        let rows = self
            .store()
            .scan_prefix(tables::PARTS, &upload, after.as_deref(), max + 1)?;
        let is_truncated = rows.len() > max;
        let parts = rows
            .into_iter()
            .take(max)
            .map(|(_, v)| meta::codec::decode_json::<PartRecord>(&v).map(|p| part_info(&p)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PartPage {
            next_part_number_marker: if is_truncated {
                parts.last().map(|p| p.part_number)
            } else {
                None
            },
            parts,
            is_truncated,
        })
    }

    /// ListMultipartUploads: uploads in key order, then initiation order, with common prefixes.
    pub fn list_multipart_uploads(
        &self,
        bucket: &str,
        req: &ListUploads,
    ) -> Result<UploadPage, ObjectError> {
        self.head_bucket(bucket)?;
        let id_marker = match (&req.key_marker, &req.upload_id_marker) {
            (Some(_), Some(u)) if !u.is_empty() => parse_id(u),
            _ => None,
        };
        let scan = scan_composite(
            self.store(),
            &CompositeScan {
                table: tables::UPLOADS,
                bucket,
                prefix: &req.prefix,
                delimiter: req.delimiter.as_deref(),
                key_marker: req.key_marker.as_deref(),
                id_marker,
                max: req.max_uploads,
            },
        )?;
        let mut page = UploadPage {
            is_truncated: scan.truncated,
            ..UploadPage::default()
        };
        for item in scan.items {
            match item {
                CompositeItem::Prefix(p) => {
                    page.next_key_marker = Some(p.clone());
                    page.next_upload_id_marker = None;
                    page.common_prefixes.push(p);
                }
                CompositeItem::Entry { value, .. } => {
                    let info = upload_info(meta::codec::decode_json(&value)?);
                    page.next_key_marker = Some(info.key.clone());
                    page.next_upload_id_marker = Some(info.upload_id.clone());
                    page.uploads.push(info);
                }
            }
        }
        if !page.is_truncated {
            page.next_key_marker = None;
            page.next_upload_id_marker = None;
        }
        Ok(page)
    }
}

/// The object checksum of a completed upload: composite (checksum of the part checksums, "-N")
/// or full-object (CRC combination), per the upload's checksum type.
fn multipart_checksum(up: &UploadRecord, parts: &[PartRecord]) -> Option<Checksum> {
    let algorithm = up
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let kind = up.checksum_type.unwrap_or(ChecksumType::FullObject);
    let raw: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| p.checksum.as_deref().and_then(b64_decode))
        .collect::<Option<_>>()?;
    let value = match kind {
        ChecksumType::Composite => format!("{}-{}", b64(&composite(algorithm, &raw)), parts.len()),
        ChecksumType::FullObject => {
            let with_len: Vec<(Vec<u8>, u64)> =
                raw.into_iter().zip(parts.iter().map(|p| p.size)).collect();
            b64(&combine_crc(algorithm, &with_len)?)
        }
    };
    Some(Checksum {
        algorithm,
        value,
        kind,
    })
}
