//! Single objects: put/get/head with metadata and checksums, input errors, conditional reads
//! and writes, tagging, attributes, copy, concurrency.

use std::convert::Infallible;

use bytes::Bytes;
use objects::{
    ByteRange, ChecksumAlgorithm, Encryption, EncryptionDescriptor, LateChecksum, ObjectError,
    ObjectInfo, ObjectMetadata, PutObject, ReadConditions, Tag, WriteConditions,
};
use time::Duration;
use zeroize::Zeroizing;

use crate::both;
use crate::support::*;

async fn put_get_head_inline_and_blob(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "bkt").await;
    for (key, len) in [
        ("empty", 0),
        ("small", 100),
        ("edge", 3000),
        ("large", 200_000),
    ] {
        let data = pattern(len as u64, len);
        let mut req = put_req("bkt", key, len);
        req.metadata = ObjectMetadata {
            content_type: Some("image/png".into()),
            cache_control: Some("max-age=60".into()),
            content_disposition: Some("attachment".into()),
            user: [("owner".to_owned(), "alice".to_owned())].into(),
            ..Default::default()
        };
        req.checksum_algorithm = Some(ChecksumAlgorithm::Sha256);
        let out = h.objects.put_object(req, body(&data)).await.unwrap();
        assert_eq!(out.version_id, "null");
        assert_eq!(out.size, len as u64);
        assert_eq!(out.etag, hex::encode(md5_of(&data)));
        let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
        assert_eq!(out.checksum.as_ref().unwrap().value, b64(sha.as_ref()));

        let info = h.objects.head_object("bkt", key, None).unwrap();
        assert_eq!(info.size, len as u64);
        assert_eq!(info.etag, out.etag);
        assert_eq!(info.quoted_etag(), format!("\"{}\"", out.etag));
        assert_eq!(info.metadata.content_type.as_deref(), Some("image/png"));
        assert_eq!(info.metadata.user["owner"], "alice");
        assert_eq!(info.descriptor, enc().descriptor);
        assert_eq!(info.storage_class, "STANDARD");
        assert!(info.is_latest);
        assert_eq!(get(&h, "bkt", key, None).await.unwrap(), data);
    }
    // Replacing (unversioned) returns the new bytes.
    put(&h, "bkt", "large", b"now small").await;
    assert_eq!(get(&h, "bkt", "large", None).await.unwrap(), b"now small");
    // Default checksum is CRC64NVME.
    let out = put(&h, "bkt", "crc", b"hello world").await;
    let c = out.checksum.unwrap();
    assert_eq!(
        (c.algorithm, c.value.as_str()),
        (ChecksumAlgorithm::Crc64Nvme, "jSnVw/bqjr4=")
    );
}
both!(put_get_head_inline_and_blob);

fn md5_of(d: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(d).into()
}

fn b64(d: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(d)
}

