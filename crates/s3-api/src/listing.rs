//! Listing: ListObjects (V1), ListObjectsV2 and ListObjectVersions over the engine's ordered scans, with
//! `encoding-type=url` as the aws CLI uses it.

use objects::{ListObjects, ListVersions};
use s3s::dto::*;
use s3s::S3Response;

use crate::buckets::owner;
use crate::error::{from_object, invalid_argument, Result};
use crate::front::Shared;
use crate::service::Op;

/// Encodes a key for `encoding-type=url` (slashes kept, as S3 does).
pub(crate) fn encoder(encoding: Option<&EncodingType>) -> Result<impl Fn(&str) -> String> {
    let url = match encoding.map(|e| e.as_str()) {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(invalid_argument(
                "Invalid Encoding Method specified in Request",
            ))
        }
    };
    Ok(move |s: &str| {
        if url {
            sigv4::uri_encode(s).replace("%2F", "/")
        } else {
            s.to_owned()
        }
    })
}

fn max_keys(m: Option<i32>) -> Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(invalid_argument(
            "Provided max-keys not an integer or within integer range",
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

fn object_of(o: &objects::ListedObject, enc: &impl Fn(&str) -> String, with_owner: bool) -> Object {
    Object {
        checksum_algorithm: o
            .checksum_algorithm
            .map(|a| vec![ChecksumAlgorithm::from(a.as_str().to_owned())]),
        checksum_type: o
            .checksum_type
            .map(|t| ChecksumType::from(t.as_str().to_owned())),
        e_tag: Some(ETag::Strong(o.etag.clone())),
        key: Some(enc(&o.key)),
        last_modified: Some(o.last_modified.into()),
        owner: with_owner.then(|| owner(&o.owner)),
        restore_status: None,
        size: i64::try_from(o.size).ok(),
        storage_class: Some(ObjectStorageClass::from(o.storage_class.to_owned())),
    }
}

fn prefixes(p: &[String], enc: &impl Fn(&str) -> String) -> Option<Vec<CommonPrefix>> {
    (!p.is_empty()).then(|| {
        p.iter()
            .map(|x| CommonPrefix {
                prefix: Some(enc(x)),
            })
            .collect()
    })
}

pub(crate) async fn list_objects(
    shared: &Shared,
    op: Op<ListObjectsInput>,
) -> Result<S3Response<ListObjectsOutput>> {
    let i = &op.input;
    let enc = encoder(i.encoding_type.as_ref())?;
    let max = max_keys(i.max_keys)?;
    let page = shared
        .objects
        .list_objects(
            &i.bucket,
            &ListObjects {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone().filter(|d| !d.is_empty()),
                start_after: i.marker.clone().filter(|m| !m.is_empty()),
                continuation_token: None,
                max_keys: max,
            },
        )
        .map_err(from_object)?;
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket.clone()),
        prefix: Some(enc(i.prefix.as_deref().unwrap_or_default())),
        marker: Some(enc(i.marker.as_deref().unwrap_or_default())),
        max_keys: i32::try_from(max).ok(),
        is_truncated: Some(page.is_truncated),
        contents: Some(
            page.objects
                .iter()
                .map(|o| object_of(o, &enc, true))
                .collect(),
        ),
        common_prefixes: prefixes(&page.common_prefixes, &enc),
        delimiter: i.delimiter.as_deref().map(&enc),
        // S3 returns NextMarker only with a delimiter; clients use the last key otherwise.
        next_marker: if page.is_truncated && i.delimiter.is_some() {
            page.next_marker.as_deref().map(&enc)
        } else {
            None
        },
        encoding_type: i.encoding_type.clone(),
        request_charged: None,
    }))
}

