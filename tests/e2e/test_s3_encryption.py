"""S3 server-side encryption end to end with boto3 and the aws CLI against the built binary: the matrix
{none requested, SSE-S3, SSE-KMS, SSE-KMS + Bucket Key (bucket default and per-request header), SSE-C} ×
{put, get, range get, head, multipart, copy} with the right bytes and response headers; bucket default
encryption; copy-in-place re-encryption; the tutorial's steps; KMS authorization of reads through S3
(key policies, kms:ViaService, CloudTrail); and SSE bad inputs with AWS's codes."""

import base64
import hashlib
import json
import os

import botocore.exceptions
import pytest

from conftest import unique, wait_until

MIB = 1 << 20


def bucket_name(prefix="enc"):
    return unique(prefix).lower()


def error_code(exc):
    return exc.response["Error"]["Code"]


def pattern(n, seed):
    """`n` deterministic, position-dependent bytes, so a misplaced range or segment shows."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


class Sse:
    """One encryption mode of the matrix: what to send on writes and reads, and the headers expected back."""

    def __init__(self, name, put=None, read=None, algorithm=None, key_arn=None, bucket_key=False, md5=None,
                 bucket_default=None):
        self.name = name
        self.put = put or {}
        self.read = read or {}
        self.algorithm = algorithm
        self.key_arn = key_arn
        self.bucket_key = bucket_key
        self.md5 = md5
        self.bucket_default = bucket_default

    def copy_source_args(self):
        return {"CopySource" + k: v for k, v in self.read.items()}

    def check(self, resp, what):
        """The SSE response headers of `resp` (PUT, GET, HEAD, copy, multipart) are exactly this mode's."""
        ctx = f"{self.name} {what}: {resp.get('ResponseMetadata', {}).get('HTTPHeaders')}"
        assert resp.get("ServerSideEncryption") == self.algorithm, ctx
        assert resp.get("SSEKMSKeyId") == self.key_arn, ctx
        assert bool(resp.get("BucketKeyEnabled", False)) == self.bucket_key, ctx
        if self.md5:
            assert resp.get("SSECustomerAlgorithm") == "AES256", ctx
            assert resp.get("SSECustomerKeyMD5") == self.md5, ctx
        else:
            assert "SSECustomerAlgorithm" not in resp and "SSECustomerKeyMD5" not in resp, ctx


def customer_key(seed):
    key = hashlib.sha256(f"sse-c:{seed}".encode()).digest()
    return key, base64.b64encode(hashlib.md5(key).digest()).decode()


@pytest.fixture(scope="module")
def kms_key(server):
    return server.client("kms").create_key(Description="s3 matrix")["KeyMetadata"]