async fn input_errors_never_change_the_object(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    let v1 = pattern(1, 50_000);
    put(&h, "bkt", "k", &v1).await;
    let big = pattern(2, 60_000);

    let mut req = put_req("bkt", "k", big.len());
    req.content_md5 = Some(b64(&md5_of(b"something else")));
    let e = o.put_object(req, body(&big)).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("BadDigest", 400));

    let mut req = put_req("bkt", "k", big.len());
    req.content_md5 = Some("not base64!".into());
    assert_eq!(
        o.put_object(req, body(&big)).await.unwrap_err().code(),
        "InvalidDigest"
    );

    let mut req = put_req("bkt", "k", big.len());
    req.checksums = vec![(ChecksumAlgorithm::Crc32, "AAAAAA==".into())];
    let e = o.put_object(req, body(&big)).await.unwrap_err();
    assert_eq!(e.code(), "BadDigest");
    assert!(
        e.to_string()
            .contains("The CRC32 you specified did not match the calculated checksum."),
        "{e}"
    );

    let mut req = put_req("bkt", "k", big.len() + 1);
    req.content_md5 = None;
    assert_eq!(
        o.put_object(req, body(&big)).await.unwrap_err().code(),
        "IncompleteBody"
    );
    let req = put_req("bkt", "k", big.len() - 1);
    assert_eq!(
        o.put_object(req, body(&big)).await.unwrap_err().code(),
        "IncompleteBody"
    );

    // A body stream that fails midway.
    let failing = futures_util::stream::iter(vec![
        Ok(Bytes::from(vec![1u8; 10_000])),
        Err(std::io::Error::other("connection reset")),
    ]);
    let mut req = put_req("bkt", "k", 0);
    req.content_length = None;
    assert_eq!(
        o.put_object(req, failing).await.unwrap_err().code(),
        "IncompleteBody"
    );

    let long = "k".repeat(1025);
    let e = o
        .put_object(put_req("bkt", &long, 1), body(b"x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "KeyTooLongError");
    o.put_object(put_req("bkt", &"k".repeat(1024), 1), body(b"x"))
        .await
        .unwrap();

    let mut req = put_req("bkt", "k", 1);
    req.metadata.user.insert("big".into(), "v".repeat(2046));
    assert_eq!(
        o.put_object(req, body(b"x")).await.unwrap_err().code(),
        "MetadataTooLarge"
    );

    let mut req = put_req("bkt", "k", 1);
    req.tags = (0..11).map(|i| Tag::new(format!("t{i}"), "v")).collect();
    assert_eq!(
        o.put_object(req, body(b"x")).await.unwrap_err().code(),
        "InvalidTag"
    );

    let e = o
        .put_object(put_req("nope", "k", 1), body(b"x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchBucket");
    assert_eq!(
        get(&h, "nope", "k", None).await.unwrap_err().code(),
        "NoSuchBucket"
    );
    assert_eq!(
        get(&h, "bkt", "missing", None).await.unwrap_err().code(),
        "NoSuchKey"
    );

    // After all of that, GET still returns the first version, and no blob leaked.
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), v1);
    let report = o.collect_garbage(std::time::Duration::ZERO).await.unwrap();
    assert_eq!(report.deleted, 0, "{report:?}");
}
both!(input_errors_never_change_the_object);

/// Trailing checksums (known only after the body): a match is stored, a mismatch is BadDigest
/// and leaves the previous version and no blob behind, inline and blob-sized alike.
async fn late_checksums_are_verified(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    for len in [100, 200_000] {
        let v1 = pattern(1, len);
        put(&h, "bkt", "k", &v1).await;
        let data = pattern(2, len);
        let mut req = put_req("bkt", "crc", data.len());
        req.checksum_algorithm = Some(ChecksumAlgorithm::Crc32);
        let crc = o
            .put_object(req, body(&data))
            .await
            .unwrap()
            .checksum
            .unwrap();

        let (wrong, late) = trailed(&data, ChecksumAlgorithm::Crc32, "AAAAAA==");
        let mut req = put_req("bkt", "k", data.len());
        req.late_checksum = Some(late);
        let e = o.put_object(req, wrong).await.unwrap_err();
        assert_eq!((e.code(), e.status()), ("BadDigest", 400));
        assert_eq!(
            e.to_string(),
            "The CRC32 you specified did not match the calculated checksum."
        );
        assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), v1);
        let report = o.collect_garbage(std::time::Duration::ZERO).await.unwrap();
        assert_eq!(report.deleted, 0, "{report:?}");

        let (right, late) = trailed(&data, ChecksumAlgorithm::Crc32, &crc.value);
        let mut req = put_req("bkt", "k", data.len());
        req.late_checksum = Some(late);
        let out = o.put_object(req, right).await.unwrap();
        assert_eq!(out.checksum.unwrap(), crc);
        assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), data);

        // A trailer that was announced but never came verifies nothing: refused, nothing stored.
        let mut req = put_req("bkt", "k", data.len());
        req.late_checksum = Some(LateChecksum::new(ChecksumAlgorithm::Crc32, || None));
        let e = o.put_object(req, body(&pattern(3, len))).await.unwrap_err();
        assert_eq!(e.code(), "InvalidRequest");
        assert!(e.to_string().contains("x-amz-checksum-crc32"), "{e}");
        assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), data);

        // A trailer besides a checksum header is more than one checksum.
        let (_, late) = trailed(&data, ChecksumAlgorithm::Crc32, &crc.value);
        let mut req = put_req("bkt", "k", data.len());
        req.checksums = vec![(ChecksumAlgorithm::Crc32, crc.value.clone())];
        req.late_checksum = Some(late);
        let e = o.put_object(req, body(&data)).await.unwrap_err();
        assert_eq!(e.code(), "InvalidRequest");
    }
}
both!(late_checksums_are_verified);

