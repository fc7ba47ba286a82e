"""SigV4 failures with real clients: wrong secrets, unknown keys, clock skew, expired presigned URLs, unsigned
x-amz-* headers and unknown services each give AWS's error."""

import datetime
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest


def code_of(exc_info):
    return exc_info.value.response["Error"]["Code"], exc_info.value.response["Error"]["Message"]


def test_wrong_secret_is_signature_does_not_match(server):
    akid, _ = server.root_keys()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts", akid, "x" * 40).get_caller_identity()
    assert code_of(e)[0] == "SignatureDoesNotMatch"
    rc, _, err = server.aws("iam", "list-users", creds=(akid, "y" * 40), check=False)
    assert rc != 0 and "SignatureDoesNotMatch" in err


def test_unknown_key(server):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts", "AKIAUNKNOWNUNKNOWN00", "x" * 40).get_caller_identity()
    assert code_of(e) == ("InvalidClientTokenId", "The security token included in the request is invalid.")


def signed_request(server, when, headers=None, presign_expires=None):
    akid, secret = server.root_keys()
    creds = botocore.credentials.Credentials(akid, secret)
    req = botocore.awsrequest.AWSRequest(
        method="POST" if presign_expires is None else "GET",
        url=server.endpoint + "/" + ("" if presign_expires is None else "?Action=GetCallerIdentity&Version=2011-06-15"),
        data=b"Action=GetCallerIdentity&Version=2011-06-15" if presign_expires is None else b"",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})},
    )
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: when
    try:
        if presign_expires is None:
            botocore.auth.SigV4Auth(creds, "sts", "us-east-1").add_auth(req)
        else:
            botocore.auth.SigV4QueryAuth(creds, "sts", "us-east-1", expires=presign_expires).add_auth(req)
    finally:
        botocore.auth.get_current_datetime = original
    return req.prepare()


def send(prepared):
    r = urllib.request.Request(prepared.url, data=prepared.body or None, method=prepared.method,
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def test_signed_requests_within_skew_are_accepted(server):
    status, body = send(signed_request(server, now() - datetime.timedelta(minutes=10)))
    assert status == 200, body


def test_clock_skew_beyond_fifteen_minutes_is_refused(server):
    status, body = send(signed_request(server, now() - datetime.timedelta(minutes=20)))
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body and "Signature expired" in body


def test_presigned_url_works_then_expires(server):
    status, body = send(signed_request(server, now(), presign_expires=300))
    assert status == 200 and "GetCallerIdentityResult" in body, body
    status, body = send(signed_request(server, now() - datetime.timedelta(hours=2), presign_expires=3600))
    assert status == 403
    assert "<Code>AccessDenied</Code>" in body and "Request has expired" in body


def test_unsigned_amz_header_is_refused(server):
    prepared = signed_request(server, now())
    prepared.headers["X-Amz-Meta-Sneaky"] = "added after signing"
    status, body = send(prepared)
    assert status in (400, 403)
    assert "not signed" in body or "SignatureDoesNotMatch" in body


def test_tampered_signed_header_is_refused(server):
    prepared = signed_request(server, now(), headers={"X-Amz-Meta-Note": "original"})
    prepared.headers["X-Amz-Meta-Note"] = "changed"
    status, body = send(prepared)
    assert status == 403 and "SignatureDoesNotMatch" in body


def test_unknown_service_is_refused(server):
    akid, secret = server.root_keys()
    creds = botocore.credentials.Credentials(akid, secret)
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/",
                                         data=b"Action=DescribeInstances&Version=2016-11-15",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    botocore.auth.SigV4Auth(creds, "ec2", "us-east-1").add_auth(req)
    status, body = send(req.prepare())
    assert status == 400 and "InvalidAction" in body
