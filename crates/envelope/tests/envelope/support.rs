//! Helpers shared by the integration tests: deterministic fixtures and chunked feeding.

use envelope::{Decryptor, Encryptor, Error, RangePlan, SegmentSize};

pub const KEY: [u8; 32] = [0x11; 32];
pub const AD: &[u8] = b"arn:aws:s3:::bucket/key?versionId=1";

pub fn size(n: u32) -> SegmentSize {
    SegmentSize::new(n).unwrap()
}

/// A recognisable plaintext: every segment differs, so misplaced segments cannot round-trip by accident.
pub fn plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

/// Splits `data` into slices whose lengths cycle through `chunks` (all ≥ 1).
pub fn chunked<'a>(data: &'a [u8], chunks: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = data;
    let mut sizes = chunks.iter().copied().cycle();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = sizes.next().unwrap_or(usize::MAX).max(1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

pub fn encrypt(enc: Encryptor, plain: &[u8], chunks: &[usize]) -> Vec<u8> {
    let mut enc = enc;
    let mut out = Vec::new();
    for piece in chunked(plain, chunks) {
        enc.update(piece, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    out
}

pub fn seal(plain: &[u8], segment_size: u32) -> Vec<u8> {
    encrypt(
        Encryptor::new(&KEY, AD, size(segment_size)),
        plain,
        &[usize::MAX],
    )
}

/// Decrypts a whole object fed in `chunks`; returns what was released and the outcome.
pub fn open_with(
    key: &[u8; 32],
    ad: &[u8],
    sealed: &[u8],
    chunks: &[usize],
) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(key, ad);
    let mut out = Vec::new();
    for piece in chunked(sealed, chunks) {
        if let Err(e) = dec.update(piece, &mut out) {
            return (out, Err(e));
        }
    }
    let r = dec.finish(&mut out);
    (out, r)
}

pub fn open(sealed: &[u8]) -> Result<Vec<u8>, Error> {
    let (out, r) = open_with(&KEY, AD, sealed, &[usize::MAX]);
    r.map(|()| out)
}

/// Decrypts a planned range from the whole stored object, reading only the planned bytes.
pub fn open_range(
    sealed: &[u8],
    plan: &RangePlan,
    chunks: &[usize],
) -> (Vec<u8>, Result<(), Error>) {
    let from = plan.cipher_offset as usize;
    let to = from + plan.cipher_len as usize;
    open_range_bytes(
        &sealed[..envelope::HEADER_LEN],
        &sealed[from..to],
        plan,
        chunks,
    )
}

pub fn open_range_bytes(
    header: &[u8],
    body: &[u8],
    plan: &RangePlan,
    chunks: &[usize],
) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = match Decryptor::starting_at(&KEY, AD, header, plan) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    for piece in chunked(body, chunks) {
        if let Err(e) = dec.update(piece, &mut out) {
            return (out, Err(e));
        }
    }
    let r = dec.finish(&mut out);
    (out, r)
}
