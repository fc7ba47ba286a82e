"""Virtual-hosted-style S3 addressing: `<bucket>.s3.localhost` and `<bucket>.s3.<region>.amazonaws.com` name
the bucket in the Host header, as AWS's S3 endpoints do; path style works alongside."""

import http.client
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import unique


def send_virtual(server, method, host, path, body=b""):
    """Signs a request for `http://<host><path>` and sends it to the server's address with that Host header."""
    port = urllib.parse.urlsplit(server.endpoint).port
    akid, secret = server.root_keys()
    url = f"http://{host}:{port}{path}"
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body)
    req.headers["x-amz-content-sha256"] = botocore.auth.UNSIGNED_PAYLOAD
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(akid, secret), "s3", "us-east-1").add_auth(req)
    prepared = req.prepare()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = dict(prepared.headers)
    headers["Host"] = f"{host}:{port}"  # what was signed; the connection itself goes to loopback
    signed = urllib.parse.urlsplit(prepared.url)  # the path and query exactly as signed
    target = signed.path + (f"?{signed.query}" if signed.query else "")
    conn.request(method, target, body=body or None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


@pytest.mark.parametrize("suffix", ["s3.localhost", "s3.us-east-1.amazonaws.com", "s3.amazonaws.com"])
def test_virtual_hosted_style_names_the_bucket_in_the_host(server, suffix):
    bucket = unique("vh")
    server.client("s3").create_bucket(Bucket=bucket)
    host = f"{bucket}.{suffix}"
    status, body = send_virtual(server, "PUT", host, "/dir/object.txt", b"virtually hosted")
    assert status == 200, body
    # The same object is visible path-style.
    got = server.client("s3").get_object(Bucket=bucket, Key="dir/object.txt")["Body"].read()
    assert got == b"virtually hosted"
    status, body = send_virtual(server, "GET", host, "/dir/object.txt")
    assert status == 200 and body == b"virtually hosted"
    status, body = send_virtual(server, "GET", host, "/?list-type=2&prefix=dir%2F")
    assert status == 200 and b"<Key>dir/object.txt</Key>" in body
    status, body = send_virtual(server, "GET", f"no-such-{bucket}.{suffix}", "/x")
    assert status == 404 and b"NoSuchBucket" in body, (status, body)
