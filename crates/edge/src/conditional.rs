//! A viewer's conditional and range headers against a cached `200` response, as RFC 9110 §13.2.2 orders them:
//! `If-Match` (else `If-Unmodified-Since`) may fail the request (412); `If-None-Match` (else `If-Modified-Since`)
//! may make it a 304; a single `bytes=` `Range` is served when `If-Range` (if any) still matches. Pure (headers
//! in, a decision out), so it can be fuzzed; malformed headers are ignored as the RFC says, never an error.

use http::HeaderMap;

use crate::policy::httpdate_to_unix;

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 304 Not Modified.
    NotModified,
    /// 200 with the whole body.
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

/// A single byte range resolved against a length: `Ok(Some((start, end_inclusive)))`, `Ok(None)` to serve the
/// whole object (no Range, a malformed one, or several ranges), `Err(())` for an unsatisfiable range.
#[allow(clippy::result_unit_err)]
pub fn byte_range(range: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if a.is_empty() {
        // A suffix: the last `b` bytes.
        let Some(n) = Some(b)
            .filter(|b| digits(b))
            .and_then(|b| b.parse::<u64>().ok())
        else {
            return Ok(None);
        };
        if n == 0 || len == 0 {
            return Err(());
        }
        return Ok(Some((len.saturating_sub(n), len - 1)));
    }
    let Some(start) = Some(a)
        .filter(|a| digits(a))
        .and_then(|a| a.parse::<u64>().ok())
    else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        None
    } else {
        match Some(b)
            .filter(|b| digits(b))
            .and_then(|b| b.parse::<u64>().ok())
        {
            Some(e) if e >= start => Some(e),
            _ => return Ok(None),
        }
    };
    if start >= len {
        return Err(());
    }
    let last = len - 1;
    Ok(Some((start, end.map_or(last, |e| e.min(last)))))
}

fn opaque(tag: &str) -> (&str, bool) {
    let t = tag.trim();
    match t.strip_prefix("W/") {
        Some(rest) => (rest, true),
        None => (t, false),
    }
}

/// Whether a list of entity tags (`If-Match`/`If-None-Match`) matches `etag`: `*` matches any; `strong` requires
/// both to be strong and equal (If-Match, If-Range), otherwise the opaque parts are compared (If-None-Match).
fn tag_list_matches(list: &str, etag: Option<&str>, strong: bool) -> bool {
    let Some(etag) = etag else {
        return false;
    };
    let (current, current_weak) = opaque(etag);
    list.split(',').any(|t| {
        let t = t.trim();
        if t == "*" {
            return true;
        }
        let (candidate, weak) = opaque(t);
        candidate == current && (!strong || (!weak && !current_weak))
    })
}

