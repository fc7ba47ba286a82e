//! What a custom origin's DomainName may be, decided before anything connects: a DNS host name, never an IP
//! address in any spelling (CloudFront refuses those), and never a name that always means this host (`localhost`)
//! unless the operator allowed loopback origins. Where a name resolves is checked again by the edge on every
//! connection; this is the part that can be refused at CreateDistribution/UpdateDistribution time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a custom origin's domain name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginNameError {
    /// An IP address, in any form a resolver or URL parser would read as one (`127.0.0.1`, `2130706433`,
    /// `0177.0.0.1`, `0x7f.1`, `[::1]`, `::ffff:127.0.0.1`).
    IpLiteral,
    /// `localhost`, a name under `.localhost`, or another name for loopback.
    Loopback,
    /// Not a DNS host name (letters, digits, `-` and `_` in labels of 1–63 characters, 253 at most, no
    /// trailing dot).
    NotAHostName,
}

impl OriginNameError {
    /// The message CloudFront's `InvalidArgument` carries for it.
    pub fn static_message(&self) -> &'static str {
        match self {
            OriginNameError::IpLiteral => "The parameter origin name cannot be an IP address.",
            OriginNameError::Loopback => {
                "The parameter origin name cannot be a loopback name such as localhost."
            }
            OriginNameError::NotAHostName => {
                "The parameter origin name must be a domain name (letters, digits, hyphens; no port, path or trailing dot)."
            }
        }
    }
}

impl std::fmt::Display for OriginNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.static_message())
    }
}

impl std::error::Error for OriginNameError {}

/// Reads `host` as an IP address the way URL parsers and `inet_aton` would: IPv6 with or without brackets, dotted
/// IPv4 with one to four parts, each decimal, octal (leading `0`) or hex (`0x`), and a trailing dot ignored.
/// `Some(None)` for a name that "ends in a number" (WHATWG URL) but is no valid address: a URL parser refuses it
/// and a resolver may still read it, so it counts as an IP literal too. `None` for a host name.
pub fn ip_literal(host: &str) -> Option<Option<IpAddr>> {
    if let Some(bare) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return Some(bare.parse::<Ipv6Addr>().ok().map(IpAddr::V6));
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Some(Some(IpAddr::V6(v6)));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let last = name.rsplit('.').next().unwrap_or("");
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
            || s.strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if !numeric(last) {
        return None;
    }
    Some(inet_aton(name).map(IpAddr::V4))
}

fn inet_aton(name: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        values.push(v);
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 255) || *last >= 1u64 << (8 * (5 - values.len())) {
        return None;
    }
    let mut n: u64 = *last;
    for (i, v) in head.iter().enumerate() {
        n |= v << (8 * (3 - i));
    }
    Some(Ipv4Addr::from(u32::try_from(n).ok()?))
}

/// Names that always mean this host: `localhost` and everything under `.localhost` (RFC 6761), and the loopback
/// aliases Debian's `/etc/hosts` ships. Case and a trailing dot are ignored.
pub fn is_loopback_name(host: &str) -> bool {
    let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || matches!(
            h.as_str(),
            "localhost.localdomain" | "ip6-localhost" | "ip6-loopback"
        )
}

fn host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Checks a custom origin's DomainName. `loopback_allowed`: the operator allowed a loopback network for origins
/// (`[edge] origin_allow_networks`), so `localhost` may be named (the edge still checks every address it
/// connects to). IP literals are refused whatever is allowed, as CloudFront refuses them.
pub fn check_origin_name(domain: &str, loopback_allowed: bool) -> Result<(), OriginNameError> {
    if ip_literal(domain).is_some() {
        return Err(OriginNameError::IpLiteral);
    }
    if !host_name(domain) {
        return Err(OriginNameError::NotAHostName);
    }
    if is_loopback_name(domain) && !loopback_allowed {
        return Err(OriginNameError::Loopback);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_address_is_an_ip_literal() {
        let v4 = |s: &str| ip_literal(s).flatten();
        let lo = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for s in [
            "127.0.0.1",
            "2130706433",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0x7F000001",
            "127.1",
            "127.0.1",
            "127.0.0.1.",
            "017700000001",
        ] {
            assert_eq!(v4(s), lo, "{s}");
        }
        assert_eq!(
            v4("169.254.169.254"),
            Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)))
        );
        assert_eq!(
            ip_literal("[::1]").flatten(),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert!(ip_literal("::ffff:127.0.0.1").flatten().is_some());
        // Ends in a number but is no address: still refused as an IP literal.
        assert_eq!(ip_literal("1.2.3.4.5"), Some(None));
        assert_eq!(ip_literal("999.1.1.1"), Some(None));
        assert!(ip_literal("example.0x").is_some());
        assert_eq!(ip_literal("[zz]"), Some(None));
        for name in ["example.com", "a1.b2", "123.example", "0x.example", "x.y-1"] {
            assert_eq!(ip_literal(name), None, "{name}");
        }
    }

    #[test]
    fn origin_names() {
        assert_eq!(check_origin_name("origin.example.com", false), Ok(()));
        assert_eq!(
            check_origin_name("my_app.internal-1.example", false),
            Ok(())
        );
        for (name, e) in [
            ("127.0.0.1", OriginNameError::IpLiteral),
            ("2130706433", OriginNameError::IpLiteral),
            ("[::1]", OriginNameError::IpLiteral),
            ("::ffff:127.0.0.1", OriginNameError::IpLiteral),
            ("localhost", OriginNameError::Loopback),
            ("LOCALHOST", OriginNameError::Loopback),
            ("api.localhost", OriginNameError::Loopback),
            ("ip6-loopback", OriginNameError::Loopback),
            ("localhost.", OriginNameError::NotAHostName),
            ("example.com.", OriginNameError::NotAHostName),
            ("evil.example@127.0.0.1", OriginNameError::IpLiteral),
            ("evil.example@host", OriginNameError::NotAHostName),
            ("example.com:8080", OriginNameError::NotAHostName),
            ("exa mple.com", OriginNameError::NotAHostName),
            ("", OriginNameError::NotAHostName),
            ("-a.example", OriginNameError::NotAHostName),
        ] {
            assert_eq!(check_origin_name(name, false), Err(e), "{name}");
        }
        assert_eq!(check_origin_name("localhost", true), Ok(()));
        assert_eq!(
            check_origin_name("127.0.0.1", true),
            Err(OriginNameError::IpLiteral)
        );
    }
}
