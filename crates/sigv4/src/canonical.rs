//! Canonical request, string to sign and signing key: the deterministic core shared by signing and verifying.

use std::borrow::Cow;

use aws_lc_rs::{digest, hmac};
use http::HeaderMap;
use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::OffsetDateTime;

/// The only algorithm we accept and produce.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string: the payload hash of a bodiless request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Payload hash declared by clients that do not sign the body (S3 presigned URLs, some uploads).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// aws-chunked body with a signature on every chunk.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// aws-chunked body with signed chunks and a signed trailer.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// aws-chunked body without chunk signatures, with an (unsigned) trailer.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// Everything except the RFC 3986 unreserved characters `A-Za-z0-9-_.~` is percent-encoded.
const URI_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Same, but keeps `/` so a path can be encoded in one pass.
const PATH_ENCODE: &AsciiSet = &URI_ENCODE.remove(b'/');

/// How the request path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UriMode {
    /// Every service but S3: remove `.`/`..` segments, collapse empty segments, then encode the
    /// path as sent on the wire once more (so `%20` becomes `%2520`), as the AWS SDKs do.
    Normalize,
    /// S3: no normalization (`//` and `..` are part of object keys) and single encoding.
    /// We decode what came over the wire and re-encode it canonically, so clients that leave
    /// characters such as `(` or `!` unescaped still verify.
    S3,
}

/// The parts of a request that take part in the signature, borrowed from wherever they live.
///
/// [`RequestView::from_parts`] builds one from `http::request::Parts`; tests and tools that
/// hold a raw request line (which `http::Uri` may refuse, e.g. a path with a space) fill the
/// fields directly.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// The path as sent on the wire, without the query.
    pub path: &'a str,
    /// The raw query string without `?`, empty if none.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// Used as the `host` value when there is no `Host` header (HTTP/2 carries `:authority`).
    pub authority: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
        }
    }
}

/// Which query parameters are left out of the canonical query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueryFilter {
    /// Presigned URLs sign everything but their own `X-Amz-Signature`.
    pub drop_signature: bool,
    /// Some clients (AWS IoT style) append `X-Amz-Security-Token` after signing.
    pub drop_session_token: bool,
}

impl QueryFilter {
    pub(crate) const HEADER: QueryFilter = QueryFilter {
        drop_signature: false,
        drop_session_token: false,
    };
    pub(crate) const PRESIGNED: QueryFilter = QueryFilter {
        drop_signature: true,
        drop_session_token: false,
    };
}

/// How the path is written: the two public modes plus "verbatim", the fallback for S3 clients
/// that sign the wire path exactly as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathForm {
    Mode(UriMode),
    Verbatim,
}

/// The canonical request of SigV4, as text.
///
/// `signed_headers` are lowercase names; they are sorted here, as AWS does. A signed header that
/// is absent contributes an empty value (so the signature simply will not match).
/// `presigned` leaves `X-Amz-Signature` out of the canonical query string.
pub fn canonical_request(
    request: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    mode: UriMode,
    presigned: bool,
) -> String {
    let filter = if presigned {
        QueryFilter::PRESIGNED
    } else {
        QueryFilter::HEADER
    };
    let mut out = Vec::with_capacity(512);
    write_canonical_request(
        &mut out,
        request,
        signed_headers,
        payload_hash,
        PathForm::Mode(mode),
        filter,
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes the canonical request as bytes: header values may legally carry non-UTF-8 octets and
/// the signature covers them exactly.
pub(crate) fn write_canonical_request(
    out: &mut Vec<u8>,
    request: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    path_form: PathForm,
    filter: QueryFilter,
) {
    out.extend_from_slice(request.method.as_bytes());
    out.push(b'\n');
    match path_form {
        PathForm::Mode(mode) => write_canonical_uri(out, request.path, mode),
        PathForm::Verbatim if request.path.is_empty() => out.push(b'/'),
        PathForm::Verbatim => out.extend_from_slice(request.path.as_bytes()),
    }
    out.push(b'\n');
    write_canonical_query(out, request.query, filter);
    out.push(b'\n');

    // Sorting a handful of borrowed names is cheaper than checking whether they already are.
    let mut names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        write_header_value(out, request, name);
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
}

fn write_header_value(out: &mut Vec<u8>, request: &RequestView<'_>, name: &str) {
    let mut values = request.headers.get_all(name).iter().peekable();
    if values.peek().is_none() {
        if name == "host" {
            if let Some(authority) = request.authority {
                out.extend_from_slice(authority.as_bytes());
            }
        }
        return;
    }
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_trimmed(out, value.as_bytes());
    }
}

/// AWS "trimall": strip surrounding whitespace and turn each run of spaces into one space.
/// Folded (multi-line) values arrive from the HTTP parser with the line break replaced by spaces,
/// so they collapse here too.
fn write_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |p| p + 1);
    let mut previous_space = false;
    for &b in &value[start..end] {
        let space = matches!(b, b' ' | b'\r' | b'\n');
        if space {
            if !previous_space {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
        previous_space = space;
    }
}

/// The canonical URI for a wire path under `mode`.
pub fn canonical_uri(path: &str, mode: UriMode) -> String {
    let mut out = Vec::with_capacity(path.len() + 8);
    write_canonical_uri(&mut out, path, mode);
    // Only ASCII is written: everything else is percent-encoded.
    String::from_utf8_lossy(&out).into_owned()
}

fn write_canonical_uri(out: &mut Vec<u8>, path: &str, mode: UriMode) {
    if path.is_empty() {
        out.push(b'/');
        return;
    }
    match mode {
        UriMode::Normalize => {
            let normalized = remove_dot_segments(path);
            extend_encoded(out, normalized.as_bytes(), PATH_ENCODE);
        }
        UriMode::S3 => {
            let decoded: Cow<'_, [u8]> = percent_decode(path.as_bytes()).into();
            extend_encoded(out, &decoded, PATH_ENCODE);
        }
    }
}

/// Dot-segment removal as the AWS SDKs do it (botocore `remove_dot_segments`): empty and `.`
/// segments vanish, `..` pops, a trailing `/` survives unless the result is the root.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn extend_encoded(out: &mut Vec<u8>, bytes: &[u8], set: &'static AsciiSet) {
    for piece in percent_encode(bytes, set) {
        out.extend_from_slice(piece.as_bytes());
    }
}

