//! Multipart uploads: the data key is chosen once at CreateMultipartUpload (its wrapped form is the
//! upload's descriptor) and unwrapped for every part; each part is sealed on its own by the engine.

use objects::{CompletedPart as EnginePart, CreateMultipartUpload, ListUploads, UploadPart};
use s3s::dto::*;
use s3s::S3Response;

use crate::buckets::owner;
use crate::error::{from_object, invalid_argument, Result};
use crate::front::Shared;
use crate::objects::{checksums_of, identity, late_checksum, metadata_of, sse_out, sse_request};
use crate::service::Op;

fn part_number(n: i32) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=objects::MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
        })
}

pub(crate) async fn create_multipart_upload(
    shared: &Shared,
    op: Op<CreateMultipartUploadInput>,
) -> Result<S3Response<CreateMultipartUploadOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    let sse = sse_request(&op.headers);
    shared.keys.validate_put(&sse, op.ctx.secure_transport)?;
    let (checksum_algorithm, _) = checksums_of(&op.headers)?;
    let checksum_type = match op.header("x-amz-checksum-type") {
        None => None,
        Some("COMPOSITE") => Some(objects::ChecksumType::Composite),
        Some("FULL_OBJECT") => Some(objects::ChecksumType::FullObject),
        Some(_) => return Err(invalid_argument("Invalid x-amz-checksum-type")),
    };
    let key = shared
        .keys
        .key_for_put(&op.ctx, &identity(&bucket, &i.key), &sse)
        .await?;
    let tags = op
        .header("x-amz-tagging")
        .map(crate::access::conditions::parse_tag_query)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| objects::Tag::new(k, v))
        .collect();
    let upload = shared
        .objects
        .create_multipart_upload(CreateMultipartUpload {
            bucket: bucket.name.clone(),
            key: i.key.clone(),
            owner: bucket.owner.clone(),
            metadata: metadata_of(&op.headers, i.metadata.as_ref()),
            descriptor: key.encryption.descriptor.clone(),
            checksum_algorithm,
            checksum_type,
            tags,
        })
        .await
        .map_err(from_object)?;
    let s = sse_out(&key.response);
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(bucket.name.clone()),
        key: Some(i.key.clone()),
        upload_id: Some(upload.upload_id),
        checksum_algorithm: upload
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
        checksum_type: upload
            .checksum_type
            .map(|t| ChecksumType::from(t.as_str().to_owned())),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        ssekms_encryption_context: s.kms_context,
        bucket_key_enabled: s.bucket_key_enabled,
        sse_customer_algorithm: s.customer_algorithm,
        sse_customer_key_md5: s.customer_key_md5,
        ..Default::default()
    }))
}

pub(crate) async fn upload_part(
    shared: &Shared,
    op: Op<UploadPartInput>,
) -> Result<S3Response<UploadPartOutput>> {
    let bucket = op.bucket()?.clone();
    let mut input = op.input;
    let number = part_number(input.part_number)?;
    let upload = shared
        .objects
        .multipart_upload(&bucket.name, &input.key, &input.upload_id)
        .map_err(from_object)?;
    let key = shared
        .keys
        .key_for_get(
            &op.ctx,
            &identity(&bucket, &input.key),
            &upload.descriptor,
            &sse_request(&op.headers),
        )
        .await?;
    let (_, checksums) = checksums_of(&op.headers)?;
    let body = input.body.take().ok_or_else(ApiErrorExt::missing_body)?;
    let part = shared
        .objects
        .upload_part(
            UploadPart {
                bucket: bucket.name.clone(),
                key: input.key.clone(),
                upload_id: input.upload_id.clone(),
                part_number: number,
                data_key: key.data_key,
                content_length: input.content_length.and_then(|l| u64::try_from(l).ok()),
                content_md5: input.content_md5.clone(),
                checksums,
                late_checksum: late_checksum(&op.headers, op.trailing_headers.as_ref()),
            },
            body,
        )
        .await
        .map_err(from_object)?;
    let s = sse_out(&key.response);
    let mut o = UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag.clone())),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        bucket_key_enabled: s.bucket_key_enabled,
        sse_customer_algorithm: s.customer_algorithm,
        sse_customer_key_md5: s.customer_key_md5,
        ..Default::default()
    };
    if let (Some(alg), Some(v)) = (upload.checksum_algorithm, part.checksum) {
        set_part_checksum(
            alg,
            v,
            &mut o.checksum_crc32,
            &mut o.checksum_crc32c,
            &mut o.checksum_crc64nvme,
            &mut o.checksum_sha1,
            &mut o.checksum_sha256,
        );
    }
    Ok(S3Response::new(o))
}

fn set_part_checksum(
    alg: objects::ChecksumAlgorithm,
    v: String,
    crc32: &mut Option<String>,
    crc32c: &mut Option<String>,
    crc64: &mut Option<String>,
    sha1: &mut Option<String>,
    sha256: &mut Option<String>,
) {
    use objects::ChecksumAlgorithm as A;
    let slot = match alg {
        A::Crc32 => crc32,
        A::Crc32c => crc32c,
        A::Crc64Nvme => crc64,
        A::Sha1 => sha1,
        A::Sha256 => sha256,
    };
    *slot = Some(v);
}

