//! The ciphertext blob (format v1, spec in `docs/design/kms-ciphertext.md`):
//!
//! ```text
//! version(1)=0x01 ‖ arn_len(u16 BE) ‖ key ARN ‖ material id(32) ‖ nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16)
//! ```
//!
//! The header (version through material id) is authenticated: AAD = header ‖ canonical(encryption context).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use zeroize::Zeroizing;

use crate::{EncryptionContext, KmsError};

/// The format version this release writes (and the only one so far).
pub const VERSION_1: u8 = 1;
/// Raw material id length in the header.
pub const MATERIAL_ID_LEN: usize = 32;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Longest key ARN a header may carry (AWS's `ArnType` maximum).
pub const MAX_ARN_LEN: usize = 2048;

/// The parsed, not yet authenticated header of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub version: u8,
    /// The ARN of the key (the regional copy) that encrypted the blob.
    pub key_arn: &'a str,
    pub material_id: [u8; MATERIAL_ID_LEN],
    /// Length of the header bytes (the AAD prefix); the nonce follows.
    pub len: usize,
}

impl Header<'_> {
    /// The key id part of the ARN (`key/<id>`), or `None` if the ARN does not name a key.
    pub fn key_id(&self) -> Option<&str> {
        let (_, resource) = self.key_arn.rsplit_once(':')?;
        resource.strip_prefix("key/")
    }

    /// The account and region parts of the ARN.
    pub fn account_region(&self) -> Option<(&str, &str)> {
        let mut parts = self.key_arn.splitn(6, ':');
        let (_arn, _partition, _service) = (parts.next()?, parts.next()?, parts.next()?);
        let region = parts.next()?;
        let account = parts.next()?;
        Some((account, region))
    }

    pub fn material_id_hex(&self) -> String {
        hex::encode(self.material_id)
    }
}

fn invalid() -> KmsError {
    // AWS gives no detail for a bad ciphertext; neither do we (it would help an attacker, not a user).
    KmsError::InvalidCiphertext(String::new())
}

/// Parses the header of `blob`. Anything malformed is `InvalidCiphertextException`.
pub fn parse(blob: &[u8]) -> Result<Header<'_>, KmsError> {
    let (&version, rest) = blob.split_first().ok_or_else(invalid)?;
    if version != VERSION_1 || rest.len() < 2 {
        return Err(invalid());
    }
    let arn_len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    if arn_len == 0 || arn_len > MAX_ARN_LEN {
        return Err(invalid());
    }
    let len = 3 + arn_len + MATERIAL_ID_LEN;
    if blob.len() < len + NONCE_LEN + TAG_LEN {
        return Err(invalid());
    }
    let key_arn = std::str::from_utf8(&blob[3..3 + arn_len]).map_err(|_| invalid())?;
    if !key_arn.starts_with("arn:") {
        return Err(invalid());
    }
    let mut material_id = [0u8; MATERIAL_ID_LEN];
    material_id.copy_from_slice(&blob[3 + arn_len..len]);
    Ok(Header {
        version,
        key_arn,
        material_id,
        len,
    })
}

