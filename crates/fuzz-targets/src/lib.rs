//! The bodies of coffer's fuzz targets, one function per target, each taking the fuzzer's bytes and feeding them
//! to a parser that faces hostile input. A target fails by panicking (or by an invariant assertion below);
//! every other outcome — a parse error included — is a pass.
//!
//! `fuzz/` (cargo-fuzz, nightly) calls these under libFuzzer; `tests/corpus.rs` replays every committed corpus
//! through them on stable, so a regression is caught by the ordinary test suite.

use std::collections::BTreeMap;

mod edge;
mod http_input;
mod s3;

pub use edge::{cloudfront_signed, cloudfront_xml, edge_conditional, edge_request, path};
pub use http_input::request_from_bytes;
pub use s3::s3_request;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("sigv4_request", sigv4_request),
    ("sigv4_chunked", sigv4_chunked),
    ("policy", policy),
    ("envelope", envelope),
    ("kms_ciphertext", kms_ciphertext),
    ("s3_xml", s3_xml),
    ("post_policy", post_policy),
    ("s3_request", s3_request),
    ("path", path),
    ("edge_conditional", edge_conditional),
    ("edge_request", edge_request),
    ("cloudfront_xml", cloudfront_xml),
    ("cloudfront_signed", cloudfront_signed),
];

/// The secret every fuzzed signature is checked against.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A request's authentication: the mechanism decision, SigV4 parse and verification (both URI modes, at the
/// request's own time so the clock rules pass and the canonicalization is reached), SigV2 parse, string to
/// sign and verification.
pub fn sigv4_request(data: &[u8]) {
    let Some((parts, body)) = request_from_bytes(data) else {
        return;
    };
    let _ = sigv4::mechanism(&parts);
    if let Ok(Some(auth)) = sigv4::parse(&parts) {
        let payload = sigv4::sha256_hex(body);
        for mode in [sigv4::UriMode::S3, sigv4::UriMode::Normalize] {
            let _ = sigv4::verify(&parts, &auth, SECRET, &payload, mode, auth.request_time);
            let _ = sigv4::verify(
                &parts,
                &auth,
                SECRET,
                sigv4::UNSIGNED_PAYLOAD,
                mode,
                time::OffsetDateTime::UNIX_EPOCH,
            );
        }
        let _ = sigv4::canonical_query_string(parts.uri.query().unwrap_or(""), true);
    }
    let now = time::OffsetDateTime::from_unix_timestamp(1_790_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(v2) = sigv4::parse_v2(&parts, now) {
        let _ = sigv4::verify_v2(&parts, &v2, SECRET, Some("bucket"));
    }
    let _ = sigv4::string_to_sign_v2(&parts, true, None);
    let _ = sigv4::string_to_sign_v2(&parts, false, Some("b"));
}

/// An aws-chunked body under each streaming payload type, as a request signed with the fuzzed headers would
/// carry it.
pub fn sigv4_chunked(data: &[u8]) {
    let auth = sigv4::ParsedAuth {
        access_key_id: "AKIDEXAMPLE".into(),
        date: "20130524".into(),
        region: "us-east-1".into(),
        service: "s3".into(),
        signed_headers: vec!["host".into()],
        signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        request_time: time::macros::datetime!(2013-05-24 00:00:00 UTC),
        session_token: None,
        kind: sigv4::AuthKind::Header,
        payload_hash: None,
    };
    let key = sigv4::signing_key(SECRET, "20130524", "us-east-1", "s3");
    for payload in [
        sigv4::STREAMING_PAYLOAD,
        sigv4::STREAMING_PAYLOAD_TRAILER,
        sigv4::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    ] {
        if let Ok(mut verifier) = sigv4::ChunkVerifier::new(key, &auth, payload) {
            if let Ok((decoded, _trailers)) = sigv4::decode_aws_chunked(data, &mut verifier) {
                assert!(decoded.len() <= data.len(), "decoding never grows the body");
            }
        }
    }
}

/// A policy document of either kind, evaluated for a fixed request and combined as `authorize` does; deny
/// must win: a document with an explicit deny for the request never allows it.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let principal = policy::Principal {
        kind: policy::PrincipalKind::User,
        arn: "arn:aws:iam::111122223333:user/alice",
        account: "111122223333",
        role_arn: None,
    };
    let mut context = policy::Context::new();
    context.insert("aws:username", "alice");
    context.insert("aws:SourceIp", "192.0.2.10");
    context.insert("aws:SecureTransport", "true");
    context.insert("aws:CurrentTime", "2026-12-01T12:00:00Z");
    context.insert_multi("aws:TagKeys", vec!["env".into(), "team".into()]);
    context.insert("s3:prefix", "home/alice/");
    for kind in [policy::PolicyKind::Identity, policy::PolicyKind::Resource] {
        let Ok(p) = policy::Policy::parse(text, kind) else {
            continue;
        };
        for (action, resource) in [
            ("s3:GetObject", "arn:aws:s3:::photos/home/alice/a.jpg"),
            ("s3:ListBucket", "arn:aws:s3:::photos"),
            ("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/1234"),
        ] {
            let request = policy::Request {
                principal: &principal,
                action,
                resource,
                context: &context,
            };
            let _ = p.evaluate(&request);
            let identity = [&p];
            let input = policy::AuthzInput {
                request,
                identity_policies: if kind == policy::PolicyKind::Identity {
                    &identity
                } else {
                    &[]
                },
                session_policy: None,
                resource_policy: (kind == policy::PolicyKind::Resource).then_some(&p),
                resource_account: "111122223333",
                resource_policy_required: false,
            };
            let decision = policy::authorize(&input);
            if decision.allowed {
                assert!(
                    !decision.reason.is_explicit_deny(),
                    "an allowed decision cannot carry an explicit deny"
                );
            }
        }
    }
}

