//! Golden vectors from botocore's `CloudFrontSigner` and `aws cloudfront sign` (awscli v1),
//! see `testdata/generate.py`: each must verify before it expires and fail every way it should.

use std::net::IpAddr;

use cloudfront_sign::{
    extract, verify, Credentials, Extracted, HashAlgorithm, PublicKey, Request, SignError, Source,
};
use serde_json::Value;

const BEFORE: i64 = 1_767_225_599; // One second before every vector's DateLessThan.
const EXPIRES: i64 = 1_767_225_600;
/// The key pair ids the vectors were signed for.
const TRUSTED_IDS: [&str; 2] = ["K2JCJMDEHXQW5F", "K3ECDSAEXAMPLE"];

struct Keys {
    rsa: PublicKey,
    rsa_other: PublicKey,
    ec: PublicKey,
}

fn keys() -> Keys {
    Keys {
        rsa: PublicKey::from_pem(include_str!("../testdata/rsa2048.pub.pem")).unwrap(),
        rsa_other: PublicKey::from_pem(include_str!("../testdata/rsa2048-other.pub.pem")).unwrap(),
        ec: PublicKey::from_pem(include_str!("../testdata/ec-p256.pub.pem")).unwrap(),
    }
}

impl Keys {
    fn by_name(&self, name: &str) -> &PublicKey {
        match name {
            "rsa2048" => &self.rsa,
            "ec-p256" => &self.ec,
            other => panic!("unknown key {other}"),
        }
    }
}

