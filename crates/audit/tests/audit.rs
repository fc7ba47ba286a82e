//! Integration tests of the audit crate: round trips, lookup semantics, group commit, tamper and crash detection,
//! recovery, golden files and property tests, all against real files in temporary directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use audit::{
    verify, AuditConfig, AuditLog, Clock, DigestSigner, Error, Event, EventCategory, EventType,
    IdentityType, LookupAttribute, LookupQuery, Resource, SessionAttributes, SessionContext,
    SessionIssuer, StoredEvent, SyncMode, TlsDetails, UserIdentity,
};
use serde_json::json;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

fn test_key() -> Vec<u8> {
    std::fs::read(golden_dir().join("test-only-digest-key.pk8")).unwrap()
}

fn signer() -> DigestSigner {
    DigestSigner::from_pkcs8(&test_key()).unwrap()
}

fn public_key() -> Vec<u8> {
    signer().public_key_der()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn config(sync: SyncMode) -> AuditConfig {
    AuditConfig {
        sync,
        digest_interval: Duration::from_secs(3600),
        ..AuditConfig::default()
    }
}

fn open(dir: &Path, sync: SyncMode) -> AuditLog {
    AuditLog::open(dir, config(sync), signer()).unwrap()
}

/// An IAM-user event; `i` makes ids and times distinct and ordered.
fn user_event(i: u64, name: &str, user: &str) -> Event {
    Event {
        event_version: audit::EVENT_VERSION.into(),
        user_identity: UserIdentity {
            identity_type: IdentityType::IamUser,
            principal_id: Some(format!("AIDA{user}")),
            arn: Some(format!("arn:aws:iam::111122223333:user/{user}")),
            account_id: Some("111122223333".into()),
            access_key_id: Some(format!("AKIA{}", user.to_uppercase())),
            user_name: Some(user.into()),
            invoked_by: None,
            session_context: None,
        },
        event_time: T0 + Duration::from_secs(i * 60),
        event_source: "kms.amazonaws.com".into(),
        event_name: name.into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "192.0.2.10".into(),
        user_agent: "aws-cli/2.15.0".into(),
        error_code: None,
        error_message: None,
        request_parameters: json!({ "keyId": format!("alias/k{i}") }),
        response_elements: serde_json::Value::Null,
        additional_event_data: None,
        request_id: format!("req-{i}"),
        event_id: Uuid::from_u128(0x1000 + u128::from(i)),
        read_only: name.starts_with("Describe") || name.starts_with("List"),
        resources: Some(vec![Resource {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/k{i}"),
            account_id: "111122223333".into(),
            resource_type: "AWS::KMS::Key".into(),
        }]),
        event_type: EventType::AwsApiCall,
        management_event: true,
        recipient_account_id: "111122223333".into(),
        event_category: EventCategory::Management,
        tls_details: None,
    }
}

/// A role-session event whose session name is `session`.
fn role_event(i: u64, name: &str, session: &str) -> Event {
    let mut e = user_event(i, name, "unused");
    e.event_source = "s3.amazonaws.com".into();
    e.user_identity = UserIdentity {
        identity_type: IdentityType::AssumedRole,
        principal_id: Some(format!("AROAEXAMPLE:{session}")),
        arn: Some(format!(
            "arn:aws:sts::111122223333:assumed-role/Uploader/{session}"
        )),
        account_id: Some("111122223333".into()),
        access_key_id: Some("ASIAROLE".into()),
        user_name: None,
        invoked_by: None,
        session_context: Some(SessionContext {
            session_issuer: Some(SessionIssuer {
                issuer_type: "Role".into(),
                principal_id: "AROAEXAMPLE".into(),
                arn: "arn:aws:iam::111122223333:role/Uploader".into(),
                account_id: "111122223333".into(),
                user_name: "Uploader".into(),
            }),
            attributes: SessionAttributes {
                creation_date: T0,
                mfa_authenticated: false,
            },
        }),
    };
    e.resources = Some(vec![Resource {
        arn: "arn:aws:s3:::invoices/2026/a.pdf".into(),
        account_id: "111122223333".into(),
        resource_type: "AWS::S3::Object".into(),
    }]);
    e.event_category = EventCategory::Data;
    e.management_event = false;
    e.tls_details = Some(TlsDetails {
        tls_version: "TLSv1.3".into(),
        cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
        client_provided_host_header: "files.example.com".into(),
    });
    e
}

/// Every event matching `q`, following next tokens to the end.
fn lookup_all(log: &AuditLog, q: &LookupQuery) -> Vec<StoredEvent> {
    let mut q = q.clone();
    let mut out = Vec::new();
    loop {
        let page = log.lookup(&q).unwrap();
        assert!(page.events.len() <= q.max_results);
        out.extend(page.events);
        match page.next_token {
            Some(t) => q.next_token = Some(t),
            None => return out,
        }
    }
}

fn names(events: &[StoredEvent]) -> Vec<String> {
    events.iter().map(|e| e.event.request_id.clone()).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    v.retain(|p| p.extension().is_some_and(|e| e == "log"));
    v.sort();
    v
}

/// The sequence number an error names, if it names one.
fn named_seq(e: &Error) -> Option<u64> {
    match e {
        Error::RecordCorrupt { expected_seq, .. }
        | Error::RecordOutOfSequence { expected_seq, .. } => Some(*expected_seq),
        Error::RecordAltered { seq, .. } | Error::ChainBroken { seq, .. } => Some(*seq),
        Error::TornTail { expected_seq, .. } => Some(*expected_seq),
        _ => None,
    }
}

/// A closed log with `n` user events; returns the temp dir.
fn closed_log(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), SyncMode::Interval(Duration::from_secs(1)));
    for i in 1..=n {
        log.append(user_event(i, "Decrypt", "alice"))
            .wait()
            .unwrap();
    }
    log.close().unwrap();
    dir
}