def modes(kms_key):
    arn = kms_key["Arn"]
    ck, md5 = customer_key("matrix")
    c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": ck}
    return {
        "none": Sse("none", algorithm="AES256"),
        "sse-s3": Sse("sse-s3", put={"ServerSideEncryption": "AES256"}, algorithm="AES256"),
        # The key named by its bare id: the response names it by its full ARN.
        "sse-kms": Sse("sse-kms", put={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key["KeyId"]},
                       algorithm="aws:kms", key_arn=arn),
        "kms-bucket-key-header": Sse(
            "kms-bucket-key-header",
            put={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn, "BucketKeyEnabled": True},
            algorithm="aws:kms", key_arn=arn, bucket_key=True),
        "kms-bucket-key-default": Sse(
            "kms-bucket-key-default", algorithm="aws:kms", key_arn=arn, bucket_key=True,
            bucket_default={"Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}, "BucketKeyEnabled": True}]}),
        "sse-c": Sse("sse-c", put=dict(c), read=dict(c), md5=md5),
    }


MODES = ["none", "sse-s3", "sse-kms", "kms-bucket-key-header", "kms-bucket-key-default", "sse-c"]


def make_bucket(s3, mode):
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    if mode.bucket_default:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=mode.bucket_default)
    return b


@pytest.mark.parametrize("name", MODES)
def test_put_get_range_head(server, kms_key, name):
    mode = modes(kms_key)[name]
    s3 = server.client("s3")
    b = make_bucket(s3, mode)
    for key, size in (("small", 1000), ("large", 300 * 1024 + 17), ("empty", 0)):
        body = pattern(size, f"{name}:{key}")
        mode.check(s3.put_object(Bucket=b, Key=key, Body=body, **mode.put), f"put {key}")
        got = s3.get_object(Bucket=b, Key=key, **mode.read)
        assert got["Body"].read() == body, f"{name} {key}"
        mode.check(got, f"get {key}")
        head = s3.head_object(Bucket=b, Key=key, **mode.read)
        assert head["ContentLength"] == size
        mode.check(head, f"head {key}")
        if size == 0:
            continue
        ranges = [(0, 0), (size // 3, size // 2), (size - 1, size - 1)]
        if size > 200 * 1024:
            # Across envelope segment boundaries (64 KiB of plaintext each) and ending exactly on one.
            ranges += [(65530, 131080), (65536, 131071), (1, size - 2)]
        for first, last in ranges:
            r = s3.get_object(Bucket=b, Key=key, Range=f"bytes={first}-{last}", **mode.read)
            assert r["Body"].read() == body[first:last + 1], f"{name} {key} {first}-{last}"
            assert r["ContentRange"] == f"bytes {first}-{last}/{size}"
            mode.check(r, f"range get {key}")
        suffix = s3.get_object(Bucket=b, Key=key, Range="bytes=-100", **mode.read)
        assert suffix["Body"].read() == body[-100:]


@pytest.mark.parametrize("name", MODES)
def test_multipart(server, kms_key, name):
    mode = modes(kms_key)[name]
    s3 = server.client("s3")
    b = make_bucket(s3, mode)
    parts_data = [pattern(5 * MIB, f"{name}:p1"), pattern(5 * MIB, f"{name}:p2"), pattern(123_457, f"{name}:p3")]
    body = b"".join(parts_data)
    created = s3.create_multipart_upload(Bucket=b, Key="mp", **mode.put)
    mode.check(created, "create multipart upload")
    upload = created["UploadId"]
    parts = []
    for n, data in enumerate(parts_data, start=1):
        up = s3.upload_part(Bucket=b, Key="mp", UploadId=upload, PartNumber=n, Body=data, **mode.read)
        mode.check(up, f"upload part {n}")
        parts.append({"PartNumber": n, "ETag": up["ETag"]})
    done = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts},
                                        **mode.read)
    if not mode.md5:
        # S3 echoes SSE-C on CompleteMultipartUpload only when the key is sent again; checked below on HEAD.
        mode.check(done, "complete multipart upload")
    assert done["ETag"].endswith('-3"')
    head = s3.head_object(Bucket=b, Key="mp", **mode.read)
    assert head["ContentLength"] == len(body)
    mode.check(head, "head multipart")
    got = s3.get_object(Bucket=b, Key="mp", **mode.read)
    assert got["Body"].read() == body
    mode.check(got, "get multipart")
    boundary = 5 * MIB
    for first, last in ((boundary - 10, boundary + 10), (boundary - 1, 2 * boundary), (2 * boundary + 5, len(body) - 1),
                        (100, 3 * boundary // 2)):
        r = s3.get_object(Bucket=b, Key="mp", Range=f"bytes={first}-{last}", **mode.read)
        assert r["Body"].read() == body[first:last + 1], f"{name} {first}-{last}"
    second = s3.get_object(Bucket=b, Key="mp", PartNumber=2, **mode.read)
    assert second["Body"].read() == parts_data[1]
    assert second["PartsCount"] == 3


@pytest.mark.parametrize("source_name", MODES)
def test_copy_changes_encryption(server, kms_key, source_name):
    """Every source mode copied into every destination mode: bytes intact, headers of the destination."""
    all_modes = modes(kms_key)
    source = all_modes[source_name]
    s3 = server.client("s3")
    sb = make_bucket(s3, source)
    body = pattern(100 * 1024 + 3, f"copy:{source_name}")
    s3.put_object(Bucket=sb, Key="src", Body=body, Metadata={"note": "copied"}, **source.put)
    for dest_name, dest in all_modes.items():
        db = make_bucket(s3, dest)
        out = s3.copy_object(Bucket=db, Key="dst", CopySource={"Bucket": sb, "Key": "src"},
                             **source.copy_source_args(), **dest.put)
        dest.check(out, f"copy from {source_name}")
        got = s3.get_object(Bucket=db, Key="dst", **dest.read)
        assert got["Body"].read() == body, f"{source_name} -> {dest_name}"
        assert got["Metadata"] == {"note": "copied"}
        dest.check(got, f"get copy from {source_name}")
        dest.check(s3.head_object(Bucket=db, Key="dst", **dest.read), f"head copy from {source_name}")
        if dest.bucket_default is None:
            # Within the source bucket too, under another key, with the destination's headers.
            out = s3.copy_object(Bucket=sb, Key=f"to-{dest_name}", CopySource={"Bucket": sb, "Key": "src"},
                                 **source.copy_source_args(), **dest.put)
            if source.bucket_default is None:
                # (In a bucket with a Bucket Key default, SSE-KMS headers without the Bucket Key header take
                # the bucket's setting.)
                dest.check(out, f"same-bucket copy from {source_name}")
            got = s3.get_object(Bucket=sb, Key=f"to-{dest_name}", **dest.read)
            assert got["Body"].read() == body


def test_upload_part_copy_re_encrypts(server, kms_key):
    all_modes = modes(kms_key)
    s3 = server.client("s3")
    source, dest = all_modes["sse-c"], all_modes["sse-kms"]
    b = make_bucket(s3, source)
    big = pattern(6 * MIB, "upc")
    s3.put_object(Bucket=b, Key="src", Body=big, **source.put)
    upload = s3.create_multipart_upload(Bucket=b, Key="dst", **dest.put)["UploadId"]
    p1 = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=upload, PartNumber=1, CopySource={"Bucket": b, "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MIB - 1}", **source.copy_source_args())
    p2 = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=upload, PartNumber=2, CopySource={"Bucket": b, "Key": "src"},
                             CopySourceRange=f"bytes={5 * MIB}-{len(big) - 1}", **source.copy_source_args())
    dest.check(p1, "upload part copy")
    s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    got = s3.get_object(Bucket=b, Key="dst")
    dest.check(got, "get of part copies")
    assert got["Body"].read() == big


def test_copy_in_place_re_encrypts_after_default_changes(server, kms_key):
    s3 = server.client("s3")
    b = bucket_name("inplace")
    s3.create_bucket(Bucket=b)
    body = pattern(90_000, "inplace")
    small = b"small object written under SSE-S3"
    s3.put_object(Bucket=b, Key="old", Body=body, Metadata={"m": "1"})
    s3.put_object(Bucket=b, Key="old-small", Body=small)
    s3.put_object(Bucket=b, Key="old-explicit", Body=small)
    assert s3.head_object(Bucket=b, Key="old")["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key["Arn"]},
        "BucketKeyEnabled": True}]})
    # The default applies to new writes only: the old objects keep their encryption.
    assert s3.head_object(Bucket=b, Key="old")["ServerSideEncryption"] == "AES256"
    kms_mode = modes(kms_key)["kms-bucket-key-default"]
    # Copy in place without SSE headers takes the new default (the documented way to re-encrypt).
    for key, data in (("old", body), ("old-small", small)):
        out = s3.copy_object(Bucket=b, Key=key, CopySource={"Bucket": b, "Key": key})
        kms_mode.check(out, f"copy in place {key}")
        kms_mode.check(s3.head_object(Bucket=b, Key=key), f"head after copy in place {key}")
        assert s3.get_object(Bucket=b, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=b, Key="old")["Metadata"] == {"m": "1"}
    # And with explicit headers, as the CLI's `s3 cp --sse aws:kms` of an object onto itself sends them.
    server.aws("s3", "cp", f"s3://{b}/old-explicit", f"s3://{b}/old-explicit", "--sse", "aws:kms", "--sse-kms-key-id",
               kms_key["KeyId"])
    head = s3.head_object(Bucket=b, Key="old-explicit")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key["Arn"]
    assert s3.get_object(Bucket=b, Key="old-explicit")["Body"].read() == small


