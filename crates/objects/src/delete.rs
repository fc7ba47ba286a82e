//! DeleteObject: permanent version removal, delete markers, and the unversioned delete.

use crate::keys::id_text;
use crate::model::{
    now_ms, DeleteOutcome, EncryptionDescriptor, ObjectMetadata, Versioning, WriteConditions,
};
use crate::records::{tables, Body, VersionRecord};
use crate::versions::{commit_version, remove_version, NewVersion};
use crate::{ObjectError, Objects};

impl Objects {
    /// DeleteObject.
    ///
    /// * With `version_id`: removes that version (object or delete marker) permanently; a version
    ///   that does not exist is not an error, as in S3.
    /// * Without, versioning Enabled: adds a delete marker with a fresh version id.
    /// * Without, Suspended: adds a "null" delete marker, replacing any null version.
    /// * Without, Unversioned: removes the object.
    ///
    /// Blobs of removed versions are deleted after the commit.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        owner: &str,
    ) -> Result<DeleteOutcome, ObjectError> {
        crate::validate_key(key)?;
        let (b, k, owner) = (bucket.to_owned(), key.to_owned(), owner.to_owned());
        let version = version_id.map(str::to_owned);
        if let Some(v) = &version {
            if v != crate::NULL_VERSION {
                crate::versions::parse_version_id(v)?;
            }
        }
        let (outcome, blobs) = self
            .store()
            .transact_async(move |txn| {
                if let Some(v) = version {
                    return Ok::<_, ObjectError>(match remove_version(txn, &b, &k, &v)? {
                        Some((rec, blobs)) => (
                            DeleteOutcome {
                                version_id: Some(rec.version_id()),
                                delete_marker: rec.delete_marker,
                            },
                            blobs,
                        ),
                        None => (
                            DeleteOutcome {
                                version_id: Some(v),
                                delete_marker: false,
                            },
                            Vec::new(),
                        ),
                    });
                }
                let bucket = txn
                    .get_json::<crate::Bucket>(tables::BUCKETS, b.as_bytes())?
                    .ok_or(ObjectError::NoSuchBucket)?;
                if bucket.versioning == Versioning::Unversioned {
                    return Ok(match remove_version(txn, &b, &k, crate::NULL_VERSION)? {
                        Some((_, blobs)) => (DeleteOutcome::default(), blobs),
                        None => (DeleteOutcome::default(), Vec::new()),
                    });
                }
                let marker = VersionRecord {
                    sort: String::new(),
                    null: false,
                    delete_marker: true,
                    write_id: id_text(&crate::keys::new_ascending_id()),
                    last_modified_ms: now_ms(),
                    owner,
                    size: 0,
                    etag: String::new(),
                    metadata: ObjectMetadata::default(),
                    descriptor: EncryptionDescriptor::default(),
                    checksum: None,
                    tags: Vec::new(),
                    body: Body::None,
                };
                let (rec, blobs) = commit_version(
                    txn,
                    NewVersion {
                        bucket: b,
                        key: k,
                        record: marker,
                        inline: None,
                        conditions: WriteConditions::default(),
                    },
                )?;
                Ok((
                    DeleteOutcome {
                        version_id: Some(rec.version_id()),
                        delete_marker: true,
                    },
                    blobs,
                ))
            })
            .await?;
        self.delete_blobs(blobs).await;
        Ok(outcome)
    }
}
