//! One CloudTrail event per S3 request: management events for bucket operations, data events for object
//! operations (when enabled), with S3's requestParameters, the bucket and object ARNs as resources, and the
//! S3 error code of a failed call. Requests whose signature could not be verified are not recorded (nobody
//! was authenticated), as on the dispatcher's path.

use api::ApiError;

use crate::front::Shared;
use crate::state::RequestState;

/// Operations CloudTrail records as S3 data events.
const DATA_EVENTS: [&str; 24] = [
    "GetObject",
    "HeadObject",
    "PutObject",
    "DeleteObject",
    "DeleteObjects",
    "CopyObject",
    "GetObjectAttributes",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "GetObjectAcl",
    "PutObjectAcl",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "ListMultipartUploads",
    "PostObject",
    "RestoreObject",
];

pub(crate) fn is_data_event(operation: &str) -> bool {
    DATA_EVENTS.contains(&operation)
}

/// Appends the audit event of a finished request. `Err` (503) when the event could not be recorded: the
/// caller must answer with it instead of the request's own response.
pub(crate) async fn finish(
    shared: &Shared,
    state: &RequestState,
    status: u16,
    error: Option<ApiError>,
) -> Result<(), ApiError> {
    let (ctx, mut record) = {
        let mut s = state.lock();
        let Some(ctx) = s.ctx.clone() else {
            return Ok(());
        };
        let mut record = std::mem::take(&mut s.record);
        if record.error.is_none() {
            record.error = s.error.take().or(error);
        }
        (ctx, record)
    };
    if record.operation.is_empty() {
        record.operation = "Unknown".into();
    }
    record.management = !is_data_event(&record.operation);
    if !record.management && !shared.data_events {
        return Ok(());
    }
    record.read_only = ["Get", "Head", "List"]
        .iter()
        .any(|p| record.operation.starts_with(p));
    if status >= 300 && record.error.is_none() && status != 304 {
        record.error = Some(ApiError::new(status, format!("{status}"), String::new()));
    }
    shared.core.record("s3.amazonaws.com", &ctx, &record).await
}

/// The code and message of an S3 error document.
pub(crate) fn parse_error(status: u16, body: &[u8]) -> Option<ApiError> {
    if status < 400 {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&close)? + start;
        Some(unescape(&text[start..end]))
    };
    let code = tag("Code").unwrap_or_else(|| status.to_string());
    Some(ApiError::new(
        status,
        code,
        tag("Message").unwrap_or_default(),
    ))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_parse() {
        let e = parse_error(
            404,
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &amp; b</Message></Error>",
        )
        .unwrap();
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (404, "NoSuchKey", "a & b")
        );
        assert!(parse_error(200, b"").is_none());
        assert_eq!(parse_error(403, b"").unwrap().code, "403");
    }
}
