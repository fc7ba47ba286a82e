//! Objects: PutObject, GetObject (ranges, conditional reads, part numbers), HeadObject, DeleteObject,
//! DeleteObjects (each key authorized on its own), CopyObject (re-encrypted under the destination's key),
//! object tagging, GetObjectAttributes, and the ACL calls of buckets with ACLs disabled.
//!
//! Bodies stream both ways: the request body goes straight into the engine's sealing writer, and GET
//! returns the engine's decrypting stream.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use api::ApiError;
use bytes::Bytes;
use objects::{
    ByteRange, ChecksumAlgorithm as Alg, ObjectError, ObjectInfo, ObjectMetadata, ObjectStream,
    ReadConditions, WriteConditions,
};
use s3s::dto::*;
use s3s::S3Response;
use zeroize::Zeroizing;

use crate::error::{from_object, invalid_argument, Result};
use crate::front::Shared;
use crate::service::Op;
use crate::sse::{ObjectIdentity, SseRequest, SseResponse};

/// Makes the engine's `Send` stream `Sync`, as s3s's body type requires.
struct SyncStream(Mutex<ObjectStream>);

impl futures_core_stream::Stream for SyncStream {
    type Item = std::result::Result<Bytes, ObjectError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        Pin::new(inner).poll_next(cx)
    }
}

mod futures_core_stream {
    pub(crate) use futures_core::Stream;
}

pub(crate) fn body_of(stream: ObjectStream) -> StreamingBlob {
    StreamingBlob::wrap(SyncStream(Mutex::new(stream)))
}

/// The SSE headers of a request.
pub(crate) fn sse_request(headers: &http::HeaderMap) -> SseRequest {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    SseRequest {
        algorithm: h("x-amz-server-side-encryption"),
        kms_key_id: h("x-amz-server-side-encryption-aws-kms-key-id"),
        kms_context: h("x-amz-server-side-encryption-context"),
        bucket_key_enabled: h("x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        customer_algorithm: h("x-amz-server-side-encryption-customer-algorithm"),
        customer_key: h("x-amz-server-side-encryption-customer-key").map(Zeroizing::new),
        customer_key_md5: h("x-amz-server-side-encryption-customer-key-md5"),
    }
}

/// The SSE-C headers of a copy source.
pub(crate) fn copy_source_sse(headers: &http::HeaderMap) -> SseRequest {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    SseRequest {
        customer_algorithm: h("x-amz-copy-source-server-side-encryption-customer-algorithm"),
        customer_key: h("x-amz-copy-source-server-side-encryption-customer-key")
            .map(Zeroizing::new),
        customer_key_md5: h("x-amz-copy-source-server-side-encryption-customer-key-md5"),
        ..SseRequest::default()
    }
}

pub(crate) fn identity(bucket: &objects::Bucket, key: &str) -> ObjectIdentity {
    ObjectIdentity {
        bucket: bucket.name.clone(),
        key: key.to_owned(),
        region: bucket.region.clone(),
        bucket_owner: bucket.owner.clone(),
        bucket_default: bucket.encryption.clone(),
    }
}

/// The typed SSE response fields every output shares.
pub(crate) struct SseOut {
    pub algorithm: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
}

pub(crate) fn sse_out(r: &SseResponse) -> SseOut {
    SseOut {
        algorithm: r.algorithm.clone().map(ServerSideEncryption::from),
        kms_key_id: r.kms_key_id.clone(),
        kms_context: r.kms_context.clone(),
        bucket_key_enabled: r.bucket_key_enabled.filter(|b| *b),
        customer_algorithm: r.customer_algorithm.clone(),
        customer_key_md5: r.customer_key_md5.clone(),
    }
}

/// The stored HTTP metadata of a write.
pub(crate) fn metadata_of(headers: &http::HeaderMap, user: Option<&Metadata>) -> ObjectMetadata {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    ObjectMetadata {
        content_type: h("content-type"),
        content_encoding: h("content-encoding").filter(|e| e != "aws-chunked"),
        content_disposition: h("content-disposition"),
        content_language: h("content-language"),
        cache_control: h("cache-control"),
        expires: h("expires"),
        user: user
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The declared `x-amz-checksum-*` values and the requested algorithm of a write.
/// A write's requested checksum algorithm and its declared checksums.
pub(crate) type Checksums = (Option<Alg>, Vec<(Alg, String)>);

pub(crate) fn checksums_of(headers: &http::HeaderMap) -> Result<Checksums> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let mut declared = Vec::new();
    for (alg, name) in [
        (Alg::Crc32, "x-amz-checksum-crc32"),
        (Alg::Crc32c, "x-amz-checksum-crc32c"),
        (Alg::Crc64Nvme, "x-amz-checksum-crc64nvme"),
        (Alg::Sha1, "x-amz-checksum-sha1"),
        (Alg::Sha256, "x-amz-checksum-sha256"),
    ] {
        if let Some(v) = h(name) {
            declared.push((alg, v.to_owned()));
        }
    }
    let requested = match h("x-amz-sdk-checksum-algorithm").or(h("x-amz-checksum-algorithm")) {
        Some(a) => Some(Alg::parse(a).ok_or_else(invalid_request_checksum)?),
        None => None,
    };
    // Trailing checksums (aws-chunked): the algorithm is named by x-amz-trailer.
    let requested = requested.or_else(|| {
        h("x-amz-trailer")
            .and_then(|t| t.trim().strip_prefix("x-amz-checksum-"))
            .and_then(Alg::parse)
    });
    Ok((requested, declared))
}

/// The checksum an aws-chunked upload sends as a trailer (`x-amz-trailer: x-amz-checksum-<alg>`),
/// read from s3s's verified trailing headers once the engine has consumed the body.
pub(crate) fn late_checksum(
    headers: &http::HeaderMap,
    trailing: Option<&s3s::TrailingHeaders>,
) -> Option<objects::LateChecksum> {
    let name = headers
        .get("x-amz-trailer")?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    let algorithm = Alg::parse(name.strip_prefix("x-amz-checksum-")?)?;
    let trailing = trailing?.clone();
    Some(objects::LateChecksum::new(algorithm, move || {
        trailing
            .read(|h| {
                h.get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned())
            })
            .flatten()
    }))
}

fn invalid_request_checksum() -> ApiError {
    crate::error::invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
}

fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_owned())
}

