//! S3 server-side encryption keys: [`KeyManager`], the production [`s3_api::KeyService`].
//!
//! Every object is encrypted, always (GUIDE §4, invariant 1). For each write the manager picks the encryption
//! the way Amazon S3 does — explicit `x-amz-server-side-encryption*` headers, else the bucket default, else
//! SSE-S3 — and hands the object engine a fresh data key in zeroizing memory plus the descriptor that says how
//! to get it back:
//!
//! * **SSE-S3** (`AES256`): a random data key wrapped with AES-256-GCM under a per-object key derived from the
//!   deployment's S3 master key, which is created on first use and stored only sealed by the root of trust.
//! * **SSE-KMS** (`aws:kms`): a data key from KMS `GenerateDataKey` on the caller's behalf
//!   (`kms:ViaService = s3.<region>.amazonaws.com`, context `aws:s3:arn` = the object ARN plus the request's
//!   context); reads call `Decrypt` on the reader's behalf, so the key policy decides every read.
//! * **S3 Bucket Keys**: one KMS-generated key per bucket (context `aws:s3:arn` = the bucket ARN) reused for
//!   many objects, each object's data key derived from it with a random salt. Unwrapped bucket keys are cached
//!   for a bounded time, per requesting principal and source (see [`Config`]).
//! * **SSE-C**: the customer's key is checked (MD5) and never stored; a salted check value, sealed under the
//!   master key, tells a wrong key (403) from damaged metadata (500).
//!
//! SSE-C travels in request headers, so AWS requires HTTPS for it. coffer's API listener serves plain HTTP on
//! loopback for now: SSE-C is accepted over plain HTTP only from a loopback peer (unless
//! [`Config::sse_c_over_loopback_http`] is off), and refused otherwise.
//!
//! The persisted descriptors are specified in `docs/design/envelope.md` § "Server-side encryption".

mod cache;
mod descriptor;
mod errors;
mod master;
mod request;
mod sse_c;
mod sse_kms;
mod sse_s3;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api::{ApiError, RequestContext};
use crypto::RootOfTrust;
use kms::Kms;
use kms_api::KmsClient;
use objects::EncryptionDescriptor;
use s3_api::{KeyService, ObjectIdentity, PutKey, ReadKey, SseRequest, SseResponse};

pub use descriptor::DESCRIPTOR_VERSION;
pub use master::{MasterKeyRecord, MASTER_KEY_AAD, MASTER_KEY_RECORD, MASTER_KEY_TABLE};

use crate::cache::{GetSlot, KeyCache, PutSlot};
use crate::descriptor::Descriptor;
use crate::master::MasterKey;
use crate::request::{Choice, Requested};

/// Tuning of a [`KeyManager`].
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a generated S3 Bucket Key is reused for new objects. This bounds how long writes keep using a
    /// bucket key after a KMS key policy stops allowing the writer (a rotation or a disable is seen at once:
    /// every reuse first checks the KMS key's state and current material).
    pub bucket_key_ttl: Duration,
    /// How long an unwrapped bucket key is reused for reads by the same principal and source. This bounds how
    /// long a revoked `kms:Decrypt` permission keeps working for a principal that already read (a disable or
    /// deletion is seen at once, as above).
    pub read_cache_ttl: Duration,
    /// Most cached bucket keys per cache (writes and reads each).
    pub max_cached_keys: usize,
    /// Accept SSE-C over plain HTTP when the peer is on loopback (AWS requires HTTPS; coffer's listener is
    /// plain HTTP on loopback for now). Off: SSE-C needs TLS.
    pub sse_c_over_loopback_http: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bucket_key_ttl: Duration::from_secs(600),
            read_cache_ttl: Duration::from_secs(300),
            max_cached_keys: 10_000,
            sse_c_over_loopback_http: true,
        }
    }
}

/// Sizes of the bucket-key caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Live bucket keys cached for writes.
    pub write_entries: usize,
    /// Live unwrapped bucket keys cached for reads.
    pub read_entries: usize,
}

