//! The byte layout: constants, the validated segment size, the header, and the length arithmetic.

use crate::Error;

/// The first four bytes of every envelope: `CFEV`.
pub const MAGIC: [u8; 4] = *b"CFEV";
/// The format version this crate writes. It reads this version and every earlier one.
pub const FORMAT_VERSION: u8 = 1;
/// Algorithm id 1: HKDF-SHA256 key derivation and commitment, AES-256-GCM STREAM segments.
pub const ALGORITHM_AES_256_GCM_HKDF_SHA256: u8 = 1;
/// Length of the per-object random salt fed to HKDF.
pub const SALT_LEN: usize = 32;
/// Length of the per-object random nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the AES-GCM tag closing every segment.
pub const TAG_LEN: usize = 16;
/// Length of a version-1 header: magic, version, algorithm, segment size, salt, nonce prefix, key commitment.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 4 + SALT_LEN + NONCE_PREFIX_LEN + COMMITMENT_LEN;

/// Magic and version: enough to know which header layout follows.
pub(crate) const VERSION_PREFIX_LEN: usize = 5;

/// Segments are numbered by a 32-bit counter, so an object has at most this many.
const MAX_SEGMENTS: u64 = 1 << 32;

/// The number of plaintext bytes per segment (the last segment may be shorter), validated on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentSize(u32);

impl SegmentSize {
    /// The smallest accepted segment size; below it the 16-byte tag is a needless share of the bytes.
    pub const MIN: u32 = 256;
    /// The largest accepted segment size; a decryptor buffers one segment, so this bounds its memory.
    pub const MAX: u32 = 16 << 20;
    /// 64 KiB: large enough that tags cost 0.02 %, small enough that a range GET decrypts little waste.
    pub const DEFAULT: SegmentSize = SegmentSize(64 << 10);

    pub fn new(bytes: u32) -> Result<Self, Error> {
        if (Self::MIN..=Self::MAX).contains(&bytes) {
            Ok(Self(bytes))
        } else {
            Err(Error::InvalidSegmentSize(u64::from(bytes)))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub(crate) fn plain(self) -> usize {
        self.0 as usize
    }

    /// Bytes one full segment occupies on disk: plaintext length plus tag.
    pub(crate) fn sealed(self) -> usize {
        self.0 as usize + TAG_LEN
    }
}

impl Default for SegmentSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Number of segments a plaintext of `plain_len` bytes is cut into: at least one (an empty object has one
/// empty final segment), and the last one is full when the length is a multiple of the segment size.
pub(crate) fn segment_count(plain_len: u64, segment_size: SegmentSize) -> Option<u64> {
    let n = plain_len.div_ceil(u64::from(segment_size.get())).max(1);
    (n <= MAX_SEGMENTS).then_some(n)
}

/// The stored length of an object of `plain_len` bytes: `HEADER_LEN + plain_len + 16 × segments`.
/// `None` when the object would need more than 2^32 segments.
pub fn ciphertext_len(plain_len: u64, segment_size: SegmentSize) -> Option<u64> {
    let n = segment_count(plain_len, segment_size)?;
    (HEADER_LEN as u64)
        .checked_add(plain_len)?
        .checked_add(n * TAG_LEN as u64)
}

/// The inverse of [`ciphertext_len`]: the plaintext length of a stored object of `cipher_len` bytes, or `None`
/// when no plaintext length encrypts to exactly that many bytes.
pub fn plaintext_len(cipher_len: u64, segment_size: SegmentSize) -> Option<u64> {
    let body = cipher_len.checked_sub(HEADER_LEN as u64)?;
    let n = body.div_ceil(segment_size.sealed() as u64);
    let plain = body.checked_sub(n * TAG_LEN as u64)?;
    (segment_count(plain, segment_size)? == n).then_some(plain)
}

/// A parsed version-1 header. Parsing checks structure only; the key commitment is checked against a key by
/// the [`Decryptor`](crate::Decryptor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) segment_size: SegmentSize,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pub(crate) commitment: [u8; COMMITMENT_LEN],
}

impl Header {
    /// Parses the header at the start of `bytes` (trailing bytes are ignored).
    ///
    /// The magic and version are checked before the length, so a newer, longer header is reported as
    /// [`Error::UnsupportedVersion`] rather than as malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < VERSION_PREFIX_LEN {
            return Err(Error::Malformed("header too short"));
        }
        match Self::check_prefix(bytes)? {
            1 => Self::parse_v1(bytes),
            v => Err(Error::UnsupportedVersion(v)),
        }
    }

    /// Checks the magic and version in the first [`VERSION_PREFIX_LEN`] bytes, so a stream is rejected as soon
    /// as those arrive; returns the version.
    pub(crate) fn check_prefix(bytes: &[u8]) -> Result<u8, Error> {
        if bytes[..4] != MAGIC {
            return Err(Error::Malformed("not an object envelope (bad magic)"));
        }
        match bytes[4] {
            v @ 1..=FORMAT_VERSION => Ok(v),
            v => Err(Error::UnsupportedVersion(v)),
        }
    }

