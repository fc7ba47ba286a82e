//! Round trips across every size class and segment boundary, with arbitrary feed chunking on both sides.

use envelope::{ciphertext_len, plaintext_len, Encryptor, SegmentSize, HEADER_LEN, TAG_LEN};
use proptest::prelude::*;

use crate::support::*;

/// Lengths around the segment boundaries (empty, 1, S−1, S, S+1, 2S, 3S−1, 3S, 3S+1) plus arbitrary ones.
fn length(segment: u32) -> impl Strategy<Value = usize> {
    let s = segment as usize;
    prop_oneof![
        prop::sample::select(vec![
            0,
            1,
            s - 1,
            s,
            s + 1,
            2 * s,
            3 * s - 1,
            3 * s,
            3 * s + 1
        ]),
        0..5 * s,
    ]
}

fn case() -> impl Strategy<Value = (u32, usize)> {
    prop::sample::select(vec![256u32, 257, 1000, 4096]).prop_flat_map(|s| (Just(s), length(s)))
}

fn chunks() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1..20usize, 1..5000usize], 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip((segment, len) in case(), enc_chunks in chunks(), dec_chunks in chunks()) {
        let plain = plaintext(len);
        let sealed = encrypt(Encryptor::new(&KEY, AD, size(segment)), &plain, &enc_chunks);
        prop_assert_eq!(sealed.len() as u64, ciphertext_len(len as u64, size(segment)).unwrap());
        prop_assert_eq!(plaintext_len(sealed.len() as u64, size(segment)), Some(len as u64));
        let (out, r) = open_with(&KEY, AD, &sealed, &dec_chunks);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(out, plain);
    }

    /// Chunking changes nothing about the bytes written.
    #[test]
    fn output_is_independent_of_chunking((segment, len) in case(), a in chunks(), b in chunks()) {
        let plain = plaintext(len);
        let make = || Encryptor::with_salt_and_prefix(&KEY, AD, size(segment), [3; 32], [4; 7]);
        prop_assert_eq!(encrypt(make(), &plain, &a), encrypt(make(), &plain, &b));
    }
}

#[test]
fn empty_object_is_one_empty_final_segment() {
    let sealed = seal(b"", 256);
    assert_eq!(sealed.len(), HEADER_LEN + TAG_LEN);
    assert_eq!(open(&sealed).unwrap(), b"");
}

#[test]
fn default_segment_size_round_trip() {
    let plain = plaintext(3 * 65536 + 7);
    let sealed = encrypt(
        Encryptor::new(&KEY, AD, SegmentSize::DEFAULT),
        &plain,
        &[65536, 1, 100_000, 65552],
    );
    assert_eq!(sealed.len(), HEADER_LEN + plain.len() + 4 * TAG_LEN);
    assert_eq!(open(&sealed).unwrap(), plain);
    let (out, r) = open_with(&KEY, AD, &sealed, &[65552]);
    assert_eq!((out, r), (plain, Ok(())));
}

#[test]
fn fresh_salt_and_prefix_per_object() {
    let a = seal(b"same", 256);
    let b = seal(b"same", 256);
    assert_ne!(a, b);
    assert_ne!(a[10..49], b[10..49]);
}

#[test]
fn header_is_emitted_even_without_update() {
    let mut out = Vec::new();
    Encryptor::new(&KEY, AD, size(256))
        .finish(&mut out)
        .unwrap();
    assert_eq!(&out[..4], b"CFEV");
    assert_eq!(out[4], 1);
    assert_eq!(out.len(), HEADER_LEN + TAG_LEN);
}
