"""S3 in the audit trail: management events always, data events (object reads and writes) unless
`[s3] data_events = false`."""

import json

from conftest import unique, wait_until


def events(server, name):
    _, out, _ = server.aws("cloudtrail", "lookup-events", "--max-results", "50",
                           "--lookup-attributes", f"AttributeKey=EventName,AttributeValue={name}")
    return [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]


def test_data_events_are_recorded_by_default(fresh_server):
    s = fresh_server()
    s3 = s.client("s3")
    bucket = unique("audited")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    put = wait_until(lambda: [e for e in events(s, "PutObject") if e["requestParameters"].get("bucketName") == bucket],
                     what="the PutObject data event")
    assert put[0]["eventSource"] == "s3.amazonaws.com"
    assert put[0]["managementEvent"] is False and put[0]["eventCategory"] == "Data"
    assert put[0]["resources"][0]["ARN"] in (f"arn:aws:s3:::{bucket}/k", f"arn:aws:s3:::{bucket}")
    assert wait_until(lambda: events(s, "GetObject"), what="the GetObject data event")
    created = wait_until(lambda: events(s, "CreateBucket"), what="the CreateBucket management event")
    assert created[0]["managementEvent"] is True


def test_data_events_can_be_turned_off(fresh_server):
    s = fresh_server(config_text="[s3]\ndata_events = false\n")
    s3 = s.client("s3")
    bucket = unique("quiet")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    # Management events still arrive; once they have, the data events would have too.
    wait_until(lambda: events(s, "CreateBucket"), what="the CreateBucket management event")
    s.client("sts").get_caller_identity()
    wait_until(lambda: events(s, "GetCallerIdentity"), what="a later management event")
    assert events(s, "PutObject") == [] and events(s, "GetObject") == []
