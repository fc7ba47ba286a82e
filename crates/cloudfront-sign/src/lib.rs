//! CloudFront signed URLs and signed cookies: find the credentials in a request, verify them
//! against the distribution's trusted public keys, and (for tests and tools) mint them — in
//! CloudFront's exact format, so URLs from `aws cloudfront sign` and botocore's
//! `CloudFrontSigner` are accepted.
//!
//! Pure: no I/O and no clock; callers pass `now` in unix seconds. The edge's flow is
//! [`extract`] → rebuild the URL with [`viewer_url`] from the remaining query → [`verify`] with a
//! lookup into the trusted key groups; every [`SignError`] becomes a 403 carrying
//! [`SignError::code`] and [`SignError::message`].
//!
//! What is signed:
//! * canned policy: `{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<Expires>}}}]}`
//!   rebuilt from the request URL without the signing parameters;
//! * custom policy: the JSON bytes carried (base64) in `Policy` / `CloudFront-Policy`.
//!
//! Minting exists for tests and tools; the server only verifies.
//! aws-lc-rs verifies SHA-1 RSA signatures but will not make them, so the RSA-SHA-1 signer is this crate's own,
//! and every signature it makes is checked with aws-lc-rs before it is returned.
//!
//! Signatures are RSA PKCS#1 v1.5 or ECDSA P-256 (ASN.1 DER) over SHA-1, or over SHA-256 when
//! `Hash-Algorithm=SHA256` / `CloudFront-Hash-Algorithm=SHA256` is present.

mod b64;
mod der;
mod error;
mod extract;
mod keys;
mod policy;
mod rsa_sha1;
mod sign;
mod verify;

pub use error::{KeyError, SignError};
pub use extract::{extract, Credentials, Extracted, Source};
pub use keys::{HashAlgorithm, KeyAlgorithm, PrivateKey, PublicKey};
pub use policy::{canned_policy, CustomPolicy, Policy};
pub use sign::{sign_canned, sign_custom, signed_cookies_canned, signed_cookies_custom};
pub use verify::{verify, viewer_url, Request};
