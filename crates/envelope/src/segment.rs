//! One object's segment cipher: STREAM nonces (prefix ‖ counter ‖ final flag) and sealing/opening of one segment.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::format::{Header, NONCE_PREFIX_LEN, TAG_LEN};
use crate::keys::ObjectKeys;
use crate::Error;

/// The AES-256-GCM key of one object plus what every segment's nonce and associated data share.
pub(crate) struct SegmentCipher {
    key: LessSafeKey,
    prefix: [u8; NONCE_PREFIX_LEN],
    /// `header ‖ caller associated data`, authenticated with every segment. The header has a fixed length, so the
    /// concatenation is unambiguous.
    aad: Vec<u8>,
}

impl SegmentCipher {
    pub(crate) fn new(keys: &ObjectKeys, header: &Header, associated_data: &[u8]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &keys.segment_key[..])
            .expect("a 32-byte key is a valid AES-256 key");
        let mut aad = Vec::with_capacity(crate::HEADER_LEN + associated_data.len());
        aad.extend_from_slice(&header.encode());
        aad.extend_from_slice(associated_data);
        Self {
            key: LessSafeKey::new(key),
            prefix: header.nonce_prefix,
            aad,
        }
    }

    /// `prefix(7) ‖ counter(4, big-endian) ‖ final(1)`. `None` once the 32-bit counter is exhausted.
    fn nonce(&self, index: u64, last: bool) -> Option<Nonce> {
        let counter = u32::try_from(index).ok()?;
        let mut n = [0u8; NONCE_LEN];
        n[..NONCE_PREFIX_LEN].copy_from_slice(&self.prefix);
        n[NONCE_PREFIX_LEN..NONCE_LEN - 1].copy_from_slice(&counter.to_be_bytes());
        n[NONCE_LEN - 1] = u8::from(last);
        Some(Nonce::assume_unique_for_key(n))
    }

    /// Appends `ciphertext ‖ tag` of segment `index` to `out`: the plaintext is copied into `out` and sealed there.
    /// In place measured faster than aws-lc's out-of-place (scatter/gather) calls, decryption markedly so.
    pub(crate) fn seal(
        &self,
        index: u64,
        last: bool,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        // A non-final segment with the last counter value would leave no nonce for the final one.
        if !last && index >= u64::from(u32::MAX) {
            return Err(Error::TooLarge);
        }
        let nonce = self.nonce(index, last).ok_or(Error::TooLarge)?;
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&self.aad), &mut out[start..])
            .expect("AES-GCM sealing of a bounded in-memory segment cannot fail");
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Verifies `sealed` (`ciphertext ‖ tag`) as segment `index` and appends its plaintext to `out`. On failure
    /// `out` is left exactly as it was: unverified plaintext is wiped, never released. Decrypts in place in `out`.
    pub(crate) fn open(
        &self,
        index: u64,
        last: bool,
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let tampered = Error::Tampered { segment: index };
        let Some(body_len) = sealed.len().checked_sub(TAG_LEN) else {
            return Err(tampered);
        };
        let nonce = self
            .nonce(index, last)
            .ok_or(Error::Malformed("more than 2^32 segments"))?;
        let (body, tag) = sealed.split_at(body_len);
        let start = out.len();
        out.extend_from_slice(body);
        let opened = self.key.open_in_place_separate_tag(
            nonce,
            Aad::from(&self.aad),
            tag,
            &mut out[start..],
        );
        if opened.is_err() {
            out[start..].fill(0);
            out.truncate(start);
            return Err(tampered);
        }
        Ok(())
    }
}