/// Appends the canonical encoding of `ctx`: `count(u32 BE)` then, in ascending byte order of keys,
/// `key_len(u32 BE) ‖ key ‖ value_len(u32 BE) ‖ value`.
pub fn encode_context(ctx: &EncryptionContext, out: &mut Vec<u8>) {
    out.extend_from_slice(&(ctx.len() as u32).to_be_bytes());
    for (k, v) in ctx {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

fn context_len(ctx: &EncryptionContext) -> usize {
    4 + ctx
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum::<usize>()
}

/// Encrypts `plaintext` into a v1 blob with the given nonce (random in production; fixed in golden tests).
pub fn seal(
    aead: &LessSafeKey,
    key_arn: &str,
    material_id: &[u8; MATERIAL_ID_LEN],
    ctx: &EncryptionContext,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, KmsError> {
    if key_arn.is_empty() || key_arn.len() > MAX_ARN_LEN {
        return Err(KmsError::Internal(
            "key ARN too long for a ciphertext header".into(),
        ));
    }
    let header_len = 3 + key_arn.len() + MATERIAL_ID_LEN;
    let aad_len = header_len + context_len(ctx);
    // One allocation per request: the buffer is laid out as header ‖ context ‖ nonce ‖ body so the AAD and the
    // data to encrypt are two disjoint slices of it; the context bytes are cut out afterwards.
    let mut out = Vec::with_capacity(aad_len + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION_1);
    out.extend_from_slice(&(key_arn.len() as u16).to_be_bytes());
    out.extend_from_slice(key_arn.as_bytes());
    out.extend_from_slice(material_id);
    encode_context(ctx, &mut out);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let (aad, rest) = out.split_at_mut(aad_len);
    let tag = aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&*aad),
            &mut rest[NONCE_LEN..],
        )
        .map_err(|_| KmsError::Internal("encryption failed".into()))?;
    out.extend_from_slice(tag.as_ref());
    out.drain(header_len..aad_len);
    Ok(out)
}

/// Decrypts a v1 blob whose header was parsed by [`parse`]. Any mismatch of key, header, context or bytes is
/// `InvalidCiphertextException` — including a header parsed from another, longer blob (never a panic).
pub fn open(
    aead: &LessSafeKey,
    blob: &[u8],
    header: &Header<'_>,
    ctx: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    // As in `seal`: one zeroizing buffer laid out as header ‖ context ‖ ciphertext ‖ tag, opened in place.
    let aad_len = header.len + context_len(ctx);
    let body_len = blob
        .len()
        .checked_sub(header.len + NONCE_LEN + TAG_LEN)
        .ok_or_else(invalid)?
        + TAG_LEN;
    let nonce = Nonce::try_assume_unique_for_key(&blob[header.len..header.len + NONCE_LEN])
        .map_err(|_| invalid())?;
    let mut buf = Zeroizing::new(Vec::with_capacity(aad_len + body_len));
    buf.extend_from_slice(&blob[..header.len]);
    encode_context(ctx, &mut buf);
    buf.extend_from_slice(&blob[header.len + NONCE_LEN..]);
    let (aad, rest) = buf.split_at_mut(aad_len);
    let n = aead
        .open_in_place(nonce, Aad::from(&*aad), rest)
        .map_err(|_| invalid())?
        .len();
    // Plaintext moves to the front; the spare capacity it leaves is wiped with the rest on drop.
    buf.truncate(aad_len + n);
    buf.drain(..aad_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::material::MaterialKey;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn context_encoding_is_canonical_and_length_prefixed() {
        let mut a = Vec::new();
        encode_context(&ctx(&[("b", "2"), ("a", "1")]), &mut a);
        assert_eq!(
            a,
            b"\0\0\0\x02\0\0\0\x01a\0\0\0\x011\0\0\0\x01b\0\0\0\x012".to_vec()
        );
        // Moving a byte between key and value changes the encoding.
        let mut b = Vec::new();
        encode_context(&ctx(&[("ab", "")]), &mut b);
        let mut c = Vec::new();
        encode_context(&ctx(&[("a", "b")]), &mut c);
        assert_ne!(b, c);
        let mut empty = Vec::new();
        encode_context(&EncryptionContext::new(), &mut empty);
        assert_eq!(empty, vec![0, 0, 0, 0]);
        assert_eq!(context_len(&ctx(&[("b", "2"), ("a", "1")])), a.len());
    }

    #[test]
    fn round_trip_and_header() {
        let k = MaterialKey::new([7; 32], &[9; 32]).unwrap();
        let c = ctx(&[("purpose", "test")]);
        let blob = seal(&k.aead, ARN, &[7; 32], &c, b"hello", [1; 12]).unwrap();
        let h = parse(&blob).unwrap();
        assert_eq!(h.key_arn, ARN);
        assert_eq!(h.key_id(), Some("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert_eq!(h.account_region(), Some(("111122223333", "us-east-1")));
        assert_eq!(h.material_id, [7; 32]);
        assert_eq!(&open(&k.aead, &blob, &h, &c).unwrap()[..], b"hello");
        assert_eq!(blob.len(), 3 + ARN.len() + 32 + 12 + 5 + 16);
        assert!(open(&k.aead, &blob, &h, &EncryptionContext::new()).is_err());
    }

    #[test]
    fn a_header_from_another_blob_is_invalid_not_a_panic() {
        let k = MaterialKey::new([7; 32], &[9; 32]).unwrap();
        let c = EncryptionContext::new();
        let long = seal(&k.aead, ARN, &[7; 32], &c, &[0; 64], [1; 12]).unwrap();
        let short = seal(&k.aead, "arn:aws:kms:x", &[7; 32], &c, b"", [1; 12]).unwrap();
        let h = parse(&long).unwrap();
        assert_eq!(
            open(&k.aead, &short, &h, &c).unwrap_err().code(),
            "InvalidCiphertextException"
        );
        let h = parse(&short).unwrap();
        assert!(open(&k.aead, &long, &h, &c).is_err());
    }

    #[test]
    fn garbage_is_invalid_ciphertext() {
        for bad in [
            &b""[..],
            &[1],
            &[2, 0, 1, b'a'],
            &[1, 0, 0],
            &[1, 0xff, 0xff, 0, 0],
        ] {
            assert_eq!(parse(bad).unwrap_err().code(), "InvalidCiphertextException");
        }
    }
}
