//! Every way stored bytes can be altered is refused, attributed to the right segment, and releases nothing
//! from the damaged segment onward.

use envelope::{Decryptor, Error, HEADER_LEN, TAG_LEN};

use crate::support::*;

const S: usize = 256;
const SEALED: usize = S + TAG_LEN;

/// Feed patterns that exercise both the buffered path and the direct (whole segment in one slice) path.
const FEEDS: [&[usize]; 3] = [&[usize::MAX], &[7], &[SEALED, 1, 500]];

fn segments_of(len: usize) -> usize {
    len.div_ceil(S).max(1)
}

/// What a flip of the byte at `pos` must produce.
fn expected(pos: usize, flipped: u8) -> Error {
    match pos {
        0..4 => Error::Malformed("not an object envelope (bad magic)"),
        4 => Error::UnsupportedVersion(flipped),
        5 => Error::Malformed("unknown algorithm"),
        // A segment-size change either leaves the bounds or shifts segment boundaries and alters the AAD.
        6..10 => Error::Tampered { segment: 0 },
        10..42 => Error::WrongKey,
        42..49 => Error::Tampered { segment: 0 },
        49..HEADER_LEN => Error::WrongKey,
        _ => Error::Tampered {
            segment: ((pos - HEADER_LEN) / SEALED) as u64,
        },
    }
}

#[test]
fn every_bit_flip_is_rejected_and_pinned() {
    // Three segments, the last one partial; and three full segments (the final one full).
    for len in [600, 3 * S] {
        let plain = plaintext(len);
        let sealed = seal(&plain, S as u32);
        for pos in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[pos] ^= 1 << bit;
                let want = expected(pos, bad[pos]);
                for feed in FEEDS {
                    let (released, r) = open_with(&KEY, AD, &bad, feed);
                    let err = r.expect_err("a flipped bit must be rejected");
                    if (6..10).contains(&pos) && matches!(err, Error::Malformed(_)) {
                        assert_eq!(err, Error::Malformed("segment size out of bounds"));
                    } else {
                        assert_eq!(err, want, "len {len} pos {pos} bit {bit} feed {feed:?}");
                    }
                    // Only whole segments before the damaged one were released.
                    let intact = match err {
                        Error::Tampered { segment } => segment as usize * S,
                        _ => 0,
                    };
                    assert_eq!(released, plain[..intact], "pos {pos}");
                }
            }
        }
    }
}

/// Stored segment `i` of `sealed` (an object of full `S`-byte segments plus a final one).
fn segment(sealed: &[u8], i: usize) -> &[u8] {
    let from = HEADER_LEN + i * SEALED;
    &sealed[from..(from + SEALED).min(sealed.len())]
}

fn assemble(sealed: &[u8], order: &[usize]) -> Vec<u8> {
    let mut out = sealed[..HEADER_LEN].to_vec();
    for &i in order {
        out.extend_from_slice(segment(sealed, i));
    }
    out
}

#[test]
fn reordered_duplicated_or_dropped_segments() {
    for len in [3 * S, 3 * S - 10] {
        let sealed = seal(&plaintext(len), S as u32);
        assert_eq!(
            open(&assemble(&sealed, &[0, 1, 2])).unwrap(),
            plaintext(len)
        );
        let cases: [(&[usize], u64); 6] = [
            (&[1, 0, 2], 0),
            (&[0, 2, 1], 1),
            (&[0, 0, 1, 2], 1),
            (&[0, 1, 2, 2], 2),
            (&[0, 2], 1),
            (&[1, 2], 0),
        ];
        for (order, segment) in cases {
            for feed in FEEDS {
                let (_, r) = open_with(&KEY, AD, &assemble(&sealed, order), feed);
                assert_eq!(
                    r,
                    Err(Error::Tampered { segment }),
                    "len {len} order {order:?}"
                );
            }
        }
    }
}

#[test]
fn truncation_at_every_segment_boundary_is_truncated() {
    for len in [0, 1, S, 3 * S, 3 * S - 10] {
        let plain = plaintext(len);
        let sealed = seal(&plain, S as u32);
        let segments = segments_of(len);
        // Cut inside the header, right after it, and after every non-final segment.
        let mut cuts: Vec<usize> = vec![0, 1, 5, HEADER_LEN - 1, HEADER_LEN];
        cuts.extend((1..segments).map(|k| HEADER_LEN + k * SEALED));
        for cut in cuts {
            for feed in FEEDS {
                let (released, r) = open_with(&KEY, AD, &sealed[..cut], feed);
                assert_eq!(r, Err(Error::Truncated), "len {len} cut {cut}");
                assert!(plain.starts_with(&released));
            }
        }
    }
}

#[test]
fn any_truncation_is_an_error() {
    let sealed = seal(&plaintext(3 * S - 10), S as u32);
    for cut in 0..sealed.len() {
        let (_, r) = open_with(&KEY, AD, &sealed[..cut], &[usize::MAX]);
        assert!(r.is_err(), "cut {cut}");
    }
}

#[test]
fn appended_bytes_are_rejected() {
    for len in [0, 1, S, 3 * S, 3 * S - 10] {
        let sealed = seal(&plaintext(len), S as u32);
        let last = (segments_of(len) - 1) as u64;
        for extra in [1, TAG_LEN, SEALED, 1000] {
            let mut bad = sealed.clone();
            bad.extend(std::iter::repeat_n(0xA5, extra));
            for feed in FEEDS {
                let (_, r) = open_with(&KEY, AD, &bad, feed);
                assert_eq!(
                    r,
                    Err(Error::Tampered { segment: last }),
                    "len {len} extra {extra}"
                );
            }
        }
    }
}

#[test]
fn wrong_associated_data_is_tampered() {
    let sealed = seal(&plaintext(600), S as u32);
    let (released, r) = open_with(
        &KEY,
        b"arn:aws:s3:::bucket/other-key",
        &sealed,
        &[usize::MAX],
    );
    assert_eq!(r, Err(Error::Tampered { segment: 0 }));
    assert!(released.is_empty());
}

#[test]
fn wrong_key_is_wrong_key_not_tampered() {
    let sealed = seal(&plaintext(600), S as u32);
    let (released, r) = open_with(&[0x12; 32], AD, &sealed, &[usize::MAX]);
    assert_eq!(r, Err(Error::WrongKey));
    assert!(released.is_empty());
    // Known from the header alone, before any segment is read.
    let mut dec = Decryptor::new(&[0x12; 32], AD);
    assert_eq!(
        dec.update(&sealed[..HEADER_LEN], &mut Vec::new()),
        Err(Error::WrongKey)
    );
    // And the failure sticks.
    assert_eq!(
        dec.update(&sealed[HEADER_LEN..], &mut Vec::new()),
        Err(Error::WrongKey)
    );
    assert_eq!(dec.finish(&mut Vec::new()), Err(Error::WrongKey));
}

#[test]
fn a_newer_version_is_unsupported_not_malformed() {
    let mut sealed = seal(b"x", S as u32);
    sealed[4] = 2;
    let mut dec = Decryptor::new(&KEY, AD);
    assert_eq!(
        dec.update(&sealed[..5], &mut Vec::new()),
        Err(Error::UnsupportedVersion(2))
    );
    assert_eq!(open(&sealed[..3]), Err(Error::Truncated));
}
