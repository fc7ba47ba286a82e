//! The versioning matrix: Unversioned / Enabled / Suspended × put / delete / get by version.

use objects::{ListVersions, Versioning};

use crate::both;
use crate::support::*;

fn versions(h: &Harness, bucket: &str) -> Vec<(String, String, bool, bool)> {
    h.objects
        .list_object_versions(
            bucket,
            &ListVersions {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .unwrap()
        .versions
        .into_iter()
        .map(|v| (v.key, v.version_id, v.is_latest, v.is_delete_marker))
        .collect()
}

async fn unversioned(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    put(&h, "bkt", "k", b"one").await;
    let out = put(&h, "bkt", "k", &pattern(1, 20_000)).await;
    assert_eq!(out.version_id, "null");
    assert_eq!(
        versions(&h, "bkt"),
        [("k".into(), "null".into(), true, false)]
    );
    assert_eq!(
        get(&h, "bkt", "k", Some("null")).await.unwrap(),
        pattern(1, 20_000)
    );
    let e = get(&h, "bkt", "k", Some("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("NoSuchVersion", 404));
    assert_eq!(
        get(&h, "bkt", "k", Some("bogus")).await.unwrap_err().code(),
        "InvalidArgument"
    );
    let d = o.delete_object("bkt", "k", None, OWNER).await.unwrap();
    assert!(!d.delete_marker);
    assert_eq!(
        get(&h, "bkt", "k", None).await.unwrap_err().code(),
        "NoSuchKey"
    );
    assert!(versions(&h, "bkt").is_empty());
    // Deleting what is not there succeeds.
    o.delete_object("bkt", "k", None, OWNER).await.unwrap();
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
}
both!(unversioned);

async fn enabled(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    put(&h, "bkt", "k", b"pre-versioning").await;
    o.put_bucket_versioning("bkt", Versioning::Enabled)
        .await
        .unwrap();
    let v1 = put(&h, "bkt", "k", b"v1").await.version_id;
    let v2 = put(&h, "bkt", "k", &pattern(2, 30_000)).await.version_id;
    assert_ne!(v1, "null");
    assert_ne!(v1, v2);
    assert!(v2 < v1, "ids sort newest first");
    assert!(v1.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        versions(&h, "bkt"),
        [
            ("k".into(), v2.clone(), true, false),
            ("k".into(), v1.clone(), false, false),
            ("k".into(), "null".into(), false, false),
        ]
    );
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), pattern(2, 30_000));
    assert_eq!(get(&h, "bkt", "k", Some(&v1)).await.unwrap(), b"v1");
    assert_eq!(
        get(&h, "bkt", "k", Some("null")).await.unwrap(),
        b"pre-versioning"
    );
    let info = o.head_object("bkt", "k", Some(&v1)).unwrap();
    assert!(!info.is_latest);

    // DELETE without a version adds a marker.
    let d = o.delete_object("bkt", "k", None, OWNER).await.unwrap();
    assert!(d.delete_marker);
    let marker = d.version_id.unwrap();
    let e = get(&h, "bkt", "k", None).await.unwrap_err();
    assert_eq!(
        (e.code(), e.delete_marker()),
        ("NoSuchKey", Some(marker.as_str()))
    );
    let e = o.head_object("bkt", "k", Some(&marker)).unwrap_err();
    assert_eq!((e.code(), e.status()), ("MethodNotAllowed", 405));
    assert_eq!(
        get(&h, "bkt", "k", Some(&v2)).await.unwrap(),
        pattern(2, 30_000)
    );
    assert_eq!(versions(&h, "bkt").len(), 4);
    assert!(versions(&h, "bkt")[0].3);
    let listed = o
        .list_objects(
            "bkt",
            &objects::ListObjects {
                max_keys: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(listed.objects.is_empty(), "a deleted key is not listed");

    // Deleting the marker by id brings v2 back.
    let d = o
        .delete_object("bkt", "k", Some(&marker), OWNER)
        .await
        .unwrap();
    assert!(d.delete_marker);
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), pattern(2, 30_000));
    // Deleting the latest version permanently makes v1 latest.
    o.delete_object("bkt", "k", Some(&v2), OWNER).await.unwrap();
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), b"v1");
    assert_eq!(
        get(&h, "bkt", "k", Some(&v2)).await.unwrap_err().code(),
        "NoSuchVersion"
    );
    // Deleting a version that does not exist succeeds.
    o.delete_object("bkt", "k", Some(&v2), OWNER).await.unwrap();
    assert_eq!(
        o.delete_object("bkt", "k", Some("nonsense"), OWNER)
            .await
            .unwrap_err()
            .code(),
        "InvalidArgument"
    );
    o.delete_object("bkt", "k", Some("null"), OWNER)
        .await
        .unwrap();
    assert_eq!(versions(&h, "bkt"), [("k".into(), v1, true, false)]);
    // The removed versions' blobs are gone.
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
}
both!(enabled);

