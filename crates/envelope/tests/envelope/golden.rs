//! Golden files: fixed key, salt, nonce prefix and associated data must produce exactly the stored bytes, and
//! the stored bytes must keep decrypting. Set `COFFER_BLESS=1` to write missing or changed files (only when the
//! format version changes; a format-1 file must never change).

use std::path::PathBuf;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::hmac;
use envelope::{Decryptor, Encryptor, Header, SegmentSize, HEADER_LEN};

use crate::support::*;

const GOLDEN_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};
const GOLDEN_SALT: [u8; 32] = [0x5a; 32];
const GOLDEN_PREFIX: [u8; 7] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6];
const GOLDEN_AD: &[u8] = b"arn:aws:s3:::golden-bucket/path/to/object.txt\0version-3";
const GOLDEN_SEGMENT: u32 = 1024;

/// (file name, plaintext length) for each size class.
const CASES: [(&str, usize); 5] = [
    ("v1-empty.bin", 0),
    ("v1-one-byte.bin", 1),
    ("v1-one-segment.bin", 1024),
    ("v1-one-segment-plus-one.bin", 1025),
    ("v1-three-segments.bin", 2 * 1024 + 100),
];

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn golden_encryptor() -> Encryptor {
    Encryptor::with_salt_and_prefix(
        &GOLDEN_KEY,
        GOLDEN_AD,
        SegmentSize::new(GOLDEN_SEGMENT).unwrap(),
        GOLDEN_SALT,
        GOLDEN_PREFIX,
    )
}

#[test]
fn golden_files_regenerate_exactly_and_decrypt() {
    let bless = std::env::var_os("COFFER_BLESS").is_some();
    for (name, len) in CASES {
        let plain = plaintext(len);
        let made = encrypt(golden_encryptor(), &plain, &[333]);
        let file = path(name);
        if bless && std::fs::read(&file).ok().as_deref() != Some(&made[..]) {
            std::fs::write(&file, &made).unwrap();
        }
        let stored = std::fs::read(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            made == stored,
            "{name}: encryption no longer produces the golden bytes"
        );

        let mut dec = Decryptor::new(&GOLDEN_KEY, GOLDEN_AD);
        let mut out = Vec::new();
        dec.update(&stored, &mut out).unwrap();
        dec.finish(&mut out).unwrap();
        assert_eq!(out, plain, "{name}");

        let header = Header::parse(&stored).unwrap();
        assert_eq!(
            (header.version(), header.segment_size().get()),
            (1, GOLDEN_SEGMENT)
        );
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().try_into().unwrap()
}

/// Rebuilds the one-byte and one-segment-plus-one golden files from `docs/design/envelope.md` alone: HKDF spelled
/// out with HMAC, the header laid out by hand, raw AES-256-GCM per segment. Keeps the spec and the code in step.
#[test]
fn spec_recomputation_matches_golden_files() {
    let prk = hmac_sha256(&GOLDEN_SALT, &[&GOLDEN_KEY]);
    let segment_key = hmac_sha256(&prk, &[b"coffer-envelope/v1/segment-key", &[1]]);
    let commitment = hmac_sha256(&prk, &[b"coffer-envelope/v1/key-commitment", &[1]]);

    let mut header = Vec::new();
    header.extend_from_slice(b"CFEV");
    header.extend_from_slice(&[1, 1]);
    header.extend_from_slice(&GOLDEN_SEGMENT.to_be_bytes());
    header.extend_from_slice(&GOLDEN_SALT);
    header.extend_from_slice(&GOLDEN_PREFIX);
    header.extend_from_slice(&commitment);
    assert_eq!(header.len(), HEADER_LEN);
    let aad = [&header[..], GOLDEN_AD].concat();

    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &segment_key).unwrap());
    for (name, len) in [CASES[1], CASES[3]] {
        let plain = plaintext(len);
        let mut expect = header.clone();
        let chunks: Vec<&[u8]> = plain.chunks(GOLDEN_SEGMENT as usize).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut nonce = [0u8; 12];
            nonce[..7].copy_from_slice(&GOLDEN_PREFIX);
            nonce[7..11].copy_from_slice(&(i as u32).to_be_bytes());
            nonce[11] = u8::from(i + 1 == chunks.len());
            let mut seg = chunk.to_vec();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut seg,
            )
            .unwrap();
            expect.extend_from_slice(&seg);
        }
        assert!(
            std::fs::read(path(name)).unwrap() == expect,
            "{name} differs from the spec"
        );
    }
}
