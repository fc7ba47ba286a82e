//! Key derivation: the per-object segment key and key commitment, S3 Bucket Key derivation, and the SSE-C key check.

use aws_lc_rs::{constant_time, hkdf, hmac};
use zeroize::Zeroizing;

use crate::format::{COMMITMENT_LEN, SALT_LEN};

/// Length of every key this crate takes or derives (AES-256).
pub const KEY_LEN: usize = 32;

/// HKDF `info` for the AES-256-GCM key that seals the segments.
const SEGMENT_KEY_INFO: &[u8] = b"coffer-envelope/v1/segment-key";
/// HKDF `info` for the key commitment stored in the header.
const COMMITMENT_INFO: &[u8] = b"coffer-envelope/v1/key-commitment";
/// HKDF `info` prefix for per-object keys derived from an S3 Bucket Key.
const OBJECT_KEY_INFO: &[u8] = b"coffer-s3/v1/object-key/";
/// HMAC message prefix for the SSE-C key check.
const CUSTOMER_CHECK_LABEL: &[u8] = b"coffer-s3/v1/sse-c-key-check/";

/// What one object's data key and salt derive: the segment key and the key commitment.
///
/// Both come from one HKDF-SHA256 extract over (salt, data key), like the AWS Encryption SDK's committing
/// suites. The commitment is collision resistant in the data key, so no second key opens the same header, and a
/// mismatch tells a wrong key apart from altered data before any segment is touched.
pub(crate) struct ObjectKeys {
    pub(crate) segment_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) commitment: [u8; COMMITMENT_LEN],
}

impl ObjectKeys {
    pub(crate) fn derive(data_key: &[u8; KEY_LEN], salt: &[u8; SALT_LEN]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(data_key);
        let mut segment_key = Zeroizing::new([0u8; KEY_LEN]);
        expand(&prk, &[SEGMENT_KEY_INFO], &mut segment_key[..]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        expand(&prk, &[COMMITMENT_INFO], &mut commitment);
        Self {
            segment_key,
            commitment,
        }
    }

    /// Constant-time comparison with the commitment read from a header.
    pub(crate) fn commits_to(&self, stored: &[u8; COMMITMENT_LEN]) -> bool {
        constant_time::verify_slices_are_equal(&self.commitment, stored).is_ok()
    }
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8]) {
    prk.expand(info, hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out))
        .expect("HKDF-SHA256 expanding to 32 bytes cannot fail");
}

/// Derives one object's data key from an S3 Bucket Key (HKDF-SHA256; `salt` random per object and stored in the
/// object's metadata, `info` naming the object, e.g. its ARN and version id).
///
/// Many objects share one KMS-protected bucket key, yet each is sealed under its own data key; the salt alone
/// already makes keys distinct, and `info` binds each key to the object it was made for.
pub fn derive_object_key(
    bucket_key: &[u8; KEY_LEN],
    salt: &[u8; 32],
    info: &[u8],
) -> Zeroizing<[u8; KEY_LEN]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(bucket_key);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    expand(&prk, &[OBJECT_KEY_INFO, info], &mut out[..]);
    out
}

/// The SSE-C key check stored with an object: `HMAC-SHA256(key = customer key, "coffer-s3/v1/sse-c-key-check/" ‖
/// salt)`.
///
/// It lets GET and HEAD tell a wrong customer key (403) from a damaged object without storing the key. The random
/// per-object `salt` (stored beside the check, as AWS stores a salted HMAC) keeps two objects under the same
/// customer key from being linkable through their metadata.
pub fn customer_key_check(customer_key: &[u8; KEY_LEN], salt: &[u8; 32]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, customer_key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(CUSTOMER_CHECK_LABEL);
    ctx.update(salt);
    ctx.sign()
        .as_ref()
        .try_into()
        .expect("HMAC-SHA256 is 32 bytes")
}

/// Constant-time check of a customer key against a stored [`customer_key_check`].
pub fn verify_customer_key(
    customer_key: &[u8; KEY_LEN],
    salt: &[u8; 32],
    expected: &[u8; 32],
) -> bool {
    constant_time::verify_slices_are_equal(&customer_key_check(customer_key, salt), expected)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_depend_on_key_and_salt() {
        let a = ObjectKeys::derive(&[1; 32], &[9; 32]);
        let b = ObjectKeys::derive(&[2; 32], &[9; 32]);
        let c = ObjectKeys::derive(&[1; 32], &[8; 32]);
        assert_ne!(a.commitment, b.commitment);
        assert_ne!(a.commitment, c.commitment);
        assert_ne!(*a.segment_key, *b.segment_key);
        assert_ne!(a.commitment[..], a.segment_key[..]);
        assert!(a.commits_to(&ObjectKeys::derive(&[1; 32], &[9; 32]).commitment));
        assert!(!a.commits_to(&b.commitment));
    }

    #[test]
    fn derive_object_key_is_deterministic_and_separated() {
        let k = derive_object_key(&[7; 32], &[1; 32], b"arn:aws:s3:::b/k");
        assert_eq!(
            *k,
            *derive_object_key(&[7; 32], &[1; 32], b"arn:aws:s3:::b/k")
        );
        assert_ne!(
            *k,
            *derive_object_key(&[7; 32], &[2; 32], b"arn:aws:s3:::b/k")
        );
        assert_ne!(
            *k,
            *derive_object_key(&[7; 32], &[1; 32], b"arn:aws:s3:::b/j")
        );
        assert_ne!(
            *k,
            *derive_object_key(&[6; 32], &[1; 32], b"arn:aws:s3:::b/k")
        );
    }

    /// Pins the construction to RFC 5869 HKDF-SHA256 (checked against an independent computation) so a
    /// refactor cannot silently change every derived object key.
    #[test]
    fn derive_object_key_vector() {
        let k = derive_object_key(&[0x0b; 32], &[0x00; 32], b"info");
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0u8; 32]), &[0x0b; 32]);
        let t1 = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()),
            &[OBJECT_KEY_INFO, b"info", &[1u8]].concat(),
        );
        assert_eq!(&k[..], t1.as_ref());
    }

    #[test]
    fn customer_key_check_tells_keys_apart() {
        let salt = [5; 32];
        let check = customer_key_check(&[1; 32], &salt);
        assert!(verify_customer_key(&[1; 32], &salt, &check));
        assert!(!verify_customer_key(&[2; 32], &salt, &check));
        assert!(!verify_customer_key(&[1; 32], &[6; 32], &check));
        assert_ne!(check, customer_key_check(&[1; 32], &[6; 32]));
    }
}
