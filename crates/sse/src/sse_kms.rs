//! SSE-KMS, with and without S3 Bucket Keys. Every KMS request goes through [`KmsClient`] on the requesting
//! principal's behalf, so key policies, grants and `kms:ViaService` decide, and CloudTrail records it.
//!
//! Cached bucket keys are reused only after a local check of the KMS key's state (and, for writes, its current
//! material): a disabled, deleted or rotated key is noticed on the next request, not at the end of the TTL.

use std::collections::BTreeMap;

use api::{ApiError, RequestContext};
use kms_api::DataKeySpec;
use objects::Encryption;
use s3_api::{ObjectIdentity, PutKey, ReadKey, SseResponse};
use zeroize::Zeroizing;

use crate::cache::{CachedKey, GetSlot, PutSlot, Requester};
use crate::descriptor::{
    b64, unb64, unb64_32, BucketKeyRef, Descriptor, KmsManaged, DESCRIPTOR_VERSION,
};
use crate::request::encode_context;
use crate::{errors, KeyManager};

/// The encryption-context key S3 binds every KMS ciphertext to.
const S3_ARN: &str = "aws:s3:arn";
/// The alias of the AWS-managed key S3 uses when no other key is named.
const AWS_S3_ALIAS: &str = "alias/aws/s3";

pub(crate) fn response(key_arn: &str, bucket_key: bool, context: Option<String>) -> SseResponse {
    SseResponse {
        algorithm: Some("aws:kms".into()),
        kms_key_id: Some(key_arn.to_owned()),
        kms_context: context,
        bucket_key_enabled: bucket_key.then_some(true),
        ..SseResponse::default()
    }
}

fn bucket_arn(object: &ObjectIdentity) -> String {
    format!("arn:aws:s3:::{}", object.bucket)
}

/// The (account, region) a KMS key ARN names.
fn key_namespace(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kms", region, account, resource] if resource.starts_with("key/") => {
            Some((account, region))
        }
        _ => None,
    }
}

fn to_key(plaintext: &[u8]) -> Result<Zeroizing<[u8; 32]>, ApiError> {
    let mut k = Zeroizing::new([0u8; 32]);
    if plaintext.len() != 32 {
        return Err(ApiError::internal(
            "KMS returned a data key of the wrong length",
        ));
    }
    k.copy_from_slice(plaintext);
    Ok(k)
}

fn canonical(context: &BTreeMap<String, String>) -> String {
    serde_json::to_string(context).expect("a string map always serializes")
}

impl KeyManager {
    pub(crate) async fn put_kms(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        key_ref: Option<String>,
        user_context: Option<BTreeMap<String, String>>,
        bucket_key: bool,
    ) -> Result<PutKey, ApiError> {
        let key_ref = match key_ref {
            Some(k) if k != AWS_S3_ALIAS => k,
            _ => self.aws_managed_key(ctx, object).await?,
        };
        let binding = if bucket_key {
            bucket_arn(object)
        } else {
            object.object_arn()
        };
        let given = user_context.is_some();
        let mut context = user_context.unwrap_or_default();
        if context.get(S3_ARN).is_some_and(|v| *v != binding) {
            return Err(errors::reserved_context_key());
        }
        context.insert(S3_ARN.to_owned(), binding);
        let response_context = given.then(|| encode_context(&context));

        let (data_key, descriptor) = if bucket_key {
            let bk = self
                .bucket_key_for_put(ctx, object, &key_ref, &context)
                .await?;
            let salt = crypto::random_array::<32>();
            let data_key =
                envelope::derive_object_key(&bk.plaintext, &salt, object.object_arn().as_bytes());
            let d = KmsManaged {
                v: DESCRIPTOR_VERSION,
                key_arn: bk.key_arn.clone(),
                ciphertext: b64(&bk.ciphertext),
                context,
                bucket_key: Some(BucketKeyRef { salt: b64(&salt) }),
            };
            (data_key, d)
        } else {
            let dk = self.generate(ctx, &key_ref, &context).await?;
            let d = KmsManaged {
                v: DESCRIPTOR_VERSION,
                key_arn: dk.key_arn.clone(),
                ciphertext: b64(&dk.ciphertext),
                context,
                bucket_key: None,
            };
            (to_key(&dk.plaintext)?, d)
        };
        let response = response(&descriptor.key_arn, bucket_key, response_context);
        Ok(PutKey {
            encryption: Encryption {
                data_key,
                descriptor: Descriptor::Kms(descriptor).to_stored()?,
            },
            response,
        })
    }

