//! Checking extracted credentials against the request: key lookup, signature, then policy.

use std::borrow::Borrow;
use std::net::IpAddr;

use crate::error::SignError;
use crate::extract::Credentials;
use crate::keys::PublicKey;
use crate::policy::{canned_policy, Policy};

/// The request facts a signature is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `scheme://host[:port]/path[?query]` as the viewer requested it, with the signing
    /// parameters removed from the query (see [`viewer_url`] and
    /// [`Extracted::remaining_query`](crate::Extracted::remaining_query)). For a canned policy
    /// this string is the signed `Resource`, so it must be byte-exact: path and query as
    /// received, not decoded or normalized.
    pub url_without_signing_params: &'a str,
    /// The same URL with its path in the one spelling the edge gives the object it will serve
    /// (`cloudfront_model::NormalizedPath::url_path`). A custom policy's `Resource` pattern is
    /// matched against this, never against the raw URL: otherwise `https://h/public/*` would
    /// match `https://h/public/..%2Fprivate/x`, which names an object outside `/public/`. A
    /// canned policy is accepted for either spelling (both name the served object). Callers
    /// that do not normalize pass the raw URL again.
    pub normalized_url: &'a str,
    /// The viewer's address, for a custom policy's `IpAddress` condition. `None` fails any
    /// policy that has one.
    pub client_ip: Option<IpAddr>,
    /// Unix seconds.
    pub now: i64,
}

/// Joins the parts of the viewer's URL the way signers write it: `scheme://host` + `path`, then
/// `?query` when there is a query (even an empty one).
pub fn viewer_url(scheme: &str, host: &str, path: &str, query: Option<&str>) -> String {
    let mut url = format!("{scheme}://{host}{path}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Verifies `credentials` for `request`. `keys` maps a key pair id to a trusted public key (for
/// example the distribution's trusted key groups); it may hand out `&PublicKey`,
/// `Arc<PublicKey>` or anything else that borrows as one.
///
/// Order: unknown key, then signature, then the policy's conditions. The custom policy JSON is
/// only parsed once its signature has verified, so unauthenticated bytes never reach the parser.
pub fn verify<F, K>(
    credentials: &Credentials,
    request: &Request<'_>,
    keys: F,
) -> Result<(), SignError>
where
    F: FnOnce(&str) -> Option<K>,
    K: Borrow<PublicKey>,
{
    let key = keys(credentials.key_pair_id()).ok_or(SignError::UnknownKey)?;
    let key = key.borrow();
    match credentials {
        Credentials::Canned {
            expires,
            signature,
            hash,
            ..
        } => {
            // The canned Resource is exact, so the spelling the signer wrote names exactly one object; the
            // normalized spelling names the same one.
            let signed = |url: &str| {
                let policy = canned_policy(url, *expires);
                key.verifies(*hash, policy.as_bytes(), signature)
            };
            let raw = request.url_without_signing_params;
            if !signed(raw) && (request.normalized_url == raw || !signed(request.normalized_url)) {
                return Err(SignError::BadSignature);
            }
            if request.now >= *expires {
                return Err(SignError::Expired { expires: *expires });
            }
            Ok(())
        }
        Credentials::Custom {
            policy,
            signature,
            hash,
            ..
        } => {
            if !key.verifies(*hash, policy, signature) {
                return Err(SignError::BadSignature);
            }
            Policy::parse(policy)?.check(request.normalized_url, request.client_ip, request.now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{HashAlgorithm, PrivateKey};
    use std::sync::Arc;

    #[test]
    fn viewer_url_shapes() {
        assert_eq!(viewer_url("https", "h", "/a", None), "https://h/a");
        assert_eq!(
            viewer_url("https", "h:8443", "/a", Some("x=1")),
            "https://h:8443/a?x=1"
        );
        assert_eq!(viewer_url("http", "h", "/a", Some("")), "http://h/a?");
    }

    #[test]
    fn custom_patterns_match_the_normalized_url_and_canned_either_spelling() {
        let private = PrivateKey::from_pem(include_str!("../testdata/ec-p256.pem")).unwrap();
        let public = private.public_key().clone();
        let policy = crate::CustomPolicy {
            resource: Some("https://h/public/*".into()),
            date_less_than: 100,
            ..crate::CustomPolicy::default()
        }
        .to_json();
        let custom = Credentials::Custom {
            signature: private
                .sign(HashAlgorithm::Sha256, policy.as_bytes())
                .unwrap(),
            policy: policy.into_bytes(),
            key_pair_id: "K".into(),
            hash: HashAlgorithm::Sha256,
        };
        // The raw URL matches the wildcard, but the object it names is /private/x.
        let escape = Request {
            url_without_signing_params: "https://h/public/..%2Fprivate/x",
            normalized_url: "https://h/private/x",
            client_ip: None,
            now: 50,
        };
        assert_eq!(
            verify(&custom, &escape, |_| Some(&public)),
            Err(SignError::ResourceMismatch)
        );
        let encoded_same = Request {
            url_without_signing_params: "https://h/%70ublic/a",
            normalized_url: "https://h/public/a",
            client_ip: None,
            now: 50,
        };
        assert_eq!(verify(&custom, &encoded_same, |_| Some(&public)), Ok(()));

        let canned = |url: &str| Credentials::Canned {
            expires: 100,
            signature: private
                .sign(HashAlgorithm::Sha256, canned_policy(url, 100).as_bytes())
                .unwrap(),
            key_pair_id: "K".into(),
            hash: HashAlgorithm::Sha256,
        };
        // Signed as sent, or signed in the normalized spelling: both name /a b.
        let request = Request {
            url_without_signing_params: "https://h/%61%20b",
            normalized_url: "https://h/a%20b",
            client_ip: None,
            now: 50,
        };
        assert_eq!(
            verify(&canned("https://h/%61%20b"), &request, |_| Some(&public)),
            Ok(())
        );
        assert_eq!(
            verify(&canned("https://h/a%20b"), &request, |_| Some(&public)),
            Ok(())
        );
        assert_eq!(
            verify(&canned("https://h/other"), &request, |_| Some(&public)),
            Err(SignError::BadSignature)
        );
    }

    #[test]
    fn key_lookup_accepts_references_and_arcs() {
        let private = PrivateKey::from_pem(include_str!("../testdata/ec-p256.pem")).unwrap();
        let url = "https://h/a";
        let credentials = Credentials::Canned {
            expires: 100,
            signature: private
                .sign(HashAlgorithm::Sha256, canned_policy(url, 100).as_bytes())
                .unwrap(),
            key_pair_id: "K".into(),
            hash: HashAlgorithm::Sha256,
        };
        let request = Request {
            url_without_signing_params: url,
            normalized_url: url,
            client_ip: None,
            now: 50,
        };
        let public = private.public_key().clone();
        assert_eq!(verify(&credentials, &request, |_| Some(&public)), Ok(()));
        let shared = Arc::new(public);
        assert_eq!(
            verify(&credentials, &request, |id| (id == "K")
                .then(|| shared.clone())),
            Ok(())
        );
        assert_eq!(
            verify(&credentials, &request, |_| None::<&PublicKey>),
            Err(SignError::UnknownKey)
        );
    }
}
