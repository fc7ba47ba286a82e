//! AWS Signature Version 2, as S3 still accepts it: `Authorization: AWS <key>:<signature>` and presigned URLs
//! with `AWSAccessKeyId`, `Expires` and `Signature` (what the aws CLI v1 and boto3 produce for S3 presigned
//! URLs in us-east-1).
//!
//! SigV2 signs less than SigV4 (no host, no body), so it gets the same guard rails as SigV4 wherever it can:
//! header-signed requests must carry a `Date` (or `x-amz-date`) within the 15-minute skew, presigned URLs may
//! live at most seven days, and the signature is compared in constant time.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use http::header::AUTHORIZATION;
use time::OffsetDateTime;

use crate::canonical::query_pairs;
use crate::parse::parse_http_date;
use crate::{Error, MAX_PRESIGNED_EXPIRES_SECS, MAX_SKEW};

/// What a SigV2 request claims, before the secret is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Auth {
    pub access_key_id: String,
    /// Base64, as provided.
    pub signature: String,
    pub kind: V2Kind,
    /// `x-amz-security-token`, from the header or the query string.
    pub session_token: Option<String>,
}

/// Where the signature travels and what bounds it in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Kind {
    /// `Authorization: AWS …`; `date` is `x-amz-date` or `Date`.
    Header { date: OffsetDateTime },
    /// A presigned URL valid until `expires`.
    Presigned { expires: OffsetDateTime },
}

/// The query parameters that take part in the canonicalized resource, sorted (S3's list, as s3s and the SDKs
/// use it).
const SUBRESOURCES: [&str; 35] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Whether SigV2's string to sign covers the query parameter `name` (S3's list of signed subresources). A
/// subresource outside it selects an operation the signature does not name, so a server must refuse SigV2
/// requests that carry one.
pub fn v2_signs_subresource(name: &str) -> bool {
    SUBRESOURCES.contains(&name)
}

fn query_params_error(message: impl Into<String>) -> Error {
    Error::AuthorizationQueryParametersError {
        message: message.into(),
    }
}

