//! The edge cache: foyer's hybrid cache (a memory tier and a disk tier, each bounded in bytes) holding whole
//! origin responses, with collapsed fetches — concurrent misses on one key share one origin request.
//!
//! What is stored is a [`Stored`] response with its freshness (`fresh_until`), the time it was fetched (for `Age`)
//! and the invalidation stamp of its fetch (see [`crate::state::Invalidations`]).
//!
//! Nothing reaches the disk tier in plaintext (the guide's invariant 1): every entry is sealed with AES-256-GCM
//! (aws-lc-rs) under a key made at random when the process starts and kept only in memory. A value is sealed
//! with its cache key as associated data, so entries cannot be swapped; the cache key itself (a path, and the
//! query strings, headers and cookies a cache policy names) is sealed too. Entries read back from disk stay
//! sealed until a lookup for their key opens them; one that does not open (another process's key, altered bytes)
//! is a miss and is removed. The disk tier is emptied on start anyway: stamps are meaningful only within one
//! process. Its directory is owner-only (0700, files 0600).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use bytes::Bytes;
use foyer::{
    BlockEngineConfig, Code, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder,
    RecoverMode,
};
use http::header::{HeaderName, HeaderValue};

/// The disk tier's block size: the largest object it can hold.
const BLOCK_SIZE: usize = 16 * 1024 * 1024;

/// One cached origin response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    /// Origin headers kept for viewers (hop-by-hop headers and Content-Length removed).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Unix milliseconds when the origin answered.
    pub stored_at_ms: i64,
    /// Unix milliseconds until which it may be served without asking the origin.
    pub fresh_until_ms: i64,
    /// The invalidation stamp taken when the fetch began.
    pub stamp: u64,
    /// `Content-Encoding` this variant was compressed with at the edge (`br`, `gzip`), if any.
    pub encoded: Option<String>,
}

impl Stored {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }

    pub fn is_fresh(&self, now_ms: i64) -> bool {
        now_ms < self.fresh_until_ms
    }

    /// How much memory it takes, for the memory tier's weigher.
    pub fn weight(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>()
            + 96
    }
}

/// Version 1 of the on-disk encoding: little-endian integers, length-prefixed byte strings.
const FORMAT: u8 = 1;

fn put_bytes(w: &mut impl std::io::Write, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u32).to_le_bytes())?;
    w.write_all(b)
}

fn get_bytes(r: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut out = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut out)?;
    Ok(out)
}

fn get_u64(r: &mut impl std::io::Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn invalid(what: &str) -> foyer::Error {
    foyer::Error::io_error(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what.to_owned(),
    ))
}

impl Stored {
    /// The version 1 encoding: the plaintext inside a sealed disk entry.
    fn encode_v1(&self, w: &mut impl std::io::Write) -> foyer::Result<()> {
        let io = |r: std::io::Result<()>| r.map_err(foyer::Error::io_error);
        io(w.write_all(&[FORMAT]))?;
        io(w.write_all(&self.status.to_le_bytes()))?;
        io(w.write_all(&self.stored_at_ms.to_le_bytes()))?;
        io(w.write_all(&self.fresh_until_ms.to_le_bytes()))?;
        io(w.write_all(&self.stamp.to_le_bytes()))?;
        io(put_bytes(
            w,
            self.encoded.as_deref().unwrap_or("").as_bytes(),
        ))?;
        io(w.write_all(&(self.headers.len() as u32).to_le_bytes()))?;
        for (n, v) in &self.headers {
            io(put_bytes(w, n.as_str().as_bytes()))?;
            io(put_bytes(w, v.as_bytes()))?;
        }
        io(put_bytes(w, &self.body))
    }

    fn decode_v1(r: &mut impl std::io::Read) -> foyer::Result<Self> {
        let io = foyer::Error::io_error;
        let mut head = [0u8; 3];
        r.read_exact(&mut head).map_err(io)?;
        if head[0] != FORMAT {
            return Err(invalid("unknown cache entry format"));
        }
        let status = u16::from_le_bytes([head[1], head[2]]);
        let stored_at_ms = get_u64(r).map_err(io)? as i64;
        let fresh_until_ms = get_u64(r).map_err(io)? as i64;
        let stamp = get_u64(r).map_err(io)?;
        let encoded = String::from_utf8(get_bytes(r).map_err(io)?)
            .map_err(|_| invalid("encoding is not UTF-8"))?;
        let mut count = [0u8; 4];
        r.read_exact(&mut count).map_err(io)?;
        let count = u32::from_le_bytes(count) as usize;
        let mut headers = Vec::with_capacity(count.min(256));
        for _ in 0..count {
            let n = HeaderName::from_bytes(&get_bytes(r).map_err(io)?)
                .map_err(|_| invalid("not a header name"))?;
            let v = HeaderValue::from_maybe_shared(Bytes::from(get_bytes(r).map_err(io)?))
                .map_err(|_| invalid("not a header value"))?;
            headers.push((n, v));
        }
        let body = Bytes::from(get_bytes(r).map_err(io)?);
        Ok(Stored {
            status,
            headers,
            body,
            stored_at_ms,
            fresh_until_ms,
            stamp,
            encoded: (!encoded.is_empty()).then_some(encoded),
        })
    }
}

