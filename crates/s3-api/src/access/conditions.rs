//! S3's condition keys: the request-level ones every S3 request carries (`s3:authType`,
//! `s3:signatureversion`, `s3:signatureAge`, `s3:x-amz-content-sha256`, `s3:TlsVersion`) and the
//! operation-level ones taken from headers and inputs (`s3:x-amz-server-side-encryption*`,
//! `s3:RequestObjectTag/<k>`, `s3:x-amz-copy-source`, `s3:prefix`…).

use http::HeaderMap;

use crate::state::SignedBy;

/// Condition keys and their values, as `api::Check::context` takes them.
pub(crate) type Keys = Vec<(String, Vec<String>)>;

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Adds `key = value` when the value is present.
pub(crate) fn push(keys: &mut Keys, key: &str, value: Option<impl Into<String>>) {
    if let Some(v) = value {
        keys.push((key.to_owned(), vec![v.into()]));
    }
}

/// The keys every S3 request carries.
pub(crate) fn request_keys(
    signed_by: SignedBy,
    signature_version: &str,
    signature_age_ms: Option<u64>,
    tls: Option<&str>,
    headers: &HeaderMap,
) -> Keys {
    let mut keys = Keys::new();
    if let Some(auth) = signed_by.s3_auth_type() {
        push(&mut keys, "s3:authType", Some(auth));
        push(&mut keys, "s3:signatureversion", Some(signature_version));
    }
    push(
        &mut keys,
        "s3:signatureAge",
        signature_age_ms.map(|a| a.to_string()),
    );
    push(&mut keys, "s3:TlsVersion", tls);
    push(
        &mut keys,
        "s3:x-amz-content-sha256",
        header(headers, "x-amz-content-sha256"),
    );
    keys
}

/// The SSE keys of a write (PutObject, CreateMultipartUpload, CopyObject destination).
pub(crate) fn sse_keys(headers: &HeaderMap, keys: &mut Keys) {
    for (key, name) in [
        (
            "s3:x-amz-server-side-encryption",
            "x-amz-server-side-encryption",
        ),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ),
        (
            "s3:x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-algorithm",
        ),
        ("s3:x-amz-storage-class", "x-amz-storage-class"),
        (
            "s3:x-amz-website-redirect-location",
            "x-amz-website-redirect-location",
        ),
        ("s3:object-lock-mode", "x-amz-object-lock-mode"),
        (
            "s3:object-lock-retain-until-date",
            "x-amz-object-lock-retain-until-date",
        ),
        ("s3:object-lock-legal-hold", "x-amz-object-lock-legal-hold"),
    ] {
        push(keys, key, header(headers, name));
    }
    acl_keys(headers, keys);
}

/// The ACL headers of a request: canned (`x-amz-acl`) and explicit grants.
const ACL_HEADERS: [&str; 6] = [
    "x-amz-acl",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
];

/// `s3:x-amz-acl` and `s3:x-amz-grant-*` from the ACL headers.
pub(crate) fn acl_keys(headers: &HeaderMap, keys: &mut Keys) {
    for name in ACL_HEADERS {
        if !keys.iter().any(|(k, _)| k == &format!("s3:{name}")) {
            push(keys, &format!("s3:{name}"), header(headers, name));
        }
    }
}

/// Whether a write sets an ACL (which needs `s3:PutObjectAcl` besides the write itself).
pub(crate) fn sets_acl(headers: &HeaderMap) -> bool {
    ACL_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// `s3:RequestObjectTag/<k>` and `s3:RequestObjectTagKeys` from a URL-encoded tag set (`x-amz-tagging`).
pub(crate) fn request_tag_keys(tagging: Option<&str>, keys: &mut Keys) {
    let Some(tagging) = tagging else { return };
    let pairs = parse_tag_query(tagging);
    if pairs.is_empty() {
        return;
    }
    let mut names = Vec::new();
    for (k, v) in pairs {
        keys.push((format!("s3:RequestObjectTag/{k}"), vec![v]));
        names.push(k);
    }
    keys.push(("s3:RequestObjectTagKeys".into(), names));
}

/// `s3:RequestObjectTag/<k>` and `s3:RequestObjectTagKeys` from a tag list (PutObjectTagging).
pub(crate) fn request_tags(tags: &[(String, String)], keys: &mut Keys) {
    let mut names = Vec::new();
    for (k, v) in tags {
        keys.push((format!("s3:RequestObjectTag/{k}"), vec![v.clone()]));
        names.push(k.clone());
    }
    keys.push(("s3:RequestObjectTagKeys".into(), names));
}

/// `s3:ExistingObjectTag/<k>` for the tags an object has.
pub(crate) fn existing_tags(tags: &[objects::Tag], keys: &mut Keys) {
    for t in tags {
        keys.push((
            format!("s3:ExistingObjectTag/{}", t.key),
            vec![t.value.clone()],
        ));
    }
}

/// Decodes `k1=v1&k2=v2` (the `x-amz-tagging` header's form).
pub(crate) fn parse_tag_query(s: &str) -> Vec<(String, String)> {
    let decode = |x: &str| {
        percent_encoding::percent_decode_str(&x.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_query_decodes() {
        assert_eq!(
            parse_tag_query("project=blue%20sky&team=a+b&empty"),
            vec![
                ("project".into(), "blue sky".into()),
                ("team".into(), "a b".into()),
                ("empty".into(), String::new())
            ]
        );
        let mut keys = Keys::new();
        request_tag_keys(Some("a=1&b=2"), &mut keys);
        assert_eq!(
            keys.last().unwrap().1,
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