/// A write's conditions (`If-None-Match: *`, `If-Match`).
fn write_conditions(headers: &http::HeaderMap) -> Result<WriteConditions> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = h("if-none-match");
    if if_none_match.as_deref().is_some_and(|v| v.trim() != "*") {
        return Err(crate::error::not_implemented(
            "If-None-Match other than * on writes",
        ));
    }
    Ok(WriteConditions {
        if_none_match_star: if_none_match.is_some(),
        if_match: h("if-match"),
    })
}

fn read_conditions(
    headers: &http::HeaderMap,
    modified: Option<&Timestamp>,
    unmodified: Option<&Timestamp>,
) -> ReadConditions {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    ReadConditions {
        if_match: h("if-match"),
        if_none_match: h("if-none-match"),
        if_modified_since: modified.cloned().map(Into::into),
        if_unmodified_since: unmodified.cloned().map(Into::into),
    }
}

fn byte_range(r: Option<&Range>) -> Option<ByteRange> {
    r.map(|r| match *r {
        Range::Int {
            first,
            last: Some(last),
        } => ByteRange::FromTo(first, last),
        Range::Int { first, last: None } => ByteRange::From(first),
        Range::Suffix { length } => ByteRange::Suffix(length),
    })
}

/// An engine error about the object a request names, as S3 answers it to this caller: a missing key, a
/// missing version or a delete marker is reported (404 or 405, with the delete-marker headers) only to a
/// caller allowed `s3:ListBucket` on the bucket; anyone else gets 403 AccessDenied, so reads cannot probe
/// which keys exist.
pub(crate) fn missing<T>(
    shared: &Shared,
    op: &Op<T>,
    bucket: &str,
    version: Option<&str>,
    e: ObjectError,
) -> ApiError {
    let about_existence = matches!(
        e,
        ObjectError::NoSuchKey { .. }
            | ObjectError::NoSuchVersion
            | ObjectError::MethodNotAllowed {
                delete_marker: true
            }
    );
    if about_existence && !crate::access::may_list(shared, &op.state, bucket) {
        return crate::error::access_denied();
    }
    note_delete_marker(&op.state, &e, version);
    from_object(e)
}