/// The single value of a header (a repeated one counts as absent: it is ambiguous).
fn single(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// Every value of a list header, joined (values that are not text are left out).
fn joined(headers: &HeaderMap, name: http::header::HeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// Decides a cached 200 response of `len` bytes with validators `etag` and `last_modified` (as the origin sent
/// them) for a GET or HEAD with the viewer's `headers`.
pub fn evaluate(
    headers: &HeaderMap,
    etag: Option<&str>,
    last_modified: Option<&str>,
    len: u64,
) -> Decision {
    use http::header::{
        IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
    };
    let modified = last_modified.and_then(httpdate_to_unix);
    // 1–2: the request's own preconditions.
    if headers.contains_key(IF_MATCH) {
        if !tag_list_matches(&joined(headers, IF_MATCH), etag, true) {
            return Decision::PreconditionFailed;
        }
    } else if let (Some(since), Some(modified)) = (
        single(headers, IF_UNMODIFIED_SINCE).and_then(httpdate_to_unix),
        modified,
    ) {
        if modified > since {
            return Decision::PreconditionFailed;
        }
    }
    // 3–4: a cache validation.
    if headers.contains_key(IF_NONE_MATCH) {
        if tag_list_matches(&joined(headers, IF_NONE_MATCH), etag, false) {
            return Decision::NotModified;
        }
    } else if let (Some(since), Some(modified)) = (
        single(headers, IF_MODIFIED_SINCE).and_then(httpdate_to_unix),
        modified,
    ) {
        if modified <= since {
            return Decision::NotModified;
        }
    }
    // 5: a range, unless If-Range says the viewer's copy is another version.
    let Some(range) = single(headers, RANGE) else {
        return Decision::Full;
    };
    if let Some(if_range) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        let still =
            if if_range.trim_start().starts_with('"') || if_range.trim_start().starts_with("W/") {
                tag_list_matches(if_range, etag, true) && !if_range.contains(',')
            } else {
                httpdate_to_unix(if_range).is_some_and(|d| modified == Some(d))
            };
        if !still {
            return Decision::Full;
        }
    }
    match byte_range(Some(range), len) {
        Ok(Some((start, end))) => Decision::Partial { start, end },
        Ok(None) => Decision::Full,
        Err(()) => Decision::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    const LM: &str = "Wed, 01 Jan 2025 00:00:00 GMT";

    fn decide(pairs: &[(&'static str, &str)]) -> Decision {
        evaluate(&h(pairs), Some("\"e1\""), Some(LM), 10)
    }

    proptest::proptest! {
        #[test]
        fn any_range_is_in_bounds_or_refused(spec in "(bytes=)?[-0-9, ]{0,24}", len in 0u64..40) {
            if let Ok(Some((a, b))) = byte_range(Some(&spec), len) {
                proptest::prop_assert!(a <= b && b < len);
            }
            let mut m = HeaderMap::new();
            if let Ok(v) = spec.parse() {
                m.insert(http::header::RANGE, v);
            }
            if let Decision::Partial { start, end } = evaluate(&m, Some("\"e\""), None, len) {
                proptest::prop_assert!(start <= end && end < len);
            }
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range(Some("bytes=0-4"), 10), Ok(Some((0, 4))));
        assert_eq!(byte_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(byte_range(Some("bytes=-30"), 10), Ok(Some((0, 9))));
        assert_eq!(byte_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(byte_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(byte_range(Some("bytes=-0"), 10), Err(()));
        assert_eq!(byte_range(Some("bytes=0-"), 0), Err(()));
        assert_eq!(byte_range(Some("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=5-2"), 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=+1-2"), 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=1--2"), 10), Ok(None));
        assert_eq!(
            byte_range(Some("bytes=99999999999999999999999-"), 10),
            Ok(None)
        );
        assert_eq!(byte_range(Some("bytes=18446744073709551615-"), 10), Err(()));
        assert_eq!(byte_range(Some("items=0-1"), 10), Ok(None));
        assert_eq!(byte_range(None, 10), Ok(None));
    }

    #[test]
    fn preconditions_in_rfc_order() {
        assert_eq!(decide(&[]), Decision::Full);
        assert_eq!(
            decide(&[("if-match", "\"nope\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(decide(&[("if-match", "\"e1\"")]), Decision::Full);
        assert_eq!(
            decide(&[("if-match", "W/\"e1\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(decide(&[("if-match", "\"x\", \"e1\"")]), Decision::Full);
        assert_eq!(decide(&[("if-match", "*")]), Decision::Full);
        assert_eq!(
            evaluate(&h(&[("if-match", "\"e1\"")]), None, None, 10),
            Decision::PreconditionFailed
        );
        assert_eq!(
            decide(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            Decision::PreconditionFailed
        );
        assert_eq!(decide(&[("if-unmodified-since", LM)]), Decision::Full);
        assert_eq!(
            decide(&[("if-unmodified-since", "garbage")]),
            Decision::Full
        );
        // If-Match wins over If-Unmodified-Since.
        assert_eq!(
            decide(&[
                ("if-match", "\"e1\""),
                ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ]),
            Decision::Full
        );
        assert_eq!(
            decide(&[("if-none-match", "\"e1\"")]),
            Decision::NotModified
        );
        assert_eq!(
            decide(&[("if-none-match", "W/\"e1\"")]),
            Decision::NotModified
        );
        assert_eq!(decide(&[("if-none-match", "*")]), Decision::NotModified);
        assert_eq!(decide(&[("if-none-match", "\"x\"")]), Decision::Full);
        assert_eq!(decide(&[("if-modified-since", LM)]), Decision::NotModified);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            decide(&[("if-none-match", "\"x\""), ("if-modified-since", LM)]),
            Decision::Full
        );
        assert_eq!(
            decide(&[("if-match", "\"nope\""), ("if-none-match", "\"e1\"")]),
            Decision::PreconditionFailed
        );
    }

    #[test]
    fn ranges_and_if_range() {
        assert_eq!(
            decide(&[("range", "bytes=2-4")]),
            Decision::Partial { start: 2, end: 4 }
        );
        assert_eq!(
            decide(&[("range", "bytes=2-4"), ("if-range", "\"e1\"")]),
            Decision::Partial { start: 2, end: 4 }
        );
        assert_eq!(
            decide(&[("range", "bytes=2-4"), ("if-range", "\"old\"")]),
            Decision::Full
        );
        assert_eq!(
            decide(&[("range", "bytes=2-4"), ("if-range", "W/\"e1\"")]),
            Decision::Full
        );
        assert_eq!(
            decide(&[("range", "bytes=2-4"), ("if-range", LM)]),
            Decision::Partial { start: 2, end: 4 }
        );
        assert_eq!(
            decide(&[
                ("range", "bytes=2-4"),
                ("if-range", "Sun, 06 Nov 1994 08:49:37 GMT")
            ]),
            Decision::Full
        );
        assert_eq!(decide(&[("range", "bytes=-0")]), Decision::Unsatisfiable);
        // Two Range headers are ambiguous: the whole object.
        assert_eq!(
            decide(&[("range", "bytes=0-1"), ("range", "bytes=2-3")]),
            Decision::Full
        );
        assert_eq!(
            decide(&[("if-none-match", "\"e1\""), ("range", "bytes=0-1")]),
            Decision::NotModified
        );
    }
}
