//! Multipart uploads: the whole flow, part validation errors, abort, listings, checksums.

use objects::{
    ChecksumAlgorithm, ChecksumType, CompletedPart, CreateMultipartUpload, ListUploads, UploadPart,
    WriteConditions,
};

use crate::both;
use crate::ranges::multipart_object;
use crate::support::*;

fn create(bucket: &str, key: &str) -> CreateMultipartUpload {
    CreateMultipartUpload {
        bucket: bucket.into(),
        key: key.into(),
        owner: OWNER.into(),
        metadata: objects::ObjectMetadata {
            content_type: Some("video/mp4".into()),
            ..Default::default()
        },
        descriptor: enc().descriptor,
        checksum_algorithm: None,
        checksum_type: None,
        tags: vec![objects::Tag::new("t", "1")],
    }
}

fn part(bucket: &str, key: &str, upload: &str, n: u32, len: usize) -> UploadPart {
    UploadPart {
        bucket: bucket.into(),
        key: key.into(),
        upload_id: upload.into(),
        part_number: n,
        data_key: data_key(),
        content_length: Some(len as u64),
        content_md5: None,
        checksums: vec![],
        late_checksum: None,
    }
}

fn md5_hex(d: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(d))
}

async fn complete_flow_and_etag(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "mpu").await;
    let data = multipart_object(&h, "mpu", "video", &[2000, 1500, 10], 1).await;
    assert_eq!(get(&h, "mpu", "video", None).await.unwrap(), data);
    let info = o.head_object("mpu", "video", None).unwrap();
    let md5s: Vec<u8> = [&data[..2000], &data[2000..3500], &data[3500..]]
        .iter()
        .flat_map(|p| hex::decode(md5_hex(p)).unwrap())
        .collect();
    assert_eq!(info.etag, format!("{}-3", md5_hex(&md5s)));
    assert_eq!(info.parts_count, Some(3));
    let attrs = info.attributes(Some(1), 1);
    assert_eq!(attrs.parts.len(), 1);
    assert_eq!((attrs.parts[0].part_number, attrs.parts[0].size), (2, 1500));
    assert!(attrs.parts_truncated);
    assert_eq!(attrs.next_part_number_marker, Some(2));
    // The upload is gone; nothing leaks.
    assert!(o
        .list_multipart_uploads(
            "mpu",
            &ListUploads {
                max_uploads: 10,
                ..Default::default()
            }
        )
        .unwrap()
        .uploads
        .is_empty());
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
    // Metadata and tags from create.
    let up = o
        .create_multipart_upload(create("mpu", "meta"))
        .await
        .unwrap();
    let p = o
        .upload_part(part("mpu", "meta", &up.upload_id, 1, 3), body(b"abc"))
        .await
        .unwrap();
    o.complete_multipart_upload(
        "mpu",
        "meta",
        &up.upload_id,
        vec![CompletedPart {
            part_number: 1,
            etag: p.etag,
            checksum: None,
        }],
        WriteConditions::default(),
    )
    .await
    .unwrap();
    let info = o.head_object("mpu", "meta", None).unwrap();
    assert_eq!(info.metadata.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(info.tag_count, 1);
}
both!(complete_flow_and_etag);

