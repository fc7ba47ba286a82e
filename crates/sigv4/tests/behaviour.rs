//! Verification rules beyond the vectors: clocks, unsigned headers, URI modes, round trips, aws-chunked.

use http::{HeaderMap, Method};
use proptest::prelude::*;
use sigv4::{
    canonical_uri, decode_aws_chunked, parse, presign_url, sign_request, AuthKind, ChunkSigner,
    ChunkVerifier, Credentials, Error, SigningParams, UriMode, Verifier, EMPTY_SHA256,
    STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD,
};
use time::{macros::datetime, Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2024-05-01 10:00:00 UTC);

fn creds(token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: token.map(str::to_owned),
    }
}

fn params<'a>(
    c: &'a Credentials,
    service: &'a str,
    now: OffsetDateTime,
    mode: UriMode,
) -> SigningParams<'a> {
    SigningParams {
        credentials: c,
        region: "us-east-1",
        service,
        now,
        mode,
    }
}

fn signed_s3(uri: &str, signed_at: OffsetDateTime) -> http::request::Parts {
    let c = creds(None);
    let mut parts = http::Request::builder()
        .method("PUT")
        .uri(uri)
        .header("host", "bucket.example.com")
        .header("x-amz-meta-color", "blue")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    sign_request(
        &mut parts,
        UNSIGNED_PAYLOAD,
        &params(&c, "s3", signed_at, UriMode::S3),
    )
    .unwrap();
    parts
}

fn check(parts: &http::request::Parts, now: OffsetDateTime) -> Result<(), Error> {
    let auth = parse(parts)?.expect("signed");
    Verifier::new().verify(
        parts,
        &auth,
        &creds(None).secret_access_key,
        UNSIGNED_PAYLOAD,
        UriMode::S3,
        now,
    )
}

#[test]
fn header_skew_is_fifteen_minutes_either_way() {
    let parts = signed_s3("/key", NOW);
    for ok in [
        Duration::minutes(15),
        -Duration::minutes(15),
        Duration::ZERO,
    ] {
        check(&parts, NOW + ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    for late in [
        Duration::minutes(15) + Duration::seconds(1),
        -Duration::minutes(15) - Duration::seconds(1),
    ] {
        let err = check(&parts, NOW + late).unwrap_err();
        assert_eq!(err.code(), "RequestTimeTooSkewed", "{late}");
        assert_eq!(
            err.to_string(),
            "The difference between the request time and the current time is too large."
        );
    }
}

fn presigned(expires: u64, signed_at: OffsetDateTime) -> http::request::Parts {
    let c = creds(Some("session-token"));
    let url = presign_url(
        &Method::GET,
        &"https://bucket.example.com/photos/cat.jpg?versionId=3"
            .parse()
            .unwrap(),
        &HeaderMap::new(),
        &params(&c, "s3", signed_at, UriMode::S3),
        expires,
    )
    .unwrap();
    http::Request::builder()
        .uri(
            url.parse::<http::Uri>()
                .unwrap()
                .path_and_query()
                .unwrap()
                .as_str(),
        )
        .header("host", "bucket.example.com")
        .body(())
        .unwrap()
        .into_parts()
        .0
}

#[test]
fn presigned_expiry_boundaries() {
    let parts = presigned(600, NOW);
    let auth = parse(&parts).unwrap().unwrap();
    assert_eq!(auth.kind, AuthKind::Presigned { expires_secs: 600 });
    assert_eq!(auth.session_token.as_deref(), Some("session-token"));
    check(&parts, NOW + Duration::seconds(600)).unwrap();
    let err = check(&parts, NOW + Duration::seconds(601)).unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("AccessDenied", "Request has expired")
    );
    // Signed slightly in the future (client clock ahead) is fine within the skew, not beyond.
    check(&parts, NOW - Duration::minutes(15)).unwrap();
    let err = check(&parts, NOW - Duration::minutes(15) - Duration::seconds(1)).unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("AccessDenied", "Request is not valid yet")
    );
    // A week is the longest AWS allows, and it works to the last second.
    let week = presigned(604_800, NOW);
    check(&week, NOW + Duration::days(7)).unwrap();
    assert_eq!(
        check(&week, NOW + Duration::days(7) + Duration::seconds(1))
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
}

#[test]
fn presigned_signature_and_params_are_bound() {
    let parts = presigned(600, NOW);
    let pq = parts.uri.path_and_query().unwrap().as_str().to_owned();
    for tampered in [
        pq.replace("versionId=3", "versionId=4"),
        pq.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),
        pq.replace("/photos/cat.jpg", "/photos/dog.jpg"),
        format!("{pq}&extra=1"),
    ] {
        let p = http::Request::builder()
            .uri(tampered.as_str())
            .header("host", "bucket.example.com")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(
            check(&p, NOW).unwrap_err().code(),
            "SignatureDoesNotMatch",
            "{tampered}"
        );
    }
}

