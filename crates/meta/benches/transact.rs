//! Throughput of single-key put transactions on redb, alone and with 64 concurrent callers,
//! which is where group commit shares one fsync between many transactions.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meta::{codec, Error, RedbBackend, Store};

const TABLE: &str = "bench.puts";

fn open() -> (Store, tempfile::TempDir) {
    // Under the target dir rather than /tmp, which may be a tmpfs where fsync costs nothing.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::new(RedbBackend::open(dir.path().join("bench.redb")).unwrap()).unwrap();
    (store, dir)
}

fn put(store: &Store, n: u64) {
    store
        .transact(move |txn| {
            txn.put(TABLE, codec::u64_key(n).to_vec(), vec![0u8; 100]);
            Ok::<_, Error>(())
        })
        .unwrap();
}

fn transact(c: &mut Criterion) {
    let mut group = c.benchmark_group("put_txn");
    group.throughput(Throughput::Elements(1));

    let (store, _dir) = open();
    let next = AtomicU64::new(0);
    group.bench_function("redb_1_thread", |b| {
        b.iter(|| put(&store, black_box(next.fetch_add(1, Ordering::Relaxed))));
    });

    const THREADS: u64 = 64;
    let (store, _dir) = open();
    let next = Arc::new(AtomicU64::new(0));
    group.bench_function("redb_64_threads", |b| {
        b.iter_custom(|iters| {
            // Each sample splits its iterations over 64 callers; elapsed time is wall clock, so
            // criterion's per-element figure is the aggregate throughput.
            let per_thread = iters.div_ceil(THREADS);
            let start = Instant::now();
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (s, next) = (store.clone(), Arc::clone(&next));
                    std::thread::spawn(move || {
                        for _ in 0..per_thread {
                            put(&s, next.fetch_add(1, Ordering::Relaxed));
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            let elapsed = start.elapsed();
            // Scale to the requested count when rounding up added iterations.
            elapsed.mul_f64(iters as f64 / (per_thread * THREADS) as f64)
        });
    });
    group.finish();
    let m = store.metrics();
    println!(
        "64-thread store: {} transactions in {} commits ({:.1} per commit), mean commit {:?}",
        m.transactions,
        m.commits,
        m.transactions as f64 / m.commits.max(1) as f64,
        Duration::from_secs_f64(
            m.commit_latency.sum_seconds / m.commit_latency.count.max(1) as f64
        ),
    );
}

criterion_group!(benches, transact);
criterion_main!(benches);
