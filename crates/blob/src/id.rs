//! Blob ids: random, opaque, 128 bits, written as 32 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The name of a blob: 128 random bits from the OS CSPRNG.
///
/// Ids are never derived from object names or contents, so a directory listing of the blob store
/// reveals nothing about what is stored. The text form (used as the file name) is 32 lowercase
/// hex digits; [`BlobId::as_bytes`] / [`BlobId::from_bytes`] are the compact form for metadata.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 16]);

impl BlobId {
    /// A fresh random id.
    ///
    /// # Panics
    /// If the operating system's random source fails, which on Linux only happens before the
    /// kernel's pool is initialised; continuing with a weaker id could overwrite another blob.
    pub fn random() -> BlobId {
        BlobId(random_bytes())
    }

    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id with these 16 bytes (as stored in a metadata record).
    pub fn from_bytes(bytes: [u8; 16]) -> BlobId {
        BlobId(bytes)
    }

    /// The 32-digit lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// 16 bytes from the OS CSPRNG (also names temp files).
pub(crate) fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes
}

impl FromStr for BlobId {
    type Err = Error;

    /// Parses exactly 32 lowercase hex digits; anything else (including uppercase, which would
    /// name a different file) is [`Error::InvalidId`].
    fn from_str(s: &str) -> Result<BlobId, Error> {
        if s.len() != 32 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::InvalidId);
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| Error::InvalidId)?;
        Ok(BlobId(bytes))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_strict() {
        let id = BlobId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<BlobId>().unwrap(), id);
        assert_eq!(BlobId::from_bytes(*id.as_bytes()), id);
        for bad in [
            "",
            "00",
            "ABCDEF0000000000000000000000000A",
            &format!("{text}0"),
            "g0000000000000000000000000000000",
            "../00000000000000000000000000000",
        ] {
            assert!(bad.parse::<BlobId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ids_are_random() {
        assert_ne!(BlobId::random(), BlobId::random());
    }
}
