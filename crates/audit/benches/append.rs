//! Append throughput: Interval mode (pipelined appends from one caller) and PerEvent mode with 64 concurrent
//! appenders sharing fsyncs through group commit. Logs live in a temp dir on the build disk (ext4 here).

use std::time::{Duration, Instant};

use audit::{
    AuditConfig, AuditLog, DigestSigner, Event, EventCategory, EventType, IdentityType, Resource,
    SyncMode, UserIdentity,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use time::macros::datetime;

fn event(i: u64) -> Event {
    Event {
        event_version: audit::EVENT_VERSION.into(),
        user_identity: UserIdentity {
            identity_type: IdentityType::IamUser,
            principal_id: Some("AIDAEXAMPLE".into()),
            arn: Some("arn:aws:iam::111122223333:user/app".into()),
            account_id: Some("111122223333".into()),
            access_key_id: Some("AKIAEXAMPLE".into()),
            user_name: Some("app".into()),
            invoked_by: None,
            session_context: None,
        },
        event_time: datetime!(2026-01-02 03:04:05 UTC) + Duration::from_secs(i),
        event_source: "kms.amazonaws.com".into(),
        event_name: "GenerateDataKey".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "192.0.2.10".into(),
        user_agent: "aws-sdk-rust/1.0".into(),
        error_code: None,
        error_message: None,
        request_parameters: serde_json::json!({"keyId": "alias/app", "keySpec": "AES_256",
            "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::bucket/object-{i}")}}),
        response_elements: serde_json::Value::Null,
        additional_event_data: None,
        request_id: format!("req-{i}"),
        event_id: uuid::Uuid::new_v4(),
        read_only: true,
        resources: Some(vec![Resource {
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
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

fn open(dir: &std::path::Path, sync: SyncMode) -> AuditLog {
    let signer = DigestSigner::load_or_create(&dir.join("key.der")).expect("key");
    let cfg = AuditConfig {
        sync,
        ..AuditConfig::default()
    };
    AuditLog::open(&dir.join("log"), cfg, signer).expect("open")
}

fn bench_dir() -> tempfile::TempDir {
    // Under the target dir rather than /tmp, so fsync hits a real disk even where /tmp is tmpfs.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target-audit");
    let _ = std::fs::create_dir_all(&base);
    tempfile::tempdir_in(&base).unwrap_or_else(|_| tempfile::tempdir().expect("tempdir"))
}

fn interval(c: &mut Criterion) {
    const BATCH: u64 = 1000;
    let dir = bench_dir();
    let log = open(dir.path(), SyncMode::Interval(Duration::from_millis(100)));
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("interval_100ms_1_caller", |b| {
        b.iter(|| {
            let waits: Vec<_> = (0..BATCH).map(|i| log.append(event(i))).collect();
            for w in waits {
                w.wait().expect("append");
            }
        })
    });
    g.finish();
    log.close().expect("close");
}

fn per_event_64(c: &mut Criterion) {
    const APPENDERS: u64 = 64;
    const EACH: u64 = 16;
    let dir = bench_dir();
    let log = open(dir.path(), SyncMode::PerEvent);
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(APPENDERS * EACH));
    g.sample_size(10);
    g.bench_function("per_event_64_appenders", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for t in 0..APPENDERS {
                        let log = &log;
                        s.spawn(move || {
                            for i in 0..EACH {
                                log.append(event(t * EACH + i)).wait().expect("append");
                            }
                        });
                    }
                });
            }
            start.elapsed()
        })
    });
    g.finish();
    let m = log.metrics();
    let p50 = m
        .fsync_seconds
        .buckets
        .iter()
        .find(|(_, n)| *n * 2 >= m.fsync_seconds.count)
        .map(|b| b.0);
    eprintln!(
        "per_event: {} fsyncs, mean fsync {:.2} ms, p50 bucket <= {:?} s",
        m.fsyncs,
        1000.0 * m.fsync_seconds.sum / m.fsync_seconds.count.max(1) as f64,
        p50
    );
    log.close().expect("close");
}

criterion_group!(benches, interval, per_event_64);
criterion_main!(benches);