/// Records `x-amz-delete-marker` / `x-amz-version-id` for an error about a delete marker.
fn note_delete_marker(
    op_state: &crate::state::RequestState,
    e: &ObjectError,
    version: Option<&str>,
) {
    let mut headers = http::HeaderMap::new();
    match e {
        ObjectError::NoSuchKey {
            delete_marker: Some(v),
        } => {
            headers.insert(
                "x-amz-delete-marker",
                http::HeaderValue::from_static("true"),
            );
            if let Ok(v) = http::HeaderValue::from_str(v) {
                headers.insert("x-amz-version-id", v);
            }
        }
        ObjectError::MethodNotAllowed {
            delete_marker: true,
        } => {
            headers.insert(
                "x-amz-delete-marker",
                http::HeaderValue::from_static("true"),
            );
            if let Some(v) = version.and_then(|v| http::HeaderValue::from_str(v).ok()) {
                headers.insert("x-amz-version-id", v);
            }
            headers.insert("allow", http::HeaderValue::from_static("DELETE"));
        }
        _ => return,
    }
    op_state.lock().error_headers = Some(headers);
}

/// Refuses ACLs other than the owner's full control on buckets with ACLs disabled.
fn check_put_acl(headers: &http::HeaderMap, owner: &str) -> Result<()> {
    let canned = headers.get("x-amz-acl").and_then(|v| v.to_str().ok());
    let grants = [
        "x-amz-grant-full-control",
        "x-amz-grant-read",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
    ]
    .iter()
    .any(|g| headers.contains_key(*g));
    if crate::config::acl_beyond_owner(canned, grants, None, owner) {
        return Err(crate::config::acl_not_supported());
    }
    Ok(())
}

/// A write's object, as the request describes it: the bucket, the key and the headers that decide its
/// metadata, encryption, tags, checksums and conditions. PutObject passes its signed HTTP headers; a browser
/// form upload passes headers made only from its signed form fields.
pub(crate) struct Write<'a> {
    pub bucket: &'a objects::Bucket,
    pub key: &'a str,
    pub headers: &'a http::HeaderMap,
    pub user_metadata: Option<&'a Metadata>,
    pub content_length: Option<u64>,
    pub content_md5: Option<String>,
    pub late_checksum: Option<objects::LateChecksum>,
}

/// Stores one object: the checks PutObject makes of its headers, a data key on the caller's behalf, then the
/// engine's streaming, sealing put.
pub(crate) async fn store<S, E>(
    shared: &Shared,
    ctx: &api::RequestContext,
    w: Write<'_>,
    body: S,
) -> Result<(objects::PutOutcome, SseOut)>
where
    S: futures_core::Stream<Item = std::result::Result<Bytes, E>> + Send + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bucket = w.bucket;
    check_put_acl(w.headers, &bucket.owner)?;
    if [
        "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold",
    ]
    .iter()
    .any(|h| w.headers.contains_key(*h))
    {
        return Err(ApiError::bad_request(
            "InvalidRequest",
            "Bucket is missing Object Lock Configuration",
        ));
    }
    let sse = sse_request(w.headers);
    shared.keys.validate_put(&sse, ctx.secure_transport)?;
    let tags = match w.headers.get("x-amz-tagging").and_then(|v| v.to_str().ok()) {
        Some(t) => crate::access::conditions::parse_tag_query(t)
            .into_iter()
            .map(|(k, v)| objects::Tag::new(k, v))
            .collect(),
        None => Vec::new(),
    };
    let (checksum_algorithm, checksums) = checksums_of(w.headers)?;
    let key = shared
        .keys
        .key_for_put(ctx, &identity(bucket, w.key), &sse)
        .await?;
    let mut req = objects::PutObject::new(&bucket.name, w.key, &bucket.owner, key.encryption);
    req.metadata = metadata_of(w.headers, w.user_metadata);
    req.content_length = w.content_length;
    req.content_md5 = w.content_md5;
    req.checksum_algorithm = checksum_algorithm;
    req.checksums = checksums;
    req.late_checksum = w.late_checksum;
    req.tags = tags;
    req.conditions = write_conditions(w.headers)?;
    let out = shared
        .objects
        .put_object(req, body)
        .await
        .map_err(from_object)?;
    Ok((out, sse_out(&key.response)))
}

