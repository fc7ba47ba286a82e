"""S3 end to end with the real aws CLI and boto3 against the built binary: buckets, objects, listing,
multipart (a 100 MiB `aws s3 cp`), sync, presigned URLs, bucket policies from the tutorials, Block Public
Access, and the unsigned-header rule."""

import json
import os
import http.client
import urllib.parse
import urllib.request
import urllib.error

import botocore.exceptions
import pytest

from conftest import unique


def bucket_name(prefix="b"):
    return unique(prefix).lower()


def error_code(exc):
    return exc.response["Error"]["Code"]


def test_cli_mb_cp_ls_rm(server, tmp_path):
    b = bucket_name("cli")
    server.aws("s3", "mb", f"s3://{b}")
    src = tmp_path / "hello.txt"
    src.write_text("hello coffer\n")
    server.aws("s3", "cp", str(src), f"s3://{b}/dir/hello.txt")
    _, out, _ = server.aws("s3", "ls", f"s3://{b}/dir/")
    assert "hello.txt" in out
    dst = tmp_path / "back.txt"
    server.aws("s3", "cp", f"s3://{b}/dir/hello.txt", str(dst))
    assert dst.read_text() == "hello coffer\n"
    server.aws("s3", "rm", f"s3://{b}/dir/hello.txt")
    server.aws("s3", "rb", f"s3://{b}")


def test_cli_multipart_100_mib(server, tmp_path):
    b = bucket_name("mp")
    server.aws("s3", "mb", f"s3://{b}")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for i in range(100):
            f.write(os.urandom(1 << 20))
    server.aws("s3", "cp", str(big), f"s3://{b}/big.bin")
    s3 = server.client("s3")
    head = s3.head_object(Bucket=b, Key="big.bin")
    assert head["ContentLength"] == 100 << 20
    assert "-" in head["ETag"], "a multipart upload has a multipart ETag"
    assert head["ServerSideEncryption"] in ("AES256", "aws:kms")
    back = tmp_path / "back.bin"
    server.aws("s3", "cp", f"s3://{b}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()


def test_cli_sync_and_presign(server, tmp_path):
    b = bucket_name("sync")
    server.aws("s3", "mb", f"s3://{b}")
    d = tmp_path / "site"
    (d / "a").mkdir(parents=True)
    (d / "a" / "one.txt").write_text("1")
    (d / "two.txt").write_text("2")
    server.aws("s3", "sync", str(d), f"s3://{b}/site")
    keys = sorted(o["Key"] for o in server.client("s3").list_objects_v2(Bucket=b)["Contents"])
    assert keys == ["site/a/one.txt", "site/two.txt"]
    _, url, _ = server.aws("s3", "presign", f"s3://{b}/site/two.txt", "--expires-in", "300")
    url = url.strip() if isinstance(url, str) else str(url)
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"2"


def test_boto3_objects_versions_tagging(server):
    b = bucket_name("obj")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    put = s3.put_object(Bucket=b, Key="k", Body=b"hello", Metadata={"colour": "grey"}, ContentType="text/plain",
                        Tagging="project=blue")
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=b, Key="k", Range="bytes=1-3")
    assert got["Body"].read() == b"ell"
    assert got["Metadata"] == {"colour": "grey"}
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "project", "Value": "blue"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"again", IfNoneMatch="*")
    assert error_code(e.value) == "PreconditionFailed"
    s3.copy_object(Bucket=b, Key="k2", CopySource={"Bucket": b, "Key": "k"})
    assert s3.get_object(Bucket=b, Key="k2")["Body"].read() == b"hello"
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=b, Key="v", Body=b"two")
    assert s3.get_object(Bucket=b, Key="v", VersionId=v1)["Body"].read() == b"one"
    s3.delete_object(Bucket=b, Key="v")
    versions = s3.list_object_versions(Bucket=b, Prefix="v")
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k"}, {"Key": "k2"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["k", "k2"]
    attrs = s3.get_object_attributes(Bucket=b, Key="v", VersionId=v1, ObjectAttributes=["ObjectSize", "ETag"])
    assert attrs["ObjectSize"] == 3


