"""The edge, end to end: the tutorials' private SSE-KMS bucket behind a distribution with Origin Access Control,
driven with boto3 and the aws CLI for control and a real HTTP client for viewers."""

import concurrent.futures
import gzip
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BIN, REGION, metric_value, read_edge_endpoints, unique, viewer, wait_until

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]


def account_of(server):
    return server.client("sts").get_caller_identity()["Account"]


def private_kms_bucket(server, bucket, key_arn=None):
    """The tutorial's bucket: Block Public Access, versioning, default SSE-KMS with a Bucket Key."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if key_arn is None:
        key_arn = server.client("kms").create_key(Description=f"{bucket} objects")["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return key_arn


def create_oac(server, name):
    cf = server.client("cloudfront")
    return cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": name,
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]


def create_distribution(server, bucket, oac_id, policy="redirect-to-https", methods=None, cache_policy=CACHING_OPTIMIZED,
                        error_ttl=None, key_groups=None, compress=True, root_object="", aliases=None,
                        viewer_certificate=None):
    cf = server.client("cloudfront")
    methods = methods or ["GET", "HEAD"]
    cached = [m for m in ["GET", "HEAD"] if m in methods]
    behavior = {
        "TargetOriginId": "s3origin",
        "ViewerProtocolPolicy": policy,
        "AllowedMethods": {
            "Quantity": len(methods),
            "Items": methods,
            "CachedMethods": {"Quantity": len(cached), "Items": cached},
        },
        "CachePolicyId": cache_policy,
        "Compress": compress,
    }
    if key_groups:
        behavior["TrustedKeyGroups"] = {"Enabled": True, "Quantity": len(key_groups), "Items": key_groups}
    config = {
        "CallerReference": unique("ref"),
        "Comment": "coffer edge test",
        "Enabled": True,
        "DefaultRootObject": root_object,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3origin",
                    "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": behavior,
    }
    if aliases:
        config["Aliases"] = {"Quantity": len(aliases), "Items": aliases}
    if viewer_certificate:
        config["ViewerCertificate"] = viewer_certificate
    if error_ttl is not None:
        config["CustomErrorResponses"] = {
            "Quantity": 1,
            "Items": [{"ErrorCode": 404, "ErrorCachingMinTTL": error_ttl}],
        }
    d = cf.create_distribution(DistributionConfig=config)["Distribution"]
    wait_until(
        lambda: cf.get_distribution(Id=d["Id"])["Distribution"]["Status"] == "Deployed",
        what="the distribution to deploy",
    )
    return d


def allow_distribution_in_bucket(server, bucket, dist_arns, actions=("s3:GetObject",)):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowCloudFrontServicePrincipal",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": list(actions),
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": dist_arns}},
            }
        ],
    }
    server.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def allow_distribution_in_key(server, key_arn, dist_arns, actions=("kms:Decrypt",)):
    """The tutorial's key policy: the account's root, plus CloudFront for these distributions via S3 only."""
    account = account_of(server)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowCloudFrontServicePrincipalSSE-KMS",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": list(actions),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "AWS:SourceArn": dist_arns,
                        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
                    }
                },
            },
        ],
    }
    server.client("kms").put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))


def tutorial_setup(server, **kw):
    bucket = unique("private-files-")
    key_arn = private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    d = create_distribution(server, bucket, oac, **kw)
    allow_distribution_in_bucket(server, bucket, [d["ARN"]])
    allow_distribution_in_key(server, key_arn, [d["ARN"]])
    return bucket, key_arn, oac, d


def test_tutorial_000_private_bucket_behind_cloudfront_with_oac(server):
    bucket, key_arn, oac, d = tutorial_setup(server)
    host = d["DomainName"]
    assert host.endswith(".cloudfront.localhost")
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="test.txt", Body=b"hello from a private bucket\n", ContentType="text/plain")

    # The object is encrypted with the customer-managed key.
    _, head, _ = server.aws("s3api", "head-object", "--bucket", bucket, "--key", "test.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head["BucketKeyEnabled"] is True

    # HTTPS through the edge: a miss, then a hit.
    first = viewer(server.edge, host, "/test.txt")
    assert first.status == 200, first
    assert first.body == b"hello from a private bucket\n"
    assert first.headers["x-cache"] == "Miss from cloudfront"
    assert first.headers["via"].endswith("(CloudFront)")
    assert len(first.headers["x-amz-cf-id"]) == 56
    second = viewer(server.edge, host, "/test.txt")
    assert second.status == 200 and second.body == first.body
    assert second.headers["x-cache"] == "Hit from cloudfront"
    assert int(second.headers["age"]) >= 0

    # HTTP is redirected to HTTPS on the edge's HTTPS port.
    plain = viewer(server.edge, host, "/test.txt?x=1", https=False)
    assert plain.status == 301
    assert plain.headers["location"] == f"https://{host}:{server.edge['https'][1]}/test.txt?x=1"

    # The bucket itself is private: an anonymous GET straight to S3 is refused.
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{server.endpoint}/{bucket}/test.txt", timeout=10)
    assert denied.value.code == 403

    # CloudTrail shows the Decrypt S3 made for CloudFront, with the distribution as its source.
    def decrypt_for_distribution():
        _, out, _ = server.aws(
            "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Decrypt"
        )
        for e in out["Events"]:
            event = json.loads(e["CloudTrailEvent"])
            if (event.get("additionalEventData") or {}).get("sourceArn") == d["ARN"]:
                return event
        return None

    event = wait_until(decrypt_for_distribution, what="the Decrypt event made through S3 for the distribution")
    assert event["userIdentity"]["type"] == "AWSService"
    assert event["userIdentity"]["invokedBy"] == "s3.amazonaws.com"
    assert event["additionalEventData"]["sourceAccount"] == account_of(server)
    assert event["resources"][0]["ARN"] == key_arn
    # The object read itself is recorded as CloudFront's, for the distribution.
    _, out, _ = server.aws(
        "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=GetObject"
    )
    reads = [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]
    assert any(
        r["userIdentity"].get("invokedBy") == "cloudfront.amazonaws.com"
        and (r.get("additionalEventData") or {}).get("sourceArn") == d["ARN"]
        for r in reads
    )


def test_pitfall_a_distribution_missing_from_the_key_policy_gets_403(server):
    bucket, key_arn, oac, d = tutorial_setup(server)
    server.client("s3").put_object(Bucket=bucket, Key="doc.pdf", Body=b"%PDF-1.7 private")
    other = create_distribution(server, bucket, oac)
    # The bucket policy lets both in, but the key policy names only the first distribution.
    allow_distribution_in_bucket(server, bucket, [d["ARN"], other["ARN"]])
    denied = viewer(server.edge, other["DomainName"], "/doc.pdf")
    assert denied.status == 403, denied
    assert b"AccessDenied" in denied.body or b"KMS" in denied.body
    assert viewer(server.edge, d["DomainName"], "/doc.pdf").status == 200


def test_pitfall_cached_errors_persist_until_invalidated(server):
    bucket, key_arn, oac, d = tutorial_setup(server, error_ttl=300)
    host = d["DomainName"]
    # Without s3:ListBucket, S3 answers a missing key with 403; grant it so the miss is a 404, as in the tutorial.
    policy = json.loads(server.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringEquals": {"AWS:SourceArn": d["ARN"]}},
        }
    )
    server.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    missing = viewer(server.edge, host, "/late.txt")
    assert missing.status == 404 and missing.headers["x-cache"] == "Error from cloudfront"
    server.client("s3").put_object(Bucket=bucket, Key="late.txt", Body=b"now it exists")
    # The cached 404 keeps being served (ErrorCachingMinTTL 300 s)...
    again = viewer(server.edge, host, "/late.txt")
    assert again.status == 404 and again.headers["x-cache"] == "Error from cloudfront"
    # ...until an invalidation of /* clears it.
    _, out, _ = server.aws(
        "cloudfront", "create-invalidation", "--distribution-id", d["Id"], "--paths", "/*"
    )
    assert out["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    fixed = wait_until(
        lambda: (lambda r: r if r.status == 200 else None)(viewer(server.edge, host, "/late.txt")),
        timeout=1.0,
        what="the invalidation to reach the edge within a second",
    )
    assert fixed.body == b"now it exists"


def test_tutorial_002_put_get_delete_through_the_edge(server):
    bucket = unique("uploads-")
    key_arn = private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    d = create_distribution(server, bucket, oac, methods=ALL_METHODS, cache_policy=CACHING_DISABLED)
    host = d["DomainName"]
    allow_distribution_in_bucket(server, bucket, [d["ARN"]], actions=("s3:GetObject", "s3:PutObject", "s3:DeleteObject"))
    # First without the KMS permissions to encrypt: the upload is refused.
    allow_distribution_in_key(server, key_arn, [d["ARN"]], actions=("kms:Decrypt",))
    body = json.dumps({"id": 1, "note": "uploaded through the edge"}).encode()
    refused = viewer(server.edge, host, "/test1.json", method="PUT", body=body,
                     headers={"Content-Type": "application/json"})
    assert refused.status == 403, refused
    allow_distribution_in_key(
        server, key_arn, [d["ARN"]], actions=("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*")
    )
    put = viewer(server.edge, host, "/test1.json", method="PUT", body=body, headers={"Content-Type": "application/json"})
    assert put.status == 200, put
    head = server.client("s3").head_object(Bucket=bucket, Key="test1.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    got = viewer(server.edge, host, "/test1.json")
    assert got.status == 200 and got.body == body
    assert got.headers["content-type"] == "application/json"
    # POST is not how S3 uploads objects.
    assert viewer(server.edge, host, "/test2.json", method="POST", body=b"{}").status in (400, 405)
    deleted = viewer(server.edge, host, "/test1.json", method="DELETE")
    assert deleted.status == 204, deleted
    assert viewer(server.edge, host, "/test1.json").status in (403, 404)


def test_writes_through_a_caching_edge_invalidate_their_path(server):
    bucket = unique("rw-")
    key_arn = private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    d = create_distribution(server, bucket, oac, methods=ALL_METHODS)
    host = d["DomainName"]
    allow_distribution_in_bucket(server, bucket, [d["ARN"]], actions=("s3:GetObject", "s3:PutObject"))
    allow_distribution_in_key(server, key_arn, [d["ARN"]], actions=("kms:Decrypt", "kms:GenerateDataKey*"))
    assert viewer(server.edge, host, "/a.txt", method="PUT", body=b"one").status == 200
    assert viewer(server.edge, host, "/a.txt").body == b"one"
    assert viewer(server.edge, host, "/a.txt").headers["x-cache"] == "Hit from cloudfront"
    assert viewer(server.edge, host, "/a.txt", method="PUT", body=b"two").status == 200
    after = viewer(server.edge, host, "/a.txt")
    assert after.body == b"two" and after.headers["x-cache"] == "Miss from cloudfront"


def test_viewer_policies_methods_ranges_conditionals_and_compression(server):
    bucket, key_arn, oac, d = tutorial_setup(server, policy="https-only", root_object="index.html")
    host = d["DomainName"]
    s3 = server.client("s3")
    text = ("coffer " * 400).encode()
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="big.txt", Body=text, ContentType="text/plain")
    # https-only refuses plain HTTP.
    assert viewer(server.edge, host, "/big.txt", https=False).status == 403
    # Only GET and HEAD are allowed.
    assert viewer(server.edge, host, "/big.txt", method="PUT", body=b"x").status == 403
    # The default root object.
    assert viewer(server.edge, host, "/").body == b"<h1>home</h1>"
    # Ranges are served from the cache.
    full = viewer(server.edge, host, "/big.txt")
    part = viewer(server.edge, host, "/big.txt", headers={"Range": "bytes=7-12"})
    assert part.status == 206 and part.body == text[7:13]
    assert part.headers["content-range"] == f"bytes 7-12/{len(text)}"
    assert part.headers["x-cache"] == "Hit from cloudfront"
    # Conditional requests.
    etag = full.headers["etag"]
    assert viewer(server.edge, host, "/big.txt", headers={"If-None-Match": etag}).status == 304
    # HEAD.
    head = viewer(server.edge, host, "/big.txt", method="HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) == len(text)
    # Compression for viewers that accept it (CachingOptimized enables gzip and brotli).
    gz = viewer(server.edge, host, "/big.txt", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz.body) == text
    br = viewer(server.edge, host, "/big.txt", headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br" and len(br.body) < len(text) // 10
    # Unknown hosts are refused, and so is a request path that is not a path.
    assert viewer(server.edge, "nope.cloudfront.localhost", "/big.txt").status == 403
    assert viewer(server.edge, host, "*", method="OPTIONS").status == 400


def test_concurrent_misses_collapse_into_one_origin_request(server):
    bucket, key_arn, oac, d = tutorial_setup(server)
    host = d["DomainName"]
    body = bytes(range(256)) * 4096
    server.client("s3").put_object(Bucket=bucket, Key="hot.bin", Body=body)
    before = server.metric("coffer_edge_origin_requests_total")
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(lambda _: viewer(server.edge, host, "/hot.bin", timeout=60), range(200)))
    assert all(r.status == 200 and r.body == body for r in results)
    assert server.metric("coffer_edge_origin_requests_total") - before == 1
    assert sum(r.headers["x-cache"] == "Miss from cloudfront" for r in results) == 1


def test_signed_urls_from_aws_cloudfront_sign(server, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = tmp_path / "private.pem"
    private_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    cf = server.client("cloudfront")
    pk = cf.create_public_key(
        PublicKeyConfig={"CallerReference": unique("pk"), "Name": unique("pk"), "EncodedKey": public_pem}
    )["PublicKey"]["Id"]
    group = cf.create_key_group(KeyGroupConfig={"Name": unique("kg"), "Items": [pk]})["KeyGroup"]["Id"]
    bucket, key_arn, oac, d = tutorial_setup(server, key_groups=[group])
    host = d["DomainName"]
    server.client("s3").put_object(Bucket=bucket, Key="invoice.pdf", Body=b"%PDF private invoice")
    port = server.edge["https"][1]

    assert viewer(server.edge, host, "/invoice.pdf").status == 403

    def sign(url, expires):
        _, out, _ = server.aws(
            "cloudfront", "sign", "--url", url, "--key-pair-id", pk,
            "--private-key", f"file://{private_pem}", "--date-less-than", str(expires),
        )
        return out if isinstance(out, str) else str(out)

    url = sign(f"https://{host}:{port}/invoice.pdf", int(time.time()) + 600).strip()
    path = url.split(f":{port}", 1)[1]
    ok = viewer(server.edge, host, path)
    assert ok.status == 200 and ok.body == b"%PDF private invoice", ok
    # Altered: another object with the same signature.
    assert viewer(server.edge, host, path.replace("invoice.pdf", "other.pdf")).status == 403
    tampered = path.replace("Signature=", "Signature=A")
    assert viewer(server.edge, host, tampered).status == 403
    # Expired.
    old = sign(f"https://{host}:{port}/invoice.pdf", int(time.time()) - 10).strip()
    assert viewer(server.edge, host, old.split(f":{port}", 1)[1]).status == 403

    # Signed cookies with a custom policy (botocore's CloudFrontSigner), covering a whole prefix.
    import datetime

    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signer = CloudFrontSigner(pk, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()))
    server.client("s3").put_object(Bucket=bucket, Key="docs/a.pdf", Body=b"%PDF a")
    policy = signer.build_policy(
        f"https://{host}:{port}/docs/*",
        datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10),
    ).encode()
    cookies = "; ".join(
        [
            "session=abc",
            f"CloudFront-Policy={signer._url_b64encode(policy).decode()}",
            f"CloudFront-Signature={signer._url_b64encode(signer.rsa_signer(policy)).decode()}",
            f"CloudFront-Key-Pair-Id={pk}",
        ]
    )
    with_cookies = viewer(server.edge, host, "/docs/a.pdf", headers={"Cookie": cookies})
    assert with_cookies.status == 200 and with_cookies.body == b"%PDF a", with_cookies
    # The policy covers /docs/* only.
    assert viewer(server.edge, host, "/invoice.pdf", headers={"Cookie": cookies}).status == 403


def test_a_second_edge_process_serves_the_distribution_and_honours_invalidations(server, tmp_path):
    bucket, key_arn, oac, d = tutorial_setup(server)
    host = d["DomainName"]
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"v1", ContentType="text/html")
    edge_dir = tmp_path / "edge2"
    log = open(tmp_path / "edge2.log", "wb")
    proc = subprocess.Popen(
        [BIN, "edge", "--api", server.endpoint, "--credentials", str(server.data_dir / "edge-credentials"),
         "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--dir", str(edge_dir), "--cache-disk-mb", "64",
         "--access-log"],
        stdout=log, stderr=log,
    )
    try:
        endpoints_file = edge_dir / "edge-endpoints"
        wait_until(lambda: endpoints_file.exists() or proc.poll() is not None, what="the edge to start")
        assert proc.poll() is None, (tmp_path / "edge2.log").read_text()
        edge2 = read_edge_endpoints(endpoints_file)
        first = wait_until(
            lambda: (lambda r: r if r.status == 200 else None)(viewer(edge2, host, "/page.html")),
            what="the second edge to serve the distribution",
        )
        assert first.body == b"v1"
        assert viewer(edge2, host, "/page.html").headers["x-cache"] == "Hit from cloudfront"
        s3.put_object(Bucket=bucket, Key="page.html", Body=b"v2", ContentType="text/html")
        assert viewer(edge2, host, "/page.html").body == b"v1"
        server.aws("cloudfront", "create-invalidation", "--distribution-id", d["Id"], "--paths", "/page.html")
        fresh = wait_until(
            lambda: (lambda r: r if r.body == b"v2" else None)(viewer(edge2, host, "/page.html")),
            timeout=1.0,
            what="the invalidation to reach the second edge within a second",
        )
        assert fresh.headers["x-cache"] == "Miss from cloudfront"
        # Its access log has CloudFront's standard fields.
        log_file = edge_dir / "access.log"
        lines = wait_until(
            lambda: [l for l in log_file.read_text().splitlines() if "/page.html" in l] if log_file.exists() else None,
            what="access log lines",
        )
        assert log_file.read_text().startswith("#Version: 1.0\n#Fields: date time x-edge-location")
        fields = lines[-1].split("\t")
        assert len(fields) == 33 and fields[5] == "GET" and fields[7] == "/page.html"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_edge_feed_is_only_for_the_edge_identity(server):
    # An account's root user may not read every account's distributions and certificate keys.
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    akid, secret = server.root_keys()
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"{server.endpoint}/edge/state?cursor=0")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(akid, secret), "coffer-edge", REGION).add_auth(req)
    prepared = urllib.request.Request(req.url, headers=dict(req.headers), method="GET")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(prepared, timeout=10)
    assert denied.value.code == 403


def self_signed(name):
    """A certificate and key for `name` (PEM), as a customer would import into ACM."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def test_aliases_get_their_imported_certificate_by_sni_and_minimum_tls_version(fresh_server, tmp_path):
    import ssl

    alias = f"{unique('cdn')}.example.test"
    cert_pem, key_pem = self_signed(alias)
    # An alias needs a certificate that chains to a trusted root: the operator trusts this one as its own CA.
    (tmp_path / "alias-ca.pem").write_bytes(cert_pem)
    server = fresh_server(config_text=f'[edge]\nalias_ca_file = "{tmp_path / "alias-ca.pem"}"\n')
    arn = server.client("acm").import_certificate(Certificate=cert_pem, PrivateKey=key_pem)["CertificateArn"]
    bucket = unique("tls-")
    key_arn = private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    d = create_distribution(
        server, bucket, oac, aliases=[alias],
        viewer_certificate={
            "ACMCertificateArn": arn,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.3_2025",
        },
    )
    allow_distribution_in_bucket(server, bucket, [d["ARN"]])
    allow_distribution_in_key(server, key_arn, [d["ARN"]])
    server.client("s3").put_object(Bucket=bucket, Key="logo.svg", Body=b"<svg/>", ContentType="image/svg+xml")

    # A client that trusts only the imported certificate verifies the alias's handshake.
    strict = ssl.create_default_context(cadata=cert_pem.decode())
    r = viewer(server.edge, alias, "/logo.svg", tls_context=strict)
    assert r.status == 200 and r.body == b"<svg/>"
    # The distribution's floor is TLS 1.3: a TLS 1.2 client is refused during the handshake...
    old = ssl.create_default_context(cadata=cert_pem.decode())
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        viewer(server.edge, alias, "/logo.svg", tls_context=old)
    # ...while names without such a floor still take TLS 1.2 with the edge's default certificate.
    legacy = ssl.create_default_context()
    legacy.check_hostname = False
    legacy.verify_mode = ssl.CERT_NONE
    legacy.maximum_version = ssl.TLSVersion.TLSv1_2
    assert viewer(server.edge, "unknown.cloudfront.localhost", "/", tls_context=legacy).status == 403