pub(crate) async fn put_object(
    shared: &Shared,
    op: Op<PutObjectInput>,
) -> Result<S3Response<PutObjectOutput>> {
    let bucket = op.bucket()?.clone();
    let mut input = op.input;
    let body = input
        .body
        .take()
        .unwrap_or_else(|| StreamingBlob::wrap(futures_empty()));
    let write = Write {
        bucket: &bucket,
        key: &input.key,
        headers: &op.headers,
        user_metadata: input.metadata.as_ref(),
        content_length: input.content_length.and_then(|l| u64::try_from(l).ok()),
        content_md5: input.content_md5.clone(),
        late_checksum: late_checksum(&op.headers, op.trailing_headers.as_ref()),
    };
    let (out, s) = store(shared, &op.ctx, write, body).await?;
    let mut output = PutObjectOutput {
        e_tag: Some(etag(&out.etag)),
        version_id: (out.version_id != objects::NULL_VERSION).then(|| out.version_id.clone()),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        ssekms_encryption_context: s.kms_context,
        bucket_key_enabled: s.bucket_key_enabled,
        sse_customer_algorithm: s.customer_algorithm,
        sse_customer_key_md5: s.customer_key_md5,
        size: i64::try_from(out.size).ok(),
        ..Default::default()
    };
    if let Some(c) = &out.checksum {
        set_checksum_put(&mut output, c);
    }
    Ok(S3Response::new(output))
}

fn futures_empty() -> futures_util_empty::Empty {
    futures_util_empty::Empty
}

mod futures_util_empty {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// An empty body.
    pub(crate) struct Empty;

    impl futures_core::Stream for Empty {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(None)
        }
    }
}

fn set_checksum_put(o: &mut PutObjectOutput, c: &objects::Checksum) {
    let v = Some(c.value.clone());
    match c.algorithm {
        Alg::Crc32 => o.checksum_crc32 = v,
        Alg::Crc32c => o.checksum_crc32c = v,
        Alg::Crc64Nvme => o.checksum_crc64nvme = v,
        Alg::Sha1 => o.checksum_sha1 = v,
        Alg::Sha256 => o.checksum_sha256 = v,
    }
    o.checksum_type = Some(ChecksumType::from(c.kind.as_str().to_owned()));
}