def test_new_bucket_is_private(server):
    b = bucket_name("priv")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    bpa = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    assert all(bpa.values())
    oc = s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"][0]
    assert oc["ObjectOwnership"] == "BucketOwnerEnforced"
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="x", Body=b"x", ACL="public-read")
    assert error_code(e.value) == "AccessControlListNotSupported"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{b}/*"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert error_code(e.value) == "AccessDenied"
    s3.put_object(Bucket=b, Key="x", Body=b"x")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{server.endpoint}/{b}/x")
    assert e.value.code == 403
    # BPA off + public policy: anonymous reads work.
    s3.delete_public_access_block(Bucket=b)
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True
    with urllib.request.urlopen(f"{server.endpoint}/{b}/x") as r:
        assert r.read() == b"x"


def test_tutorial_policy_requires_sse_header(server):
    b = bucket_name("tut")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="plain", Body=b"x")
    assert error_code(e.value) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="aes", Body=b"x", ServerSideEncryption="AES256")
    assert error_code(e.value) == "AccessDenied"
    ok = s3.put_object(Bucket=b, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert ok["ServerSideEncryption"] == "aws:kms"


def test_tutorial_policy_requires_specific_key(server):
    b = bucket_name("tutkey")
    s3 = server.client("s3")
    kms = server.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    other = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=b)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}}]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="o", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=other)
    assert error_code(e.value) == "AccessDenied"
    ok = s3.put_object(Bucket=b, Key="o", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    assert ok["SSEKMSKeyId"] == key_arn


def test_presigned_put_with_unsigned_copy_source_is_refused(server):
    b = bucket_name("pre")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="secret", Body=b"secret")
    # SigV4: an x-amz-* header the signature does not list is refused as AWS words it.
    v4 = server.client("s3", signature_version="s3v4")
    url = v4.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "dest"}, ExpiresIn=300)
    req = urllib.request.Request(url, data=b"data", method="PUT", headers={"x-amz-copy-source": f"/{b}/secret"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert b"not signed" in e.value.read()
    # SigV2 (the default presign of the aws CLI v1 and boto3 in us-east-1) signs every x-amz-* header, so the
    # added header breaks the signature.
    v2_url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "dest"}, ExpiresIn=300)
    req = urllib.request.Request(v2_url, data=b"data", method="PUT", headers={"x-amz-copy-source": f"/{b}/secret"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=b, Key="dest")
    for good in (url, v2_url):
        # Sent as a presigned URL is meant to be used: no headers beyond what was signed (urllib would add a
        # Content-Type, which SigV2 signs).
        parsed = urllib.parse.urlsplit(good)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        conn.request("PUT", f"{parsed.path}?{parsed.query}", body=b"data", headers={"Content-Length": "4"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        conn.close()
    assert s3.get_object(Bucket=b, Key="dest")["Body"].read() == b"data"


def test_bad_input_codes(server):
    s3 = server.client("s3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Bad_Bucket_Name")
    assert error_code(e.value) in ("InvalidBucketName",)
    b = bucket_name("bad")
    s3.create_bucket(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="m", Body=b"x", Metadata={"big": "x" * 3000})
    assert error_code(e.value) == "MetadataTooLarge"
    s3.put_object(Bucket=b, Key="r", Body=b"hello")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="r", Range="bytes=100-200")
    assert error_code(e.value) == "InvalidRange"


def test_s3_calls_are_audited(server):
    b = bucket_name("aud")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    ct = server.client("cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}])
    names = {e["EventName"] for e in events["Events"]}
    assert "CreateBucket" in names


def test_boto3_crc32_trailer_round_trip(server):
    """PutObject with ChecksumAlgorithm=CRC32: the stored CRC32 is the client's. Over plain HTTP
    botocore sends it as a header, so a second put forces the aws-chunked trailer TLS would use."""
    import base64
    import zlib

    b = bucket_name("crc")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=b)
    body = os.urandom(300_000)
    want = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()

    def as_trailer(params, **_):
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    trailed = server.client("s3")
    trailed.meta.events.register("before-call.s3.PutObject", as_trailer)
    for client, key in ((s3, "header"), (trailed, "trailer")):
        out = client.put_object(Bucket=b, Key=key, Body=body, ChecksumAlgorithm="CRC32")
        assert out["ChecksumCRC32"] == want
        head = s3.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == want
        assert s3.get_object(Bucket=b, Key=key)["Body"].read() == body