/// The sealed formats' version byte (version 1 was the plaintext entry, which is never written any more).
const SEALED: u8 = 2;
const KEY_AAD: &[u8] = b"coffer-edge-cache/2 key";
const VALUE_AAD: &[u8] = b"coffer-edge-cache/2 value\0";

/// This process's cache key: random, never written anywhere.
fn process_key() -> &'static LessSafeKey {
    static KEY: OnceLock<LessSafeKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut bytes = zeroize::Zeroizing::new(crypto::random_array::<32>());
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes.as_ref()).expect("a 32-byte AES-256 key"),
        );
        zeroize::Zeroize::zeroize(&mut *bytes);
        key
    })
}

/// `version ‖ nonce ‖ AES-256-GCM(plaintext) ‖ tag`, sealed in place.
fn seal_bytes(aad: &[u8], mut plaintext: Vec<u8>) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = crypto::random_array();
    process_key()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut plaintext,
        )
        .expect("sealing an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len());
    out.push(SEALED);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&plaintext);
    out
}

/// Opens what [`seal_bytes`] made in this process with the same associated data.
fn open_bytes(aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() || sealed[0] != SEALED {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).ok()?;
    let mut body = sealed[1 + NONCE_LEN..].to_vec();
    let len = process_key()
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .ok()?
        .len();
    body.truncate(len);
    Some(body)
}

fn value_aad(key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(VALUE_AAD.len() + key.len());
    aad.extend_from_slice(VALUE_AAD);
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// A cache key (see [`crate::policy::CacheKey`]), sealed on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryKey(String);

impl Code for EntryKey {
    fn encode(&self, w: &mut impl Write) -> foyer::Result<()> {
        w.write_all(&seal_bytes(KEY_AAD, self.0.as_bytes().to_vec()))
            .map_err(foyer::Error::io_error)
    }

    fn decode(r: &mut impl Read) -> foyer::Result<Self> {
        let mut sealed = Vec::new();
        r.read_to_end(&mut sealed).map_err(foyer::Error::io_error)?;
        let plain =
            open_bytes(KEY_AAD, &sealed).ok_or_else(|| invalid("a cache key does not open"))?;
        String::from_utf8(plain)
            .map(EntryKey)
            .map_err(|_| invalid("a cache key is not UTF-8"))
    }

    fn estimated_size(&self) -> usize {
        self.0.len() + 1 + NONCE_LEN + 16
    }
}

/// A cache value: open in memory, or as read back from disk, sealed until a lookup for its key opens it.
#[derive(Debug, Clone)]
pub enum Entry {
    Open { key: Arc<str>, stored: Arc<Stored> },
    Sealed(Bytes),
}

impl Entry {
    fn weight(&self) -> usize {
        match self {
            Entry::Open { key, stored } => key.len() + stored.weight(),
            Entry::Sealed(b) => b.len(),
        }
    }
}

impl Code for Entry {
    fn encode(&self, w: &mut impl Write) -> foyer::Result<()> {
        let sealed = match self {
            Entry::Open { key, stored } => {
                let mut plain = Vec::with_capacity(stored.weight());
                stored.encode_v1(&mut plain)?;
                seal_bytes(&value_aad(key), plain)
            }
            Entry::Sealed(b) => b.to_vec(),
        };
        w.write_all(&sealed).map_err(foyer::Error::io_error)
    }

    fn decode(r: &mut impl Read) -> foyer::Result<Self> {
        let mut sealed = Vec::new();
        r.read_to_end(&mut sealed).map_err(foyer::Error::io_error)?;
        Ok(Entry::Sealed(Bytes::from(sealed)))
    }

    fn estimated_size(&self) -> usize {
        self.weight() + 1 + NONCE_LEN + 16
    }
}

/// Cache sizes.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub memory_bytes: usize,
    /// 0 turns the disk tier off.
    pub disk_bytes: usize,
    /// The largest response body kept; larger ones are streamed through.
    pub max_object_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * 1024 * 1024,
            disk_bytes: 1024 * 1024 * 1024,
            max_object_bytes: BLOCK_SIZE - 64 * 1024,
        }
    }
}

