"""Attacks on the S3 endpoint, tried as an outsider would: each test is one class of bypass the security review
found (or a sibling of it), sent with a real client where one can express it and as raw HTTP where none can."""

import base64
import datetime
import email.utils
import hashlib
import hmac
import http.client
import json
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import REGION, unique


def raw(server, method, path, headers=None, body=None):
    """One HTTP request to the API endpoint, exactly as given. Returns (status, headers, body). A server that
    answers before the whole body was sent (and closes) is read all the same."""
    import socket

    u = urllib.parse.urlsplit(server.endpoint)
    hdrs = {"Host": u.netloc, **(headers or {})}
    if body is not None:
        hdrs.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        try:
            sock.sendall(head.encode("latin-1") + (body or b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        sock.close()


def error_code(body):
    text = body.decode(errors="replace")
    if "<Code>" not in text:
        return None
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def sigv2_header_request(server, method, path, when, headers=None, keys=None):
    """A SigV2 header-signed request (`Authorization: AWS id:sig`) dated `when`, signed with botocore's HmacV1."""
    akid, secret = keys or server.root_keys()
    creds = botocore.credentials.Credentials(akid, secret)
    date = email.utils.formatdate(when.timestamp(), usegmt=True)
    hdrs = {"Date": date, **(headers or {})}
    req = botocore.awsrequest.AWSRequest(method=method, url=server.endpoint + path, headers=hdrs)
    signer = botocore.auth.HmacV1Auth(creds)
    signer._get_date = lambda: date
    signer.add_auth(req)
    return dict(req.headers)


def sigv2_presigned_path(server, method, path, expires, keys=None):
    """The path and query of a SigV2 presigned URL with an absolute `Expires`, signed as botocore signs them."""
    akid, secret = keys or server.root_keys()
    string_to_sign = f"{method}\n\n\n{expires}\n{path}"
    sig = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    query = urllib.parse.urlencode({"AWSAccessKeyId": akid, "Expires": str(expires), "Signature": sig})
    return f"{path}?{query}"


def put_policy(s3, bucket, statements):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


@pytest.fixture
def bucket_with_object(server):
    s3 = server.client("s3")
    b = unique("atk")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="secret.txt", Body=b"top secret")
    return s3, b


# --- One authentication mechanism, and claims only from the signature that was verified -------------------


def test_sigv2_presigned_url_plus_bogus_sigv4_header_is_refused(server, bucket_with_object):
    """The review's bypass: a SigV2 presigned URL (which s3s verified) with a junk SigV4 Authorization header
    (whose claims fed s3:signatureversion) evaded a Deny on SigV2."""
    s3, b = bucket_with_object
    put_policy(s3, b, [{
        "Sid": "NoSigV2", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
        "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
    }])
    v2 = server.client("s3", signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "secret.txt"}, ExpiresIn=300)
    path = url[len(server.endpoint):]
    status, _, body = raw(server, "GET", path)
    assert status == 403 and error_code(body) == "AccessDenied", body

    akid, _ = server.root_keys()
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    junk = f"AWS4-HMAC-SHA256 Credential={akid}/{day}/{REGION}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    status, _, body = raw(server, "GET", path, {"Authorization": junk, "x-amz-date": stamp})
    assert status == 400 and error_code(body) == "InvalidArgument", body
    assert b"Only one auth mechanism allowed" in body
    s3.delete_bucket_policy(Bucket=b)


@pytest.mark.parametrize(
    "extra_query",
    [
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "&X-Amz-Signature=" + "0" * 64,
        "&x-amz-credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
    ],
)
def test_sigv2_presigned_url_plus_sigv4_query_is_refused(server, bucket_with_object, extra_query):
    s3, b = bucket_with_object
    v2 = server.client("s3", signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "secret.txt"}, ExpiresIn=300)
    status, _, body = raw(server, "GET", url[len(server.endpoint):] + extra_query)
    assert status == 400 and error_code(body) == "InvalidArgument", body


def test_sigv4_header_plus_sigv2_query_is_refused(server, bucket_with_object):
    s3, b = bucket_with_object
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"{server.endpoint}/{b}/secret.txt?Signature=x")
    akid, secret = server.root_keys()
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(akid, secret), "s3", REGION).add_auth(req)
    status, _, body = raw(server, "GET", f"/{b}/secret.txt?Signature=x", dict(req.headers))
    assert status == 400 and error_code(body) == "InvalidArgument", body