async fn part_validation_errors(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "mpu").await;
    let up = o.create_multipart_upload(create("mpu", "k")).await.unwrap();
    let id = up.upload_id.clone();
    let mut etags = Vec::new();
    for (n, len) in [(1u32, 2000usize), (2, 500), (3, 1500)] {
        let p = o
            .upload_part(part("mpu", "k", &id, n, len), body(&pattern(n as u64, len)))
            .await
            .unwrap();
        etags.push(p.etag);
    }
    // Re-uploading part 3 replaces it.
    let p3 = o
        .upload_part(part("mpu", "k", &id, 3, 1200), body(&pattern(33, 1200)))
        .await
        .unwrap();
    etags[2] = p3.etag.clone();
    let cp = |n: u32, e: &str| CompletedPart {
        part_number: n,
        etag: e.to_owned(),
        checksum: None,
    };
    let complete = |parts: Vec<CompletedPart>| {
        o.complete_multipart_upload("mpu", "k", &id, parts, WriteConditions::default())
    };

    for n in [0u32, 10_001] {
        let e = o
            .upload_part(part("mpu", "k", &id, n, 1), body(b"x"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "InvalidArgument");
    }
    let e = o
        .upload_part(
            part("mpu", "k", "0123456789abcdef0123456789abcdef", 1, 1),
            body(b"x"),
        )
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("NoSuchUpload", 404));
    assert_eq!(
        o.upload_part(part("mpu", "other", &id, 1, 1), body(b"x"))
            .await
            .unwrap_err()
            .code(),
        "NoSuchUpload"
    );
    assert_eq!(complete(vec![]).await.unwrap_err().code(), "InvalidRequest");
    assert_eq!(
        complete(vec![cp(2, &etags[1]), cp(1, &etags[0])])
            .await
            .unwrap_err()
            .code(),
        "InvalidPartOrder"
    );
    assert_eq!(
        complete(vec![cp(1, &etags[0]), cp(1, &etags[0])])
            .await
            .unwrap_err()
            .code(),
        "InvalidPartOrder"
    );
    assert_eq!(
        complete(vec![cp(1, &etags[1])]).await.unwrap_err().code(),
        "InvalidPart"
    );
    assert_eq!(
        complete(vec![cp(1, &etags[0]), cp(4, "x")])
            .await
            .unwrap_err()
            .code(),
        "InvalidPart"
    );
    let e = complete(vec![cp(1, &etags[0]), cp(2, &etags[1]), cp(3, &etags[2])])
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("EntityTooSmall", 400));

    let page = o.list_parts("mpu", "k", &id, None, 2).unwrap();
    assert_eq!(
        page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(page.is_truncated);
    let page = o
        .list_parts("mpu", "k", &id, page.next_part_number_marker, 2)
        .unwrap();
    assert_eq!((page.parts[0].part_number, page.parts[0].size), (3, 1200));
    assert!(!page.is_truncated);

    // Skipping part 2 is allowed; its blob is deleted by complete.
    complete(vec![cp(1, &etags[0]), cp(3, &etags[2])])
        .await
        .unwrap();
    let mut want = pattern(1, 2000);
    want.extend(pattern(33, 1200));
    assert_eq!(get(&h, "mpu", "k", None).await.unwrap(), want);
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
    assert_eq!(
        complete(vec![cp(1, &etags[0])]).await.unwrap_err().code(),
        "NoSuchUpload"
    );
}
both!(part_validation_errors);

async fn abort_and_list_uploads(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "mpu").await;
    let mut ids = Vec::new();
    for key in ["a", "dir/x", "dir/y", "z", "a"] {
        let up = o.create_multipart_upload(create("mpu", key)).await.unwrap();
        o.upload_part(
            part("mpu", key, &up.upload_id, 1, 2000),
            body(&pattern(1, 2000)),
        )
        .await
        .unwrap();
        ids.push((key, up.upload_id));
    }
    let all = o
        .list_multipart_uploads(
            "mpu",
            &ListUploads {
                max_uploads: 100,
                ..Default::default()
            },
        )
        .unwrap();
    let listed: Vec<_> = all.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(listed, ["a", "a", "dir/x", "dir/y", "z"]);
    assert!(all.uploads[0].initiated <= all.uploads[1].initiated);
    let page = o
        .list_multipart_uploads(
            "mpu",
            &ListUploads {
                delimiter: Some("/".into()),
                max_uploads: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.common_prefixes, ["dir/"]);
    assert_eq!(page.uploads.len(), 3);
    let mut req = ListUploads {
        max_uploads: 2,
        ..Default::default()
    };
    let mut paged = Vec::new();
    loop {
        let p = o.list_multipart_uploads("mpu", &req).unwrap();
        paged.extend(p.uploads.iter().map(|u| u.upload_id.clone()));
        if !p.is_truncated {
            break;
        }
        req.key_marker = p.next_key_marker;
        req.upload_id_marker = p.next_upload_id_marker;
    }
    assert_eq!(
        paged,
        all.uploads
            .iter()
            .map(|u| u.upload_id.clone())
            .collect::<Vec<_>>()
    );

    for (key, id) in &ids {
        o.abort_multipart_upload("mpu", key, id).await.unwrap();
    }
    assert_eq!(
        o.abort_multipart_upload("mpu", "a", &ids[0].1)
            .await
            .unwrap_err()
            .code(),
        "NoSuchUpload"
    );
    assert_eq!(
        o.list_parts("mpu", "a", &ids[0].1, None, 10)
            .unwrap_err()
            .code(),
        "NoSuchUpload"
    );
    assert!(o.referenced_blobs().await.unwrap().is_empty());
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
    o.delete_bucket("mpu").await.unwrap();
}
both!(abort_and_list_uploads);

