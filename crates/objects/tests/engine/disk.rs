//! Tampering, orphan collection, and the scan for plaintext on disk.

use objects::{CreateMultipartUpload, ObjectInfo, ReadConditions, UploadPart};

use crate::both;
use crate::support::*;

/// Reads `key` whole and in a few ranges; every read must fail (never return other bytes).
async fn assert_unreadable(h: &Harness, key: &str, original: &[u8]) {
    let info = h.objects.head_object("tst", key, None).unwrap();
    let len = original.len() as u64;
    for range in [
        None,
        Some((0, 0)),
        Some((len / 2, len - 1)),
        Some((len - 1, len - 1)),
    ] {
        match h.objects.read_object(&info, &data_key(), range).await {
            Err(_) => {}
            Ok(s) => match s.collect_bytes().await {
                Err(_) => {}
                Ok(got) => {
                    // A range that does not touch the damaged segment may still be served, but
                    // only with the right bytes.
                    let (a, b) = range.unwrap_or((0, len - 1));
                    assert_eq!(
                        &got[..],
                        &original[a as usize..=b as usize],
                        "wrong bytes served"
                    );
                    assert!(
                        range.is_some(),
                        "a whole read of a damaged object succeeded"
                    );
                }
            },
        }
    }
}

async fn flipped_inline_byte_is_an_error(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "tst").await;
    let data = pattern(4, 2500);
    put(&h, "tst", "small", &data).await;
    let (key, original) = h
        .store
        .scan("s3.bodies", meta::Range::all())
        .unwrap()
        .pop()
        .unwrap();
    for pos in [0usize, 10, 45, 80, 81, 500, 1100, original.len() - 1] {
        let mut bad = original.clone();
        bad[pos] ^= 0x01;
        let k = key.clone();
        h.store
            .transact(move |txn| {
                txn.put("s3.bodies", k, bad);
                Ok::<_, meta::Error>(())
            })
            .unwrap();
        assert_unreadable(&h, "small", &data).await;
    }
    // Truncated.
    let (k, short) = (key.clone(), original[..original.len() - 20].to_vec());
    h.store
        .transact(move |txn| {
            txn.put("s3.bodies", k, short);
            Ok::<_, meta::Error>(())
        })
        .unwrap();
    assert_unreadable(&h, "small", &data).await;
    // Restored: readable again.
    h.store
        .transact(move |txn| {
            txn.put("s3.bodies", key, original);
            Ok::<_, meta::Error>(())
        })
        .unwrap();
    assert_eq!(get(&h, "tst", "small", None).await.unwrap(), data);
}
both!(flipped_inline_byte_is_an_error);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_blob_byte_is_an_error() {
    let h = harness(Kind::Disk).await;
    bucket(&h, "tst").await;
    let data = pattern(5, 40_000);
    put(&h, "tst", "large", &data).await;
    let id = *h
        .objects
        .referenced_blobs()
        .await
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let path = h.local.as_ref().unwrap().path_of(&id);
    let original = std::fs::read(&path).unwrap();
    for pos in [3usize, 60, 81, 5000, 20_000, original.len() - 1] {
        let mut bad = original.clone();
        bad[pos] ^= 0x80;
        std::fs::write(&path, &bad).unwrap();
        assert_unreadable(&h, "large", &data).await;
    }
    std::fs::write(&path, &original[..original.len() - 1]).unwrap();
    assert_unreadable(&h, "large", &data).await;
    std::fs::remove_file(&path).unwrap();
    assert!(get(&h, "tst", "large", None).await.is_err());
}

async fn gc_removes_only_orphans(kind: Kind) {
    let h = harness(kind).await;
    bucket(&h, "tst").await;
    put(&h, "tst", "kept", &pattern(1, 30_000)).await;
    // An orphan: a committed blob no record names (a crash between the two commits).
    let mut w = blob_store(&h).create().await.unwrap();
    w.write(b"orphan").await.unwrap();
    let orphan = w.commit().await.unwrap();
    let r = h
        .objects
        .collect_garbage(std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        (r.deleted, r.young),
        (0, 1),
        "young orphans survive the grace period"
    );
    let r = h
        .objects
        .collect_garbage(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((r.deleted, r.live), (1, 1));
    assert!(blob_store(&h).len(&orphan).await.is_err());
    assert_eq!(
        get(&h, "tst", "kept", None).await.unwrap(),
        pattern(1, 30_000)
    );
}
both!(gc_removes_only_orphans);

fn blob_store(h: &Harness) -> std::sync::Arc<dyn blob::BlobStore> {
    h.blobs.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_reaches_disk() {
    let h = harness_with(Kind::Disk, objects::Config::default()).await;
    let marker: Vec<u8> = b"KNOWN-PLAINTEXT-4f1c9a2e-never-on-disk-".repeat(40);
    let needle = &marker[..32];
    bucket(&h, "tst").await;
    put(&h, "tst", "small", &marker[..200]).await;
    put(&h, "tst", "inline-max", &marker.repeat(40)[..60_000]).await;
    put(&h, "tst", "large", &marker.repeat(200)).await;
    let o = &h.objects;
    let up = o
        .create_multipart_upload(CreateMultipartUpload {
            bucket: "tst".into(),
            key: "multi".into(),
            owner: OWNER.into(),
            metadata: Default::default(),
            descriptor: enc().descriptor,
            checksum_algorithm: None,
            checksum_type: None,
            tags: vec![],
        })
        .await
        .unwrap();
    let part_data = marker.repeat(140);
    let p = o
        .upload_part(
            UploadPart {
                bucket: "tst".into(),
                key: "multi".into(),
                upload_id: up.upload_id.clone(),
                part_number: 1,
                data_key: data_key(),
                content_length: Some(part_data.len() as u64),
                content_md5: None,
                checksums: vec![],
                late_checksum: None,
            },
            body(&part_data),
        )
        .await
        .unwrap();
    o.complete_multipart_upload(
        "tst",
        "multi",
        &up.upload_id,
        vec![objects::CompletedPart {
            part_number: 1,
            etag: p.etag,
            checksum: None,
        }],
        Default::default(),
    )
    .await
    .unwrap();
    // An upload left in progress too.
    let up = o
        .create_multipart_upload(CreateMultipartUpload {
            bucket: "tst".into(),
            key: "pending".into(),
            owner: OWNER.into(),
            metadata: Default::default(),
            descriptor: enc().descriptor,
            checksum_algorithm: None,
            checksum_type: None,
            tags: vec![],
        })
        .await
        .unwrap();
    o.upload_part(
        UploadPart {
            bucket: "tst".into(),
            key: "pending".into(),
            upload_id: up.upload_id,
            part_number: 1,
            data_key: data_key(),
            content_length: Some(part_data.len() as u64),
            content_md5: None,
            checksums: vec![],
            late_checksum: None,
        },
        body(&part_data),
    )
    .await
    .unwrap();
    let (_, s) = o
        .get_object(
            "tst",
            "large",
            None,
            &ReadConditions::default(),
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await
        .unwrap();
    assert!(
        contains(&s.collect_bytes().await.unwrap(), needle),
        "the marker is really in the data"
    );

    let Harness {
        objects,
        store,
        local,
        blobs,
        dir,
    } = h;
    drop((objects, store, local, blobs));
    let dir = dir.unwrap();
    let files = files_under(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !contains(&bytes, needle),
            "plaintext found in {}",
            f.display()
        );
    }
}
