//! JSON 1.1 responses: the reply envelope, epoch-second timestamps and base64 blobs.

use api::Reply;
use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

/// The content type of every KMS response.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A 200 response with `body`.
pub(crate) fn reply(body: &Value) -> Reply {
    Reply::new(200, CONTENT_TYPE, body.to_string())
}

/// The response of an operation without output: an empty body, as KMS sends.
pub(crate) fn empty() -> Reply {
    Reply::new(200, CONTENT_TYPE, "")
}

/// A JSON 1.1 timestamp: seconds since the epoch, with milliseconds as KMS sends them.
pub(crate) fn epoch(t: OffsetDateTime) -> Value {
    Value::from((t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0)
}

/// One page of a list operation: `{<member>: [...], "Truncated": bool, "NextMarker"?}`.
pub(crate) fn page(member: &str, items: Vec<Value>, next_marker: Option<String>) -> Value {
    let mut o = serde_json::Map::new();
    o.insert(member.to_owned(), Value::Array(items));
    o.insert("Truncated".into(), Value::Bool(next_marker.is_some()));
    if let Some(m) = next_marker {
        o.insert("NextMarker".into(), Value::String(m));
    }
    Value::Object(o)
}

/// A blob as JSON 1.1 carries it.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
