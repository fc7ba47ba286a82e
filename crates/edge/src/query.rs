//! A viewer's query string, read once: each `name=value` pair as received, with its name decoded the way the
//! origin will decode it. Cache policies select parameters by their decoded name, so `%76ersionId` is `versionId`
//! for an `allExcept versionId` policy exactly as it is for S3; and S3's own authentication parameters never reach
//! an S3 origin, whatever their spelling.

use std::fmt;

/// The longest query string accepted, in bytes (CloudFront's longest URL).
pub const MAX_QUERY_BYTES: usize = 8192;

/// One `name[=value]` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// The pair exactly as received (what the origin gets and the cache key holds).
    pub raw: &'a str,
    /// The name percent-decoded (`+` as a space), as origins read it.
    pub name: String,
}

/// Why a query string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    TooLong,
    /// A parameter name with a `%` not followed by two hex digits, or one that is not UTF-8 once decoded:
    /// origins would disagree about which parameter it is.
    BadName,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryError::TooLong => "the query string is too long",
            QueryError::BadName => "a query parameter name is not validly percent-encoded",
        })
    }
}

impl std::error::Error for QueryError {}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn decode_name(raw: &str) -> Result<String, QueryError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(QueryError::BadName);
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::BadName)
}

/// Splits a raw query string (without `?`) into its pairs; empty pairs (`a=1&&b`) are dropped. Pure; safe for
/// any input.
pub fn parse(query: &str) -> Result<Vec<Param<'_>>, QueryError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLong);
    }
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|raw| {
            let name = raw.split_once('=').map_or(raw, |(k, _)| k);
            Ok(Param {
                raw,
                name: decode_name(name)?,
            })
        })
        .collect()
}

/// S3's request-authentication parameters (presigned URLs, SigV4 and SigV2): a viewer's must never reach an S3
/// origin, where they would make S3 evaluate the viewer's credentials from the edge's address, or refuse the
/// edge's own signature.
pub fn is_s3_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-amz-") || name == "awsaccesskeyid" || name == "signature"
}

/// Joins pairs back into a query string (`None` when there are none).
pub fn join(params: &[Param<'_>]) -> Option<String> {
    (!params.is_empty()).then(|| params.iter().map(|p| p.raw).collect::<Vec<_>>().join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_as_origins_decode_them() {
        let p = parse("%76ersionId=1&version%49d=2&a+b=3&plain&&x=%zz").unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["versionId", "versionId", "a b", "plain", "x"]);
        // Values are kept exactly as received.
        assert_eq!(p[4].raw, "x=%zz");
        assert_eq!(
            join(&p).unwrap(),
            "%76ersionId=1&version%49d=2&a+b=3&plain&x=%zz"
        );
        assert_eq!(join(&[]), None);
    }

    #[test]
    fn bad_names_and_huge_queries_are_refused() {
        assert_eq!(parse("%zz=1"), Err(QueryError::BadName));
        assert_eq!(parse("a%=1"), Err(QueryError::BadName));
        assert_eq!(parse("%FF=1"), Err(QueryError::BadName));
        assert_eq!(
            parse(&"a".repeat(MAX_QUERY_BYTES + 1)),
            Err(QueryError::TooLong)
        );
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn s3_credentials() {
        for n in [
            "X-Amz-Credential",
            "x-amz-signature",
            "X-Amz-Security-Token",
            "AWSAccessKeyId",
            "Signature",
        ] {
            assert!(is_s3_credential(n), "{n}");
        }
        assert!(!is_s3_credential("versionId") && !is_s3_credential("Expires"));
    }
}
