//! Integration tests of the KMS engine over `meta::MemoryBackend` and (for durability and at-rest secrecy)
//! `meta::RedbBackend` in a temporary directory.

use std::sync::Arc;

use kms::{
    CreateGrantInput, CreateKeyInput, DataKeySpec, EncryptionContext, GrantConstraints, KeyManager,
    KeyRecord, KeyState, Kms, KmsError, RotationType, Tag,
};
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const REGION: &str = "us-east-1";

fn engine() -> Kms {
    let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
    Kms::new(store, Arc::new(crypto::RootKey::generate()))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn code<T: std::fmt::Debug>(r: Result<T, KmsError>) -> &'static str {
    r.unwrap_err().code()
}

async fn new_key(kms: &Kms, account: &str, region: &str) -> KeyRecord {
    let m = kms
        .create_key(account, region, CreateKeyInput::default())
        .await
        .unwrap();
    kms.resolve(account, region, &m.key_id).unwrap()
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

#[test]
fn create_describe_and_list_keys() {
    rt().block_on(async {
        let kms = engine();
        let m = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    description: Some("invoices".into()),
                    tags: vec![Tag {
                        key: "team".into(),
                        value: "billing".into(),
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            m.arn,
            format!("arn:aws:kms:{REGION}:{ACCT}:key/{}", m.key_id)
        );
        assert!(m.enabled);
        assert_eq!(m.key_state, KeyState::Enabled);
        assert_eq!(m.key_manager, KeyManager::Customer);
        assert_eq!(m.current_key_material_id.len(), 64);
        let json = serde_json::to_value(&m).unwrap();
        for field in [
            "AWSAccountId",
            "KeyId",
            "Arn",
            "CreationDate",
            "Enabled",
            "Description",
            "KeyUsage",
            "KeyState",
            "Origin",
            "KeyManager",
            "CustomerMasterKeySpec",
            "KeySpec",
            "EncryptionAlgorithms",
            "MultiRegion",
            "CurrentKeyMaterialId",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["EncryptionAlgorithms"][0], "SYMMETRIC_DEFAULT");
        assert_eq!(json["KeySpec"], "SYMMETRIC_DEFAULT");
        assert_eq!(json["KeyUsage"], "ENCRYPT_DECRYPT");
        assert!(
            json.get("DeletionDate").is_none() && json.get("MultiRegionConfiguration").is_none()
        );

        let key = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        assert!(key.policy_text().contains("\"Id\" : \"key-default-1\""));
        assert!(key
            .policy_text()
            .contains(&format!("arn:aws:iam::{ACCT}:root")));
        assert_eq!(kms.metadata(&key), m);

        for _ in 0..4 {
            new_key(&kms, ACCT, REGION).await;
        }
        new_key(&kms, ACCT, "eu-west-1").await;
        new_key(&kms, OTHER, REGION).await;
        let p1 = kms.list_keys(ACCT, REGION, None, 3).unwrap();
        assert_eq!(p1.items.len(), 3);
        let p2 = kms
            .list_keys(ACCT, REGION, p1.next_marker.as_deref(), 3)
            .unwrap();
        assert_eq!(p2.items.len(), 2);
        assert!(p2.next_marker.is_none());
        assert!(p1
            .items
            .iter()
            .chain(&p2.items)
            .all(|k| k.account() == ACCT && k.region() == REGION));
        assert_eq!(
            code(kms.list_keys(ACCT, REGION, None, 0)),
            "ValidationException"
        );

        let bad = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    key_spec: Some("RSA_2048".into()),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(code(bad), "UnsupportedOperationException");
        let bad = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    policy: Some("{not json".into()),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(code(bad), "MalformedPolicyDocumentException");
        let bad = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    tags: vec![Tag {
                        key: "aws:x".into(),
                        value: String::new(),
                    }],
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(code(bad), "TagException");
    });
}

#[test]
fn resolve_by_every_reference_form() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        kms.create_alias(ACCT, REGION, "alias/app", &key)
            .await
            .unwrap();
        for r in [
            key.key_id().to_owned(),
            key.arn().to_owned(),
            "alias/app".to_owned(),
            format!("arn:aws:kms:{REGION}:{ACCT}:alias/app"),
        ] {
            assert_eq!(
                kms.resolve(ACCT, REGION, &r).unwrap().arn(),
                key.arn(),
                "{r}"
            );
        }
        // A key ARN resolves in its own namespace, whoever asks (cross-account use).
        assert_eq!(
            kms.resolve(OTHER, "eu-west-1", key.arn()).unwrap().arn(),
            key.arn()
        );
        // A bare id does not leave the caller's namespace.
        let e = kms.resolve(OTHER, REGION, key.key_id()).unwrap_err();
        assert_eq!(e.code(), "NotFoundException");
        assert_eq!(
            e.to_string(),
            format!(
                "Key 'arn:aws:kms:{REGION}:{OTHER}:key/{}' does not exist",
                key.key_id()
            )
        );
        let e = kms.resolve(ACCT, REGION, "alias/nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Alias arn:aws:kms:{REGION}:{ACCT}:alias/nope is not found.")
        );
        assert_eq!(
            kms.resolve(ACCT, REGION, "garbage")
                .unwrap_err()
                .to_string(),
            "Invalid keyId 'garbage'"
        );
        assert_eq!(
            code(kms.resolve(ACCT, REGION, "arn:aws:s3:::bucket")),
            "InvalidArnException"
        );
        assert_eq!(code(kms.resolve(ACCT, REGION, "")), "ValidationException");
    });
}