    fn parse_v1(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Malformed("header too short"));
        }
        if bytes[5] != ALGORITHM_AES_256_GCM_HKDF_SHA256 {
            return Err(Error::Malformed("unknown algorithm"));
        }
        let size = u32::from_be_bytes(bytes[6..10].try_into().expect("4 bytes"));
        let segment_size =
            SegmentSize::new(size).map_err(|_| Error::Malformed("segment size out of bounds"))?;
        let mut at = 10;
        let mut take = |n: usize| {
            let s = &bytes[at..at + n];
            at += n;
            s
        };
        Ok(Self {
            segment_size,
            salt: take(SALT_LEN).try_into().expect("salt length"),
            nonce_prefix: take(NONCE_PREFIX_LEN).try_into().expect("prefix length"),
            commitment: take(COMMITMENT_LEN).try_into().expect("commitment length"),
        })
    }

    /// The exact header bytes; these are also the first part of every segment's associated data.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = FORMAT_VERSION;
        out[5] = ALGORITHM_AES_256_GCM_HKDF_SHA256;
        out[6..10].copy_from_slice(&self.segment_size.get().to_be_bytes());
        let mut at = 10;
        for part in [&self.salt[..], &self.nonce_prefix[..], &self.commitment[..]] {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        out
    }

    /// The version this header was written with.
    pub fn version(&self) -> u8 {
        FORMAT_VERSION
    }

    pub fn segment_size(&self) -> SegmentSize {
        self.segment_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn size(n: u32) -> SegmentSize {
        SegmentSize::new(n).unwrap()
    }

    #[test]
    fn segment_size_bounds() {
        assert!(SegmentSize::new(SegmentSize::MIN - 1).is_err());
        assert!(SegmentSize::new(SegmentSize::MAX + 1).is_err());
        assert_eq!(SegmentSize::new(256).unwrap().get(), 256);
        assert_eq!(SegmentSize::default().get(), 65536);
    }

    #[test]
    fn lengths_of_the_size_classes() {
        let s = size(1024);
        let h = HEADER_LEN as u64;
        assert_eq!(ciphertext_len(0, s), Some(h + 16));
        assert_eq!(ciphertext_len(1, s), Some(h + 17));
        assert_eq!(ciphertext_len(1024, s), Some(h + 1040));
        assert_eq!(ciphertext_len(1025, s), Some(h + 1041 + 16));
        assert_eq!(plaintext_len(h + 16, s), Some(0));
        assert_eq!(plaintext_len(h + 1040, s), Some(1024));
        // An empty final segment after a full one is never written, so that length is invalid.
        assert_eq!(plaintext_len(h + 1040 + 16, s), None);
        assert_eq!(plaintext_len(h + 15, s), None);
        assert_eq!(plaintext_len(3, s), None);
    }

    #[test]
    fn too_many_segments() {
        let s = size(256);
        assert!(ciphertext_len(256 << 32, s).is_some());
        assert_eq!(ciphertext_len((256 << 32) + 1, s), None);
        assert_eq!(ciphertext_len(u64::MAX, SegmentSize::DEFAULT), None);
    }

    #[test]
    fn header_round_trip_and_rejections() {
        let h = Header {
            segment_size: size(4096),
            salt: [1; SALT_LEN],
            nonce_prefix: [2; NONCE_PREFIX_LEN],
            commitment: [3; COMMITMENT_LEN],
        };
        let bytes = h.encode();
        assert_eq!(Header::parse(&bytes).unwrap(), h);
        assert_eq!(
            Header::parse(&bytes[..HEADER_LEN - 1]),
            Err(Error::Malformed("header too short"))
        );
        let mut b = bytes;
        b[4] = 2;
        assert_eq!(Header::parse(&b[..5]), Err(Error::UnsupportedVersion(2)));
        let mut b = bytes;
        b[0] = b'X';
        assert!(matches!(Header::parse(&b), Err(Error::Malformed(_))));
        let mut b = bytes;
        b[5] = 9;
        assert_eq!(
            Header::parse(&b),
            Err(Error::Malformed("unknown algorithm"))
        );
        let mut b = bytes;
        b[6..10].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(
            Header::parse(&b),
            Err(Error::Malformed("segment size out of bounds"))
        );
    }

    proptest! {
        #[test]
        fn plaintext_len_inverts_ciphertext_len(p in 0u64..1 << 40, s in SegmentSize::MIN..=SegmentSize::MAX) {
            let s = size(s);
            let c = ciphertext_len(p, s).unwrap();
            prop_assert_eq!(plaintext_len(c, s), Some(p));
        }

        #[test]
        fn plaintext_len_only_accepts_real_lengths(c in 0u64..1 << 20, s in SegmentSize::MIN..4096u32) {
            let s = size(s);
            if let Some(p) = plaintext_len(c, s) {
                prop_assert_eq!(ciphertext_len(p, s), Some(c));
            }
        }
    }
}
