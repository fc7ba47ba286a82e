//! Which authentication mechanism a request uses — decided once, for every service, before anything reads a
//! signature. A request that carries more than one is refused, as AWS refuses it: otherwise one layer could
//! verify one signature while another reads its claims (the principal, `s3:authType`, `s3:signatureversion`)
//! from the other, unverified one.

use http::header::AUTHORIZATION;

use crate::canonical::query_pairs;
use crate::Error;

/// How a request says it is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// No `Authorization` header and no signing query parameter.
    Anonymous,
    /// `Authorization: AWS4-HMAC-SHA256 …` (or any other value that is not SigV2's `AWS id:sig`).
    V4Header,
    /// `X-Amz-Algorithm` / `X-Amz-Credential` / `X-Amz-Signature` in the query string.
    V4Query,
    /// `Authorization: AWS <access key>:<signature>` (S3 only).
    V2Header,
    /// `AWSAccessKeyId` / `Signature` in the query string (S3 only).
    V2Query,
}

impl Mechanism {
    /// Whether this is Signature Version 2.
    pub fn is_v2(self) -> bool {
        matches!(self, Mechanism::V2Header | Mechanism::V2Query)
    }

    /// Whether a signature travels in the query string (a presigned URL).
    pub fn is_query(self) -> bool {
        matches!(self, Mechanism::V4Query | Mechanism::V2Query)
    }
}

/// Query parameters that make a request a SigV4 presigned URL. Matched without regard to case, so that a
/// differently cased parameter cannot slip past this decision and still be seen by a layer that matches
/// loosely.
const V4_QUERY: [&str; 3] = ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"];
/// Query parameters that make a request a SigV2 presigned URL.
const V2_QUERY: [&str; 2] = ["signature", "awsaccesskeyid"];

/// The one authentication mechanism of a request.
///
/// Counts the `Authorization` header, SigV4 query parameters and SigV2 query parameters; more than one is
/// [`Error::MultipleAuthMechanisms`] (S3's `InvalidArgument`). Says nothing about whether the claims are well
/// formed: that is [`crate::parse`]'s and [`crate::parse_v2`]'s job.
pub fn mechanism(parts: &http::request::Parts) -> Result<Mechanism, Error> {
    let mut found = Vec::with_capacity(1);
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        if parts.headers.get_all(AUTHORIZATION).iter().count() > 1 {
            return Err(Error::MultipleAuthMechanisms);
        }
        found.push(if value.as_bytes().starts_with(b"AWS ") {
            Mechanism::V2Header
        } else {
            Mechanism::V4Header
        });
    }
    let query = parts.uri.query().unwrap_or("");
    if !query.is_empty() {
        let (mut v4, mut v2) = (false, false);
        for (key, _) in query_pairs(query) {
            let key = String::from_utf8_lossy(&key).to_ascii_lowercase();
            v4 |= V4_QUERY.contains(&key.as_str());
            v2 |= V2_QUERY.contains(&key.as_str());
        }
        if v4 {
            found.push(Mechanism::V4Query);
        }
        if v2 {
            found.push(Mechanism::V2Query);
        }
    }
    match found[..] {
        [] => Ok(Mechanism::Anonymous),
        [one] => Ok(one),
        _ => Err(Error::MultipleAuthMechanisms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    const V4: &str = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab";

    #[test]
    fn one_mechanism_each() {
        let cases = [
            ("/b/k", vec![], Mechanism::Anonymous),
            ("/b/k?versionId=1&x=2", vec![], Mechanism::Anonymous),
            ("/b/k", vec![("authorization", V4)], Mechanism::V4Header),
            (
                "/b/k",
                vec![("authorization", "AWS AKID:c2ln")],
                Mechanism::V2Header,
            ),
            (
                "/b/k",
                vec![("authorization", "Bearer x")],
                Mechanism::V4Header,
            ),
            (
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256",
                vec![],
                Mechanism::V4Query,
            ),
            ("/b/k?X-Amz-Signature=ab", vec![], Mechanism::V4Query),
            ("/b/k?x-amz-credential=ab", vec![], Mechanism::V4Query),
            (
                "/b/k?AWSAccessKeyId=A&Expires=1&Signature=s",
                vec![],
                Mechanism::V2Query,
            ),
            ("/b/k?Signature=s", vec![], Mechanism::V2Query),
            ("/b/k?signature=s", vec![], Mechanism::V2Query),
        ];
        for (uri, headers, want) in cases {
            assert_eq!(
                mechanism(&parts(uri, &headers)).unwrap(),
                want,
                "{uri} {headers:?}"
            );
        }
    }

    #[test]
    fn two_mechanisms_are_refused() {
        let cases = [
            (
                "/b/k?AWSAccessKeyId=A&Expires=1&Signature=s",
                vec![("authorization", V4)],
            ),
            ("/b/k?Signature=s", vec![("authorization", "AWS A:s")]),
            ("/b/k?X-Amz-Signature=s", vec![("authorization", V4)]),
            ("/b/k?X-Amz-Algorithm=x&Signature=s", vec![]),
            ("/b/k", vec![("authorization", V4), ("authorization", V4)]),
        ];
        for (uri, headers) in cases {
            let e = mechanism(&parts(uri, &headers)).unwrap_err();
            assert_eq!(e, Error::MultipleAuthMechanisms, "{uri}");
            assert_eq!(e.code(), "InvalidArgument");
        }
    }
}
