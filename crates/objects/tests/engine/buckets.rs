//! Buckets and bucket configuration.

use objects::{
    BucketEncryption, CorsRule, CreateMultipartUpload, ObjectError, OwnershipControls,
    PublicAccessBlock, Tag, Versioning,
};

use crate::both;
use crate::support::*;

async fn create_head_list_delete(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    assert!(matches!(
        o.create_bucket("Bad_Name", OWNER, "us-east-1").await,
        Err(ObjectError::InvalidBucketName(_))
    ));
    for name in ["zeta", "alpha", "mid-bucket"] {
        bucket(&h, name).await;
    }
    o.create_bucket("other-owned", OTHER, "eu-west-1")
        .await
        .unwrap();
    let e = o
        .create_bucket("alpha", OWNER, "us-east-1")
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("BucketAlreadyOwnedByYou", 409));
    let e = o
        .create_bucket("alpha", OTHER, "us-east-1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "BucketAlreadyExists");

    let b = o.head_bucket("other-owned").unwrap();
    assert_eq!((b.owner.as_str(), b.region.as_str()), (OTHER, "eu-west-1"));
    assert_eq!(o.head_bucket("nope").unwrap_err().code(), "NoSuchBucket");

    let page = o.list_buckets(OWNER, None, None, 1000).unwrap();
    let names: Vec<_> = page.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mid-bucket", "zeta"]);
    let p1 = o.list_buckets(OWNER, None, None, 2).unwrap();
    assert_eq!(p1.buckets.len(), 2);
    let p2 = o
        .list_buckets(OWNER, None, p1.continuation_token.as_deref(), 2)
        .unwrap();
    assert_eq!(p2.buckets[0].name, "zeta");
    assert!(p2.continuation_token.is_none());
    assert_eq!(
        o.list_buckets(OWNER, Some("m"), None, 10)
            .unwrap()
            .buckets
            .len(),
        1
    );

    o.delete_bucket("zeta").await.unwrap();
    assert_eq!(
        o.delete_bucket("zeta").await.unwrap_err().code(),
        "NoSuchBucket"
    );
    assert_eq!(
        o.list_buckets(OWNER, None, None, 10).unwrap().buckets.len(),
        2
    );
    // The name is free again, for anyone.
    o.create_bucket("zeta", OTHER, "us-east-1").await.unwrap();
}
both!(create_head_list_delete);