def test_bucket_default_round_trip_and_overrides(server, kms_key):
    s3 = server.client("s3")
    b = bucket_name("default")
    s3.create_bucket(Bucket=b)
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                "KMSMasterKeyID": kms_key["Arn"]},
                         "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=config)
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    assert got == config
    # Headers override the default: SSE-S3 explicitly; SSE-KMS with Bucket Key off.
    assert s3.put_object(Bucket=b, Key="aes", Body=b"x", ServerSideEncryption="AES256")[
        "ServerSideEncryption"] == "AES256"
    off = s3.put_object(Bucket=b, Key="nobk", Body=b"x", ServerSideEncryption="aws:kms", BucketKeyEnabled=False)
    assert off["SSEKMSKeyId"] == kms_key["Arn"] and not off.get("BucketKeyEnabled")
    # aws:kms without a key id on a bucket whose default is SSE-S3 uses the AWS-managed aws/s3 key.
    b2 = bucket_name("managed")
    s3.create_bucket(Bucket=b2)
    managed = s3.put_object(Bucket=b2, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    kms = server.client("kms")
    alias_target = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"][0]["TargetKeyId"]
    assert managed["SSEKMSKeyId"].endswith(f":key/{alias_target}")
    # A default naming the key by alias: the objects report the key's ARN.
    kms.create_alias(AliasName=f"alias/{b}", TargetKeyId=kms_key["KeyId"])
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": f"alias/{b}"}}]})
    via_alias = s3.put_object(Bucket=b, Key="alias", Body=b"x")
    assert via_alias["SSEKMSKeyId"] == kms_key["Arn"] and not via_alias.get("BucketKeyEnabled")
    # Deleting the configuration brings back SSE-S3 (AWS's default since 2023).
    s3.delete_bucket_encryption(Bucket=b)
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.put_object(Bucket=b, Key="after", Body=b"x")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=b, Key="nobk")["Body"].read() == b"x"


