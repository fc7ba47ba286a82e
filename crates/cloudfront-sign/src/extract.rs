//! Finding a viewer's signing credentials in the query string or the `Cookie` header, and the
//! query string that remains once the signing parameters are taken out.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::b64;
use crate::error::SignError;
use crate::keys::HashAlgorithm;
use crate::policy::MAX_EPOCH;

/// The signing parameters in a URL, and their cookie names.
const EXPIRES: (&str, &str) = ("Expires", "CloudFront-Expires");
const POLICY: (&str, &str) = ("Policy", "CloudFront-Policy");
const SIGNATURE: (&str, &str) = ("Signature", "CloudFront-Signature");
const KEY_PAIR_ID: (&str, &str) = ("Key-Pair-Id", "CloudFront-Key-Pair-Id");
const HASH_ALGORITHM: (&str, &str) = ("Hash-Algorithm", "CloudFront-Hash-Algorithm");
const ALL: [(&str, &str); 5] = [EXPIRES, POLICY, SIGNATURE, KEY_PAIR_ID, HASH_ALGORITHM];

/// What a viewer presented: a canned policy (CloudFront rebuilds it from the URL and `Expires`)
/// or a custom policy (carried whole, base64-decoded here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Canned {
        /// Unix seconds.
        expires: i64,
        signature: Vec<u8>,
        key_pair_id: String,
        hash: HashAlgorithm,
    },
    Custom {
        /// The policy JSON, exactly the bytes that were signed.
        policy: Vec<u8>,
        signature: Vec<u8>,
        key_pair_id: String,
        hash: HashAlgorithm,
    },
}

impl Credentials {
    /// The public key id the signature claims.
    pub fn key_pair_id(&self) -> &str {
        match self {
            Self::Canned { key_pair_id, .. } | Self::Custom { key_pair_id, .. } => key_pair_id,
        }
    }

    /// The hash under the signature.
    pub fn hash(&self) -> HashAlgorithm {
        match self {
            Self::Canned { hash, .. } | Self::Custom { hash, .. } => *hash,
        }
    }
}

/// Where the credentials came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Query,
    Cookie,
}

/// The outcome of [`extract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub credentials: Credentials,
    pub source: Source,
    /// The query string without the signing parameters, other pairs kept in order and exactly
    /// as received; `None` when nothing is left (then the URL has no `?`). With cookie
    /// credentials it is the query string unchanged.
    pub remaining_query: Option<String>,
}

/// Finds signing credentials in `query` (raw, as received, without the `?`) or in the
/// `cookie_header` value (join several `Cookie` headers with `"; "` first).
///
/// As in CloudFront, a query string carrying any of `Expires`, `Policy`, `Signature` or
/// `Key-Pair-Id` makes this a signed URL, and cookies are not consulted; otherwise the
/// `CloudFront-*` cookies are used. Returns `Ok(None)` when neither carries any.
pub fn extract(
    query: Option<&str>,
    cookie_header: Option<&str>,
) -> Result<Option<Extracted>, SignError> {
    if let Some(query) = query {
        let mut found = Found::default();
        let mut remaining: Vec<&str> = Vec::new();
        for segment in query.split('&') {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            let name = decode(name);
            match ALL.iter().position(|(param, _)| name == *param) {
                Some(i) => {
                    if found.values[i].is_some() {
                        return Err(SignError::DuplicateParameter(ALL[i].0));
                    }
                    found.values[i] = Some(decode(value).into_owned());
                }
                None => remaining.push(segment),
            }
        }
        if found.signed() {
            return Ok(Some(Extracted {
                credentials: found.credentials()?,
                source: Source::Query,
                remaining_query: (!remaining.is_empty()).then(|| remaining.join("&")),
            }));
        }
    }
    let Some(header) = cookie_header else {
        return Ok(None);
    };
    let mut found = Found::default();
    for pair in header.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if let Some(i) = ALL.iter().position(|(_, cookie)| name.trim() == *cookie) {
            // Browsers list the cookie with the most specific path first, so a duplicate set
            // for a broader path or domain is the one to ignore.
            found.values[i].get_or_insert_with(|| decode(value).into_owned());
        }
    }
    if !found.signed() {
        return Ok(None);
    }
    Ok(Some(Extracted {
        credentials: found.credentials()?,
        source: Source::Cookie,
        remaining_query: query.map(str::to_owned),
    }))
}

