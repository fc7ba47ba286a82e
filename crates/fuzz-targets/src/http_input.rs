//! Turns fuzzer bytes into an HTTP request head the way a server's parser would hand it over: a request line
//! (`METHOD target`), header lines (`name: value`), a blank line, then the body. Bytes the `http` crate would
//! refuse (as hyper refuses them on the wire) end the input early, so the targets see only requests a real
//! server could receive.

/// The request head and body encoded in `data`, or `None` if no server would have parsed it.
pub fn request_from_bytes(data: &[u8]) -> Option<(http::request::Parts, &[u8])> {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &data[data.len()..]), |i| {
            (&data[..i], &data[i + 2..])
        });
    let (head, body) = split;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let request_line = lines.next()?;
    let request_line = request_line
        .strip_suffix(" HTTP/1.1")
        .or_else(|| request_line.strip_suffix(" HTTP/1.0"))
        .unwrap_or(request_line);
    let (method, target) = request_line.split_once(' ')?;
    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines.take(64) {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim_start());
    }
    let request = builder.body(()).ok()?;
    Some((request.into_parts().0, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips() {
        let (parts, body) =
            request_from_bytes(b"PUT /b/k?acl HTTP/1.1\nhost: example\nx-amz-date: 1\n\nbody")
                .unwrap();
        assert_eq!(parts.method, http::Method::PUT);
        assert_eq!(parts.uri.query(), Some("acl"));
        assert_eq!(parts.headers["host"], "example");
        assert_eq!(body, b"body");
        assert!(request_from_bytes(b"\xff\xfe").is_none());
    }
}
