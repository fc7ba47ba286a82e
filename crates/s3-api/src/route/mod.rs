//! The router's first word on every request: which AWS operation it is, judged by AWS's own S3 model, not by
//! what s3s knows.
//!
//! s3s routes on the subresources it knows and ignores the rest, so an operation AWS added after s3s's model
//! would fall through to another one (`DELETE /b?metadataConfiguration` ran DeleteBucket, `PUT
//! /b/k?renameObject` overwrote the object). Here the request is matched against every operation of AWS's
//! current model ([`model::OPERATIONS`], generated from botocore): a request that names an operation coffer
//! does not handle is `NotImplemented` (501) before anything runs, and the access check later refuses the
//! request unless s3s picked the same operation ([`check_same`]).
//!
//! Matching works as AWS's REST routing does: method, target (service, bucket or object), the exact set of
//! subresources of the request URI (`?acl`, `?list-type=2`…), then the required query members and headers
//! that tell apart operations sharing a URI (UploadPart from PutObject, CopyObject by `x-amz-copy-source`).
//! Plain query parameters the model does not know are ignored, as AWS ignores them — except that a
//! state-changing request (PUT, POST, DELETE) carrying a *valueless* unknown parameter, the shape of a
//! subresource, is refused too: that is what an operation AWS adds tomorrow will look like.

mod model;

use api::ApiError;
use http::{HeaderMap, Method};

/// Where a request URI points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/` (ListBuckets).
    Service,
    /// `/{Bucket}`.
    Bucket,
    /// `/{Bucket}/{Key+}`.
    Object,
    /// A fixed path (`/WriteGetObjectResponse`).
    Path(&'static str),
}

/// One operation of AWS's S3 model, as routing sees it.
#[derive(Debug)]
pub(crate) struct AwsOperation {
    pub name: &'static str,
    pub method: &'static str,
    pub target: Target,
    /// The subresources of the request URI, with their fixed value if any (`list-type` = `2`).
    pub subresources: &'static [(&'static str, Option<&'static str>)],
    /// Every query-string member of the input.
    pub query: &'static [&'static str],
    pub required_query: &'static [&'static str],
    /// Required members sent as headers (`x-amz-copy-source`), lowercase.
    pub required_headers: &'static [&'static str],
    pub deprecated: bool,
}

impl AwsOperation {
    fn takes(&self, param: &str) -> bool {
        self.query.contains(&param) || self.subresources.iter().any(|(k, _)| *k == param)
    }

    /// How specifically a request matches: the number of required members it satisfies.
    fn specificity(&self) -> usize {
        self.required_query.len() + self.required_headers.len()
    }
}

/// Query parameters of the authentication mechanisms and of the SDKs' routing hints, which no operation lists.
const PROTOCOL_PARAMS: [&str; 12] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "x-amz-security-token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
    "x-id",
];

/// Every name that appears as a subresource in some request URI of the model.
pub(crate) fn is_subresource(name: &str) -> bool {
    model::OPERATIONS
        .iter()
        .any(|op| op.subresources.iter().any(|(k, _)| *k == name))
}

/// Where a request points, from its (decoded) path and the bucket a virtual host names.
pub(crate) fn target_of(decoded_path: &str, virtual_host_bucket: bool) -> (Target, &str) {
    if virtual_host_bucket {
        return if decoded_path.trim_start_matches('/').is_empty() {
            (Target::Bucket, decoded_path)
        } else {
            (Target::Object, decoded_path)
        };
    }
    let rest = decoded_path.strip_prefix('/').unwrap_or(decoded_path);
    match rest.split_once('/') {
        None if rest.is_empty() => (Target::Service, decoded_path),
        None => (Target::Bucket, decoded_path),
        Some((_, "")) => (Target::Bucket, decoded_path),
        Some(_) => (Target::Object, decoded_path),
    }
}

fn target_matches(op: Target, request: Target, path: &str) -> bool {
    match op {
        Target::Path(p) => p == path,
        other => other == request,
    }
}

/// The query string as (name, value, had `=`), decoded.
fn params(query: &str) -> Vec<(String, String, bool)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v, eq) = match p.split_once('=') {
                Some((k, v)) => (k, v, true),
                None => (p, "", false),
            };
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v), eq)
        })
        .collect()
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