#[test]
fn description_enable_disable() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        kms.update_key_description(&key, "new words").await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(kms.metadata(&key).description, "new words");
        assert_eq!(
            code(kms.update_key_description(&key, &"x".repeat(8193)).await),
            "ValidationException"
        );
        kms.disable_key(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(key.state(), KeyState::Disabled);
        assert!(!kms.metadata(&key).enabled);
        let e = kms.encrypt(&key, b"x", &ctx(&[])).unwrap_err();
        assert_eq!(e.code(), "DisabledException");
        assert_eq!(e.to_string(), format!("{} is disabled.", key.arn()));
        kms.enable_key(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert!(kms.encrypt(&key, b"x", &ctx(&[])).is_ok());
    });
}

#[test]
fn encrypt_decrypt_contexts_tampering_and_wrong_key() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let other = new_key(&kms, ACCT, REGION).await;
        let mut c1 = EncryptionContext::new();
        c1.insert("b".into(), "2".into());
        c1.insert("a".into(), "1".into());
        let mut c2 = EncryptionContext::new();
        c2.insert("a".into(), "1".into());
        c2.insert("b".into(), "2".into());
        let blob = kms.encrypt(&key, b"attack at dawn", &c1).unwrap();
        assert_eq!(kms.ciphertext_key_id(&blob).unwrap(), key.arn());
        let d = kms.decrypt(&key, &blob, &c2).unwrap();
        assert_eq!(&d.plaintext[..], b"attack at dawn");
        assert_eq!(d.material_id, key.current_material_id());
        assert_eq!(
            kms.resolve_ciphertext_key(ACCT, REGION, &blob)
                .unwrap()
                .arn(),
            key.arn()
        );

        for wrong in [
            ctx(&[]),
            ctx(&[("a", "1")]),
            ctx(&[("a", "1"), ("b", "3")]),
            ctx(&[("a", "1"), ("b", "2"), ("c", "")]),
        ] {
            assert_eq!(
                code(kms.decrypt(&key, &blob, &wrong)),
                "InvalidCiphertextException"
            );
        }
        for i in 0..blob.len() {
            for bit in [0, 7] {
                let mut t = blob.clone();
                t[i] ^= 1 << bit;
                assert_eq!(
                    code(kms.decrypt(&key, &t, &c1)),
                    "InvalidCiphertextException",
                    "byte {i} bit {bit}"
                );
            }
        }
        assert_eq!(
            code(kms.decrypt(&key, &blob[..blob.len() - 1], &c1)),
            "InvalidCiphertextException"
        );
        assert_eq!(
            code(kms.decrypt(&other, &blob, &c1)),
            "IncorrectKeyException"
        );
        assert_eq!(
            code(kms.ciphertext_key_id(b"garbage")),
            "InvalidCiphertextException"
        );
        assert_eq!(code(kms.ciphertext_key_id(b"")), "ValidationException");
        assert_eq!(code(kms.encrypt(&key, b"", &c1)), "ValidationException");
        assert_eq!(
            code(kms.encrypt(&key, &[0; 4097], &c1)),
            "ValidationException"
        );
        assert!(kms.encrypt(&key, &[0; 4096], &c1).is_ok());
    });
}

#[test]
fn data_keys_and_random() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]);
        for (spec, n) in [
            (DataKeySpec::Aes256, 32),
            (DataKeySpec::Aes128, 16),
            (DataKeySpec::Bytes(1024), 1024),
        ] {
            let dk = kms.generate_data_key(&key, spec, &c).unwrap();
            assert_eq!(dk.plaintext.len(), n);
            assert_eq!(dk.material_id, key.current_material_id());
            assert_eq!(
                kms.decrypt(&key, &dk.ciphertext, &c).unwrap().plaintext,
                dk.plaintext
            );
        }
        assert_eq!(
            code(kms.generate_data_key(&key, DataKeySpec::Bytes(0), &c)),
            "ValidationException"
        );
        assert_eq!(
            code(kms.generate_data_key(&key, DataKeySpec::Bytes(1025), &c)),
            "ValidationException"
        );
        assert_eq!(kms.generate_random(1024).unwrap().len(), 1024);
        assert_ne!(
            kms.generate_random(32).unwrap(),
            kms.generate_random(32).unwrap()
        );
        assert_eq!(code(kms.generate_random(0)), "ValidationException");
        assert_eq!(code(kms.generate_random(1025)), "ValidationException");
    });
}

