"""The audit trail: every call recorded in CloudTrail's shape, found by `aws cloudtrail lookup-events`, and
tamper-evident: `coffer trail verify` names the first altered record."""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, unique, wait_until
from test_iam import make_user


def lookup(server, *attr, creds=None):
    args = ["cloudtrail", "lookup-events", "--max-results", "50"]
    if attr:
        args += ["--lookup-attributes", f"AttributeKey={attr[0]},AttributeValue={attr[1]}"]
    return server.aws(*args, creds=creds)[1]["Events"]


def test_lookup_events_finds_calls(server):
    account = server.client("sts").get_caller_identity()["Account"]
    name, creds = make_user(server)
    events = wait_until(lambda: [e for e in lookup(server, "Username", "root") if e["EventName"] == "CreateUser"
                                 and name in e["CloudTrailEvent"]], what="the CreateUser event")
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["eventName"] == "CreateUser"
    assert record["userIdentity"]["type"] == "Root"
    assert record["userIdentity"]["accountId"] == account
    assert record["requestParameters"]["userName"] == name
    assert record["recipientAccountId"] == account
    assert record["eventType"] == "AwsApiCall" and record["managementEvent"] is True
    assert record["readOnly"] is False
    assert events[0]["EventSource"] == "iam.amazonaws.com"

    # A denied call by the user is recorded with its error code.
    server.client("iam", *creds)
    server.aws("iam", "create-user", "--user-name", "denied", creds=creds, check=False)
    denied = wait_until(lambda: [e for e in lookup(server, "Username", name) if e["EventName"] == "CreateUser"],
                        what="the denied CreateUser event")
    rec = json.loads(denied[0]["CloudTrailEvent"])
    assert rec["errorCode"] == "AccessDenied"
    assert rec["userIdentity"]["type"] == "IAMUser" and rec["userIdentity"]["userName"] == name

    by_name = lookup(server, "EventName", "GetCallerIdentity")
    assert by_name and all(e["EventName"] == "GetCallerIdentity" for e in by_name)
    by_key = lookup(server, "AccessKeyId", creds[0])
    assert by_key and all(e.get("AccessKeyId") == creds[0] for e in by_key)


def test_secrets_never_reach_the_trail(server):
    iam = server.client("iam")
    name, creds = make_user(server)
    secret = creds[1]
    events = wait_until(lambda: [e for e in lookup(server, "EventName", "CreateAccessKey")
                                 if name in e["CloudTrailEvent"]], what="the CreateAccessKey event")
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["responseElements"]["accessKey"]["accessKeyId"] == creds[0]
    assert secret not in events[0]["CloudTrailEvent"]
    for e in lookup(server):
        assert secret not in e["CloudTrailEvent"]
    assert iam  # the client stays usable


def test_accounts_see_only_their_own_events(server):
    created = json.loads(server.coffer("account", "create", "--name", unique("iso"),
                                       "--data-dir", str(server.data_dir), "--json").stdout)
    other = (created["access_key_id"], created["secret_access_key"])
    server.aws("iam", "create-user", "--user-name", unique("mine"))
    server.aws("sts", "get-caller-identity", creds=other)
    events = wait_until(lambda: lookup(server, creds=other), what="the other account's events")
    for e in events:
        assert json.loads(e["CloudTrailEvent"])["recipientAccountId"] == created["account_id"]


def test_lookup_pagination_and_bad_input(server):
    sts = server.client("sts")
    for _ in range(5):
        sts.get_caller_identity()
    ct = server.client("cloudtrail")
    page = ct.lookup_events(MaxResults=2)
    assert len(page["Events"]) == 2 and "NextToken" in page
    page2 = ct.lookup_events(MaxResults=2, NextToken=page["NextToken"])
    ids1 = {e["EventId"] for e in page["Events"]}
    assert not ids1 & {e["EventId"] for e in page2["Events"]}
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events(NextToken="garbage")
    assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "A"},
                                           {"AttributeKey": "EventName", "AttributeValue": "B"}])
    assert e.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


def test_flipping_one_byte_is_detected_and_named(fresh_server):
    s = fresh_server()
    for i in range(20):
        s.client("iam").create_user(UserName=f"u{i}")
    assert s.stop() == 0
    ok = subprocess.run([BIN, "trail", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    segments = sorted((Path(s.data_dir) / "audit" / "segments").glob("*"))
    seg = max(segments, key=lambda p: p.stat().st_size)
    data = bytearray(seg.read_bytes())
    # Flip a byte inside the name of the tenth user, well inside one record.
    at = data.find(b'"u10"')
    assert at > 0
    data[at + 2] ^= 0x01
    seg.write_bytes(bytes(data))
    bad = subprocess.run([BIN, "trail", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert bad.returncode != 0
    assert bad.stdout.startswith("FAILED")
    assert "seq" in bad.stdout and seg.name in bad.stdout
