//! AWS Signature Version 4: parse and verify signed requests, sign requests and URLs, and
//! check aws-chunked streaming bodies — byte for byte as AWS does. Also the one decision of which
//! authentication mechanism a request uses ([`mechanism`]) and S3's legacy Signature Version 2 ([`parse_v2`]).
//!
//! Pure: no I/O and no clock; callers pass `now`. The usual server flow is
//! [`parse`] → look up the secret for `access_key_id` → [`Verifier::verify`].

mod canonical;
mod chunked;
mod error;
mod mechanism;
mod parse;
mod post_policy;
mod sign;
mod v2;
mod verify;

pub use canonical::{
    canonical_query_string, canonical_request, canonical_uri, credential_scope, format_amz_date,
    parse_amz_date, sha256_hex, signature, signing_key, string_to_sign, uri_encode, RequestView,
    UriMode, ALGORITHM, EMPTY_SHA256, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD,
};
pub use chunked::{decode_aws_chunked, ChunkHeader, ChunkSigner, ChunkVerifier, Trailers};
pub use error::{Error, MismatchDetails};
pub use mechanism::{mechanism, Mechanism};
pub use parse::{parse, AuthKind, ParsedAuth, MAX_PRESIGNED_EXPIRES_SECS};
pub use post_policy::{
    post_signature_v4, signatures_match, PostPolicy, PostPolicyError, MAX_POLICY_BYTES,
};
pub use sign::{presign_url, sign_request, Credentials, SigningParams};
pub use v2::{
    parse_v2, signature_v2, string_to_sign_v2, v2_signs_subresource, verify_v2, V2Auth, V2Kind,
};
pub use verify::{verify, Verifier, MAX_SKEW};
