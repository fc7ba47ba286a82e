//! Throughput of `Policy::evaluate` on a realistic 10-statement bucket policy with conditions, and of the
//! combined `authorize` call the S3 front end makes per request.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use policy::{
    authorize, AuthzInput, Context, Policy, PolicyKind, Principal, PrincipalKind, Request,
};

const BUCKET_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "bench",
  "Statement": [
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::photos/*",
     "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    {"Sid": "AllowCloudFrontOAC", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*",
     "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE"}}},
    {"Sid": "OfficeNetworkOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
     "Resource": "arn:aws:s3:::photos/*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}},
    {"Sid": "HomeDirectories", "Effect": "Allow", "Principal": {"AWS": "111122223333"},
     "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::photos/home/${aws:username}/*"},
    {"Sid": "ListOwnPrefix", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::photos",
     "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}"]}}},
    {"Sid": "TemporaryPartnerAccess", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/shared/*",
     "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
    {"Sid": "AdminsWithMfa", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Admin"},
     "Action": "s3:*", "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}, "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}},
    {"Sid": "TaggedUploads", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:PutObjectTagging",
     "Resource": "arn:aws:s3:::photos/*",
     "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}},
    {"Sid": "PublicThumbnails", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::photos/thumbs/*.jpg",
     "Condition": {"StringEqualsIfExists": {"aws:Referer": "https://example.com/"}}}
  ]
}"#;

const IDENTITY_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},
  {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}"#;

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("aws:SecureTransport", "true");
    ctx.insert("aws:SourceIp", "192.0.2.10");
    ctx.insert("aws:username", "alice");
    ctx.insert("aws:userid", "AIDAEXAMPLE");
    ctx.insert("aws:PrincipalAccount", "111122223333");
    ctx.insert("aws:CurrentTime", "2025-06-01T12:00:00Z");
    ctx.insert("aws:EpochTime", "1748779200");
    ctx.insert("s3:x-amz-server-side-encryption", "aws:kms");
    ctx
}

fn bench(c: &mut Criterion) {
    let bucket = Policy::parse(BUCKET_POLICY, PolicyKind::Resource).expect("bench policy parses");
    let identity =
        Policy::parse(IDENTITY_POLICY, PolicyKind::Identity).expect("identity policy parses");
    let ctx = context();
    let alice = Principal {
        kind: PrincipalKind::User,
        arn: "arn:aws:iam::111122223333:user/alice",
        account: "111122223333",
        role_arn: None,
    };
    let cloudfront = Principal {
        kind: PrincipalKind::Service,
        arn: "cloudfront.amazonaws.com",
        account: "",
        role_arn: None,
    };
    let mut oac_ctx = ctx.clone();
    oac_ctx.insert(
        "aws:SourceArn",
        "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE",
    );

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    // A user reading their own home directory: walks all ten statements, resolves a policy variable.
    let home = Request {
        principal: &alice,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::photos/home/alice/avatar.png",
        context: &ctx,
    };
    g.bench_function("bucket_policy_10_statements/home_dir", |b| {
        b.iter(|| bucket.evaluate(black_box(&home)))
    });
    // CloudFront fetching through OAC: service principal plus StringEquals on aws:SourceArn.
    let oac = Request {
        principal: &cloudfront,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::photos/img/1.jpg",
        context: &oac_ctx,
    };
    g.bench_function("bucket_policy_10_statements/cloudfront_oac", |b| {
        b.iter(|| bucket.evaluate(black_box(&oac)))
    });
    // An upload that no statement allows: every statement is checked, no early exit.
    let put = Request {
        principal: &alice,
        action: "s3:PutObject",
        resource: "arn:aws:s3:::photos/other/file.bin",
        context: &ctx,
    };
    g.bench_function("bucket_policy_10_statements/no_match", |b| {
        b.iter(|| bucket.evaluate(black_box(&put)))
    });

    let identities = [&identity];
    let input = AuthzInput {
        request: home,
        identity_policies: &identities,
        session_policy: None,
        resource_policy: Some(&bucket),
        resource_account: "111122223333",
        resource_policy_required: false,
    };
    g.bench_function("authorize/identity_plus_bucket_policy", |b| {
        b.iter(|| authorize(black_box(&input)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