/// The hybrid cache, by cache key.
pub struct Cache {
    inner: HybridCache<EntryKey, Entry>,
}

impl Cache {
    /// The entry for `key`, opening it when it came back sealed from disk (and dropping it when it does not open).
    pub async fn get(&self, key: &str) -> Option<Arc<Stored>> {
        let k = EntryKey(key.to_owned());
        let found = match self.inner.get(&k).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::debug!("edge cache read failed, treated as a miss: {e}");
                self.inner.remove(&k);
                return None;
            }
        };
        self.opened(k, found.value())
    }

    fn opened(&self, k: EntryKey, entry: &Entry) -> Option<Arc<Stored>> {
        match entry {
            Entry::Open { stored, .. } => Some(stored.clone()),
            Entry::Sealed(sealed) => {
                let stored = open_bytes(&value_aad(&k.0), sealed)
                    .and_then(|plain| Stored::decode_v1(&mut plain.as_slice()).ok())
                    .map(Arc::new);
                match &stored {
                    // Kept open in memory from now on.
                    Some(s) => {
                        self.inner.insert(
                            k.clone(),
                            Entry::Open {
                                key: Arc::from(k.0.as_str()),
                                stored: s.clone(),
                            },
                        );
                    }
                    None => {
                        tracing::debug!("a disk cache entry does not open; treated as a miss");
                        self.inner.remove(&k);
                    }
                }
                stored
            }
        }
    }

    /// The entry for `key`, or the one `fetch` makes — one fetch however many callers wait. Errors are foyer's,
    /// carrying the fetch's own error (downcast it).
    pub async fn get_or_fetch<F, E>(&self, key: &str, fetch: F) -> foyer::Result<Arc<Stored>>
    where
        F: std::future::Future<Output = Result<Stored, E>> + Send + 'static,
        E: Into<anyhow::Error>,
    {
        let k = EntryKey(key.to_owned());
        let shared: Arc<str> = Arc::from(key);
        let entry = self
            .inner
            .get_or_fetch(&k, move || async move {
                fetch.await.map(|stored| Entry::Open {
                    key: shared,
                    stored: Arc::new(stored),
                })
            })
            .await?;
        self.opened(k, entry.value()).ok_or_else(|| {
            foyer::Error::io_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a disk cache entry does not open",
            ))
        })
    }

    #[cfg(test)]
    pub fn insert(&self, key: &str, stored: Stored) {
        self.inner.insert(
            EntryKey(key.to_owned()),
            Entry::Open {
                key: Arc::from(key),
                stored: Arc::new(stored),
            },
        );
    }

    pub fn remove(&self, key: &str) {
        self.inner.remove(&EntryKey(key.to_owned()));
    }
}

/// Creates `dir` owner-only (0700), and makes it so if it exists.
pub(crate) fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} owner-only", dir.display()))
}

/// Makes every file in `dir` owner-only (0600).
fn private_files(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} owner-only", path.display()))?;
        }
    }
    Ok(())
}