# --- SigV2: clock skew, lifetime, overflow, constant-time comparison ----------------------------------------


def test_sigv2_header_auth_is_bounded_by_the_clock_skew(server, bucket_with_object):
    """A SigV2 request signed in 2018 was accepted, so a captured request could be replayed forever."""
    s3, b = bucket_with_object
    now = datetime.datetime.now(datetime.timezone.utc)
    fresh = sigv2_header_request(server, "GET", f"/{b}/secret.txt", now)
    status, _, body = raw(server, "GET", f"/{b}/secret.txt", fresh)
    assert (status, body) == (200, b"top secret")
    for when in [datetime.datetime(2018, 6, 1, tzinfo=datetime.timezone.utc),
                 now - datetime.timedelta(minutes=16), now + datetime.timedelta(minutes=16)]:
        stale = sigv2_header_request(server, "GET", f"/{b}/secret.txt", when)
        status, _, body = raw(server, "GET", f"/{b}/secret.txt", stale)
        assert status == 403 and error_code(body) == "RequestTimeTooSkewed", (when, body)


def test_sigv2_header_auth_without_a_date_is_refused(server, bucket_with_object):
    s3, b = bucket_with_object
    akid, secret = server.root_keys()
    string_to_sign = f"GET\n\n\n\n/{b}/secret.txt"
    sig = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    status, _, body = raw(server, "GET", f"/{b}/secret.txt", {"Authorization": f"AWS {akid}:{sig}"})
    assert status in (400, 403) and error_code(body) in ("AccessDenied", "InvalidRequest"), body


def test_sigv2_presigned_urls_live_at_most_seven_days(server, bucket_with_object):
    s3, b = bucket_with_object
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    ok = sigv2_presigned_path(server, "GET", f"/{b}/secret.txt", now + 3600)
    status, _, body = raw(server, "GET", ok)
    assert (status, body) == (200, b"top secret")
    for expires in [now + 8 * 86400, 2**31 - 1, 253402300799]:
        status, _, body = raw(server, "GET", sigv2_presigned_path(server, "GET", f"/{b}/secret.txt", expires))
        assert status == 400 and error_code(body) == "AuthorizationQueryParametersError", (expires, body)
    expired = sigv2_presigned_path(server, "GET", f"/{b}/secret.txt", now - 10)
    status, _, body = raw(server, "GET", expired)
    assert status == 403 and error_code(body) == "AccessDenied", body


@pytest.mark.parametrize("expires", ["-1", "-9223372036854775808", "99999999999999999999999", "1e12", "+5"])
def test_sigv2_malformed_expires_is_an_error_not_an_overflow(server, bucket_with_object, expires):
    s3, b = bucket_with_object
    akid, _ = server.root_keys()
    status, _, body = raw(server, "GET", f"/{b}/secret.txt?AWSAccessKeyId={akid}&Expires={urllib.parse.quote(expires)}&Signature=abc%3D")
    # An S3 error, never a dropped connection (a negative Expires overflowed the lifetime arithmetic).
    assert 400 <= status < 500 and error_code(body), body
    # The server is still up and well.
    assert s3.get_object(Bucket=b, Key="secret.txt")["Body"].read() == b"top secret"


def test_sigv2_wrong_signature_is_refused(server, bucket_with_object):
    s3, b = bucket_with_object
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    good = sigv2_presigned_path(server, "GET", f"/{b}/secret.txt", now + 300)
    sig = urllib.parse.parse_qs(urllib.parse.urlsplit(good).query)["Signature"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    bad = good.replace(urllib.parse.quote(sig, safe=""), urllib.parse.quote(flipped, safe=""))
    status, _, body = raw(server, "GET", bad)
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch", body


# --- Unknown or unhandled subresources never fall through to another operation ------------------------------


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def handled_operations():
    """The AWS operations coffer handles: the names in the s3-api `ops!` table."""
    import re

    text = (ROOT / "crates/s3-api/src/service.rs").read_text()
    return set(re.findall(r'^\s+[a-z0-9_]+ "([A-Za-z0-9]+)":', text, re.M))


def signed_raw(server, method, path, headers=None, body=b""):
    """A SigV4-signed request (as the root user) sent byte for byte as given."""
    akid, secret = server.root_keys()
    hdrs = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **(headers or {})}
    req = botocore.awsrequest.AWSRequest(method=method, url=server.endpoint + path, headers=hdrs, data=body)
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(akid, secret), "s3", REGION).add_auth(req)
    return raw(server, method, path, dict(req.headers), body if body else None)


