//! Range reads equal slices of the plaintext, for inline, blob and multipart objects.

use objects::{CompletedPart, CreateMultipartUpload, UploadPart};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};

use crate::support::*;

pub async fn multipart_object(
    h: &Harness,
    bucket: &str,
    key: &str,
    sizes: &[usize],
    seed: u64,
) -> Vec<u8> {
    let o = &h.objects;
    let up = o
        .create_multipart_upload(CreateMultipartUpload {
            bucket: bucket.into(),
            key: key.into(),
            owner: OWNER.into(),
            metadata: Default::default(),
            descriptor: enc().descriptor,
            checksum_algorithm: None,
            checksum_type: None,
            tags: vec![],
        })
        .await
        .unwrap();
    let mut all = Vec::new();
    let mut done = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let data = pattern(seed + i as u64, size);
        let part = o
            .upload_part(
                UploadPart {
                    bucket: bucket.into(),
                    key: key.into(),
                    upload_id: up.upload_id.clone(),
                    part_number: i as u32 + 1,
                    data_key: data_key(),
                    content_length: Some(size as u64),
                    content_md5: None,
                    checksums: vec![],
                    late_checksum: None,
                },
                body(&data),
            )
            .await
            .unwrap();
        done.push(CompletedPart {
            part_number: part.part_number,
            etag: format!("\"{}\"", part.etag),
            checksum: None,
        });
        all.extend_from_slice(&data);
    }
    o.complete_multipart_upload(bucket, key, &up.upload_id, done, Default::default())
        .await
        .unwrap();
    all
}

fn ranges_equal_slices(kind: Kind) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(harness(kind));
    let objects = rt.block_on(async {
        bucket(&h, "rng").await;
        let inline = pattern(1, 3000);
        put(&h, "rng", "inline", &inline).await;
        let blob = pattern(2, 50_000);
        put(&h, "rng", "blob", &blob).await;
        let exact = pattern(3, 4000);
        put(&h, "rng", "exact-segments", &exact).await;
        let mp = multipart_object(&h, "rng", "multi", &[1500, 2048, 1100, 777], 10).await;
        vec![
            ("inline", inline),
            ("blob", blob),
            ("exact-segments", exact),
            ("multi", mp),
        ]
    });
    let mut runner = TestRunner::new(PropConfig {
        cases: 64,
        failure_persistence: None,
        ..PropConfig::default()
    });
    runner
        .run(
            &(0..objects.len(), any::<u64>(), any::<u64>()),
            |(i, x, y)| {
                let (key, data) = &objects[i];
                let len = data.len() as u64;
                let (a, b) = ((x % len).min(y % len), (x % len).max(y % len));
                let got = rt.block_on(async {
                    let info = h.objects.head_object("rng", key, None).unwrap();
                    let s = h
                        .objects
                        .read_object(&info, &data_key(), Some((a, b)))
                        .await
                        .unwrap();
                    assert_eq!(s.content_length, b - a + 1);
                    s.collect_bytes().await.unwrap()
                });
                prop_assert_eq!(&got[..], &data[a as usize..=b as usize]);
                Ok(())
            },
        )
        .unwrap();
    rt.block_on(async {
        // Part ranges and whole reads of the multipart object.
        let info = h.objects.head_object("rng", "multi", None).unwrap();
        assert_eq!(info.parts_count, Some(4));
        assert_eq!(info.part_range(2).unwrap(), (1500, 3547));
        assert!(info.part_range(5).is_err());
        let whole = h
            .objects
            .read_object(&info, &data_key(), None)
            .await
            .unwrap();
        assert_eq!(whole.collect_bytes().await.unwrap(), objects[3].1);
        let e = h
            .objects
            .read_object(&info, &data_key(), Some((0, 5425)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "InvalidRange");
    });
}

#[test]
fn ranges_equal_slices_memory() {
    ranges_equal_slices(Kind::Memory);
}

#[test]
fn ranges_equal_slices_disk() {
    ranges_equal_slices(Kind::Disk);
}