/// Every GET/HEAD field that comes from the stored object.
macro_rules! fill_object_fields {
    ($o:expr, $info:expr, $sse:expr, $checksum_mode:expr) => {{
        let info: &ObjectInfo = $info;
        let m = &info.metadata;
        $o.e_tag = Some(etag(&info.etag));
        $o.last_modified = Some(info.last_modified.into());
        $o.content_type = Some(
            m.content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".into()),
        );
        $o.content_encoding = m.content_encoding.clone();
        $o.content_disposition = m.content_disposition.clone();
        $o.content_language = m.content_language.clone();
        $o.cache_control = m.cache_control.clone();
        $o.metadata = (!m.user.is_empty())
            .then(|| m.user.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        $o.version_id = (info.version_id != objects::NULL_VERSION).then(|| info.version_id.clone());
        $o.parts_count = info.parts_count.and_then(|p| i32::try_from(p).ok());
        $o.accept_ranges = Some("bytes".into());
        let s = sse_out($sse);
        $o.server_side_encryption = s.algorithm;
        $o.ssekms_key_id = s.kms_key_id;
        $o.bucket_key_enabled = s.bucket_key_enabled;
        $o.sse_customer_algorithm = s.customer_algorithm;
        $o.sse_customer_key_md5 = s.customer_key_md5;
        if $checksum_mode {
            if let Some(c) = &info.checksum {
                let v = Some(c.value.clone());
                match c.algorithm {
                    Alg::Crc32 => $o.checksum_crc32 = v,
                    Alg::Crc32c => $o.checksum_crc32c = v,
                    Alg::Crc64Nvme => $o.checksum_crc64nvme = v,
                    Alg::Sha1 => $o.checksum_sha1 = v,
                    Alg::Sha256 => $o.checksum_sha256 = v,
                }
                $o.checksum_type = Some(ChecksumType::from(c.kind.as_str().to_owned()));
            }
        }
    }};
}

/// Applies `response-*` overrides (only for signed requests, as S3 requires).
fn response_overrides(o: &mut GetObjectOutput, i: &GetObjectInput, anonymous: bool) -> Result<()> {
    let any = i.response_cache_control.is_some()
        || i.response_content_disposition.is_some()
        || i.response_content_encoding.is_some()
        || i.response_content_language.is_some()
        || i.response_content_type.is_some()
        || i.response_expires.is_some();
    if any && anonymous {
        return Err(crate::error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    if let Some(v) = &i.response_cache_control {
        o.cache_control = Some(v.clone());
    }
    if let Some(v) = &i.response_content_disposition {
        o.content_disposition = Some(v.clone());
    }
    if let Some(v) = &i.response_content_encoding {
        o.content_encoding = Some(v.clone());
    }
    if let Some(v) = &i.response_content_language {
        o.content_language = Some(v.clone());
    }
    if let Some(v) = &i.response_content_type {
        o.content_type = Some(v.clone());
    }
    Ok(())
}

pub(crate) async fn get_object(
    shared: &Shared,
    op: Op<GetObjectInput>,
) -> Result<S3Response<GetObjectOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    let sse = sse_request(&op.headers);
    let conditions = read_conditions(
        &op.headers,
        i.if_modified_since.as_ref(),
        i.if_unmodified_since.as_ref(),
    );
    let version = i.version_id.as_deref();
    let info = shared
        .objects
        .head_object(&bucket.name, &i.key, version)
        .map_err(|e| missing(shared, &op, &bucket.name, version, e))?;
    conditions.check(&info).map_err(from_object)?;
    let range = requested_range(&info, i.part_number, i.range.as_ref())?;
    let key = shared
        .keys
        .key_for_get(&op.ctx, &identity(&bucket, &i.key), &info.descriptor, &sse)
        .await?;
    let stream = shared
        .objects
        .read_object(&info, &key.data_key, range)
        .await
        .map_err(from_object)?;
    let mut o = GetObjectOutput::default();
    let checksum_mode = i
        .checksum_mode
        .as_ref()
        .is_some_and(|m| m.as_str() == "ENABLED")
        && range.is_none();
    fill_object_fields!(o, &info, &key.response, checksum_mode);
    o.content_length = i64::try_from(stream.content_length).ok();
    o.tag_count = (info.tag_count > 0).then(|| i32::try_from(info.tag_count).unwrap_or(i32::MAX));
    response_overrides(&mut o, i, op.ctx.caller.account.is_empty())?;
    let partial = range.is_some();
    if let Some((a, b)) = range {
        o.content_range = Some(format!("bytes {a}-{b}/{}", info.size));
    }
    o.body = Some(body_of(stream));
    let mut resp = S3Response::new(o);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    if let Some(e) = i.response_expires.as_ref() {
        let mut buf = Vec::new();
        if e.format(s3s::dto::TimestampFormat::HttpDate, &mut buf)
            .is_ok()
        {
            if let Ok(v) = http::HeaderValue::from_bytes(&buf) {
                resp.headers.insert(http::header::EXPIRES, v);
            }
        }
    } else if let Some(exp) = info.metadata.expires.as_deref() {
        if let Ok(v) = http::HeaderValue::from_str(exp) {
            resp.headers.insert(http::header::EXPIRES, v);
        }
    }
    Ok(resp)
}

/// The byte range a GET or HEAD asks for: one part of a multipart object (`partNumber`) or a `Range` header,
/// never both, resolved against the object's size.
fn requested_range(
    info: &ObjectInfo,
    part_number: Option<PartNumber>,
    range: Option<&Range>,
) -> Result<Option<(u64, u64)>> {
    Ok(match (part_number, byte_range(range)) {
        (Some(_), Some(_)) => {
            return Err(invalid_argument(
                "Cannot specify both Range header and partNumber query parameter",
            ))
        }
        (Some(n), None) => Some(
            info.part_range(u32::try_from(n).map_err(|_| {
                invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
            })?)
            .map_err(from_object)?,
        ),
        (None, Some(r)) => Some(r.resolve(info.size).map_err(from_object)?),
        (None, None) => None,
    })
}

pub(crate) async fn head_object(
    shared: &Shared,
    op: Op<HeadObjectInput>,
) -> Result<S3Response<HeadObjectOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    let sse = sse_request(&op.headers);
    let version = i.version_id.as_deref();
    let info = shared
        .objects
        .head_object(&bucket.name, &i.key, version)
        .map_err(|e| missing(shared, &op, &bucket.name, version, e))?;
    let conditions = read_conditions(
        &op.headers,
        i.if_modified_since.as_ref(),
        i.if_unmodified_since.as_ref(),
    );
    conditions.check(&info).map_err(from_object)?;
    let response = shared.keys.describe(&info.descriptor, &sse)?;
    let range = requested_range(&info, i.part_number, i.range.as_ref())?;
    let mut o = HeadObjectOutput::default();
    let checksum_mode = op.header("x-amz-checksum-mode") == Some("ENABLED");
    fill_object_fields!(o, &info, &response, checksum_mode);
    let len = range.map_or(info.size, |(a, b)| b - a + 1);
    o.content_length = i64::try_from(len).ok();
    let partial = range.is_some();
    if let Some((a, b)) = range {
        o.content_range = Some(format!("bytes {a}-{b}/{}", info.size));
    }
    let mut resp = S3Response::new(o);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    if let Some(exp) = info.metadata.expires.as_deref() {
        if let Ok(v) = http::HeaderValue::from_str(exp) {
            resp.headers.insert(http::header::EXPIRES, v);
        }
    }
    Ok(resp)
}

pub(crate) async fn delete_object(
    shared: &Shared,
    op: Op<DeleteObjectInput>,
) -> Result<S3Response<DeleteObjectOutput>> {
    let bucket = op.bucket()?;
    let i = &op.input;
    let out = shared
        .objects
        .delete_object(&bucket.name, &i.key, i.version_id.as_deref(), &bucket.owner)
        .await
        .map_err(from_object)?;
    Ok(S3Response::with_status(
        DeleteObjectOutput {
            delete_marker: out.delete_marker.then_some(true),
            version_id: out.version_id,
            ..Default::default()
        },
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn delete_objects(
    shared: &Shared,
    op: Op<DeleteObjectsInput>,
) -> Result<S3Response<DeleteObjectsOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    if i.delete.objects.len() > 1000 {
        return Err(crate::error::malformed_xml());
    }
    let quiet = i.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in &i.delete.objects {
        let version = obj.version_id.as_deref();
        // The same need, through the same function, as a DeleteObject of this key.
        let need = crate::access::object::read(
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
            &bucket.name,
            &obj.key,
            version,
        );
        let result = match crate::access::decide(shared, &op.state, &[need], false) {
            Err(e) => Err(e),
            Ok(_decision) => shared
                .objects
                .delete_object(&bucket.name, &obj.key, version, &bucket.owner)
                .await
                .map_err(from_object),
        };
        match result {
            Ok(out) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(obj.key.clone()),
                        version_id: if out.delete_marker {
                            None
                        } else {
                            out.version_id.clone()
                        },
                        delete_marker: out.delete_marker.then_some(true),
                        delete_marker_version_id: if out.delete_marker {
                            out.version_id
                        } else {
                            None
                        },
                    });
                }
            }
            Err(e) => errors.push(Error {
                code: Some(e.code),
                key: Some(obj.key.clone()),
                message: Some(e.message),
                version_id: obj.version_id.clone(),
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

/// The source of CopyObject and UploadPartCopy, opened for streaming: its bucket and object resolved, the
/// `x-amz-copy-source-if-*` conditions checked, an optional `range` applied, and its data key unwrapped on the
/// caller's behalf (SSE-C sources through the `x-amz-copy-source-server-side-encryption-customer-*` headers).
pub(crate) async fn open_copy_source<T>(
    shared: &Shared,
    op: &Op<T>,
    (bucket, key, version): (&str, &str, Option<&str>),
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
    range: Option<ByteRange>,
) -> Result<objects::CopySource> {
    let source_bucket = shared.objects.head_bucket(bucket).map_err(from_object)?;
    let conditions = ReadConditions {
        if_match: op.header("x-amz-copy-source-if-match").map(str::to_owned),
        if_none_match: op
            .header("x-amz-copy-source-if-none-match")
            .map(str::to_owned),
        if_modified_since: if_modified_since.map(Into::into),
        if_unmodified_since: if_unmodified_since.map(Into::into),
    };
    let info = shared
        .objects
        .head_object(bucket, key, version)
        .map_err(|e| missing(shared, op, bucket, version, e))?;
    let source_key = shared
        .keys
        .key_for_get(
            &op.ctx,
            &identity(&source_bucket, key),
            &info.descriptor,
            &copy_source_sse(&op.headers),
        )
        .await?;
    let data_key = source_key.data_key.clone();
    shared
        .objects
        .open_copy_source(bucket, key, version, &conditions, range, move |_| {
            Ok(data_key.clone())
        })
        .await
        .map_err(from_object)
}

pub(crate) async fn copy_object(
    shared: &Shared,
    op: Op<CopyObjectInput>,
) -> Result<S3Response<CopyObjectOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    check_put_acl(&op.headers, &bucket.owner)?;
    let (sb, sk, sv) = crate::access::object::copy_source(&i.copy_source)?;
    let directive = i.metadata_directive.as_ref().map(|d| d.as_str().to_owned());
    let tagging_directive = i.tagging_directive.as_ref().map(|d| d.as_str().to_owned());
    let sse = sse_request(&op.headers);
    shared.keys.validate_put(&sse, op.ctx.secure_transport)?;
    let same = sb == bucket.name && sk == i.key && sv.is_none();
    if same
        && directive.as_deref() != Some("REPLACE")
        && sse.is_empty()
        && bucket.encryption.is_none()
    {
        return Err(crate::error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let source = open_copy_source(
        shared,
        &op,
        (&sb, &sk, sv.as_deref()),
        i.copy_source_if_modified_since.clone(),
        i.copy_source_if_unmodified_since.clone(),
        None,
    )
    .await?;
    let dest_key = shared
        .keys
        .key_for_put(&op.ctx, &identity(&bucket, &i.key), &sse)
        .await?;
    let mut req = objects::PutObject::new(&bucket.name, &i.key, &bucket.owner, dest_key.encryption);
    req.metadata = match directive.as_deref() {
        Some("REPLACE") => metadata_of(&op.headers, i.metadata.as_ref()),
        None | Some("COPY") => source.info.metadata.clone(),
        Some(_) => return Err(invalid_argument("Unknown metadata directive.")),
    };
    req.tags = match tagging_directive.as_deref() {
        Some("REPLACE") => op
            .header("x-amz-tagging")
            .map(crate::access::conditions::parse_tag_query)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| objects::Tag::new(k, v))
            .collect(),
        None | Some("COPY") => shared
            .objects
            .object_tagging(&sb, &sk, sv.as_deref())
            .map(|(_, t)| t)
            .unwrap_or_default(),
        Some(_) => return Err(invalid_argument("Unknown tagging directive.")),
    };
    req.checksum_algorithm =
        checksums_of(&op.headers)?
            .0
            .or(source.info.checksum.as_ref().map(|c| c.algorithm));
    let source_version = source.info.version_id.clone();
    let out = shared
        .objects
        .copy_object(source, req)
        .await
        .map_err(from_object)?;
    let s = sse_out(&dest_key.response);
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&out.etag)),
            last_modified: Some(out.last_modified.into()),
            ..Default::default()
        }),
        copy_source_version_id: (source_version != objects::NULL_VERSION).then_some(source_version),
        version_id: (out.version_id != objects::NULL_VERSION).then(|| out.version_id.clone()),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        ssekms_encryption_context: s.kms_context,
        bucket_key_enabled: s.bucket_key_enabled,
        sse_customer_algorithm: s.customer_algorithm,
        sse_customer_key_md5: s.customer_key_md5,
        ..Default::default()
    }))
}