#[test]
fn event_json_uses_cloudtrail_field_names() {
    let v: serde_json::Value = serde_json::to_value(role_event(1, "GetObject", "s1")).unwrap();
    for key in [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
        "tlsDetails",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["eventTime"], "2026-01-02T03:05:05Z");
    assert_eq!(v["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        v["userIdentity"]["sessionContext"]["sessionIssuer"]["type"],
        "Role"
    );
    assert_eq!(
        v["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
    assert_eq!(
        v["userIdentity"]["sessionContext"]["attributes"]["creationDate"],
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(v["resources"][0]["ARN"], "arn:aws:s3:::invoices/2026/a.pdf");
    assert_eq!(v["resources"][0]["type"], "AWS::S3::Object");
    assert_eq!(v["responseElements"], serde_json::Value::Null);
    assert_eq!(v["eventType"], "AwsApiCall");
    assert_eq!(v["eventCategory"], "Data");
    assert!(
        v["userIdentity"].get("userName").is_none(),
        "None fields are skipped"
    );
    assert!(v.get("errorCode").is_none() && v.get("additionalEventData").is_none());
    let iam = serde_json::to_value(user_event(1, "Decrypt", "bob")).unwrap();
    assert_eq!(iam["userIdentity"]["type"], "IAMUser");
}

#[test]
fn lookup_filters_by_each_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    let events = vec![
        user_event(1, "Decrypt", "alice"),
        user_event(2, "DescribeKey", "bob"),
        role_event(3, "GetObject", "upload-session"),
        user_event(4, "Encrypt", "alice"),
    ];
    for e in &events {
        log.append(e.clone()).wait().unwrap();
    }
    let by = |attr, v: &str| {
        let q = LookupQuery {
            attribute: Some((attr, v.to_string())),
            ..LookupQuery::default()
        };
        names(&lookup_all(&log, &q))
    };
    assert_eq!(
        by(
            LookupAttribute::EventId,
            &Uuid::from_u128(0x1002).to_string()
        ),
        ["req-2"]
    );
    assert_eq!(by(LookupAttribute::EventName, "Decrypt"), ["req-1"]);
    assert_eq!(by(LookupAttribute::ReadOnly, "true"), ["req-2"]);
    assert_eq!(
        by(LookupAttribute::ReadOnly, "false"),
        ["req-4", "req-3", "req-1"]
    );
    assert_eq!(by(LookupAttribute::Username, "alice"), ["req-4", "req-1"]);
    assert_eq!(
        by(LookupAttribute::Username, "upload-session"),
        ["req-3"],
        "role sessions match by session name"
    );
    assert_eq!(
        by(LookupAttribute::Username, "Uploader"),
        Vec::<String>::new()
    );
    assert_eq!(
        by(LookupAttribute::ResourceType, "AWS::S3::Object"),
        ["req-3"]
    );
    assert_eq!(
        by(LookupAttribute::ResourceType, "AWS::KMS::Key"),
        ["req-4", "req-2", "req-1"]
    );
    assert_eq!(
        by(
            LookupAttribute::ResourceName,
            "arn:aws:kms:us-east-1:111122223333:key/k4"
        ),
        ["req-4"]
    );
    assert_eq!(
        by(LookupAttribute::EventSource, "s3.amazonaws.com"),
        ["req-3"]
    );
    assert_eq!(by(LookupAttribute::AccessKeyId, "AKIABOB"), ["req-2"]);
    assert_eq!(by(LookupAttribute::AccessKeyId, "ASIAROLE"), ["req-3"]);

    // Round trip: the parsed event equals what was appended, and raw_json is its CloudTrail JSON.
    let all = lookup_all(&log, &LookupQuery::default());
    assert_eq!(
        names(&all),
        ["req-4", "req-3", "req-2", "req-1"],
        "newest first"
    );
    for (stored, original) in all.iter().rev().zip(&events) {
        assert_eq!(&stored.event, original);
        assert_eq!(stored.raw_json, serde_json::to_string(original).unwrap());
    }
}

#[test]
fn lookup_time_range_and_pagination() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments so pages cross segment boundaries and the per-segment time index is exercised.
    let cfg = AuditConfig {
        segment_max_bytes: 4096,
        ..config(SyncMode::Interval(Duration::from_millis(5)))
    };
    let log = AuditLog::open(dir.path(), cfg, signer()).unwrap();
    let waits: Vec<_> = (1..=120)
        .map(|i| log.append(user_event(i, "Decrypt", "alice")))
        .collect();
    for w in waits {
        w.wait().unwrap();
    }
    assert!(segment_files(dir.path()).len() > 5);

    let q = LookupQuery {
        start: Some(T0 + Duration::from_secs(10 * 60)),
        end: Some(T0 + Duration::from_secs(40 * 60)),
        max_results: 7,
        ..LookupQuery::default()
    };
    let page = log.lookup(&q).unwrap();
    assert_eq!(page.events.len(), 7);
    assert_eq!(
        names(&page.events)[0],
        "req-40",
        "end is inclusive, newest first"
    );
    let all = lookup_all(&log, &q);
    let expected: Vec<String> = (10..=40).rev().map(|i| format!("req-{i}")).collect();
    assert_eq!(
        names(&all),
        expected,
        "start inclusive, no duplicates or gaps across pages"
    );

    // A page exactly at the end has no token; an over-long page is refused.
    let last = LookupQuery {
        max_results: 50,
        start: Some(T0 + Duration::from_secs(71 * 60)),
        ..q.clone()
    };
    let last = LookupQuery { end: None, ..last };
    let p = log.lookup(&last).unwrap();
    assert_eq!((p.events.len(), p.next_token.is_none()), (50, true));
    assert!(matches!(
        log.lookup(&LookupQuery {
            max_results: 51,
            ..LookupQuery::default()
        }),
        Err(Error::InvalidQuery(_))
    ));
    let backwards = LookupQuery {
        start: q.end,
        end: q.start,
        ..LookupQuery::default()
    };
    assert!(matches!(
        log.lookup(&backwards),
        Err(Error::InvalidQuery(_))
    ));
}

#[test]
fn invalid_or_foreign_next_token_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    for i in 1..=5 {
        log.append(user_event(i, "Decrypt", "alice"))
            .wait()
            .unwrap();
    }
    let q = LookupQuery {
        max_results: 2,
        ..LookupQuery::default()
    };
    let token = log.lookup(&q).unwrap().next_token.unwrap();
    for bad in ["", "garbage", "MS4xLjA", &token[..token.len() - 2]] {
        let q = LookupQuery {
            next_token: Some(bad.into()),
            ..q.clone()
        };
        assert!(
            matches!(log.lookup(&q), Err(Error::InvalidNextToken)),
            "{bad}"
        );
    }
    // CloudTrail rejects a token reused with different parameters.
    let other = LookupQuery {
        attribute: Some((LookupAttribute::EventName, "Decrypt".into())),
        next_token: Some(token.clone()),
        ..q.clone()
    };
    assert!(matches!(log.lookup(&other), Err(Error::InvalidNextToken)));
    // And a token does not outlive the process that issued it.
    log.close().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    assert!(matches!(
        log.lookup(&LookupQuery {
            next_token: Some(token),
            ..q
        }),
        Err(Error::InvalidNextToken)
    ));
}

#[test]
fn per_event_group_commit_shares_fsyncs_and_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), SyncMode::PerEvent));
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..25u64)
                    .map(|i| {
                        log.append(user_event(t * 100 + i, "Encrypt", "app"))
                            .wait()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<_>>(),
        "every append got its own sequence number"
    );
    let m = log.metrics();
    assert_eq!(m.queue_backlog, 0);
    assert!(
        m.fsyncs >= 1 && m.fsyncs < 400,
        "group commit must share fsyncs, got {} for 400 events",
        m.fsyncs
    );
    assert_eq!(m.fsync_seconds.count, m.fsyncs);
    assert!(m.fsync_seconds.buckets.last().map_or(0, |b| b.1) <= m.fsyncs);

    // Durable when completed: a second reader sees all of them before any close or final digest.
    let report = verify(dir.path(), &public_key()).unwrap();
    assert_eq!(
        (report.records, report.digests, report.undigested_records),
        (400, 0, 400)
    );
    assert_eq!(lookup_all(&log, &LookupQuery::default()).len(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_is_awaitable() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    let futures: Vec<_> = (1..=10)
        .map(|i| log.append(user_event(i, "Decrypt", "alice")))
        .collect();
    let mut seqs = Vec::new();
    for f in futures {
        seqs.push(f.await.unwrap());
    }
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || log.close())
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn verify_clean_log_reports_counts() {
    let dir = closed_log(12);
    let r = verify(dir.path(), &public_key()).unwrap();
    assert_eq!(
        (
            r.segments,
            r.records,
            r.last_seq,
            r.digests,
            r.digested_through,
            r.undigested_records
        ),
        (1, 12, 12, 1, 12, 0)
    );
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(verify(empty.path(), &public_key()).unwrap().records, 0);
}

#[test]
fn every_single_byte_flip_is_detected_and_named() {
    let dir = closed_log(3);
    let seg = segment_files(dir.path()).remove(0);
    let original = std::fs::read(&seg).unwrap();
    // Line start offsets, to know which record each byte belongs to.
    let mut starts = vec![0usize];
    starts.extend(
        original
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    for pos in 0..original.len() {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(&seg, &bytes).unwrap();
        let err =
            verify(dir.path(), &public_key()).expect_err(&format!("flip at {pos} undetected"));
        assert!(err.is_tampering(), "flip at {pos}: {err}");
        let record = starts.iter().rposition(|s| *s <= pos).unwrap() as u64 + 1;
        if pos == original.len() - 1 {
            // The last record's newline: it now looks torn, but the digest vouches for it.
            assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        } else {
            assert_eq!(named_seq(&err), Some(record), "flip at {pos}: {err}");
        }
    }
    std::fs::write(&seg, &original).unwrap();
    verify(dir.path(), &public_key()).unwrap();
}

#[test]
fn flipped_byte_in_middle_of_large_segment_names_record_and_offset() {
    let dir = closed_log(40);
    let seg = segment_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    let line_start = bytes[..mid]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let record = bytes[..mid].iter().filter(|b| **b == b'\n').count() as u64 + 1;
    bytes[mid] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    let err = verify(dir.path(), &public_key()).unwrap_err();
    assert_eq!(named_seq(&err), Some(record), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("at byte {line_start}")) && text.contains("0000000000000001.log"),
        "{text}"
    );
    // And the log refuses to open for appending rather than chain onto it.
    assert!(AuditLog::open(dir.path(), config(SyncMode::PerEvent), signer()).is_err());
}

#[test]
fn deleted_or_reordered_record_is_detected() {
    let dir = closed_log(10);
    let seg = segment_files(dir.path()).remove(0);
    let original = std::fs::read_to_string(&seg).unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    lines.remove(4);
    std::fs::write(&seg, lines.join("\n") + "\n").unwrap();
    let err = verify(dir.path(), &public_key()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordOutOfSequence {
                expected_seq: 5,
                found_seq: 6,
                ..
            }
        ),
        "{err}"
    );

    let mut lines: Vec<&str> = original.lines().collect();
    lines.swap(2, 3);
    std::fs::write(&seg, lines.join("\n") + "\n").unwrap();
    let err = verify(dir.path(), &public_key()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordOutOfSequence {
                expected_seq: 3,
                found_seq: 4,
                ..
            }
        ),
        "{err}"
    );

    // Removing the newest, digested record is tampering, not a crash.
    let lines: Vec<&str> = original.lines().collect();
    std::fs::write(&seg, lines[..9].join("\n") + "\n").unwrap();
    assert!(matches!(
        verify(dir.path(), &public_key()),
        Err(Error::DigestMismatch { .. })
    ));
}

