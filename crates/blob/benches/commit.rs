//! Commit throughput of the local blob store (4 KiB blobs, 1 and 64 concurrent writers, with
//! the fsync sharing that achieves) and streaming throughput of a 256 MiB blob.
//!
//! The store lives under `BLOB_BENCH_DIR` if set, else the system temp dir: point it at the disk
//! the data directory will use, since fsync cost is the whole story here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use blob::{BlobStore, LocalBlobStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SMALL: usize = 4 * 1024;
const LARGE: usize = 256 * 1024 * 1024;

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("BLOB_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn put(store: &LocalBlobStore, data: &[u8]) {
    let mut w = store.create().await.unwrap();
    w.write(data).await.unwrap();
    w.commit().await.unwrap();
}

fn commits(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir();
    let store = rt.block_on(LocalBlobStore::open(dir.path())).unwrap();
    let data: Arc<[u8]> = vec![0x5a; SMALL].into();
    let mut group = c.benchmark_group("commit_4k");
    for writers in [1usize, 64] {
        let before = store.stats();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{writers}_writers"), |b| {
            b.iter_custom(|iters| {
                let elapsed = rt.block_on(async {
                    let started = Instant::now();
                    // `iters` commits in total, spread over `writers` concurrent tasks.
                    let tasks: Vec<_> = (0..writers as u64)
                        .map(|w| {
                            let (store, data) = (store.clone(), data.clone());
                            let n = iters / writers as u64 + u64::from(w < iters % writers as u64);
                            tokio::spawn(async move {
                                for _ in 0..n {
                                    put(&store, &data).await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    started.elapsed()
                });
                elapsed
            });
        });
        let after = store.stats();
        let commits = after.commits - before.commits;
        eprintln!(
            "  {writers} writers: {commits} commits; per commit {:.2} dir fsyncs issued, {:.2} shared",
            (after.dir_syncs - before.dir_syncs) as f64 / commits as f64,
            (after.dir_syncs_shared - before.dir_syncs_shared) as f64 / commits as f64,
        );
    }
    group.finish();
}

fn large(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir();
    let store = rt.block_on(LocalBlobStore::open(dir.path())).unwrap();
    // Written in 1 MiB pieces, as the encryption layer above would hand them over.
    let piece = vec![0xa5u8; 1024 * 1024];
    let mut group = c.benchmark_group("blob_256m");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.bench_function("write_commit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let mut w = store.create().await.unwrap();
                    for _ in 0..LARGE / piece.len() {
                        w.write(&piece).await.unwrap();
                    }
                    let id = w.commit().await.unwrap();
                    total += started.elapsed();
                    store.delete(&id).await.unwrap();
                }
                total
            })
        });
    });
    let id = rt.block_on(async {
        let mut w = store.create().await.unwrap();
        for _ in 0..LARGE / piece.len() {
            w.write(&piece).await.unwrap();
        }
        w.commit().await.unwrap()
    });
    // Freshly written, so this reads from the page cache: it measures the read path, not the
    // device.
    group.bench_function("read_cached", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut reader = store.read(&id, 0, LARGE as u64).await.unwrap();
                let mut n = 0;
                while let Some(chunk) = reader.chunk().await {
                    n += chunk.unwrap().len();
                }
                assert_eq!(n, LARGE);
            })
        });
    });
    group.finish();
}

criterion_group!(benches, commits, large);
criterion_main!(benches);
