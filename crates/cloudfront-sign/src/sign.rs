//! Minting signed URLs and signed cookies in the byte-exact form of botocore's
//! `CloudFrontSigner`, for tests, benchmarks and tools.

use crate::b64;
use crate::error::KeyError;
use crate::keys::{HashAlgorithm, PrivateKey};
use crate::policy::canned_policy;

/// Signs `url` with a canned policy expiring at `expires` (unix seconds) and returns the signed
/// URL: `url` + `?` or `&` + `Expires=…&Signature=…&Key-Pair-Id=…`, then
/// `&Hash-Algorithm=SHA256` for SHA-256 (SHA-1, the default, is left implicit as botocore does).
pub fn sign_canned(
    url: &str,
    expires: i64,
    key_pair_id: &str,
    key: &PrivateKey,
    hash: HashAlgorithm,
) -> Result<String, KeyError> {
    let signature = key.sign(hash, canned_policy(url, expires).as_bytes())?;
    Ok(signed_url(
        url,
        &format!("Expires={expires}"),
        &signature,
        key_pair_id,
        hash,
    ))
}

/// Signs `url` with the custom policy `policy_json` (for example
/// [`CustomPolicy::to_json`](crate::CustomPolicy::to_json)) and returns the signed URL, with
/// `Policy=…` in place of `Expires=…`.
pub fn sign_custom(
    url: &str,
    policy_json: &str,
    key_pair_id: &str,
    key: &PrivateKey,
    hash: HashAlgorithm,
) -> Result<String, KeyError> {
    let signature = key.sign(hash, policy_json.as_bytes())?;
    let policy = format!("Policy={}", b64::encode(policy_json.as_bytes()));
    Ok(signed_url(url, &policy, &signature, key_pair_id, hash))
}

/// The cookies (name, value) for a canned policy on `resource_url`: `CloudFront-Expires`,
/// `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, and `CloudFront-Hash-Algorithm` for SHA-256.
/// CloudFront rebuilds a canned policy from the requested URL, so such cookies are good for that
/// one URL; use [`signed_cookies_custom`] with a wildcard `Resource` to cover many.
pub fn signed_cookies_canned(
    resource_url: &str,
    expires: i64,
    key_pair_id: &str,
    key: &PrivateKey,
    hash: HashAlgorithm,
) -> Result<Vec<(&'static str, String)>, KeyError> {
    let signature = key.sign(hash, canned_policy(resource_url, expires).as_bytes())?;
    let first = ("CloudFront-Expires", expires.to_string());
    Ok(cookies(first, &signature, key_pair_id, hash))
}

/// The cookies (name, value) for the custom policy `policy_json`: `CloudFront-Policy`,
/// `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, and `CloudFront-Hash-Algorithm` for SHA-256.
pub fn signed_cookies_custom(
    policy_json: &str,
    key_pair_id: &str,
    key: &PrivateKey,
    hash: HashAlgorithm,
) -> Result<Vec<(&'static str, String)>, KeyError> {
    let signature = key.sign(hash, policy_json.as_bytes())?;
    let first = ("CloudFront-Policy", b64::encode(policy_json.as_bytes()));
    Ok(cookies(first, &signature, key_pair_id, hash))
}

/// botocore's `_build_url`: `&` if the URL already has a `?`, else `?`; then the parameters.
fn signed_url(
    url: &str,
    policy_param: &str,
    signature: &[u8],
    key_pair_id: &str,
    hash: HashAlgorithm,
) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    let mut out = format!(
        "{url}{separator}{policy_param}&Signature={}&Key-Pair-Id={key_pair_id}",
        b64::encode(signature)
    );
    if hash != HashAlgorithm::Sha1 {
        // The CloudFront developer guide's SHA-256 example puts it last, after Key-Pair-Id.
        out.push_str("&Hash-Algorithm=");
        out.push_str(hash.as_str());
    }
    out
}