/// The AWS operation a request is, or the error S3 gives it before anything runs.
///
/// `handled` says whether coffer implements an operation: one it does not is `NotImplemented`, whatever s3s
/// would have done with the request.
pub(crate) fn resolve(
    method: &Method,
    target: Target,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    handled: impl Fn(&str) -> bool,
) -> Result<&'static AwsOperation, ApiError> {
    let params = params(query);
    let subresources: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _, _)| is_subresource(k))
        .map(|(k, v, _)| (k.as_str(), v.as_str()))
        .collect();
    let same_place: Vec<&'static AwsOperation> = model::OPERATIONS
        .iter()
        .filter(|op| op.method == method.as_str() && target_matches(op.target, target, path))
        .collect();
    if same_place.is_empty() {
        return Err(method_not_allowed());
    }
    // The request's subresources must be exactly the operation's: `?acl&tagging` is no operation.
    let by_subresource: Vec<&'static AwsOperation> = same_place
        .iter()
        .copied()
        .filter(|op| {
            op.subresources.len() == subresources.len()
                && op.subresources.iter().all(|(k, fixed)| {
                    subresources
                        .iter()
                        .any(|(rk, rv)| rk == k && fixed.is_none_or(|f| f == *rv))
                })
        })
        .collect();
    if by_subresource.is_empty() {
        if subresources.is_empty() {
            return Err(method_not_allowed());
        }
        let names: Vec<&str> = subresources.iter().map(|(k, _)| *k).collect();
        return Err(crate::error::not_implemented(&format!(
            "{} with ?{}",
            method,
            names.join("&")
        )));
    }
    let has_param = |name: &str| params.iter().any(|(k, _, _)| k == name);
    let satisfied: Vec<&'static AwsOperation> = by_subresource
        .iter()
        .copied()
        .filter(|op| {
            op.required_query.iter().all(|q| has_param(q))
                && op.required_headers.iter().all(|h| headers.contains_key(*h))
        })
        .collect();
    let best = satisfied.iter().map(|op| op.specificity()).max();
    let mut chosen: Vec<&'static AwsOperation> = satisfied
        .iter()
        .copied()
        .filter(|op| Some(op.specificity()) == best)
        .collect();
    // Operations sharing one shape (GetBucketLifecycle and GetBucketLifecycleConfiguration, ListBuckets and
    // ListDirectoryBuckets): the one coffer handles, else the current one.
    chosen.sort_by_key(|op| (!handled(op.name), op.deprecated));
    let Some(op) = chosen.first().copied() else {
        let partial = by_subresource
            .iter()
            .any(|op| op.required_query.iter().any(|q| has_param(q)));
        if subresources.is_empty() && !partial {
            // No operation lives here without parameters (POST to an object): S3's 405.
            return Err(method_not_allowed());
        }
        return Err(crate::error::invalid_request(
            "The request is missing parameters its operation requires.",
        ));
    };
    // A parameter that only another operation at this place requires (`uploadId` on a PUT without
    // `partNumber`) must not be silently dropped by running this one.
    for other in &by_subresource {
        for q in other.required_query {
            if has_param(q) && !op.takes(q) {
                return Err(crate::error::invalid_request(format!(
                    "The {q} parameter is not valid for {} without the others {} requires.",
                    op.name, other.name
                )));
            }
        }
    }
    if matches!(*method, Method::PUT | Method::POST | Method::DELETE) {
        for (k, _, eq) in &params {
            let known = op.takes(k)
                || PROTOCOL_PARAMS.contains(&k.as_str())
                || k.starts_with("x-amz-")
                || k.starts_with("X-Amz-");
            if !eq && !known {
                return Err(crate::error::not_implemented(&format!(
                    "{method} with the unknown subresource ?{k}"
                )));
            }
        }
    }
    if !handled(op.name) {
        return Err(crate::error::not_implemented(op.name));
    }
    Ok(op)
}