struct ApiErrorExt;

impl ApiErrorExt {
    fn missing_body() -> api::ApiError {
        api::ApiError::bad_request("MissingRequestBodyError", "Request Body is empty")
    }
}

pub(crate) async fn upload_part_copy(
    shared: &Shared,
    op: Op<UploadPartCopyInput>,
) -> Result<S3Response<UploadPartCopyOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    let number = part_number(i.part_number)?;
    let upload = shared
        .objects
        .multipart_upload(&bucket.name, &i.key, &i.upload_id)
        .map_err(from_object)?;
    let (sb, sk, sv) = crate::access::object::copy_source(&i.copy_source)?;
    let range = match op.header("x-amz-copy-source-range") {
        None => None,
        Some(r) => Some(parse_copy_range(r)?),
    };
    let source = crate::objects::open_copy_source(
        shared,
        &op,
        (&sb, &sk, sv.as_deref()),
        i.copy_source_if_modified_since.clone(),
        i.copy_source_if_unmodified_since.clone(),
        range,
    )
    .await?;
    let dest_key = shared
        .keys
        .key_for_get(
            &op.ctx,
            &identity(&bucket, &i.key),
            &upload.descriptor,
            &sse_request(&op.headers),
        )
        .await?;
    let len = source.stream.content_length;
    let version = source.info.version_id.clone();
    let part = shared
        .objects
        .upload_part(
            UploadPart {
                bucket: bucket.name.clone(),
                key: i.key.clone(),
                upload_id: i.upload_id.clone(),
                part_number: number,
                data_key: dest_key.data_key,
                content_length: Some(len),
                content_md5: None,
                checksums: Vec::new(),
                late_checksum: None,
            },
            source.stream,
        )
        .await
        .map_err(from_object)?;
    let s = sse_out(&dest_key.response);
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag)),
            last_modified: Some(part.last_modified.into()),
            ..Default::default()
        }),
        copy_source_version_id: (version != objects::NULL_VERSION).then_some(version),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        bucket_key_enabled: s.bucket_key_enabled,
        sse_customer_algorithm: s.customer_algorithm,
        sse_customer_key_md5: s.customer_key_md5,
        ..Default::default()
    }))
}

/// `bytes=first-last` of `x-amz-copy-source-range`.
fn parse_copy_range(r: &str) -> Result<objects::ByteRange> {
    let bad = || {
        invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
    };
    let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b: u64 = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(objects::ByteRange::FromTo(a, b))
}

pub(crate) async fn complete_multipart_upload(
    shared: &Shared,
    op: Op<CompleteMultipartUploadInput>,
) -> Result<S3Response<CompleteMultipartUploadOutput>> {
    let bucket = op.bucket()?.clone();
    let i = &op.input;
    let upload = shared
        .objects
        .multipart_upload(&bucket.name, &i.key, &i.upload_id)
        .map_err(from_object)?;
    let parts = i
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_ref())
        .ok_or_else(crate::error::malformed_xml)?;
    let mut list = Vec::with_capacity(parts.len());
    for p in parts {
        let n = p.part_number.ok_or_else(crate::error::malformed_xml)?;
        let checksum = p
            .checksum_crc32
            .clone()
            .or_else(|| p.checksum_crc32c.clone())
            .or_else(|| p.checksum_crc64nvme.clone())
            .or_else(|| p.checksum_sha1.clone())
            .or_else(|| p.checksum_sha256.clone());
        list.push(EnginePart {
            part_number: part_number(n)?,
            etag: p
                .e_tag
                .as_ref()
                .map(|e| e.value().to_owned())
                .unwrap_or_default(),
            checksum,
        });
    }
    let conditions = objects::WriteConditions {
        if_none_match_star: op.header("if-none-match").is_some_and(|v| v.trim() == "*"),
        if_match: op.header("if-match").map(str::to_owned),
    };
    let out = shared
        .objects
        .complete_multipart_upload(&bucket.name, &i.key, &i.upload_id, list, conditions)
        .await
        .map_err(from_object)?;
    let response = shared
        .keys
        .describe(&upload.descriptor, &Default::default())
        .unwrap_or_default();
    let s = sse_out(&response);
    let mut o = CompleteMultipartUploadOutput {
        bucket: Some(bucket.name.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(ETag::Strong(out.etag.clone())),
        location: Some(format!("/{}/{}", bucket.name, i.key)),
        version_id: (out.version_id != objects::NULL_VERSION).then(|| out.version_id.clone()),
        server_side_encryption: s.algorithm,
        ssekms_key_id: s.kms_key_id,
        bucket_key_enabled: s.bucket_key_enabled,
        ..Default::default()
    };
    if let Some(c) = out.checksum {
        o.checksum_type = Some(ChecksumType::from(c.kind.as_str().to_owned()));
        set_part_checksum(
            c.algorithm,
            c.value,
            &mut o.checksum_crc32,
            &mut o.checksum_crc32c,
            &mut o.checksum_crc64nvme,
            &mut o.checksum_sha1,
            &mut o.checksum_sha256,
        );
    }
    Ok(S3Response::new(o))
}

