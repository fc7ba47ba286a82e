//! PUT/GET throughput of the engine on RedbBackend + LocalBlobStore in a tempdir: 4 KiB objects
//! with 64 concurrent tasks (ops/s), and one 256 MiB object (MB/s).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use objects::{
    Config, Encryption, EncryptionDescriptor, ObjectInfo, Objects, PutObject, ReadConditions,
};
use zeroize::Zeroizing;

const TASKS: usize = 64;

fn enc() -> Encryption {
    Encryption {
        data_key: Zeroizing::new([7u8; 32]),
        descriptor: EncryptionDescriptor(serde_json::json!({"sse": "AES256"})),
    }
}

fn body(
    data: Bytes,
    chunk: usize,
) -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send + Unpin {
    let chunks: Vec<_> = (0..data.len().div_ceil(chunk).max(1))
        .map(|i| Ok(data.slice(i * chunk..((i + 1) * chunk).min(data.len()))))
        .collect();
    futures_util::stream::iter(chunks)
}

fn engine(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Objects {
    rt.block_on(async {
        let store =
            meta::Store::new(meta::RedbBackend::open(dir.join("meta.redb")).unwrap()).unwrap();
        let blobs = blob::LocalBlobStore::open(dir.join("blobs")).await.unwrap();
        let o = Objects::new(store, Arc::new(blobs), Config::default());
        o.create_bucket("bench", "111122223333", "us-east-1")
            .await
            .unwrap();
        o
    })
}

async fn put(o: &Objects, key: String, data: Bytes, chunk: usize) {
    let mut req = PutObject::new("bench", key, "111122223333", enc());
    req.content_length = Some(data.len() as u64);
    o.put_object(req, body(data, chunk)).await.unwrap();
}

async fn get(o: &Objects, key: &str) -> usize {
    let (_, mut s) = o
        .get_object(
            "bench",
            key,
            None,
            &ReadConditions::default(),
            None,
            |_: &ObjectInfo| Ok(Zeroizing::new([7u8; 32])),
        )
        .await
        .unwrap();
    let mut n = 0;
    while let Some(c) = futures_util::StreamExt::next(&mut s).await {
        n += c.unwrap().len();
    }
    n
}

/// Runs `iters` operations spread over 64 tasks; returns the wall time.
fn concurrent<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, op: F) -> Duration
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    rt.block_on(async {
        let start = Instant::now();
        let per = iters.div_ceil(TASKS as u64);
        let tasks: Vec<_> = (0..TASKS as u64)
            .map(|t| {
                let op = op.clone();
                tokio::spawn(async move {
                    for i in 0..per {
                        op(t * per + i).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed() * u32::try_from(iters).unwrap_or(u32::MAX)
            / u32::try_from(per * TASKS as u64).unwrap_or(u32::MAX)
    })
}

fn small(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = engine(&rt, dir.path());
    let data = Bytes::from(vec![0x5au8; 4096]);
    let mut g = c.benchmark_group("4KiB_x64");
    g.throughput(Throughput::Elements(1));
    {
        let (o, data) = (o.clone(), data.clone());
        g.bench_function("put", move |b| {
            let (o, data) = (o.clone(), data.clone());
            b.iter_custom(move |iters| {
                let (o, data) = (o.clone(), data.clone());
                concurrent(&rt_handle(), iters, move |i| {
                    let (o, data) = (o.clone(), data.clone());
                    async move { put(&o, format!("small/{}", i % 10_000), data, 4096).await }
                })
            })
        });
    }
    rt.block_on(async {
        for i in 0..1000 {
            put(&o, format!("read/{i}"), data.clone(), 4096).await;
        }
    });
    g.bench_function("get", |b| {
        b.iter_custom(|iters| {
            let o = o.clone();
            concurrent(&rt_handle(), iters, move |i| {
                let o = o.clone();
                async move {
                    assert_eq!(get(&o, &format!("read/{}", i % 1000)).await, 4096);
                }
            })
        })
    });
    g.finish();
}

/// One shared multi-thread runtime for the concurrent benchmarks.
fn rt_handle() -> Arc<tokio::runtime::Runtime> {
    use std::sync::OnceLock;
    static RT: OnceLock<Arc<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
        )
    })
    .clone()
}

fn large(c: &mut Criterion) {
    let rt = rt_handle();
    let dir = tempfile::tempdir().unwrap();
    let o = engine(&rt, dir.path());
    const SIZE: usize = 256 << 20;
    let data = Bytes::from((0..SIZE).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let mut g = c.benchmark_group("256MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("put", |b| {
        b.iter(|| rt.block_on(put(&o, "big".into(), data.clone(), 1 << 20)))
    });
    g.bench_function("get", |b| {
        b.iter(|| assert_eq!(rt.block_on(get(&o, "big")), SIZE))
    });
    g.finish();
}

criterion_group!(benches, small, large);
criterion_main!(benches);
