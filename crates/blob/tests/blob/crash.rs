//! Crash consistency: a child process (this test binary, re-run with an environment variable)
//! writes through a local store and dies by `abort()` with no destructor or cleanup running;
//! the parent then inspects the directory and reopens it.
//!
//! A process crash keeps the page cache, so these tests check the ordering of visible effects
//! (nothing partial is ever renamed into place, tmp is cleaned), not power-loss durability.

use std::path::Path;
use std::process::{Command, Stdio};

use blob::BlobStore;

use crate::support::{files_under, open_local, pattern, put, read_range, CHUNK};

/// Set in the child to `<scenario>` ; the directory comes in [`CRASH_DIR`].
const CRASH_SCENARIO: &str = "BLOB_TEST_CRASH_SCENARIO";
const CRASH_DIR: &str = "BLOB_TEST_CRASH_DIR";

const COMMITTED_LEN: usize = 10 * CHUNK + 17;

/// Runs `test` in a child with the scenario set and asserts that it crashed.
fn run_child(test: &str, scenario: &str, dir: &Path) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1"])
        .env(CRASH_SCENARIO, scenario)
        .env(CRASH_DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the child must have crashed, not exited cleanly"
    );
}

/// The child side: does the scenario's writes, then aborts the process.
fn child(scenario: &str) -> ! {
    let dir = std::env::var_os(CRASH_DIR).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = open_local(Path::new(&dir)).await;
        match scenario {
            "partial" => {
                let mut w = store.create().await.unwrap();
                w.write(&pattern(9, 8 * CHUNK + 3)).await.unwrap();
                // Mid-upload: the writer is alive, its temp file half written.
                std::process::abort();
            }
            "committed" => {
                put(&store, &pattern(10, COMMITTED_LEN)).await;
                // Acknowledged; die before anything else can run, with another upload open.
                let mut w = store.create().await.unwrap();
                w.write(&pattern(11, 2 * CHUNK)).await.unwrap();
                std::process::abort();
            }
            other => panic!("unknown scenario {other}"),
        }
    })
}

#[test]
fn a_crash_mid_write_leaves_nothing_visible_and_tmp_is_cleaned() {
    if let Ok(scenario) = std::env::var(CRASH_SCENARIO) {
        child(&scenario);
    }
    let dir = tempfile::tempdir().unwrap();
    run_child(
        "crash::a_crash_mid_write_leaves_nothing_visible_and_tmp_is_cleaned",
        "partial",
        dir.path(),
    );
    let tmp = dir.path().join("tmp");
    assert_eq!(files_under(&tmp).len(), 1, "the child's temp file is there");
    let outside: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|p| !p.starts_with(&tmp))
        .collect();
    assert!(outside.is_empty(), "partial blob visible: {outside:?}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = open_local(dir.path()).await;
        assert!(store.list().await.unwrap().is_empty());
        assert!(files_under(&tmp).is_empty(), "open did not clean tmp/");
    });
}

#[test]
fn a_blob_committed_before_a_crash_survives_it() {
    if let Ok(scenario) = std::env::var(CRASH_SCENARIO) {
        child(&scenario);
    }
    let dir = tempfile::tempdir().unwrap();
    run_child(
        "crash::a_blob_committed_before_a_crash_survives_it",
        "committed",
        dir.path(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = open_local(dir.path()).await;
        let ids = store.list().await.unwrap();
        assert_eq!(ids.len(), 1, "exactly the committed blob: {ids:?}");
        assert_eq!(
            read_range(&store, &ids[0], 0, COMMITTED_LEN as u64).await,
            pattern(10, COMMITTED_LEN)
        );
        assert!(files_under(&dir.path().join("tmp")).is_empty());
    });
}