def test_tutorial_private_bucket_with_default_sse_kms(server, tmp_path):
    """Seeds 000 and 003: create a key, a private versioned bucket with default SSE-KMS and a Bucket Key,
    upload test.txt, see `aws:kms` and the key's ARN, read it back as the owner, find KMS use in CloudTrail."""
    account = server.client("sts").get_caller_identity()["Account"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*"}]})
    _, out, _ = server.aws("kms", "create-key", "--description", "SSE-KMS key for S3 content served via CloudFront",
                           "--tags", "TagKey=Purpose,TagValue=S3Encryption", "--policy", policy)
    key = out["KeyMetadata"]
    alias = f"alias/{unique('myapp-dev-s3-key')}"
    server.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"])
    b = bucket_name("myapp-dev-private-assets-")
    server.aws("s3api", "create-bucket", "--bucket", b)
    server.aws("s3api", "put-public-access-block", "--bucket", b, "--public-access-block-configuration",
               "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    server.aws("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    server.aws("s3api", "put-bucket-encryption", "--bucket", b, "--server-side-encryption-configuration", json.dumps(
        {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]},
                    "BucketKeyEnabled": True}]}))
    _, enc, _ = server.aws("s3api", "get-bucket-encryption", "--bucket", b)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key["Arn"] and rule["BucketKeyEnabled"]
    src = tmp_path / "test.txt"
    src.write_text("hello from the tutorial\n")
    server.aws("s3", "cp", str(src), f"s3://{b}/test.txt")
    _, head, _ = server.aws("s3api", "head-object", "--bucket", b, "--key", "test.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key["Arn"]
    assert head["BucketKeyEnabled"] is True
    assert head.get("VersionId") and head["VersionId"] != "null"
    dst = tmp_path / "back.txt"
    server.aws("s3", "cp", f"s3://{b}/test.txt", str(dst))
    assert dst.read_text() == "hello from the tutorial\n"
    # The bucket stays private: an anonymous read is refused.
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{server.endpoint}/{b}/test.txt")
    assert e.value.code == 403
    # The seed's boto3 steps: upload with explicit aws:kms + key, then download.
    s3 = server.client("s3")
    s3.put_object(Bucket=b, Key="secret-file.txt", Body="My secret data", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["Arn"])
    assert s3.get_object(Bucket=b, Key="secret-file.txt")["Body"].read() == b"My secret data"
    # "Check CloudTrail for decrypt events": KMS use made by S3 on the caller's behalf.
    trail = server.client("cloudtrail")

    def kms_events():
        evs = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])
        return [json.loads(e["CloudTrailEvent"]) for e in evs["Events"]]

    events = wait_until(lambda: [e for e in kms_events() if e["eventName"] in ("GenerateDataKey", "Decrypt")],
                        what="KMS events through S3")
    assert {e["eventName"] for e in events} >= {"GenerateDataKey", "Decrypt"}
    for e in events:
        assert e["eventSource"] == "kms.amazonaws.com"
        assert e["userIdentity"].get("invokedBy") == "s3.amazonaws.com", e


def make_user(server, policy):
    iam = server.client("iam")
    name = unique("s3kmsuser")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    # New access keys are usable at once (no eventual consistency here), but poll to be safe.
    wait_until(lambda: server.client("sts", *creds).get_caller_identity(), what="new user's key")
    return arn, creds


