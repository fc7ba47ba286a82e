//! The one normalized form of a viewer's path, and the only way to make one.
//!
//! S3 percent-decodes a request path into the object key, so `/%70rivate/a` and `/private%2Fa` are the key
//! `private/a`, and a path-normalizing origin also resolves `/public/../private/a` to it. Every decision the edge
//! makes about a path — the cache behavior, whether a signature is required, the cache key, which invalidations
//! cover it — and the path the origin is asked for must therefore be one value, made once: [`NormalizedPath`],
//! which only [`normalize_path`] constructs. Functions that decide about a path take a `&NormalizedPath`, so a raw
//! path cannot reach them by mistake.
//!
//! The rules, in order (RFC 3986 §6.2.2, widened to what S3 decodes):
//!
//! 1. the path must begin with `/`;
//! 2. every `%XX` is decoded (either case of hex), once — `%2570` is the three characters `%70`; a `%` not
//!    followed by two hex digits is refused;
//! 3. the decoded bytes must be UTF-8 (S3 keys are), with no control characters and no backslash (raw or
//!    `%5C`: some origins read it as `/`, S3 as a key character, so it would mean two objects);
//! 4. dot segments are removed and runs of `/` collapse to one, after decoding (so `%2E%2E` and `%2F` count);
//!    a trailing `/` is kept (`dir/` is its own S3 key).
//!
//! Its forms: [`NormalizedPath::as_str`] (decoded: behaviors, cache keys, invalidations),
//! [`NormalizedPath::origin_path`] (percent-encoded so S3 decodes it back to exactly this key), and
//! [`NormalizedPath::url_path`] (the spelling signed-URL policies are matched against).

use std::fmt;

/// The longest path accepted, in bytes before decoding (CloudFront's longest URL).
pub const MAX_PATH_BYTES: usize = 8192;

/// A viewer path after [`normalize_path`]: decoded, without dot segments or empty segments, starting with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedPath(String);

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// It does not begin with `/`.
    NotAbsolute,
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// A backslash, raw or `%5C`.
    Backslash,
    /// A control character (U+0000–U+001F, U+007F), decoded or raw.
    ControlCharacter,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the path does not begin with a slash",
            PathError::TooLong => "the path is too long",
            PathError::BadEscape => "the path has a % that is not followed by two hex digits",
            PathError::NotUtf8 => "the decoded path is not UTF-8",
            PathError::Backslash => "the path contains a backslash",
            PathError::ControlCharacter => "the path contains a control character",
        })
    }
}

impl std::error::Error for PathError {}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalizes a viewer's path (as received: percent-encoded, without the query). Pure; safe for any input.
pub fn normalize_path(raw: &str) -> Result<NormalizedPath, PathError> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PathError::BadEscape);
            };
            decoded.push(hi << 4 | lo);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)?;
    if decoded.contains('\\') {
        return Err(PathError::Backslash);
    }
    if decoded.chars().any(|c| c.is_ascii_control()) {
        return Err(PathError::ControlCharacter);
    }
    Ok(NormalizedPath(remove_dot_segments(&decoded)))
}

