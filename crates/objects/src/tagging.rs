//! Object tagging: put/get/delete the tag set of one version, and S3's tag limits.

use std::collections::BTreeSet;

use crate::keys::latest_key;
use crate::model::Tag;
use crate::records::{tables, VersionRecord};
use crate::versions::{lookup_version, rewrite_version};
use crate::{ObjectError, Objects};

/// Most tags per object.
pub const MAX_TAGS: usize = 10;

/// Checks S3's limits: at most 10 tags, keys 1..=128 and values ≤ 256 characters, keys unique.
pub(crate) fn validate_tags(tags: &[Tag]) -> Result<(), ObjectError> {
    if tags.len() > MAX_TAGS {
        return Err(ObjectError::InvalidTag(
            "Object tags cannot be greater than 10".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for t in tags {
        let klen = t.key.chars().count();
        if klen == 0 || klen > 128 {
            return Err(ObjectError::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if t.value.chars().count() > 256 {
            return Err(ObjectError::InvalidTag(
                "The TagValue you have provided is invalid".into(),
            ));
        }
        if !seen.insert(t.key.as_str()) {
            return Err(ObjectError::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

/// The version a tagging call addresses: by id, or the current one.
fn target(
    txn: &meta::Txn<'_>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<VersionRecord, ObjectError> {
    if txn.get(tables::BUCKETS, bucket.as_bytes())?.is_none() {
        return Err(ObjectError::NoSuchBucket);
    }
    let rec = match version_id {
        Some(v) => lookup_version(txn, bucket, key, v)?.ok_or(ObjectError::NoSuchVersion)?,
        None => txn
            .get_json::<VersionRecord>(tables::LATEST, &latest_key(bucket, key))?
            .ok_or(ObjectError::NoSuchKey {
                delete_marker: None,
            })?,
    };
    if rec.delete_marker {
        return Err(ObjectError::MethodNotAllowed {
            delete_marker: true,
        });
    }
    Ok(rec)
}

impl Objects {
    /// PutObjectTagging: replaces the version's tag set; returns the version id.
    pub async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String, ObjectError> {
        validate_tags(&tags)?;
        self.retag(bucket, key, version_id, Some(tags)).await
    }

    /// DeleteObjectTagging: removes the version's tags; returns the version id.
    pub async fn delete_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<String, ObjectError> {
        self.retag(bucket, key, version_id, None).await
    }

    /// GetObjectTagging: the version id and its tags (possibly empty).
    pub fn object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(String, Vec<Tag>), ObjectError> {
        let info = self.head_object(bucket, key, version_id)?;
        Ok((info.version_id.clone(), info.record.tags))
    }

    async fn retag(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Option<Vec<Tag>>,
    ) -> Result<String, ObjectError> {
        let (b, k, v) = (
            bucket.to_owned(),
            key.to_owned(),
            version_id.map(str::to_owned),
        );
        self.store()
            .transact_async(move |txn| {
                let mut rec = target(txn, &b, &k, v.as_deref())?;
                rec.tags = tags.unwrap_or_default();
                rewrite_version(txn, &b, &k, &rec)?;
                Ok(rec.version_id())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_limits() {
        assert!(validate_tags(&[Tag::new("a", "b")]).is_ok());
        assert!(validate_tags(&[Tag::new("k".repeat(128), "v".repeat(256))]).is_ok());
        let too_many: Vec<_> = (0..11).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        for bad in [
            too_many,
            vec![Tag::new("", "v")],
            vec![Tag::new("k".repeat(129), "v")],
            vec![Tag::new("k", "v".repeat(257))],
            vec![Tag::new("k", "1"), Tag::new("k", "2")],
        ] {
            assert!(matches!(
                validate_tags(&bad),
                Err(ObjectError::InvalidTag(_))
            ));
        }
    }
}