def test_the_reviews_fall_throughs_are_refused(server, bucket_with_object):
    s3, b = bucket_with_object
    status, _, body = signed_raw(server, "DELETE", f"/{b}?metadataConfiguration")
    assert status == 501 and error_code(body) == "NotImplemented", body
    status, _, body = signed_raw(server, "DELETE", f"/{b}/secret.txt?annotation&annotationName=a")
    assert status == 501 and error_code(body) == "NotImplemented", body
    status, _, body = signed_raw(server, "DELETE", f"/{b}/secret.txt?annotation")
    assert status in (400, 501), body
    status, _, body = signed_raw(server, "PUT", f"/{b}/secret.txt?renameObject", {"x-amz-rename-source": f"/{b}/x"})
    assert status == 501 and error_code(body) == "NotImplemented", body
    status, _, body = signed_raw(server, "PUT", f"/{b}/secret.txt?renameObject")
    assert status in (400, 501), body
    # Tomorrow's subresource, on a write: refused, not a PutObject.
    status, _, body = signed_raw(server, "PUT", f"/{b}/secret.txt?someNewThing")
    assert status == 501 and error_code(body) == "NotImplemented", body
    # Nothing happened.
    assert s3.get_object(Bucket=b, Key="secret.txt")["Body"].read() == b"top secret"
    s3.head_bucket(Bucket=b)


def test_every_operation_of_the_model_coffer_does_not_handle_is_not_implemented(server, bucket_with_object):
    """Every operation of botocore's S3 model that coffer does not handle, sent as a signed request with its
    subresources, required query parameters and headers, gets 501 and changes nothing."""
    from botocore.loaders import Loader

    s3, b = bucket_with_object
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    model = Loader().load_service_model("s3", "service-2")
    handled = handled_operations()
    assert "PutObject" in handled and "DeleteObjects" in handled

    def shape(op):
        http_ = op["http"]
        inp = model["shapes"].get(op.get("input", {}).get("shape"), {})
        req = set(inp.get("required", []))
        query = tuple(sorted(m["locationName"] for k, m in inp.get("members", {}).items()
                             if m.get("location") == "querystring" and k in req))
        headers = tuple(sorted(m["locationName"].lower() for k, m in inp.get("members", {}).items()
                               if m.get("location") == "header" and k in req))
        return http_["method"], http_["requestUri"], query, headers

    handled_shapes = {shape(model["operations"][n]) for n in handled if n in model["operations"]}
    tried = []
    for name, op in sorted(model["operations"].items()):
        if name in handled or shape(op) in handled_shapes:
            continue
        method, uri, query, headers = shape(op)
        path, _, sub = uri.partition("?")
        path = path.replace("{Bucket}", b).replace("{Key+}", "secret.txt")
        params = [s for s in sub.split("&") if s] + [f"{q}=1" for q in query]
        target = path + ("?" + "&".join(params) if params else "")
        hdrs = {h: f"/{b}/secret.txt" if "source" in h else "x" for h in headers}
        status, _, body = signed_raw(server, method, target, hdrs, b"")
        assert status == 501 and error_code(body) == "NotImplemented", (name, target, status, body[:300])
        tried.append(name)
    assert len(tried) > 40, tried
    assert s3.get_object(Bucket=b, Key="secret.txt")["Body"].read() == b"top secret"
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_the_committed_route_table_covers_the_pinned_model():
    """crates/s3-api/src/route/model.rs (from scripts/gen-s3-routes) knows every operation of the botocore the tests
    pin, so the router can refuse each one it does not handle."""
    import re

    from botocore.loaders import Loader

    table = set(re.findall(r'name: "([A-Za-z0-9]+)"', (ROOT / "crates/s3-api/src/route/model.rs").read_text()))
    model = Loader().load_service_model("s3", "service-2")
    missing = sorted(set(model["operations"]) - table)
    assert not missing, f"regenerate the route table with scripts/gen-s3-routes: {missing}"


