//! Checks of a viewer request's head, before anything is looked up: CloudFront's size limits, and the one host
//! name the request is for. Pure, so they can be fuzzed.

use cloudfront_model::normalize_host;
use http::{HeaderMap, Uri};

/// The longest URL CloudFront builds from a request (`scheme://host/path?query`), in bytes.
pub const MAX_URL_BYTES: usize = 8192;
/// The longest request CloudFront accepts, path, query string and headers together, in bytes.
pub const MAX_REQUEST_BYTES: usize = 20_480;

/// Whether a request head exceeds CloudFront's limits (it answers 413 and closes the connection).
pub fn too_large(scheme: &str, host: &str, uri: &Uri, headers: &HeaderMap) -> bool {
    let path_and_query = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if scheme.len() + 3 + host.len() + path_and_query > MAX_URL_BYTES {
        return true;
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    path_and_query + header_bytes > MAX_REQUEST_BYTES
}

/// Why a request names no single valid host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// No `Host` header and no authority in the request target.
    Missing,
    /// More than one `Host` header.
    Several,
    /// Not `host[:port]` (user info, a path, spaces, an empty name…).
    Malformed,
    /// An absolute-form request target whose authority names another host than `Host`.
    Conflicting,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostError::Missing => "the request names no host",
            HostError::Several => "the request has more than one Host header",
            HostError::Malformed => "the Host header is not a host name with an optional port",
            HostError::Conflicting => "the request target and the Host header name different hosts",
        })
    }
}

impl std::error::Error for HostError {}

/// Whether `s` is `host[:port]`: a DNS-style name (letters, digits, `-`, `_`, dots), a dotted IPv4 address or a
/// bracketed IPv6 address, and a decimal port of at most 65535.
fn valid_authority(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => ("v6", None),
            p => match p.strip_prefix(':') {
                Some(port) => ("v6", Some(port)),
                None => return false,
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65535)
    });
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    port_ok && host_ok
}

/// The host a request is for, exactly as given (`Host`, or the request target's authority for absolute-form
/// and HTTP/2 requests): refused when missing, repeated, malformed, or when both are present and differ (a
/// cache in front of the edge and the edge would otherwise disagree about the distribution).
pub fn viewer_host(uri: &Uri, headers: &HeaderMap) -> Result<String, HostError> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Several);
    }
    let header = header
        .map(|v| v.to_str().map_err(|_| HostError::Malformed))
        .transpose()?;
    let authority = uri.authority().map(|a| a.as_str());
    for a in header.iter().chain(authority.iter()) {
        if !valid_authority(a) {
            return Err(HostError::Malformed);
        }
    }
    match (header, authority) {
        (Some(h), Some(a)) if normalize_host(h) != normalize_host(a) => Err(HostError::Conflicting),
        (Some(h), _) => Ok(h.to_owned()),
        (None, Some(a)) => Ok(a.to_owned()),
        (None, None) => Err(HostError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts() {
        let origin_form: Uri = "/a".parse().unwrap();
        let ok = |h: &str| viewer_host(&origin_form, &headers(&[("host", h)]));
        assert_eq!(
            ok("d1.cloudfront.localhost:8443").unwrap(),
            "d1.cloudfront.localhost:8443"
        );
        assert!(ok("CDN.Example.com.").is_ok());
        assert!(ok("127.0.0.1:80").is_ok() && ok("[::1]:80").is_ok() && ok("[::1]").is_ok());
        for bad in [
            "user@host",
            "host/x",
            "a b",
            "",
            ":80",
            "h:",
            "h:99999",
            "h:8o",
            "[::1",
            "[zz]",
            "h:80:80",
        ] {
            assert_eq!(ok(bad), Err(HostError::Malformed), "{bad:?}");
        }
        assert_eq!(
            viewer_host(&origin_form, &headers(&[("host", "a"), ("host", "b")])),
            Err(HostError::Several)
        );
        assert_eq!(
            viewer_host(&origin_form, &HeaderMap::new()),
            Err(HostError::Missing)
        );
        let absolute: Uri = "http://a.example/x".parse().unwrap();
        assert_eq!(
            viewer_host(&absolute, &headers(&[("host", "b.example")])),
            Err(HostError::Conflicting)
        );
        assert_eq!(
            viewer_host(&absolute, &headers(&[("host", "A.example:80")])).unwrap(),
            "A.example:80"
        );
        // HTTP/2: the authority alone.
        assert_eq!(
            viewer_host(&absolute, &HeaderMap::new()).unwrap(),
            "a.example"
        );
        let userinfo: Uri = "http://u@a.example/x".parse().unwrap();
        assert_eq!(
            viewer_host(&userinfo, &HeaderMap::new()),
            Err(HostError::Malformed)
        );
    }

    #[test]
    fn sizes() {
        let short: Uri = "/a?b=c".parse().unwrap();
        assert!(!too_large("https", "h", &short, &HeaderMap::new()));
        let long: Uri = format!("/a?q={}", "x".repeat(MAX_URL_BYTES))
            .parse()
            .unwrap();
        assert!(too_large("https", "h", &long, &HeaderMap::new()));
        let mut big = HeaderMap::new();
        for i in 0..25 {
            big.insert(
                http::header::HeaderName::from_bytes(format!("x-pad-{i}").as_bytes()).unwrap(),
                "b".repeat(900).parse().unwrap(),
            );
        }
        assert!(too_large("https", "h", &short, &big));
    }
}