async fn wrong_key_is_refused(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "bkt").await;
    for (key, len) in [("s", 10), ("l", 100_000)] {
        put(&h, "bkt", key, &pattern(3, len)).await;
        let info = h.objects.head_object("bkt", key, None).unwrap();
        let e = h
            .objects
            .read_object(&info, &[8u8; 32], None)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.status()), ("AccessDenied", 403));
        let e = h
            .objects
            .read_object(&info, &[8u8; 32], Some((5, 6)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "AccessDenied");
    }
}
both!(wrong_key_is_refused);

async fn conditional_reads_follow_s3_precedence(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "bkt").await;
    put(&h, "bkt", "k", b"data").await;
    let info = h.objects.head_object("bkt", "k", None).unwrap();
    let etag = info.quoted_etag();
    let before = info.last_modified - Duration::hours(1);
    let after = info.last_modified + Duration::hours(1);
    let c = |im: Option<&str>, inm: Option<&str>, ims, ius| ReadConditions {
        if_match: im.map(str::to_owned),
        if_none_match: inm.map(str::to_owned),
        if_modified_since: ims,
        if_unmodified_since: ius,
    };
    let code = |r: Result<(), ObjectError>| r.err().map(|e| e.code());
    assert_eq!(code(c(Some(&etag), None, None, None).check(&info)), None);
    assert_eq!(
        code(c(Some("\"other\""), None, None, None).check(&info)),
        Some("PreconditionFailed")
    );
    assert_eq!(code(c(Some("*"), None, None, None).check(&info)), None);
    // If-Match true wins over a failing If-Unmodified-Since.
    assert_eq!(
        code(c(Some(&etag), None, None, Some(before)).check(&info)),
        None
    );
    assert_eq!(
        code(c(None, None, None, Some(before)).check(&info)),
        Some("PreconditionFailed")
    );
    assert_eq!(code(c(None, None, None, Some(after)).check(&info)), None);
    assert_eq!(
        code(c(None, Some(&etag), None, None).check(&info)),
        Some("NotModified")
    );
    assert_eq!(code(c(None, Some("\"x\""), None, None).check(&info)), None);
    // If-None-Match false (etag differs) ignores If-Modified-Since; matching wins with 304.
    assert_eq!(
        code(c(None, Some("\"x\""), Some(after), None).check(&info)),
        None
    );
    assert_eq!(
        code(c(None, Some(&etag), Some(before), None).check(&info)),
        Some("NotModified")
    );
    assert_eq!(
        code(c(None, None, Some(after), None).check(&info)),
        Some("NotModified")
    );
    assert_eq!(code(c(None, None, Some(before), None).check(&info)), None);
    // 412 takes precedence over 304.
    assert_eq!(
        code(c(Some("\"x\""), Some(&etag), None, None).check(&info)),
        Some("PreconditionFailed")
    );
    // Copy sources turn 304 into 412.
    assert_eq!(
        code(c(None, Some(&etag), None, None).check_copy_source(&info)),
        Some("PreconditionFailed")
    );
    let e = h
        .objects
        .get_object(
            "bkt",
            "k",
            None,
            &c(None, Some(&etag), None, None),
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 304);
    // Ranges.
    let (_, s) = h
        .objects
        .get_object(
            "bkt",
            "k",
            None,
            &ReadConditions::default(),
            Some(ByteRange::Suffix(2)),
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await
        .unwrap();
    assert_eq!(s.range, Some((2, 3)));
    assert_eq!(s.collect_bytes().await.unwrap(), b"ta");
    for bad in [
        ByteRange::From(4),
        ByteRange::FromTo(9, 12),
        ByteRange::Suffix(0),
    ] {
        let e = bad.resolve(4).unwrap_err();
        assert_eq!((e.code(), e.status()), ("InvalidRange", 416));
    }
    assert_eq!(ByteRange::FromTo(1, 100).resolve(4).unwrap(), (1, 3));
    assert_eq!(ByteRange::Suffix(100).resolve(4).unwrap(), (0, 3));
    assert!(ByteRange::From(0).resolve(0).is_err());
}
both!(conditional_reads_follow_s3_precedence);