# --- Every key of a multi-object request goes through the one authorization function ------------------------


def other_account(server):
    created = json.loads(server.coffer("account", "create", "--name", unique("acct"),
                                       "--data-dir", str(server.data_dir), "--json").stdout)
    return created["account_id"], (created["access_key_id"], created["secret_access_key"])


def anonymous_s3(server):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                                      retries={"max_attempts": 1}))


def test_anonymous_multi_delete_obeys_restrict_public_buckets(server):
    """The review's bypass: with a public Delete grant and RestrictPublicBuckets on, an anonymous DELETE was
    refused but an anonymous multi-delete removed the objects (it evaluated the raw bucket policy)."""
    s3 = server.client("s3")
    b = unique("rpb")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=b"a")
    s3.put_object(Bucket=b, Key="b", Body=b"b")
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    put_policy(s3, b, [{"Effect": "Allow", "Principal": "*", "Action": "s3:DeleteObject",
                        "Resource": f"arn:aws:s3:::{b}/*"}])
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    anon = anonymous_s3(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        anon.delete_object(Bucket=b, Key="a")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    out = anon.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert not out.get("Deleted"), out
    assert sorted(x["Code"] for x in out["Errors"]) == ["AccessDenied", "AccessDenied"]
    assert s3.get_object(Bucket=b, Key="a")["Body"].read() == b"a"
    assert s3.get_object(Bucket=b, Key="b")["Body"].read() == b"b"


def test_multi_delete_obeys_existing_object_tag_and_request_condition_denies(server):
    s3 = server.client("s3")
    b = unique("tagdel")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="keep", Body=b"k", Tagging="retain=yes")
    s3.put_object(Bucket=b, Key="free", Body=b"f")
    put_policy(s3, b, [
        {"Sid": "KeepTagged", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": f"arn:aws:s3:::{b}/*", "Condition": {"StringEquals": {"s3:ExistingObjectTag/retain": "yes"}}},
        {"Sid": "OnlyHeaderAuth", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": f"arn:aws:s3:::{b}/q/*", "Condition": {"StringEquals": {"s3:authType": "REST-HEADER"}}},
    ])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_object(Bucket=b, Key="keep")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "keep"}, {"Key": "free"}]})
    assert [x["Key"] for x in out.get("Deleted", [])] == ["free"], out
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("keep", "AccessDenied")]
    assert s3.get_object(Bucket=b, Key="keep")["Body"].read() == b"k"
    # A request condition key (s3:authType) applies to each key of the multi-delete too.
    s3.put_object(Bucket=b, Key="q/x", Body=b"x")
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "q/x"}]})
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("q/x", "AccessDenied")], out
    s3.delete_bucket_policy(Bucket=b)


def test_multi_delete_honours_the_expected_bucket_owner(server):
    s3 = server.client("s3")
    b = unique("ebo")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=b"a")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}]}, ExpectedBucketOwner="111122223333")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="a", ExpectedBucketOwner="111122223333")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    me = server.client("sts").get_caller_identity()["Account"]
    assert s3.get_object(Bucket=b, Key="a", ExpectedBucketOwner=me)["Body"].read() == b"a"
    # The copy source is checked against x-amz-source-expected-bucket-owner.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "a"}, ExpectedSourceBucketOwner="111122223333")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "a"}, ExpectedSourceBucketOwner=me)


# --- Only the owner's account manages a bucket's policy; the owner's root can never be locked out ----------


def test_another_account_cannot_take_over_a_bucket_policy(server):
    """The review's takeover: A's policy granted B s3:*, B replaced it with one denying everyone but B."""
    s3 = server.client("s3")
    b = unique("takeover")
    s3.create_bucket(Bucket=b)
    b_account, b_keys = other_account(server)
    put_policy(s3, b, [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{b_account}:root"}, "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}])
    other = server.client("s3", *b_keys)
    lockout = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{b_account}:root"}, "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}]})
    for call in [lambda: other.put_bucket_policy(Bucket=b, Policy=lockout),
                 lambda: other.get_bucket_policy(Bucket=b),
                 lambda: other.delete_bucket_policy(Bucket=b),
                 lambda: other.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
                     "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                     "RestrictPublicBuckets": False}),
                 lambda: other.delete_public_access_block(Bucket=b),
                 lambda: other.put_bucket_ownership_controls(Bucket=b, OwnershipControls={
                     "Rules": [{"ObjectOwnership": "ObjectWriter"}]}),
                 lambda: other.delete_bucket_ownership_controls(Bucket=b)]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405, e.value.response
        assert e.value.response["Error"]["Code"] == "MethodNotAllowed"
    # B still has what the policy grants on objects.
    other.put_object(Bucket=b, Key="from-b", Body=b"b")
    assert s3.get_bucket_policy(Bucket=b)["Policy"]
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_the_owner_root_always_manages_the_bucket_policy(server):
    s3 = server.client("s3")
    b = unique("lockout")
    s3.create_bucket(Bucket=b)
    me = server.client("sts").get_caller_identity()["Account"]
    put_policy(s3, b, [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}])
    with pytest.raises(botocore.exceptions.ClientError):
        s3.put_object(Bucket=b, Key="x", Body=b"x")
    assert "Deny" in s3.get_bucket_policy(Bucket=b)["Policy"]
    s3.delete_bucket_policy(Bucket=b)
    s3.put_object(Bucket=b, Key="x", Body=b"x")
    # An IAM user of the owner's account with s3:* is still bound by the deny (only root is exempt).
    iam = server.client("iam")
    user = unique("admin")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    admin = server.client("s3", k["AccessKeyId"], k["SecretAccessKey"])
    put_policy(s3, b, [{"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{me}:user/{user}"}, "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.delete_bucket_policy(Bucket=b)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket=b)


# --- A missing key is 404 only for callers that may list the bucket ------------------------------------------


def test_missing_keys_are_access_denied_without_list_bucket(server):
    s3 = server.client("s3")
    b = unique("exist")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="here", Body=b"h")
    iam = server.client("iam")
    user = unique("reader")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectTagging"],
                                                 "Resource": f"arn:aws:s3:::{b}/*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    reader = server.client("s3", k["AccessKeyId"], k["SecretAccessKey"])
    assert reader.get_object(Bucket=b, Key="here")["Body"].read() == b"h"
    for call in [lambda: reader.get_object(Bucket=b, Key="nothere"),
                 lambda: reader.get_object_tagging(Bucket=b, Key="nothere")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.head_object(Bucket=b, Key="nothere")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Anonymous callers of a bucket that grants public reads (but not listing) learn nothing either.
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    put_policy(s3, b, [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{b}/*"}])
    assert raw(server, "GET", f"/{b}/here")[0] == 200
    status, _, body = raw(server, "GET", f"/{b}/nothere")
    assert status == 403 and error_code(body) == "AccessDenied", body
    # With s3:ListBucket the truth: 404.
    iam.put_user_policy(UserName=user, PolicyName="list", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                 "Resource": f"arn:aws:s3:::{b}"}]}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_object(Bucket=b, Key="nothere")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


# --- Browser form uploads (POST Object): verified before the file is read, decided only by signed fields ---


BOUNDARY = "----cofferformboundary7MA4YWxkTrZu0gW"


def form_prelude(fields, filename="upload.bin", file_content_type="application/octet-stream"):
    out = b""
    for k, v in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {file_content_type}\r\n\r\n").encode()
    return out


FORM_END = f"\r\n--{BOUNDARY}--\r\n".encode()


def post_form(server, bucket, fields, data, headers=None):
    body = form_prelude(fields) + data + FORM_END
    hdrs = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **(headers or {})}
    return raw(server, "POST", f"/{bucket}", hdrs, body)


def presigned_post(server, bucket, key, conditions=None, fields=None, v4=True, expires=300):
    s3 = server.client("s3", signature_version="s3v4" if v4 else "s3")
    return s3.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)


def test_presigned_post_uploads_with_sigv4_and_sigv2(server):
    s3 = server.client("s3")
    b = unique("form")
    s3.create_bucket(Bucket=b)
    for v4 in (True, False):
        key = f"uploads/{'v4' if v4 else 'v2'}.txt"
        post = presigned_post(server, b, key, conditions=[["content-length-range", 1, 1024],
                                                          {"Content-Type": "text/plain"}],
                              fields={"Content-Type": "text/plain"}, v4=v4)
        status, headers, body = post_form(server, b, post["fields"], b"hello form")
        assert status == 204, body
        assert headers["etag"]
        got = s3.get_object(Bucket=b, Key=key)
        assert got["Body"].read() == b"hello form"
        assert got["ContentType"] == "text/plain"
    # success_action_status 201 answers S3's PostResponse document.
    post = presigned_post(server, b, "uploads/${filename}", conditions=[{"success_action_status": "201"},
                                                                         ["starts-with", "$key", "uploads/"]],
                          fields={"success_action_status": "201"})
    status, _, body = post_form(server, b, post["fields"], b"named")
    assert status == 201 and b"<PostResponse>" in body and b"<Key>uploads/upload.bin</Key>" in body, body
    assert s3.get_object(Bucket=b, Key="uploads/upload.bin")["Body"].read() == b"named"


def test_post_form_ignores_unsigned_http_headers(server):
    """The review's bypass: a form upload honoured unsigned HTTP headers (a KMS key, tags, metadata)."""
    s3 = server.client("s3")
    kms = server.client("kms")
    b = unique("formhdr")
    s3.create_bucket(Bucket=b)
    attacker_key = kms.create_key(Description="not the bucket's")["KeyMetadata"]["Arn"]
    post = presigned_post(server, b, "doc.txt")
    status, _, body = post_form(server, b, post["fields"], b"data", headers={
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": attacker_key,
        "x-amz-tagging": "owner=attacker",
        "x-amz-meta-injected": "yes",
        "x-amz-acl": "public-read",
    })
    assert status == 204, body
    head = s3.head_object(Bucket=b, Key="doc.txt")
    assert head.get("ServerSideEncryption") == "AES256", head
    assert "SSEKMSKeyId" not in head
    assert "injected" not in head.get("Metadata", {})
    assert s3.get_object_tagging(Bucket=b, Key="doc.txt")["TagSet"] == []


def test_post_form_fields_must_be_allowed_by_the_policy(server):
    s3 = server.client("s3")
    b = unique("formpol")
    s3.create_bucket(Bucket=b)
    post = presigned_post(server, b, "uploads/${filename}", conditions=[["starts-with", "$key", "uploads/"],
                                                                         ["content-length-range", 2, 16]])
    # A field the policy does not name.
    status, _, body = post_form(server, b, {**post["fields"], "x-amz-server-side-encryption": "aws:kms"}, b"data")
    assert status == 403 and error_code(body) == "AccessDenied" and b"Extra input fields" in body, body
    # A key outside the allowed prefix.
    status, _, body = post_form(server, b, {**post["fields"], "key": "admin/x"}, b"data")
    assert status == 403 and error_code(body) == "AccessDenied" and b"Condition failed" in body, body
    # Outside content-length-range, either way: nothing becomes visible.
    status, _, body = post_form(server, b, post["fields"], b"x" * 17)
    assert status == 400 and error_code(body) == "EntityTooLarge", body
    status, _, body = post_form(server, b, post["fields"], b"x")
    assert status == 400 and error_code(body) == "EntityTooSmall", body
    assert s3.list_objects_v2(Bucket=b).get("KeyCount") == 0
    # A tampered policy breaks the signature.
    forged = dict(post["fields"])
    forged["policy"] = base64.b64encode(json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": [
        ["starts-with", "$key", ""]]}).encode()).decode()
    status, _, body = post_form(server, b, forged, b"data")
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch", body
    # An expired policy.
    old = presigned_post(server, b, "uploads/${filename}", expires=-60)
    status, _, body = post_form(server, b, old["fields"], b"data")
    assert status == 403 and error_code(body) == "AccessDenied" and b"expired" in body, body
    # A form beside another auth mechanism.
    status, _, body = post_form(server, b, post["fields"], b"data", headers={"Authorization": "AWS x:y"})
    assert status == 400 and error_code(body) == "InvalidArgument", body
    assert s3.list_objects_v2(Bucket=b).get("KeyCount") == 0


def test_anonymous_post_is_refused_before_the_file_is_read(server):
    """The review's memory exhaustion: an anonymous 800 MB POST was buffered whole before the access check.
    The refusal now comes back while the client has sent only the form's fields."""
    import socket

    s3 = server.client("s3")
    b = unique("formanon")
    s3.create_bucket(Bucket=b)
    u = urllib.parse.urlsplit(server.endpoint)
    prelude = form_prelude({"key": "big.bin"})
    declared = len(prelude) + 800 * 1024 * 1024 + len(FORM_END)
    head = (f"POST /{b} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    try:
        sock.sendall(head + prelude + b"x" * 65536)
        answer = sock.recv(4096)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"AccessDenied" in answer
    assert s3.list_objects_v2(Bucket=b).get("KeyCount") == 0


def vm_hwm_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_post_form_file_streams_in_constant_memory(fresh_server):
    """A 192 MiB form upload raises the server's peak RSS by far less than its size: the file is never
    buffered whole."""
    server = fresh_server()
    s3 = server.client("s3")
    b = unique("formbig")
    s3.create_bucket(Bucket=b)
    size = 192 * 1024 * 1024
    post = presigned_post(server, b, "big.bin", conditions=[["content-length-range", 1, size]])
    s3.put_object(Bucket=b, Key="warm", Body=b"w" * 1024 * 1024)
    before = vm_hwm_kib(server.proc.pid)
    prelude = form_prelude(post["fields"])
    chunk = b"z" * (1024 * 1024)

    def body():
        yield prelude
        for _ in range(size // len(chunk)):
            yield chunk
        yield FORM_END

    u = urllib.parse.urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    conn.request("POST", f"/{b}", body=body(), headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(prelude) + size + len(FORM_END))})
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == 204
    grew_mib = (vm_hwm_kib(server.proc.pid) - before) / 1024
    assert grew_mib < 64, f"peak RSS grew by {grew_mib:.0f} MiB for a {size >> 20} MiB upload"
    assert s3.head_object(Bucket=b, Key="big.bin")["ContentLength"] == size


# --- Limits -------------------------------------------------------------------------------------------------


def test_oversized_bodies_are_refused(server, bucket_with_object):
    s3, b = bucket_with_object
    big_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"s{i}", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{b}/{'x' * 64}{i}"} for i in range(200)]})
    assert len(big_policy) > 20 * 1024
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=big_policy)
    assert e.value.response["Error"]["Code"] == "MalformedPolicy"
    # An XML body past 4 MiB is refused before it is parsed.
    huge = b"<Tagging><TagSet>" + b"<Tag><Key>k</Key><Value>v</Value></Tag>" * 120_000 + b"</TagSet></Tagging>"
    status, _, body = signed_raw(server, "PUT", f"/{b}?tagging", {"Content-Type": "application/xml"}, huge)
    assert status == 400 and error_code(body) == "MaxMessageLengthExceeded", (status, body[:200])


def test_post_form_with_session_credentials(server):
    s3 = server.client("s3")
    b = unique("formsts")
    s3.create_bucket(Bucket=b)
    iam = server.client("iam")
    me = server.client("sts").get_caller_identity()["Account"]
    role = unique("uploader")
    user = unique("assumer")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{me}:user/{user}"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role, PolicyName="put", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*"}]}))
    c = server.client("sts", k["AccessKeyId"], k["SecretAccessKey"]).assume_role(RoleArn=f"arn:aws:iam::{me}:role/{role}", RoleSessionName="form")["Credentials"]
    session = server.client("s3", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], signature_version="s3v4")
    post = session.generate_presigned_post(b, "by-role.txt", ExpiresIn=300)
    assert "x-amz-security-token" in post["fields"]
    status, _, body = post_form(server, b, post["fields"], b"from a role")
    assert status == 204, body
    assert s3.get_object(Bucket=b, Key="by-role.txt")["Body"].read() == b"from a role"
    # The same form with the token changed is refused.
    forged = {**post["fields"], "x-amz-security-token": post["fields"]["x-amz-security-token"][:-4] + "AAAA"}
    status, _, body = post_form(server, b, forged, b"x")
    assert status in (400, 403), body
