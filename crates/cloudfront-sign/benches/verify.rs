//! Cost of checking a canned-policy signed URL (RSA-2048, SHA-1, made by botocore): the whole
//! extract + verify path the edge runs per request, and signature verification alone.

use cloudfront_sign::{extract, verify, PublicKey, Request};
use criterion::{criterion_group, criterion_main, Criterion};

fn golden_url() -> String {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../testdata/vectors.json")).expect("vectors.json");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["name"] == "botocore-canned-sha1")
        .and_then(|v| v["signed_url"].as_str())
        .expect("botocore-canned-sha1")
        .to_owned()
}

fn bench(c: &mut Criterion) {
    let key = PublicKey::from_pem(include_str!("../testdata/rsa2048.pub.pem")).unwrap();
    let signed = golden_url();
    let (base, query) = signed.split_once('?').unwrap();
    let now = 1_767_225_599;

    c.bench_function("canned_rsa2048_sha1/extract+verify", |b| {
        b.iter(|| {
            let extracted = extract(Some(query), None).unwrap().unwrap();
            let url = match &extracted.remaining_query {
                Some(rest) => format!("{base}?{rest}"),
                None => base.to_owned(),
            };
            let request = Request {
                url_without_signing_params: &url,
                normalized_url: &url,
                client_ip: None,
                now,
            };
            verify(&extracted.credentials, &request, |_| Some(&key)).unwrap();
        })
    });

    let extracted = extract(Some(query), None).unwrap().unwrap();
    let url = format!("{base}?{}", extracted.remaining_query.as_deref().unwrap());
    let request = Request {
        url_without_signing_params: &url,
        normalized_url: &url,
        client_ip: None,
        now,
    };
    c.bench_function("canned_rsa2048_sha1/verify", |b| {
        b.iter(|| verify(&extracted.credentials, &request, |_| Some(&key)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