pub(crate) async fn list_objects_v2(
    shared: &Shared,
    op: Op<ListObjectsV2Input>,
) -> Result<S3Response<ListObjectsV2Output>> {
    let i = &op.input;
    let enc = encoder(i.encoding_type.as_ref())?;
    let max = max_keys(i.max_keys)?;
    let page = shared
        .objects
        .list_objects(
            &i.bucket,
            &ListObjects {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone().filter(|d| !d.is_empty()),
                start_after: i.start_after.clone().filter(|m| !m.is_empty()),
                continuation_token: i.continuation_token.clone(),
                max_keys: max,
            },
        )
        .map_err(from_object)?;
    let key_count = page.objects.len() + page.common_prefixes.len();
    let fetch_owner = i.fetch_owner.unwrap_or(false);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket.clone()),
        prefix: Some(enc(i.prefix.as_deref().unwrap_or_default())),
        max_keys: i32::try_from(max).ok(),
        key_count: i32::try_from(key_count).ok(),
        continuation_token: i.continuation_token.clone(),
        is_truncated: Some(page.is_truncated),
        next_continuation_token: page.next_continuation_token.clone(),
        contents: Some(
            page.objects
                .iter()
                .map(|o| object_of(o, &enc, fetch_owner))
                .collect(),
        ),
        common_prefixes: prefixes(&page.common_prefixes, &enc),
        delimiter: i.delimiter.as_deref().map(&enc),
        encoding_type: i.encoding_type.clone(),
        start_after: i.start_after.as_deref().map(&enc),
        request_charged: None,
    }))
}

pub(crate) async fn list_object_versions(
    shared: &Shared,
    op: Op<ListObjectVersionsInput>,
) -> Result<S3Response<ListObjectVersionsOutput>> {
    let i = &op.input;
    let enc = encoder(i.encoding_type.as_ref())?;
    let max = max_keys(i.max_keys)?;
    let page = shared
        .objects
        .list_object_versions(
            &i.bucket,
            &ListVersions {
                prefix: i.prefix.clone().unwrap_or_default(),
                delimiter: i.delimiter.clone().filter(|d| !d.is_empty()),
                key_marker: i.key_marker.clone().filter(|m| !m.is_empty()),
                version_id_marker: i.version_id_marker.clone().filter(|m| !m.is_empty()),
                max_keys: max,
            },
        )
        .map_err(from_object)?;
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for v in &page.versions {
        if v.is_delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key)),
                last_modified: Some(v.last_modified.into()),
                owner: Some(owner(&v.owner)),
                version_id: Some(v.version_id.clone()),
            });
        } else {
            versions.push(ObjectVersion {
                checksum_algorithm: v
                    .checksum_algorithm
                    .map(|a| vec![ChecksumAlgorithm::from(a.as_str().to_owned())]),
                checksum_type: None,
                e_tag: Some(ETag::Strong(v.etag.clone())),
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key)),
                last_modified: Some(v.last_modified.into()),
                owner: Some(owner(&v.owner)),
                restore_status: None,
                size: i64::try_from(v.size).ok(),
                storage_class: Some(ObjectVersionStorageClass::from("STANDARD".to_owned())),
                version_id: Some(v.version_id.clone()),
            });
        }
    }
    Ok(S3Response::new(ListObjectVersionsOutput {
        common_prefixes: prefixes(&page.common_prefixes, &enc),
        delete_markers: (!markers.is_empty()).then_some(markers),
        delimiter: i.delimiter.as_deref().map(&enc),
        encoding_type: i.encoding_type.clone(),
        is_truncated: Some(page.is_truncated),
        key_marker: Some(enc(i.key_marker.as_deref().unwrap_or_default())),
        max_keys: i32::try_from(max).ok(),
        name: Some(i.bucket.clone()),
        next_key_marker: page.next_key_marker.as_deref().map(&enc),
        next_version_id_marker: page.next_version_id_marker.clone(),
        prefix: Some(enc(i.prefix.as_deref().unwrap_or_default())),
        request_charged: None,
        version_id_marker: Some(i.version_id_marker.clone().unwrap_or_default()),
        versions: (!versions.is_empty()).then_some(versions),
    }))
}