/// Dot-segment removal over decoded `/`-separated segments, dropping empty ones; `decoded` begins with `/`.
fn remove_dot_segments(decoded: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut trailing = false;
    for segment in decoded.split('/').skip(1) {
        trailing = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut path = String::with_capacity(decoded.len());
    for s in &out {
        path.push('/');
        path.push_str(s);
    }
    if trailing || out.is_empty() {
        path.push('/');
    }
    path
}

/// Appends `s` percent-encoded, keeping the bytes for which `keep` is true.
fn encode_into(out: &mut String, s: &str, keep: impl Fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

impl NormalizedPath {
    /// The decoded path: what behaviors, cache keys and invalidations are matched against.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root, `/` (where the DefaultRootObject applies).
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The path for an origin request: everything but unreserved characters and `/` percent-encoded (AWS's
    /// `UriEncode`), so that S3 decodes it to exactly [`as_str`](Self::as_str) without the leading `/`, and SigV4's
    /// canonical URI is this string as it is.
    pub fn origin_path(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 16);
        encode_into(&mut out, &self.0, |b| unreserved(b) || b == b'/');
        out
    }

    /// The path as a URL spells it with the fewest escapes (RFC 3986 `pchar`s and `/` kept, everything else —
    /// `%`, space, `?`, `#`, non-ASCII — percent-encoded): the form a custom policy's `Resource` is matched
    /// against. One object has exactly one such spelling, so no spelling of another object can match a pattern
    /// meant for this one.
    pub fn url_path(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 16);
        encode_into(&mut out, &self.0, |b| {
            unreserved(b)
                || matches!(
                    b,
                    b'/' | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                )
        });
        out
    }
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An invalidation path, normalized like a viewer's: exact, or (ending in `*`) every path with its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationPath {
    path: NormalizedPath,
    prefix: bool,
}

impl InvalidationPath {
    /// Exactly `path`: what a write through the edge invalidates.
    pub fn exact(path: NormalizedPath) -> InvalidationPath {
        InvalidationPath {
            path,
            prefix: false,
        }
    }

    /// Every path (`/*`).
    pub fn everything() -> InvalidationPath {
        InvalidationPath {
            path: NormalizedPath("/".into()),
            prefix: true,
        }
    }

    /// Whether it covers `path` (`/images/*` covers everything under `/images/`).
    pub fn covers(&self, path: &NormalizedPath) -> bool {
        if self.prefix {
            path.0.starts_with(&self.path.0)
        } else {
            path.0 == self.path.0
        }
    }
}

/// Normalizes an invalidation path as given to CreateInvalidation (percent-encoded like a URL; a final `*` is a
/// wildcard, anything before it is normalized by [`normalize_path`]'s rules). A normalized prefix can only grow
/// what it covers (`/a/..*` covers everything), never shrink it.
pub fn normalize_invalidation_path(raw: &str) -> Result<InvalidationPath, PathError> {
    match raw.strip_suffix('*') {
        Some(prefix) => Ok(InvalidationPath {
            path: normalize_path(prefix)?,
            prefix: true,
        }),
        None => Ok(InvalidationPath {
            path: normalize_path(raw)?,
            prefix: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> String {
        normalize_path(raw).unwrap().0
    }

    #[test]
    fn decodes_every_escape_once() {
        assert_eq!(n("/%70rivate/secret.txt"), "/private/secret.txt");
        assert_eq!(n("/pr%69vate/%73ecret.txt"), "/private/secret.txt");
        assert_eq!(n("/%7e%7E"), "/~~");
        assert_eq!(n("/private%2Fsecret.txt"), "/private/secret.txt");
        assert_eq!(n("/private%2fsecret.txt"), "/private/secret.txt");
        // Double encoding is decoded once, as S3 decodes it.
        assert_eq!(n("/%2570rivate"), "/%70rivate");
        assert_eq!(n("/a%20b"), "/a b");
        assert_eq!(n("/caf%C3%A9"), "/café");
        assert_eq!(n("/a+b"), "/a+b");
    }

    #[test]
    fn removes_dot_segments_and_empty_segments() {
        assert_eq!(n("/"), "/");
        assert_eq!(n("//"), "/");
        assert_eq!(n("//private/secret.txt"), "/private/secret.txt");
        assert_eq!(n("/./private/./secret.txt"), "/private/secret.txt");
        assert_eq!(n("/public/../private/secret.txt"), "/private/secret.txt");
        assert_eq!(
            n("/public/%2E%2E/private/secret.txt"),
            "/private/secret.txt"
        );
        assert_eq!(
            n("/public/%2e%2e%2fprivate/secret.txt"),
            "/private/secret.txt"
        );
        assert_eq!(n("/public/..%2Fprivate/secret.txt"), "/private/secret.txt");
        assert_eq!(n("/%2Fprivate/secret.txt"), "/private/secret.txt");
        assert_eq!(n("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/a/b/."), "/a/b/");
        assert_eq!(n("/dir/"), "/dir/");
        assert_eq!(n("/dir//"), "/dir/");
        assert_eq!(n("/.."), "/");
        // Dots that are not whole segments are names.
        assert_eq!(n("/a/..b/.c"), "/a/..b/.c");
        assert_eq!(n("/a/..."), "/a/...");
    }

    #[test]
    fn refuses_what_cannot_be_one_key() {
        for (raw, e) in [
            ("a", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("*", PathError::NotAbsolute),
            ("%2F", PathError::NotAbsolute),
            ("/a%zz", PathError::BadEscape),
            ("/a%", PathError::BadEscape),
            ("/a%4", PathError::BadEscape),
            ("/a%%41", PathError::BadEscape),
            ("/%FF.txt", PathError::NotUtf8),
            ("/a%C3%28", PathError::NotUtf8),
            ("/a%C0%AF", PathError::NotUtf8),
            ("/private%5Csecret.txt", PathError::Backslash),
            ("/private%5csecret.txt", PathError::Backslash),
            ("/private\\secret.txt", PathError::Backslash),
            ("/a%00b", PathError::ControlCharacter),
            ("/a%0d%0aSet-Cookie:x", PathError::ControlCharacter),
            ("/a%7F", PathError::ControlCharacter),
            ("/a\tb", PathError::ControlCharacter),
        ] {
            assert_eq!(normalize_path(raw), Err(e), "{raw:?}");
        }
        assert_eq!(
            normalize_path(&format!("/{}", "a".repeat(MAX_PATH_BYTES))),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn origin_path_decodes_back_to_the_key() {
        for raw in [
            "/private/secret.txt",
            "/a b/c+d/é/%25/~x/!$&'()*,;=:@",
            "/q%3Fx%23y",
            "/dir/",
        ] {
            let p = normalize_path(raw).unwrap();
            let encoded = p.origin_path();
            assert!(encoded
                .bytes()
                .all(|b| unreserved(b) || b == b'/' || b == b'%'));
            assert_eq!(normalize_path(&encoded).unwrap(), p, "{raw}");
        }
        assert_eq!(
            normalize_path("/a b+c").unwrap().origin_path(),
            "/a%20b%2Bc"
        );
    }

    #[test]
    fn url_path_is_one_spelling_per_object() {
        assert_eq!(normalize_path("/a%20b").unwrap().url_path(), "/a%20b");
        assert_eq!(normalize_path("/%61+b").unwrap().url_path(), "/a+b");
        assert_eq!(normalize_path("/a%2Bb").unwrap().url_path(), "/a+b");
        assert_eq!(normalize_path("/%2525").unwrap().url_path(), "/%2525");
        assert_eq!(normalize_path("/a%3Fb").unwrap().url_path(), "/a%3Fb");
        for raw in ["/x%2Fy", "/x/y", "/x//y", "/x/./y"] {
            assert_eq!(normalize_path(raw).unwrap().url_path(), "/x/y");
        }
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for raw in ["/a/../b/%2e/c//d/", "/%2570", "/a%20b", "/x/y/.."] {
            let once = normalize_path(raw).unwrap();
            assert_eq!(normalize_path(&once.origin_path()).unwrap(), once);
            assert_eq!(normalize_path(&once.url_path()).unwrap(), once);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_input_normalizes_or_is_refused_and_normal_forms_are_fixed_points(raw in "(/|%|[0-9a-fA-F]|\\.|a|\\\\|\\?|é| ){0,40}") {
            if let Ok(p) = normalize_path(&raw) {
                let s = p.as_str();
                proptest::prop_assert!(s.starts_with('/'));
                proptest::prop_assert!(!s.contains("//"));
                proptest::prop_assert!(!s.split('/').any(|seg| seg == "." || seg == ".."));
                proptest::prop_assert_eq!(normalize_path(&p.origin_path()).unwrap(), p.clone());
                proptest::prop_assert_eq!(normalize_path(&p.url_path()).unwrap(), p.clone());
            }
            let _ = normalize_invalidation_path(&raw);
        }
    }

    #[test]
    fn invalidation_paths() {
        let p = |s: &str| normalize_path(s).unwrap();
        let i = |s: &str| normalize_invalidation_path(s).unwrap();
        assert!(i("/*").covers(&p("/x/y")));
        assert!(i("/img/*").covers(&p("/img/a.png")));
        assert!(!i("/img/*").covers(&p("/imgx")));
        assert!(i("/img*").covers(&p("/img.png")));
        assert!(i("/img*").covers(&p("/img/a")));
        assert!(!i("/img/a").covers(&p("/img/ab")));
        assert!(i("/img/a").covers(&p("/img/a")));
        // Encoded invalidation paths cover the decoded object, and encoded viewer paths are covered.
        assert!(i("/%70ublic/readme.txt").covers(&p("/public/readme.txt")));
        assert!(i("/public/*").covers(&p("/%70ublic/readme.txt")));
        assert!(i("/a/../b/*").covers(&p("/b/c")));
        // A prefix that normalizes wider covers more, never less.
        assert!(i("/a/..*").covers(&p("/anything")));
        assert!(i("/a/.*").covers(&p("/a/b")));
        assert!(InvalidationPath::everything().covers(&p("/q")));
        assert_eq!(
            normalize_invalidation_path("/a%zz"),
            Err(PathError::BadEscape)
        );
        assert_eq!(
            normalize_invalidation_path("a*"),
            Err(PathError::NotAbsolute)
        );
    }
}
