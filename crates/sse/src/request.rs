//! Reading a request's SSE headers: the checks S3 makes before a body is read, the SSE-C key, and the choice
//! of encryption for a write (explicit headers, else the bucket default, else SSE-S3).

use std::collections::BTreeMap;

use api::ApiError;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use objects::BucketEncryption;
use s3_api::SseRequest;
use zeroize::Zeroizing;

use crate::errors;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The SSE-C algorithm, the only one S3 accepts.
pub(crate) const CUSTOMER_ALGORITHM: &str = "AES256";

/// What the SSE headers of a write ask for, before defaults apply.
pub(crate) enum Requested {
    /// No `x-amz-server-side-encryption`: the bucket default decides (the bucket-key header may still override
    /// the default's Bucket Key setting, as S3 documents).
    Default { bucket_key: Option<bool> },
    /// `AES256`.
    S3,
    /// `aws:kms`, with the optional key reference and additional context.
    Kms {
        key_ref: Option<String>,
        context: Option<BTreeMap<String, String>>,
        bucket_key: Option<bool>,
    },
    /// SSE-C with a verified key.
    Customer(CustomerKey),
}

/// A customer-provided key whose MD5 matched, in zeroizing memory, and the MD5 to echo.
pub(crate) struct CustomerKey {
    pub(crate) key: Zeroizing<[u8; 32]>,
    pub(crate) md5: String,
}

/// Parses and checks a write's SSE headers in the order S3 checks them.
pub(crate) fn parse_put(sse: &SseRequest) -> Result<Requested, ApiError> {
    if sse.is_customer() {
        if sse.algorithm.is_some() {
            return Err(errors::customer_with_sse());
        }
        if sse.kms_key_id.is_some() || sse.kms_context.is_some() {
            return Err(errors::kms_header_without_kms());
        }
        return customer_key(sse, true).map(Requested::Customer);
    }
    let kms_headers = sse.kms_key_id.is_some() || sse.kms_context.is_some();
    match sse.algorithm.as_deref() {
        None if kms_headers => Err(errors::kms_header_without_kms()),
        None => Ok(Requested::Default {
            bucket_key: sse.bucket_key_enabled,
        }),
        Some("AES256") if kms_headers => Err(errors::kms_header_without_kms()),
        // S3 ignores the Bucket Key header on SSE-S3 writes: there is no KMS key to save calls to.
        Some("AES256") => Ok(Requested::S3),
        Some("aws:kms") => Ok(Requested::Kms {
            key_ref: sse.kms_key_id.clone(),
            context: sse.kms_context.as_deref().map(parse_context).transpose()?,
            bucket_key: sse.bucket_key_enabled,
        }),
        Some("aws:kms:dsse") => Err(errors::dsse_not_implemented()),
        Some(_) => Err(errors::unsupported_method()),
    }
}

/// The SSE-C key of a request. On writes the MD5 header is required; on reads it is checked when present (S3
/// answers reads without it). The MD5 is checked before the key's length, as S3 does.
pub(crate) fn customer_key(sse: &SseRequest, write: bool) -> Result<CustomerKey, ApiError> {
    let Some(algorithm) = sse.customer_algorithm.as_deref() else {
        return Err(errors::customer_missing_algorithm());
    };
    if algorithm != CUSTOMER_ALGORITHM {
        return Err(errors::customer_bad_algorithm());
    }
    let Some(encoded) = sse.customer_key.as_ref() else {
        return Err(errors::customer_missing_key());
    };
    let raw = Zeroizing::new(
        B64.decode(encoded.trim().as_bytes())
            .map_err(|_| errors::customer_bad_key())?,
    );
    let digest = Md5::digest(&raw[..]);
    let computed = B64.encode(digest);
    match sse.customer_key_md5.as_deref() {
        Some(given) => {
            let matches = B64
                .decode(given.trim().as_bytes())
                .is_ok_and(|d| d[..] == digest[..]);
            if !matches {
                return Err(errors::customer_md5_mismatch());
            }
        }
        None if write => return Err(errors::customer_missing_md5()),
        None => {}
    }
    if raw.len() != 32 {
        return Err(errors::customer_bad_key());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&raw);
    Ok(CustomerKey { key, md5: computed })
}