fn vectors() -> Vec<Value> {
    let doc: Value = serde_json::from_str(include_str!("../testdata/vectors.json")).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn vector(name: &str) -> Value {
    vectors()
        .into_iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

/// A request as the edge sees it: the signed URL split into URL and query, or the cookies.
struct Viewer {
    base: String,
    query: Option<String>,
    cookies: Option<String>,
}

impl Viewer {
    fn from_vector(v: &Value) -> Self {
        if let Some(signed) = v["signed_url"].as_str() {
            let (base, query) = signed.split_once('?').unwrap();
            Self {
                base: base.into(),
                query: Some(query.into()),
                cookies: None,
            }
        } else {
            let url = v["url"].as_str().unwrap();
            let (base, query) = match url.split_once('?') {
                Some((b, q)) => (b, Some(q.to_owned())),
                None => (url, None),
            };
            let mut cookies = vec!["session=opaque".to_owned()];
            for (name, value) in v["cookies"].as_object().unwrap() {
                cookies.push(format!("{name}={}", value.as_str().unwrap()));
            }
            cookies.push("theme=dark".into());
            Self {
                base: base.into(),
                query,
                cookies: Some(cookies.join("; ")),
            }
        }
    }

    fn check(&self, key: &PublicKey, ip: Option<IpAddr>, now: i64) -> Result<(), SignError> {
        let extracted = extract(self.query.as_deref(), self.cookies.as_deref())?
            .ok_or(SignError::MissingKeyPairId)?;
        let url = match &extracted.remaining_query {
            Some(rest) => format!("{}?{rest}", self.base),
            None => self.base.clone(),
        };
        let request = Request {
            url_without_signing_params: &url,
            normalized_url: &url,
            client_ip: ip,
            now,
        };
        // The key pair id is not covered by the signature; only the lookup guards it.
        let trusted = |id: &str| TRUSTED_IDS.contains(&id).then_some(key);
        verify(&extracted.credentials, &request, trusted)
    }

    fn extracted(&self) -> Extracted {
        extract(self.query.as_deref(), self.cookies.as_deref())
            .unwrap()
            .unwrap()
    }
}

/// An address every vector's IP condition (if any) allows.
fn allowed_ip(v: &Value) -> Option<IpAddr> {
    let ip = v["ip"].as_str()?;
    Some(ip.split('/').next().unwrap().parse().unwrap())
}

#[test]
fn every_vector_verifies_before_expiry_and_not_after() {
    let keys = keys();
    let all = vectors();
    assert!(all.len() >= 11);
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let viewer = Viewer::from_vector(v);
        let key = keys.by_name(v["key"].as_str().unwrap());
        let ip = allowed_ip(v).or(Some("192.0.2.1".parse().unwrap()));
        assert_eq!(viewer.check(key, ip, BEFORE), Ok(()), "{name}");
        assert_eq!(
            viewer.check(key, ip, EXPIRES),
            Err(SignError::Expired { expires: EXPIRES }),
            "{name}"
        );
        let extracted = viewer.extracted();
        assert_eq!(
            extracted.credentials.key_pair_id(),
            v["key_pair_id"].as_str().unwrap(),
            "{name}"
        );
        let hash = HashAlgorithm::parse(v["hash"].as_str().unwrap()).unwrap();
        assert_eq!(extracted.credentials.hash(), hash, "{name}");
        let expected_source = if v["kind"] == "cookies" {
            Source::Cookie
        } else {
            Source::Query
        };
        assert_eq!(extracted.source, expected_source, "{name}");
    }
}

#[test]
fn remaining_query_is_the_signed_urls_own() {
    for v in vectors().iter().filter(|v| v["kind"] == "url") {
        let viewer = Viewer::from_vector(v);
        let extracted = viewer.extracted();
        let rebuilt = match &extracted.remaining_query {
            Some(rest) => format!("{}?{rest}", viewer.base),
            None => viewer.base.clone(),
        };
        assert_eq!(rebuilt, v["url"].as_str().unwrap(), "{}", v["name"]);
    }
}

#[test]
fn custom_policies_carry_the_signed_json() {
    for v in vectors().iter().filter(|v| v["policy"].is_string()) {
        let extracted = Viewer::from_vector(v).extracted();
        match extracted.credentials {
            Credentials::Custom { policy, .. } => {
                assert_eq!(
                    policy,
                    v["policy"].as_str().unwrap().as_bytes(),
                    "{}",
                    v["name"]
                );
            }
            other => panic!("{}: {other:?}", v["name"]),
        }
    }
}

#[test]
fn any_single_character_change_is_refused() {
    let keys = keys();
    for v in vectors().iter().filter(|v| v["kind"] == "url") {
        let name = v["name"].as_str().unwrap();
        let key = keys.by_name(v["key"].as_str().unwrap());
        let ip = allowed_ip(v);
        let signed = v["signed_url"].as_str().unwrap();
        // Every character of the URL the policy pins down (all of it for a canned policy, the
        // part before the `*` for a wildcard Resource), then a sample through the signing
        // parameters.
        let url_len = v["url"].as_str().unwrap().len();
        let pinned = match v["policy"].as_str() {
            Some(policy) => {
                let policy: Value = serde_json::from_str(policy).unwrap();
                let resource = policy["Statement"][0]["Resource"].as_str().unwrap();
                resource.find('*').unwrap_or(url_len)
            }
            None => url_len,
        };
        let positions: Vec<usize> = (0..pinned)
            .chain((url_len..signed.len()).step_by(7))
            .collect();
        for i in positions {
            let original = signed.as_bytes()[i];
            let replacement = match original {
                b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => original + 1,
                b'9' => b'0',
                b'z' => b'a',
                b'Z' => b'A',
                _ => b'x',
            };
            let mut tampered = signed.as_bytes().to_vec();
            tampered[i] = replacement;
            let tampered = String::from_utf8(tampered).unwrap();
            let Some((base, query)) = tampered.split_once('?') else {
                continue; // The '?' itself was replaced: no credentials left to accept.
            };
            let viewer = Viewer {
                base: base.into(),
                query: Some(query.into()),
                cookies: None,
            };
            let result = viewer.check(key, ip, BEFORE);
            // Changing Expires to a later time must not extend the URL's life, nor change
            // anything else: some refusal, whichever it is.
            assert!(
                result.is_err(),
                "{name}: accepted with byte {i} changed: {tampered}"
            );
        }
    }
}

#[test]
fn expires_altered_is_a_bad_signature() {
    let keys = keys();
    let v = vector("botocore-canned-sha1");
    let signed = v["signed_url"]
        .as_str()
        .unwrap()
        .replace("Expires=1767225600", "Expires=1767225699");
    let (base, query) = signed.split_once('?').unwrap();
    let viewer = Viewer {
        base: base.into(),
        query: Some(query.into()),
        cookies: None,
    };
    assert_eq!(
        viewer.check(&keys.rsa, None, BEFORE),
        Err(SignError::BadSignature)
    );
}

#[test]
fn unknown_key_id_and_wrong_key() {
    let keys = keys();
    for v in vectors() {
        let viewer = Viewer::from_vector(&v);
        let extracted = viewer.extracted();
        let url = match &extracted.remaining_query {
            Some(rest) => format!("{}?{rest}", viewer.base),
            None => viewer.base.clone(),
        };
        let request = Request {
            url_without_signing_params: &url,
            normalized_url: &url,
            client_ip: allowed_ip(&v),
            now: BEFORE,
        };
        let trusted = |id: &str| (id == "KSOMEOTHERKEY").then_some(&keys.rsa);
        assert_eq!(
            verify(&extracted.credentials, &request, trusted),
            Err(SignError::UnknownKey),
            "{}",
            v["name"]
        );
        for wrong in [&keys.rsa_other, &keys.ec, &keys.rsa] {
            if std::ptr::eq(wrong, keys.by_name(v["key"].as_str().unwrap())) {
                continue;
            }
            assert_eq!(
                verify(&extracted.credentials, &request, |_| Some(wrong)),
                Err(SignError::BadSignature),
                "{}",
                v["name"]
            );
        }
    }
}

#[test]
fn ip_condition_excludes_other_clients() {
    let keys = keys();
    for name in [
        "botocore-custom-sha1",
        "awscli-custom-sha1",
        "botocore-cookies-custom-sha1",
    ] {
        let v = vector(name);
        let viewer = Viewer::from_vector(&v);
        let key = keys.by_name(v["key"].as_str().unwrap());
        for outside in ["198.51.100.200", "203.0.112.1", "2001:db8::1", "10.0.0.1"] {
            let ip: IpAddr = outside.parse().unwrap();
            if v["ip"]
                .as_str()
                .unwrap()
                .parse::<ipnet_free::Net>()
                .unwrap()
                .contains(ip)
            {
                continue;
            }
            assert_eq!(
                viewer.check(key, Some(ip), BEFORE),
                Err(SignError::IpNotAllowed),
                "{name} from {outside}"
            );
        }
        assert_eq!(
            viewer.check(key, None, BEFORE),
            Err(SignError::IpNotAllowed),
            "{name}"
        );
    }
}

#[test]
fn start_time_is_enforced() {
    let keys = keys();
    for name in ["botocore-custom-sha1", "awscli-custom-sha1"] {
        let v = vector(name);
        let starts = v["starts"].as_i64().unwrap();
        let viewer = Viewer::from_vector(&v);
        let ip = allowed_ip(&v);
        assert_eq!(
            viewer.check(&keys.rsa, ip, starts),
            Err(SignError::NotYetValid { starts })
        );
        assert_eq!(viewer.check(&keys.rsa, ip, starts + 1), Ok(()));
    }
}

#[test]
fn wildcard_resource_that_does_not_match() {
    let keys = keys();
    // The policy grants https://d111111abcdef8.cloudfront.net/private/*; present it for a URL
    // outside that prefix (the signature is over the policy, so it still verifies).
    for name in [
        "botocore-custom-sha1",
        "botocore-custom-sha256",
        "botocore-cookies-custom-sha1",
    ] {
        let v = vector(name);
        let mut viewer = Viewer::from_vector(&v);
        viewer.base = "https://d111111abcdef8.cloudfront.net/public/videos/intro.mp4".into();
        let ip = allowed_ip(&v);
        assert_eq!(
            viewer.check(&keys.rsa, ip, BEFORE),
            Err(SignError::ResourceMismatch),
            "{name}"
        );
        viewer.base = "https://d111111abcdef8.cloudfront.net/private/anything/else".into();
        assert_eq!(viewer.check(&keys.rsa, ip, BEFORE), Ok(()), "{name}");
    }
}

#[test]
fn canned_cookies_are_bound_to_their_url() {
    let keys = keys();
    let v = vector("botocore-cookies-canned-sha1");
    let mut viewer = Viewer::from_vector(&v);
    assert_eq!(viewer.check(&keys.rsa, None, BEFORE), Ok(()));
    viewer.base.push('x');
    assert_eq!(
        viewer.check(&keys.rsa, None, BEFORE),
        Err(SignError::BadSignature)
    );
}

/// A tiny CIDR check for the test's own bookkeeping, so the test does not lean on the crate's
/// implementation of the thing it is testing.
mod ipnet_free {
    use std::net::IpAddr;
    use std::str::FromStr;

    pub struct Net {
        addr: IpAddr,
        prefix: u32,
    }

    impl FromStr for Net {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let (addr, prefix) = s.split_once('/').ok_or(())?;
            Ok(Self {
                addr: addr.parse().map_err(|_| ())?,
                prefix: prefix.parse().map_err(|_| ())?,
            })
        }
    }

    impl Net {
        pub fn contains(&self, ip: IpAddr) -> bool {
            match (self.addr, ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => {
                    let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                    u32::from(net) & mask == u32::from(ip) & mask
                }
                _ => false,
            }
        }
    }
}