def test_an_edge_keeps_serving_its_cache_while_the_api_is_down(fresh_server, tmp_path):
    server = fresh_server()
    bucket, key_arn, oac, d = tutorial_setup(server)
    host = d["DomainName"]
    server.client("s3").put_object(Bucket=bucket, Key="cached.txt", Body=b"still here")
    edge_dir = tmp_path / "edge"
    log = open(tmp_path / "edge.log", "wb")
    proc = subprocess.Popen(
        [BIN, "edge", "--api", server.endpoint, "--credentials", str(server.data_dir / "edge-credentials"),
         "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--dir", str(edge_dir), "--cache-disk-mb", "0"],
        stdout=log, stderr=log,
    )
    try:
        endpoints_file = edge_dir / "edge-endpoints"
        wait_until(lambda: endpoints_file.exists() or proc.poll() is not None, what="the edge to start")
        edge = read_edge_endpoints(endpoints_file)
        wait_until(lambda: viewer(edge, host, "/cached.txt").status == 200, what="the edge to serve")
        assert server.stop() == 0
        during = viewer(edge, host, "/cached.txt")
        assert during.status == 200 and during.body == b"still here"
        assert during.headers["x-cache"] == "Hit from cloudfront"
        # What it never cached cannot be fetched while the origin is away.
        assert viewer(edge, host, "/never-fetched.txt").status == 502
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_custom_cache_policy_origin_max_age_and_refresh_hits(server):
    cf = server.client("cloudfront")
    policy_id = cf.create_cache_policy(
        CachePolicyConfig={
            "Name": unique("short"),
            "MinTTL": 0,
            "DefaultTTL": 60,
            "MaxTTL": 3600,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": False,
                "EnableAcceptEncodingBrotli": False,
                "HeadersConfig": {"HeaderBehavior": "none"},
                "CookiesConfig": {"CookieBehavior": "none"},
                "QueryStringsConfig": {"QueryStringBehavior": "whitelist",
                                       "QueryStrings": {"Quantity": 1, "Items": ["v"]}},
            },
        }
    )["CachePolicy"]["Id"]
    bucket, key_arn, oac, d = tutorial_setup(server, cache_policy=policy_id)
    host = d["DomainName"]
    server.client("s3").put_object(Bucket=bucket, Key="feed.json", Body=b"{}", CacheControl="max-age=1")
    assert viewer(server.edge, host, "/feed.json?v=1&utm=x").headers["x-cache"] == "Miss from cloudfront"
    # `utm` is not in the cache key; `v` is.
    assert viewer(server.edge, host, "/feed.json?utm=y&v=1").headers["x-cache"] == "Hit from cloudfront"
    assert viewer(server.edge, host, "/feed.json?v=2").headers["x-cache"] == "Miss from cloudfront"
    # After the origin's max-age of one second the edge asks the origin again, which answers 304: a refresh hit.
    refreshed = wait_until(
        lambda: (lambda r: r if r.headers["x-cache"] == "RefreshHit from cloudfront" else None)(
            viewer(server.edge, host, "/feed.json?v=1")
        ),
        timeout=10,
        what="a refresh hit after max-age",
    )
    assert refreshed.status == 200 and refreshed.body == b"{}"