/// The access check's cross-check: s3s must have picked the operation the model says the request is.
pub(crate) fn check_same(expected: &str, s3s: &str) -> Result<(), ApiError> {
    if expected == s3s {
        return Ok(());
    }
    tracing::warn!(expected, s3s, "s3s routed a request to another operation");
    Err(crate::error::not_implemented(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(
        method: &str,
        path: &str,
        query: &str,
        headers: &[&str],
    ) -> Result<&'static str, String> {
        let (target, path) = target_of(path, false);
        let mut h = HeaderMap::new();
        for name in headers {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                "x".parse().unwrap(),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        resolve(&method, target, path, query, &h, |_| true)
            .map(|op| op.name)
            .map_err(|e| e.code)
    }

    #[test]
    fn the_model_is_routed_as_aws_routes_it() {
        let cases = [
            ("GET", "/", "", vec![], "ListBuckets"),
            ("PUT", "/b", "", vec![], "CreateBucket"),
            ("GET", "/b", "", vec![], "ListObjects"),
            ("GET", "/b/", "prefix=a&max-keys=3", vec![], "ListObjects"),
            ("GET", "/b", "list-type=2&prefix=x", vec![], "ListObjectsV2"),
            ("GET", "/b", "versions", vec![], "ListObjectVersions"),
            (
                "GET",
                "/b",
                "lifecycle",
                vec![],
                "GetBucketLifecycleConfiguration",
            ),
            (
                "GET",
                "/b",
                "analytics",
                vec![],
                "ListBucketAnalyticsConfigurations",
            ),
            (
                "GET",
                "/b",
                "analytics&id=a",
                vec![],
                "GetBucketAnalyticsConfiguration",
            ),
            ("POST", "/b", "delete", vec![], "DeleteObjects"),
            (
                "DELETE",
                "/b",
                "metadataConfiguration",
                vec![],
                "DeleteBucketMetadataConfiguration",
            ),
            ("GET", "/b/k", "", vec![], "GetObject"),
            (
                "GET",
                "/b/k",
                "versionId=3&partNumber=2&x=1",
                vec![],
                "GetObject",
            ),
            ("GET", "/b/k", "uploadId=u", vec![], "ListParts"),
            ("PUT", "/b/k", "", vec![], "PutObject"),
            ("PUT", "/b/k", "x-id=PutObject", vec![], "PutObject"),
            ("PUT", "/b/k", "", vec!["x-amz-copy-source"], "CopyObject"),
            (
                "PUT",
                "/b/k",
                "partNumber=1&uploadId=u",
                vec![],
                "UploadPart",
            ),
            (
                "PUT",
                "/b/k",
                "partNumber=1&uploadId=u",
                vec!["x-amz-copy-source"],
                "UploadPartCopy",
            ),
            (
                "PUT",
                "/b/k",
                "renameObject",
                vec!["x-amz-rename-source"],
                "RenameObject",
            ),
            ("POST", "/b/k", "uploads", vec![], "CreateMultipartUpload"),
            (
                "POST",
                "/b/k",
                "uploadId=u",
                vec![],
                "CompleteMultipartUpload",
            ),
            (
                "POST",
                "/b/k",
                "select&select-type=2",
                vec![],
                "SelectObjectContent",
            ),
            ("DELETE", "/b/k", "", vec![], "DeleteObject"),
            (
                "DELETE",
                "/b/k",
                "uploadId=u",
                vec![],
                "AbortMultipartUpload",
            ),
            (
                "DELETE",
                "/b/k",
                "annotation&annotationName=a",
                vec![],
                "DeleteObjectAnnotation",
            ),
        ];
        for (method, path, query, headers, want) in cases {
            assert_eq!(
                route(method, path, query, &headers),
                Ok(want),
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn what_names_no_single_operation_is_refused() {
        let cases = [
            // Two subresources, or one the method does not have.
            ("GET", "/b/k", "acl&tagging", "NotImplemented"),
            ("DELETE", "/b", "delete", "NotImplemented"),
            ("GET", "/b", "list-type=1", "NotImplemented"),
            // RenameObject without its required header is not PutObject.
            ("PUT", "/b/k", "renameObject", "InvalidRequest"),
            // A lone uploadId on a PUT is not a PutObject.
            ("PUT", "/b/k", "uploadId=u", "InvalidRequest"),
            ("PUT", "/b/k", "partNumber=2", "InvalidRequest"),
            // An operation without its required parameters is not another operation.
            ("DELETE", "/b/k", "annotation", "InvalidRequest"),
            // A valueless unknown parameter on a write is tomorrow's subresource.
            ("PUT", "/b/k", "somethingNew", "NotImplemented"),
            ("DELETE", "/b", "brandNew", "NotImplemented"),
            // No POST on a plain object, no PATCH anywhere.
            ("POST", "/b/k", "", "MethodNotAllowed"),
            ("PATCH", "/b/k", "", "MethodNotAllowed"),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(
                route(method, path, query, &[]),
                Err(want.to_owned()),
                "{method} {path}?{query}"
            );
        }
        // Reads ignore unknown parameters, as AWS does.
        assert_eq!(route("GET", "/b/k", "cachebuster", &[]), Ok("GetObject"));
    }

    #[test]
    fn unhandled_operations_are_not_implemented() {
        let (target, path) = target_of("/b/k", false);
        let e = resolve(
            &Method::PUT,
            target,
            path,
            "renameObject",
            &{
                let mut h = HeaderMap::new();
                h.insert("x-amz-rename-source", "/b/old".parse().unwrap());
                h
            },
            |name| name != "RenameObject",
        )
        .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (501, "NotImplemented"));
    }

    #[test]
    fn every_handled_operation_is_in_the_model() {
        for name in crate::service::HANDLED {
            assert!(
                model::OPERATIONS.iter().any(|op| op.name == *name),
                "{name} is not an operation of AWS's S3 model"
            );
        }
    }

    #[test]
    fn targets() {
        assert_eq!(target_of("/", false).0, Target::Service);
        assert_eq!(target_of("/b", false).0, Target::Bucket);
        assert_eq!(target_of("/b/", false).0, Target::Bucket);
        assert_eq!(target_of("/b/k/", false).0, Target::Object);
        assert_eq!(target_of("/", true).0, Target::Bucket);
        assert_eq!(target_of("/k", true).0, Target::Object);
    }
}