fn version_out(v: String) -> Option<String> {
    (v != objects::NULL_VERSION).then_some(v)
}

pub(crate) async fn get_object_tagging(
    shared: &Shared,
    op: Op<GetObjectTaggingInput>,
) -> Result<S3Response<GetObjectTaggingOutput>> {
    let i = &op.input;
    let (v, tags) = shared
        .objects
        .object_tagging(&i.bucket, &i.key, i.version_id.as_deref())
        .map_err(|e| missing(shared, &op, &i.bucket, i.version_id.as_deref(), e))?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: crate::config::tagging_of(&tags),
        version_id: version_out(v),
    }))
}

pub(crate) async fn put_object_tagging(
    shared: &Shared,
    op: Op<PutObjectTaggingInput>,
) -> Result<S3Response<PutObjectTaggingOutput>> {
    let i = &op.input;
    let tags = crate::config::tags_of(&i.tagging, 10)?;
    let v = shared
        .objects
        .put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), tags)
        .await
        .map_err(|e| missing(shared, &op, &i.bucket, i.version_id.as_deref(), e))?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: version_out(v),
    }))
}

pub(crate) async fn delete_object_tagging(
    shared: &Shared,
    op: Op<DeleteObjectTaggingInput>,
) -> Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = &op.input;
    let v = shared
        .objects
        .delete_object_tagging(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(|e| missing(shared, &op, &i.bucket, i.version_id.as_deref(), e))?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput {
            version_id: version_out(v),
        },
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn get_object_attributes(
    shared: &Shared,
    op: Op<GetObjectAttributesInput>,
) -> Result<S3Response<GetObjectAttributesOutput>> {
    let bucket = op.bucket()?;
    let i = &op.input;
    let info = shared
        .objects
        .head_object(&bucket.name, &i.key, i.version_id.as_deref())
        .map_err(|e| missing(shared, &op, &bucket.name, i.version_id.as_deref(), e))?;
    shared
        .keys
        .describe(&info.descriptor, &sse_request(&op.headers))?;
    // Clients send one comma-separated header (`x-amz-object-attributes: ObjectSize,ETag`), which s3s may hand
    // over as a single element.
    let wants = |a: &str| {
        i.object_attributes
            .iter()
            .flat_map(|x| x.as_str().split(','))
            .any(|x| x.trim() == a)
    };
    let mut o = GetObjectAttributesOutput {
        last_modified: Some(info.last_modified.into()),
        version_id: version_out(info.version_id.clone()),
        ..Default::default()
    };
    if wants("ETag") {
        o.e_tag = Some(etag(&info.etag));
    }
    if wants("ObjectSize") {
        o.object_size = i64::try_from(info.size).ok();
    }
    if wants("StorageClass") {
        o.storage_class = Some(StorageClass::from(info.storage_class.to_owned()));
    }
    if wants("Checksum") {
        if let Some(c) = &info.checksum {
            let mut ck = Checksum {
                checksum_type: Some(ChecksumType::from(c.kind.as_str().to_owned())),
                ..Default::default()
            };
            let v = Some(c.value.clone());
            match c.algorithm {
                Alg::Crc32 => ck.checksum_crc32 = v,
                Alg::Crc32c => ck.checksum_crc32c = v,
                Alg::Crc64Nvme => ck.checksum_crc64nvme = v,
                Alg::Sha1 => ck.checksum_sha1 = v,
                Alg::Sha256 => ck.checksum_sha256 = v,
            }
            o.checksum = Some(ck);
        }
    }
    if wants("ObjectParts") {
        let parts = info.parts();
        if !parts.is_empty() {
            let marker = i
                .part_number_marker
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0);
            let max = i
                .max_parts
                .map_or(1000, |m| usize::try_from(m.max(0)).unwrap_or(1000));
            let after: Vec<_> = parts.iter().filter(|p| p.part_number > marker).collect();
            let page: Vec<_> = after.iter().take(max).collect();
            o.object_parts = Some(GetObjectAttributesParts {
                is_truncated: Some(after.len() > page.len()),
                max_parts: Some(i32::try_from(max).unwrap_or(i32::MAX)),
                next_part_number_marker: page
                    .last()
                    .and_then(|p| i32::try_from(p.part_number).ok()),
                part_number_marker: i32::try_from(marker).ok(),
                total_parts_count: i32::try_from(parts.len()).ok(),
                parts: Some(
                    page.iter()
                        .map(|p| ObjectPart {
                            part_number: i32::try_from(p.part_number).ok(),
                            size: i64::try_from(p.size).ok(),
                            ..Default::default()
                        })
                        .collect(),
                ),
            });
        }
    }
    Ok(S3Response::new(o))
}

