//! Range reads: which stored bytes a plaintext byte range needs, computed from lengths alone.

use crate::format::{segment_count, SegmentSize, HEADER_LEN, TAG_LEN};
use crate::Error;

/// What a range GET reads and keeps. Read the header (`0..HEADER_LEN`) and
/// `cipher_offset..cipher_offset + cipher_len` of the stored object, feed the latter to
/// [`Decryptor::starting_at`](crate::Decryptor::starting_at), and it yields exactly the `take` requested bytes
/// (it drops the first `skip_front` bytes of the first segment and what follows the range in the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RangePlan {
    /// Offset in the stored object of the first segment the range touches.
    pub cipher_offset: u64,
    /// Stored bytes from `cipher_offset` through the end of the last touched segment (tags included).
    pub cipher_len: u64,
    pub first_segment: u64,
    pub last_segment: u64,
    /// Plaintext bytes of `first_segment` before the range starts.
    pub skip_front: u64,
    /// Length of the range in plaintext bytes.
    pub take: u64,
    /// Plaintext length of the whole object; fixes which segment is the final one.
    pub plain_len: u64,
    pub segment_size: SegmentSize,
}

impl RangePlan {
    pub fn segment_count(&self) -> u64 {
        segment_count(self.plain_len, self.segment_size).unwrap_or(0)
    }

    /// Whether the range reaches the object's final segment (whose final flag is then verified).
    pub fn includes_final_segment(&self) -> bool {
        self.last_segment + 1 == self.segment_count()
    }

    /// Stored length (ciphertext and tag) of segment `index` of this object.
    pub(crate) fn sealed_len(&self, index: u64) -> u64 {
        let size = u64::from(self.segment_size.get());
        if index + 1 == self.segment_count() {
            self.plain_len - index * size + TAG_LEN as u64
        } else {
            size + TAG_LEN as u64
        }
    }
}

/// Plans the read of plaintext bytes `start..=end_inclusive` of an object of `plain_len` bytes. Fails with
/// [`Error::InvalidRange`] unless `start <= end_inclusive < plain_len` (HTTP's unsatisfiable ranges are the S3
/// layer's to answer), and with [`Error::TooLarge`] for a length the format cannot hold.
pub fn plan_range(
    plain_len: u64,
    segment_size: SegmentSize,
    start: u64,
    end_inclusive: u64,
) -> Result<RangePlan, Error> {
    segment_count(plain_len, segment_size).ok_or(Error::TooLarge)?;
    if start > end_inclusive || end_inclusive >= plain_len {
        return Err(Error::InvalidRange);
    }
    let size = u64::from(segment_size.get());
    let sealed = size + TAG_LEN as u64;
    let first_segment = start / size;
    let last_segment = end_inclusive / size;
    let mut plan = RangePlan {
        cipher_offset: HEADER_LEN as u64 + first_segment * sealed,
        cipher_len: 0,
        first_segment,
        last_segment,
        skip_front: start - first_segment * size,
        take: end_inclusive - start + 1,
        plain_len,
        segment_size,
    };
    plan.cipher_len = (last_segment - first_segment) * sealed + plan.sealed_len(last_segment);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ciphertext_len;
    use proptest::prelude::*;

    #[test]
    fn plan_examples() {
        let s = SegmentSize::new(1000).unwrap();
        let h = HEADER_LEN as u64;
        // Bytes 1500..=2499 of a 2600-byte object: segments 1 and 2 (the final one, 600 bytes).
        let p = plan_range(2600, s, 1500, 2499).unwrap();
        assert_eq!((p.first_segment, p.last_segment), (1, 2));
        assert_eq!(p.cipher_offset, h + 1016);
        assert_eq!(p.cipher_len, 1016 + 616);
        assert_eq!((p.skip_front, p.take), (500, 1000));
        assert!(p.includes_final_segment());
        assert_eq!(
            p.cipher_offset + p.cipher_len,
            ciphertext_len(2600, s).unwrap()
        );
        // First byte only.
        let p = plan_range(2600, s, 0, 0).unwrap();
        assert_eq!((p.cipher_offset, p.cipher_len, p.take), (h, 1016, 1));
        assert!(!p.includes_final_segment());
    }

    #[test]
    fn invalid_ranges() {
        let s = SegmentSize::DEFAULT;
        assert_eq!(plan_range(0, s, 0, 0), Err(Error::InvalidRange));
        assert_eq!(plan_range(10, s, 5, 4), Err(Error::InvalidRange));
        assert_eq!(plan_range(10, s, 0, 10), Err(Error::InvalidRange));
        assert_eq!(plan_range(u64::MAX, s, 0, 1), Err(Error::TooLarge));
    }

    proptest! {
        #[test]
        fn plans_stay_inside_the_object(len in 1u64..100_000, a in any::<u64>(), b in any::<u64>(), s in 256u32..5000) {
            let s = SegmentSize::new(s).unwrap();
            let (start, end) = { let (x, y) = (a % len, b % len); (x.min(y), x.max(y)) };
            let p = plan_range(len, s, start, end).unwrap();
            let size = u64::from(s.get());
            prop_assert!(p.cipher_offset + p.cipher_len <= ciphertext_len(len, s).unwrap());
            prop_assert_eq!(p.first_segment * size + p.skip_front, start);
            prop_assert!(p.skip_front < size);
            prop_assert_eq!(p.cipher_len, (p.first_segment..=p.last_segment).map(|i| p.sealed_len(i)).sum::<u64>());
        }
    }
}
