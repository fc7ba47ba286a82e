//! Acknowledged writes survive closing and reopening a redb store.

use meta::{codec, Error, Range, RedbBackend, Store};

use crate::support::{KEYS, USERS};

#[test]
fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    {
        let store = Store::new(RedbBackend::open(&path).unwrap()).unwrap();
        let writers: Vec<_> = (0..8u64)
            .map(|t| {
                let s = store.clone();
                std::thread::spawn(move || {
                    for i in 0..20u64 {
                        s.transact(move |txn| {
                            txn.put(
                                USERS,
                                [codec::u64_key(t), codec::u64_key(i)].concat(),
                                b"v".to_vec(),
                            );
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        store
            .transact(|txn| {
                txn.delete(USERS, [codec::u64_key(0), codec::u64_key(0)].concat());
                txn.put_json(KEYS, b"AKIA".to_vec(), &"alice")?;
                Ok::<_, Error>(())
            })
            .unwrap();
        // A rolled-back transaction must leave nothing on disk either.
        let _ = store.transact(|txn| {
            txn.put(KEYS, b"ghost".to_vec(), b"x".to_vec());
            Err::<(), _>(Error::Closed)
        });
        // The last handle goes here; the committer is joined and the file closed, so the same
        // path opens again in this process.
    }
    let store = Store::new(RedbBackend::open(&path).unwrap()).unwrap();
    assert_eq!(store.scan(USERS, Range::all()).unwrap().len(), 8 * 20 - 1);
    assert_eq!(
        store
            .get(USERS, &[codec::u64_key(0), codec::u64_key(0)].concat())
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_json::<String>(KEYS, b"AKIA").unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(store.get(KEYS, b"ghost").unwrap(), None);
}

/// Set in the child process of [`acknowledged_writes_survive_a_crash`] to the database path.
const CRASH_CHILD: &str = "META_TEST_CRASH_CHILD_DB";

/// Re-runs this test binary as a child that commits, then aborts without closing anything (no
/// destructors, no clean shutdown), and checks every acknowledged write from the reopened file.
#[test]
fn acknowledged_writes_survive_a_crash() {
    if let Some(path) = std::env::var_os(CRASH_CHILD) {
        let store = Store::new(RedbBackend::open(path).unwrap()).unwrap();
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                let s = store.clone();
                std::thread::spawn(move || {
                    for i in 0..50u64 {
                        s.transact(move |txn| {
                            txn.put(
                                USERS,
                                [codec::u64_key(t), codec::u64_key(i)].concat(),
                                b"v".to_vec(),
                            );
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        // Every write above is acknowledged; die without letting redb close the file.
        std::process::abort();
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability::acknowledged_writes_survive_a_crash",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the child must have crashed, not exited cleanly"
    );
    let store = Store::new(RedbBackend::open(&path).unwrap()).unwrap();
    assert_eq!(store.scan(USERS, Range::all()).unwrap().len(), 4 * 50);
}

/// The database holds every metadata record: it is created owner-only, whatever the umask, and an existing
/// file others could read is restricted on open.
#[test]
fn the_database_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    {
        let store = Store::new(RedbBackend::open(&path).unwrap()).unwrap();
        store
            .transact(|txn| {
                txn.put(KEYS, b"k".to_vec(), b"v".to_vec());
                Ok::<_, Error>(())
            })
            .unwrap();
    }
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::new(RedbBackend::open(&path).unwrap()).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(store.get(KEYS, b"k").unwrap().as_deref(), Some(&b"v"[..]));
}
