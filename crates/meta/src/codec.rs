//! Typed values and ordered numeric keys on top of the byte store.
//!
//! Value format (spec in `docs/design/meta.md`): byte 0 is a format version, the rest its body.
//! Version 1 ([`FORMAT_JSON_V1`]) is a UTF-8 JSON document written by `serde_json`. A future
//! format gets a new version byte, and decoders keep reading every older one.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Error;

/// Format version byte of a value whose body is JSON.
pub const FORMAT_JSON_V1: u8 = 1;

/// Encodes `value` as version byte [`FORMAT_JSON_V1`] followed by its JSON.
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = vec![FORMAT_JSON_V1];
    serde_json::to_writer(&mut out, value).map_err(|e| Error::Encoding(e.to_string()))?;
    Ok(out)
}

/// Decodes a value written by [`encode_json`].
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    match bytes.split_first() {
        Some((&FORMAT_JSON_V1, body)) => {
            serde_json::from_slice(body).map_err(|e| Error::Encoding(e.to_string()))
        }
        Some((&version, _)) => Err(Error::UnknownFormat(version)),
        None => Err(Error::Encoding("empty value has no format version".into())),
    }
}

/// Encodes `n` big-endian, so byte order of keys equals numeric order.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Decodes a key written by [`u64_key`].
pub fn decode_u64_key(key: &[u8]) -> Result<u64, Error> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| Error::Encoding(format!("u64 key must be 8 bytes, got {}", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        name: String,
        id: u64,
    }

    // Golden bytes: a stored record written by this release must decode in every later one.
    const USER_V1: &[u8] = b"\x01{\"name\":\"alice\",\"id\":7}";

    #[test]
    fn json_v1_golden_bytes() {
        let user = User {
            name: "alice".into(),
            id: 7,
        };
        assert_eq!(encode_json(&user).unwrap(), USER_V1);
        assert_eq!(decode_json::<User>(USER_V1).unwrap(), user);
    }

    #[test]
    fn unknown_version_and_garbage_are_errors() {
        assert!(matches!(
            decode_json::<User>(b"\x02{}"),
            Err(Error::UnknownFormat(2))
        ));
        assert!(matches!(decode_json::<User>(b""), Err(Error::Encoding(_))));
        assert!(matches!(
            decode_json::<User>(b"\x01{not json"),
            Err(Error::Encoding(_))
        ));
    }

    #[test]
    fn u64_keys_sort_numerically() {
        let mut nums = [0, 1, 255, 256, 65_535, u64::MAX, 1 << 40];
        let mut keys: Vec<_> = nums.iter().map(|&n| u64_key(n)).collect();
        nums.sort_unstable();
        keys.sort_unstable();
        let decoded: Vec<_> = keys.iter().map(|k| decode_u64_key(k).unwrap()).collect();
        assert_eq!(decoded, nums);
        assert!(decode_u64_key(b"short").is_err());
    }
}