# These origins run on this host: the operator has to allow loopback for custom origins (they are refused by
# default, see test_attack_edge.py).
LOOPBACK_ORIGINS = '[edge]\norigin_allow_networks = ["127.0.0.0/8"]\n'


def test_custom_http_origin_with_origin_path_and_path_behaviors(fresh_server):
    import http.server
    import threading

    server = fresh_server(config_text=LOOPBACK_ORIGINS)

    seen, secrets = [], []

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            secrets.append(self.headers.get("X-Origin-Secret"))
            if self.path.startswith("/static/api/slow"):
                # Longer than the origin's OriginReadTimeout of one second.
                time.sleep(2.5)
            body = f"origin saw {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=300")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        cf = server.client("cloudfront")
        behavior = lambda pattern, policy: {  # noqa: E731
            **({"PathPattern": pattern} if pattern else {}),
            "TargetOriginId": "app",
            "ViewerProtocolPolicy": "allow-all",
            "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}},
            "CachePolicyId": policy,
        }
        d = cf.create_distribution(DistributionConfig={
            "CallerReference": unique("custom"),
            "Comment": "custom origin",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "app",
                "DomainName": "localhost",
                "OriginPath": "/static",
                "CustomHeaders": {"Quantity": 1, "Items": [{"HeaderName": "X-Origin-Secret",
                                                            "HeaderValue": "only-from-the-cdn"}]},
                "CustomOriginConfig": {"HTTPPort": httpd.server_address[1], "HTTPSPort": 443,
                                       "OriginProtocolPolicy": "http-only", "OriginReadTimeout": 1},
            }]},
            "DefaultCacheBehavior": behavior(None, CACHING_OPTIMIZED),
            "CacheBehaviors": {"Quantity": 1, "Items": [behavior("/api/*", CACHING_DISABLED)]},
        })["Distribution"]
        wait_until(lambda: viewer(server.edge, d["DomainName"], "/x").status != 403, what="the distribution")
        host = d["DomainName"]
        first = viewer(server.edge, host, "/css/site.css", https=False)
        assert first.status == 200 and first.body == b"origin saw /static/css/site.css"
        assert viewer(server.edge, host, "/css/site.css", https=False).headers["x-cache"] == "Hit from cloudfront"
        # /api/* uses CachingDisabled: every request reaches the origin.
        for _ in range(2):
            r = viewer(server.edge, host, "/api/now?x=1", https=False)
            assert r.status == 200 and r.headers["x-cache"] == "Miss from cloudfront"
        assert seen.count("/static/css/site.css") == 1
        assert seen.count("/static/api/now?x=1") == 2
        # An origin slower than its OriginReadTimeout gets the viewer CloudFront's 504.
        slow = viewer(server.edge, host, "/api/slow", https=False)
        assert slow.status == 504 and slow.headers["x-cache"] == "Error from cloudfront"
        # The origin's CustomHeaders go with every origin request.
        assert secrets and all(s == "only-from-the-cdn" for s in secrets)
    finally:
        httpd.shutdown()


