//! GetObject / HeadObject: resolving a key (and version) to its record, conditional reads, and
//! decrypting only the segments a range touches.

use bytes::Bytes;

use crate::keys::{latest_key, version_key};
use crate::model::{ByteRange, ObjectInfo, ReadConditions};
use crate::records::{object_aad, part_aad, tables, Body, VersionRecord};
use crate::stream::{ObjectStream, Piece, Source};
use crate::versions::parse_version_id;
use crate::{ObjectError, Objects, NULL_VERSION};

impl Objects {
    /// HeadObject: the current version of `key`, or version `version_id`.
    ///
    /// The latest version being a delete marker is `NoSuchKey` carrying the marker's version id;
    /// asking for a delete marker by id is `MethodNotAllowed`.
    pub fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectInfo, ObjectError> {
        let store = self.store();
        let Some(version_id) = version_id else {
            if let Some(rec) =
                store.get_json::<VersionRecord>(tables::LATEST, &latest_key(bucket, key))?
            {
                return Ok(rec.info(bucket, key, true));
            }
            self.head_bucket(bucket)?;
            let newest = store
                .scan_prefix(
                    tables::VERSIONS,
                    &crate::keys::key_prefix(bucket, key),
                    None,
                    1,
                )?
                .into_iter()
                .next()
                .map(|(_, v)| meta::codec::decode_json::<VersionRecord>(&v))
                .transpose()?;
            return Err(ObjectError::NoSuchKey {
                delete_marker: newest.filter(|r| r.delete_marker).map(|r| r.version_id()),
            });
        };
        let rec = if version_id == NULL_VERSION {
            match store.get(tables::NULLS, &crate::keys::key_prefix(bucket, key))? {
                Some(sort) => {
                    let vkey = [crate::keys::key_prefix(bucket, key), sort].concat();
                    store.get_json::<VersionRecord>(tables::VERSIONS, &vkey)?
                }
                None => None,
            }
        } else {
            let sort = parse_version_id(version_id)?;
            store.get_json::<VersionRecord>(tables::VERSIONS, &version_key(bucket, key, &sort))?
        };
        let Some(rec) = rec else {
            self.head_bucket(bucket)?;
            return Err(ObjectError::NoSuchVersion);
        };
        if rec.delete_marker {
            return Err(ObjectError::MethodNotAllowed {
                delete_marker: true,
            });
        }
        let latest = store.get_json::<VersionRecord>(tables::LATEST, &latest_key(bucket, key))?;
        let is_latest = latest.is_some_and(|l| l.sort == rec.sort);
        Ok(rec.info(bucket, key, is_latest))
    }

    /// Streams the plaintext of `info` (from [`Objects::head_object`]) under `data_key`, whole or
    /// the inclusive byte range `range` already resolved (see [`ByteRange::resolve`]). Only the
    /// envelope segments the range touches are read and decrypted.
    pub async fn read_object(
        &self,
        info: &ObjectInfo,
        data_key: &[u8; 32],
        range: Option<(u64, u64)>,
    ) -> Result<ObjectStream, ObjectError> {
        let rec = &info.record;
        if let Some((a, b)) = range {
            if a > b || b >= info.size {
                return Err(ObjectError::InvalidRange { size: info.size });
            }
        }
        let content_length = match range {
            Some((a, b)) => b - a + 1,
            None => info.size,
        };
        let pieces = match &rec.body {
            Body::None => {
                return Err(ObjectError::MethodNotAllowed {
                    delete_marker: true,
                })
            }
            Body::Inline { cipher_len } => {
                let vkey = version_key(&info.bucket, &info.key, &rec.sort_id()?);
                let bytes = self.store().get(tables::BODIES, &vkey)?.ok_or_else(|| {
                    // The version was replaced between HEAD and this read.
                    ObjectError::NoSuchKey {
                        delete_marker: None,
                    }
                })?;
                vec![Piece {
                    source: Source::Inline(Bytes::from(bytes)),
                    cipher_len: *cipher_len,
                    plain_len: rec.size,
                    aad: object_aad(&info.bucket, &info.key, &rec.write_id),
                    range: range.filter(|_| rec.size > 0),
                }]
            }
            Body::Blob { blob, cipher_len } => vec![Piece {
                source: Source::Blob(parse_blob(blob)?),
                cipher_len: *cipher_len,
                plain_len: rec.size,
                aad: object_aad(&info.bucket, &info.key, &rec.write_id),
                range,
            }],
            Body::Parts { upload_id, parts } => {
                let (lo, hi) = range.unwrap_or((0, info.size.saturating_sub(1)));
                let mut pieces = Vec::new();
                let mut start = 0u64;
                for p in parts {
                    let end = start + p.size; // exclusive
                    if p.size > 0 && end > lo && start <= hi && info.size > 0 {
                        let a = lo.max(start) - start;
                        let b = hi.min(end - 1) - start;
                        pieces.push(Piece {
                            source: Source::Blob(parse_blob(&p.blob)?),
                            cipher_len: p.cipher_len,
                            plain_len: p.size,
                            aad: part_aad(
                                &info.bucket,
                                &info.key,
                                upload_id,
                                p.number,
                                &p.write_id,
                            ),
                            range: if a == 0 && b == p.size - 1 {
                                None
                            } else {
                                Some((a, b))
                            },
                        });
                    }
                    start = end;
                }
                pieces
            }
        };
        self.decrypt_stream(data_key, pieces, content_length, range)
            .await
    }

    /// GetObject in one call: resolve, evaluate `conditions`, resolve `range`, open the body.
    /// If the version is replaced between resolving and opening, resolves again (once).
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: &ReadConditions,
        range: Option<ByteRange>,
        data_key: impl Fn(&ObjectInfo) -> Result<zeroize::Zeroizing<[u8; 32]>, ObjectError>,
    ) -> Result<(ObjectInfo, ObjectStream), ObjectError> {
        let mut attempt = 0;
        loop {
            let info = self.head_object(bucket, key, version_id)?;
            conditions.check(&info)?;
            let resolved = range.map(|r| r.resolve(info.size)).transpose()?;
            let dk = data_key(&info)?;
            match self.read_object(&info, &dk, resolved).await {
                Err(ObjectError::NoSuchKey { .. } | ObjectError::Corrupt(_))
                    if attempt == 0 && version_id.is_none() && self.replaced(&info)? =>
                {
                    attempt += 1;
                }
                other => return other.map(|s| (info, s)),
            }
        }
    }

    /// Whether the version `info` describes is no longer the key's latest.
    fn replaced(&self, info: &ObjectInfo) -> Result<bool, ObjectError> {
        let latest = self
            .store()
            .get_json::<VersionRecord>(tables::LATEST, &latest_key(&info.bucket, &info.key))?;
        Ok(latest.is_none_or(|l| l.sort != info.record.sort))
    }
}

pub(crate) fn parse_blob(text: &str) -> Result<blob::BlobId, ObjectError> {
    text.parse()
        .map_err(|_| ObjectError::Corrupt("record names an invalid blob id".into()))
}