pub(crate) async fn abort_multipart_upload(
    shared: &Shared,
    op: Op<AbortMultipartUploadInput>,
) -> Result<S3Response<AbortMultipartUploadOutput>> {
    let i = &op.input;
    shared
        .objects
        .abort_multipart_upload(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(from_object)?;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn list_parts(
    shared: &Shared,
    op: Op<ListPartsInput>,
) -> Result<S3Response<ListPartsOutput>> {
    let i = &op.input;
    let upload = shared
        .objects
        .multipart_upload(&i.bucket, &i.key, &i.upload_id)
        .map_err(from_object)?;
    let marker = i.part_number_marker.and_then(|m| u32::try_from(m).ok());
    let max = i
        .max_parts
        .map_or(1000, |m| usize::try_from(m.max(0)).unwrap_or(1000));
    let page = shared
        .objects
        .list_parts(&i.bucket, &i.key, &i.upload_id, marker, max)
        .map_err(from_object)?;
    let parts = page
        .parts
        .into_iter()
        .map(|p| {
            let mut part = Part {
                e_tag: Some(ETag::Strong(p.etag)),
                last_modified: Some(p.last_modified.into()),
                part_number: i32::try_from(p.part_number).ok(),
                size: i64::try_from(p.size).ok(),
                ..Default::default()
            };
            if let (Some(alg), Some(v)) = (upload.checksum_algorithm, p.checksum) {
                set_part_checksum(
                    alg,
                    v,
                    &mut part.checksum_crc32,
                    &mut part.checksum_crc32c,
                    &mut part.checksum_crc64nvme,
                    &mut part.checksum_sha1,
                    &mut part.checksum_sha256,
                );
            }
            part
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        upload_id: Some(i.upload_id.clone()),
        initiator: Some(Initiator {
            display_name: None,
            id: Some(upload.owner.clone()),
        }),
        owner: Some(owner(&upload.owner)),
        is_truncated: Some(page.is_truncated),
        max_parts: i32::try_from(max).ok(),
        next_part_number_marker: page
            .next_part_number_marker
            .and_then(|n| i32::try_from(n).ok()),
        part_number_marker: marker.and_then(|n| i32::try_from(n).ok()),
        parts: Some(parts),
        storage_class: Some(StorageClass::from("STANDARD".to_owned())),
        checksum_algorithm: upload
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
        checksum_type: upload
            .checksum_type
            .map(|t| ChecksumType::from(t.as_str().to_owned())),
        ..Default::default()
    }))
}

pub(crate) async fn list_multipart_uploads(
    shared: &Shared,
    op: Op<ListMultipartUploadsInput>,
) -> Result<S3Response<ListMultipartUploadsOutput>> {
    let i = &op.input;
    let enc = crate::listing::encoder(i.encoding_type.as_ref())?;
    let max = i.max_uploads.map_or(1000, |m| {
        usize::try_from(m.max(0)).unwrap_or(1000).min(1000)
    });
    let page = shared
        .objects
        .list_multipart_uploads(
            &i.bucket,
            &ListUploads {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone().filter(|d| !d.is_empty()),
                key_marker: i.key_marker.clone().filter(|m| !m.is_empty()),
                upload_id_marker: i.upload_id_marker.clone().filter(|m| !m.is_empty()),
                max_uploads: max,
            },
        )
        .map_err(from_object)?;
    let uploads = page
        .uploads
        .iter()
        .map(|u| MultipartUpload {
            checksum_algorithm: u
                .checksum_algorithm
                .map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
            checksum_type: u
                .checksum_type
                .map(|t| ChecksumType::from(t.as_str().to_owned())),
            initiated: Some(u.initiated.into()),
            initiator: Some(Initiator {
                display_name: None,
                id: Some(u.owner.clone()),
            }),
            key: Some(enc(&u.key)),
            owner: Some(owner(&u.owner)),
            storage_class: Some(StorageClass::from("STANDARD".to_owned())),
            upload_id: Some(u.upload_id.clone()),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket.clone()),
        common_prefixes: (!page.common_prefixes.is_empty()).then(|| {
            page.common_prefixes
                .iter()
                .map(|p| CommonPrefix {
                    prefix: Some(enc(p)),
                })
                .collect()
        }),
        delimiter: i.delimiter.clone(),
        encoding_type: i.encoding_type.clone(),
        is_truncated: Some(page.is_truncated),
        key_marker: Some(enc(i.key_marker.as_deref().unwrap_or_default())),
        max_uploads: i32::try_from(max).ok(),
        next_key_marker: page.next_key_marker.as_deref().map(&enc),
        next_upload_id_marker: page.next_upload_id_marker.clone(),
        prefix: Some(enc(i.prefix.as_deref().unwrap_or_default())),
        upload_id_marker: Some(i.upload_id_marker.clone().unwrap_or_default()),
        uploads: Some(uploads),
        ..Default::default()
    }))
}