pub(crate) async fn get_object_acl(
    shared: &Shared,
    op: Op<GetObjectAclInput>,
) -> Result<S3Response<GetObjectAclOutput>> {
    let bucket = op.bucket()?;
    let i = &op.input;
    shared
        .objects
        .head_object(&bucket.name, &i.key, i.version_id.as_deref())
        .map_err(|e| missing(shared, &op, &bucket.name, i.version_id.as_deref(), e))?;
    let (owner, grants) = crate::config::owner_full_control(&bucket.owner);
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants),
        owner: Some(owner),
        ..Default::default()
    }))
}

pub(crate) async fn put_object_acl(
    shared: &Shared,
    op: Op<PutObjectAclInput>,
) -> Result<S3Response<PutObjectAclOutput>> {
    let bucket = op.bucket()?;
    let i = &op.input;
    shared
        .objects
        .head_object(&bucket.name, &i.key, i.version_id.as_deref())
        .map_err(|e| missing(shared, &op, &bucket.name, i.version_id.as_deref(), e))?;
    let grants = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    if crate::config::acl_beyond_owner(
        i.acl.as_ref().map(|a| a.as_str()),
        grants,
        i.access_control_policy.as_ref(),
        &bucket.owner,
    ) {
        return Err(crate::config::acl_not_supported());
    }
    Ok(S3Response::new(PutObjectAclOutput::default()))
}