/// Reads the SigV2 claims of a request that [`crate::mechanism`] classified as SigV2, checking its clock
/// rules against `now`: a header-signed request outside the skew is `RequestTimeTooSkewed`, a presigned URL
/// past `Expires` is expired, and one whose `Expires` lies more than seven days ahead is refused.
pub fn parse_v2(parts: &http::request::Parts, now: OffsetDateTime) -> Result<V2Auth, Error> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| Error::UnsupportedAlgorithm)?;
        let (key, signature) = value
            .strip_prefix("AWS ")
            .and_then(|rest| rest.split_once(':'))
            .filter(|(k, s)| !k.is_empty() && !s.is_empty())
            .ok_or_else(|| Error::IncompleteSignature {
                message: "The Signature Version 2 Authorization header must be 'AWS <AccessKeyId>:<Signature>'.".into(),
            })?;
        let date = header("x-amz-date")
            .or_else(|| header("date"))
            .and_then(parse_http_date)
            .ok_or(Error::MissingDate)?;
        if (now - date).abs() > MAX_SKEW {
            return Err(Error::RequestTimeTooSkewed {
                request_time: date,
                server_time: now,
            });
        }
        return Ok(V2Auth {
            access_key_id: key.to_owned(),
            signature: signature.to_owned(),
            kind: V2Kind::Header { date },
            session_token: header("x-amz-security-token").map(str::to_owned),
        });
    }

    let query = parts.uri.query().unwrap_or("");
    let (mut key, mut signature, mut expires, mut token) = (None, None, None, None);
    for (name, value) in query_pairs(query) {
        let slot = match name.as_ref() {
            b"AWSAccessKeyId" => &mut key,
            b"Signature" => &mut signature,
            b"Expires" => &mut expires,
            b"x-amz-security-token" => &mut token,
            _ => continue,
        };
        let value = String::from_utf8(value.into_owned()).map_err(|_| {
            query_params_error("Query-string authentication parameters must be valid UTF-8.")
        })?;
        if slot.replace(value).is_some() {
            return Err(query_params_error(format!(
                "Query parameter {} may appear only once.",
                String::from_utf8_lossy(&name)
            )));
        }
    }
    let (Some(key), Some(signature), Some(expires)) = (key, signature, expires) else {
        return Err(query_params_error(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    if key.is_empty() || signature.is_empty() {
        return Err(query_params_error(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    }
    // Digits only: no sign, no spaces. Anything else (including a negative value) is refused rather than
    // clamped, and a value too large for a timestamp cannot overflow anything.
    let expires = (!expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit()))
        .then(|| expires.parse::<i64>().ok())
        .flatten()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .ok_or_else(|| {
            query_params_error("Invalid date (should be seconds since epoch): Expires")
        })?;
    if now > expires {
        return Err(Error::RequestExpired {
            expires,
            server_time: now,
        });
    }
    if (expires - now).whole_seconds() > MAX_PRESIGNED_EXPIRES_SECS as i64 {
        return Err(query_params_error(
            "Signature Version 2 presigned URLs must expire within 604800 seconds (seven days).",
        ));
    }
    Ok(V2Auth {
        access_key_id: key,
        signature,
        kind: V2Kind::Presigned { expires },
        session_token: token.or_else(|| header("x-amz-security-token").map(str::to_owned)),
    })
}

/// SigV2's string to sign: verb, Content-MD5, Content-Type, the date line (`Date` — empty when `x-amz-date`
/// is sent — or `Expires` for presigned URLs), the canonicalized `x-amz-*` headers and the canonicalized
/// resource (`/<bucket>` for virtual-hosted-style requests, the path as sent, and the S3 subresources).
///
/// Returns `None` when a subresource appears twice, which would make the resource ambiguous.
pub fn string_to_sign_v2(
    parts: &http::request::Parts,
    presigned: bool,
    virtual_host_bucket: Option<&str>,
) -> Option<String> {
    let headers = &parts.headers;
    let single = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let mut out = String::with_capacity(256);
    out.push_str(parts.method.as_str());
    out.push('\n');
    out.push_str(&single("content-md5"));
    out.push('\n');
    out.push_str(&single("content-type"));
    out.push('\n');
    let query = parts.uri.query().unwrap_or("");
    if presigned {
        let expires = query_pairs(query)
            .find(|(k, _)| k.as_ref() == b"Expires")
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        out.push_str(&expires);
    } else if !headers.contains_key("x-amz-date") {
        out.push_str(&single("date"));
    }
    out.push('\n');

    let mut amz: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| n.starts_with("x-amz-"))
        .collect();
    amz.sort_unstable();
    amz.dedup();
    for name in amz {
        out.push_str(name);
        out.push(':');
        for (i, v) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(String::from_utf8_lossy(v.as_bytes()).trim());
        }
        out.push('\n');
    }

    if let Some(bucket) = virtual_host_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(parts.uri.path());
    let mut subresources: Vec<(String, String)> = Vec::new();
    for (k, v) in query_pairs(query) {
        let k = String::from_utf8_lossy(&k).into_owned();
        if SUBRESOURCES.contains(&k.as_str()) {
            if subresources.iter().any(|(seen, _)| *seen == k) {
                return None;
            }
            subresources.push((k, String::from_utf8_lossy(&v).into_owned()));
        }
    }
    subresources.sort();
    for (i, (k, v)) in subresources.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    Some(out)
}

/// The SigV2 signature of `string_to_sign`: base64 HMAC-SHA1.
pub fn signature_v2(secret_access_key: &str, string_to_sign: &str) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        secret_access_key.as_bytes(),
    );
    let tag = hmac::sign(&key, string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// Verifies a SigV2 request whose claims [`parse_v2`] accepted. The comparison is constant-time.
pub fn verify_v2(
    parts: &http::request::Parts,
    auth: &V2Auth,
    secret_access_key: &str,
    virtual_host_bucket: Option<&str>,
) -> Result<(), Error> {
    let presigned = matches!(auth.kind, V2Kind::Presigned { .. });
    let string_to_sign =
        string_to_sign_v2(parts, presigned, virtual_host_bucket).ok_or_else(|| {
            Error::IncompleteSignature {
                message: "A subresource appears more than once in the query string.".into(),
            }
        })?;
    let computed = signature_v2(secret_access_key, &string_to_sign);
    constant_time::verify_slices_are_equal(computed.as_bytes(), auth.signature.as_bytes())
        .map_err(|_| Error::mismatch(String::new(), string_to_sign, &auth.signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    /// The examples of AWS's "Signing and authenticating REST requests" page (SigV2); botocore's `HmacV1Auth`
    /// computes the same signatures.
    #[test]
    fn aws_documentation_examples() {
        let get = parts(
            "GET",
            "/photos/puppy.jpg",
            &[("date", "Tue, 27 Mar 2007 19:36:42 +0000")],
        );
        let sts = string_to_sign_v2(&get, false, Some("awsexamplebucket1")).unwrap();
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(signature_v2(SECRET, &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");

        let put = parts(
            "PUT",
            "/photos/puppy.jpg",
            &[
                ("content-type", "image/jpeg"),
                ("content-length", "94328"),
                ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ],
        );
        let sts = string_to_sign_v2(&put, false, Some("awsexamplebucket1")).unwrap();
        assert_eq!(signature_v2(SECRET, &sts), "iqRzw+ileNPu1fhspnRs8nOjjIA=");

        let list = parts(
            "GET",
            "/?prefix=photos&max-keys=50&marker=puppy",
            &[("date", "Tue, 27 Mar 2007 19:42:41 +0000")],
        );
        let sts = string_to_sign_v2(&list, false, Some("awsexamplebucket1")).unwrap();
        assert_eq!(signature_v2(SECRET, &sts), "m0WP8eCtspQl5Ahe6L1SozdX9YA=");

        let acl = parts(
            "GET",
            "/?acl",
            &[("date", "Tue, 27 Mar 2007 19:44:46 +0000")],
        );
        let sts = string_to_sign_v2(&acl, false, Some("awsexamplebucket1")).unwrap();
        assert_eq!(signature_v2(SECRET, &sts), "82ZHiFIjc+WbcwFKGUVEQspPn+0=");

        let delete = parts(
            "DELETE",
            "/awsexamplebucket1/photos/puppy.jpg",
            &[
                ("date", "Tue, 27 Mar 2007 21:20:27 +0000"),
                ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
            ],
        );
        // With x-amz-date the Date line is empty. (Signature computed independently with Python's hmac.)
        let sts = string_to_sign_v2(&delete, false, None).unwrap();
        assert_eq!(
            sts,
            "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(signature_v2(SECRET, &sts), "Ri1hpB1zpS9pGqR7y8kuNFCl4sE=");
    }

    #[test]
    fn header_requests_must_be_recent() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let req = |date: &str| {
            parts(
                "GET",
                "/b/k",
                &[("authorization", "AWS AKID:c2ln"), ("date", date)],
            )
        };
        assert!(parse_v2(&req("Tue, 01 Dec 2026 12:10:00 GMT"), now).is_ok());
        let old = parse_v2(&req("Sat, 01 Dec 2018 12:00:00 GMT"), now).unwrap_err();
        assert_eq!(old.code(), "RequestTimeTooSkewed");
        let future = parse_v2(&req("Tue, 01 Dec 2026 12:16:00 GMT"), now).unwrap_err();
        assert_eq!(future.code(), "RequestTimeTooSkewed");
        let none = parts("GET", "/b/k", &[("authorization", "AWS AKID:c2ln")]);
        assert_eq!(parse_v2(&none, now).unwrap_err(), Error::MissingDate);
        let garbage = parts(
            "GET",
            "/b/k",
            &[
                ("authorization", "AWS AKID"),
                ("date", "Tue, 01 Dec 2026 12:00:00 GMT"),
            ],
        );
        assert_eq!(
            parse_v2(&garbage, now).unwrap_err().code(),
            "IncompleteSignature"
        );
    }

    #[test]
    fn presigned_urls_are_bounded() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let at = |expires: &str| {
            parts(
                "GET",
                &format!("/b/k?AWSAccessKeyId=AKID&Expires={expires}&Signature=c2ln"),
                &[],
            )
        };
        let t = now.unix_timestamp();
        assert!(parse_v2(&at(&(t + 3600).to_string()), now).is_ok());
        assert!(parse_v2(&at(&(t + 604_800).to_string()), now).is_ok());
        for bad in [
            (t + 604_801).to_string(),
            "-1".to_string(),
            "-9223372036854775808".to_string(),
            "99999999999999999999999".to_string(),
            "9223372036854775807".to_string(),
            "1e9".to_string(),
            String::new(),
        ] {
            assert_eq!(
                parse_v2(&at(&bad), now).unwrap_err().code(),
                "AuthorizationQueryParametersError",
                "{bad}"
            );
        }
        assert_eq!(
            parse_v2(&at(&(t - 1).to_string()), now).unwrap_err().code(),
            "AccessDenied"
        );
        let twice = parts(
            "GET",
            &format!("/b/k?AWSAccessKeyId=A&Expires={t}&Signature=s&Signature=t"),
            &[],
        );
        assert!(parse_v2(&twice, now).is_err());
    }

    #[test]
    fn verification_is_exact() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let exp = now.unix_timestamp() + 60;
        let unsigned = parts(
            "GET",
            &format!("/b/k?versionId=3&AWSAccessKeyId=AKID&Expires={exp}&Signature=x"),
            &[],
        );
        let sts = string_to_sign_v2(&unsigned, true, None).unwrap();
        assert_eq!(sts, format!("GET\n\n\n{exp}\n/b/k?versionId=3"));
        let sig = signature_v2(SECRET, &sts);
        let enc = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
        let signed = parts(
            "GET",
            &format!("/b/k?versionId=3&AWSAccessKeyId=AKID&Expires={exp}&Signature={enc}"),
            &[],
        );
        let auth = parse_v2(&signed, now).unwrap();
        verify_v2(&signed, &auth, SECRET, None).unwrap();
        assert_eq!(
            verify_v2(&signed, &auth, "other", None).unwrap_err().code(),
            "SignatureDoesNotMatch"
        );
        // The signature covers the subresource: a different version is a different request.
        let moved = parts(
            "GET",
            &format!("/b/k?versionId=4&AWSAccessKeyId=AKID&Expires={exp}&Signature={enc}"),
            &[],
        );
        assert!(verify_v2(&moved, &parse_v2(&moved, now).unwrap(), SECRET, None).is_err());
    }
}