#[test]
fn torn_tail_is_reported_as_torn_and_recovered_on_open() {
    let dir = closed_log(5);
    let seg = segment_files(dir.path()).remove(0);
    let clean_len = std::fs::metadata(&seg).unwrap().len();
    // What a crash mid-write leaves: the start of record 6, never completed (and never acknowledged).
    let mut partial = Vec::new();
    partial.extend_from_slice(br#"{"v":1,"seq":6,"prev":"ab"#);
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &partial).unwrap();
    drop(f);
    let err = verify(dir.path(), &public_key()).unwrap_err();
    assert!(
        matches!(err, Error::TornTail { expected_seq: 6, offset, .. } if offset == clean_len),
        "{err}"
    );
    assert!(!err.is_tampering());

    // Reopening truncates the torn record and continues a valid chain.
    let log = open(dir.path(), SyncMode::PerEvent);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), clean_len);
    assert_eq!(
        log.append(user_event(6, "Encrypt", "bob")).wait().unwrap(),
        6
    );
    log.append(user_event(7, "Encrypt", "bob")).wait().unwrap();
    assert_eq!(
        names(&lookup_all(&log, &LookupQuery::default()))[..3],
        ["req-7", "req-6", "req-5"]
    );
    log.close().unwrap();
    let r = verify(dir.path(), &public_key()).unwrap();
    assert_eq!((r.records, r.digests, r.undigested_records), (7, 2, 0));
}

