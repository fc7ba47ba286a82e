//! Buckets: create, head, delete, list per account; AWS's bucket-name rules.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::{BucketEncryption, CorsRule, OwnershipControls, PublicAccessBlock};
use crate::keys::bucket_prefix;
use crate::model::{from_ms, now_ms, Tag, Versioning};
use crate::records::tables;
use crate::{ObjectError, Objects};

/// A bucket and its configuration, as stored (`s3.buckets`, key = name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    /// The owning account id.
    pub owner: String,
    pub region: String,
    pub created_ms: i64,
    #[serde(default)]
    pub versioning: Versioning,
    #[serde(default)]
    pub encryption: Option<BucketEncryption>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default)]
    pub ownership: Option<OwnershipControls>,
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    #[serde(default)]
    pub tags: Option<Vec<Tag>>,
}

impl Bucket {
    pub fn created(&self) -> OffsetDateTime {
        from_ms(self.created_ms)
    }
}

/// One page of ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPage {
    pub buckets: Vec<Bucket>,
    /// Opaque; pass back to continue.
    pub continuation_token: Option<String>,
}

/// Checks a bucket name against S3's rules for general-purpose buckets.
pub fn validate_bucket_name(name: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| Err(ObjectError::InvalidBucketName(format!("{name}: {why}")));
    if !(3..=63).contains(&name.len()) {
        return bad("bucket names must be between 3 and 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("bucket names may contain only lowercase letters, digits, dots and hyphens");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad("bucket names must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("bucket names must not contain adjacent periods or a period next to a hyphen");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("bucket names must not be formatted as an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return bad("bucket names must not start with a reserved prefix");
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return bad("bucket names must not end with a reserved suffix");
        }
    }
    Ok(())
}

fn account_bucket_key(account: &str, bucket: &str) -> Vec<u8> {
    let mut k = bucket_prefix(account);
    k.extend_from_slice(bucket.as_bytes());
    k
}

impl Objects {
    /// CreateBucket. An existing name is `BucketAlreadyOwnedByYou` for its owner and
    /// `BucketAlreadyExists` for anyone else (names are global to the deployment).
    pub async fn create_bucket(
        &self,
        name: &str,
        owner: &str,
        region: &str,
    ) -> Result<Bucket, ObjectError> {
        validate_bucket_name(name)?;
        let bucket = Bucket {
            name: name.to_owned(),
            owner: owner.to_owned(),
            region: region.to_owned(),
            created_ms: now_ms(),
            versioning: Versioning::Unversioned,
            encryption: None,
            policy: None,
            public_access_block: None,
            ownership: None,
            cors: None,
            tags: None,
        };
        let record = bucket.clone();
        self.store()
            .transact_async(move |txn| {
                if let Some(existing) =
                    txn.get_json::<Bucket>(tables::BUCKETS, record.name.as_bytes())?
                {
                    return Err(if existing.owner == record.owner {
                        ObjectError::BucketAlreadyOwnedByYou
                    } else {
                        ObjectError::BucketAlreadyExists
                    });
                }
                txn.put_json(tables::BUCKETS, record.name.as_bytes(), &record)?;
                txn.put(
                    tables::ACCOUNT_BUCKETS,
                    account_bucket_key(&record.owner, &record.name),
                    Vec::new(),
                );
                Ok(())
            })
            .await?;
        Ok(bucket)
    }

    /// HeadBucket (and the record every bucket-level operation starts from).
    pub fn head_bucket(&self, name: &str) -> Result<Bucket, ObjectError> {
        self.store()
            .get_json::<Bucket>(tables::BUCKETS, name.as_bytes())?
            .ok_or(ObjectError::NoSuchBucket)
    }

    /// DeleteBucket: refused with `BucketNotEmpty` while any version (delete markers included) or
    /// multipart upload exists, checked in the same transaction as the delete.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        let name = name.to_owned();
        self.store()
            .transact_async(move |txn| {
                let bucket = txn
                    .get_json::<Bucket>(tables::BUCKETS, name.as_bytes())?
                    .ok_or(ObjectError::NoSuchBucket)?;
                let prefix = bucket_prefix(&name);
                for table in [tables::VERSIONS, tables::UPLOADS] {
                    if !txn.scan_prefix(table, &prefix, None, 1)?.is_empty() {
                        return Err(ObjectError::BucketNotEmpty);
                    }
                }
                txn.delete(tables::BUCKETS, name.as_bytes());
                txn.delete(
                    tables::ACCOUNT_BUCKETS,
                    account_bucket_key(&bucket.owner, &name),
                );
                Ok(())
            })
            .await
    }

    /// ListBuckets for `owner`, in name order, optionally under `prefix`, `max` per page.
    pub fn list_buckets(
        &self,
        owner: &str,
        prefix: Option<&str>,
        continuation_token: Option<&str>,
        max: usize,
    ) -> Result<BucketPage, ObjectError> {
        let base = bucket_prefix(owner);
        let mut scan_prefix = base.clone();
        scan_prefix.extend_from_slice(prefix.unwrap_or("").as_bytes());
        let after = continuation_token
            .map(crate::keys::decode_token)
            .transpose()?
            .map(|(_, name)| account_bucket_key(owner, &name));
        let max = max.clamp(1, 10_000);
        let rows = self.store().scan_prefix(
            tables::ACCOUNT_BUCKETS,
            &scan_prefix,
            after.as_deref(),
            max + 1,
        )?;
        let more = rows.len() > max;
        let mut buckets = Vec::with_capacity(rows.len().min(max));
        for (k, _) in rows.into_iter().take(max) {
            let name = String::from_utf8_lossy(&k[base.len()..]).into_owned();
            // A bucket deleted between the two reads is simply skipped.
            if let Some(b) = self
                .store()
                .get_json::<Bucket>(tables::BUCKETS, name.as_bytes())?
            {
                buckets.push(b);
            }
        }
        let continuation_token = if more {
            buckets
                .last()
                .map(|b| crate::keys::encode_token(0, &b.name))
        } else {
            None
        };
        Ok(BucketPage {
            buckets,
            continuation_token,
        })
    }

    /// Reads, changes and writes a bucket record in one transaction.
    pub(crate) async fn update_bucket<R: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Bucket) -> Result<R, ObjectError> + Send + 'static,
    ) -> Result<R, ObjectError> {
        let name = name.to_owned();
        self.store()
            .transact_async(move |txn| {
                let mut bucket = txn
                    .get_json::<Bucket>(tables::BUCKETS, name.as_bytes())?
                    .ok_or(ObjectError::NoSuchBucket)?;
                let r = f(&mut bucket)?;
                txn.put_json(tables::BUCKETS, name.as_bytes(), &bucket)?;
                Ok(r)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_rules() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.5.4",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--ol-s3",
            "a_b",
            "abc.mrap",
        ] {
            assert!(
                matches!(
                    validate_bucket_name(bad),
                    Err(ObjectError::InvalidBucketName(_))
                ),
                "{bad}"
            );
        }
    }
}
