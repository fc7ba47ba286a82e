//! Shared test harness: engines on both storage stacks, keys, bodies and helpers.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use objects::{
    ChecksumAlgorithm, Config, Encryption, EncryptionDescriptor, LateChecksum, ObjectError,
    ObjectInfo, Objects, PutObject, PutOutcome, ReadConditions,
};
use zeroize::Zeroizing;

/// Runs an `async fn(Kind)` test once per storage stack.
#[macro_export]
macro_rules! both {
    ($f:ident) => {
        mod $f {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$f($crate::support::Kind::Memory).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn disk() {
                super::$f($crate::support::Kind::Disk).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Disk,
}

pub const OWNER: &str = "111122223333";
pub const OTHER: &str = "444455556666";

pub struct Harness {
    pub objects: Objects,
    pub store: meta::Store,
    pub local: Option<blob::LocalBlobStore>,
    pub blobs: Arc<dyn blob::BlobStore>,
    pub dir: Option<tempfile::TempDir>,
}

/// A small-limits config: 1 KiB segments, 4 KiB inline limit, 1 KiB minimum part size, so that
/// small test data crosses every boundary.
pub fn small_config() -> Config {
    Config {
        inline_limit: 4096,
        min_part_size: 1024,
        segment_size: envelope::SegmentSize::new(1000).unwrap(),
        ..Config::default()
    }
}

pub async fn harness(kind: Kind) -> Harness {
    harness_with(kind, small_config()).await
}

pub async fn harness_with(kind: Kind, config: Config) -> Harness {
    match kind {
        Kind::Memory => {
            let store = meta::Store::new(meta::MemoryBackend::default()).unwrap();
            let blobs = Arc::new(blob::MemoryBlobStore::with_chunk(777));
            Harness {
                objects: Objects::new(store.clone(), blobs.clone(), config),
                store,
                local: None,
                blobs,
                dir: None,
            }
        }
        Kind::Disk => {
            let dir = tempfile::tempdir().unwrap();
            let (objects, store, local) = open_disk(dir.path(), config).await;
            Harness {
                objects,
                store,
                blobs: Arc::new(local.clone()),
                local: Some(local),
                dir: Some(dir),
            }
        }
    }
}

/// Opens the on-disk stack under `dir` (`meta.redb` and `blobs/`).
pub async fn open_disk(dir: &Path, config: Config) -> (Objects, meta::Store, blob::LocalBlobStore) {
    let store = meta::Store::new(meta::RedbBackend::open(dir.join("meta.redb")).unwrap()).unwrap();
    let local = blob::LocalBlobStore::open(dir.join("blobs")).await.unwrap();
    let objects = Objects::new(store.clone(), Arc::new(local.clone()), config);
    (objects, store, local)
}

pub fn data_key() -> Zeroizing<[u8; 32]> {
    Zeroizing::new([7u8; 32])
}

pub fn enc() -> Encryption {
    Encryption {
        data_key: data_key(),
        descriptor: EncryptionDescriptor(serde_json::json!({"sse": "AES256", "wrapped": "abc"})),
    }
}

/// Deterministic pseudo-random bytes (distinct per seed).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `data` as a body stream in uneven chunks.
pub fn body(data: &[u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + Unpin + 'static {
    let chunks: Vec<Result<Bytes, Infallible>> = data
        .chunks(7001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks)
}

/// `data` as a body whose trailing `algorithm` checksum `value` becomes readable only once the
/// stream has ended (as an aws-chunked trailer does); before that the late checksum reads `None`.
pub fn trailed(
    data: &[u8],
    algorithm: ChecksumAlgorithm,
    value: &str,
) -> (
    impl Stream<Item = Result<Bytes, Infallible>> + Send + Unpin + 'static,
    LateChecksum,
) {
    use futures_util::StreamExt as _;
    let slot = Arc::new(std::sync::Mutex::new(None::<String>));
    let (at_end, value) = (slot.clone(), value.to_owned());
    let end = futures_util::stream::poll_fn(move |_| {
        *at_end.lock().unwrap() = Some(value.clone());
        std::task::Poll::<Option<Result<Bytes, Infallible>>>::Ready(None)
    });
    let late = LateChecksum::new(algorithm, move || slot.lock().unwrap().take());
    (body(data).chain(end), late)
}

pub fn put_req(bucket: &str, key: &str, len: usize) -> PutObject {
    let mut req = PutObject::new(bucket, key, OWNER, enc());
    req.content_length = Some(len as u64);
    req
}

pub async fn put(h: &Harness, bucket: &str, key: &str, data: &[u8]) -> PutOutcome {
    h.objects
        .put_object(put_req(bucket, key, data.len()), body(data))
        .await
        .unwrap()
}

pub async fn get(
    h: &Harness,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Vec<u8>, ObjectError> {
    let (_, stream) = h
        .objects
        .get_object(
            bucket,
            key,
            version,
            &ReadConditions::default(),
            None,
            |_: &ObjectInfo| Ok(data_key()),
        )
        .await?;
    stream.collect_bytes().await
}

pub async fn bucket(h: &Harness, name: &str) {
    h.objects
        .create_bucket(name, OWNER, "us-east-1")
        .await
        .unwrap();
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