#[test]
fn deletion_lifecycle_and_destruction() {
    rt().block_on(async {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let kms = Kms::new(store.clone(), Arc::new(crypto::RootKey::generate()));
        let key = new_key(&kms, ACCT, REGION).await;
        let c = ctx(&[("k", "v")]);
        let blob = kms.encrypt(&key, b"data", &c).unwrap();
        assert_eq!(
            code(kms.schedule_key_deletion(&key, Some(6), t0()).await),
            "ValidationException"
        );
        assert_eq!(
            code(kms.schedule_key_deletion(&key, Some(31), t0()).await),
            "ValidationException"
        );
        let date = kms
            .schedule_key_deletion(&key, Some(7), t0())
            .await
            .unwrap();
        assert_eq!(date, t0() + Duration::days(7));
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        let m = kms.metadata(&key);
        assert_eq!(
            (
                m.key_state,
                m.deletion_date,
                m.pending_deletion_window_in_days
            ),
            (KeyState::PendingDeletion, Some(date), Some(7))
        );
        let e = kms.decrypt(&key, &blob, &c).unwrap_err();
        assert_eq!(e.code(), "KMSInvalidStateException");
        assert_eq!(e.to_string(), format!("{} is pending deletion.", key.arn()));
        assert_eq!(
            code(kms.encrypt(&key, b"x", &c)),
            "KMSInvalidStateException"
        );
        assert_eq!(code(kms.enable_key(&key).await), "KMSInvalidStateException");
        assert_eq!(
            code(kms.schedule_key_deletion(&key, None, t0()).await),
            "KMSInvalidStateException"
        );
        kms.cancel_key_deletion(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(key.state(), KeyState::Disabled);
        assert_eq!(
            code(kms.cancel_key_deletion(&key).await),
            "KMSInvalidStateException"
        );
        assert_eq!(code(kms.decrypt(&key, &blob, &c)), "DisabledException");
        kms.enable_key(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(
            &kms.decrypt(&key, &blob, &c).unwrap().plaintext[..],
            b"data"
        );

        // Destruction happens at the deletion date, not before, and takes the material with it.
        kms.create_alias(ACCT, REGION, "alias/doomed", &key)
            .await
            .unwrap();
        kms.create_grant(
            &key,
            grant_input("arn:aws:iam::111122223333:role/r", &["Decrypt"]),
            ACCT,
        )
        .await
        .unwrap();
        let keep = new_key(&kms, ACCT, REGION).await;
        let date = kms.schedule_key_deletion(&key, None, t0()).await.unwrap();
        assert_eq!(date, t0() + Duration::days(30));
        let r = kms.run_due(date - Duration::seconds(1)).await.unwrap();
        assert!(r.deleted.is_empty());
        assert!(kms.resolve(ACCT, REGION, key.key_id()).is_ok());
        let r = kms.run_due(date).await.unwrap();
        assert_eq!(r.deleted, vec![key.arn().to_owned()]);
        assert_eq!(
            code(kms.resolve(ACCT, REGION, key.key_id())),
            "NotFoundException"
        );
        assert_eq!(
            code(kms.resolve(ACCT, REGION, "alias/doomed")),
            "NotFoundException"
        );
        let prefix = format!("{ACCT}/{}/", key.key_id());
        assert!(store
            .scan("kms.materials", meta::Range::prefix(prefix.as_bytes()))
            .unwrap()
            .is_empty());
        assert!(store
            .scan("kms.grants", meta::Range::all())
            .unwrap()
            .is_empty());
        assert!(kms.resolve(ACCT, REGION, keep.key_id()).is_ok());
        // The old key object is useless too: its blob names a key that no longer exists.
        assert_eq!(
            code(kms.resolve_ciphertext_key(ACCT, REGION, &blob)),
            "InvalidCiphertextException"
        );
    });
}

#[test]
fn rotation_automatic_and_on_demand() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let c = ctx(&[("a", "b")]);
        let first = kms.encrypt(&key, b"v0", &c).unwrap();
        let st = kms.rotation_status(&key);
        assert!(!st.enabled && st.next_rotation_date.is_none());
        assert_eq!(
            code(kms.enable_key_rotation(&key, Some(89), t0()).await),
            "ValidationException"
        );
        kms.enable_key_rotation(&key, Some(90), t0()).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        let st = kms.rotation_status(&key);
        assert_eq!(
            (st.enabled, st.period_days, st.next_rotation_date),
            (true, Some(90), Some(t0() + Duration::days(90)))
        );

        assert!(kms
            .run_due(t0() + Duration::days(89))
            .await
            .unwrap()
            .rotated
            .is_empty());
        let r = kms.run_due(t0() + Duration::days(90)).await.unwrap();
        assert_eq!(r.rotated, vec![key.arn().to_owned()]);
        let rotated = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_ne!(rotated.current_material_id(), key.current_material_id());
        assert_eq!(
            kms.rotation_status(&rotated).next_rotation_date,
            Some(t0() + Duration::days(180))
        );
        let second = kms.encrypt(&rotated, b"v1", &c).unwrap();

        kms.rotate_key_on_demand(&rotated, t0()).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        let rots = kms.list_key_rotations(&key, None, 1).unwrap();
        assert_eq!(rots.items.len(), 1);
        assert_eq!(rots.items[0].rotation_type, RotationType::Automatic);
        let rest = kms
            .list_key_rotations(&key, rots.next_marker.as_deref(), 10)
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.items[0].rotation_type, RotationType::OnDemand);
        assert_eq!(rest.items[0].key_material_id, key.current_material_id());
        assert!(rest.next_marker.is_none());
        for (blob, want) in [(&first, &b"v0"[..]), (&second, b"v1")] {
            assert_eq!(&kms.decrypt(&key, blob, &c).unwrap().plaintext[..], want);
        }

        kms.disable_key_rotation(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert!(!kms.rotation_status(&key).enabled);
        // On-demand works without automatic rotation, up to 25 times.
        for _ in 1..25 {
            kms.rotate_key_on_demand(&key, t0()).await.unwrap();
        }
        assert_eq!(
            code(kms.rotate_key_on_demand(&key, t0()).await),
            "LimitExceededException"
        );
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(
            kms.list_key_rotations(&key, None, 100).unwrap().items.len(),
            26
        );
        assert_eq!(&kms.decrypt(&key, &first, &c).unwrap().plaintext[..], b"v0");

        kms.disable_key(&key).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(
            code(kms.enable_key_rotation(&key, None, t0()).await),
            "DisabledException"
        );
        assert_eq!(
            code(kms.rotate_key_on_demand(&key, t0()).await),
            "DisabledException"
        );
    });
}