def s3_read_policy(b):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{b}/*"}]}


def test_kms_key_policy_decides_reads_through_s3(server):
    account = server.client("sts").get_caller_identity()["Account"]
    root = f"arn:aws:iam::{account}:root"
    s3 = server.client("s3")
    kms = server.client("kms")
    b = bucket_name("kmsauth")
    s3.create_bucket(Bucket=b)
    user_arn, user = make_user(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{b}/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}]})
    as_user = server.client("s3", *user)
    # 1. The key policy names only the root user (as a principal, not the account): no delegation to IAM, so
    # the user's identity policy cannot grant use of the key.
    closed = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalArn": root}}}]}))["KeyMetadata"]
    # 2. The key policy delegates to IAM but explicitly denies the user.
    denied = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "kms:Decrypt", "Resource": "*"}]}))["KeyMetadata"]
    # 3. Delegated, no deny: the user reads.
    open_key = kms.create_key()["KeyMetadata"]
    for key, bucket_key in ((closed, False), (closed, True), (denied, False), (denied, True), (open_key, False)):
        name = f"{key['KeyId']}-{bucket_key}"
        s3.put_object(Bucket=b, Key=name, Body=b"kms protected", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key["Arn"], BucketKeyEnabled=bucket_key)
        assert s3.get_object(Bucket=b, Key=name)["Body"].read() == b"kms protected"
        if key is open_key:
            assert as_user.get_object(Bucket=b, Key=name)["Body"].read() == b"kms protected"
            continue
        with pytest.raises(botocore.exceptions.ClientError) as e:
            as_user.get_object(Bucket=b, Key=name)
        assert error_code(e.value) == "AccessDenied", name
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # HEAD needs no key: S3 answers it from metadata.
        assert as_user.head_object(Bucket=b, Key=name)["SSEKMSKeyId"] == key["Arn"]
        if key is denied:
            # Only Decrypt is denied: a single PUT needs only GenerateDataKey, as in AWS.
            as_user.put_object(Bucket=b, Key=name + "-user", Body=b"x", ServerSideEncryption="aws:kms",
                               SSEKMSKeyId=key["Arn"], BucketKeyEnabled=bucket_key)
            continue
        # Without the delegation, writing under the key is refused too (GenerateDataKey on the user's behalf).
        with pytest.raises(botocore.exceptions.ClientError) as e:
            as_user.put_object(Bucket=b, Key=name + "-user", Body=b"x", ServerSideEncryption="aws:kms",
                               SSEKMSKeyId=key["Arn"], BucketKeyEnabled=bucket_key)
        assert error_code(e.value) == "AccessDenied"
        with pytest.raises(botocore.exceptions.ClientError):
            as_user.head_object(Bucket=b, Key=name + "-user")


def test_kms_via_service_allows_s3_but_not_direct_decrypt(server, tmp_path):
    account = server.client("sts").get_caller_identity()["Account"]
    s3 = server.client("s3")
    kms = server.client("kms")
    b = bucket_name("via")
    s3.create_bucket(Bucket=b)
    user_arn, user = make_user(server, s3_read_policy(b))
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}))[
        "KeyMetadata"]
    s3.put_object(Bucket=b, Key="doc", Body=b"via s3 only", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    as_user = server.client("s3", *user)
    assert as_user.get_object(Bucket=b, Key="doc")["Body"].read() == b"via s3 only"
    # The user can write through S3 as well.
    as_user.put_object(Bucket=b, Key="mine", Body=b"user data", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    assert as_user.get_object(Bucket=b, Key="mine")["Body"].read() == b"user data"
    # A data key blob under the object's exact encryption context, as S3 asks for it: the user cannot
    # decrypt it directly, only S3 can on their behalf.
    blob = kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256",
                                 EncryptionContext={"aws:s3:arn": f"arn:aws:s3:::{b}/doc"})["CiphertextBlob"]
    as_user_kms = server.client("kms", *user)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"aws:s3:arn": f"arn:aws:s3:::{b}/doc"})
    assert error_code(e.value) == "AccessDeniedException"
    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    rc, _, err = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}",
                            "--encryption-context", f"aws:s3:arn=arn:aws:s3:::{b}/doc", creds=user, check=False)
    assert rc != 0 and "AccessDeniedException" in err
    # CloudTrail shows the user's Decrypt and GenerateDataKey, invoked by S3.
    trail = server.client("cloudtrail")

    def through_s3():
        evs = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])
        out = [json.loads(e["CloudTrailEvent"]) for e in evs["Events"]]
        return [e for e in out if e["userIdentity"].get("arn") == user_arn
                and e["userIdentity"].get("invokedBy") == "s3.amazonaws.com"]

    events = wait_until(lambda: (lambda ev: ev if {"Decrypt", "GenerateDataKey"} <= {e["eventName"] for e in ev}
                                 else None)(through_s3()), what="KMS events invoked by S3")
    for e in events:
        assert e["eventSource"] == "kms.amazonaws.com"
        assert e["requestParameters"]["encryptionContext"]["aws:s3:arn"].startswith(f"arn:aws:s3:::{b}/")
    # The direct, refused Decrypt is audited without invokedBy.
    evs = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user_arn.split("/")[-1]}])
    direct = [json.loads(e["CloudTrailEvent"]) for e in evs["Events"]]
    direct = [e for e in direct if e["eventName"] == "Decrypt" and "invokedBy" not in e["userIdentity"]]
    assert direct and all(e.get("errorCode") == "AccessDeniedException" for e in direct)


# ---- bad inputs ---------------------------------------------------------------------------------------------


def test_sse_c_bad_inputs(server):
    s3 = server.client("s3")
    b = bucket_name("ssecbad")
    s3.create_bucket(Bucket=b)
    key, md5 = customer_key("bad")
    other, _ = customer_key("other")
    s3.put_object(Bucket=b, Key="c", Body=b"customer data", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    b64 = base64.b64encode(key).decode()

    def raw(extra):
        """A PUT with hand-made SSE-C headers (boto3 would compute the MD5 itself)."""
        client = server.client("s3")

        def add(request, **_):
            for k, v in extra.items():
                request.headers[k] = v
        client.meta.events.register("before-sign.s3.PutObject", add)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.put_object(Bucket=b, Key="c2", Body=b"x")
        return e.value

    bad_md5 = raw({"x-amz-server-side-encryption-customer-algorithm": "AES256",
                   "x-amz-server-side-encryption-customer-key": b64,
                   "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(b"0" * 16).decode()})
    assert error_code(bad_md5) == "InvalidArgument" and "MD5" in bad_md5.response["Error"]["Message"]
    no_key = raw({"x-amz-server-side-encryption-customer-algorithm": "AES256"})
    assert error_code(no_key) == "InvalidArgument"
    no_md5 = raw({"x-amz-server-side-encryption-customer-algorithm": "AES256",
                  "x-amz-server-side-encryption-customer-key": b64})
    assert error_code(no_md5) == "InvalidArgument"
    short = os.urandom(16)
    short_key = raw({"x-amz-server-side-encryption-customer-algorithm": "AES256",
                     "x-amz-server-side-encryption-customer-key": base64.b64encode(short).decode(),
                     "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(short).digest()).decode()})
    assert error_code(short_key) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="c3", Body=b"x", SSECustomerAlgorithm="AES512", SSECustomerKey=key)
    assert error_code(e.value) == "InvalidEncryptionAlgorithmError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="c3", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key,
                      ServerSideEncryption="AES256")
    assert error_code(e.value) == "InvalidArgument"
    # GET with the wrong key: 403; without a key: 400 InvalidRequest; HEAD alike (no body, status only).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert error_code(e.value) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c", Range="bytes=0-3", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert error_code(e.value) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c")
    assert error_code(e.value) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=b, Key="c")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Copying an SSE-C source without its key, or with the wrong one.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="cc", CopySource={"Bucket": b, "Key": "c"})
    assert error_code(e.value) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="cc", CopySource={"Bucket": b, "Key": "c"},
                       CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=other)
    assert error_code(e.value) == "AccessDenied"
    # SSE-C headers on an object that is not SSE-C.
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="plain", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert error_code(e.value) == "InvalidRequest"
    # The right key still works, and the key never comes back.
    got = s3.get_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == b"customer data" and got["SSECustomerKeyMD5"] == md5
    assert b64 not in json.dumps(got["ResponseMetadata"]["HTTPHeaders"])


def test_sse_kms_bad_inputs(server, kms_key):
    s3 = server.client("s3")
    b = bucket_name("kmsbad")
    s3.create_bucket(Bucket=b)
    for extra in ({"ServerSideEncryption": "AES256", "SSEKMSKeyId": kms_key["Arn"]},
                  {"SSEKMSKeyId": kms_key["Arn"]},
                  {"ServerSideEncryption": "aws:kms", "SSEKMSEncryptionContext": "not base64 json!"}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=b, Key="k", Body=b"x", **extra)
        assert error_code(e.value) == "InvalidArgument", extra
    # An unknown key: KMS's NotFoundException as S3 reports it (KMS.NotFoundException, 400).
    account = server.client("sts").get_caller_identity()["Account"]
    for missing in ("11111111-2222-3333-4444-555555555555",
                    f"arn:aws:kms:us-east-1:{account}:key/11111111-2222-3333-4444-555555555555",
                    "alias/does-not-exist"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=b, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=missing)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, missing
        assert error_code(e.value) == "KMS.NotFoundException", missing
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.create_multipart_upload(Bucket=b, Key="m", ServerSideEncryption="aws:kms", SSEKMSKeyId=missing)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, missing
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ServerSideEncryption="aws:kms:bogus")
    assert error_code(e.value) == "InvalidArgument"
    # A disabled key: KMS.DisabledException.
    kms = server.client("kms")
    disabled = kms.create_key()["KeyMetadata"]
    s3.put_object(Bucket=b, Key="d", Body=b"before", ServerSideEncryption="aws:kms", SSEKMSKeyId=disabled["Arn"])
    kms.disable_key(KeyId=disabled["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="d2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=disabled["Arn"])
    assert error_code(e.value) == "KMS.DisabledException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="d")
    assert error_code(e.value) == "KMS.DisabledException"
    kms.enable_key(KeyId=disabled["KeyId"])
    assert s3.get_object(Bucket=b, Key="d")["Body"].read() == b"before"
    # Non-SSE-C encryption headers on a GET.
    s3.put_object(Bucket=b, Key="g", Body=b"x")
    client = server.client("s3")
    client.meta.events.register("before-sign.s3.GetObject",
                                lambda request, **_: request.headers.__setitem__("x-amz-server-side-encryption", "AES256"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_object(Bucket=b, Key="g")
    assert error_code(e.value) == "InvalidArgument"
    # Invalid bucket default configurations.
    for bad in ({"SSEAlgorithm": "AES256", "KMSMasterKeyID": kms_key["Arn"]}, {"SSEAlgorithm": "bogus"}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": bad}]})
        assert error_code(e.value) in ("InvalidArgument", "MalformedXML"), bad


def test_malformed_xml_and_bucket_names(server):
    s3 = server.client("s3")
    b = bucket_name("xml")
    s3.create_bucket(Bucket=b)

    def send_raw_body(op, body, **params):
        client = server.client("s3")

        def replace(request, **_):
            request.data = body
            request.headers["Content-Length"] = str(len(body))
            if "Content-MD5" in request.headers:
                del request.headers["Content-MD5"]
        client.meta.events.register(f"before-sign.s3.{op}", replace)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            getattr(client, op[0].lower() + "".join("_" + c.lower() if c.isupper() else c for c in op[1:]))(**params)
        return e.value

    e = send_raw_body("PutBucketVersioning", b"<VersioningConfiguration><Status>Enabled",
                      Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert error_code(e) == "MalformedXML"
    e = send_raw_body("PutBucketEncryption", b"not xml at all", Bucket=b,
                      ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
                          "SSEAlgorithm": "AES256"}}]})
    assert error_code(e) == "MalformedXML"
    e = send_raw_body("DeleteObjects", b"<Delete><Object><Key>a</Key></Object>", Bucket=b,
                      Delete={"Objects": [{"Key": "a"}]})
    assert error_code(e) == "MalformedXML"
    assert s3.get_bucket_versioning(Bucket=b).get("Status") is None
    for name in ("ab", "a" * 64, "UPPER", "under_score", "-dash", "dash-", "a..b", "192.168.1.1", "xn--abc",
                 "abc-s3alias", "sthree-abc", "abc--ol-s3"):
        rc, _, err = server.aws("s3api", "create-bucket", f"--bucket={name}", check=False)
        assert rc != 0 and "InvalidBucketName" in err, (name, err)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="m", Body=b"x", Metadata={"a": "x" * 1100, "b": "y" * 1000})
    assert error_code(e.value) == "MetadataTooLarge"
    # Just under 2 KB (names and values counted together) is accepted.
    s3.put_object(Bucket=b, Key="m", Body=b"x", Metadata={"a": "x" * 1000})


def kms_requests(server, key_arn, operation):
    """The key's `operation` calls, as its owner sees them: its events in the audit trail."""
    trail = server.client("cloudtrail")
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}])
    return sum(1 for page in pages for e in page["Events"] if e["EventName"] == operation)


def test_bucket_keys_cut_kms_calls(server):
    """20 PUTs and 20 GETs: with a Bucket Key a handful of KMS calls, without one a call per object."""
    kms = server.client("kms")
    s3 = server.client("s3")
    counts = {}
    for bucket_key in (True, False):
        key = kms.create_key()["KeyMetadata"]
        b = bucket_name("bkcount")
        s3.create_bucket(Bucket=b)
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]},
            "BucketKeyEnabled": bucket_key}]})
        for i in range(20):
            out = s3.put_object(Bucket=b, Key=f"o{i}", Body=f"object {i}".encode())
            assert bool(out.get("BucketKeyEnabled")) == bucket_key
        for i in range(20):
            assert s3.get_object(Bucket=b, Key=f"o{i}")["Body"].read() == f"object {i}".encode()
        counts[bucket_key] = (kms_requests(server, key["Arn"], "GenerateDataKey"),
                              kms_requests(server, key["Arn"], "Decrypt"))
        # The encryption context S3 binds: the bucket ARN with a Bucket Key, else the object's ARN.
        trail = server.client("cloudtrail")
        evs = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])
        contexts = {json.loads(e["CloudTrailEvent"])["requestParameters"]["encryptionContext"]["aws:s3:arn"]
                    for e in evs["Events"] if e["EventName"] in ("GenerateDataKey", "Decrypt")}
        if bucket_key:
            assert contexts == {f"arn:aws:s3:::{b}"}
        else:
            assert contexts == {f"arn:aws:s3:::{b}/o{i}" for i in range(20)}
    assert counts[False] == (20, 20), counts
    assert counts[True][0] <= 2 and counts[True][1] <= 2, counts


def test_encryption_context_header_and_key_policy_on_it(server):
    account = server.client("sts").get_caller_identity()["Account"]
    s3 = server.client("s3")
    kms = server.client("kms")
    b = bucket_name("ctx")
    s3.create_bucket(Bucket=b)
    user_arn, user = make_user(server, s3_read_policy(b))
    # The user may decrypt only data keys bound to objects under `shared/` of this bucket, through S3.
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{b}/shared/*"},
                       "StringEquals": {"kms:EncryptionContext:project": "blue"}}}]}))["KeyMetadata"]
    context = base64.b64encode(json.dumps({"project": "blue"}).encode()).decode()
    for k in ("shared/a", "private/a"):
        out = s3.put_object(Bucket=b, Key=k, Body=b"ctx", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"],
                            SSEKMSEncryptionContext=context)
        assert out["SSEKMSKeyId"] == key["Arn"]
        echoed = json.loads(base64.b64decode(out["SSEKMSEncryptionContext"]))
        assert echoed == {"project": "blue", "aws:s3:arn": f"arn:aws:s3:::{b}/{k}"}
    as_user = server.client("s3", *user)
    assert as_user.get_object(Bucket=b, Key="shared/a")["Body"].read() == b"ctx"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user.get_object(Bucket=b, Key="private/a")
    assert error_code(e.value) == "AccessDenied"
    # A context trying to rebind aws:s3:arn is refused.
    bad = base64.b64encode(json.dumps({"aws:s3:arn": f"arn:aws:s3:::{b}/shared/x"}).encode()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="private/b", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"],
                      SSEKMSEncryptionContext=bad)
    assert error_code(e.value) == "InvalidArgument"


def test_sse_c_rekey_in_place_and_part_keys(server):
    s3 = server.client("s3")
    b = bucket_name("rekey")
    s3.create_bucket(Bucket=b)
    k1, _ = customer_key("rekey-1")
    k2, md5_2 = customer_key("rekey-2")
    body = pattern(150_000, "rekey")
    s3.put_object(Bucket=b, Key="c", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=k1)
    # Copy in place under a new customer key (key rotation): the old key stops working.
    out = s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "c"}, CopySourceSSECustomerAlgorithm="AES256",
                         CopySourceSSECustomerKey=k1, SSECustomerAlgorithm="AES256", SSECustomerKey=k2)
    assert out["SSECustomerKeyMD5"] == md5_2
    assert s3.get_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=k2)["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=k1)
    assert error_code(e.value) == "AccessDenied"
    # Parts of an SSE-C upload need the upload's key; parts of other uploads refuse SSE-C headers.
    up = s3.create_multipart_upload(Bucket=b, Key="m", SSECustomerAlgorithm="AES256", SSECustomerKey=k1)["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"x", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=k2)
    assert error_code(e.value) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"x")
    assert error_code(e.value) == "InvalidRequest"
    plain = s3.create_multipart_upload(Bucket=b, Key="p")["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=b, Key="p", UploadId=plain, PartNumber=1, Body=b"x", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=k1)
    assert error_code(e.value) == "InvalidRequest"


def test_bucket_key_sees_key_state_at_once(server):
    kms = server.client("kms")
    s3 = server.client("s3")
    key = kms.create_key()["KeyMetadata"]
    b = bucket_name("bkstate")
    s3.create_bucket(Bucket=b)
    args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key["Arn"], "BucketKeyEnabled": True}
    s3.put_object(Bucket=b, Key="a", Body=b"a", **args)
    assert s3.get_object(Bucket=b, Key="a")["Body"].read() == b"a"  # the bucket key is now cached both ways
    kms.disable_key(KeyId=key["KeyId"])
    for call in (lambda: s3.get_object(Bucket=b, Key="a"), lambda: s3.put_object(Bucket=b, Key="b", Body=b"b", **args)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e.value) == "KMS.DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=b, Key="a")["Body"].read() == b"a"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="a")
    assert error_code(e.value) == "KMS.KMSInvalidStateException"