#[test]
fn tampered_digest_is_detected() {
    let dir = closed_log(4);
    let digest = dir.path().join("digests/0000000000000001.json");
    let original = std::fs::read_to_string(&digest).unwrap();

    // A flipped signature digit.
    let i = original.find("\"signature\":\"").unwrap() + 20;
    let mut bytes = original.clone().into_bytes();
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    std::fs::write(&digest, &bytes).unwrap();
    assert!(matches!(
        verify(dir.path(), &public_key()),
        Err(Error::DigestInvalid { .. })
    ));

    // A rewritten body with the old signature.
    std::fs::write(&digest, original.replace("\"lastSeq\":4", "\"lastSeq\":3")).unwrap();
    assert!(matches!(
        verify(dir.path(), &public_key()),
        Err(Error::DigestInvalid { .. })
    ));

    // The wrong key.
    std::fs::write(&digest, &original).unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_key = DigestSigner::load_or_create(&other.path().join("k"))
        .unwrap()
        .public_key_der();
    assert!(matches!(
        verify(dir.path(), &other_key),
        Err(Error::DigestInvalid { .. })
    ));

    // A missing middle digest breaks the digest chain.
    let log = open(dir.path(), SyncMode::PerEvent);
    log.append(user_event(5, "Encrypt", "bob")).wait().unwrap();
    log.close().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    log.append(user_event(6, "Encrypt", "bob")).wait().unwrap();
    log.close().unwrap();
    assert_eq!(verify(dir.path(), &public_key()).unwrap().digests, 3);
    std::fs::remove_file(dir.path().join("digests/0000000000000002.json")).unwrap();
    assert!(matches!(
        verify(dir.path(), &public_key()),
        Err(Error::DigestMismatch { .. })
    ));
}

