//! Wire errors: one type for every protocol, rendered in the shape each protocol's clients parse.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use crate::xml::escape;

/// The wire protocol of a service, which decides how requests are decoded and errors are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS Query (IAM, STS): form-encoded POST, XML responses in `<XResponse xmlns=…>`.
    Query { xmlns: &'static str },
    /// AWS JSON 1.1 (KMS, CloudTrail): `X-Amz-Target`, JSON bodies, `{"__type", "message"}` errors.
    Json,
    /// REST-XML with S3's bare `<Error>` document.
    RestXml,
    /// REST-XML with `<ErrorResponse xmlns=…><Error><Type>…` (CloudFront).
    RestXmlWrapped { xmlns: &'static str },
}

/// The code of [`ApiError::audit_unavailable`].
const AUDIT_UNAVAILABLE: &str = "ServiceUnavailable";

/// An error response: AWS error code, message and HTTP status. Messages never carry more than AWS would say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A client error (400) with `code`.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// An internal failure; the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            500,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        )
    }

    /// 503 for a request whose audit event cannot be recorded (the trail is failing). The code is
    /// `ServiceUnavailable`; JSON services render it as `ServiceUnavailableException` ([`ApiError::render`]).
    pub fn audit_unavailable() -> Self {
        Self::new(
            503,
            AUDIT_UNAVAILABLE,
            "The service is unavailable: the request could not be recorded in the audit trail.",
        )
    }

    /// Whether the fault is the caller's (`Sender`) or ours (`Receiver`), for Query error documents.
    fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// Renders the error in `protocol`'s shape.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response<Bytes> {
        let (content_type, body) = match protocol {
            Protocol::Query { xmlns } => (
                "text/xml",
                format!(
                    "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    \
                     <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
                    self.fault(),
                    escape(&self.code),
                    escape(&self.message),
                    escape(request_id)
                ),
            ),
            Protocol::Json => (
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": self.json_code(), "message": self.message}).to_string(),
            ),
            Protocol::RestXml => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
                     <RequestId>{}</RequestId></Error>",
                    escape(&self.code),
                    escape(&self.message),
                    escape(request_id)
                ),
            ),
            Protocol::RestXmlWrapped { xmlns } => (
                "text/xml",
                format!(
                    "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>{}</Type><Code>{}</Code>\
                     <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    self.fault(),
                    escape(&self.code),
                    escape(&self.message),
                    escape(request_id)
                ),
            ),
        };
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v.clone());
            if matches!(protocol, Protocol::RestXml) {
                h.insert("x-amz-request-id", v);
            }
        }
        if matches!(protocol, Protocol::Json) {
            if let Ok(v) = HeaderValue::from_str(self.json_code()) {
                h.insert("x-amzn-errortype", v);
            }
        }
        resp
    }

    /// The code as a JSON service names it: their exceptions end in `Exception`.
    fn json_code(&self) -> &str {
        if self.status == 503 && self.code == AUDIT_UNAVAILABLE {
            "ServiceUnavailableException"
        } else {
            &self.code
        }
    }
}

impl From<iam::IamError> for ApiError {
    fn from(e: iam::IamError) -> Self {
        match e {
            iam::IamError::Storage(_) | iam::IamError::Internal(_) => ApiError::internal(e),
            _ => ApiError::new(e.status(), e.code(), e.to_string()),
        }
    }
}

/// Why a request could not be authenticated; each service names these with its own error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The access key id is unknown or deactivated.
    UnknownKey,
    /// Session credentials whose token is missing or wrong.
    BadToken,
    /// Session credentials past their expiration.
    ExpiredToken,
    /// A failure found by SigV4 itself (bad signature, skew, expired presign, unsigned header…).
    Signature(String, String),
}

impl AuthFailure {
    /// The error `service` answers for this failure, as AWS's endpoint for that service does.
    pub fn to_api_error(&self, service: &str) -> ApiError {
        const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
        match (self, service) {
            (AuthFailure::UnknownKey, "s3") => ApiError::new(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            (AuthFailure::UnknownKey | AuthFailure::BadToken, "kms" | "cloudtrail" | "acm") => {
                ApiError::new(400, "UnrecognizedClientException", INVALID_TOKEN)
            }
            (AuthFailure::UnknownKey, _) => {
                ApiError::new(403, "InvalidClientTokenId", INVALID_TOKEN)
            }
            (AuthFailure::BadToken, "s3") => ApiError::new(
                400,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.",
            ),
            (AuthFailure::BadToken, _) => ApiError::new(403, "InvalidClientTokenId", INVALID_TOKEN),
            (AuthFailure::ExpiredToken, "s3") => {
                ApiError::new(400, "ExpiredToken", "The provided token has expired.")
            }
            (AuthFailure::ExpiredToken, "kms" | "cloudtrail" | "acm") => ApiError::new(
                400,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
            (AuthFailure::ExpiredToken, _) => ApiError::new(
                403,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            (AuthFailure::Signature(code, message), service) => {
                let code = match (code.as_str(), service) {
                    (
                        "SignatureDoesNotMatch" | "RequestTimeTooSkewed",
                        "kms" | "cloudtrail" | "acm",
                    ) => "InvalidSignatureException",
                    ("RequestTimeTooSkewed", s) if s != "s3" => "SignatureDoesNotMatch",
                    (c, _) => c,
                };
                let status = if code == "InvalidSignatureException"
                    || code == "AuthorizationHeaderMalformed"
                    || code == "AuthorizationQueryParametersError"
                    || code == "IncompleteSignature"
                    || code == "InvalidArgument"
                    || code == "InvalidRequest"
                {
                    400
                } else {
                    403
                };
                ApiError::new(status, code, message.clone())
            }
        }
    }
}