/// Stored envelope bytes under a fixed key: the whole-object decryptor and the range decryptor must refuse
/// what does not authenticate, fed in any slicing, and never release unauthenticated plaintext.
pub fn envelope(data: &[u8]) {
    // The key and associated data of the envelope crate's golden files, so that seeds made from them
    // authenticate and mutations reach every stage of the decryptor.
    let key: [u8; envelope::KEY_LEN] = std::array::from_fn(|i| i as u8);
    let (split, stored) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s) + 1, rest),
        None => return,
    };
    let mut out = Vec::new();
    let mut d = envelope::Decryptor::new(&key, ENVELOPE_AD);
    let mut ok = true;
    for chunk in stored.chunks(split) {
        if d.update(chunk, &mut out).is_err() {
            ok = false;
            break;
        }
    }
    if ok {
        let _ = d.finish(&mut out);
    }
    // A range read of the same bytes: the header, then segments from the planned offset.
    if stored.len() >= envelope::HEADER_LEN + 8 {
        let (header, rest) = stored.split_at(envelope::HEADER_LEN);
        let (numbers, body) = rest.split_at(8);
        let plain_len = u64::from(u32::from_be_bytes([
            numbers[0], numbers[1], numbers[2], numbers[3],
        ]));
        let start = u64::from(u16::from_be_bytes([numbers[4], numbers[5]]));
        let len = u64::from(u16::from_be_bytes([numbers[6], numbers[7]]));
        if let Ok(parsed) = envelope::Header::parse(header) {
            let end = start.saturating_add(len);
            if let Ok(plan) = envelope::plan_range(plain_len, parsed.segment_size(), start, end) {
                if let Ok(mut d) =
                    envelope::Decryptor::starting_at(&key, ENVELOPE_AD, header, &plan)
                {
                    let mut out = Vec::new();
                    if d.update(body, &mut out).is_ok() {
                        let _ = d.finish(&mut out);
                    }
                    assert!(
                        out.len() as u64 <= plan.take,
                        "a range never releases more than it asked"
                    );
                }
            }
        }
    }
}

/// The associated data of the envelope golden files.
const ENVELOPE_AD: &[u8] = b"arn:aws:s3:::golden-bucket/path/to/object.txt\0version-3";

/// A KMS ciphertext blob: the header parse, then a decrypt under the key and context of the KMS golden blob.
pub fn kms_ciphertext(data: &[u8]) {
    let Ok(header) = kms::ciphertext::parse(data) else {
        return;
    };
    let _ = (
        header.key_id(),
        header.account_region(),
        header.material_id_hex(),
    );
    if let Ok(key) = kms::material::MaterialKey::new([0x22; 32], &[0x11; 32]) {
        let mut ctx: BTreeMap<String, String> = BTreeMap::new();
        ctx.insert("purpose".into(), "golden".into());
        ctx.insert("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into());
        for c in [BTreeMap::new(), ctx] {
            let _ = kms::ciphertext::open(key.aead(), data, &header, &c);
        }
    }
}

/// The S3 XML request bodies coffer accepts, as s3s deserializes them; the first byte picks the type.
pub fn s3_xml(data: &[u8]) {
    use s3s::dto::*;
    use s3s::xml::{Deserialize, Deserializer};

    fn de<'a, T: Deserialize<'a>>(xml: &'a [u8]) {
        let mut d = Deserializer::new(xml);
        if T::deserialize(&mut d).is_ok() {
            let _ = d.expect_eof();
        }
    }
    let Some((which, xml)) = data.split_first() else {
        return;
    };
    match which % 12 {
        0 => de::<CompletedMultipartUpload>(xml),
        1 => de::<Delete>(xml),
        2 => de::<Tagging>(xml),
        3 => de::<CORSConfiguration>(xml),
        4 => de::<ServerSideEncryptionConfiguration>(xml),
        5 => de::<VersioningConfiguration>(xml),
        6 => de::<PublicAccessBlockConfiguration>(xml),
        7 => de::<OwnershipControls>(xml),
        8 => de::<CreateBucketConfiguration>(xml),
        9 => de::<AccessControlPolicy>(xml),
        10 => de::<BucketLifecycleConfiguration>(xml),
        _ => de::<ObjectLockConfiguration>(xml),
    }
}

/// A browser form's POST policy (base64 of the fuzzed bytes) checked against fields taken from the same bytes.
pub fn post_policy(data: &[u8]) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let fields: Vec<(String, String)> = std::str::from_utf8(data)
        .unwrap_or_default()
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .take(16)
        .collect();
    if let Ok(p) = sigv4::PostPolicy::parse(&b64) {
        if let Ok(Some((min, max))) =
            p.check(&fields, "bucket", p.expiration - time::Duration::SECOND)
        {
            assert!(min <= max, "a range the check returns is never empty");
        }
    }
    let _ = sigv4::PostPolicy::parse(std::str::from_utf8(data).unwrap_or_default());
}