async fn suspended(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    o.put_bucket_versioning("bkt", Versioning::Enabled)
        .await
        .unwrap();
    let v1 = put(&h, "bkt", "k", b"v1").await.version_id;
    o.put_bucket_versioning("bkt", Versioning::Suspended)
        .await
        .unwrap();
    let n1 = put(&h, "bkt", "k", &pattern(5, 10_000)).await.version_id;
    assert_eq!(n1, "null");
    let n2 = put(&h, "bkt", "k", b"null two").await.version_id;
    assert_eq!(n2, "null");
    // The null version was replaced; v1 stays.
    assert_eq!(
        versions(&h, "bkt"),
        [
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false)
        ]
    );
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), b"null two");
    // DELETE adds a null delete marker replacing the null version.
    let d = o.delete_object("bkt", "k", None, OWNER).await.unwrap();
    assert_eq!(
        (d.version_id.as_deref(), d.delete_marker),
        (Some("null"), true)
    );
    assert_eq!(
        versions(&h, "bkt"),
        [
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1.clone(), false, false)
        ]
    );
    assert_eq!(
        get(&h, "bkt", "k", None).await.unwrap_err().delete_marker(),
        Some("null")
    );
    // Re-enable: new versions get ids, the null marker stays below them.
    o.put_bucket_versioning("bkt", Versioning::Enabled)
        .await
        .unwrap();
    let v3 = put(&h, "bkt", "k", b"v3").await.version_id;
    assert_eq!(versions(&h, "bkt").len(), 3);
    assert_eq!(versions(&h, "bkt")[0].1, v3);
    o.delete_object("bkt", "k", Some("null"), OWNER)
        .await
        .unwrap();
    assert_eq!(versions(&h, "bkt").len(), 2);
    assert_eq!(get(&h, "bkt", "k", None).await.unwrap(), b"v3");
    assert_eq!(
        o.collect_garbage(std::time::Duration::ZERO)
            .await
            .unwrap()
            .deleted,
        0
    );
}
both!(suspended);

async fn version_listing_pages_with_markers(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt").await;
    o.put_bucket_versioning("bkt", Versioning::Enabled)
        .await
        .unwrap();
    for key in ["a", "b/x", "b/y", "c"] {
        for i in 0..3u8 {
            put(&h, "bkt", key, &[i]).await;
        }
    }
    o.delete_object("bkt", "c", None, OWNER).await.unwrap();
    let all = versions(&h, "bkt");
    assert_eq!(all.len(), 13);
    // Page through two at a time and compare with the one-shot listing.
    let mut paged = Vec::new();
    let mut req = ListVersions {
        max_keys: 2,
        ..Default::default()
    };
    loop {
        let page = o.list_object_versions("bkt", &req).unwrap();
        paged.extend(
            page.versions
                .into_iter()
                .map(|v| (v.key, v.version_id, v.is_latest, v.is_delete_marker)),
        );
        if !page.is_truncated {
            break;
        }
        req.key_marker = page.next_key_marker;
        req.version_id_marker = page.next_version_id_marker;
    }
    assert_eq!(paged, all);
    // Delimiter: b/ rolls up.
    let page = o
        .list_object_versions(
            "bkt",
            &ListVersions {
                delimiter: Some("/".into()),
                max_keys: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.common_prefixes, ["b/"]);
    assert_eq!(page.versions.len(), 7);
    let page = o
        .list_object_versions(
            "bkt",
            &ListVersions {
                prefix: "b/".into(),
                max_keys: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.versions.len(), 6);
    // key-marker alone skips all versions of that key.
    let page = o
        .list_object_versions(
            "bkt",
            &ListVersions {
                key_marker: Some("b/x".into()),
                max_keys: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.versions[0].key, "b/y");
    assert!(page.versions[0].is_latest);
}
both!(version_listing_pages_with_markers);
