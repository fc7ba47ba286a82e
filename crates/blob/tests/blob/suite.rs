//! The behaviour every [`blob::BlobStore`] must have, run against each implementation.

use std::collections::HashSet;
use std::time::Duration;

use blob::{BlobId, Error, GcReport};

use crate::support::{pattern, put, put_in_pieces, read_all, read_range, Harness, CHUNK};

pub async fn write_commit_read_back(h: &Harness) {
    let store = &*h.store;
    let data = pattern(1, 5 * CHUNK + 123);
    // Uneven pieces, some larger than the store's buffer, some tiny, and an empty write.
    let id = put_in_pieces(store, &data, &[1, 0, 700, 3 * CHUNK + 5, 9]).await;
    assert_eq!(store.len(&id).await.unwrap(), data.len() as u64);
    assert_eq!(read_range(store, &id, 0, data.len() as u64).await, data);
    assert_eq!(store.list().await.unwrap(), vec![id]);
    assert!(h.temp_files().is_empty(), "commit left a temp file");
}

pub async fn empty_blob(h: &Harness) {
    let store = &*h.store;
    let id = store.create().await.unwrap().commit().await.unwrap();
    assert_eq!(store.len(&id).await.unwrap(), 0);
    assert!(read_range(store, &id, 0, 0).await.is_empty());
    assert!(matches!(
        store.read(&id, 0, 1).await,
        Err(Error::OutOfRange { size: 0, .. })
    ));
}

pub async fn range_reads_at_every_boundary(h: &Harness) {
    let store = &*h.store;
    let n = 3 * CHUNK + 5;
    let data = pattern(2, n);
    let id = put(store, &data).await;
    let c = CHUNK;
    let offsets = [
        0,
        1,
        c - 1,
        c,
        c + 1,
        2 * c - 1,
        2 * c,
        2 * c + 1,
        3 * c,
        n - 1,
        n,
    ];
    for offset in offsets {
        let left = n - offset;
        let lens = [
            0,
            1,
            c - 1,
            c,
            c + 1,
            2 * c + 1,
            left.saturating_sub(1),
            left,
        ];
        for len in lens.into_iter().filter(|&len| len <= left) {
            let got = read_range(store, &id, offset as u64, len as u64).await;
            assert!(
                got == data[offset..offset + len],
                "range {offset}+{len} of {n} differs"
            );
        }
    }
}

pub async fn out_of_range_reads_are_refused(h: &Harness) {
    let store = &*h.store;
    let n = 2 * CHUNK as u64;
    let id = put(store, &pattern(3, n as usize)).await;
    for (offset, len) in [(n, 1), (0, n + 1), (n + 1, 0), (n - 1, 2), (u64::MAX, 2)] {
        match store.read(&id, offset, len).await {
            Err(Error::OutOfRange { size, .. }) => assert_eq!(size, n),
            Err(e) => panic!("{offset}+{len}: wrong error {e}"),
            Ok(_) => panic!("{offset}+{len}: read past the end"),
        }
    }
}

pub async fn len_and_not_found(h: &Harness) {
    let store = &*h.store;
    let id = put(store, &pattern(4, 777)).await;
    assert_eq!(store.len(&id).await.unwrap(), 777);
    let missing = BlobId::random();
    assert!(matches!(store.len(&missing).await, Err(Error::NotFound(m)) if m == missing));
    assert!(matches!(
        store.read(&missing, 0, 0).await,
        Err(Error::NotFound(_))
    ));
}

