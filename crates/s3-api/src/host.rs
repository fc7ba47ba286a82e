//! Virtual-hosted-style addressing: which `Host` names carry a bucket. Anything else is path style.

use s3s::host::{S3Host, VirtualHost};
use s3s::S3Result;

/// Recognises `<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`,
/// `<bucket>.s3-<region>.amazonaws.com`, `<bucket>.s3.localhost` and `<bucket>.<base>` for each configured
/// base domain. Ports are ignored.
pub(crate) struct Hosts {
    bases: Vec<String>,
}

impl Hosts {
    pub(crate) fn new(extra: &[String]) -> Self {
        let mut bases: Vec<String> = vec!["s3.localhost".into()];
        for b in extra {
            let b = b.trim().trim_end_matches('.').to_ascii_lowercase();
            if !b.is_empty() && !bases.contains(&b) {
                bases.push(b);
            }
        }
        Hosts { bases }
    }

    /// `(bucket, region)` named by a host, if it is virtual-hosted style.
    pub(crate) fn split<'a>(&self, host: &'a str) -> Option<(&'a str, Option<&'a str>)> {
        let host = strip_port(host);
        if let Some(rest) = host.strip_suffix(".amazonaws.com") {
            // <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>…
            if let Some(bucket) = rest.strip_suffix(".s3") {
                return (!bucket.is_empty()).then_some((bucket, None));
            }
            let (before, region) = rest.rsplit_once('.')?;
            if let Some(bucket) = before.strip_suffix(".s3") {
                return (!bucket.is_empty() && !region.is_empty())
                    .then_some((bucket, Some(region)));
            }
            if let Some(region) = region.strip_prefix("s3-") {
                return (!before.is_empty()).then_some((before, Some(region)));
            }
            return None;
        }
        for base in &self.bases {
            if let Some(bucket) = host
                .strip_suffix(base.as_str())
                .and_then(|h| h.strip_suffix('.'))
            {
                if !bucket.is_empty() {
                    return Some((bucket, None));
                }
            }
        }
        None
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.split(host) {
            Some((bucket, region)) => {
                let vh = VirtualHost::new(host).with_bucket(bucket);
                match region {
                    Some(r) => vh.with_region(r),
                    None => vh,
                }
            }
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted_names() {
        let h = Hosts::new(&["files.example.com".into()]);
        assert_eq!(h.split("photos.s3.amazonaws.com"), Some(("photos", None)));
        assert_eq!(
            h.split("my.bucket.s3.eu-west-1.amazonaws.com:443"),
            Some(("my.bucket", Some("eu-west-1")))
        );
        assert_eq!(
            h.split("photos.s3-us-west-2.amazonaws.com"),
            Some(("photos", Some("us-west-2")))
        );
        assert_eq!(h.split("photos.s3.localhost:9000"), Some(("photos", None)));
        assert_eq!(h.split("b1.files.example.com"), Some(("b1", None)));
        assert_eq!(h.split("s3.amazonaws.com"), None);
        assert_eq!(h.split("s3.us-east-1.amazonaws.com"), None);
        assert_eq!(h.split("127.0.0.1:9000"), None);
        assert_eq!(h.split("localhost:9000"), None);
        assert_eq!(h.split("files.example.com"), None);
    }
}