    pub(crate) async fn get_kms(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        d: &KmsManaged,
    ) -> Result<ReadKey, ApiError> {
        let expected = if d.bucket_key.is_some() {
            bucket_arn(object)
        } else {
            object.object_arn()
        };
        if d.context.get(S3_ARN) != Some(&expected) {
            return Err(errors::damaged("the KMS context names another object"));
        }
        let ciphertext = unb64(&d.ciphertext, "ciphertext")?;
        let data_key = match &d.bucket_key {
            None => self.decrypt(ctx, &ciphertext, d).await?,
            Some(bk) => {
                let salt = unb64_32(&bk.salt, "bucket key salt")?;
                let bucket_key = self.bucket_key_for_get(ctx, &ciphertext, d).await?;
                envelope::derive_object_key(
                    &bucket_key.plaintext,
                    &salt,
                    object.object_arn().as_bytes(),
                )
            }
        };
        Ok(ReadKey {
            data_key,
            response: response(&d.key_arn, d.bucket_key.is_some(), None),
        })
    }

    /// The ARN of the AWS-managed `aws/s3` key of the requester's account (the bucket owner's for anonymous
    /// requests), created on first use as AWS does.
    async fn aws_managed_key(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
    ) -> Result<String, ApiError> {
        let account = if ctx.caller.account.is_empty() {
            &object.bucket_owner
        } else {
            &ctx.caller.account
        };
        let key = self
            .inner
            .kms
            .aws_managed_key(account, &object.region, "s3")
            .await
            .map_err(ApiError::internal)?;
        Ok(key.key.arn.clone())
    }