#[test]
fn periodic_digests_are_written_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        digest_interval: Duration::from_millis(20),
        ..config(SyncMode::Interval(Duration::from_millis(5)))
    };
    let log = AuditLog::open(dir.path(), cfg, signer()).unwrap();
    log.append(user_event(1, "Decrypt", "alice"))
        .wait()
        .unwrap();
    let first = dir.path().join("digests/0000000000000001.json");
    // Poll for the writer's timer rather than assume how long it takes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !first.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(first.exists(), "no digest written by the timer");
    let r = verify(dir.path(), &public_key()).unwrap();
    assert_eq!((r.digests, r.digested_through), (1, 1));
    log.close().unwrap();
}

#[test]
fn rotation_and_reopen_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        segment_max_bytes: 3000,
        ..config(SyncMode::PerEvent)
    };
    for round in 0..3u64 {
        let log = AuditLog::open(dir.path(), cfg.clone(), signer()).unwrap();
        for i in 1..=15 {
            log.append(user_event(round * 100 + i, "Decrypt", "alice"))
                .wait()
                .unwrap();
        }
        assert_eq!(
            lookup_all(&log, &LookupQuery::default()).len() as u64,
            (round + 1) * 15
        );
        log.close().unwrap();
    }
    let r = verify(dir.path(), &public_key()).unwrap();
    assert!(r.segments > 3);
    assert_eq!((r.records, r.digests), (45, 3));
    // Deleting a whole middle segment is caught.
    let segs = segment_files(dir.path());
    std::fs::remove_file(&segs[1]).unwrap();
    assert!(matches!(
        verify(dir.path(), &public_key()),
        Err(Error::SegmentMisplaced { .. })
    ));
}