#[test]
fn rotations_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let root = Arc::new(crypto::RootKey::from_bytes([0x5a; 32]));
    let c = ctx(&[("tenant", "acme")]);
    let (key_id, blobs) = rt().block_on(async {
        let store = meta::Store::new(meta::RedbBackend::open(&path).unwrap()).unwrap();
        let kms = Kms::new(store, root.clone());
        let mut key = new_key(&kms, ACCT, REGION).await;
        let mut blobs = Vec::new();
        for i in 0..6u8 {
            blobs.push((i, kms.encrypt(&key, &[i; 10], &c).unwrap()));
            if i < 5 {
                kms.rotate_key_on_demand(&key, t0()).await.unwrap();
                key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
            }
        }
        (key.key_id().to_owned(), blobs)
    });
    // A new engine over the same file and root key: nothing cached.
    let store = meta::Store::new(meta::RedbBackend::open(&path).unwrap()).unwrap();
    let kms = Kms::new(store, root);
    let key = kms.resolve(ACCT, REGION, &key_id).unwrap();
    assert_eq!(key.materials.versions.len(), 6);
    for (i, blob) in &blobs {
        assert_eq!(
            &kms.decrypt(&key, blob, &c).unwrap().plaintext[..],
            &[*i; 10]
        );
    }
    // A different root key cannot open the material.
    let store2 = {
        drop(kms);
        drop(key);
        meta::Store::new(meta::RedbBackend::open(&path).unwrap()).unwrap()
    };
    let wrong = Kms::new(store2, Arc::new(crypto::RootKey::from_bytes([0x5b; 32])));
    let key = wrong.resolve(ACCT, REGION, &key_id).unwrap();
    assert_eq!(
        code(wrong.decrypt(&key, &blobs[0].1, &c)),
        "KMSInternalException"
    );
}

#[test]
fn no_key_material_in_plaintext_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let materials = rt().block_on(async {
        let store = meta::Store::new(meta::RedbBackend::open(&path).unwrap()).unwrap();
        let kms = Kms::new(store, Arc::new(crypto::RootKey::generate()));
        let mut out = Vec::new();
        let plain = new_key(&kms, ACCT, REGION).await;
        let m = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    multi_region: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mrk = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        kms.replicate_key(&mrk, "eu-west-1", None, None, vec![])
            .await
            .unwrap();
        let managed = kms.aws_managed_key(ACCT, REGION, "s3").await.unwrap();
        for key in [plain, mrk, managed] {
            kms.rotate_key_on_demand(&key, t0()).await.ok();
            let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
            kms.encrypt(&key, b"warm the cache", &ctx(&[])).unwrap();
            for v in &key.materials.versions {
                let bytes = kms.material_for_tests(&key, &v.id).unwrap();
                assert_eq!(bytes.len(), 32);
                out.push(bytes.to_vec());
            }
        }
        out
    });
    assert!(materials.len() >= 5);
    // The store is closed (every handle dropped); scan every file of the data directory.
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for m in &materials {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(m);
            let hexed = hex::encode(m);
            let needles: [&[u8]; 4] = [m, &m[..16], hexed.as_bytes(), b64.as_bytes()];
            for needle in needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "material found in plaintext"
                );
            }
        }
        assert!(
            bytes.windows(8).any(|w| w == b"kms.keys"),
            "the scan reads the real store file"
        );
    }
    assert_eq!(files, 1);
}

