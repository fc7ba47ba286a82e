"""The second security review's findings, each as the attack it ran against `coffer serve`, asserting what AWS (or
coffer's own security model) says should happen. Every test here failed on the code it was written against."""

import base64
import datetime
import hashlib
import hmac
import re
import socket
import time
import urllib.parse
import urllib.request

import pytest

from conftest import REGION, unique
from test_attack_s3 import error_code, other_account, raw, sigv2_presigned_path, vm_hwm_kib


def api_address(server):
    u = urllib.parse.urlsplit(server.endpoint)
    return u.hostname, u.port


def first_answer(server, head, body_prefix, timeout=10):
    """Sends a request head and the first bytes of a (longer) body; returns what the server answers before the
    body is complete, or b"" when it waits for the rest."""
    c = socket.create_connection(api_address(server))
    c.settimeout(timeout)
    try:
        c.sendall(head + body_prefix)
        try:
            return c.recv(4096)
        except socket.timeout:
            return b""
    finally:
        c.close()


# --- Unauthenticated memory: S3's XML bodies are buffered before anyone is authenticated ---------------------


def test_s3_xml_bodies_are_not_buffered_for_anonymous_or_unknown_key_callers(fresh_server):
    """The front reads every PUT/POST XML body (PutBucketTagging, PutBucketPolicy, DeleteObjects, …) whole, up to
    4 MiB, *before* s3s authenticates the request (`front.rs`: `read_xml_body` runs before `service.call`). An
    anonymous caller, or one naming an access key that does not exist, makes the server hold 4 MiB per
    connection: 512 connections (the cap) are 2 GiB. The same class as the POST-form exhaustion the first review
    found, and the same rule the JSON/Query services already keep ("unknown access keys are refused before a
    body is read"). AWS answers these requests 403 from the head alone."""
    server = fresh_server()
    s3 = server.client("s3")
    b = unique("xmlbody")
    s3.create_bucket(Bucket=b)
    netloc = server.endpoint.split("//", 1)[1]
    declared = 4 * 1024 * 1024 - 1

    # Anonymous PutBucketTagging on a private bucket: refused without waiting for the 4 MiB.
    head = (f"PUT /{b}?tagging HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {declared}\r\n\r\n").encode()
    answer = first_answer(server, head, b"<" * 65536)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]

    # A SigV4 header naming an access key that does not exist: InvalidAccessKeyId without reading the body.
    now = datetime.datetime.now(datetime.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    head = (
        f"POST /{b}?delete HTTP/1.1\r\nHost: {netloc}\r\nx-amz-date: {amz}\r\n"
        "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
        f"Authorization: AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/{amz[:8]}/{REGION}/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={'0' * 64}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    answer = first_answer(server, head, b"<" * 65536)
    assert answer.startswith(b"HTTP/1.1 403") and b"InvalidAccessKeyId" in answer, answer[:300]

    # And so the memory an anonymous client can pin is bounded: 48 connections, each 4 MiB less one byte.
    before = vm_hwm_kib(server.proc.pid)
    held = []
    chunk = b"<" * (1 << 20)
    try:
        for _ in range(48):
            c = socket.create_connection(api_address(server))
            c.settimeout(10)
            c.sendall(f"PUT /{b}?tagging HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {declared}\r\n\r\n".encode())
            try:
                sent = 0
                while sent < declared - 1:
                    n = min(len(chunk), declared - 1 - sent)
                    c.sendall(chunk[:n])
                    sent += n
            except OSError:
                pass  # refused and closed early: what we want
            held.append(c)
        time.sleep(1)
        grew_mib = (vm_hwm_kib(server.proc.pid) - before) / 1024
    finally:
        for c in held:
            c.close()
    assert grew_mib < 64, f"48 anonymous connections pinned {grew_mib:.0f} MiB of request bodies"


# --- SigV2 signatures do not cover the subresources coffer routes on ----------------------------------------


def test_sigv2_signatures_cover_every_subresource_coffer_routes(server):
    """SigV2's string to sign names the subresources of botocore's 2006-era list (`sigv4/src/v2.rs`
    SUBRESOURCES); coffer routes on more — `publicAccessBlock`, `ownershipControls`, `encryption`,
    `policyStatus`. A query parameter outside the list is not signed, yet the router turns it into another
    operation. So a SigV2 URL presigned for DeleteBucket (`DELETE /b`) — or a captured header-signed one, for its
    15 minutes — also deletes the bucket's Block Public Access, its Object Ownership (re-enabling ACL semantics)
    and its default encryption; a URL presigned to list the bucket reads its configuration. The signature must
    bind the operation: AWS refuses a request whose signature does not cover what it asks
    (SignatureDoesNotMatch), and coffer's own invariant says claims come only from what was verified."""
    s3 = server.client("s3")
    b = unique("v2sub")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="keep", Body=b"keep")  # so a genuine DeleteBucket would fail, not succeed
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())

    delete_bucket = sigv2_presigned_path(server, "DELETE", f"/{b}", now + 600)
    outcomes = {}
    for sub in ["publicAccessBlock", "ownershipControls", "encryption"]:
        status, _, body = raw(server, "DELETE", f"{delete_bucket}&{sub}")
        outcomes[sub] = (status, error_code(body))
    # Refused either way: coffer asks for SigV4 (InvalidRequest) rather than guess what the signer meant.
    refused = {(403, "SignatureDoesNotMatch"), (400, "InvalidRequest")}
    assert all(o in refused for o in outcomes.values()), outcomes
    pab = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    assert pab["BlockPublicPolicy"] and pab["RestrictPublicBuckets"]
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]

    list_bucket = sigv2_presigned_path(server, "GET", f"/{b}", now + 600)
    assert raw(server, "GET", list_bucket)[0] == 200
    for sub in ["policyStatus", "encryption", "publicAccessBlock", "ownershipControls"]:
        status, _, body = raw(server, "GET", f"{list_bucket}&{sub}")
        assert (status, error_code(body)) in refused, (sub, status, body[:200])


