//! Reading what a request claims about its signature (header or presigned form), before any secret is known.

use http::header::{AUTHORIZATION, DATE};
use time::OffsetDateTime;

use crate::canonical::{
    credential_scope, format_amz_date, parse_amz_date, parse_date_digits, query_pairs, ALGORITHM,
};
use crate::{Error, Mechanism};

/// The longest lifetime AWS allows for a presigned URL: seven days.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// How the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// `X-Amz-Algorithm`, `X-Amz-Credential`, … in the query string.
    Presigned { expires_secs: u64 },
}

/// What the request claims, before we know the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercase, as listed.
    pub signed_headers: Vec<String>,
    /// Hex, as provided.
    pub signature: String,
    /// `X-Amz-Date` (or the `Date` header when there is no `X-Amz-Date`).
    pub request_time: OffsetDateTime,
    pub session_token: Option<String>,
    pub kind: AuthKind,
    /// The `x-amz-content-sha256` header, if present.
    pub payload_hash: Option<String>,
}

impl ParsedAuth {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        credential_scope(&self.date, &self.region, &self.service)
    }

    /// The request time as it appears in the string to sign.
    pub fn amz_date(&self) -> String {
        format_amz_date(self.request_time)
    }

    pub fn is_presigned(&self) -> bool {
        matches!(self.kind, AuthKind::Presigned { .. })
    }
}

/// Reads the SigV4 claims of a request.
///
/// `Ok(None)` means anonymous: no `Authorization` header and no signing query parameter. The mechanism is
/// [`crate::mechanism`]'s decision: two of them are refused, and SigV2 (which only S3 accepts, through
/// [`crate::parse_v2`]) is `UnsupportedAlgorithm` here.
pub fn parse(parts: &http::request::Parts) -> Result<Option<ParsedAuth>, Error> {
    match crate::mechanism(parts)? {
        Mechanism::Anonymous => Ok(None),
        Mechanism::V4Header => match parts.headers.get(AUTHORIZATION) {
            Some(value) => parse_header(parts, value).map(Some),
            None => Ok(None),
        },
        Mechanism::V4Query => parse_presigned(parts, parts.uri.query().unwrap_or("")).map(Some),
        Mechanism::V2Header | Mechanism::V2Query => Err(Error::UnsupportedAlgorithm),
    }
}

fn incomplete(message: impl Into<String>) -> Error {
    Error::IncompleteSignature {
        message: message.into(),
    }
}

fn query_error(message: impl Into<String>) -> Error {
    Error::AuthorizationQueryParametersError {
        message: message.into(),
    }
}

fn parse_header(
    parts: &http::request::Parts,
    value: &http::HeaderValue,
) -> Result<ParsedAuth, Error> {
    let value = value
        .to_str()
        .map_err(|_| incomplete("Authorization header contains characters that are not ASCII."))?;
    let rest = match value.split_once(' ') {
        Some((ALGORITHM, rest)) => rest,
        Some((algorithm, _)) if algorithm.starts_with("AWS4-") => {
            return Err(Error::AuthorizationHeaderMalformed {
                message: format!("the authorization mechanism '{algorithm}' is not supported"),
            })
        }
        _ => return Err(Error::UnsupportedAlgorithm),
    };

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim();
        if component.is_empty() {
            continue;
        }
        let Some((key, val)) = component.split_once('=') else {
            return Err(incomplete(format!(
                "Authorization header requires each component to be of the form key=value: '{component}'."
            )));
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(incomplete(format!(
                    "Authorization header contains an unknown component '{other}'."
                )))
            }
        };
        if slot.replace(val.trim()).is_some() {
            return Err(incomplete(format!(
                "Authorization header contains '{}' more than once.",
                key.trim()
            )));
        }
    }
    let mut missing = Vec::new();
    for (name, slot) in [
        ("Credential", &credential),
        ("SignedHeaders", &signed_headers),
        ("Signature", &signature),
    ] {
        if slot.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        return Err(incomplete(missing.join(" ")));
    }
    let (credential, signed_headers, signature) = (
        credential.unwrap_or_default(),
        signed_headers.unwrap_or_default(),
        signature.unwrap_or_default(),
    );

    let request_time = header_request_time(parts)?;
    let malformed = |message: String| Error::AuthorizationHeaderMalformed { message };
    let scope = parse_credential(credential, request_time, "the Credential", malformed)?;
    let signed_headers = parse_signed_headers(signed_headers).map_err(malformed)?;

    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        signature: signature.to_owned(),
        request_time,
        session_token: header_str(parts, "x-amz-security-token"),
        kind: AuthKind::Header,
        payload_hash: header_str(parts, "x-amz-content-sha256"),
    })
}