fn grant_input(grantee: &str, ops: &[&str]) -> CreateGrantInput {
    CreateGrantInput {
        grantee_principal: grantee.into(),
        operations: ops.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

#[test]
fn grants_with_constraints_listing_and_retirement() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let role = "arn:aws:iam::111122223333:role/app";
        let session = "arn:aws:sts::111122223333:assumed-role/app/s1";
        let user = "arn:aws:iam::111122223333:user/bob";
        let retiree = "arn:aws:iam::111122223333:user/ops";

        let mut sub = grant_input(role, &["Decrypt", "GenerateDataKey"]);
        sub.constraints = Some(GrantConstraints {
            encryption_context_subset: Some(ctx(&[("dept", "finance")])),
            encryption_context_equals: None,
        });
        sub.retiring_principal = Some(retiree.into());
        sub.name = Some("finance".into());
        let (gid, token) = kms.create_grant(&key, sub.clone(), ACCT).await.unwrap();
        assert_eq!(gid.len(), 64);
        // Same name, same parameters: the same grant. Different parameters: a new one.
        assert_eq!(
            kms.create_grant(&key, sub.clone(), ACCT).await.unwrap(),
            (gid.clone(), token.clone())
        );
        let mut sub2 = sub.clone();
        sub2.operations.push("Encrypt".into());
        let (gid2, _) = kms.create_grant(&key, sub2, ACCT).await.unwrap();
        assert_ne!(gid2, gid);

        let mut eq = grant_input(user, &["Encrypt"]);
        eq.constraints = Some(GrantConstraints {
            encryption_context_equals: Some(ctx(&[("a", "1")])),
            encryption_context_subset: None,
        });
        let (gid3, _) = kms.create_grant(&key, eq, ACCT).await.unwrap();

        // Effective immediately, through a fresh snapshot.
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        let fin = ctx(&[("dept", "finance"), ("x", "y")]);
        assert!(kms.grant_allows(&key, session, Some(role), "Decrypt", &fin));
        assert!(kms.grant_allows(
            &key,
            role,
            None,
            "GenerateDataKey",
            &ctx(&[("dept", "finance")])
        ));
        assert!(!kms.grant_allows(
            &key,
            session,
            Some(role),
            "Decrypt",
            &ctx(&[("dept", "hr")])
        ));
        assert!(!kms.grant_allows(&key, session, Some(role), "Decrypt", &ctx(&[])));
        assert!(!kms.grant_allows(&key, session, None, "Decrypt", &fin));
        assert!(!kms.grant_allows(&key, session, Some(role), "ReEncryptFrom", &fin));
        assert!(kms.grant_allows(&key, user, None, "Encrypt", &ctx(&[("a", "1")])));
        assert!(!kms.grant_allows(&key, user, None, "Encrypt", &ctx(&[("a", "1"), ("b", "2")])));
        assert!(!kms.grant_allows(&key, user, None, "Encrypt", &ctx(&[])));

        let all = kms.list_grants(&key, None, None, None, 100).unwrap();
        assert_eq!(all.items.len(), 3);
        let p1 = kms.list_grants(&key, None, None, None, 2).unwrap();
        let p2 = kms
            .list_grants(&key, None, None, p1.next_marker.as_deref(), 2)
            .unwrap();
        assert_eq!(p1.items.len() + p2.items.len(), 3);
        assert!(p2.next_marker.is_none());
        assert_eq!(
            kms.list_grants(&key, Some(&gid3), None, None, 10)
                .unwrap()
                .items[0]
                .grantee_principal,
            user
        );
        assert_eq!(
            kms.list_grants(&key, None, Some(role), None, 10)
                .unwrap()
                .items
                .len(),
            2
        );
        let entry = serde_json::to_value(kms.grant(&key, &gid).unwrap()).unwrap();
        assert_eq!(entry["KeyId"], key.arn());
        assert_eq!(
            entry["Constraints"]["EncryptionContextSubset"]["dept"],
            "finance"
        );
        assert!(entry.get("GrantToken").is_none() && entry.get("token").is_none());

        let retirable = kms.list_retirable_grants(retiree, None, 1).unwrap();
        assert_eq!(retirable.items.len(), 1);
        let more = kms
            .list_retirable_grants(retiree, retirable.next_marker.as_deref(), 10)
            .unwrap();
        assert_eq!(more.items.len(), 1);

        kms.check_grant_tokens(std::slice::from_ref(&token))
            .unwrap();
        assert_eq!(
            code(kms.check_grant_tokens(&["nope".into()])),
            "InvalidGrantTokenException"
        );
        let (arn, g) = kms.grant_by_token(&token).unwrap();
        assert_eq!(
            (arn.as_str(), g.grant_id.as_str()),
            (key.arn(), gid.as_str())
        );
        let retired = kms.retire_grant(&key, &g.grant_id).await.unwrap();
        assert_eq!(retired.grant_id, gid);
        kms.revoke_grant(&key, &gid3).await.unwrap();
        assert_eq!(
            code(kms.revoke_grant(&key, &gid3).await),
            "NotFoundException"
        );
        assert_eq!(
            code(kms.revoke_grant(&key, "bad").await),
            "InvalidGrantIdException"
        );
        assert_eq!(code(kms.grant_by_token(&token)), "NotFoundException");
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert!(!kms.grant_allows(&key, user, None, "Encrypt", &ctx(&[("a", "1")])));
        assert_eq!(
            kms.list_grants(&key, None, None, None, 100)
                .unwrap()
                .items
                .len(),
            1
        );
        assert_eq!(
            kms.list_retirable_grants(retiree, None, 10)
                .unwrap()
                .items
                .len(),
            1
        );
    });
}

