//! AES-256-GCM sealing of small secrets under the root key: `version(1) ‖ nonce(12) ‖ ciphertext ‖ tag(16)`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::{random_array, RootKey};

/// The format version written as the first byte of every sealed value.
pub const SEAL_VERSION: u8 = 1;

/// Opening failed: wrong key, wrong associated data, or altered bytes. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value could not be opened")]
pub struct SealError;

fn key(root: &RootKey) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, root.expose()).expect("32-byte AES-256 key"))
}

/// Seals `plaintext`, binding `aad` (what the secret belongs to) into the tag.
pub fn seal(root: &RootKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_array();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    key(root)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .expect("AES-GCM sealing of an in-memory buffer cannot fail");
    out.extend_from_slice(&body);
    zeroize::Zeroize::zeroize(&mut body);
    out
}

/// Opens a value made by [`seal`] with the same key and associated data.
pub fn open(
    root: &RootKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEAL_VERSION {
        return Err(SealError);
    }
    let nonce =
        Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| SealError)?;
    let mut body = zeroize::Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = key(root)
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| SealError)?
        .len();
    body.truncate(len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..256), aad in proptest::collection::vec(any::<u8>(), 0..64)) {
            let k = RootKey::generate();
            let s = seal(&k, &aad, &data);
            prop_assert_eq!(&open(&k, &aad, &s).unwrap()[..], &data[..]);
        }

        #[test]
        fn any_flipped_byte_fails(data in proptest::collection::vec(any::<u8>(), 1..64), pos in any::<usize>(), bit in 0u8..8) {
            let k = RootKey::generate();
            let mut s = seal(&k, b"aad", &data);
            let i = pos % s.len();
            s[i] ^= 1 << bit;
            prop_assert!(open(&k, b"aad", &s).is_err());
        }
    }

    #[test]
    fn wrong_aad_or_key_fails() {
        let k = RootKey::generate();
        let s = seal(&k, b"akid-1", b"secret");
        assert!(open(&k, b"akid-2", &s).is_err());
        assert!(open(&RootKey::generate(), b"akid-1", &s).is_err());
        assert!(open(&k, b"akid-1", &s[..10]).is_err());
    }
}