/// Server-side encryption keys for S3: SSE-S3, SSE-KMS with S3 Bucket Keys, SSE-C. Cheap to clone.
#[derive(Clone)]
pub struct KeyManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    master: MasterKey,
    kms: Kms,
    client: KmsClient,
    kms_calls: AtomicU64,
    put_cache: KeyCache<PutSlot>,
    get_cache: KeyCache<GetSlot>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("config", &self.inner.config)
            .field("kms_calls", &self.kms_calls())
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// A manager storing the S3 master key in `store` (sealed by `root`), asking KMS through `client` (built for
    /// the service `s3`), and reading key state and AWS-managed keys from the `kms` engine.
    pub fn new(
        store: meta::Store,
        root: Arc<dyn RootOfTrust>,
        kms: Kms,
        client: KmsClient,
        config: Config,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                master: MasterKey::new(store, root),
                kms,
                client,
                kms_calls: AtomicU64::new(0),
                put_cache: KeyCache::new(config.bucket_key_ttl, config.max_cached_keys),
                get_cache: KeyCache::new(config.read_cache_ttl, config.max_cached_keys),
                config,
            }),
        }
    }

    /// KMS requests made so far (GenerateDataKey and Decrypt, successful or not).
    pub fn kms_calls(&self) -> u64 {
        self.inner.kms_calls.load(Ordering::Relaxed)
    }

    /// The live entries of the bucket-key caches.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            write_entries: self.inner.put_cache.len(),
            read_entries: self.inner.get_cache.len(),
        }
    }

    /// Drops every cached bucket key (for an operator forcing KMS to be asked again).
    pub fn clear_caches(&self) {
        self.inner.put_cache.clear();
        self.inner.get_cache.clear();
    }

    /// Whether SSE-C may travel over this request's connection.
    fn check_transport(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        let loopback = self.inner.config.sse_c_over_loopback_http
            && ctx.source_ip.is_some_and(|ip| ip.is_loopback());
        if ctx.secure_transport || loopback {
            Ok(())
        } else {
            Err(errors::customer_insecure())
        }
    }
}

/// Refuses non-SSE-C encryption headers on reads: the method cannot change on retrieval.
fn check_read_headers(sse: &SseRequest) -> Result<(), ApiError> {
    if sse.algorithm.is_some()
        || sse.kms_key_id.is_some()
        || sse.kms_context.is_some()
        || sse.bucket_key_enabled.is_some()
    {
        return Err(errors::sse_header_on_read());
    }
    Ok(())
}

#[async_trait::async_trait]
impl KeyService for KeyManager {
    /// Checks the headers as S3 does before a body is read. `secure_transport` is what the caller knows of the
    /// connection; when it is false, SSE-C is refused here only if loopback HTTP is not accepted at all (the
    /// peer's address is checked again by [`KeyService::key_for_put`], which sees the full request context and
    /// also runs before any body byte is read).
    fn validate_put(&self, sse: &SseRequest, secure_transport: bool) -> Result<(), ApiError> {
        let requested = request::parse_put(sse)?;
        if matches!(requested, Requested::Customer(_))
            && !secure_transport
            && !self.inner.config.sse_c_over_loopback_http
        {
            return Err(errors::customer_insecure());
        }
        Ok(())
    }

    async fn key_for_put(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        sse: &SseRequest,
    ) -> Result<PutKey, ApiError> {
        let requested = request::parse_put(sse)?;
        match request::choose(requested, object.bucket_default.as_ref())? {
            Choice::S3 => self.put_s3(object).await,
            Choice::Kms {
                key_ref,
                context,
                bucket_key,
            } => {
                self.put_kms(ctx, object, key_ref, context, bucket_key)
                    .await
            }
            Choice::Customer(key) => {
                self.check_transport(ctx)?;
                self.put_customer(object, key).await
            }
        }
    }

    async fn key_for_get(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<ReadKey, ApiError> {
        check_read_headers(sse)?;
        match Descriptor::from_stored(descriptor)? {
            Descriptor::S3(d) => {
                if sse.is_customer() {
                    return Err(errors::not_applicable());
                }
                self.get_s3(object, &d)
            }
            Descriptor::Kms(d) => {
                if sse.is_customer() {
                    return Err(errors::not_applicable());
                }
                self.get_kms(ctx, object, &d).await
            }
            Descriptor::Customer(d) => {
                if !sse.is_customer() {
                    return Err(errors::customer_key_required());
                }
                self.check_transport(ctx)?;
                self.get_customer(object, &d, sse)
            }
        }
    }

    fn describe(
        &self,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<SseResponse, ApiError> {
        check_read_headers(sse)?;
        match Descriptor::from_stored(descriptor)? {
            Descriptor::S3(_) => {
                if sse.is_customer() {
                    return Err(errors::not_applicable());
                }
                Ok(sse_s3::response())
            }
            Descriptor::Kms(d) => {
                if sse.is_customer() {
                    return Err(errors::not_applicable());
                }
                Ok(sse_kms::response(&d.key_arn, d.bucket_key.is_some(), None))
            }
            Descriptor::Customer(d) => {
                if !sse.is_customer() {
                    return Err(errors::customer_key_required());
                }
                self.verify_customer(&d, sse)
                    .map(|k| sse_c::response(&k.md5))
            }
        }
    }
}