#[test]
fn multi_region_keys_share_material() {
    rt().block_on(async {
        let kms = engine();
        let m = kms
            .create_key(
                ACCT,
                REGION,
                CreateKeyInput {
                    multi_region: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(m.key_id.starts_with("mrk-") && m.key_id.len() == 36);
        let primary = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        let r = kms
            .replicate_key(
                &primary,
                "eu-west-1",
                None,
                Some("replica".into()),
                vec![Tag {
                    key: "r".into(),
                    value: "1".into(),
                }],
            )
            .await
            .unwrap();
        assert_eq!(
            r.arn,
            format!("arn:aws:kms:eu-west-1:{ACCT}:key/{}", m.key_id)
        );
        let cfg = r.multi_region_configuration.clone().unwrap();
        assert_eq!(cfg.multi_region_key_type, "REPLICA");
        assert_eq!(cfg.primary_key.region, REGION);
        assert_eq!(cfg.replica_keys.len(), 1);
        assert_eq!(
            code(
                kms.replicate_key(&primary, "eu-west-1", None, None, vec![])
                    .await
            ),
            "AlreadyExistsException"
        );
        assert_eq!(
            code(
                kms.replicate_key(&primary, REGION, None, None, vec![])
                    .await
            ),
            "AlreadyExistsException"
        );
        assert_eq!(
            code(
                kms.replicate_key(&primary, "bad region", None, None, vec![])
                    .await
            ),
            "ValidationException"
        );
        let replica = kms.resolve(ACCT, "eu-west-1", &m.key_id).unwrap();
        assert_eq!(
            code(
                kms.replicate_key(&replica, "ap-south-1", None, None, vec![])
                    .await
            ),
            "UnsupportedOperationException"
        );
        let plain = new_key(&kms, ACCT, REGION).await;
        assert_eq!(
            code(
                kms.replicate_key(&plain, "eu-west-1", None, None, vec![])
                    .await
            ),
            "UnsupportedOperationException"
        );

        let primary = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        let pm = kms.metadata(&primary).multi_region_configuration.unwrap();
        assert_eq!(pm.multi_region_key_type, "PRIMARY");
        assert_eq!(pm.replica_keys[0].arn, r.arn);
        let c = ctx(&[("k", "v")]);
        let from_primary = kms.encrypt(&primary, b"east", &c).unwrap();
        let from_replica = kms.encrypt(&replica, b"west", &c).unwrap();
        assert_eq!(
            &kms.decrypt(&replica, &from_primary, &c).unwrap().plaintext[..],
            b"east"
        );
        assert_eq!(
            &kms.decrypt(&primary, &from_replica, &c).unwrap().plaintext[..],
            b"west"
        );
        // Decrypt without KeyId in the replica's region finds the local copy.
        assert_eq!(
            kms.resolve_ciphertext_key(ACCT, "eu-west-1", &from_primary)
                .unwrap()
                .arn(),
            replica.arn()
        );

        // Rotation is managed on the primary and shared.
        assert_eq!(
            code(kms.rotate_key_on_demand(&replica, t0()).await),
            "UnsupportedOperationException"
        );
        assert_eq!(
            code(kms.enable_key_rotation(&replica, None, t0()).await),
            "UnsupportedOperationException"
        );
        kms.rotate_key_on_demand(&primary, t0()).await.unwrap();
        let replica = kms.resolve(ACCT, "eu-west-1", &m.key_id).unwrap();
        let primary = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        assert_eq!(replica.current_material_id(), primary.current_material_id());
        let rotated = kms.encrypt(&replica, b"after", &c).unwrap();
        assert_eq!(
            &kms.decrypt(&primary, &rotated, &c).unwrap().plaintext[..],
            b"after"
        );
        assert_eq!(
            &kms.decrypt(&replica, &from_primary, &c).unwrap().plaintext[..],
            b"east"
        );

        // A primary with replicas cannot be scheduled for deletion; a replica can, and destroying it keeps the material.
        assert_eq!(
            code(kms.schedule_key_deletion(&primary, None, t0()).await),
            "UnsupportedOperationException"
        );
        kms.update_primary_region(&primary, "eu-west-1")
            .await
            .unwrap();
        let east = kms.resolve(ACCT, REGION, &m.key_id).unwrap();
        let west = kms.resolve(ACCT, "eu-west-1", &m.key_id).unwrap();
        assert!(west.is_primary() && !east.is_primary());
        assert_eq!(
            code(kms.update_primary_region(&west, "ap-south-1").await),
            "NotFoundException"
        );
        let date = kms
            .schedule_key_deletion(&east, Some(7), t0())
            .await
            .unwrap();
        kms.run_due(date).await.unwrap();
        assert_eq!(
            code(kms.resolve(ACCT, REGION, &m.key_id)),
            "NotFoundException"
        );
        let west = kms.resolve(ACCT, "eu-west-1", &m.key_id).unwrap();
        assert!(kms
            .metadata(&west)
            .multi_region_configuration
            .unwrap()
            .replica_keys
            .is_empty());
        assert_eq!(
            &kms.decrypt(&west, &from_primary, &c).unwrap().plaintext[..],
            b"east"
        );
    });
}

#[test]
fn aws_managed_key_is_created_once() {
    rt().block_on(async {
        let kms = engine();
        let (a, b) = tokio::join!(
            kms.aws_managed_key(ACCT, REGION, "s3"),
            kms.aws_managed_key(ACCT, REGION, "s3")
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.arn(), b.arn());
        let c = kms.aws_managed_key(ACCT, REGION, "s3").await.unwrap();
        assert_eq!(a.arn(), c.arn());
        assert_eq!(
            kms.list_keys(ACCT, REGION, None, 10).unwrap().items.len(),
            1
        );
        let m = kms.metadata(&a);
        assert_eq!(m.key_manager, KeyManager::Aws);
        assert_eq!(
            kms.resolve(ACCT, REGION, "alias/aws/s3").unwrap().arn(),
            a.arn()
        );
        assert!(a
            .policy_text()
            .contains(&format!("s3.{REGION}.amazonaws.com")));
        assert!(a
            .policy_text()
            .contains("\"kms:CallerAccount\" : \"111122223333\""));
        kms.key_policy(&a).unwrap();
        assert!(kms.rotation_status(&a).enabled);
        // Another region or account gets its own.
        let other = kms.aws_managed_key(ACCT, "eu-west-1", "s3").await.unwrap();
        assert_ne!(other.arn(), a.arn());
        assert_eq!(
            code(kms.schedule_key_deletion(&a, None, t0()).await),
            "UnsupportedOperationException"
        );
        assert_eq!(
            code(kms.delete_alias(ACCT, REGION, "alias/aws/s3").await),
            "NotAuthorizedException"
        );
        assert_eq!(
            code(kms.aws_managed_key(ACCT, REGION, "S3!").await),
            "ValidationException"
        );
    });
}

#[test]
fn aliases() {
    rt().block_on(async {
        let kms = engine();
        let k1 = new_key(&kms, ACCT, REGION).await;
        let k2 = new_key(&kms, ACCT, REGION).await;
        let elsewhere = new_key(&kms, ACCT, "eu-west-1").await;
        kms.create_alias(ACCT, REGION, "alias/a", &k1)
            .await
            .unwrap();
        kms.create_alias(ACCT, REGION, "alias/b", &k1)
            .await
            .unwrap();
        kms.create_alias(ACCT, REGION, "alias/c", &k2)
            .await
            .unwrap();
        let e = kms
            .create_alias(ACCT, REGION, "alias/a", &k2)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "AlreadyExistsException");
        assert_eq!(
            e.to_string(),
            format!("An alias with the name arn:aws:kms:{REGION}:{ACCT}:alias/a already exists")
        );
        assert_eq!(
            code(kms.create_alias(ACCT, REGION, "alias/aws/x", &k1).await),
            "NotAuthorizedException"
        );
        assert_eq!(
            code(kms.create_alias(ACCT, REGION, "nope", &k1).await),
            "InvalidAliasNameException"
        );
        assert_eq!(
            code(kms.create_alias(ACCT, REGION, "alias/x", &elsewhere).await),
            "NotFoundException"
        );

        let all = kms.list_aliases(ACCT, REGION, None, None, 100).unwrap();
        assert_eq!(
            all.items
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            ["alias/a", "alias/b", "alias/c"]
        );
        assert_eq!(
            all.items[0].arn,
            format!("arn:aws:kms:{REGION}:{ACCT}:alias/a")
        );
        let p1 = kms.list_aliases(ACCT, REGION, Some(&k1), None, 1).unwrap();
        assert_eq!(p1.items[0].name, "alias/a");
        let p2 = kms
            .list_aliases(ACCT, REGION, Some(&k1), p1.next_marker.as_deref(), 1)
            .unwrap();
        assert_eq!(p2.items[0].name, "alias/b");
        assert!(p2.next_marker.is_none());

        kms.update_alias(ACCT, REGION, "alias/a", &k2)
            .await
            .unwrap();
        assert_eq!(
            kms.resolve(ACCT, REGION, "alias/a").unwrap().arn(),
            k2.arn()
        );
        assert_eq!(
            code(kms.update_alias(ACCT, REGION, "alias/zzz", &k2).await),
            "NotFoundException"
        );
        kms.delete_alias(ACCT, REGION, "alias/a").await.unwrap();
        assert_eq!(
            code(kms.delete_alias(ACCT, REGION, "alias/a").await),
            "NotFoundException"
        );
        assert!(kms.alias(ACCT, REGION, "alias/a").unwrap().is_none());
        assert_eq!(
            kms.list_aliases(ACCT, "eu-west-1", None, None, 10)
                .unwrap()
                .items
                .len(),
            0
        );
    });
}

#[test]
fn tags() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        kms.tag_resource(&key, vec![t("a", "1"), t("b", "2")])
            .await
            .unwrap();
        kms.tag_resource(&key, vec![t("a", "3")]).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(
            kms.list_resource_tags(&key, None, 100).unwrap().items,
            vec![t("a", "3"), t("b", "2")]
        );
        let p1 = kms.list_resource_tags(&key, None, 1).unwrap();
        assert_eq!(p1.next_marker.as_deref(), Some("1"));
        assert_eq!(
            kms.list_resource_tags(&key, p1.next_marker.as_deref(), 1)
                .unwrap()
                .items,
            vec![t("b", "2")]
        );
        kms.untag_resource(&key, vec!["a".into(), "missing".into()])
            .await
            .unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(key.tags(), &[t("b", "2")]);
        assert_eq!(
            code(kms.tag_resource(&key, vec![t("aws:reserved", "")]).await),
            "TagException"
        );
        let many: Vec<Tag> = (0..50).map(|i| t(&format!("k{i}"), "")).collect();
        assert_eq!(code(kms.tag_resource(&key, many).await), "TagException");
        assert_eq!(
            code(kms.list_resource_tags(&key, Some("x"), 1)),
            "InvalidMarkerException"
        );
    });
}