#[test]
fn unsigned_amz_header_is_rejected() {
    let mut parts = signed_s3("/key", NOW);
    parts
        .headers
        .insert("x-amz-acl", "public-read".parse().unwrap());
    let err = check(&parts, NOW).unwrap_err();
    assert_eq!(
        err,
        Error::UnsignedAmzHeader {
            header: "x-amz-acl".into()
        }
    );
    assert_eq!(err.code(), "AccessDenied");
    assert_eq!(
        err.to_string(),
        "There were headers present in the request which were not signed"
    );
    // Non-amz headers that were not signed are simply ignored.
    let mut parts = signed_s3("/key", NOW);
    parts
        .headers
        .insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
    check(&parts, NOW).unwrap();
}

#[test]
fn tampered_signed_header_is_rejected() {
    let mut parts = signed_s3("/key", NOW);
    parts
        .headers
        .insert("x-amz-meta-color", "red".parse().unwrap());
    let err = check(&parts, NOW).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    let Error::SignatureDoesNotMatch { details } = err else {
        unreachable!()
    };
    assert!(details.canonical_request.contains("x-amz-meta-color:red\n"));
    // A second value for a signed header changes its canonical value too.
    let mut parts = signed_s3("/key", NOW);
    parts
        .headers
        .append("x-amz-meta-color", "green".parse().unwrap());
    assert_eq!(
        check(&parts, NOW).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let parts = signed_s3("/key", NOW);
    let auth = parse(&parts).unwrap().unwrap();
    let err = Verifier::new()
        .verify(
            &parts,
            &auth,
            "not-the-secret",
            UNSIGNED_PAYLOAD,
            UriMode::S3,
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
}

#[test]
fn s3_mode_keeps_the_path_normalize_mode_cleans_it() {
    let path = "/bucket//a/../b%20c/%E1%88%B4/";
    assert_eq!(
        canonical_uri(path, UriMode::S3),
        "/bucket//a/../b%20c/%E1%88%B4/"
    );
    assert_eq!(
        canonical_uri(path, UriMode::Normalize),
        "/bucket/b%2520c/%25E1%2588%25B4/"
    );
    // S3 re-encodes what the client left raw; unicode arrives as UTF-8 and leaves as %XX.
    assert_eq!(
        canonical_uri("/k(1)!/ሴ", UriMode::S3),
        "/k%281%29%21/%E1%88%B4"
    );
    assert_eq!(canonical_uri("", UriMode::S3), "/");
    // And the two modes really sign differently: an S3-mode signature is not a Normalize one.
    let parts = signed_s3("/bucket//a/../key", NOW);
    let auth = parse(&parts).unwrap().unwrap();
    let secret = creds(None).secret_access_key;
    let v = Verifier::new();
    v.verify(&parts, &auth, &secret, UNSIGNED_PAYLOAD, UriMode::S3, NOW)
        .unwrap();
    assert_eq!(
        v.verify(
            &parts,
            &auth,
            &secret,
            UNSIGNED_PAYLOAD,
            UriMode::Normalize,
            NOW
        )
        .unwrap_err()
        .code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn http2_authority_stands_in_for_host() {
    let c = creds(None);
    let mut parts = http::Request::builder()
        .uri("https://kms.example.com/")
        .method("POST")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    sign_request(
        &mut parts,
        EMPTY_SHA256,
        &params(&c, "kms", NOW, UriMode::Normalize),
    )
    .unwrap();
    parts.headers.remove("host");
    let auth = parse(&parts).unwrap().unwrap();
    Verifier::new()
        .verify(
            &parts,
            &auth,
            &c.secret_access_key,
            EMPTY_SHA256,
            UriMode::Normalize,
            NOW,
        )
        .unwrap();
}

#[test]
fn aws_chunked_round_trip_and_tampering() {
    let c = creds(None);
    let mut parts = http::Request::builder()
        .method("PUT")
        .uri("https://bucket.example.com/big")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "70000")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    for (mode, trailer) in [
        (STREAMING_PAYLOAD, false),
        (STREAMING_PAYLOAD_TRAILER, true),
    ] {
        if trailer {
            parts
                .headers
                .insert("x-amz-trailer", "x-amz-checksum-crc32".parse().unwrap());
        }
        let seed = sign_request(&mut parts, mode, &params(&c, "s3", NOW, UriMode::S3)).unwrap();
        let auth = parse(&parts).unwrap().unwrap();
        let v = Verifier::new();
        v.verify(&parts, &auth, &c.secret_access_key, mode, UriMode::S3, NOW)
            .unwrap();
        let key = v.signing_key(
            &c.secret_access_key,
            &auth.date,
            &auth.region,
            &auth.service,
        );

        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut signer = ChunkSigner::new(key, &auth.amz_date(), &auth.credential_scope(), &seed);
        let mut body = Vec::new();
        for chunk in data.chunks(65_536) {
            body.extend(signer.encode_chunk(chunk, trailer));
        }
        body.extend(signer.encode_chunk(&[], trailer));
        let trailers = vec![("x-amz-checksum-crc32".to_owned(), "sOO8/Q==".to_owned())];
        if trailer {
            body.extend(signer.encode_trailer(&trailers));
        }
        let mut verifier = ChunkVerifier::new(key, &auth, mode).unwrap();
        let (decoded, got_trailers) = decode_aws_chunked(&body, &mut verifier).unwrap();
        assert_eq!(decoded, data);
        if trailer {
            assert_eq!(got_trailers, trailers);
        }

        // Any flipped data byte breaks that chunk's signature.
        let mut bad = body.clone();
        let pos = bad.len() / 3;
        bad[pos] ^= 1;
        let mut verifier = ChunkVerifier::new(key, &auth, mode).unwrap();
        assert!(decode_aws_chunked(&bad, &mut verifier).is_err());
        // Dropping the final chunk is an incomplete body.
        let cut = &body[..body.len() - 10];
        let mut verifier = ChunkVerifier::new(key, &auth, mode).unwrap();
        assert!(decode_aws_chunked(cut, &mut verifier).is_err());
        // A chain started from another seed fails at the first chunk.
        let mut other = ChunkSigner::new(
            key,
            &auth.amz_date(),
            &auth.credential_scope(),
            EMPTY_SHA256,
        );
        let forged = other.encode_chunk(&data[..10], trailer);
        let mut verifier = ChunkVerifier::new(key, &auth, mode).unwrap();
        let err = decode_aws_chunked(&forged, &mut verifier).unwrap_err();
        assert_eq!(err.code(), "SignatureDoesNotMatch");
        if trailer {
            // A changed trailer value no longer matches the trailer signature.
            let text = String::from_utf8_lossy(&body).replace("sOO8/Q==", "AAAAAA==");
            let mut verifier = ChunkVerifier::new(key, &auth, mode).unwrap();
            assert_eq!(
                decode_aws_chunked(text.as_bytes(), &mut verifier)
                    .unwrap_err()
                    .code(),
                "SignatureDoesNotMatch"
            );
        }
    }
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~-]{1,12}",
        "[ a-z!()*'+@,;=&$]{1,8}",
        "\\PC{1,6}",
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
    ]
}

fn encode_path(segments: &[String]) -> String {
    let mut path = String::new();
    for s in segments {
        path.push('/');
        path.push_str(&sigv4::uri_encode(s));
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sign_then_verify(
        method in prop_oneof![Just("GET"), Just("PUT"), Just("POST"), Just("DELETE"), Just("HEAD")],
        segments in prop::collection::vec(segment(), 0..5),
        query in prop::collection::vec(("\\PC{0,6}", "\\PC{0,6}"), 0..4),
        meta in prop::collection::vec(("[a-z]{1,8}", "[ -~]{0,20}"), 0..4),
        s3 in any::<bool>(),
        token in prop::option::of("[A-Za-z0-9/+=]{8,40}"),
        offset in -900i64..=900,
    ) {
        let c = creds(token.as_deref());
        let (service, mode) = if s3 { ("s3", UriMode::S3) } else { ("kms", UriMode::Normalize) };
        let path = encode_path(&segments);
        let q = encode_query(&query);
        let target = if q.is_empty() { path.clone() } else { format!("{path}?{q}") };
        let mut builder = http::Request::builder().method(method).uri(format!("https://host.example.com{target}"));
        for (name, value) in &meta {
            builder = builder.header(format!("x-amz-meta-{name}"), value.as_str());
        }
        builder = builder.header("content-type", "application/octet-stream");
        let mut parts = builder.body(()).unwrap().into_parts().0;
        let hash = if s3 { UNSIGNED_PAYLOAD } else { EMPTY_SHA256 };
        sign_request(&mut parts, hash, &params(&c, service, NOW, mode)).unwrap();
        let auth = parse(&parts).unwrap().unwrap();
        prop_assert_eq!(auth.session_token.clone(), token.clone());
        let v = Verifier::new();
        let now = NOW + Duration::seconds(offset);
        prop_assert!(v.verify(&parts, &auth, &c.secret_access_key, hash, mode, now).is_ok());
        // A different payload hash is a different request.
        prop_assert!(v.verify(&parts, &auth, &c.secret_access_key, &"0".repeat(64), mode, now).is_err());

        // The same request presigned verifies too.
        let url = presign_url(&Method::from_bytes(method.as_bytes()).unwrap(), &format!("https://host.example.com{target}").parse().unwrap(), &HeaderMap::new(), &params(&c, service, NOW, mode), 3600).unwrap();
        let uri: http::Uri = url.parse().unwrap();
        let p = http::Request::builder().method(method).uri(uri.path_and_query().unwrap().as_str()).header("host", "host.example.com").body(()).unwrap().into_parts().0;
        let auth = parse(&p).unwrap().unwrap();
        prop_assert_eq!(auth.kind, AuthKind::Presigned { expires_secs: 3600 });
        prop_assert!(v.verify(&p, &auth, &c.secret_access_key, hash, mode, now).is_ok());
        prop_assert!(v.verify(&p, &auth, "other-secret", hash, mode, now).is_err());
    }
}