# --- /metrics on the API endpoint tells anonymous callers about every account's keys ------------------------


def test_anonymous_metrics_do_not_reveal_other_accounts_kms_keys(server):
    """`/metrics` is served on the API listener to anyone, and `coffer_kms_requests_total` is labelled by key id:
    an anonymous client enumerates the KMS keys of every account on the deployment and watches each key's
    Encrypt/Decrypt/GenerateDataKey counts — when a tenant's objects are written and read. Accounts are each
    other's adversaries in the threat model; AWS shows a key's id and usage only to principals its policies
    allow (CloudWatch/CloudTrail of the owning account)."""
    _, keys = other_account(server)
    tenant = server.client("kms", *keys)
    key_id = tenant.create_key(Description="a tenant's key")["KeyMetadata"]["KeyId"]
    blob = tenant.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    tenant.decrypt(CiphertextBlob=blob)
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    leaked = [line for line in text.splitlines() if key_id in line]
    assert not leaked, leaked


# --- STS sessions are bound to a role's name, not to the role ---------------------------------------------


def test_a_session_of_a_deleted_role_does_not_inherit_a_new_role_of_the_same_name(server):
    """A role session keeps working after its role is deleted, and is evaluated against whatever role carries
    the name now: re-create `r` with broader policies (an IaC redeploy, or a different team reusing the name) and
    every unexpired session of the old `r` — up to 12 hours of them, issued to whoever the old trust policy
    admitted — gets the new role's permissions. AWS binds a session to the role's unique id (`AROA…`, in the
    session's AssumedRoleId): a new role of the same name has a new id, and the old sessions get nothing from it
    (IAM User Guide, "IAM identifiers — unique identifiers")."""
    import json

    import botocore.exceptions

    s3 = server.client("s3")
    iam = server.client("iam")
    me = server.client("sts").get_caller_identity()["Account"]
    b = unique("rolename")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="payroll.csv", Body=b"salaries")
    user, role = unique("contractor"), unique("r")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{me}:user/{user}"}, "Action": "sts:AssumeRole"}]}
    old = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    assumed = server.client("sts", k["AccessKeyId"], k["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{me}:role/{role}", RoleSessionName="old-session")
    assert assumed["AssumedRoleUser"]["AssumedRoleId"].startswith(old["RoleId"] + ":")
    c = assumed["Credentials"]
    session = server.client("s3", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError):
        session.get_object(Bucket=b, Key="payroll.csv")

    # The role is deleted (the contractor's access is over), and later a role of the same name is created for
    # someone else, with broad S3 access and a trust policy that does not admit the contractor.
    iam.delete_role_policy(RoleName=role, PolicyName="list")
    iam.delete_role(RoleName=role)
    trust["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{me}:root"}
    new = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert new["RoleId"] != old["RoleId"]
    iam.put_role_policy(RoleName=role, PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))

    with pytest.raises(botocore.exceptions.ClientError) as e:
        session.get_object(Bucket=b, Key="payroll.csv")
    assert e.value.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId", "InvalidClientTokenId",
                                                 "ExpiredToken"), e.value.response
