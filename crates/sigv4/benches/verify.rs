//! Throughput of parse + verify for a typical header-signed S3 request (8 signed headers, a query).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigv4::{parse, sign_request, Credentials, SigningParams, UriMode, Verifier};
use time::macros::datetime;

fn typical_request() -> (http::request::Parts, Credentials) {
    let creds = Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    };
    let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    let mut parts = http::Request::builder()
        .method("PUT")
        .uri("https://examplebucket.s3.amazonaws.com/photos/2024/cat%20picture.jpg?partNumber=3&uploadId=VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
        .header("host", "examplebucket.s3.amazonaws.com")
        .header("content-type", "image/jpeg")
        .header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
        .header("x-amz-storage-class", "REDUCED_REDUNDANCY")
        .header("x-amz-meta-owner", "alice")
        .header("x-amz-server-side-encryption", "aws:kms")
        .header("user-agent", "aws-cli/2.15.0")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "s3",
        now: datetime!(2024-05-01 10:00:00 UTC),
        mode: UriMode::S3,
    };
    sign_request(&mut parts, payload, &params).unwrap();
    (parts, creds)
}

fn bench(c: &mut Criterion) {
    let (parts, creds) = typical_request();
    let auth = parse(&parts).unwrap().unwrap();
    // host, content-type, content-md5, x-amz-storage-class, x-amz-meta-owner,
    // x-amz-server-side-encryption, x-amz-date, x-amz-content-sha256 (user-agent is not signed).
    assert_eq!(auth.signed_headers.len(), 8, "{:?}", auth.signed_headers);
    let payload = auth.payload_hash.clone().unwrap();
    let now = datetime!(2024-05-01 10:01:00 UTC);

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    for (name, verifier) in [
        ("cached_key", Verifier::new()),
        ("derive_key", Verifier::without_cache()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let auth = parse(&parts).unwrap().unwrap();
                verifier
                    .verify(
                        &parts,
                        &auth,
                        &creds.secret_access_key,
                        &payload,
                        UriMode::S3,
                        now,
                    )
                    .unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
