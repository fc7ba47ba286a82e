//! Policy statements: the exact canned-policy bytes, custom policies as botocore builds them, and
//! the reading and evaluation of a custom policy a viewer presents.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::SignError;

/// Epoch times above this are refused. It is `u32::MAX` (the year 2106): a millisecond timestamp
/// passed by mistake (about 1.7e12) lands far above it, and CloudFront answers such URLs with
/// "Malformed Policy" rather than honouring a 50,000-year lifetime.
pub(crate) const MAX_EPOCH: i64 = u32::MAX as i64;

/// The canned policy CloudFront rebuilds from the request and checks the signature against:
/// `{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<expires>}}}]}`.
pub fn canned_policy(resource: &str, expires: i64) -> String {
    let mut out = String::with_capacity(resource.len() + 96);
    out.push_str(r#"{"Statement":[{"Resource":"#);
    push_json_string(&mut out, resource);
    out.push_str(r#","Condition":{"DateLessThan":{"AWS:EpochTime":"#);
    out.push_str(&expires.to_string());
    out.push_str("}}}]}");
    out
}

/// A custom policy to sign, serialized exactly as botocore's `CloudFrontSigner.build_policy`:
/// keys in the order `Resource`, `Condition` (`DateLessThan`, `IpAddress`, `DateGreaterThan`),
/// no whitespace, and a bare IP address widened to `/32`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomPolicy {
    /// The URL pattern (`*` and `?` wildcards); `None` leaves `Resource` out, which grants every
    /// URL the key is trusted for.
    pub resource: Option<String>,
    /// Unix seconds; requests at or after this time are refused.
    pub date_less_than: i64,
    /// Unix seconds; requests at or before this time are refused.
    pub date_greater_than: Option<i64>,
    /// An IP address or CIDR range the viewer must come from.
    pub ip_address: Option<String>,
}

impl CustomPolicy {
    /// The policy JSON, as signed and then base64-encoded into `Policy` / `CloudFront-Policy`.
    pub fn to_json(&self) -> String {
        let mut out = String::from(r#"{"Statement":[{"#);
        if let Some(resource) = &self.resource {
            out.push_str(r#""Resource":"#);
            push_json_string(&mut out, resource);
            out.push(',');
        }
        out.push_str(r#""Condition":{"DateLessThan":{"AWS:EpochTime":"#);
        out.push_str(&self.date_less_than.to_string());
        out.push('}');
        if let Some(ip) = &self.ip_address {
            out.push_str(r#","IpAddress":{"AWS:SourceIp":"#);
            if ip.contains('/') {
                push_json_string(&mut out, ip);
            } else {
                push_json_string(&mut out, &format!("{ip}/32"));
            }
            out.push('}');
        }
        if let Some(starts) = self.date_greater_than {
            out.push_str(r#","DateGreaterThan":{"AWS:EpochTime":"#);
            out.push_str(&starts.to_string());
            out.push('}');
        }
        out.push_str("}}]}");
        out
    }
}

/// Appends `s` as a JSON string the way Python's `json.dumps` does by default (botocore's and
/// awscli's serializer), so signed bytes match theirs: `"` and `\` escaped, the usual short
/// escapes, and everything outside printable ASCII as lowercase `\uXXXX` (UTF-16 for astral
/// characters). For the ASCII URLs that arrive on the wire this is the identity.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// The JSON shape of a custom policy. Unknown fields are refused: a condition we do not know
/// would otherwise be silently ignored, granting more than its author meant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "Resource")]
    resource: Option<String>,
    #[serde(rename = "Condition")]
    condition: Condition,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "DateLessThan")]
    date_less_than: Option<EpochTime>,
    #[serde(rename = "DateGreaterThan")]
    date_greater_than: Option<EpochTime>,
    #[serde(rename = "IpAddress")]
    ip_address: Option<SourceIp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochTime {
    #[serde(rename = "AWS:EpochTime")]
    epoch: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceIp {
    #[serde(rename = "AWS:SourceIp")]
    source_ip: String,
}

/// A custom policy read from a viewer's request, ready to evaluate. [`Policy::parse`] is pure and refuses
/// anything it does not understand, so it is also the entry point for fuzzing policy parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    resource: Option<String>,
    date_less_than: i64,
    date_greater_than: Option<i64>,
    ip_range: Option<IpNet>,
}

impl Policy {
    /// Reads the policy JSON exactly as decoded from `Policy`. Whitespace is allowed (the
    /// CloudFront guide's own examples have it); the signature covers the bytes regardless.
    pub fn parse(json: &[u8]) -> Result<Self, SignError> {
        let doc: Document =
            serde_json::from_slice(json).map_err(|_| SignError::MalformedPolicy("invalid JSON"))?;
        let [statement] = <[Statement; 1]>::try_from(doc.statement)
            .map_err(|_| SignError::MalformedPolicy("Statement must hold exactly one statement"))?;
        let condition = statement.condition;
        let date_less_than = condition
            .date_less_than
            .ok_or(SignError::MalformedPolicy("DateLessThan is required"))?
            .epoch;
        let date_greater_than = condition.date_greater_than.map(|t| t.epoch);
        for t in std::iter::once(date_less_than).chain(date_greater_than) {
            if !(0..=MAX_EPOCH).contains(&t) {
                return Err(SignError::MalformedPolicy("AWS:EpochTime out of range"));
            }
        }
        let ip_range = condition
            .ip_address
            .map(|ip| parse_ip_range(&ip.source_ip))
            .transpose()?;
        Ok(Self {
            resource: statement.resource,
            date_less_than,
            date_greater_than,
            ip_range,
        })
    }

    /// Checks the request against every condition: time window, then source address, then URL.
    pub fn check(&self, url: &str, client_ip: Option<IpAddr>, now: i64) -> Result<(), SignError> {
        if now >= self.date_less_than {
            return Err(SignError::Expired {
                expires: self.date_less_than,
            });
        }
        if let Some(starts) = self.date_greater_than {
            if now <= starts {
                return Err(SignError::NotYetValid { starts });
            }
        }
        if let Some(range) = self.ip_range {
            // An IPv4 client reached over an IPv6 socket shows up as ::ffff:a.b.c.d; policies
            // name it by its IPv4 address.
            match client_ip.map(|ip| ip.to_canonical()) {
                Some(ip) if range.contains(&ip) => {}
                _ => return Err(SignError::IpNotAllowed),
            }
        }
        match &self.resource {
            Some(pattern) if !wildcard_match(pattern, url) => Err(SignError::ResourceMismatch),
            _ => Ok(()),
        }
    }
}

/// Reads `AWS:SourceIp`: a CIDR range, or a bare address meaning just that address.
fn parse_ip_range(text: &str) -> Result<IpNet, SignError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| SignError::MalformedPolicy("AWS:SourceIp is not an IP address or range"))
}

/// CloudFront's `Resource` matching: `*` matches any run of characters (including none and
/// including `/`), `?` exactly one character, everything else itself.
///
/// Greedy matching with a single backtrack point: on a mismatch, the most recent `*` absorbs
/// one more character. That is complete for patterns with only `*` and `?`, and costs at most
/// pattern × text steps.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            backtrack = Some((star, matched + 1));
            p = star + 1;
            t = matched + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_policy_bytes_match_botocore() {
        // The string botocore's build_policy produces for this URL and time.
        assert_eq!(
            canned_policy(
                "https://d111111abcdef8.cloudfront.net/image.jpg?a=1",
                1767290400
            ),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg?a=1","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
        );
    }

    #[test]
    fn json_strings_escape_like_python() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c/\n\u{7f}é😀");
        assert_eq!(out, r#""a\"b\\c/\n\u007f\u00e9\ud83d\ude00""#);
    }

    #[test]
    fn custom_policy_order_matches_botocore() {
        let policy = CustomPolicy {
            resource: Some("https://d111111abcdef8.cloudfront.net/private/*".into()),
            date_less_than: 1767225600,
            date_greater_than: Some(1767139200),
            ip_address: Some("192.0.2.7".into()),
        };
        assert_eq!(
            policy.to_json(),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/private/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600},"IpAddress":{"AWS:SourceIp":"192.0.2.7/32"},"DateGreaterThan":{"AWS:EpochTime":1767139200}}}]}"#
        );
        let bare = CustomPolicy {
            date_less_than: 5,
            ..CustomPolicy::default()
        };
        assert_eq!(
            bare.to_json(),
            r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":5}}}]}"#
        );
        assert_eq!(
            Policy::parse(policy.to_json().as_bytes())
                .unwrap()
                .date_greater_than,
            Some(1767139200)
        );
    }

    #[test]
    fn wildcards() {
        let table = [
            ("https://h/private/*", "https://h/private/a/b.jpg?x=1", true),
            ("https://h/private/*", "https://h/private/", true),
            ("https://h/private/*", "https://h/public/a.jpg", false),
            ("https://h/*.jpg", "https://h/a/b.jpg", true),
            ("https://h/*.jpg", "https://h/a/b.jpeg", false),
            ("https://h/?.jpg", "https://h/a.jpg", true),
            ("https://h/?.jpg", "https://h/ab.jpg", false),
            ("https://h/?.jpg", "https://h/.jpg", false),
            ("http*://h/a*b*c", "https://h/axxbyyc", true),
            ("http*://h/a*b*c", "https://h/axxbyy", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a**b", "ab", true),
            ("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("https://h/é?", "https://h/éx", true),
            ("https://h/a", "https://h/A", false),
        ];
        for (pattern, text, expected) in table {
            assert_eq!(
                wildcard_match(pattern, text),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    fn policy(json: &str) -> Result<Policy, SignError> {
        Policy::parse(json.as_bytes())
    }

    #[test]
    fn reads_whitespace_and_field_order_freely() {
        let p = policy(
            "{ \"Statement\": [ {\r\n \"Condition\": { \"IpAddress\": {\"AWS:SourceIp\": \"10.0.0.0/8\"},\
             \"DateLessThan\": {\"AWS:EpochTime\": 100} }, \"Resource\": \"https://h/*\" } ] }",
        )
        .unwrap();
        assert_eq!(p.date_less_than, 100);
        assert_eq!(p.resource.as_deref(), Some("https://h/*"));
        assert_eq!(p.ip_range, Some("10.0.0.0/8".parse().unwrap()));
    }

    #[test]
    fn refuses_malformed_policies() {
        let table = [
            ("not json", "invalid JSON"),
            (
                r#"{"Statement":[]}"#,
                "Statement must hold exactly one statement",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}},{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#,
                "Statement must hold exactly one statement",
            ),
            (
                r#"{"Statement":[{"Condition":{}}]}"#,
                "DateLessThan is required",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":"1"}}}]}"#,
                "invalid JSON",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1.5}}}]}"#,
                "invalid JSON",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1767225600000}}}]}"#,
                "AWS:EpochTime out of range",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1},"Referer":{"x":"y"}}}]}"#,
                "invalid JSON",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1},"DateLessThan":{"AWS:EpochTime":9}}}]}"#,
                "invalid JSON",
            ),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"nope"}}}]}"#,
                "AWS:SourceIp is not an IP address or range",
            ),
        ];
        for (json, reason) in table {
            assert_eq!(
                policy(json),
                Err(SignError::MalformedPolicy(reason)),
                "{json}"
            );
        }
    }

    #[test]
    fn evaluates_every_condition() {
        let p = policy(
            r#"{"Statement":[{"Resource":"https://h/p/*","Condition":{"DateLessThan":{"AWS:EpochTime":200},"DateGreaterThan":{"AWS:EpochTime":100},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}"#,
        )
        .unwrap();
        let inside: IpAddr = "192.0.2.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let outside: IpAddr = "198.51.100.1".parse().unwrap();
        let ok = "https://h/p/x";
        assert_eq!(p.check(ok, Some(inside), 150), Ok(()));
        assert_eq!(p.check(ok, Some(mapped), 150), Ok(()));
        assert_eq!(p.check(ok, Some(inside), 199), Ok(()));
        assert_eq!(
            p.check(ok, Some(inside), 200),
            Err(SignError::Expired { expires: 200 })
        );
        assert_eq!(
            p.check(ok, Some(inside), 100),
            Err(SignError::NotYetValid { starts: 100 })
        );
        assert_eq!(
            p.check(ok, Some(outside), 150),
            Err(SignError::IpNotAllowed)
        );
        assert_eq!(p.check(ok, None, 150), Err(SignError::IpNotAllowed));
        assert_eq!(
            p.check("https://h/q/x", Some(inside), 150),
            Err(SignError::ResourceMismatch)
        );
    }

    #[test]
    fn absent_resource_matches_everything() {
        let p = policy(r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":200}}}]}"#)
            .unwrap();
        assert_eq!(p.check("https://anything/at/all?x", None, 0), Ok(()));
    }

    #[test]
    fn bare_ip_means_that_address() {
        let p = policy(
            r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":200},"IpAddress":{"AWS:SourceIp":"2001:db8::1"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            p.check("u", Some("2001:db8::1".parse().unwrap()), 0),
            Ok(())
        );
        assert_eq!(
            p.check("u", Some("2001:db8::2".parse().unwrap()), 0),
            Err(SignError::IpNotAllowed)
        );
    }
}