/// Opens the cache, its disk tier under `dir` (emptied: entries from an earlier process are not reused, and could
/// not be opened).
pub async fn open(dir: &Path, config: &CacheConfig) -> anyhow::Result<Cache> {
    let builder = HybridCacheBuilder::new()
        .with_name("coffer-edge")
        .memory(config.memory_bytes)
        .with_weighter(|k: &EntryKey, v: &Entry| k.0.len() + v.weight())
        .storage();
    let builder = if config.disk_bytes > 0 {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("emptying the disk cache {}", dir.display()))?;
        }
        private_dir(dir)?;
        let capacity = config.disk_bytes.max(2 * BLOCK_SIZE) / BLOCK_SIZE * BLOCK_SIZE;
        let device = FsDeviceBuilder::new(dir)
            .with_capacity(capacity)
            .build()
            .context("opening the disk cache")?;
        // foyer creates its files up front with the process's umask; they hold only sealed entries, and are
        // made owner-only before anything is written.
        private_files(dir)?;
        builder
            .with_engine_config(BlockEngineConfig::new(device).with_block_size(BLOCK_SIZE))
            .with_recover_mode(RecoverMode::None)
    } else {
        builder
    };
    let inner = builder.build().await.context("building the edge cache")?;
    if config.disk_bytes > 0 {
        private_files(dir)?;
    }
    Ok(Cache { inner })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stored {
        Stored {
            status: 200,
            headers: vec![
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain"),
                ),
                (http::header::ETAG, HeaderValue::from_static("\"abc\"")),
            ],
            body: Bytes::from_static(b"hello"),
            stored_at_ms: 1_700_000_000_000,
            fresh_until_ms: 1_700_000_086_400,
            stamp: 7,
            encoded: Some("br".into()),
        }
    }

    #[test]
    fn encoding_round_trips() {
        let s = sample();
        let mut buf = Vec::new();
        s.encode_v1(&mut buf).unwrap();
        assert_eq!(Stored::decode_v1(&mut buf.as_slice()).unwrap(), s);
        buf[0] = 9;
        assert!(Stored::decode_v1(&mut buf.as_slice()).is_err());
        assert!(Stored::decode_v1(&mut &buf[..10]).is_err());
    }

    /// The v1 encoding (the plaintext inside a sealed entry), byte for byte (docs/design/edge.md). Regenerate
    /// only with a new format version.
    #[test]
    fn golden_v1_entry() {
        let mut buf = Vec::new();
        sample().encode_v1(&mut buf).unwrap();
        let golden = include_str!("../testdata/stored-v1.hex").trim();
        assert_eq!(hex::encode(&buf), golden);
        let decoded = Stored::decode_v1(&mut hex::decode(golden).unwrap().as_slice()).unwrap();
        assert_eq!(decoded, sample());
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn entries_are_sealed_and_bound_to_their_key() {
        let key = "E1\u{1}/invoices/customer-42.pdf\u{1}";
        let mut stored = sample();
        stored.body = Bytes::from_static(b"PLAINTEXT BODY");
        let entry = Entry::Open {
            key: Arc::from(key),
            stored: Arc::new(stored.clone()),
        };
        let mut disk = Vec::new();
        entry.encode(&mut disk).unwrap();
        assert_eq!(disk[0], SEALED);
        assert!(!contains(&disk, b"PLAINTEXT BODY") && !contains(&disk, b"text/plain"));
        let mut key_disk = Vec::new();
        EntryKey(key.into()).encode(&mut key_disk).unwrap();
        assert!(!contains(&key_disk, b"customer-42"));
        assert_eq!(
            EntryKey::decode(&mut key_disk.as_slice()).unwrap(),
            EntryKey(key.into())
        );

        let Entry::Sealed(sealed) = Entry::decode(&mut disk.as_slice()).unwrap() else {
            panic!("read back sealed");
        };
        let opened = open_bytes(&value_aad(key), &sealed).unwrap();
        assert_eq!(Stored::decode_v1(&mut opened.as_slice()).unwrap(), stored);
        // Under another key (a swapped entry), altered, or of another version: it does not open.
        assert!(open_bytes(&value_aad("E1\u{1}/other\u{1}"), &sealed).is_none());
        let mut altered = sealed.to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(open_bytes(&value_aad(key), &altered).is_none());
        let mut v1 = sealed.to_vec();
        v1[0] = 1;
        assert!(open_bytes(&value_aad(key), &v1).is_none());
        assert!(open_bytes(&value_aad(key), &[SEALED; 10]).is_none());
        let mut garbage = vec![SEALED];
        garbage.extend_from_slice(&[0u8; 64]);
        assert!(EntryKey::decode(&mut garbage.as_slice()).is_err());
    }

    fn small_disk() -> CacheConfig {
        CacheConfig {
            memory_bytes: 4096,
            disk_bytes: 64 * 1024 * 1024,
            max_object_bytes: 1024 * 1024,
        }
    }

    #[tokio::test]
    async fn disk_tier_serves_what_memory_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path(), &small_disk()).await.unwrap();
        let mut big = sample();
        big.body = Bytes::from(vec![7u8; 3000]);
        cache.insert("a", big.clone());
        for i in 0..8 {
            cache.insert(&format!("filler{i}"), big.clone());
        }
        // Written to disk on insertion; read back (and opened) from either tier.
        let mut found = None;
        for _ in 0..200 {
            if let Some(e) = cache.get("a").await {
                found = Some(e);
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(found.as_ref().map(|s| s.body.len()), Some(3000));
    }

    #[tokio::test]
    async fn the_disk_tier_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let _cache = open(&cache_dir, &small_disk()).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache_dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&cache_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty());
        for f in files {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
}
