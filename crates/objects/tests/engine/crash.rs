//! Crash consistency: a child process (this test binary re-run with an environment variable)
//! dies by `abort()` in the middle of a large PUT, or between the blob commit and the metadata
//! commit; the parent reopens the data directory and checks that the previous version is intact,
//! nothing partial is visible, and gc removes the orphan.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use blob::BlobStore as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use objects::{Config, ListVersions};

use crate::support::*;

const SCENARIO: &str = "OBJECTS_TEST_CRASH_SCENARIO";
const DIR: &str = "OBJECTS_TEST_CRASH_DIR";
const TEST: &str = "crash::a_crash_mid_put_keeps_the_previous_version";

const V1_LEN: usize = 300_000;

fn run_child(scenario: &str, dir: &Path) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--test-threads=1"])
        .env(SCENARIO, scenario)
        .env(DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must have crashed");
}

fn child(scenario: &str) -> ! {
    let dir = std::env::var_os(DIR).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut config = Config::default();
        if scenario == "after-blob-commit" {
            config.after_blob_commit = Some(Arc::new(|| std::process::abort()));
        }
        let (o, _store, _local) = open_disk(Path::new(&dir), config).await;
        match scenario {
            "mid-put" => {
                o.create_bucket("crash", OWNER, "us-east-1").await.unwrap();
                o.put_object(put_req("crash", "k", V1_LEN), body(&pattern(1, V1_LEN)))
                    .await
                    .unwrap();
                // A large PUT whose body stream dies the process halfway through.
                let chunks = futures_util::stream::iter(0..100u32).map(|i| {
                    if i == 40 {
                        std::process::abort();
                    }
                    Ok::<_, std::convert::Infallible>(Bytes::from(pattern(
                        2 + u64::from(i),
                        64 << 10,
                    )))
                });
                let mut req = put_req("crash", "k", 0);
                req.content_length = None;
                let _ = o.put_object(req, chunks).await;
                unreachable!("the body aborts the process");
            }
            "after-blob-commit" => {
                let data = pattern(9, 500_000);
                let _ = o
                    .put_object(put_req("crash", "k", data.len()), body(&data))
                    .await;
                unreachable!("the hook aborts the process");
            }
            other => panic!("unknown scenario {other}"),
        }
    })
}

async fn check_v1_intact(dir: &Path) -> (objects::Objects, blob::LocalBlobStore) {
    let (o, _store, local) = open_disk(dir, Config::default()).await;
    let h = Harness {
        objects: o.clone(),
        store: _store,
        blobs: Arc::new(local.clone()),
        local: Some(local.clone()),
        dir: None,
    };
    assert_eq!(
        get(&h, "crash", "k", None).await.unwrap(),
        pattern(1, V1_LEN)
    );
    let versions = o
        .list_object_versions(
            "crash",
            &ListVersions {
                max_keys: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(versions.versions.len(), 1, "nothing partial is visible");
    assert_eq!(versions.versions[0].size, V1_LEN as u64);
    (o, local)
}

#[test]
fn a_crash_mid_put_keeps_the_previous_version() {
    if let Ok(scenario) = std::env::var(SCENARIO) {
        child(&scenario);
    }
    let dir = tempfile::tempdir().unwrap();
    run_child("mid-put", dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (o, local) = check_v1_intact(dir.path()).await;
        // Reopening emptied the blob store's tmp/; only v1's blob is left.
        assert_eq!(local.list().await.unwrap().len(), 1);
        assert_eq!(
            o.collect_garbage(std::time::Duration::ZERO)
                .await
                .unwrap()
                .deleted,
            0
        );
    });
    run_child("after-blob-commit", dir.path());
    rt.block_on(async {
        let (o, local) = check_v1_intact(dir.path()).await;
        assert_eq!(
            local.list().await.unwrap().len(),
            2,
            "the committed but unreferenced blob"
        );
        let report = o.collect_garbage(std::time::Duration::ZERO).await.unwrap();
        assert_eq!((report.deleted, report.live), (1, 1));
        assert_eq!(local.list().await.unwrap().len(), 1);
        drop((o, local));
        check_v1_intact(dir.path()).await;
    });
}