fn cookies(
    first: (&'static str, String),
    signature: &[u8],
    key_pair_id: &str,
    hash: HashAlgorithm,
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        first,
        ("CloudFront-Signature", b64::encode(signature)),
        ("CloudFront-Key-Pair-Id", key_pair_id.to_owned()),
    ];
    if hash != HashAlgorithm::Sha1 {
        out.push(("CloudFront-Hash-Algorithm", hash.as_str().to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{extract, verify, viewer_url, CustomPolicy, Request, SignError};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn rsa() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::from_pem(include_str!("../testdata/rsa2048.pem")).unwrap())
    }

    fn ec() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::from_pem(include_str!("../testdata/ec-p256.pem")).unwrap())
    }

    /// Splits a signed URL the way a server sees it and verifies it.
    fn check(signed: &str, key: &PrivateKey, now: i64) -> Result<(), SignError> {
        let (base, query) = match signed.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (signed, None),
        };
        let extracted = extract(query, None)?.ok_or(SignError::MissingKeyPairId)?;
        let url = match &extracted.remaining_query {
            Some(rest) => format!("{base}?{rest}"),
            None => base.to_owned(),
        };
        let request = Request {
            url_without_signing_params: &url,
            normalized_url: &url,
            client_ip: None,
            now,
        };
        verify(&extracted.credentials, &request, |_| Some(key.public_key()))
    }

    #[test]
    fn url_layout_matches_botocore() {
        let url = sign_canned("https://h/a?x=1", 5, "K1", rsa(), HashAlgorithm::Sha1).unwrap();
        assert!(
            url.starts_with("https://h/a?x=1&Expires=5&Signature="),
            "{url}"
        );
        assert!(url.ends_with("&Key-Pair-Id=K1"), "{url}");
        let url = sign_canned("https://h/a", 5, "K1", rsa(), HashAlgorithm::Sha256).unwrap();
        assert!(url.starts_with("https://h/a?Expires=5&Signature="), "{url}");
        assert!(
            url.ends_with("&Key-Pair-Id=K1&Hash-Algorithm=SHA256"),
            "{url}"
        );
        let url = sign_custom("https://h/a", "{}", "K1", rsa(), HashAlgorithm::Sha1).unwrap();
        assert!(
            url.starts_with("https://h/a?Policy=e30_&Signature="),
            "{url}"
        );
    }

    #[test]
    fn cookies_round_trip() {
        let policy = CustomPolicy {
            resource: Some("https://h/private/*".into()),
            date_less_than: 100,
            ..CustomPolicy::default()
        }
        .to_json();
        for key in [rsa(), ec()] {
            for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
                let canned = signed_cookies_canned("https://h/a", 100, "K", key, hash).unwrap();
                let custom = signed_cookies_custom(&policy, "K", key, hash).unwrap();
                assert_eq!(
                    canned.len(),
                    if hash == HashAlgorithm::Sha1 { 3 } else { 4 }
                );
                for (cookies, url) in [(canned, "https://h/a"), (custom, "https://h/private/x")] {
                    let header: Vec<String> = cookies
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect();
                    let extracted = extract(None, Some(&header.join("; "))).unwrap().unwrap();
                    assert_eq!(extracted.credentials.hash(), hash);
                    let request = Request {
                        url_without_signing_params: url,
                        normalized_url: url,
                        client_ip: None,
                        now: 99,
                    };
                    let keys = |_: &str| Some(key.public_key());
                    assert_eq!(verify(&extracted.credentials, &request, keys), Ok(()));
                    let later = Request {
                        now: 100,
                        ..request
                    };
                    assert_eq!(
                        verify(&extracted.credentials, &later, keys),
                        Err(SignError::Expired { expires: 100 })
                    );
                }
            }
        }
    }

    #[test]
    fn viewer_url_rebuilds_what_was_signed() {
        let signed = sign_canned("https://h/a?b=1", 10, "K", ec(), HashAlgorithm::Sha1).unwrap();
        let (_, query) = signed.split_once('?').unwrap();
        let extracted = extract(Some(query), None).unwrap().unwrap();
        let url = viewer_url("https", "h", "/a", extracted.remaining_query.as_deref());
        let request = Request {
            url_without_signing_params: &url,
            normalized_url: &url,
            client_ip: None,
            now: 0,
        };
        assert_eq!(
            verify(&extracted.credentials, &request, |_| Some(
                ec().public_key()
            )),
            Ok(())
        );
    }

    fn url_strategy() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just("https"), Just("http")],
            "[a-z0-9]{1,12}(\\.[a-z]{2,5}){0,2}(:[0-9]{2,5})?",
            "(/[A-Za-z0-9._~%-]{0,10}){1,4}",
            proptest::option::of("[A-Za-z0-9=&%._-]{0,24}"),
        )
            .prop_map(|(scheme, host, path, query)| match query {
                Some(query) => format!("{scheme}://{host}{path}?{query}"),
                None => format!("{scheme}://{host}{path}"),
            })
    }

    proptest! {
        // Each case signs with RSA, whose SHA-1 path is slow unoptimized; 48 cases keep the
        // suite quick while still covering both hashes, both key kinds and both policy kinds.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn sign_then_verify_round_trips_and_any_url_byte_change_fails(
            url in url_strategy(),
            use_ec in any::<bool>(),
            sha256 in any::<bool>(),
            custom in any::<bool>(),
            position in any::<prop::sample::Index>(),
            replacement in any::<u8>(),
        ) {
            let key = if use_ec { ec() } else { rsa() };
            let hash = if sha256 { HashAlgorithm::Sha256 } else { HashAlgorithm::Sha1 };
            let expires = 1_767_225_600;
            let signed = if custom {
                let policy = CustomPolicy {
                    resource: Some(url.clone()),
                    date_less_than: expires,
                    ..CustomPolicy::default()
                };
                sign_custom(&url, &policy.to_json(), "K", key, hash).unwrap()
            } else {
                sign_canned(&url, expires, "K", key, hash).unwrap()
            };
            prop_assert_eq!(check(&signed, key, expires - 1), Ok(()));
            prop_assert_eq!(check(&signed, key, expires), Err(SignError::Expired { expires }));

            // Change one byte of the URL that was signed, keep the signing parameters as they
            // are: the request must be refused.
            let i = position.index(url.len());
            let mut bytes = url.clone().into_bytes();
            let changed = if bytes[i] == replacement { replacement ^ 0x01 } else { replacement };
            bytes[i] = changed;
            prop_assume!(bytes.is_ascii() && !bytes.contains(&b'#'));
            let tampered_url = String::from_utf8(bytes).unwrap();
            let tampered = format!("{tampered_url}{}", &signed[url.len()..]);
            prop_assert!(check(&tampered, key, expires - 1).is_err(), "{} accepted", tampered);
        }
    }
}
