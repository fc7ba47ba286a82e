//! Browser form uploads (POST Object), handled here rather than by s3s, in the order that keeps an
//! unauthenticated caller from costing more than a form's fields:
//!
//! 1. the `multipart/form-data` body is parsed as a stream (`multer`), and only the fields before the file
//!    are read — bounded in count and size;
//! 2. the form's signature is verified (SigV4 `x-amz-signature` or SigV2 `signature`, constant-time), its
//!    session token checked, and its policy's expiration and conditions applied to every field;
//! 3. the upload is authorized through [`crate::access::decide`] like a PutObject, with `s3:authType` =
//!    `POST` and the condition keys of the *form fields* — the request's HTTP headers decide nothing
//!    (they are not signed): encryption, tags, ACL, metadata and checksums come only from the fields;
//! 4. only then is the file read, streamed into the engine in constant memory, with the policy's
//!    `content-length-range` enforced as it flows (a file outside it never becomes visible).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use api::{ApiBody, ApiError, Arrival};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response};
use http_body_util::BodyExt;

use crate::access::identify::{caller_of_key, settle, Identified};
use crate::front::{error_response, Shared};
use crate::state::{RequestState, SignedBy};

/// Fields before the file, at most.
pub(crate) const MAX_FIELDS: usize = 100;
/// Bytes of all fields before the file together (the policy document is at most 20 KiB of them).
pub(crate) const MAX_FIELDS_BYTES: u64 = 64 * 1024;
/// The largest file one form may upload: S3's single-PUT limit.
pub(crate) const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("MalformedPOSTRequest", message)
}

fn invalid_argument(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

fn too_large() -> ApiError {
    ApiError::bad_request(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
    )
}

fn too_small() -> ApiError {
    ApiError::bad_request(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
    )
}

fn policy_error(e: &sigv4::PostPolicyError) -> ApiError {
    let status = if e.code() == "AccessDenied" { 403 } else { 400 };
    ApiError::new(status, e.code(), e.to_string())
}

fn multer_error(e: multer::Error) -> ApiError {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("file")) =>
        {
            too_large()
        }
        multer::Error::StreamSizeExceeded { .. } => too_large(),
        multer::Error::FieldSizeExceeded { .. } => {
            malformed("A form field before the file is larger than allowed.")
        }
        _ => malformed("The body of your POST request is not well-formed multipart/form-data."),
    }
}

/// Serves one browser form upload to `bucket`.
pub(crate) async fn post_object(
    shared: &Shared,
    parts: http::request::Parts,
    body: ApiBody,
    arrival: Arrival,
    bucket: String,
) -> Response<ApiBody> {
    let request_id = arrival.request_id.clone();
    let state = RequestState::new(arrival.clone(), None, "PostObject");
    state.lock().record.operation = "PostObject".into();
    let result = upload(shared, &state, &parts, body, &arrival, &bucket).await;
    let (mut response, status, error) = match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (resp, status, None)
        }
        Err(e) => (error_response(&e, &request_id), e.status, Some(e)),
    };
    if let Some(origin) = parts.headers.get(http::header::ORIGIN) {
        crate::cors::decorate(
            shared,
            &state,
            origin,
            &parts.method,
            response.headers_mut(),
        );
    }
    if let Err(unrecorded) = crate::audit::finish(shared, &state, status, error).await {
        // Nothing is answered without its audit record.
        response = error_response(&unrecorded, &request_id);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", v);
    }
    response
}

/// The form's fields before the file (lowercase names, in order) and the file part itself.
type Form<'r> = (Vec<(String, String)>, multer::Field<'r>);

async fn read_fields(form: &mut multer::Multipart<'static>) -> Result<Form<'static>, ApiError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut total = 0u64;
    loop {
        let Some(field) = form.next_field().await.map_err(multer_error)? else {
            return Err(invalid_argument(
                "POST requires exactly one file upload per request.",
            ));
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            return Ok((fields, field));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(malformed(format!(
                "A form may carry at most {MAX_FIELDS} fields before the file."
            )));
        }
        let value = field.text().await.map_err(multer_error)?;
        total += (name.len() + value.len()) as u64;
        if total > MAX_FIELDS_BYTES {
            return Err(malformed(format!(
                "The form fields before the file exceed {MAX_FIELDS_BYTES} bytes."
            )));
        }
        if fields.iter().any(|(n, _)| *n == name) {
            return Err(invalid_argument(format!(
                "The form field {name} appears more than once."
            )));
        }
        fields.push((name, value));
    }
}