    /// A bucket key for a write: the cached one for this (bucket, key, context, requester) if it is fresh and
    /// its KMS key is still enabled and unrotated, else a new one from KMS.
    async fn bucket_key_for_put(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        key_ref: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<std::sync::Arc<CachedKey>, ApiError> {
        let slot = PutSlot {
            bucket: object.bucket.clone(),
            key_ref: key_ref.to_owned(),
            context: canonical(context),
            requester: Requester::of(ctx),
        };
        if let Some(e) = self.usable_put(&slot) {
            return Ok(e);
        }
        let _filling = self.inner.put_cache.fill_guard(&slot).await;
        if let Some(e) = self.usable_put(&slot) {
            return Ok(e);
        }
        let dk = self.generate(ctx, key_ref, context).await?;
        let entry = CachedKey::new(
            to_key(&dk.plaintext)?,
            dk.key_arn.clone(),
            dk.ciphertext.clone(),
            dk.key_material_id.clone(),
        );
        Ok(self.inner.put_cache.insert(slot, entry))
    }

    /// An unwrapped bucket key for a read: cached per (ciphertext and context, requester), so every principal
    /// and source is authorized by KMS at least once per cache period.
    async fn bucket_key_for_get(
        &self,
        ctx: &RequestContext,
        ciphertext: &[u8],
        d: &KmsManaged,
    ) -> Result<std::sync::Arc<CachedKey>, ApiError> {
        let mut material = ciphertext.to_vec();
        material.push(0);
        material.extend_from_slice(canonical(&d.context).as_bytes());
        let slot = GetSlot {
            digest: crypto::sha256(&material),
            requester: Requester::of(ctx),
        };
        if let Some(e) = self.usable_get(&slot) {
            return Ok(e);
        }
        let _filling = self.inner.get_cache.fill_guard(&slot).await;
        if let Some(e) = self.usable_get(&slot) {
            return Ok(e);
        }
        let plaintext = self.decrypt(ctx, ciphertext, d).await?;
        let entry = CachedKey::new(plaintext, d.key_arn.clone(), Vec::new(), None);
        Ok(self.inner.get_cache.insert(slot, entry))
    }

    /// The cached write key of `slot`, if its KMS key is still enabled at the same material; else none (and the
    /// stale entry is dropped).
    fn usable_put(&self, slot: &PutSlot) -> Option<std::sync::Arc<CachedKey>> {
        let e = self.inner.put_cache.get(slot)?;
        if self.still_usable(&e.key_arn, e.material_id.as_deref()) {
            return Some(e);
        }
        self.inner.put_cache.remove(slot);
        None
    }

    /// The cached read key of `slot`, if its KMS key is still enabled; else none (and the stale entry is dropped).
    fn usable_get(&self, slot: &GetSlot) -> Option<std::sync::Arc<CachedKey>> {
        let e = self.inner.get_cache.get(slot)?;
        if self.still_usable(&e.key_arn, None) {
            return Some(e);
        }
        self.inner.get_cache.remove(slot);
        None
    }

    /// Whether a cached key's KMS key is still enabled (and, when `material` is given, still at that material).
    /// A local read of the KMS engine's metadata, not a KMS request. When the key is no longer usable, every
    /// cached key under it is dropped.
    fn still_usable(&self, key_arn: &str, material: Option<&str>) -> bool {
        let Some((account, region)) = key_namespace(key_arn) else {
            return false;
        };
        match self.inner.kms.resolve(account, region, key_arn) {
            Ok(k) if k.key.state == kms::KeyState::Enabled => {
                material.is_none_or(|m| m == k.current_material_id())
            }
            _ => {
                self.evict_key(key_arn);
                false
            }
        }
    }

    /// Drops every cached bucket key under the KMS key `key_ref` (an ARN, or the reference writes named it by).
    fn evict_key(&self, key_ref: &str) {
        let n = self.inner.put_cache.evict_key(key_ref) + self.inner.get_cache.evict_key(key_ref);
        self.inner.put_cache.evict_where(|s| s.key_ref == key_ref);
        if n > 0 {
            tracing::info!(
                key = key_ref,
                dropped = n,
                "dropped cached S3 Bucket Keys of an unusable KMS key"
            );
        }
    }

    /// GenerateDataKey on the requester's behalf.
    async fn generate(
        &self,
        ctx: &RequestContext,
        key_ref: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<kms_api::DataKey, ApiError> {
        self.count_call();
        self.inner
            .client
            .generate_data_key(ctx, key_ref, context, DataKeySpec::Aes256)
            .await
            .map_err(|e| {
                if errors::is_key_unusable(&e) {
                    self.evict_key(key_ref);
                }
                errors::from_kms(e)
            })
    }

    /// Decrypt on the requester's behalf; the answer must come from the key the descriptor names.
    async fn decrypt(
        &self,
        ctx: &RequestContext,
        ciphertext: &[u8],
        d: &KmsManaged,
    ) -> Result<Zeroizing<[u8; 32]>, ApiError> {
        self.count_call();
        let out = self
            .inner
            .client
            .decrypt(ctx, ciphertext, &d.context)
            .await
            .map_err(|e| {
                if errors::is_key_unusable(&e) {
                    self.evict_key(&d.key_arn);
                }
                errors::from_kms(e)
            })?;
        if out.key_arn != d.key_arn {
            return Err(errors::damaged("the KMS ciphertext belongs to another key"));
        }
        to_key(&out.plaintext)
    }

    fn count_call(&self) {
        self.inner
            .kms_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_name_their_namespace() {
        assert_eq!(
            key_namespace("arn:aws:kms:us-east-1:111122223333:key/abc"),
            Some(("111122223333", "us-east-1"))
        );
        assert_eq!(key_namespace("alias/x"), None);
        assert_eq!(
            key_namespace("arn:aws:kms:us-east-1:111122223333:alias/x"),
            None
        );
    }
}