def test_https_custom_origin_is_verified_against_trusted_roots(fresh_server, tmp_path):
    import http.server
    import ssl
    import threading

    cert_pem, key_pem = self_signed("localhost")
    (tmp_path / "origin.crt").write_bytes(cert_pem)
    (tmp_path / "origin.key").write_bytes(key_pem)

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"over TLS"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "origin.crt", tmp_path / "origin.key")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def distribution(s):
        d = s.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": unique("tls-origin"),
            "Comment": "https origin",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "app",
                "DomainName": "localhost",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": httpd.server_address[1],
                                       "OriginProtocolPolicy": "https-only"},
            }]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "app",
                "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": CACHING_DISABLED,
            },
        })["Distribution"]
        wait_until(lambda: viewer(s.edge, d["DomainName"], "/x", https=False).status != 403,
                   what="the distribution")
        return d["DomainName"]

    try:
        # An edge that trusts the origin's CA (`[edge] origin_ca_file`) fetches over HTTPS.
        trusting = fresh_server(config_text=LOOPBACK_ORIGINS + f'origin_ca_file = "{tmp_path / "origin.crt"}"\n')
        host = distribution(trusting)
        r = viewer(trusting.edge, host, "/hello", https=False)
        assert r.status == 200 and r.body == b"over TLS", r
        # One that does not refuses the unverifiable origin: 502, as CloudFront answers a bad origin certificate.
        server = fresh_server(config_text=LOOPBACK_ORIGINS)
        host = distribution(server)
        assert viewer(server.edge, host, "/hello", https=False).status == 502
    finally:
        httpd.shutdown()