/// Percent-decodes a parameter. Signing values are base64 in CloudFront's alphabet or digits,
/// but some clients encode `~` as `%7E`; decoding first makes both spellings equal.
fn decode(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

/// Signing values found so far, indexed like [`ALL`].
#[derive(Default)]
struct Found {
    values: [Option<String>; 5],
}

impl Found {
    fn get(&self, param: (&str, &str)) -> Option<&str> {
        let i = ALL.iter().position(|p| *p == param)?;
        self.values[i].as_deref()
    }

    /// Whether any of the parameters that make a request signed is present. `Hash-Algorithm`
    /// alone does not count: it only qualifies a signature.
    fn signed(&self) -> bool {
        [EXPIRES, POLICY, SIGNATURE, KEY_PAIR_ID]
            .iter()
            .any(|p| self.get(*p).is_some())
    }

    fn credentials(&self) -> Result<Credentials, SignError> {
        let key_pair_id = match self.get(KEY_PAIR_ID) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return Err(SignError::MissingKeyPairId),
        };
        let signature = match self.get(SIGNATURE) {
            Some(sig) if !sig.is_empty() => {
                b64::decode(sig).ok_or(SignError::MalformedSignature)?
            }
            _ => return Err(SignError::MissingSignature),
        };
        let hash = match self.get(HASH_ALGORITHM) {
            None => HashAlgorithm::Sha1,
            Some(name) => HashAlgorithm::parse(name)
                .ok_or_else(|| SignError::InvalidHashAlgorithm(name.to_owned()))?,
        };
        match (self.get(EXPIRES), self.get(POLICY)) {
            (Some(expires), None) => {
                // Digits only: `i64::from_str` would also take a sign, which no signer writes.
                let expires = Some(expires)
                    .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|e| e.parse::<i64>().ok())
                    .filter(|e| *e <= MAX_EPOCH)
                    .ok_or(SignError::MalformedPolicy(
                        "Expires is not a valid epoch time",
                    ))?;
                Ok(Credentials::Canned {
                    expires,
                    signature,
                    key_pair_id,
                    hash,
                })
            }
            (None, Some(policy)) => Ok(Credentials::Custom {
                policy: b64::decode(policy).ok_or(SignError::MalformedPolicy(
                    "Policy is not valid CloudFront base64",
                ))?,
                signature,
                key_pair_id,
                hash,
            }),
            (None, None) => Err(SignError::MalformedPolicy(
                "neither Expires nor Policy is present",
            )),
            (Some(_), Some(_)) => Err(SignError::MalformedPolicy(
                "both Expires and Policy are present",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned(expires: i64, signature: &[u8], id: &str, hash: HashAlgorithm) -> Credentials {
        Credentials::Canned {
            expires,
            signature: signature.to_vec(),
            key_pair_id: id.into(),
            hash,
        }
    }

    #[test]
    fn nothing_signed_is_none() {
        assert_eq!(extract(None, None), Ok(None));
        assert_eq!(
            extract(Some("a=1&b"), Some("session=x; theme=dark")),
            Ok(None)
        );
        assert_eq!(extract(Some(""), Some("")), Ok(None));
        // Hash-Algorithm on its own is not a signature.
        assert_eq!(extract(Some("Hash-Algorithm=SHA256"), None), Ok(None));
    }

    #[test]
    fn query_credentials_and_remaining_query() {
        let got = extract(
            Some("size=large&Expires=1767225600&color=r%20d&Signature=AQID&Key-Pair-Id=K1&x"),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            got.credentials,
            canned(1767225600, &[1, 2, 3], "K1", HashAlgorithm::Sha1)
        );
        assert_eq!(got.source, Source::Query);
        assert_eq!(
            got.remaining_query.as_deref(),
            Some("size=large&color=r%20d&x")
        );
    }

    #[test]
    fn nothing_remains_when_only_signing_params() {
        let got = extract(
            Some("Expires=1&Signature=AQID&Key-Pair-Id=K1&Hash-Algorithm=SHA256"),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            got.credentials,
            canned(1, &[1, 2, 3], "K1", HashAlgorithm::Sha256)
        );
        assert_eq!(got.remaining_query, None);
    }

    #[test]
    fn empty_segments_survive_so_the_url_rebuilds_byte_for_byte() {
        // botocore appends "&Expires=..." to "https://h/p?", and "a=1&&" stays "a=1&&".
        let got = extract(Some("&Expires=1&Signature=AQID&Key-Pair-Id=K1"), None)
            .unwrap()
            .unwrap();
        assert_eq!(got.remaining_query.as_deref(), Some(""));
        let got = extract(Some("a=1&&Expires=1&Signature=AQID&Key-Pair-Id=K1"), None)
            .unwrap()
            .unwrap();
        assert_eq!(got.remaining_query.as_deref(), Some("a=1&"));
    }

    #[test]
    fn custom_policy_is_decoded() {
        let got = extract(Some("Policy=e30_&Signature=AQID&Key-Pair-Id=K1"), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            got.credentials,
            Credentials::Custom {
                policy: b"{}".to_vec(),
                signature: vec![1, 2, 3],
                key_pair_id: "K1".into(),
                hash: HashAlgorithm::Sha1,
            }
        );
    }

    #[test]
    fn percent_encoded_values_are_decoded() {
        // `~` is CloudFront base64 for `/`; some clients send it as %7E.
        let plain = extract(Some("Expires=1&Signature=~~~~&Key-Pair-Id=K1"), None)
            .unwrap()
            .unwrap();
        let encoded = extract(
            Some("Expires=1&Signature=%7E%7E%7E%7E&Key-Pair-Id=K%31"),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(plain.credentials, encoded.credentials);
    }

    #[test]
    fn cookies_among_others() {
        let header = "session=abc; CloudFront-Key-Pair-Id=K2; theme=\"dark\"; \
                      CloudFront-Signature=\"AQID\";CloudFront-Expires=1767225600; \
                      CloudFront-Hash-Algorithm=SHA256; other";
        let got = extract(Some("page=2"), Some(header)).unwrap().unwrap();
        assert_eq!(
            got.credentials,
            canned(1767225600, &[1, 2, 3], "K2", HashAlgorithm::Sha256)
        );
        assert_eq!(got.source, Source::Cookie);
        assert_eq!(got.remaining_query.as_deref(), Some("page=2"));
    }

    #[test]
    fn first_cookie_of_a_name_wins() {
        let header = "CloudFront-Expires=2; CloudFront-Signature=AQID; CloudFront-Key-Pair-Id=K1; \
                      CloudFront-Expires=3";
        let got = extract(None, Some(header)).unwrap().unwrap();
        assert_eq!(
            got.credentials,
            canned(2, &[1, 2, 3], "K1", HashAlgorithm::Sha1)
        );
    }

    #[test]
    fn url_takes_precedence_over_cookies() {
        let cookies = "CloudFront-Expires=2; CloudFront-Signature=AQID; CloudFront-Key-Pair-Id=K1";
        let got = extract(
            Some("Expires=9&Signature=BAUG&Key-Pair-Id=K9"),
            Some(cookies),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            got.credentials,
            canned(9, &[4, 5, 6], "K9", HashAlgorithm::Sha1)
        );
        // A partial set in the URL is still a signed URL, and fails as one.
        assert_eq!(
            extract(Some("Expires=9"), Some(cookies)),
            Err(SignError::MissingKeyPairId)
        );
    }

    #[test]
    fn malformed_credentials() {
        let table: &[(&str, SignError)] = &[
            ("Expires=1&Signature=AQID", SignError::MissingKeyPairId),
            (
                "Expires=1&Signature=AQID&Key-Pair-Id=",
                SignError::MissingKeyPairId,
            ),
            ("Expires=1&Key-Pair-Id=K", SignError::MissingSignature),
            (
                "Expires=1&Signature=&Key-Pair-Id=K",
                SignError::MissingSignature,
            ),
            (
                "Expires=1&Signature=A!B&Key-Pair-Id=K",
                SignError::MalformedSignature,
            ),
            (
                "Expires=1&Signature=AQID&Key-Pair-Id=K&Hash-Algorithm=MD5",
                SignError::InvalidHashAlgorithm("MD5".into()),
            ),
            (
                "Expires=1&Signature=AQID&Key-Pair-Id=K&Key-Pair-Id=L",
                SignError::DuplicateParameter("Key-Pair-Id"),
            ),
            (
                "Signature=AQID&Key-Pair-Id=K",
                SignError::MalformedPolicy("neither Expires nor Policy is present"),
            ),
            (
                "Expires=1&Policy=e30_&Signature=AQID&Key-Pair-Id=K",
                SignError::MalformedPolicy("both Expires and Policy are present"),
            ),
            (
                "Policy=!!&Signature=AQID&Key-Pair-Id=K",
                SignError::MalformedPolicy("Policy is not valid CloudFront base64"),
            ),
        ];
        for (query, err) in table {
            assert_eq!(extract(Some(query), None).as_ref(), Err(err), "{query}");
        }
    }

    #[test]
    fn expires_must_be_plain_seconds() {
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            "12ab",
            "1767225600000",
            "99999999999999999999",
        ] {
            let query = format!("Expires={bad}&Signature=AQID&Key-Pair-Id=K");
            assert_eq!(
                extract(Some(&query), None),
                Err(SignError::MalformedPolicy(
                    "Expires is not a valid epoch time"
                )),
                "{bad:?}"
            );
        }
    }
}
