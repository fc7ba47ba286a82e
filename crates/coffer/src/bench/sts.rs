//! STS workloads (Query protocol: a signed form POST).

use bytes::Bytes;

use super::RequestShape;

/// `sts:GetCallerIdentity`: needs no set-up.
pub(super) fn get_caller_identity() -> RequestShape {
    RequestShape::post(
        "sts",
        vec![(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        )],
        Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15"),
    )
}
