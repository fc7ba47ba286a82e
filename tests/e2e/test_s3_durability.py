"""S3 at rest, end to end against the built binary: no plaintext anywhere under the data directory, one flipped
byte of a stored object makes GET fail (never return wrong bytes), and a server killed during a large upload
comes back with the previous version intact, no partial object, and a verifiable audit trail."""

import base64
import hashlib
import os
import signal
import subprocess
import threading
from pathlib import Path

import botocore.exceptions
import pytest

from conftest import BIN, Server, unique, wait_until

MIB = 1 << 20
# The envelope layout (docs/design/envelope.md): an 81-byte header, then segments of 64 KiB of plaintext + a
# 16-byte tag.
HEADER_LEN = 81
SEGMENT = 64 << 10
SEALED_SEGMENT = SEGMENT + 16


def bucket_name(prefix="dur"):
    return unique(prefix).lower()


@pytest.fixture
def restart(fresh_server):
    """`restart(server)`: a new `coffer serve` on the same data directory (the old process must be stopped);
    every server started here is stopped at teardown."""
    started = []

    def again(old):
        assert old.proc.poll() is not None, "stop the server before restarting it"
        s = Server(old.data_dir)
        started.append(s)
        return s

    yield again
    for s in started:
        s.stop()


def marked(n, marker, salt):
    """`n` bytes of text in which `marker` recurs, each copy followed by a distinct counter."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += marker + f"-{salt}-{i:08d}|".encode()
        i += 1
    return bytes(out[:n])


def pattern(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def files_under(root):
    return [p for p in Path(root).rglob("*") if p.is_file()]


def blob_files(data_dir):
    """Committed blobs: `blobs/ab/cd/<32 hex>`."""
    root = Path(data_dir) / "blobs"
    return [p for p in root.glob("*/*/*") if p.is_file() and len(p.name) == 32]


def occurrences(haystack, needle):
    at, found = 0, []
    while (at := haystack.find(needle, at)) >= 0:
        found.append(at)
        at += 1
    return found


BROKEN_STREAM = (botocore.exceptions.ResponseStreamingError, botocore.exceptions.IncompleteReadError)


def read_all_or_error(call):
    """The bytes of a GET, or the error it failed with: an S3 error answer (only 5xx is accepted) or a response
    broken off mid-way (the client never gets the full Content-Length). Any other outcome fails the test."""
    try:
        resp = call()
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] >= 500, e.response
        return e
    except botocore.exceptions.ConnectionClosedError as e:
        # The body failed within the first bytes, before the response head left the server's buffer.
        return e
    try:
        return resp["Body"].read()
    except BROKEN_STREAM as e:
        return e


def test_no_plaintext_at_rest(fresh_server, tmp_path):
    s = fresh_server()
    s3 = s.client("s3")
    kms_key = s.client("kms").create_key()["KeyMetadata"]
    marker = b"PLAINTEXT-MARKER-" + os.urandom(6).hex().encode()
    b, bk = bucket_name(), bucket_name("bk")
    s3.create_bucket(Bucket=b)
    s3.create_bucket(Bucket=bk)
    s3.put_bucket_encryption(Bucket=bk, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key["Arn"]},
        "BucketKeyEnabled": True}]})
    customer = hashlib.sha256(b"no plaintext customer key").digest()
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer}
    control = "CONTROL-" + os.urandom(6).hex()
    written = {}

    def put(bucket, key, body, **kw):
        s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)
        written[(bucket, key)] = (body, kw)

    put(b, "tiny", marker)
    put(b, "inline", marked(10_000, marker, "inline"), Metadata={"control": control})
    put(b, "large", marked(3 * MIB + 11, marker, "large"))
    put(b, "ssec-small", marked(5_000, marker, "ssec-small"), **ssec)
    put(b, "ssec-large", marked(2 * MIB, marker, "ssec-large"), **ssec)
    put(b, "kms-small", marked(4_000, marker, "kms-small"), ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key["KeyId"])
    put(b, "kms-large", marked(MIB + 5, marker, "kms-large"), ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key["KeyId"])
    put(bk, "bk-small", marked(3_000, marker, "bk-small"))
    put(bk, "bk-large", marked(700_000, marker, "bk-large"))
    s3.copy_object(Bucket=bk, Key="copied", CopySource={"Bucket": b, "Key": "large"})
    written[(bk, "copied")] = (written[(b, "large")][0], {})
    # A multipart object (boto3), with tagging in the request, and one through the CLI.
    parts = [marked(5 * MIB, marker, "p1"), marked(5 * MIB, marker, "p2"), marked(1234, marker, "p3")]
    upload = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=b, Key="mp", UploadId=upload, PartNumber=n, Body=p)["ETag"]
             for n, p in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    written[(b, "mp")] = (b"".join(parts), {})
    # An upload left in progress: its parts are at rest too.
    pending = s3.create_multipart_upload(Bucket=b, Key="pending", ServerSideEncryption="aws:kms")["UploadId"]
    s3.upload_part(Bucket=b, Key="pending", UploadId=pending, PartNumber=1, Body=marked(MIB, marker, "pending"))
    src = tmp_path / "cli.bin"
    src.write_bytes(marked(20 * MIB, marker, "cli"))
    s.aws("s3", "cp", str(src), f"s3://{bk}/cli.bin")
    written[(bk, "cli.bin")] = (src.read_bytes(), {})
    # An overwritten version and a deleted object leave their old bytes behind only sealed, if at all.
    put(b, "overwritten", marked(200_000, marker, "v1"))
    put(b, "overwritten", marked(200_000, marker, "v2"))
    put(b, "deleted", marked(200_000, marker, "deleted"))
    s3.delete_object(Bucket=b, Key="deleted")
    del written[(b, "deleted")]
    for (bucket, key), (body, kw) in written.items():
        read_kw = {k: v for k, v in kw.items() if k.startswith("SSECustomer")}
        assert s3.get_object(Bucket=bucket, Key=key, **read_kw)["Body"].read() == body, key
    assert s.stop() == 0
    src.unlink()

    files = files_under(s.data_dir)
    assert len(blob_files(s.data_dir)) >= 5, "large objects are in blob files"
    needles = {
        "marker": marker,
        "marker (UTF-16)": marker.decode().encode("utf-16-le"),
        "marker (base64)": base64.b64encode(marked(300, marker, "inline"))[:40],
        "SSE-C key": customer,
        "SSE-C key (base64)": base64.b64encode(customer),
    }
    found_control = False
    for f in files:
        data = f.read_bytes()
        for what, needle in needles.items():
            assert needle not in data, f"{what} found in {f.relative_to(s.data_dir)}"
        found_control = found_control or control.encode() in data
    # The scan does see what is stored: user metadata is plaintext, as AWS documents it may be.
    assert found_control, "user metadata (the scan's control) not found: is the scan reading the metadata store?"


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))


CUSTOMER_KEY = hashlib.sha256(b"tamper customer key").digest()
SSE_ARGS = {
    "sse-s3": {},
    "sse-kms": {"ServerSideEncryption": "aws:kms"},
    "sse-kms-bucket-key": {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True},
    "sse-c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY},
}


@pytest.mark.parametrize("sse", list(SSE_ARGS))
def test_flipped_byte_in_a_blob_fails_the_read(fresh_server, restart, sse):
    put_args = SSE_ARGS[sse]
    read_args = {k: v for k, v in put_args.items() if k.startswith("SSECustomer")}
    s = fresh_server()
    s3 = s.client("s3")
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    body = pattern(SEGMENT * 8 + 1000, "tamper")
    s3.put_object(Bucket=b, Key="obj", Body=body, **put_args)
    assert s.stop() == 0
    [blob] = blob_files(s.data_dir)
    assert blob.stat().st_size == HEADER_LEN + 8 * SEALED_SEGMENT + 1000 + 16
    assert blob.read_bytes()[:4] == b"CFEV"
    original = blob.read_bytes()

    # A byte inside segment 5's ciphertext.
    flip(blob, HEADER_LEN + 5 * SEALED_SEGMENT + 100)
    s = restart(s)
    s3 = s.client("s3")
    got = read_all_or_error(lambda: s3.get_object(Bucket=b, Key="obj", **read_args))
    assert not isinstance(got, bytes), "a GET of a tampered object returned bytes"
    got = read_all_or_error(lambda: s3.get_object(Bucket=b, Key="obj", **read_args, Range=f"bytes={5 * SEGMENT + 10}-{5 * SEGMENT + 20}"))
    assert not isinstance(got, bytes), "a range GET of a tampered segment returned bytes"
    # Untouched segments still read, and correctly.
    assert s3.get_object(Bucket=b, Key="obj", **read_args, Range="bytes=0-999")["Body"].read() == body[:1000]
    assert s3.get_object(Bucket=b, Key="obj", **read_args, Range=f"bytes={7 * SEGMENT}-")["Body"].read() == body[7 * SEGMENT:]
    assert s.stop() == 0

    # A byte of the header (the salt: a different key would be derived), a tag byte, and a truncation.
    for damage in ("header", "tag", "truncate", "drop-segment"):
        blob.write_bytes(original)
        if damage == "header":
            flip(blob, 20)
        elif damage == "tag":
            flip(blob, HEADER_LEN + SEALED_SEGMENT - 1)
        elif damage == "truncate":
            blob.write_bytes(original[:-1])
        else:
            # Remove the last full segment: lengths are checked, and the final-segment flag catches the rest.
            blob.write_bytes(original[:HEADER_LEN + 7 * SEALED_SEGMENT] + original[HEADER_LEN + 8 * SEALED_SEGMENT:])
        s = restart(s)
        s3 = s.client("s3")
        got = read_all_or_error(lambda: s3.get_object(Bucket=b, Key="obj", **read_args))
        assert not isinstance(got, bytes), f"{damage}: a GET of a tampered object returned bytes"
        if damage in ("header",):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.get_object(Bucket=b, Key="obj", **read_args, Range="bytes=0-10")
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
        assert s.stop() == 0
    # Restored: reads again.
    blob.write_bytes(original)
    s = restart(s)
    assert s.client("s3").get_object(Bucket=b, Key="obj", **read_args)["Body"].read() == body


def test_flipped_byte_in_an_inline_object_fails_the_read(fresh_server, restart):
    s = fresh_server()
    s3 = s.client("s3")
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    body = pattern(3000, "inline-tamper")
    s3.put_object(Bucket=b, Key="small", Body=body)
    assert s.stop() == 0
    assert not blob_files(s.data_dir), "a 3000-byte object is stored inline"
    meta = Path(s.data_dir) / "meta.redb"
    data = meta.read_bytes()
    # The inline envelope is the only CFEV-framed value of this length; redb may hold stale copies of its
    # pages, so every copy is damaged.
    sealed_len = HEADER_LEN + len(body) + 16
    starts = [at for at in occurrences(data, b"CFEV") if at + sealed_len <= len(data)]
    assert starts, "the inline envelope was not found in meta.redb"
    for at in starts:
        flip(meta, at + HEADER_LEN + 1500)
    s = restart(s)
    got = read_all_or_error(lambda: s.client("s3").get_object(Bucket=b, Key="small"))
    assert not isinstance(got, bytes), "a GET of a tampered inline object returned bytes"


class Generated:
    """A seekable file-like body of `size` bytes made on the fly (nothing held in memory)."""

    def __init__(self, size):
        self.size, self.pos = size, 0

    _BASE = os.urandom(MIB)

    def _bytes(self, start, n):
        # A 1 MiB random block repeated: cheap to make, and never the previous version's bytes.
        off = start % MIB
        out = (self._BASE[off:] + self._BASE)[:n]
        return out

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos, 1 << 20)
        out = self._bytes(self.pos, n) if n > 0 else b""
        self.pos += n
        return out

    def seek(self, pos, whence=0):
        self.pos = pos if whence == 0 else (self.pos + pos if whence == 1 else self.size + pos)
        return self.pos

    def tell(self):
        return self.pos

    def __len__(self):
        return self.size


def tmp_blob_bytes(data_dir):
    tmp = Path(data_dir) / "blobs" / "tmp"
    return sum(p.stat().st_size for p in tmp.glob("*") if p.is_file()) if tmp.exists() else 0


@pytest.mark.parametrize("how", ["put", "multipart"])
def test_kill_during_large_upload_keeps_previous_version(fresh_server, restart, tmp_path, how):
    s = fresh_server()
    s3 = s.client("s3")
    b = bucket_name("crash")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]})
    versioned = bucket_name("crashv")
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    v1 = pattern(MIB + 7, "previous")
    s3.put_object(Bucket=b, Key="big", Body=v1)
    v1_etag = s3.head_object(Bucket=b, Key="big")["ETag"]
    v1_version = s3.put_object(Bucket=versioned, Key="big", Body=v1)["VersionId"]
    size = 200 * MIB
    outcome = {}
    target = b if how == "put" else versioned
    proc = None
    if how == "put":
        body = Generated(size)

        def upload():
            try:
                s3.put_object(Bucket=target, Key="big", Body=body)
                outcome["result"] = "completed"
            except Exception as e:  # noqa: BLE001 — the server is killed under it
                outcome["result"] = e

        t = threading.Thread(target=upload, daemon=True)
        t.start()
        # Killed once the new body is well on its way into a temporary blob (and before it could finish).
        wait_until(lambda: tmp_blob_bytes(s.data_dir) >= 8 * MIB or "result" in outcome, timeout=120,
                   what="the upload to reach the blob store")
        assert "result" not in outcome, "the upload finished before the server could be killed"
    else:
        src = tmp_path / "big.bin"
        with open(src, "wb") as f:
            for i in range(size // MIB):
                f.write(pattern(MIB, f"cli:{i}") if i % 50 == 0 else os.urandom(MIB))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(s.credentials_file), AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE=os.devnull, AWS_MAX_ATTEMPTS="1", AWS_EC2_METADATA_DISABLED="true")
        proc = subprocess.Popen(["aws", "--endpoint-url", s.endpoint, "s3", "cp", str(src), f"s3://{target}/big"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def parts_done():
            if proc.poll() is not None:
                return "exited"
            uploads = s3.list_multipart_uploads(Bucket=target).get("Uploads", [])
            if not uploads:
                return None
            parts = s3.list_parts(Bucket=target, Key="big", UploadId=uploads[0]["UploadId"]).get("Parts", [])
            return len(parts) >= 2

        assert wait_until(parts_done, timeout=120, what="the multipart upload to store parts") is True
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait()
    if how == "put":
        t.join(timeout=60)
        assert isinstance(outcome.get("result"), Exception)
    else:
        proc.wait(timeout=120)
        assert proc.returncode != 0

    s = restart(s)
    s3 = s.client("s3")
    head = s3.head_object(Bucket=b, Key="big")
    assert head["ContentLength"] == len(v1) and head["ETag"] == v1_etag
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == v1
    versions = s3.list_object_versions(Bucket=versioned, Prefix="big")
    assert [v["VersionId"] for v in versions.get("Versions", [])] == [v1_version]
    assert s3.get_object(Bucket=versioned, Key="big")["Body"].read() == v1
    for bucket in (b, versioned):
        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert [(o["Key"], o["Size"]) for o in listed] == [("big", len(v1))]
    # The temporary blob of the torn upload is gone; an interrupted multipart upload stays listed (as in AWS)
    # until it is aborted, and aborting it works.
    assert tmp_blob_bytes(s.data_dir) == 0
    for u in s3.list_multipart_uploads(Bucket=versioned).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=versioned, Key=u["Key"], UploadId=u["UploadId"])
    assert not s3.list_multipart_uploads(Bucket=versioned).get("Uploads")
    # Writes work after the crash, and the audit trail verifies.
    s3.put_object(Bucket=b, Key="after", Body=b"after the crash")
    assert s3.get_object(Bucket=b, Key="after")["Body"].read() == b"after the crash"
    assert s.stop() == 0
    verify = subprocess.run([BIN, "trail", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0 and verify.stdout.startswith("OK"), verify.stdout + verify.stderr
