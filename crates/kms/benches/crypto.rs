//! Encrypt, Decrypt and GenerateDataKey on a warm key (material unsealed and cached, snapshot resolved).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use kms::{CreateKeyInput, DataKeySpec, EncryptionContext, Kms};

fn setup() -> (Kms, kms::KeyRecord) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = meta::Store::new(meta::MemoryBackend::new()).expect("store");
    let kms = Kms::new(store, Arc::new(crypto::RootKey::generate()));
    let meta = rt
        .block_on(kms.create_key("111122223333", "us-east-1", CreateKeyInput::default()))
        .expect("create key");
    let key = kms
        .resolve("111122223333", "us-east-1", &meta.key_id)
        .expect("resolve");
    (kms, key)
}

fn bench(c: &mut Criterion) {
    let (kms, key) = setup();
    let ctx: EncryptionContext = [(
        "aws:s3:arn".to_owned(),
        "arn:aws:s3:::bucket/object".to_owned(),
    )]
    .into_iter()
    .collect();
    let data_key = [7u8; 32];
    let blob = kms.encrypt(&key, &data_key, &ctx).expect("encrypt");
    // Warm: the first call unseals and caches the material.
    kms.decrypt(&key, &blob, &ctx).expect("decrypt");

    c.bench_function("encrypt_32B", |b| {
        b.iter(|| kms.encrypt(&key, &data_key, &ctx).expect("encrypt"))
    });
    c.bench_function("decrypt_32B", |b| {
        b.iter(|| kms.decrypt(&key, &blob, &ctx).expect("decrypt"))
    });
    c.bench_function("generate_data_key_aes256", |b| {
        b.iter(|| {
            kms.generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .expect("gdk")
        })
    });
    c.bench_function("resolve_then_decrypt", |b| {
        b.iter(|| {
            let k = kms
                .resolve("111122223333", "us-east-1", key.key_id())
                .expect("resolve");
            kms.decrypt(&k, &blob, &ctx).expect("decrypt")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
