//! Checking a parsed signature against the secret: clock rules, unsigned headers, then the HMAC itself.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::{constant_time, digest, hmac};
use time::{Duration, OffsetDateTime};

use crate::canonical::{
    self, string_to_sign_bytes, write_canonical_request, PathForm, QueryFilter, RequestView,
    UriMode,
};
use crate::{AuthKind, Error, ParsedAuth};

/// How far a header-signed request's time may be from ours, either way (AWS: 15 minutes).
pub const MAX_SKEW: Duration = Duration::minutes(15);

/// Cached signing keys before the cache is simply emptied. Keys are per (secret, day, region,
/// service), so even a busy server has few live ones; clearing avoids LRU bookkeeping.
const CACHE_CAPACITY: usize = 1024;

/// Verifies SigV4 requests, remembering derived signing keys.
///
/// Deriving a signing key costs four HMACs; the cache turns that into one SHA-256 and a map
/// lookup. Cheap to share: put it in an `Arc` or a `static`.
#[derive(Debug, Default)]
pub struct Verifier {
    /// `None` disables caching. Keyed by SHA-256 over (secret, date, region, service) so the
    /// map never holds a secret and distinct inputs cannot collide in practice.
    cache: Option<Mutex<HashMap<[u8; 32], hmac::Key>>>,
    allow_unsigned_session_token: bool,
}

impl Verifier {
    /// A verifier with a signing-key cache.
    pub fn new() -> Self {
        Verifier {
            cache: Some(Mutex::new(HashMap::new())),
            allow_unsigned_session_token: false,
        }
    }

    /// A verifier that derives the signing key on every call.
    pub fn without_cache() -> Self {
        Verifier {
            cache: None,
            allow_unsigned_session_token: false,
        }
    }

    /// Accept `X-Amz-Security-Token` added after signing (unsigned header, or absent from the
    /// presigned canonical query), as AWS IoT clients do. Off by default: everywhere else AWS
    /// rejects unsigned `x-amz-*` headers, and so do we.
    pub fn allow_unsigned_session_token(mut self, allow: bool) -> Self {
        self.allow_unsigned_session_token = allow;
        self
    }

    /// The raw signing key for a scope (for [`crate::ChunkVerifier`]); four HMACs, not cached.
    pub fn signing_key(
        &self,
        secret_access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        canonical::signing_key(secret_access_key, date, region, service)
    }

