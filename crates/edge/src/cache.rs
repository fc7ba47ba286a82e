//! The edge cache: foyer's hybrid cache (a memory tier and a disk tier, each bounded in bytes) holding whole
//! origin responses, with collapsed fetches — concurrent misses on one key share one origin request.
//!
//! What is stored is a [`Stored`] response with its freshness (`fresh_until`), the time it was fetched (for `Age`)
//! and the invalidation stamp of its fetch (see [`crate::state::Invalidations`]). The disk tier is not recovered
//! across restarts: stamps are meaningful only within one process.

use std::path::Path;

use anyhow::Context;
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

impl Code for Stored {
    fn encode(&self, w: &mut impl std::io::Write) -> foyer::Result<()> {
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

    fn decode(r: &mut impl std::io::Read) -> foyer::Result<Self> {
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

    fn estimated_size(&self) -> usize {
        self.weight()
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

/// The hybrid cache.
pub type Cache = HybridCache<String, Stored>;

/// Opens the cache, its disk tier under `dir` (emptied: entries from an earlier process are not reused).
pub async fn open(dir: &Path, config: &CacheConfig) -> anyhow::Result<Cache> {
    let builder = HybridCacheBuilder::new()
        .with_name("coffer-edge")
        .memory(config.memory_bytes)
        .with_weighter(|k: &String, v: &Stored| k.len() + v.weight())
        .storage();
    let builder = if config.disk_bytes > 0 {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("emptying the disk cache {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let capacity = config.disk_bytes.max(2 * BLOCK_SIZE) / BLOCK_SIZE * BLOCK_SIZE;
        let device = FsDeviceBuilder::new(dir)
            .with_capacity(capacity)
            .build()
            .context("opening the disk cache")?;
        builder
            .with_engine_config(BlockEngineConfig::new(device).with_block_size(BLOCK_SIZE))
            .with_recover_mode(RecoverMode::None)
    } else {
        builder
    };
    builder.build().await.context("building the edge cache")
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
        s.encode(&mut buf).unwrap();
        assert_eq!(Stored::decode(&mut buf.as_slice()).unwrap(), s);
        buf[0] = 9;
        assert!(Stored::decode(&mut buf.as_slice()).is_err());
        assert!(Stored::decode(&mut &buf[..10]).is_err());
    }

    /// The v1 encoding, byte for byte (docs/design/edge.md). Regenerate only with a new format version.
    #[test]
    fn golden_v1_entry() {
        let mut buf = Vec::new();
        sample().encode(&mut buf).unwrap();
        let golden = include_str!("../testdata/stored-v1.hex").trim();
        assert_eq!(hex::encode(&buf), golden);
        let decoded = Stored::decode(&mut hex::decode(golden).unwrap().as_slice()).unwrap();
        assert_eq!(decoded, sample());
    }

    #[tokio::test]
    async fn disk_tier_serves_what_memory_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(
            dir.path(),
            &CacheConfig {
                memory_bytes: 4096,
                disk_bytes: 64 * 1024 * 1024,
                max_object_bytes: 1024 * 1024,
            },
        )
        .await
        .unwrap();
        let mut big = sample();
        big.body = Bytes::from(vec![7u8; 3000]);
        cache.insert("a".into(), big.clone());
        for i in 0..8 {
            cache.insert(format!("filler{i}"), big.clone());
        }
        // Written to disk on insertion; read back from either tier.
        let mut found = None;
        for _ in 0..200 {
            if let Some(e) = cache.get(&"a".to_owned()).await.unwrap() {
                found = Some(e.value().clone());
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(found.as_ref().map(|s| s.body.len()), Some(3000));
    }
}