#[test]
fn key_policies() {
    rt().block_on(async {
        let kms = engine();
        let key = new_key(&kms, ACCT, REGION).await;
        let p1 = kms.key_policy(&key).unwrap();
        assert!(Arc::ptr_eq(&p1, &kms.key_policy(&key).unwrap()), "parsed once per snapshot");
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}]}"#;
        kms.put_key_policy(&key, "default", doc).await.unwrap();
        let key = kms.resolve(ACCT, REGION, key.key_id()).unwrap();
        assert_eq!(key.policy_text(), doc);
        assert!(kms.key_policy(&key).unwrap().id().is_none());
        assert_eq!(code(kms.put_key_policy(&key, "other", doc).await), "NotFoundException");
        assert_eq!(code(kms.put_key_policy(&key, "default", "{\"Statement\":5}").await), "MalformedPolicyDocumentException");
        let huge = doc.replace("admin", &"a".repeat(33_000));
        assert_eq!(code(kms.put_key_policy(&key, "default", &huge).await), "LimitExceededException");
    });
}

/// Golden files: format v1 bytes for fixed inputs, and records + sealed material written by this release that
/// every later release must keep decrypting. Regenerate (only for a new format version!) with
/// `KMS_UPDATE_GOLDEN=1`.
mod golden {
    use super::*;
    use kms::ciphertext;
    use kms::material::MaterialKey;

    const MATERIAL: [u8; 32] = [0x11; 32];
    const MATERIAL_ID: [u8; 32] = [0x22; 32];
    const NONCE: [u8; 12] = [0x33; 12];
    const ROOT: [u8; 32] = [0x44; 32];
    const KEY_ID: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