async fn conditional_writes(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    let star = WriteConditions {
        if_none_match_star: true,
        if_match: None,
    };
    let mut req = put_req("bkt", "k", 1);
    req.conditions = star.clone();
    let first = o.put_object(req, body(b"1")).await.unwrap();
    let mut req = put_req("bkt", "k", 1);
    req.conditions = star.clone();
    assert_eq!(
        o.put_object(req, body(b"2")).await.unwrap_err().status(),
        412
    );

    let mut req = put_req("bkt", "k", 1);
    req.conditions.if_match = Some(format!("\"{}\"", first.etag));
    o.put_object(req, body(b"3")).await.unwrap();
    let mut req = put_req("bkt", "k", 1);
    req.conditions.if_match = Some(format!("\"{}\"", first.etag));
    assert_eq!(
        o.put_object(req, body(b"4")).await.unwrap_err().code(),
        "PreconditionFailed"
    );
    let mut req = put_req("bkt", "absent", 1);
    req.conditions.if_match = Some("\"x\"".into());
    assert_eq!(
        o.put_object(req, body(b"5")).await.unwrap_err().code(),
        "NoSuchKey"
    );
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), b"3");

    // The race: many If-None-Match: * writers, large and small, exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let o = o.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(i, if i % 2 == 0 { 10 } else { 20_000 });
            let mut req = put_req("bkt", "race", data.len());
            req.conditions = WriteConditions {
                if_none_match_star: true,
                if_match: None,
            };
            o.put_object(req, body(&data)).await.map(|_| data)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(d) => winners.push(d),
            Err(e) => assert_eq!(e.code(), "PreconditionFailed"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(get(&h, "bkt", "race", None).await.unwrap(), winners[0]);
    // Losers' blobs were removed.
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
}
both!(conditional_writes);