async fn upload(
    shared: &Shared,
    state: &RequestState,
    parts: &http::request::Parts,
    body: ApiBody,
    arrival: &Arrival,
    bucket_name: &str,
) -> Result<Response<ApiBody>, ApiError> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| malformed("The multipart/form-data Content-Type has no boundary."))?;
    let limits = multer::SizeLimit::new()
        .per_field(MAX_FIELDS_BYTES)
        .for_field("file", MAX_FILE_BYTES)
        .whole_stream(MAX_FILE_BYTES + MAX_FIELDS_BYTES + 64 * 1024);
    let mut form = multer::Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let (fields, file) = read_fields(&mut form).await?;
    let filename = file.file_name().unwrap_or_default().to_owned();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };

    // Who signed the form, and what its policy allows.
    let now = arrival.time;
    let (who, policy) = authenticate(shared, &fields, now)?;
    let range = match &policy {
        Some(p) => p
            .check(&fields, bucket_name, now)
            .map_err(|e| policy_error(&e))?,
        None => None,
    };

    let key_template = field("key").ok_or_else(|| {
        invalid_argument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
    })?;
    let key = key_template.replace("${filename}", &filename);
    if key.is_empty() {
        return Err(invalid_argument(
            "The key of a POST upload must not be empty.",
        ));
    }
    let headers = headers_of(&fields)?;
    settle(state, arrival, who, &headers, None);
    {
        let mut s = state.lock();
        s.record.request_parameters =
            crate::access::object::put_params(bucket_name, &key, &headers);
    }

    // Authorized as a PutObject of these fields, through the one authorization function.
    let needs = crate::access::object::put_needs(bucket_name, &key, &headers);
    let mut decision = crate::access::decide(shared, state, &needs, false)?;
    let bucket = decision
        .buckets
        .remove(bucket_name)
        .ok_or_else(|| ApiError::internal("the POST bucket was not loaded"))?;
    {
        let mut s = state.lock();
        s.record.resources = decision.resources;
        s.bucket = Some(bucket.clone());
    }
    let _proof = decision.proof;

    // Only now is the file read.
    let (min, max) = range.unwrap_or((0, MAX_FILE_BYTES));
    let verdict = Arc::new(Mutex::new(None));
    let body = Bounded {
        inner: file,
        seen: 0,
        min,
        max: max.min(MAX_FILE_BYTES),
        verdict: verdict.clone(),
        done: false,
    };
    let ctx = state.ctx()?;
    let user_metadata: std::collections::HashMap<String, String> = fields
        .iter()
        .filter_map(|(n, v)| {
            n.strip_prefix("x-amz-meta-")
                .map(|m| (m.to_owned(), v.clone()))
        })
        .collect();
    let write = crate::objects::Write {
        bucket: &bucket,
        key: &key,
        headers: &headers,
        user_metadata: Some(&user_metadata),
        content_length: None,
        content_md5: field("content-md5").map(str::to_owned),
        late_checksum: None,
    };
    let stored = crate::objects::store(shared, &ctx, write, body).await;
    let (out, sse) = match stored {
        Ok(x) => x,
        Err(e) => {
            let limit = verdict.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Err(limit.unwrap_or(e));
        }
    };
    respond(parts, &headers, bucket_name, &key, &out, &sse)
}

