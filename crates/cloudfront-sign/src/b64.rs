//! CloudFront's URL-safe base64: standard base64 with `+` → `-`, `=` → `_` and `/` → `~`.
//!
//! It is not RFC 4648's base64url (which uses `-` and `_` for `+` and `/`), so neither stock
//! engine of the `base64` crate fits; we translate the three characters around the standard one.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Decoding accepts padding or its absence: CloudFront's own signers always pad, but a lenient
/// reader costs nothing here because the decoded bytes are authenticated by the signature.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes `data` exactly as botocore's `CloudFrontSigner._url_b64encode` does.
pub(crate) fn encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(data)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// Decodes CloudFront base64. Characters of the standard alphabet are accepted as well, since
/// some clients send the signature untranslated; both spellings denote the same bytes.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            other => other,
        })
        .collect();
    STANDARD_LENIENT.decode(standard).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_cloudfront_substitutions() {
        // 0xfb 0xff 0xbf encodes to "+/+/" in standard base64; one byte forces "==" padding.
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-~-~");
        assert_eq!(encode(&[0xff]), "~w__");
    }

    #[test]
    fn round_trips_and_accepts_both_alphabets() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&data)).unwrap(), data);
        assert_eq!(decode("+/+/").unwrap(), vec![0xfb, 0xff, 0xbf]);
        assert_eq!(decode("~w").unwrap(), vec![0xff]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("a b c").is_none());
        assert!(decode("%%%%").is_none());
    }
}