async fn concurrent_puts_last_committed_wins(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "bkt").await;
    let mut tasks = Vec::new();
    for i in 0..24u64 {
        let o = h.objects.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(100 + i, if i % 3 == 0 { 30_000 } else { 100 + i as usize });
            o.put_object(put_req("bkt", "hot", data.len()), body(&data))
                .await
                .unwrap();
        }));
        let o = h.objects.clone();
        tasks.push(tokio::spawn(async move {
            // Every read sees one complete version or none.
            match get_with(&o).await {
                Ok(d) => assert!((0..24)
                    .any(|i| d
                        == pattern(100 + i, if i % 3 == 0 { 30_000 } else { 100 + i as usize }))),
                Err(e) => assert_eq!(e.code(), "NoSuchKey"),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let final_data = get(&h, "bkt", "hot", None).await.unwrap();
    let info = h.objects.head_object("bkt", "hot", None).unwrap();
    assert_eq!(info.size as usize, final_data.len());
    // Only one version exists, and every replaced blob is gone.
    let versions = h
        .objects
        .list_object_versions(
            "bkt",
            &objects::ListVersions {
                max_keys: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(versions.versions.len(), 1);
    assert_eq!(
        h.objects
            .collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
}
both!(concurrent_puts_last_committed_wins);

async fn get_with(o: &objects::Objects) -> Result<Vec<u8>, ObjectError> {
    let (_, s) = o
        .get_object(
            "bkt",
            "hot",
            None,
            &ReadConditions::default(),
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await?;
    s.collect_bytes().await
}

async fn tagging_and_attributes(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    let mut req = put_req("bkt", "k", 3);
    req.tags = vec![Tag::new("a", "1")];
    o.put_object(req, body(b"abc")).await.unwrap();
    assert_eq!(o.head_object("bkt", "k", None).unwrap().tag_count, 1);
    let (v, tags) = o.object_tagging("bkt", "k", None).unwrap();
    assert_eq!((v.as_str(), tags), ("null", vec![Tag::new("a", "1")]));
    o.put_object_tagging(
        "bkt",
        "k",
        None,
        vec![Tag::new("x", "y"), Tag::new("z", "")],
    )
    .await
    .unwrap();
    assert_eq!(o.object_tagging("bkt", "k", None).unwrap().1.len(), 2);
    assert_eq!(o.head_object("bkt", "k", None).unwrap().tag_count, 2);
    let e = o
        .put_object_tagging(
            "bkt",
            "k",
            None,
            vec![Tag::new("d", "1"), Tag::new("d", "2")],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InvalidTag");
    o.delete_object_tagging("bkt", "k", None).await.unwrap();
    assert!(o.object_tagging("bkt", "k", None).unwrap().1.is_empty());
    assert_eq!(
        o.put_object_tagging("bkt", "nokey", None, vec![])
            .await
            .unwrap_err()
            .code(),
        "NoSuchKey"
    );
    // Tags survive in the listing record (the latest index is rewritten too).
    o.put_object_tagging("bkt", "k", Some("null"), vec![Tag::new("q", "r")])
        .await
        .unwrap();
    assert_eq!(o.head_object("bkt", "k", None).unwrap().tag_count, 1);

    let attrs = o
        .head_object("bkt", "k", None)
        .unwrap()
        .attributes(None, 1000);
    assert_eq!(attrs.object_size, 3);
    assert_eq!(attrs.storage_class, "STANDARD");
    assert_eq!(attrs.parts_count, None);
    assert!(attrs.checksum.is_some());
}
both!(tagging_and_attributes);

async fn copy_reencrypts_under_the_new_key(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "src").await;
    bucket(&h, "dst").await;
    for (key, len) in [("small", 500), ("large", 70_000)] {
        let data = pattern(9, len);
        let mut req = put_req("src", key, len);
        req.metadata.content_type = Some("text/plain".into());
        o.put_object(req, body(&data)).await.unwrap();
        let source = o
            .open_copy_source(
                "src",
                key,
                None,
                &ReadConditions::default(),
                None,
                |_: &ObjectInfo| Ok(data_key()),
            )
            .await
            .unwrap();
        let new_key = Zeroizing::new([42u8; 32]);
        let mut dest = PutObject::new(
            "dst",
            key,
            OWNER,
            Encryption {
                data_key: new_key.clone(),
                descriptor: EncryptionDescriptor(serde_json::json!({"sse": "aws:kms"})),
            },
        );
        dest.metadata = source.info.metadata.clone();
        let out = o.copy_object(source, dest).await.unwrap();
        assert_eq!(out.size, len as u64);
        let info = o.head_object("dst", key, None).unwrap();
        assert_eq!(info.metadata.content_type.as_deref(), Some("text/plain"));
        assert_eq!(info.descriptor.0["sse"], "aws:kms");
        assert_eq!(
            o.read_object(&info, &data_key(), None)
                .await
                .unwrap_err()
                .code(),
            "AccessDenied"
        );
        let got = o
            .read_object(&info, &new_key, None)
            .await
            .unwrap()
            .collect_bytes()
            .await
            .unwrap();
        assert_eq!(got, data);
    }
    // Copy in place (unversioned): the source stays readable until the copy commits.
    let source = o
        .open_copy_source(
            "src",
            "large",
            None,
            &ReadConditions::default(),
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await
        .unwrap();
    o.copy_object(source, put_req("src", "large", 0))
        .await
        .unwrap();
    assert_eq!(
        get(&h, "src", "large", None).await.unwrap(),
        pattern(9, 70_000)
    );
    let e = o
        .open_copy_source(
            "src",
            "large",
            None,
            &ReadConditions {
                if_match: Some("\"nope\"".into()),
                ..Default::default()
            },
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "PreconditionFailed");
}
both!(copy_reencrypts_under_the_new_key);

/// Bodies longer than any buffer stream through (a 3 MiB object in 64 KiB segments).
async fn unknown_length_stream(kind: Kind) {
    let h = harness_with(kind, objects::Config::default()).await;
    bucket(&h, "bkt").await;
    let data = pattern(77, 3 << 20);
    let chunks: Vec<Result<Bytes, Infallible>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut req = put_req("bkt", "k", 0);
    req.content_length = None;
    h.objects
        .put_object(req, futures_util::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), data);
}
both!(unknown_length_stream);