/// Verifies the form's signature: SigV4 (`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
/// `x-amz-signature`), SigV2 (`AWSAccessKeyId`, `signature`), or none (an anonymous upload, which then needs a
/// bucket policy that allows it). A signed form must carry a policy; an unsigned one must not claim a
/// signer.
fn authenticate(
    shared: &Shared,
    fields: &[(String, String)],
    now: time::OffsetDateTime,
) -> Result<(Identified, Option<sigv4::PostPolicy>), ApiError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let policy_field = field("policy");
    let token = field("x-amz-security-token");
    if let Some(signature) = field("x-amz-signature") {
        if field("signature").is_some() || field("awsaccesskeyid").is_some() {
            return Err(invalid_argument(
                "Only one auth mechanism allowed; a form carries either a SigV4 or a SigV2 signature.",
            ));
        }
        if field("x-amz-algorithm") != Some(sigv4::ALGORITHM) {
            return Err(invalid_argument(
                "x-amz-algorithm must be AWS4-HMAC-SHA256.",
            ));
        }
        let credential = field("x-amz-credential").ok_or_else(|| {
            invalid_argument("Bucket POST must contain a field named 'x-amz-credential'.")
        })?;
        let date = field("x-amz-date")
            .and_then(sigv4::parse_amz_date)
            .ok_or_else(|| {
                invalid_argument("Bucket POST must contain a valid 'x-amz-date' field.")
            })?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, day, region, service, "aws4_request"] = scope[..] else {
            return Err(invalid_argument("x-amz-credential is malformed."));
        };
        if service != "s3" || access_key.is_empty() || region.is_empty() {
            return Err(invalid_argument(
                "x-amz-credential must name the s3 service.",
            ));
        }
        if sigv4::format_amz_date(date).get(..8) != Some(day) {
            return Err(invalid_argument(
                "The credential's date is not the date of x-amz-date.",
            ));
        }
        if date - now > sigv4::MAX_SKEW {
            return Err(ApiError::new(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            ));
        }
        let policy_b64 = policy_field
            .ok_or_else(|| invalid_argument("Bucket POST must contain a field named 'policy'."))?;
        let secret = secret_of(shared, access_key)?;
        let key = sigv4::signing_key(&secret, day, region, service);
        if !sigv4::signatures_match(&sigv4::post_signature_v4(&key, policy_b64), signature) {
            return Err(signature_mismatch());
        }
        let policy = sigv4::PostPolicy::parse(policy_b64).map_err(|e| policy_error(&e))?;
        let caller = caller_of_key(shared, access_key, token, now)?;
        return Ok((
            Identified {
                caller,
                signed_by: SignedBy::Post,
                signature_version: "AWS4-HMAC-SHA256",
                region: Some(region.to_owned()),
                signed_at: Some(date),
            },
            Some(policy),
        ));
    }
    if let Some(signature) = field("signature") {
        let access_key = field("awsaccesskeyid").ok_or_else(|| {
            invalid_argument("Bucket POST must contain a field named 'AWSAccessKeyId'.  If it is specified, please check the order of the fields.")
        })?;
        let policy_b64 = policy_field
            .ok_or_else(|| invalid_argument("Bucket POST must contain a field named 'policy'."))?;
        let secret = secret_of(shared, access_key)?;
        if !sigv4::signatures_match(&sigv4::signature_v2(&secret, policy_b64), signature) {
            return Err(signature_mismatch());
        }
        let policy = sigv4::PostPolicy::parse(policy_b64).map_err(|e| policy_error(&e))?;
        let caller = caller_of_key(shared, access_key, token, now)?;
        return Ok((
            Identified {
                caller,
                signed_by: SignedBy::Post,
                signature_version: "AWS",
                region: None,
                signed_at: None,
            },
            Some(policy),
        ));
    }
    for signer_field in [
        "policy",
        "awsaccesskeyid",
        "x-amz-credential",
        "x-amz-security-token",
    ] {
        if field(signer_field).is_some() {
            return Err(invalid_argument(format!(
                "Bucket POST with a '{signer_field}' field must be signed (x-amz-signature or signature)."
            )));
        }
    }
    Ok((
        Identified {
            caller: iam::Caller::anonymous(),
            signed_by: SignedBy::Anonymous,
            signature_version: "AWS4-HMAC-SHA256",
            region: None,
            signed_at: None,
        },
        None,
    ))
}

fn secret_of(shared: &Shared, access_key: &str) -> Result<String, ApiError> {
    match shared.core.iam().authenticate(access_key) {
        Ok(Some(c)) if c.active => Ok(c.secret.to_string()),
        Ok(_) => Err(api::AuthFailure::UnknownKey.to_api_error("s3")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

fn signature_mismatch() -> ApiError {
    ApiError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// The form fields that describe the object, as the headers a PutObject would carry: the same checks and
/// condition keys then apply. Authentication and response fields are left out.
fn headers_of(fields: &[(String, String)]) -> Result<HeaderMap, ApiError> {
    const OBJECT_FIELDS: [&str; 7] = [
        "content-type",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
        "content-md5",
    ];
    const AUTH_FIELDS: [&str; 5] = [
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-signature",
        "x-amz-security-token",
    ];
    let mut h = HeaderMap::new();
    let mut put = |name: &str, value: &str| -> Result<(), ApiError> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid_argument(format!("The form field {name} is not a valid name.")))?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            invalid_argument(format!("The form field {name} has an invalid value."))
        })?;
        h.insert(n, v);
        Ok(())
    };
    for (name, value) in fields {
        let name = name.as_str();
        if OBJECT_FIELDS.contains(&name)
            || (name.starts_with("x-amz-") && !AUTH_FIELDS.contains(&name))
        {
            put(name, value)?;
        } else if name == "acl" {
            put("x-amz-acl", value)?;
        } else if name == "tagging" {
            put("x-amz-tagging", &tagging_query(value)?)?;
        } else if matches!(
            name,
            "success_action_status" | "success_action_redirect" | "redirect"
        ) {
            // Kept under a name no object header has, for the response.
            put(&format!("x-coffer-post-{name}"), value)?;
        }
    }
    Ok(h)
}