#[test]
fn dropping_the_last_handle_flushes_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), SyncMode::PerEvent));
    let other = Arc::clone(&log);
    drop(log);
    // The log stays open while any handle is alive.
    other
        .append(user_event(1, "Decrypt", "alice"))
        .wait()
        .unwrap();
    drop(other);
    let r = verify(dir.path(), &public_key()).unwrap();
    assert_eq!(
        (r.records, r.digests),
        (1, 1),
        "drop flushes and writes a final digest"
    );
}

/// Writes the golden log into `dir` deterministically: fixed key, events, ids and clock.
fn write_golden(dir: &Path) {
    let cfg = AuditConfig {
        clock: Clock::Fixed(T0 + Duration::from_secs(3600)),
        ..config(SyncMode::PerEvent)
    };
    let log = AuditLog::open(dir, cfg, signer()).unwrap();
    log.append(user_event(1, "GenerateDataKey", "alice"))
        .wait()
        .unwrap();
    let mut failed = user_event(2, "Decrypt", "mallory");
    failed.error_code = Some("AccessDenied".into());
    failed.error_message = Some("User is not authorized".into());
    failed.request_parameters = serde_json::Value::Null;
    log.append(failed).wait().unwrap();
    let mut role = role_event(3, "PutObject", "uploader-1");
    role.additional_event_data = Some(json!({"bytesTransferredIn": 1024}));
    log.append(role).wait().unwrap();
    log.close().unwrap();
}

const GOLDEN_FILES: [&str; 2] = [
    "segments/0000000000000001.log",
    "digests/0000000000000001.json",
];

