//! The behaviour every backend must show through the Store, written once.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use meta::{codec, Error, Range, Store};

use crate::support::{self, keys, park_committer, put, submit_now, TestError, KEYS, USERS};

pub fn put_get_delete(store: &Store) {
    assert_eq!(store.get(USERS, b"alice").unwrap(), None);
    put(store, USERS, b"alice", b"1");
    assert_eq!(store.get(USERS, b"alice").unwrap(), Some(b"1".to_vec()));
    put(store, USERS, b"alice", b"2");
    assert_eq!(store.get(USERS, b"alice").unwrap(), Some(b"2".to_vec()));
    // Same key, other table: tables are separate namespaces.
    assert_eq!(store.get(KEYS, b"alice").unwrap(), None);
    store
        .transact(|txn| {
            txn.delete(USERS, b"alice".to_vec());
            txn.delete(USERS, b"never-existed".to_vec());
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(store.get(USERS, b"alice").unwrap(), None);
    // Empty keys and values are legal bytes like any other.
    put(store, USERS, b"", b"");
    assert_eq!(store.get(USERS, b"").unwrap(), Some(Vec::new()));
}

pub fn unwritten_tables_read_empty(store: &Store) {
    assert_eq!(store.get("no.such.table", b"k").unwrap(), None);
    assert!(store
        .scan("no.such.table", Range::all())
        .unwrap()
        .is_empty());
    let seen = store
        .transact(|txn| txn.scan("no.such.table", Range::all().rev()))
        .unwrap();
    assert!(seen.is_empty());
}

fn seed_listing(store: &Store) {
    store
        .transact(|txn| {
            for k in ["a/1", "a/2", "a/3", "a/10", "b/1", "b/2", "a", "c", "a0"] {
                txn.put(USERS, k, format!("v:{k}"));
            }
            txn.put(USERS, b"a/\xff".to_vec(), b"hi".to_vec());
            Ok::<_, Error>(())
        })
        .unwrap();
}

pub fn scans_are_ordered_and_paginate(store: &Store) {
    seed_listing(store);
    let all = store.scan(USERS, Range::all()).unwrap();
    let expect: Vec<&[u8]> = vec![
        b"a", b"a/1", b"a/10", b"a/2", b"a/3", b"a/\xff", b"a0", b"b/1", b"b/2", b"c",
    ];
    assert_eq!(keys(&all), expect);
    assert_eq!(all[0].1, b"v:a");

    let prefix = store.scan_prefix(USERS, b"a/", None, 100).unwrap();
    assert_eq!(
        keys(&prefix),
        vec![&b"a/1"[..], b"a/10", b"a/2", b"a/3", b"a/\xff"]
    );

    // Pagination: two pages of two, then the rest, then nothing.
    let p1 = store.scan_prefix(USERS, b"a/", None, 2).unwrap();
    assert_eq!(keys(&p1), vec![&b"a/1"[..], b"a/10"]);
    let p2 = store.scan_prefix(USERS, b"a/", Some(&p1[1].0), 2).unwrap();
    assert_eq!(keys(&p2), vec![&b"a/2"[..], b"a/3"]);
    let p3 = store.scan_prefix(USERS, b"a/", Some(&p2[1].0), 2).unwrap();
    assert_eq!(keys(&p3), vec![&b"a/\xff"[..]]);
    assert!(store
        .scan_prefix(USERS, b"a/", Some(&p3[0].0), 2)
        .unwrap()
        .is_empty());
    // A cursor before the prefix cannot widen it; one past it yields nothing.
    assert_eq!(
        store.scan_prefix(USERS, b"a/", Some(b"0"), 1).unwrap(),
        p1[..1]
    );
    assert!(store
        .scan_prefix(USERS, b"a/", Some(b"zzz"), 9)
        .unwrap()
        .is_empty());
    assert!(store.scan_prefix(USERS, b"a/", None, 0).unwrap().is_empty());

    // Reverse: greatest keys first, limit keeps the greatest, `before` pages backwards.
    let rev = store.scan(USERS, Range::prefix(b"b/").rev()).unwrap();
    assert_eq!(keys(&rev), vec![&b"b/2"[..], b"b/1"]);
    let last2 = store.scan(USERS, Range::all().rev().limit(2)).unwrap();
    assert_eq!(keys(&last2), vec![&b"c"[..], b"b/2"]);
    let back = store
        .scan(USERS, Range::prefix(b"a/").before(b"a/2").rev().limit(5))
        .unwrap();
    assert_eq!(keys(&back), vec![&b"a/10"[..], b"a/1"]);

    // Explicit bounds, inclusive and exclusive.
    use std::ops::Bound::{Excluded, Included};
    let mid = store
        .scan(
            USERS,
            Range::new(Included(b"a/2".to_vec()), Excluded(b"b/2".to_vec())),
        )
        .unwrap();
    assert_eq!(
        keys(&mid),
        vec![&b"a/2"[..], b"a/3", b"a/\xff", b"a0", b"b/1"]
    );
    let inverted = Range::new(Included(b"b".to_vec()), Included(b"a".to_vec()));
    assert!(store.scan(USERS, inverted).unwrap().is_empty());

    // Scans through a transaction agree with scans of committed state when it writes nothing.
    let via_txn = store
        .transact(|txn| txn.scan_prefix(USERS, b"a/", Some(b"a/10"), 2))
        .unwrap();
    assert_eq!(keys(&via_txn), vec![&b"a/2"[..], b"a/3"]);
}

pub fn txn_reads_its_own_writes(store: &Store) {
    seed_listing(store);
    let (got, scanned, limited, reversed) = store
        .transact(|txn| {
            txn.put(USERS, b"a/2".to_vec(), b"new".to_vec());
            txn.put(USERS, b"a/25".to_vec(), b"ins".to_vec());
            txn.delete(USERS, b"a/1".to_vec());
            txn.delete(USERS, b"a/10".to_vec());
            let got = (txn.get(USERS, b"a/2")?, txn.get(USERS, b"a/1")?);
            let scanned = txn.scan_prefix(USERS, b"a/", None, 100)?;
            // Two deletions hide the first two committed keys; the limit must still be filled.
            let limited = txn.scan_prefix(USERS, b"a/", None, 2)?;
            let reversed = txn.scan(USERS, Range::prefix(b"a/").rev().limit(3))?;
            // A deleted committed key must not use up the limit.
            txn.delete(USERS, b"b/1".to_vec());
            let b_page = txn.scan_prefix(USERS, b"b/", None, 1)?;
            assert_eq!(keys(&b_page), vec![&b"b/2"[..]]);
            Ok::<_, Error>((got, scanned, limited, reversed))
        })
        .unwrap();
    assert_eq!(got, (Some(b"new".to_vec()), None));
    assert_eq!(
        keys(&scanned),
        vec![&b"a/2"[..], b"a/25", b"a/3", b"a/\xff"]
    );
    assert_eq!(scanned[0].1, b"new");
    assert_eq!(keys(&limited), vec![&b"a/2"[..], b"a/25"]);
    assert_eq!(keys(&reversed), vec![&b"a/\xff"[..], b"a/3", b"a/25"]);
    // And the committed state now matches what the transaction saw.
    assert_eq!(store.scan_prefix(USERS, b"a/", None, 100).unwrap(), scanned);
}

pub fn err_rolls_back(store: &Store) {
    put(store, USERS, b"keep", b"old");
    let r: Result<(), TestError> = store.transact(|txn| {
        txn.put(USERS, b"keep".to_vec(), b"new".to_vec());
        txn.put(USERS, b"fresh".to_vec(), b"x".to_vec());
        txn.delete(USERS, b"keep".to_vec());
        Err(TestError::Abort)
    });
    assert!(matches!(r, Err(TestError::Abort)));
    assert_eq!(store.get(USERS, b"keep").unwrap(), Some(b"old".to_vec()));
    assert_eq!(store.get(USERS, b"fresh").unwrap(), None);
    let m = store.metrics();
    assert_eq!(m.aborted_transactions, 1);
}

pub fn multi_table_batch_is_atomic(store: &Store) {
    // Creating a user and its access key is one unit: both or neither.
    store
        .transact(|txn| {
            txn.put(USERS, b"bob".to_vec(), b"user".to_vec());
            txn.put(KEYS, b"AKIA1".to_vec(), b"bob".to_vec());
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(store.get(USERS, b"bob").unwrap(), Some(b"user".to_vec()));
    assert_eq!(store.get(KEYS, b"AKIA1").unwrap(), Some(b"bob".to_vec()));

    let r: Result<(), TestError> = store.transact(|txn| {
        txn.delete(USERS, b"bob".to_vec());
        txn.put(KEYS, b"AKIA2".to_vec(), b"carol".to_vec());
        // The failure comes after writes to both tables.
        match txn.get(USERS, b"carol")? {
            Some(_) => Ok(()),
            None => Err(TestError::Abort),
        }
    });
    assert!(matches!(r, Err(TestError::Abort)));
    assert_eq!(store.get(USERS, b"bob").unwrap(), Some(b"user".to_vec()));
    assert_eq!(store.get(KEYS, b"AKIA2").unwrap(), None);

    // A failing backend commit applies nothing in any table and fails every caller.
    let backend = support::FlakyBackend::default();
    let failing = Arc::clone(&backend.failing);
    let flaky = Store::new(backend).unwrap();
    failing.store(true, Ordering::SeqCst);
    let r = flaky.transact(|txn| {
        txn.put(USERS, b"u".to_vec(), b"1".to_vec());
        txn.put(KEYS, b"k".to_vec(), b"1".to_vec());
        Ok::<_, Error>(())
    });
    assert!(matches!(r, Err(Error::Commit(_))), "{r:?}");
    assert_eq!(flaky.get(USERS, b"u").unwrap(), None);
    assert_eq!(flaky.get(KEYS, b"k").unwrap(), None);
    assert_eq!(flaky.metrics().commit_failures, 1);
    failing.store(false, Ordering::SeqCst);
    put(&flaky, USERS, b"u", b"2");
    assert_eq!(flaky.get(USERS, b"u").unwrap(), Some(b"2".to_vec()));
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct User {
    name: String,
    keys: Vec<String>,
}

pub fn json_values_round_trip(store: &Store) {
    let alice = User {
        name: "alice".into(),
        keys: vec!["AKIA1".into()],
    };
    let stored = store
        .transact(move |txn| {
            txn.put_json(USERS, codec::u64_key(7), &alice)?;
            txn.get_json::<User>(USERS, &codec::u64_key(7))
        })
        .unwrap();
    let read: User = store.get_json(USERS, &codec::u64_key(7)).unwrap().unwrap();
    assert_eq!(stored.as_ref(), Some(&read));
    let raw = store.get(USERS, &codec::u64_key(7)).unwrap().unwrap();
    assert_eq!(raw[0], codec::FORMAT_JSON_V1);
    assert_eq!(
        store.get_json::<User>(USERS, &codec::u64_key(8)).unwrap(),
        None
    );
    put(store, USERS, &codec::u64_key(9), b"\x07junk");
    assert!(matches!(
        store.get_json::<User>(USERS, &codec::u64_key(9)),
        Err(Error::UnknownFormat(7))
    ));
}

pub fn panicking_closure_fails_only_its_caller(store: &Store) {
    // Silence the expected panic's message; restore the hook afterwards.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (release, parked) = park_committer(store);
    let ok_before = submit_now({
        let s = store.clone();
        async move {
            s.transact_async(|txn| {
                txn.put(USERS, b"before".to_vec(), b"1".to_vec());
                Ok::<_, Error>(())
            })
            .await
        }
    });
    let boom = submit_now({
        let s = store.clone();
        async move {
            s.transact_async(|txn| -> Result<(), Error> {
                txn.put(USERS, b"boom".to_vec(), b"1".to_vec());
                panic!("closure bug");
            })
            .await
        }
    });
    let ok_after = submit_now({
        let s = store.clone();
        async move {
            s.transact_async(|txn| {
                // The panicked transaction's write must be invisible to later ones in the group.
                let seen = txn.get(USERS, b"boom")?;
                txn.put(USERS, b"after".to_vec(), b"1".to_vec());
                Ok::<_, Error>(seen)
            })
            .await
        }
    });
    release.send(()).unwrap();
    parked.join().unwrap();
    let rt = runtime();
    let boom = rt.block_on(boom);
    std::panic::set_hook(hook);
    assert!(
        matches!(&boom, Err(Error::Panicked(m)) if m.contains("closure bug")),
        "{boom:?}"
    );
    rt.block_on(ok_before).unwrap();
    assert_eq!(rt.block_on(ok_after).unwrap(), None);
    assert_eq!(store.get(USERS, b"boom").unwrap(), None);
    assert_eq!(store.get(USERS, b"before").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(USERS, b"after").unwrap(), Some(b"1".to_vec()));
    // The committer survived and keeps serving.
    put(store, USERS, b"later", b"1");
    assert_eq!(store.get(USERS, b"later").unwrap(), Some(b"1".to_vec()));
}

pub fn nested_transact_is_refused(store: &Store) {
    let s = store.clone();
    let inner = store
        .transact(move |_txn| Ok::<_, Error>(s.transact(|_| Ok::<_, Error>(()))))
        .unwrap();
    assert!(matches!(inner, Err(Error::Reentrant)));
}

pub fn queued_transactions_share_one_commit(store: &Store) {
    put(store, USERS, b"n", &0u64.to_be_bytes());
    let (release, parked) = park_committer(store);
    let before = store.metrics();
    // 63 increments and one abort queue up while the committer is parked.
    let mut pending = Vec::new();
    for i in 0..64u64 {
        let s = store.clone();
        pending.push(submit_now(async move {
            s.transact_async(move |txn| {
                let n = u64::from_be_bytes(txn.get(USERS, b"n")?.unwrap().try_into().unwrap());
                txn.put(USERS, b"n".to_vec(), (n + 1).to_be_bytes().to_vec());
                if i == 10 {
                    return Err(TestError::Abort);
                }
                Ok(n)
            })
            .await
        }));
    }
    assert_eq!(store.metrics().queue_depth, 65);
    release.send(()).unwrap();
    parked.join().unwrap();
    let rt = runtime();
    let seen: Vec<_> = pending.into_iter().map(|f| rt.block_on(f)).collect();
    // Each transaction saw the writes of the successful ones queued before it.
    for (i, r) in seen.iter().enumerate() {
        match r {
            Ok(n) => assert_eq!(*n, if i < 10 { i as u64 } else { i as u64 - 1 }),
            Err(e) => assert!(i == 10 && matches!(e, TestError::Abort), "{i}: {e:?}"),
        }
    }
    let n = store.get(USERS, b"n").unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(n.try_into().unwrap()), 63);
    let after = store.metrics();
    // The parked transaction wrote nothing; the 64 queued ones share exactly one commit.
    assert_eq!(after.transactions - before.transactions, 65);
    assert_eq!(after.commits - before.commits, 1);
    assert_eq!(after.queue_depth, 0);
}

pub fn concurrent_writers_group_and_lose_nothing(store: &Store) {
    const THREADS: u64 = 64;
    const PER_THREAD: u64 = 50;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    s.transact(move |txn| {
                        let n = match txn.get(KEYS, b"counter")? {
                            Some(v) => codec::decode_u64_key(&v)?,
                            None => 0,
                        };
                        txn.put(KEYS, b"counter".to_vec(), codec::u64_key(n + 1).to_vec());
                        let key = [codec::u64_key(t), codec::u64_key(i)].concat();
                        txn.put(USERS, key, b"x".to_vec());
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let counter = store.get(KEYS, b"counter").unwrap().unwrap();
    assert_eq!(
        codec::decode_u64_key(&counter).unwrap(),
        THREADS * PER_THREAD
    );
    assert_eq!(
        store.scan(USERS, Range::all()).unwrap().len() as u64,
        THREADS * PER_THREAD
    );
    for t in 0..THREADS {
        let rows = store
            .scan_prefix(USERS, &codec::u64_key(t), None, 1000)
            .unwrap();
        assert_eq!(rows.len() as u64, PER_THREAD, "thread {t}");
    }
    let m = store.metrics();
    assert_eq!(m.transactions, THREADS * PER_THREAD);
    assert!(m.commits < m.transactions, "no grouping: {m:?}");
    assert_eq!(m.commit_latency.count, m.commits);
}

pub fn async_transactions_commit(store: &Store) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..32u64)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    s.transact_async(move |txn| {
                        txn.put(USERS, codec::u64_key(i).to_vec(), b"a".to_vec());
                        Ok::<_, Error>(i)
                    })
                    .await
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), i as u64);
        }
    });
    assert_eq!(store.scan(USERS, Range::all()).unwrap().len(), 32);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}
