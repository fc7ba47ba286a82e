//! Range reads: a planned range decrypts to exactly the slice of the plaintext, reading only its segments.

use envelope::{plan_range, Decryptor, Error, HEADER_LEN, TAG_LEN};
use proptest::prelude::*;

use crate::support::*;

fn object() -> impl Strategy<Value = (u32, usize, usize, usize)> {
    (prop::sample::select(vec![256u32, 300, 1024]), 1..6000usize).prop_flat_map(|(s, len)| {
        (Just(s), Just(len), 0..len, 0..len).prop_map(|(s, len, a, b)| (s, len, a.min(b), a.max(b)))
    })
}

fn chunks() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1..20usize, 1..3000usize], 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn range_equals_the_slice((s, len, start, end) in object(), feed in chunks()) {
        let plain = plaintext(len);
        let sealed = seal(&plain, s);
        let plan = plan_range(len as u64, size(s), start as u64, end as u64).unwrap();
        let (out, r) = open_range(&sealed, &plan, &feed);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(&out[..], &plain[start..=end]);
    }

    #[test]
    fn tamper_inside_is_caught_outside_is_not_read(
        (s, len, start, end) in object(), pick in any::<prop::sample::Index>(), bit in 0u8..8, feed in chunks()
    ) {
        let plain = plaintext(len);
        let sealed = seal(&plain, s);
        let plan = plan_range(len as u64, size(s), start as u64, end as u64).unwrap();
        let body = HEADER_LEN..sealed.len();
        let pos = body.start + pick.index(body.len());
        let mut bad = sealed.clone();
        bad[pos] ^= 1 << bit;
        let segment = ((pos - HEADER_LEN) / (s as usize + TAG_LEN)) as u64;
        let (out, r) = open_range(&bad, &plan, &feed);
        if (plan.first_segment..=plan.last_segment).contains(&segment) {
            prop_assert_eq!(r, Err(Error::Tampered { segment }));
            // Nothing from the damaged segment onward was released.
            let released_segments = segment - plan.first_segment;
            prop_assert!(out.len() as u64 <= released_segments * u64::from(s));
            prop_assert!(plain[start..=end].starts_with(&out));
        } else {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(&out[..], &plain[start..=end]);
        }
    }
}

const S: u32 = 256;
const SEALED: usize = S as usize + TAG_LEN;

#[test]
fn final_flag_is_verified_when_the_range_reaches_the_end() {
    // Three full segments. A plan claiming a one-segment object treats segment 0 as final: refused.
    let sealed = seal(&plaintext(3 * S as usize), S);
    let plan = plan_range(S as u64, size(S), 0, 10).unwrap();
    assert!(plan.includes_final_segment());
    assert_eq!(
        open_range(&sealed, &plan, &[usize::MAX]).1,
        Err(Error::Tampered { segment: 0 })
    );
    // A plan claiming four segments reads the real final segment 2 as non-final: refused.
    let plan = plan_range(4 * S as u64, size(S), 2 * S as u64, 3 * S as u64 - 1).unwrap();
    assert!(!plan.includes_final_segment());
    assert_eq!(
        open_range(&sealed, &plan, &[usize::MAX]).1,
        Err(Error::Tampered { segment: 2 })
    );
    // The true plan reads it as final: accepted.
    let plan = plan_range(3 * S as u64, size(S), 2 * S as u64, 3 * S as u64 - 1).unwrap();
    assert_eq!(open_range(&sealed, &plan, &[usize::MAX]).1, Ok(()));
}

#[test]
fn a_segment_moved_into_the_range_is_refused() {
    let sealed = seal(&plaintext(3 * S as usize), S);
    let plan = plan_range(3 * S as u64, size(S), S as u64, S as u64 + 5).unwrap();
    // Serve segment 0's bytes where segment 1 should be.
    let seg0 = &sealed[HEADER_LEN..HEADER_LEN + SEALED];
    let (_, r) = open_range_bytes(&sealed[..HEADER_LEN], seg0, &plan, &[usize::MAX]);
    assert_eq!(r, Err(Error::Tampered { segment: 1 }));
}

#[test]
fn short_or_long_range_input() {
    let sealed = seal(&plaintext(3 * S as usize), S);
    let plan = plan_range(3 * S as u64, size(S), 10, 2 * S as u64).unwrap();
    let from = plan.cipher_offset as usize;
    let body = &sealed[from..from + plan.cipher_len as usize];
    for cut in [0, 1, SEALED, SEALED + 5, body.len() - 1] {
        let (_, r) = open_range_bytes(&sealed[..HEADER_LEN], &body[..cut], &plan, &[7]);
        assert_eq!(r, Err(Error::Truncated), "cut {cut}");
    }
    let mut long = body.to_vec();
    long.push(0);
    let (_, r) = open_range_bytes(&sealed[..HEADER_LEN], &long, &plan, &[usize::MAX]);
    assert!(matches!(r, Err(Error::Malformed(_))));
}

#[test]
fn range_checks_key_header_and_plan() {
    let sealed = seal(&plaintext(1000), S);
    let plan = plan_range(1000, size(S), 0, 999).unwrap();
    let header = &sealed[..HEADER_LEN];
    assert_eq!(
        Decryptor::starting_at(&[0x22; 32], AD, header, &plan).err(),
        Some(Error::WrongKey)
    );
    assert!(matches!(
        Decryptor::starting_at(&KEY, AD, &header[..HEADER_LEN - 1], &plan).err(),
        Some(Error::Malformed(_))
    ));
    let other = plan_range(1000, size(512), 0, 999).unwrap();
    assert!(matches!(
        Decryptor::starting_at(&KEY, AD, header, &other).err(),
        Some(Error::Malformed(_))
    ));
    let mut edited = plan;
    edited.take = 5000;
    assert_eq!(
        Decryptor::starting_at(&KEY, AD, header, &edited).err(),
        Some(Error::InvalidRange)
    );
    let (_, r) = open_with(&KEY, AD, &sealed, &[usize::MAX]);
    assert_eq!(r, Ok(()));
}

#[test]
fn range_with_wrong_associated_data_is_tampered() {
    let sealed = seal(&plaintext(1000), S);
    let plan = plan_range(1000, size(S), 300, 400).unwrap();
    let mut dec = Decryptor::starting_at(&KEY, b"other", &sealed[..HEADER_LEN], &plan).unwrap();
    let from = plan.cipher_offset as usize;
    let r = dec.update(
        &sealed[from..from + plan.cipher_len as usize],
        &mut Vec::new(),
    );
    assert_eq!(r, Err(Error::Tampered { segment: 1 }));
}