#[test]
fn golden_files_still_verify_and_read_back() {
    let golden = golden_dir().join("log");
    if std::env::var_os("AUDIT_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        let tmp = tempfile::tempdir().unwrap();
        write_golden(tmp.path());
        for f in GOLDEN_FILES {
            std::fs::create_dir_all(golden.join(f).parent().unwrap()).unwrap();
            std::fs::copy(tmp.path().join(f), golden.join(f)).unwrap();
        }
    }
    // Old files must verify with this build's verifier…
    let r = verify(&golden, &public_key()).unwrap();
    assert_eq!((r.records, r.digests, r.undigested_records), (3, 1, 0));
    // …and open and read back (in a copy: opening may create directories).
    let copy = tempfile::tempdir().unwrap();
    for f in GOLDEN_FILES {
        std::fs::create_dir_all(copy.path().join(f).parent().unwrap()).unwrap();
        std::fs::copy(golden.join(f), copy.path().join(f)).unwrap();
    }
    let log = open(copy.path(), SyncMode::PerEvent);
    let all = lookup_all(&log, &LookupQuery::default());
    assert_eq!(names(&all), ["req-3", "req-2", "req-1"]);
    assert_eq!(all[1].event.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(all[0].event.session_name(), Some("uploader-1"));
    log.append(user_event(4, "Decrypt", "alice"))
        .wait()
        .unwrap();
    log.close().unwrap();
    assert_eq!(verify(copy.path(), &public_key()).unwrap().records, 4);
}

#[test]
fn golden_files_are_what_this_build_writes() {
    // If this fails, the on-disk format changed: bump the version, keep reading the old one, update
    // docs/design/audit.md, then regenerate with AUDIT_BLESS=1.
    let tmp = tempfile::tempdir().unwrap();
    write_golden(tmp.path());
    for f in GOLDEN_FILES {
        let now = std::fs::read_to_string(tmp.path().join(f)).unwrap();
        let golden = std::fs::read_to_string(golden_dir().join("log").join(f)).unwrap();
        assert_eq!(now, golden, "{f} differs from the golden file");
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn arb_event() -> impl Strategy<Value = Event> {
        (
            0u64..10_000,
            "[A-Z][a-z]{1,8}",
            "[a-z]{1,6}",
            any::<bool>(),
            ".{0,20}",
        )
            .prop_map(|(t, name, user, role, param)| {
                let mut e = if role {
                    role_event(t, &name, &user)
                } else {
                    user_event(t, &name, &user)
                };
                // Arbitrary text, including quotes, newlines and non-ASCII, must survive the line format.
                e.request_parameters = json!({ "p": param });
                e.event_id = Uuid::new_v4();
                e
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn append_close_reopen_append_verifies_and_reads_back(
            first in proptest::collection::vec(arb_event(), 0..20),
            second in proptest::collection::vec(arb_event(), 0..20),
            segment_max_bytes in 1500u64..20_000,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let cfg = AuditConfig { segment_max_bytes, ..config(SyncMode::Interval(Duration::from_millis(50))) };
            for batch in [&first, &second] {
                let log = AuditLog::open(dir.path(), cfg.clone(), signer()).unwrap();
                let waits: Vec<_> = batch.iter().map(|e| log.append(e.clone())).collect();
                for w in waits {
                    w.wait().unwrap();
                }
                log.close().unwrap();
            }
            let r = verify(dir.path(), &public_key()).unwrap();
            prop_assert_eq!(r.records as usize, first.len() + second.len());
            prop_assert_eq!(r.undigested_records, 0);
            let log = AuditLog::open(dir.path(), cfg, signer()).unwrap();
            let q = LookupQuery { max_results: 7, ..LookupQuery::default() };
            let got: Vec<Event> = lookup_all(&log, &q).into_iter().map(|s| s.event).collect();
            let mut want: Vec<Event> = first.iter().chain(&second).cloned().collect();
            want.reverse();
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn lookup_sees_only_the_requested_account_and_root_as_username() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), SyncMode::PerEvent);
    for i in 0..6 {
        let mut e = user_event(i, "CreateUser", "alice");
        e.recipient_account_id = if i % 2 == 0 {
            "111111111111"
        } else {
            "222222222222"
        }
        .into();
        log.append(e).wait().unwrap();
    }
    let mut root = user_event(7, "GetCallerIdentity", "ignored");
    root.user_identity.identity_type = audit::IdentityType::Root;
    root.user_identity.user_name = None;
    root.recipient_account_id = "111111111111".into();
    log.append(root).wait().unwrap();

    let q = |account: &str, attribute| LookupQuery {
        account: Some(account.to_owned()),
        attribute,
        max_results: 2,
        ..LookupQuery::default()
    };
    let first = lookup_all(&log, &q("111111111111", None));
    assert_eq!(first.len(), 4);
    assert!(first
        .iter()
        .all(|e| e.event.recipient_account_id == "111111111111"));
    assert_eq!(lookup_all(&log, &q("222222222222", None)).len(), 3);
    assert!(lookup_all(&log, &q("333333333333", None)).is_empty());
    let roots = lookup_all(
        &log,
        &q(
            "111111111111",
            Some((LookupAttribute::Username, "root".into())),
        ),
    );
    assert_eq!(names(&roots), vec!["req-7"]);
    assert!(lookup_all(
        &log,
        &q(
            "222222222222",
            Some((LookupAttribute::Username, "root".into()))
        )
    )
    .is_empty());
}

/// A writer that cannot write (here: the next segment cannot be created, because its directory is gone — which
/// works whoever runs the test, root included) refuses that append and every later one, says so through
/// `failure`, and keeps refusing after the cause is gone; reopening recovers, with one intact chain.
#[test]
fn a_failed_writer_reports_it_and_refuses_every_later_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(SyncMode::PerEvent);
    cfg.segment_max_bytes = 2048;
    let log = AuditLog::open(dir.path(), cfg.clone(), signer()).unwrap();
    assert_eq!(log.failure(), None);
    log.append(user_event(1, "Encrypt", "alice"))
        .wait()
        .unwrap();

    let segments = dir.path().join("segments");
    let moved = dir.path().join("segments.away");
    std::fs::rename(&segments, &moved).unwrap();
    // Appending until the segment would overflow forces a rotation into the missing directory.
    let mut failed_at = None;
    for i in 2..100 {
        if log
            .append(user_event(i, "Decrypt", "alice"))
            .wait()
            .is_err()
        {
            failed_at = Some(i);
            break;
        }
    }
    let failed_at = failed_at.expect("rotation into a missing directory must fail");
    let why = log.failure().expect("the failure is reported");
    assert!(why.contains("segments"), "{why}");

    // Putting the directory back does not resume a writer whose state on disk is unknown.
    std::fs::rename(&moved, &segments).unwrap();
    assert!(log
        .append(user_event(failed_at + 1, "Decrypt", "alice"))
        .wait()
        .is_err());
    assert!(log.failure().is_some());
    assert!(log.close().is_err());

    // Reopening recovers: every acknowledged record is there and the chain verifies.
    let log = AuditLog::open(dir.path(), cfg, signer()).unwrap();
    assert_eq!(log.failure(), None);
    log.append(user_event(1000, "Encrypt", "bob"))
        .wait()
        .unwrap();
    let all = lookup_all(&log, &LookupQuery::default());
    assert_eq!(all.len() as u64, failed_at);
    log.close().unwrap();
    verify(dir.path(), &public_key()).unwrap();
}

/// Every directory and file of the trail — segments, index sidecars, digests and their temporary files — is
/// owner-only from creation, whatever the umask; a trail written with looser modes is restricted on open.
#[test]
fn the_trail_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    fn loose(root: &Path) -> Vec<(PathBuf, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(p) = stack.pop() {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push((p.clone(), mode));
            }
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
        out
    }
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit");
    let mut cfg = config(SyncMode::PerEvent);
    cfg.segment_max_bytes = 2048;
    let log = AuditLog::open(&trail, cfg.clone(), signer()).unwrap();
    for i in 0..20 {
        log.append(user_event(i, "Decrypt", "alice"))
            .wait()
            .unwrap();
    }
    log.close().unwrap();
    assert!(segment_files(&trail).len() > 1, "the test needs a rotation");
    assert!(std::fs::read_dir(trail.join("digests")).unwrap().count() > 0);
    assert!(std::fs::read_dir(trail.join("index")).unwrap().count() > 0);
    assert_eq!(loose(&trail), vec![]);

    for p in [trail.join("segments"), segment_files(&trail)[0].clone()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    AuditLog::open(&trail, cfg, signer())
        .unwrap()
        .close()
        .unwrap();
    assert_eq!(loose(&trail), vec![]);
}