    fn dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
    }

    fn golden(name: &str, fresh: &[u8]) -> Vec<u8> {
        let path = dir().join(name);
        if std::env::var_os("KMS_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, fresh).unwrap();
        }
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn arn() -> String {
        kms::key_arn(REGION, ACCT, KEY_ID)
    }

    fn gctx() -> EncryptionContext {
        ctx(&[
            ("purpose", "golden"),
            ("aws:s3:arn", "arn:aws:s3:::bucket/key"),
        ])
    }

    #[test]
    fn v1_blob_bytes_are_stable() {
        let mk = MaterialKey::new(MATERIAL_ID, &MATERIAL).unwrap();
        let blob = ciphertext::seal(
            mk.aead(),
            &arn(),
            &MATERIAL_ID,
            &gctx(),
            b"golden plaintext",
            NONCE,
        )
        .unwrap();
        let want = golden(
            "v1_blob.hex",
            format!("{}\n", hex::encode(&blob)).as_bytes(),
        );
        assert_eq!(hex::encode(&blob), String::from_utf8(want).unwrap().trim());
        let h = ciphertext::parse(&blob).unwrap();
        assert_eq!(
            &ciphertext::open(mk.aead(), &blob, &h, &gctx()).unwrap()[..],
            b"golden plaintext"
        );
    }

    #[test]
    fn old_records_and_blobs_keep_decrypting_through_the_engine() {
        let root = crypto::RootKey::from_bytes(ROOT);
        let aad = kms::material::aad(&arn(), &hex::encode(MATERIAL_ID));
        let fresh_sealed = crypto::RootOfTrust::seal(&root, &aad, &MATERIAL).unwrap();
        let sealed = hex::decode(
            String::from_utf8(golden(
                "v1_material_sealed.hex",
                format!("{}\n", hex::encode(&fresh_sealed)).as_bytes(),
            ))
            .unwrap()
            .trim(),
        )
        .unwrap();
        let key_json = golden(
            "v1_key_record.json",
            format!(
                r#"{{"account":"{ACCT}","region":"{REGION}","key_id":"{KEY_ID}","arn":"{}","created":"2027-01-15T08:00:00Z","description":"golden","state":"Enabled","deletion_date":null,"pending_window_days":null,"key_manager":"CUSTOMER","origin":"AWS_KMS","key_spec":"SYMMETRIC_DEFAULT","key_usage":"ENCRYPT_DECRYPT","multi_region":false,"policy":{},"tags":[]}}"#,
                arn(),
                serde_json::to_string(&kms::default_key_policy(ACCT)).unwrap()
            )
            .as_bytes(),
        );
        let set_json = golden(
            "v1_material_set.json",
            format!(
                r#"{{"account":"{ACCT}","key_id":"{KEY_ID}","multi_region":false,"current":"{m}","versions":[{{"id":"{m}","created":"2027-01-15T08:00:00Z","rotation":null}}],"rotation":{{"enabled":false,"period_days":null,"next_rotation":null}},"on_demand_rotations":0,"primary_region":"{REGION}","replica_regions":[]}}"#,
                m = hex::encode(MATERIAL_ID)
            )
            .as_bytes(),
        );
        let blob = hex::decode(
            std::fs::read_to_string(dir().join("v1_blob.hex"))
                .unwrap()
                .trim(),
        )
        .unwrap();

        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let sealed_record = meta::codec::encode_json(&kms::SealedMaterial { sealed }).unwrap();
        let (kj, sj) = (key_json.clone(), set_json.clone());
        store
            .transact(move |txn| -> Result<(), meta::Error> {
                let with_version = |j: &[u8]| [&[meta::codec::FORMAT_JSON_V1][..], j].concat();
                txn.put(
                    "kms.keys",
                    format!("{ACCT}/{REGION}/{KEY_ID}").into_bytes(),
                    with_version(&kj),
                );
                txn.put(
                    "kms.material_sets",
                    format!("{ACCT}/{KEY_ID}").into_bytes(),
                    with_version(&sj),
                );
                txn.put(
                    "kms.materials",
                    format!("{ACCT}/{KEY_ID}/{}", hex::encode(MATERIAL_ID)).into_bytes(),
                    sealed_record,
                );
                Ok(())
            })
            .unwrap();
        let kms = Kms::new(store, Arc::new(root));
        let key = kms.resolve(ACCT, REGION, KEY_ID).unwrap();
        assert_eq!(kms.metadata(&key).description, "golden");
        assert_eq!(
            &kms.decrypt(&key, &blob, &gctx()).unwrap().plaintext[..],
            b"golden plaintext"
        );
        assert_eq!(
            &kms.material_for_tests(&key, &hex::encode(MATERIAL_ID))
                .unwrap()[..],
            &MATERIAL
        );
    }
}

fn context_strategy() -> impl Strategy<Value = EncryptionContext> {
    proptest::collection::btree_map("[a-zA-Z0-9:_-]{0,12}", ".{0,16}", 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 1..512), c in context_strategy()) {
        let (kms, key) = warm();
        let blob = kms.encrypt(&key, &plaintext, &c).unwrap();
        prop_assert_eq!(&kms.decrypt(&key, &blob, &c).unwrap().plaintext[..], &plaintext[..]);
    }

    #[test]
    fn prop_any_flip_is_rejected(plaintext in proptest::collection::vec(any::<u8>(), 1..64), c in context_strategy(), pos in any::<usize>(), bit in 0u8..8) {
        let (kms, key) = warm();
        let mut blob = kms.encrypt(&key, &plaintext, &c).unwrap();
        let i = pos % blob.len();
        blob[i] ^= 1 << bit;
        prop_assert_eq!(kms.decrypt(&key, &blob, &c).unwrap_err().code(), "InvalidCiphertextException");
    }
}

/// One engine and key shared by the property tests (creating a key per case would dominate their run time).
fn warm() -> (Kms, KeyRecord) {
    static WARM: std::sync::OnceLock<(Kms, KeyRecord)> = std::sync::OnceLock::new();
    WARM.get_or_init(|| {
        let kms = engine();
        let key = rt().block_on(new_key(&kms, ACCT, REGION));
        (kms, key)
    })
    .clone()
}