    /// The prepared HMAC key for a scope. Caching the prepared key (not just its bytes) also
    /// saves the two pad-block compressions HMAC setup costs on every signature.
    fn hmac_key(
        &self,
        secret_access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> hmac::Key {
        let derive = || {
            hmac::Key::new(
                hmac::HMAC_SHA256,
                &canonical::signing_key(secret_access_key, date, region, service),
            )
        };
        let Some(cache) = &self.cache else {
            return derive();
        };
        let mut ctx = digest::Context::new(&digest::SHA256);
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        for part in [secret_access_key, date, region, service] {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part.as_bytes());
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.finish().as_ref());
        // A poisoned lock only means another thread panicked around a plain insert.
        if let Some(key) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return key.clone();
        }
        let key = derive();
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(id, key.clone());
        key
    }

    /// Verifies `auth` (from [`crate::parse`]) against the request and the caller's secret.
    ///
    /// `payload_hash` is what goes last in the canonical request: the hex SHA-256 of the body,
    /// or the declared `UNSIGNED-PAYLOAD` / `STREAMING-…` value. `now` is the server's clock.
    /// The caller checks that the scope's region and service are its own.
    pub fn verify(
        &self,
        parts: &http::request::Parts,
        auth: &ParsedAuth,
        secret_access_key: &str,
        payload_hash: &str,
        mode: UriMode,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        check_time(auth, now)?;
        self.check_unsigned_amz_headers(&parts.headers, auth)?;

        let view = RequestView::from_parts(parts);
        let key = self.hmac_key(secret_access_key, &auth.date, &auth.region, &auth.service);
        let amz_date = auth.amz_date();
        let scope = auth.credential_scope();
        let presigned = auth.is_presigned();
        let filter = if presigned {
            QueryFilter::PRESIGNED
        } else {
            QueryFilter::HEADER
        };

        let mut cr = Vec::with_capacity(1024);
        let mut attempt =
            |path_form: PathForm, filter: QueryFilter| -> Result<(), (Vec<u8>, String)> {
                cr.clear();
                write_canonical_request(
                    &mut cr,
                    &view,
                    &auth.signed_headers,
                    payload_hash,
                    path_form,
                    filter,
                );
                let sts = string_to_sign_bytes(&amz_date, &scope, &cr);
                let computed = hex::encode(hmac::sign(&key, sts.as_bytes()).as_ref());
                match constant_time::verify_slices_are_equal(
                    computed.as_bytes(),
                    auth.signature.as_bytes(),
                ) {
                    Ok(()) => Ok(()),
                    Err(_) => Err((cr.clone(), sts)),
                }
            };
        // The form every conforming client signs; fallbacks are only tried after a mismatch,
        // so they cost nothing on the hot path.
        let Err((first_cr, first_sts)) = attempt(PathForm::Mode(mode), filter) else {
            return Ok(());
        };
        for (path_form, filter) in fallbacks(
            &view,
            mode,
            filter,
            self.allow_unsigned_session_token && presigned,
        ) {
            if attempt(path_form, filter).is_ok() {
                return Ok(());
            }
        }
        Err(Error::mismatch(
            String::from_utf8_lossy(&first_cr).into_owned(),
            first_sts,
            &auth.signature,
        ))
    }

    fn check_unsigned_amz_headers(
        &self,
        headers: &http::HeaderMap,
        auth: &ParsedAuth,
    ) -> Result<(), Error> {
        for name in headers.keys() {
            let name = name.as_str();
            if name.starts_with("x-amz-")
                && !auth.signed_headers.iter().any(|s| s == name)
                && !(self.allow_unsigned_session_token && name == "x-amz-security-token")
            {
                return Err(Error::UnsignedAmzHeader {
                    header: name.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Other canonical forms a legitimate client may have signed, after the primary one failed.
fn fallbacks(
    view: &RequestView<'_>,
    mode: UriMode,
    filter: QueryFilter,
    token_may_be_unsigned: bool,
) -> Vec<(PathForm, QueryFilter)> {
    let mut paths = vec![PathForm::Mode(mode)];
    // SDKs sign an S3 path exactly as they put it on the wire; when that differs from our
    // decode-and-re-encode form (e.g. `%2F` inside a key), accept the verbatim form too.
    // Both forms name the same key, so this widens nothing an attacker could use.
    if mode == UriMode::S3
        && !view.path.is_empty()
        && canonical::canonical_uri(view.path, mode) != view.path
    {
        paths.push(PathForm::Verbatim);
    }
    let mut filters = vec![filter];
    if token_may_be_unsigned {
        filters.push(QueryFilter {
            drop_session_token: true,
            ..filter
        });
    }
    let mut out = Vec::with_capacity(paths.len() * filters.len());
    for f in &filters {
        for p in &paths {
            out.push((*p, *f));
        }
    }
    // The primary form was already tried.
    out.remove(0);
    out
}

/// The clock rules: ±15 minutes for header auth; for presigned URLs, not before
/// `X-Amz-Date - 15 min` and not after `X-Amz-Date + X-Amz-Expires`.
fn check_time(auth: &ParsedAuth, now: OffsetDateTime) -> Result<(), Error> {
    match auth.kind {
        AuthKind::Header => {
            if (auth.request_time - now).abs() > MAX_SKEW {
                return Err(Error::RequestTimeTooSkewed {
                    request_time: auth.request_time,
                    server_time: now,
                });
            }
        }
        AuthKind::Presigned { expires_secs } => {
            if auth.request_time - now > MAX_SKEW {
                return Err(Error::RequestNotYetValid);
            }
            let lifetime = Duration::seconds(i64::try_from(expires_secs).unwrap_or(i64::MAX));
            let expires = auth.request_time.saturating_add(lifetime);
            if now > expires {
                return Err(Error::RequestExpired {
                    expires,
                    server_time: now,
                });
            }
        }
    }
    Ok(())
}

/// [`Verifier::verify`] without a cache, for one-off checks.
pub fn verify(
    parts: &http::request::Parts,
    auth: &ParsedAuth,
    secret_access_key: &str,
    payload_hash: &str,
    mode: UriMode,
    now: OffsetDateTime,
) -> Result<(), Error> {
    Verifier::without_cache().verify(parts, auth, secret_access_key, payload_hash, mode, now)
}

#[cfg(test)]
mod tests {
    #[test]
    fn verifier_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Verifier>();
    }
}
