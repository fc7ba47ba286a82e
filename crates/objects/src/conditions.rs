//! Conditional reads: If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since with
//! S3's (RFC 9110's) precedence.

use time::OffsetDateTime;

use crate::model::{ObjectInfo, ReadConditions};
use crate::ObjectError;

/// Whether an `If-Match`/`If-None-Match` list (comma-separated, quoted or not, `*` for any)
/// names `etag`.
pub(crate) fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
        candidate == "*" || candidate.trim_matches('"') == etag
    })
}

/// HTTP dates have whole seconds; compare at that precision.
fn seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

impl ReadConditions {
    /// Evaluates the conditions for GET/HEAD:
    /// 1. `If-Match` false → 412; when present, `If-Unmodified-Since` is ignored.
    /// 2. else `If-Unmodified-Since` false → 412.
    /// 3. `If-None-Match` matching → 304; when present, `If-Modified-Since` is ignored.
    /// 4. else `If-Modified-Since` not modified → 304.
    pub fn check(&self, info: &ObjectInfo) -> Result<(), ObjectError> {
        let modified = seconds(info.last_modified);
        match &self.if_match {
            Some(list) if !etag_matches(list, &info.etag) => {
                return Err(ObjectError::PreconditionFailed)
            }
            Some(_) => {}
            None => {
                if self
                    .if_unmodified_since
                    .is_some_and(|t| modified > seconds(t))
                {
                    return Err(ObjectError::PreconditionFailed);
                }
            }
        }
        match &self.if_none_match {
            Some(list) if etag_matches(list, &info.etag) => return Err(ObjectError::NotModified),
            Some(_) => {}
            None => {
                if self
                    .if_modified_since
                    .is_some_and(|t| modified <= seconds(t))
                {
                    return Err(ObjectError::NotModified);
                }
            }
        }
        Ok(())
    }

    /// The same for `x-amz-copy-source-if-*`, where every failure is 412.
    pub fn check_copy_source(&self, info: &ObjectInfo) -> Result<(), ObjectError> {
        match self.check(info) {
            Err(ObjectError::NotModified) => Err(ObjectError::PreconditionFailed),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("abc", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
