//! CloudFront's REST-XML bodies: a small reader into [`Element`] trees (quick-xml events), typed accessors with
//! CloudFront's errors (`MalformedInput`, `InvalidArgument`, `InconsistentQuantities`), the `Quantity` + `Items`
//! list shape both ways, and a writer.

use api::ApiError;
use cloudfront::Element;
use quick_xml::events::Event;

/// The deepest nesting accepted; real configurations stay far below it.
const MAX_DEPTH: usize = 32;

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("MalformedInput", format!("Invalid XML: {detail}"))
}

/// Parses a request body into its root element; `MissingBody` when it is empty.
pub(crate) fn parse(body: &[u8]) -> Result<Element, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "MissingBody",
            "This operation requires a body.",
        ));
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH || root.is_some() {
                    return Err(malformed("unexpected element"));
                }
                stack.push(Element {
                    name: local(e.name().as_ref())?,
                    ..Element::default()
                });
            }
            Event::Empty(e) => {
                let el = Element {
                    name: local(e.name().as_ref())?,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(malformed("more than one root element")),
                }
            }
            Event::End(_) => {
                let mut el = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                if !el.children.is_empty() {
                    el.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(malformed)?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(malformed)?);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c,
                    None => match r.decode().map_err(malformed)?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(malformed(format!("unknown entity &{other};"))),
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unexpected end of document"));
    }
    root.ok_or_else(|| malformed("no root element"))
}

fn local(name: &[u8]) -> Result<String, ApiError> {
    let name = std::str::from_utf8(name).map_err(malformed)?;
    Ok(name.rsplit(':').next().unwrap_or(name).to_owned())
}

/// The root element, which must be `name`.
pub(crate) fn root(body: &[u8], name: &str) -> Result<Element, ApiError> {
    let el = parse(body)?;
    if el.name != name {
        return Err(malformed(format!(
            "expected the root element {name}, found {}",
            el.name
        )));
    }
    Ok(el)
}

/// `InvalidArgument` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

/// Typed reading of an element's children.
pub(crate) trait Read {
    fn child(&self, name: &str) -> Option<&Element>;
    fn req(&self, name: &str) -> Result<&Element, ApiError>;
    fn text(&self, name: &str) -> Option<String>;
    fn req_text(&self, name: &str) -> Result<String, ApiError>;
    fn bool(&self, name: &str) -> Result<Option<bool>, ApiError>;
    fn int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError>;
    /// A `<name><Quantity>n</Quantity><Items><item>…</item></Items></name>` list's items; empty when absent.
    fn list(&self, name: &str, item: &str) -> Result<Vec<&Element>, ApiError>;
    fn strings(&self, name: &str, item: &str) -> Result<Vec<String>, ApiError>;
    /// Children not named in `known`, kept verbatim.
    fn rest(&self, known: &[&str]) -> Vec<Element>;
}

impl Read for Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn req(&self, name: &str) -> Result<&Element, ApiError> {
        self.child(name)
            .ok_or_else(|| invalid(format!("The parameter {name} is required.")))
    }

    fn text(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_owned())
    }

    fn req_text(&self, name: &str) -> Result<String, ApiError> {
        self.req(name).map(|c| c.text.trim().to_owned())
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.text(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(malformed(format!("{name} must be true or false, not {v}"))),
        }
    }

    fn int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| malformed(format!("{name} must be a number, not {v}")))
            })
            .transpose()
    }

    fn list(&self, name: &str, item: &str) -> Result<Vec<&Element>, ApiError> {
        let Some(l) = self.child(name) else {
            return Ok(Vec::new());
        };
        let quantity: usize = l
            .int("Quantity")?
            .ok_or_else(|| invalid(format!("The parameter {name}.Quantity is required.")))?;
        let items: Vec<&Element> = l
            .child("Items")
            .map(|i| i.children.iter().filter(|c| c.name == item).collect())
            .unwrap_or_default();
        if items.len() != quantity {
            return Err(ApiError::bad_request(
                "InconsistentQuantities",
                format!("The value of Quantity and the size of Items don't match for {name}."),
            ));
        }
        Ok(items)
    }

    fn strings(&self, name: &str, item: &str) -> Result<Vec<String>, ApiError> {
        Ok(self
            .list(name, item)?
            .into_iter()
            .map(|e| e.text.trim().to_owned())
            .collect())
    }

    fn rest(&self, known: &[&str]) -> Vec<Element> {
        self.children
            .iter()
            .filter(|c| !known.contains(&c.name.as_str()))
            .cloned()
            .collect()
    }
}