async fn multipart_checksums(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "mpu").await;
    let parts = [pattern(1, 1500), pattern(2, 700)];
    let whole: Vec<u8> = parts.concat();
    for (alg, kind_) in [
        (ChecksumAlgorithm::Crc32, Some(ChecksumType::FullObject)),
        (ChecksumAlgorithm::Crc32c, None),
        (ChecksumAlgorithm::Sha256, None),
        (ChecksumAlgorithm::Crc64Nvme, None),
    ] {
        let mut req = create("mpu", "c");
        req.checksum_algorithm = Some(alg);
        req.checksum_type = kind_;
        let up = o.create_multipart_upload(req).await.unwrap();
        let mut done = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let info = o
                .upload_part(
                    part("mpu", "c", &up.upload_id, i as u32 + 1, p.len()),
                    body(p),
                )
                .await
                .unwrap();
            done.push(CompletedPart {
                part_number: info.part_number,
                etag: info.etag,
                checksum: info.checksum,
            });
        }
        let out = o
            .complete_multipart_upload("mpu", "c", &up.upload_id, done, WriteConditions::default())
            .await
            .unwrap();
        let c = out.checksum.unwrap();
        assert_eq!(c.algorithm, alg);
        match c.kind {
            ChecksumType::FullObject => {
                // Equals the checksum of a single PUT of the same bytes.
                let mut req = put_req("mpu", "single", whole.len());
                req.checksum_algorithm = Some(alg);
                let single = o.put_object(req, body(&whole)).await.unwrap();
                assert_eq!(c.value, single.checksum.unwrap().value, "{alg:?}");
            }
            ChecksumType::Composite => assert!(c.value.ends_with("-2"), "{}", c.value),
        }
    }
    let mut req = create("mpu", "bad");
    req.checksum_algorithm = Some(ChecksumAlgorithm::Crc64Nvme);
    req.checksum_type = Some(ChecksumType::Composite);
    assert_eq!(
        o.create_multipart_upload(req).await.unwrap_err().code(),
        "InvalidRequest"
    );
    // A declared part checksum that does not match.
    let up = o.create_multipart_upload(create("mpu", "d")).await.unwrap();
    let mut p = part("mpu", "d", &up.upload_id, 1, 3);
    p.checksums = vec![(ChecksumAlgorithm::Crc64Nvme, "AAAAAAAAAAA=".into())];
    assert_eq!(
        o.upload_part(p, body(b"abc")).await.unwrap_err().code(),
        "BadDigest"
    );
}
both!(multipart_checksums);

/// A part's trailing checksum: a mismatch is BadDigest and keeps the part uploaded before.
async fn part_late_checksums(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "mpu").await;
    let mut req = create("mpu", "t");
    req.checksum_algorithm = Some(ChecksumAlgorithm::Crc32);
    let up = o.create_multipart_upload(req).await.unwrap();
    let (first, second) = (pattern(1, 2000), pattern(2, 2000));
    let crc = |d: &[u8]| {
        let mut req = put_req("mpu", "crc", d.len());
        req.checksum_algorithm = Some(ChecksumAlgorithm::Crc32);
        let o = o.clone();
        let d = d.to_vec();
        async move {
            o.put_object(req, body(&d))
                .await
                .unwrap()
                .checksum
                .unwrap()
                .value
        }
    };

    let (b, late) = trailed(&first, ChecksumAlgorithm::Crc32, &crc(&first).await);
    let mut p = part("mpu", "t", &up.upload_id, 1, first.len());
    p.late_checksum = Some(late);
    let info = o.upload_part(p, b).await.unwrap();
    assert_eq!(info.checksum, Some(crc(&first).await));

    let (b, late) = trailed(&second, ChecksumAlgorithm::Crc32, &crc(&first).await);
    let mut p = part("mpu", "t", &up.upload_id, 1, second.len());
    p.late_checksum = Some(late);
    let e = o.upload_part(p, b).await.unwrap_err();
    assert_eq!(e.code(), "BadDigest");

    let done = vec![CompletedPart {
        part_number: 1,
        etag: info.etag,
        checksum: info.checksum,
    }];
    o.complete_multipart_upload("mpu", "t", &up.upload_id, done, WriteConditions::default())
        .await
        .unwrap();
    assert_eq!(get(&h, "mpu", "t", None).await.unwrap(), first);
    let report = o.collect_garbage(std::time::Duration::ZERO).await.unwrap();
    assert_eq!(report.deleted, 0, "{report:?}");
}
both!(part_late_checksums);