/// Decodes `x-amz-server-side-encryption-context`: base64 of a UTF-8 JSON object of strings.
pub(crate) fn parse_context(encoded: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let bytes = B64
        .decode(encoded.trim().as_bytes())
        .map_err(|_| errors::malformed_context())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| errors::malformed_context())?;
    serde_json::from_str::<BTreeMap<String, String>>(text).map_err(|_| errors::malformed_context())
}

/// The encoding of a context in response headers: base64 of its JSON.
pub(crate) fn encode_context(context: &BTreeMap<String, String>) -> String {
    B64.encode(serde_json::to_vec(context).expect("a string map always serializes"))
}

/// The encryption a write gets, after defaults.
pub(crate) enum Choice {
    S3,
    Kms {
        /// `None`: the AWS-managed `aws/s3` key.
        key_ref: Option<String>,
        context: Option<BTreeMap<String, String>>,
        bucket_key: bool,
    },
    Customer(CustomerKey),
}

/// Applies the bucket default to what the request asked for. Explicit headers win; a request for `aws:kms`
/// without a key takes the default's key when the default is SSE-KMS, else `aws/s3`; without the Bucket Key
/// header, an SSE-KMS write takes the bucket's Bucket Key setting.
pub(crate) fn choose(
    requested: Requested,
    default: Option<&BucketEncryption>,
) -> Result<Choice, ApiError> {
    let kms_default = default.filter(|d| d.sse_algorithm == "aws:kms");
    Ok(match requested {
        Requested::Customer(k) => Choice::Customer(k),
        Requested::S3 => Choice::S3,
        Requested::Kms {
            key_ref,
            context,
            bucket_key,
        } => Choice::Kms {
            key_ref: key_ref.or_else(|| kms_default.and_then(|d| d.kms_key_id.clone())),
            context,
            bucket_key: bucket_key.unwrap_or(kms_default.is_some_and(|d| d.bucket_key_enabled)),
        },
        Requested::Default { bucket_key } => match default {
            None => Choice::S3,
            Some(d) => match d.sse_algorithm.as_str() {
                "AES256" => Choice::S3,
                "aws:kms" => Choice::Kms {
                    key_ref: d.kms_key_id.clone().filter(|k| !k.is_empty()),
                    context: None,
                    bucket_key: bucket_key.unwrap_or(d.bucket_key_enabled),
                },
                "aws:kms:dsse" => return Err(errors::dsse_not_implemented()),
                other => {
                    return Err(ApiError::internal(format!(
                        "bucket default encryption has unknown algorithm {other:?}"
                    )))
                }
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(f: impl FnOnce(&mut SseRequest)) -> SseRequest {
        let mut r = SseRequest::default();
        f(&mut r);
        r
    }

    fn code(r: Result<Requested, ApiError>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => e.code,
        }
    }

    fn customer(key: &[u8]) -> SseRequest {
        req(|r| {
            r.customer_algorithm = Some("AES256".into());
            r.customer_key = Some(Zeroizing::new(B64.encode(key)));
            r.customer_key_md5 = Some(B64.encode(Md5::digest(key)));
        })
    }

    #[test]
    fn header_combinations() {
        assert_eq!(code(parse_put(&SseRequest::default())), "ok");
        assert_eq!(
            code(parse_put(&req(|r| r.algorithm = Some("AES256".into())))),
            "ok"
        );
        assert_eq!(
            code(parse_put(&req(|r| r.algorithm = Some("aws:kms".into())))),
            "ok"
        );
        assert_eq!(
            code(parse_put(&req(|r| r.algorithm = Some("aes:kms".into())))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse_put(&req(|r| r.algorithm = Some(String::new())))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse_put(&req(
                |r| r.algorithm = Some("aws:kms:dsse".into())
            ))),
            "NotImplemented"
        );
        assert_eq!(
            code(parse_put(&req(|r| r.kms_key_id = Some("k".into())))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse_put(&req(|r| {
                r.algorithm = Some("AES256".into());
                r.kms_key_id = Some("k".into());
            }))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse_put(&req(|r| {
                r.algorithm = Some("aws:kms".into());
                r.kms_context = Some("not base64!".into());
            }))),
            "InvalidArgument"
        );
        assert_eq!(
            code(parse_put(&req(|r| {
                r.algorithm = Some("aws:kms".into());
                r.kms_context = Some(B64.encode(r#"{"a":1}"#));
            }))),
            "InvalidArgument"
        );
        let mut c = customer(&[7; 32]);
        assert_eq!(code(parse_put(&c)), "ok");
        c.algorithm = Some("aws:kms".into());
        let e = parse_put(&c).err().unwrap();
        assert!(e.message.contains("incompatible"), "{}", e.message);
    }

    #[test]
    fn customer_key_checks_in_order() {
        let mut c = customer(&[7; 32]);
        c.customer_algorithm = Some("AES512".into());
        assert_eq!(code(parse_put(&c)), "InvalidEncryptionAlgorithmError");
        let mut c = customer(&[7; 32]);
        c.customer_algorithm = None;
        assert!(parse_put(&c)
            .err()
            .unwrap()
            .message
            .contains("valid encryption algorithm"));
        let mut c = customer(&[7; 32]);
        c.customer_key_md5 = Some(B64.encode([0u8; 16]));
        assert!(parse_put(&c).err().unwrap().message.contains("MD5 hash"));
        // A short key whose MD5 matches: the length is what is wrong.
        let c = customer(&[7; 24]);
        assert!(parse_put(&c)
            .err()
            .unwrap()
            .message
            .contains("secret key was invalid"));
        // A short key with a wrong MD5: the MD5 is checked first.
        let mut c = customer(&[7; 24]);
        c.customer_key_md5 = Some(B64.encode([0u8; 16]));
        assert!(parse_put(&c).err().unwrap().message.contains("MD5 hash"));
        let mut c = customer(&[7; 32]);
        c.customer_key_md5 = None;
        assert!(parse_put(&c)
            .err()
            .unwrap()
            .message
            .contains("client calculated MD5"));
        assert!(customer_key(&c, false).is_ok());
        let mut c = customer(&[7; 32]);
        c.customer_key = None;
        assert!(parse_put(&c)
            .err()
            .unwrap()
            .message
            .contains("appropriate secret key"));
    }

    #[test]
    fn defaults_and_overrides() {
        let kms_default = BucketEncryption {
            sse_algorithm: "aws:kms".into(),
            kms_key_id: Some("alias/default".into()),
            bucket_key_enabled: true,
        };
        let pick =
            |r: SseRequest, d: Option<&BucketEncryption>| choose(parse_put(&r).ok().unwrap(), d);
        assert!(matches!(pick(SseRequest::default(), None), Ok(Choice::S3)));
        match pick(SseRequest::default(), Some(&kms_default)) {
            Ok(Choice::Kms {
                key_ref,
                bucket_key,
                ..
            }) => {
                assert_eq!(key_ref.as_deref(), Some("alias/default"));
                assert!(bucket_key);
            }
            _ => panic!("default not applied"),
        }
        assert!(matches!(
            pick(
                req(|r| r.algorithm = Some("AES256".into())),
                Some(&kms_default)
            ),
            Ok(Choice::S3)
        ));
        match pick(
            req(|r| {
                r.algorithm = Some("aws:kms".into());
                r.kms_key_id = Some("alias/mine".into());
                r.bucket_key_enabled = Some(false);
            }),
            Some(&kms_default),
        ) {
            Ok(Choice::Kms {
                key_ref,
                bucket_key,
                ..
            }) => {
                assert_eq!(key_ref.as_deref(), Some("alias/mine"));
                assert!(!bucket_key);
            }
            _ => panic!("explicit headers must win"),
        }
        match pick(req(|r| r.algorithm = Some("aws:kms".into())), None) {
            Ok(Choice::Kms {
                key_ref,
                bucket_key,
                ..
            }) => {
                assert_eq!(key_ref, None);
                assert!(!bucket_key);
            }
            _ => panic!("aws:kms without a key is aws/s3"),
        }
    }
}
