//! Behaviour only the local filesystem store has: file modes, layout, reopen, tampering,
//! durability accounting.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use blob::{BlobId, BlobStore, Error};

use crate::support::{open_local, pattern, put, read_all, read_range, CHUNK};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_directories_are_private_and_sharded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data").join("blobs");
    let store = open_local(&root).await;
    let id = put(&store, b"secret-ish").await;
    let hex = id.to_string();
    let path = store.path_of(&id);
    assert_eq!(path, root.join(&hex[..2]).join(&hex[2..4]).join(&hex));
    assert_eq!(mode(&path), 0o600);
    for dir in [
        root.clone(),
        root.join("tmp"),
        root.join(&hex[..2]),
        root.join(&hex[..2]).join(&hex[2..4]),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    // Temp files are private from the moment they exist.
    let mut w = store.create().await.unwrap();
    w.write(b"x").await.unwrap();
    let temps = crate::support::files_under(&root.join("tmp"));
    assert_eq!(temps.len(), 1);
    assert_eq!(mode(&temps[0]), 0o600);
    w.abort().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_blobs_and_clears_leftover_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let data = pattern(7, 3 * CHUNK + 1);
    let id = {
        let store = open_local(&root).await;
        put(&store, &data).await
    };
    std::fs::write(root.join("tmp").join("leftover.tmp"), b"partial").unwrap();
    std::fs::create_dir(root.join("tmp").join("junkdir")).unwrap();
    // A file that is not ours at the root is ignored, never deleted.
    std::fs::write(root.join("README"), b"not a blob").unwrap();

    let store = open_local(&root).await;
    assert!(crate::support::files_under(&root.join("tmp")).is_empty());
    assert!(std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
    assert_eq!(store.list().await.unwrap(), vec![id]);
    assert_eq!(read_range(&store, &id, 0, data.len() as u64).await, data);
    let report = store.gc(&|_| false, Duration::ZERO).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(root.join("README").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_blob_file_is_an_error_not_a_short_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).await;
    let id = put(&store, &pattern(8, 4 * CHUNK)).await;
    let reader = store.read(&id, 0, 4 * CHUNK as u64).await.unwrap();
    // Truncated after the range was checked (a failing disk or an outside hand).
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(store.path_of(&id))
        .unwrap();
    file.set_len(CHUNK as u64 + 10).unwrap();
    let err = read_all(reader).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    // A range check against the new length refuses what no longer exists.
    assert!(matches!(
        store.read(&id, 0, 4 * CHUNK as u64).await,
        Err(Error::OutOfRange { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commit_fsyncs_its_file_and_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).await;
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { put(&store, &pattern(i, 4096)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.commits, 64);
    assert_eq!(stats.file_syncs, 64);
    // Each commit needs at least its leaf directory synced, by itself or shared.
    assert!(stats.dir_syncs + stats.dir_syncs_shared >= 64, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_are_not_blobs_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).await;
    assert!("../../etc/passwd".parse::<BlobId>().is_err());
    let id = BlobId::random();
    assert!(matches!(store.len(&id).await, Err(Error::NotFound(_))));
}