pub async fn delete_is_idempotent(h: &Harness) {
    let store = &*h.store;
    let keep = put(store, b"keep").await;
    let gone = put(store, b"gone").await;
    store.delete(&gone).await.unwrap();
    store.delete(&gone).await.unwrap();
    store.delete(&BlobId::random()).await.unwrap();
    assert!(matches!(store.len(&gone).await, Err(Error::NotFound(_))));
    assert!(matches!(
        store.read(&gone, 0, 0).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.list().await.unwrap(), vec![keep]);
    assert_eq!(read_range(store, &keep, 0, 4).await, b"keep");
    assert_eq!(h.files_outside_tmp().len(), usize::from(h.root.is_some()));
}

pub async fn abort_leaves_nothing_visible(h: &Harness) {
    let store = &*h.store;
    let mut w = store.create().await.unwrap();
    // More than one buffer, so bytes really reach the temp file before the abort.
    w.write(&pattern(5, 4 * CHUNK + 1)).await.unwrap();
    w.abort().await;
    assert!(store.list().await.unwrap().is_empty());
    assert!(h.files_outside_tmp().is_empty());
    assert!(h.temp_files().is_empty(), "abort left its temp file");
}

pub async fn drop_without_commit_leaves_nothing_visible(h: &Harness) {
    let store = &*h.store;
    {
        let mut w = store.create().await.unwrap();
        w.write(&pattern(6, 4 * CHUNK + 1)).await.unwrap();
    }
    // A writer that never wrote anything, dropped too.
    drop(store.create().await.unwrap());
    assert!(store.list().await.unwrap().is_empty());
    assert!(h.files_outside_tmp().is_empty());
    // Nothing dropped may have become visible in the meantime either.
    let id = put(store, b"after").await;
    assert_eq!(store.list().await.unwrap(), vec![id]);
}

pub async fn list_and_gc(h: &Harness) {
    let store = &*h.store;
    let mut ids = Vec::new();
    for i in 0..5u64 {
        ids.push(put(store, &pattern(i, 100 + i as usize)).await);
    }
    let listed: HashSet<BlobId> = store.list().await.unwrap().into_iter().collect();
    assert_eq!(listed, ids.iter().copied().collect());

    let live: HashSet<BlobId> = ids[..2].iter().copied().collect();
    let is_live = |id: &BlobId| live.contains(id);
    // Young unreferenced blobs are kept: their metadata commit may still be in flight.
    let report = store.gc(&is_live, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(
        report,
        GcReport {
            scanned: 5,
            live: 2,
            young: 3,
            deleted: 0,
            bytes_freed: 0
        }
    );
    assert_eq!(store.list().await.unwrap().len(), 5);

    let report = store.gc(&is_live, Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        GcReport {
            scanned: 5,
            live: 2,
            young: 0,
            deleted: 3,
            bytes_freed: 102 + 103 + 104
        }
    );
    let listed: HashSet<BlobId> = store.list().await.unwrap().into_iter().collect();
    assert_eq!(listed, live);
    for (i, id) in ids[..2].iter().enumerate() {
        assert_eq!(
            read_range(store, id, 0, 100 + i as u64).await,
            pattern(i as u64, 100 + i)
        );
    }
    let again = store.gc(&is_live, Duration::ZERO).await.unwrap();
    assert_eq!(again.deleted, 0);
    assert_eq!(again.scanned, 2);
}

pub async fn concurrent_writers_lose_nothing(h: &Harness) {
    const TASKS: u64 = 64;
    const PER_TASK: u64 = 20;
    let size = |t: u64, i: u64| ((t * PER_TASK + i) * 37 % (3 * CHUNK as u64)) as usize + 1;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = h.store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..PER_TASK {
                    let data = pattern(t * 1000 + i, size(t, i));
                    ids.push((t, i, put_in_pieces(&*store, &data, &[300, CHUNK]).await));
                }
                ids
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: HashSet<BlobId> = all.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(distinct.len(), (TASKS * PER_TASK) as usize);
    assert_eq!(store_list_len(h).await, distinct.len());
    for (t, i, id) in all {
        let n = size(t, i);
        let got = read_all(h.store.read(&id, 0, n as u64).await.unwrap())
            .await
            .unwrap();
        assert!(got == pattern(t * 1000 + i, n), "blob {t}/{i} differs");
    }
    assert!(h.temp_files().is_empty());
}

async fn store_list_len(h: &Harness) -> usize {
    h.store.list().await.unwrap().len()
}

pub async fn ids_are_distinct_and_random(h: &Harness) {
    let store = &*h.store;
    // The same content twice gets two ids: ids name writes, not contents or object names.
    let a = put(store, b"same").await;
    let b = put(store, b"same").await;
    assert_ne!(a, b);
    let ones = a.as_bytes().iter().map(|b| b.count_ones()).sum::<u32>();
    assert!((20..=108).contains(&ones), "id {a} does not look random");
}
