//! The http-get workload: unsigned GETs of any URL with extra headers, e.g. an object of a distribution through
//! coffer's edge or through another cache, so web servers are measured with the same client as the APIs.

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::{BenchArgs, RequestPath, RequestShape, Target};

/// A `--header` argument, `Name: value`.
fn header(line: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = line
        .split_once(':')
        .with_context(|| format!("--header {line:?} is not `Name: value`"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("--header {line:?}: not a header name"))?;
    let value = HeaderValue::from_str(value.trim())
        .with_context(|| format!("--header {line:?}: not a header value"))?;
    Ok((name, value))
}

/// The `--url`'s scheme and authority, unsigned, with the `Host` of the `--header`s if one is given (so one
/// address serves many virtual hosts, as an edge picks the distribution by `Host`).
pub(super) fn target(url: &str, headers: &[String], region: &str) -> anyhow::Result<Target> {
    let uri: http::Uri = url.parse().context("--url is not a URL")?;
    if uri.scheme_str() != Some("http") {
        bail!("--url must be http:// (coffer bench speaks plain HTTP only)");
    }
    let mut target = Target::new(url, None, region).context("--url")?;
    for line in headers {
        let (name, value) = header(line)?;
        if name == http::header::HOST {
            target.host = value.to_str().context("--header Host")?.to_owned();
        }
    }
    Ok(target)
}

/// A GET of the `--url`'s path and query with the `--header`s but `Host` (which the target sends).
pub(super) fn get(args: &BenchArgs) -> anyhow::Result<RequestShape> {
    let url = args.url.as_deref().context("http-get needs --url")?;
    let uri: http::Uri = url.parse().context("--url is not a URL")?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut headers = Vec::new();
    for line in &args.headers {
        let (name, value) = header(line)?;
        if name != http::header::HOST {
            headers.push((name, value));
        }
    }
    Ok(RequestShape {
        service: "",
        method: http::Method::GET,
        path: RequestPath::Fixed(path),
        headers,
        body: Bytes::new(),
        // Never used: the target has no credentials, so nothing is signed.
        payload_hash: String::new(),
        expect_len: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_name_colon_value() {
        let (n, v) = header("Host:  d1.cloudfront.localhost ").unwrap();
        assert_eq!(
            (n.as_str(), v.to_str().unwrap()),
            ("host", "d1.cloudfront.localhost")
        );
        let (n, v) = header("Accept-Encoding: gzip, br").unwrap();
        assert_eq!(
            (n.as_str(), v.to_str().unwrap()),
            ("accept-encoding", "gzip, br")
        );
        assert!(header("no colon").is_err());
        assert!(header("bad name: x").is_err());
        assert!(header("X: a\nb").is_err());
    }

    #[test]
    fn gets_are_unsigned_and_carry_the_host_header() {
        let args = crate::bench::tests::parse_url(&[
            "http-get",
            "--url",
            "http://127.0.0.1:8080/a/b.txt?v=1",
            "--header",
            "Host: d1.cloudfront.localhost",
            "--header",
            "X-Test: 1",
        ])
        .unwrap();
        let edge = target(args.url.as_deref().unwrap(), &args.headers, "us-east-1").unwrap();
        let req = edge.request(&get(&args).unwrap(), 0).unwrap();
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(req.uri().to_string(), "http://127.0.0.1:8080/a/b.txt?v=1");
        assert_eq!(req.headers()["host"], "d1.cloudfront.localhost");
        assert_eq!(req.headers().get_all("host").iter().count(), 1);
        assert_eq!(req.headers()["x-test"], "1");
        assert!(!req.headers().contains_key("authorization"));

        let plain = target("http://127.0.0.1:8080/", &[], "us-east-1").unwrap();
        assert_eq!(plain.host, "127.0.0.1:8080");
        assert!(target("https://127.0.0.1:8443/", &[], "us-east-1").is_err());
    }
}