/// URI-encodes one query key or value the way SigV4 wants it (`A-Za-z0-9-_.~` kept, the rest `%XX`).
pub fn uri_encode(value: &str) -> String {
    percent_encode(value.as_bytes(), URI_ENCODE).to_string()
}

/// Decodes a query component: `+` is a space (form encoding, as S3 and the SDK signers treat it),
/// then `%XX` escapes; malformed escapes are kept literally.
pub(crate) fn decode_query_component(raw: &str) -> Cow<'_, [u8]> {
    if raw.as_bytes().contains(&b'+') {
        Cow::Owned(percent_decode(raw.replace('+', " ").as_bytes()).collect())
    } else {
        // Borrows when there is nothing to decode, which is the common case.
        percent_decode(raw.as_bytes()).into()
    }
}

/// Splits a raw query string into decoded `(key, value)` pairs, skipping empty pieces.
pub(crate) fn query_pairs(
    query: &str,
) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        (decode_query_component(k), decode_query_component(v))
    })
}

/// The canonical query string: every parameter decoded then re-encoded, sorted by key then value.
pub fn canonical_query_string(query: &str, presigned: bool) -> String {
    let filter = if presigned {
        QueryFilter::PRESIGNED
    } else {
        QueryFilter::HEADER
    };
    let mut out = Vec::new();
    write_canonical_query(&mut out, query, filter);
    String::from_utf8_lossy(&out).into_owned()
}

fn write_canonical_query(out: &mut Vec<u8>, query: &str, filter: QueryFilter) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .filter(|(k, _)| {
            !(filter.drop_signature && k.as_ref() == b"X-Amz-Signature"
                || filter.drop_session_token && k.as_ref() == b"X-Amz-Security-Token")
        })
        .map(|(k, v)| {
            (
                percent_encode(k.as_ref(), URI_ENCODE).to_string(),
                percent_encode(v.as_ref(), URI_ENCODE).to_string(),
            )
        })
        .collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
    }
}

/// `YYYYMMDD/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign for a canonical request: algorithm, timestamp, scope, hex SHA-256 of the request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    string_to_sign_bytes(amz_date, scope, canonical_request.as_bytes())
}

pub(crate) fn string_to_sign_bytes(
    amz_date: &str,
    scope: &str,
    canonical_request: &[u8],
) -> String {
    let hash = digest::digest(&digest::SHA256, canonical_request);
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 68);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    out.push_str(&hex::encode(hash.as_ref()));
    out
}

/// Derives the SigV4 signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut seed = zeroize::Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&seed, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Hex HMAC-SHA256 of the string to sign under the signing key: the signature.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Hex SHA-256 of `data` (for payload hashes).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` in UTC.
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses exactly `YYYYMMDDTHHMMSSZ`; anything else is `None`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let date = parse_date_digits(&s[..8])?;
    let num = |r: std::ops::Range<usize>| -> Option<u8> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let time = time::Time::from_hms(num(9..11)?, num(11..13)?, num(13..15)?).ok()?;
    Some(date.with_time(time).assume_utc())
}

/// Parses `YYYYMMDD` (the credential scope date).
pub(crate) fn parse_date_digits(s: &str) -> Option<time::Date> {
    if s.len() != 8 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year: i32 = s[..4].parse().ok()?;
    let month: u8 = s[4..6].parse().ok()?;
    let day: u8 = s[6..8].parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_follow_the_sdks() {
        assert_eq!(remove_dot_segments("/example/.."), "/");
        assert_eq!(remove_dot_segments("//example//"), "/example/");
        assert_eq!(remove_dot_segments("/./example"), "/example");
        assert_eq!(remove_dot_segments("/a/b/../c/"), "/a/c/");
        assert_eq!(remove_dot_segments("/../../x"), "/x");
    }

    #[test]
    fn trimall_collapses_spaces_and_folds() {
        let mut out = Vec::new();
        write_trimmed(&mut out, b"  value1   value2\r\n   value3  ");
        assert_eq!(out, b"value1 value2 value3");
    }

    #[test]
    fn query_plus_is_a_space_and_encoding_is_uppercase() {
        assert_eq!(
            canonical_query_string("b=a+b&a=%2f&c", false),
            "a=%2F&b=a%20b&c="
        );
        assert_eq!(canonical_query_string("X-Amz-Signature=1&a=2", true), "a=2");
    }

    #[test]
    fn amz_date_round_trips_and_rejects_junk() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        for bad in [
            "20150830T123600",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150830T246000Z",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }
}
