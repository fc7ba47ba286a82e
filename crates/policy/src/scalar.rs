//! Parsing of typed condition values (numbers, dates, IP addresses, base64) from their string form.

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// A policy or context number. Integers compare exactly; anything with a fraction or exponent as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn parse(s: &str) -> Option<Num> {
        let s = s.trim();
        if let Ok(i) = s.parse::<i64>() {
            return Some(Num::Int(i));
        }
        // Only plain decimal notation: Rust would also accept "inf" and "NaN", which are not numbers here.
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        {
            return None;
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Num::Float)
    }

    pub(crate) fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 only matters when mixing huge integers with decimals.
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Parses an ISO 8601 date or date-time, or epoch seconds, into nanoseconds since the Unix epoch (UTC).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .map(|secs| i128::from(secs) * 1_000_000_000);
    }
    if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(dt.unix_timestamp_nanos());
    }
    if let Ok(dt) = OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(dt.unix_timestamp_nanos());
    }
    // AWS reads a date-time without an offset as UTC.
    if let Ok(dt) = PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(dt.assume_utc().unix_timestamp_nanos());
    }
    if let Ok(d) = Date::parse(s, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

/// Parses a policy IP value: a CIDR block or a single address (a /32 or /128).
pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Parses a context IP value. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4
/// peers) are unwrapped so IPv4 policy ranges still match them.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip = s.trim().parse::<IpAddr>().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    })
}

pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let day = parse_date("2024-01-02").unwrap();
        assert_eq!(parse_date("2024-01-02T00:00:00Z"), Some(day));
        assert_eq!(parse_date("2024-01-02T00:00:00"), Some(day));
        assert_eq!(parse_date("2024-01-02T02:00:00+02:00"), Some(day));
        assert_eq!(parse_date("2024-01-02T00:00:00.000Z"), Some(day));
        assert_eq!(parse_date("1704153600"), Some(day));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(Num::parse("10"), Some(Num::Int(10)));
        assert_eq!(Num::parse("1.5"), Some(Num::Float(1.5)));
        assert_eq!(Num::parse("inf"), None);
        assert_eq!(Num::parse("abc"), None);
        assert_eq!(
            Num::Int(2).compare(Num::Float(1.5)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn ips() {
        assert!(parse_net("10.0.0.0/8")
            .unwrap()
            .contains(&parse_ip("10.1.2.3").unwrap()));
        assert!(parse_net("10.0.0.0/8")
            .unwrap()
            .contains(&parse_ip("::ffff:10.1.2.3").unwrap()));
        assert!(parse_net("2001:db8::/32")
            .unwrap()
            .contains(&parse_ip("2001:db8::1").unwrap()));
        assert_eq!(parse_net("1.2.3.4").unwrap().prefix_len(), 32);
        assert!(parse_net("nope").is_none());
    }
}