fn header_str(parts: &http::request::Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `X-Amz-Date`, else the `Date` header (IMF-fixdate, as RFC 9110 requires).
fn header_request_time(parts: &http::request::Parts) -> Result<OffsetDateTime, Error> {
    if let Some(value) = parts.headers.get("x-amz-date") {
        return value
            .to_str()
            .ok()
            .and_then(parse_amz_date)
            .ok_or(Error::MissingDate);
    }
    let value = parts.headers.get(DATE).ok_or(Error::MissingDate)?;
    let text = value.to_str().map_err(|_| Error::MissingDate)?;
    parse_http_date(text).ok_or(Error::MissingDate)
}

/// Parses an HTTP date such as `Sun, 30 Aug 2015 12:36:00 GMT`.
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

struct Scope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

fn parse_credential(
    credential: &str,
    request_time: OffsetDateTime,
    what: &str,
    error: impl Fn(String) -> Error,
) -> Result<Scope, Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminal] = parts[..] else {
        return Err(error(format!(
            "{what} is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
        )));
    };
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err(error(format!(
            "{what} is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
        )));
    }
    if terminal != "aws4_request" {
        return Err(error(format!(
            "incorrect terminal \"{terminal}\". This endpoint uses \"aws4_request\"."
        )));
    }
    let request_day = format_amz_date(request_time)[..8].to_owned();
    if parse_date_digits(date).is_none() || date != request_day {
        // AWS reports both a malformed date and a date that disagrees with X-Amz-Date this way.
        return Err(error(format!(
            "Invalid credential date \"{date}\". This date is not the same as X-Amz-Date: \"{request_day}\"."
        )));
    }
    Ok(Scope {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

/// `host;x-amz-date;…`: non-empty, lowercase, and including `host` (SigV4 requires it signed).
fn parse_signed_headers(list: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = list.split(';').map(str::to_owned).collect();
    if names.iter().any(|n| {
        n.is_empty()
            || n.bytes().any(|b| b.is_ascii_uppercase())
            || http::HeaderName::from_bytes(n.as_bytes()).is_err()
    }) {
        return Err(format!(
            "SignedHeaders \"{list}\" must be a ';'-separated list of lowercase header names."
        ));
    }
    if !names.iter().any(|n| n == "host") {
        return Err("SignedHeaders must include 'host'.".to_owned());
    }
    Ok(names)
}

fn parse_presigned(parts: &http::request::Parts, query: &str) -> Result<ParsedAuth, Error> {
    let (mut algorithm, mut credential, mut date, mut expires) = (None, None, None, None);
    let (mut signed_headers, mut signature, mut token) = (None, None, None);
    for (key, value) in query_pairs(query) {
        let slot = match key.as_ref() {
            b"X-Amz-Algorithm" => &mut algorithm,
            b"X-Amz-Credential" => &mut credential,
            b"X-Amz-Date" => &mut date,
            b"X-Amz-Expires" => &mut expires,
            b"X-Amz-SignedHeaders" => &mut signed_headers,
            b"X-Amz-Signature" => &mut signature,
            b"X-Amz-Security-Token" => &mut token,
            _ => continue,
        };
        let value = String::from_utf8(value.into_owned())
            .map_err(|_| query_error("X-Amz-* query parameters must be valid UTF-8."))?;
        // Two values for one auth parameter would make "which one was signed" ambiguous.
        if slot.replace(value).is_some() {
            return Err(query_error(format!(
                "Query parameter {} may appear only once.",
                String::from_utf8_lossy(&key)
            )));
        }
    }
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
    )
    else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let request_time = parse_amz_date(&date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    let expires_secs: u64 = if expires.bytes().all(|b| b.is_ascii_digit()) && !expires.is_empty() {
        expires.parse().unwrap_or(u64::MAX)
    } else {
        return Err(query_error("X-Amz-Expires should be a number"));
    };
    if expires_secs < 1 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if expires_secs > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let scope = parse_credential(&credential, request_time, "X-Amz-Credential", query_error)?;
    let signed_headers = parse_signed_headers(&signed_headers).map_err(query_error)?;
    if signature.is_empty() {
        return Err(query_error("X-Amz-Signature must not be empty."));
    }
    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        signature,
        request_time,
        session_token: token,
        kind: AuthKind::Presigned { expires_secs },
        payload_hash: header_str(parts, "x-amz-content-sha256"),
    })
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

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd";

    #[test]
    fn anonymous_is_none() {
        assert_eq!(parse(&parts("/b/k?x=1", &[])).unwrap(), None);
    }

    #[test]
    fn header_form_is_read() {
        let p = parts(
            "/",
            &[
                ("authorization", AUTH),
                ("x-amz-date", "20150830T123600Z"),
                ("x-amz-security-token", "tok"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ],
        );
        let auth = parse(&p).unwrap().unwrap();
        assert_eq!(auth.access_key_id, "AKID");
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(auth.session_token.as_deref(), Some("tok"));
        assert_eq!(auth.payload_hash.as_deref(), Some("UNSIGNED-PAYLOAD"));
        assert_eq!(
            auth.credential_scope(),
            "20150830/us-east-1/s3/aws4_request"
        );
        assert_eq!(auth.kind, AuthKind::Header);
    }

    #[test]
    fn date_header_is_the_fallback() {
        let p = parts(
            "/",
            &[
                ("authorization", AUTH),
                ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
            ],
        );
        assert_eq!(parse(&p).unwrap().unwrap().amz_date(), "20150830T123600Z");
        let p = parts("/", &[("authorization", AUTH)]);
        assert_eq!(parse(&p).unwrap_err(), Error::MissingDate);
    }

    #[test]
    fn malformed_headers_get_the_aws_codes() {
        let cases = [
            ("AWS AKID:sig", "InvalidRequest"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, Signature=ab", "IncompleteSignature"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=", "IncompleteSignature"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3, SignedHeaders=host, Signature=ab", "AuthorizationHeaderMalformed"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=ab", "AuthorizationHeaderMalformed"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150831/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab", "AuthorizationHeaderMalformed"),
            ("AWS4-HMAC-SHA256 Credential=AKID/2015083x/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab", "AuthorizationHeaderMalformed"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=ab", "AuthorizationHeaderMalformed"),
            ("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=ab", "AuthorizationHeaderMalformed"),
        ];
        for (header, code) in cases {
            let p = parts(
                "/",
                &[
                    ("authorization", header),
                    ("x-amz-date", "20150830T123600Z"),
                ],
            );
            assert_eq!(parse(&p).unwrap_err().code(), code, "{header}");
        }
    }

    #[test]
    fn presigned_bounds_and_conflicts() {
        let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab";
        let with = |expires: &str| parts(&format!("/?{base}&X-Amz-Expires={expires}"), &[]);
        assert_eq!(
            parse(&with("604800")).unwrap().unwrap().kind,
            AuthKind::Presigned {
                expires_secs: 604_800
            }
        );
        assert!(parse(&with("1")).is_ok());
        for bad in ["604801", "0", "-1", "x", "99999999999999999999999"] {
            assert_eq!(
                parse(&with(bad)).unwrap_err().code(),
                "AuthorizationQueryParametersError",
                "{bad}"
            );
        }
        let missing = parts(&format!("/?{base}"), &[]);
        assert_eq!(
            parse(&missing).unwrap_err().code(),
            "AuthorizationQueryParametersError"
        );
        let both = parts(
            &format!("/?{base}&X-Amz-Expires=60"),
            &[("authorization", AUTH)],
        );
        assert_eq!(parse(&both).unwrap_err(), Error::MultipleAuthMechanisms);
    }
}
