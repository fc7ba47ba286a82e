//! Query protocol responses: the `<{Op}Response>` envelope, timestamps, URL-encoded policy documents and the
//! pagination elements of list operations.

use api::xml::XmlWriter;
use api::Reply;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::OffsetDateTime;

/// Everything but RFC 3986's unreserved characters is percent-encoded, as IAM encodes policy documents.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The response being built for one operation.
#[derive(Debug)]
pub(crate) struct Out {
    xmlns: &'static str,
    operation: &'static str,
    request_id: String,
}

impl Out {
    pub fn new(xmlns: &'static str, operation: &'static str, request_id: &str) -> Self {
        Self {
            xmlns,
            operation,
            request_id: request_id.to_owned(),
        }
    }

    /// `<{Op}Response><{Op}Result>…</{Op}Result><ResponseMetadata>…</ResponseMetadata></{Op}Response>`.
    pub fn result(self, body: impl FnOnce(&mut XmlWriter)) -> Reply {
        self.render(Some(body))
    }

    /// The response of an operation without output: no Result element.
    pub fn empty(self) -> Reply {
        self.render(None::<fn(&mut XmlWriter)>)
    }

    fn render(self, body: Option<impl FnOnce(&mut XmlWriter)>) -> Reply {
        let response = format!("{}Response", self.operation);
        let result = format!("{}Result", self.operation);
        let mut w = XmlWriter::new();
        w.open_ns(&response, self.xmlns);
        if let Some(body) = body {
            w.open(&result);
            body(&mut w);
            w.close(&result);
        }
        w.open("ResponseMetadata")
            .elem("RequestId", &self.request_id)
            .close("ResponseMetadata")
            .close(&response);
        Reply::new(200, "text/xml", w.finish())
    }
}

/// ISO 8601 with whole seconds, as IAM prints dates.
pub(crate) fn time(t: OffsetDateTime) -> String {
    api::format_time(t)
}

/// A policy document as IAM returns it: URL-encoded (the CLI and SDKs decode it).
pub(crate) fn document(doc: &str) -> String {
    utf8_percent_encode(doc, DOCUMENT).to_string()
}

/// One page of `items` (already in listing order) after the item whose key is `marker`; the returned marker
/// is present when more items remain.
pub(crate) fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max_items: usize,
) -> (Vec<T>, Option<String>) {
    let start = match marker {
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .map_or(items.len(), |p| p + 1),
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max_items).collect();
    let next = (start + page.len() < total)
        .then(|| page.last().map(&key))
        .flatten();
    (page, next)
}

/// `<IsTruncated>` and, when truncated, `<Marker>`.
pub(crate) fn truncation(w: &mut XmlWriter, marker: Option<&str>) {
    w.elem(
        "IsTruncated",
        if marker.is_some() { "true" } else { "false" },
    );
    w.opt("Marker", marker);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_rfc3986_encoded() {
        assert_eq!(
            document(r#"{"Action": "s3:Get*", "R": "a~b_c.d-e/f"}"#),
            "%7B%22Action%22%3A%20%22s3%3AGet%2A%22%2C%20%22R%22%3A%20%22a~b_c.d-e%2Ff%22%7D"
        );
    }

    #[test]
    fn pages_continue_after_the_marker() {
        let items = vec!["a", "b", "c", "d", "e"];
        let (p, m) = page(items.clone(), |s| s.to_string(), None, 2);
        assert_eq!((p, m.as_deref()), (vec!["a", "b"], Some("b")));
        let (p, m) = page(items.clone(), |s| s.to_string(), Some("b"), 2);
        assert_eq!((p, m.as_deref()), (vec!["c", "d"], Some("d")));
        let (p, m) = page(items, |s| s.to_string(), Some("d"), 2);
        assert_eq!((p, m), (vec!["e"], None));
    }

    #[test]
    fn envelopes_name_the_operation() {
        let r = Out::new("urn:x", "DeleteUser", "rid").empty();
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "<DeleteUserResponse xmlns=\"urn:x\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
             </DeleteUserResponse>"
        );
        let r = Out::new("urn:x", "GetUser", "rid").result(|w| {
            w.elem("A", "1");
        });
        assert!(
            String::from_utf8_lossy(&r.body).contains("<GetUserResult><A>1</A></GetUserResult>")
        );
    }
}
