//! Encrypt and decrypt throughput of a 64 MiB object in 64 KiB segments, fed in 1 MiB slices as a body stream is.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use envelope::{ciphertext_len, Decryptor, Encryptor, SegmentSize};
use std::hint::black_box;

const OBJECT: usize = 64 << 20;
const FEED: usize = 1 << 20;
const SEGMENT: usize = 64 << 10;

fn throughput(c: &mut Criterion) {
    let key = [7u8; 32];
    let ad = b"arn:aws:s3:::bench-bucket/object";
    let size = SegmentSize::DEFAULT;
    let plain: Vec<u8> = (0..OBJECT).map(|i| (i * 31 % 251) as u8).collect();
    let cipher_len = ciphertext_len(OBJECT as u64, size).unwrap() as usize;

    let mut sealed = Vec::with_capacity(cipher_len);
    let mut enc = Encryptor::new(&key, ad, size);
    for chunk in plain.chunks(FEED) {
        enc.update(chunk, &mut sealed).unwrap();
    }
    enc.finish(&mut sealed).unwrap();
    assert_eq!(sealed.len(), cipher_len);

    let mut group = c.benchmark_group("envelope_64MiB_64KiB_segments");
    group.throughput(Throughput::Bytes(OBJECT as u64));
    group.sample_size(10);

    let mut out = Vec::with_capacity(cipher_len);
    group.bench_function("encrypt", |b| {
        b.iter(|| {
            out.clear();
            let mut enc = Encryptor::new(&key, ad, size);
            for chunk in plain.chunks(FEED) {
                enc.update(chunk, &mut out).unwrap();
            }
            enc.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("decrypt", |b| {
        b.iter(|| {
            out.clear();
            let mut dec = Decryptor::new(&key, ad);
            for chunk in sealed.chunks(FEED) {
                dec.update(chunk, &mut out).unwrap();
            }
            dec.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });

    // The same work done with raw aws-lc-rs AES-256-GCM, in place, 64 KiB at a time: the ceiling the envelope is
    // measured against in the same run.
    let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let mut buf = plain.clone();
    let mut tags = Vec::with_capacity(OBJECT / SEGMENT);
    group.bench_function("raw_aes_gcm_seal", |b| {
        b.iter(|| {
            tags.clear();
            for (i, seg) in buf.chunks_mut(SEGMENT).enumerate() {
                let tag = raw
                    .seal_in_place_separate_tag(nonce(i), Aad::from(&ad[..]), seg)
                    .unwrap();
                tags.push(tag);
            }
            black_box(tags.len())
        })
    });
    group.bench_function("raw_aes_gcm_open", |b| {
        b.iter(|| {
            for (i, seg) in buf.chunks_mut(SEGMENT).enumerate() {
                // The tags no longer match after repeated sealing; what is timed is the full decrypt-and-verify.
                let _ = black_box(raw.open_in_place_separate_tag(
                    nonce(i),
                    Aad::from(&ad[..]),
                    tags[i].as_ref(),
                    seg,
                ));
            }
        })
    });
    group.finish();
}

fn nonce(i: usize) -> Nonce {
    let mut n = [0u8; 12];
    n[4..8].copy_from_slice(&(i as u32).to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

criterion_group!(benches, throughput);
criterion_main!(benches);