async fn bucket_not_empty_counts_versions_markers_and_uploads(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "bkt1").await;
    put(&h, "bkt1", "k", b"x").await;
    assert_eq!(
        o.delete_bucket("bkt1").await.unwrap_err().code(),
        "BucketNotEmpty"
    );
    // Only a delete marker left: still not empty.
    o.put_bucket_versioning("bkt1", Versioning::Enabled)
        .await
        .unwrap();
    let v1 = o.head_object("bkt1", "k", None).unwrap().version_id;
    o.delete_object("bkt1", "k", None, OWNER).await.unwrap();
    o.delete_object("bkt1", "k", Some(&v1), OWNER)
        .await
        .unwrap();
    assert_eq!(o.delete_bucket("bkt1").await.unwrap_err().status(), 409);
    let marker = o
        .list_object_versions(
            "bkt1",
            &objects::ListVersions {
                max_keys: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .versions[0]
        .version_id
        .clone();
    o.delete_object("bkt1", "k", Some(&marker), OWNER)
        .await
        .unwrap();
    // An upload in progress.
    let up = o
        .create_multipart_upload(CreateMultipartUpload {
            bucket: "bkt1".into(),
            key: "m".into(),
            owner: OWNER.into(),
            metadata: Default::default(),
            descriptor: enc().descriptor,
            checksum_algorithm: None,
            checksum_type: None,
            tags: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        o.delete_bucket("bkt1").await.unwrap_err().code(),
        "BucketNotEmpty"
    );
    o.abort_multipart_upload("bkt1", "m", &up.upload_id)
        .await
        .unwrap();
    o.delete_bucket("bkt1").await.unwrap();
}
both!(bucket_not_empty_counts_versions_markers_and_uploads);

async fn configuration_round_trips_and_not_found_errors(kind: Kind) {
    let h = harness(kind).await;
    let o = &h.objects;
    bucket(&h, "cfg").await;
    assert_eq!(o.bucket_versioning("cfg").unwrap(), Versioning::Unversioned);
    assert_eq!(
        o.bucket_encryption("cfg").unwrap_err().code(),
        "ServerSideEncryptionConfigurationNotFoundError"
    );
    assert_eq!(
        o.bucket_policy("cfg").unwrap_err().code(),
        "NoSuchBucketPolicy"
    );
    assert_eq!(
        o.public_access_block("cfg").unwrap_err().code(),
        "NoSuchPublicAccessBlockConfiguration"
    );
    assert_eq!(
        o.bucket_ownership_controls("cfg").unwrap_err().code(),
        "OwnershipControlsNotFoundError"
    );
    assert_eq!(
        o.bucket_cors("cfg").unwrap_err().code(),
        "NoSuchCORSConfiguration"
    );
    assert_eq!(o.bucket_tagging("cfg").unwrap_err().code(), "NoSuchTagSet");
    for e in [
        o.bucket_cors("nope").unwrap_err(),
        o.put_bucket_policy("nope", "{}".into()).await.unwrap_err(),
    ] {
        assert_eq!(e.code(), "NoSuchBucket");
    }

    let sse = BucketEncryption {
        sse_algorithm: "aws:kms".into(),
        kms_key_id: Some("arn:aws:kms:us-east-1:111122223333:key/k".into()),
        bucket_key_enabled: true,
    };
    o.put_bucket_encryption("cfg", sse.clone()).await.unwrap();
    o.put_bucket_policy("cfg", "{\"Version\":\"2012-10-17\"}".into())
        .await
        .unwrap();
    let pab = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: false,
    };
    o.put_public_access_block("cfg", pab).await.unwrap();
    o.put_bucket_ownership_controls(
        "cfg",
        OwnershipControls {
            object_ownership: "BucketOwnerEnforced".into(),
        },
    )
    .await
    .unwrap();
    let cors = vec![CorsRule {
        allowed_methods: vec!["PUT".into()],
        allowed_origins: vec!["https://example.com".into()],
        max_age_seconds: Some(3000),
        ..Default::default()
    }];
    o.put_bucket_cors("cfg", cors.clone()).await.unwrap();
    o.put_bucket_tagging("cfg", vec![Tag::new("team", "a")])
        .await
        .unwrap();
    o.put_bucket_versioning("cfg", Versioning::Enabled)
        .await
        .unwrap();
    assert!(o
        .put_bucket_versioning("cfg", Versioning::Unversioned)
        .await
        .is_err());

    assert_eq!(o.bucket_encryption("cfg").unwrap(), sse);
    assert_eq!(
        o.bucket_policy("cfg").unwrap(),
        "{\"Version\":\"2012-10-17\"}"
    );
    assert_eq!(o.public_access_block("cfg").unwrap(), pab);
    assert_eq!(
        o.bucket_ownership_controls("cfg").unwrap().object_ownership,
        "BucketOwnerEnforced"
    );
    assert_eq!(o.bucket_cors("cfg").unwrap(), cors);
    assert_eq!(
        o.bucket_tagging("cfg").unwrap(),
        vec![Tag::new("team", "a")]
    );
    assert_eq!(o.bucket_versioning("cfg").unwrap(), Versioning::Enabled);

    o.delete_bucket_encryption("cfg").await.unwrap();
    o.delete_bucket_policy("cfg").await.unwrap();
    o.delete_public_access_block("cfg").await.unwrap();
    o.delete_bucket_ownership_controls("cfg").await.unwrap();
    o.delete_bucket_cors("cfg").await.unwrap();
    o.delete_bucket_tagging("cfg").await.unwrap();
    assert_eq!(
        o.bucket_policy("cfg").unwrap_err().code(),
        "NoSuchBucketPolicy"
    );
    assert_eq!(
        o.bucket_cors("cfg").unwrap_err().code(),
        "NoSuchCORSConfiguration"
    );
    assert!(o.bucket_encryption("cfg").is_err());
}
both!(configuration_round_trips_and_not_found_errors);