/// `<name>text</name>`.
pub(crate) fn leaf(name: &str, text: impl Into<String>) -> Element {
    Element {
        name: name.into(),
        text: text.into(),
        children: Vec::new(),
    }
}

/// `<name>children…</name>`.
pub(crate) fn node(name: &str, children: Vec<Element>) -> Element {
    Element {
        name: name.into(),
        text: String::new(),
        children,
    }
}

/// `<name><Quantity>n</Quantity><Items>items…</Items></name>` (no `Items` when empty, as CloudFront sends).
pub(crate) fn list(name: &str, items: Vec<Element>) -> Element {
    let mut children = vec![leaf("Quantity", items.len().to_string())];
    if !items.is_empty() {
        children.push(node("Items", items));
    }
    node(name, children)
}

/// A list of strings, each `<item>s</item>`.
pub(crate) fn string_list(name: &str, item: &str, items: &[String]) -> Element {
    list(name, items.iter().map(|s| leaf(item, s.as_str())).collect())
}

/// Pushes `<name>v</name>` when `v` is present.
pub(crate) fn opt(out: &mut Vec<Element>, name: &str, v: Option<impl ToString>) {
    if let Some(v) = v {
        out.push(leaf(name, v.to_string()));
    }
}

/// Serializes a document with CloudFront's namespace on its root.
pub(crate) fn document(root: &Element) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write(&mut out, root, Some(crate::XMLNS));
    out
}

fn write(out: &mut String, el: &Element, xmlns: Option<&str>) {
    out.push('<');
    out.push_str(&el.name);
    if let Some(ns) = xmlns {
        out.push_str(" xmlns=\"");
        out.push_str(ns);
        out.push('"');
    }
    out.push('>');
    if el.children.is_empty() {
        out.push_str(&api::xml::escape(&el.text));
    }
    for c in &el.children {
        write(out, c, None);
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

/// CloudTrail's rendering of an XML body: element names in lower camel case, leaves as strings, `Items` lists
/// as arrays.
pub(crate) fn to_json(el: &Element) -> serde_json::Value {
    if el.children.is_empty() {
        return serde_json::Value::String(el.text.trim().to_owned());
    }
    if el.name == "Items" {
        return serde_json::Value::Array(el.children.iter().map(to_json).collect());
    }
    let mut m = serde_json::Map::new();
    for c in &el.children {
        m.insert(camel(&c.name), to_json(c));
    }
    serde_json::Value::Object(m)
}

/// `DistributionConfig` → `distributionConfig`.
pub(crate) fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// CloudFront's timestamp format.
pub(crate) fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_refs_and_round_trips() {
        let el = parse(b"<?xml version=\"1.0\"?><A xmlns=\"x\"><B>a &amp; b&#33;</B><L><Quantity>2</Quantity><Items><I>1</I><I>2</I></Items></L><E/></A>").unwrap();
        assert_eq!(el.text("B").as_deref(), Some("a & b!"));
        assert_eq!(el.strings("L", "I").unwrap(), vec!["1", "2"]);
        assert!(el.child("E").is_some());
        let doc = document(&el);
        assert!(doc.contains("<B>a &amp; b!</B>"), "{doc}");
        let bad = parse(b"<A><L><Quantity>3</Quantity><Items><I>1</I></Items></L></A>").unwrap();
        assert_eq!(
            bad.list("L", "I").unwrap_err().code,
            "InconsistentQuantities"
        );
        assert_eq!(parse(b"<A><B></A>").unwrap_err().code, "MalformedInput");
        assert_eq!(parse(b"").unwrap_err().code, "MissingBody");
    }
}