/// The `tagging` field (`<Tagging><TagSet><Tag><Key>…`) as `x-amz-tagging`'s `k=v&…` form.
fn tagging_query(xml: &str) -> Result<String, ApiError> {
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging = <s3s::dto::Tagging as s3s::xml::Deserialize>::deserialize(&mut d)
        .and_then(|t| d.expect_eof().map(|()| t))
        .map_err(|_| crate::error::malformed_xml())?;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    Ok(tagging
        .tag_set
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                enc(t.key.as_deref().unwrap_or_default()),
                enc(t.value.as_deref().unwrap_or_default())
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// S3's answer to a stored form: a 303 to `success_action_redirect`, or `success_action_status` (200, 201
/// with a `PostResponse` document, or the default 204).
fn respond(
    parts: &http::request::Parts,
    fields: &HeaderMap,
    bucket: &str,
    key: &str,
    out: &objects::PutOutcome,
    sse: &crate::objects::SseOut,
) -> Result<Response<ApiBody>, ApiError> {
    let get = |n: &str| fields.get(n).and_then(|v| v.to_str().ok());
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let location = format!("http://{host}/{bucket}/{}", enc(key));
    let etag = format!("\"{}\"", out.etag.trim_matches('"'));
    let empty = || {
        http_body_util::Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync()
    };
    let mut resp = Response::new(empty());
    let redirect = get("x-coffer-post-success_action_redirect").or(get("x-coffer-post-redirect"));
    let mut redirected = false;
    match (redirect, get("x-coffer-post-success_action_status")) {
        (Some(url), _) if url.starts_with("http://") || url.starts_with("https://") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            let target = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                enc(bucket),
                enc(key),
                enc(&etag)
            );
            *resp.status_mut() = http::StatusCode::SEE_OTHER;
            if let Ok(v) = HeaderValue::from_str(&target) {
                resp.headers_mut().insert(http::header::LOCATION, v);
                redirected = true;
            }
        }
        (_, Some("200")) => *resp.status_mut() = http::StatusCode::OK,
        (_, Some("201")) => {
            let xml = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            };
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                xml(&location),
                xml(bucket),
                xml(key),
                xml(&etag)
            );
            resp = Response::new(
                http_body_util::Full::new(Bytes::from(doc))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            );
            *resp.status_mut() = http::StatusCode::CREATED;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
        }
        _ => *resp.status_mut() = http::StatusCode::NO_CONTENT,
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(http::header::ETAG, v);
    }
    if !redirected {
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(http::header::LOCATION, v);
        }
    }
    if out.version_id != objects::NULL_VERSION {
        if let Ok(v) = HeaderValue::from_str(&out.version_id) {
            h.insert("x-amz-version-id", v);
        }
    }
    if let Some(a) = &sse.algorithm {
        if let Ok(v) = HeaderValue::from_str(a.as_str()) {
            h.insert("x-amz-server-side-encryption", v);
        }
    }
    if let Some(k) = sse
        .kms_key_id
        .as_deref()
        .and_then(|k| HeaderValue::from_str(k).ok())
    {
        h.insert("x-amz-server-side-encryption-aws-kms-key-id", k);
    }
    if sse.bucket_key_enabled == Some(true) {
        h.insert(
            "x-amz-server-side-encryption-bucket-key-enabled",
            HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}

/// The file part as the engine's body, held to the policy's `content-length-range`: a file that grows past
/// the maximum, or ends below the minimum, ends the stream with an error, so the engine never makes it
/// visible; `verdict` says which limit it was.
struct Bounded<S> {
    inner: S,
    seen: u64,
    min: u64,
    max: u64,
    verdict: Arc<Mutex<Option<ApiError>>>,
    done: bool,
}

impl<S> futures_core::Stream for Bounded<S>
where
    S: futures_core::Stream<Item = Result<Bytes, multer::Error>> + Unpin,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let fail = |this: &mut Self, e: ApiError| {
            this.done = true;
            *this.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            Poll::Ready(Some(Err(Box::new(std::io::Error::other(
                "the file is outside the form's content-length-range",
            ))
                as Box<dyn std::error::Error + Send + Sync>)))
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.max {
                    return fail(this, too_large());
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let err = multer_error(e);
                fail(this, err)
            }
            Poll::Ready(None) => {
                if this.seen < this.min {
                    return fail(this, too_small());
                }
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

/// Whether a POST form names a bucket and nothing else (`POST /bucket`, or `/` on a bucket's virtual host).
pub(crate) fn form_bucket(decoded_path: &str, virtual_host_bucket: Option<&str>) -> Option<String> {
    match virtual_host_bucket {
        Some(b) => decoded_path
            .trim_start_matches('/')
            .is_empty()
            .then(|| b.to_owned()),
        None => {
            let rest = decoded_path.strip_prefix('/')?;
            let bucket = rest.strip_suffix('/').unwrap_or(rest);
            (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_owned())
        }
    }
}
