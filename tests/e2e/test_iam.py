"""IAM with the aws CLI and boto3: users, access keys, inline and managed policies, and calls as those users
allowed or denied with AWS's error codes and messages."""

import json

import botocore.exceptions
import pytest

from conftest import unique


def error_of(exc_info):
    e = exc_info.value.response["Error"]
    return e["Code"], e["Message"]


def allow(actions, resource="*", effect="Allow", condition=None):
    stmt = {"Effect": effect, "Action": actions, "Resource": resource}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


@pytest.fixture
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


def make_user(server, policy=None):
    iam = server.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, (key["AccessKeyId"], key["SecretAccessKey"])


def test_user_lifecycle_with_the_cli(server, account):
    name = unique("cli")
    _, out, _ = server.aws("iam", "create-user", "--user-name", name, "--path", "/team/")
    assert out["User"]["Arn"] == f"arn:aws:iam::{account}:user/team/{name}"
    assert out["User"]["UserId"].startswith("AIDA")
    _, out, _ = server.aws("iam", "get-user", "--user-name", name)
    assert out["User"]["UserName"] == name and out["User"]["Path"] == "/team/"
    _, out, _ = server.aws("iam", "list-users", "--path-prefix", "/team/")
    assert name in [u["UserName"] for u in out["Users"]]
    _, key, _ = server.aws("iam", "create-access-key", "--user-name", name)
    akid = key["AccessKey"]["AccessKeyId"]
    assert akid.startswith("AKIA") and len(key["AccessKey"]["SecretAccessKey"]) == 40
    _, keys, _ = server.aws("iam", "list-access-keys", "--user-name", name)
    assert [k["AccessKeyId"] for k in keys["AccessKeyMetadata"]] == [akid]
    rc, _, err = server.aws("iam", "delete-user", "--user-name", name, check=False)
    assert rc != 0 and "DeleteConflict" in err
    server.aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", akid)
    server.aws("iam", "delete-user", "--user-name", name)
    rc, _, err = server.aws("iam", "get-user", "--user-name", name, check=False)
    assert rc != 0 and "NoSuchEntity" in err


def test_calls_as_a_user_are_allowed_and_denied_by_policy(server, account):
    name, creds = make_user(server, allow(["iam:ListUsers", "iam:GetUser"]))
    user_iam = server.client("iam", *creds)
    assert any(u["UserName"] == name for u in user_iam.list_users()["Users"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_iam.create_user(UserName="nope")
    code, message = error_of(e)
    assert code == "AccessDenied"
    assert message == (
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{account}:user/nope because no identity-based policy allows the iam:CreateUser action"
    )
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # The same through the aws CLI.
    rc, _, err = server.aws("iam", "create-user", "--user-name", "nope2", creds=creds, check=False)
    assert rc != 0 and "AccessDenied" in err and "no identity-based policy allows the iam:CreateUser action" in err


def test_explicit_deny_wins(server, account):
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"},
            ],
        }
    )
    name, creds = make_user(server, policy)
    user_iam = server.client("iam", *creds)
    victim = unique("victim")
    user_iam.create_user(UserName=victim)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_iam.delete_user(UserName=victim)
    code, message = error_of(e)
    assert code == "AccessDenied"
    assert message.endswith("with an explicit deny in an identity-based policy")


def test_policy_variables_scope_users_to_themselves(server, account):
    policy = allow(["iam:GetUser", "iam:CreateAccessKey", "iam:ListAccessKeys"], "arn:aws:iam::*:user/${aws:username}")
    name, creds = make_user(server, policy)
    other, _ = make_user(server)
    user_iam = server.client("iam", *creds)
    assert user_iam.get_user(UserName=name)["User"]["UserName"] == name
    assert user_iam.get_user()["User"]["UserName"] == name  # no name: the caller
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_iam.get_user(UserName=other)
    assert error_of(e)[0] == "AccessDenied"


def test_inline_policy_documents_round_trip(server):
    iam = server.client("iam")
    name, _ = make_user(server)
    doc = allow("s3:GetObject", "arn:aws:s3:::bucket/*", condition={"Bool": {"aws:SecureTransport": "true"}})
    iam.put_user_policy(UserName=name, PolicyName="second", PolicyDocument=doc)
    got = iam.get_user_policy(UserName=name, PolicyName="second")
    assert got["PolicyDocument"] == json.loads(doc)
    assert sorted(iam.list_user_policies(UserName=name)["PolicyNames"]) == ["second"]
    iam.delete_user_policy(UserName=name, PolicyName="second")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user_policy(UserName=name, PolicyName="second")
    assert error_of(e)[0] == "NoSuchEntity"


def test_malformed_and_oversize_policies(server):
    iam = server.client("iam")
    name, _ = make_user(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument="{not json")
    assert error_of(e)[0] == "MalformedPolicyDocument"
    bad_condition = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "S1", "Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                                 "Condition": {"StringEqualz": {"aws:username": "x"}}}]}
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=bad_condition)
    code, message = error_of(e)
    assert code == "MalformedPolicyDocument"
    assert "S1" in message and "StringEqualz" in message
    big = allow([f"s3:GetObject{i:04d}" for i in range(200)])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="big", PolicyDocument=big)
    assert error_of(e)[0] == "LimitExceeded"


def test_access_key_quota_and_deactivation(server):
    iam = server.client("iam")
    name, creds = make_user(server, allow("iam:GetUser"))
    iam.create_access_key(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName=name)
    assert error_of(e)[0] == "LimitExceeded"
    server.client("iam", *creds).get_user()
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("iam", *creds).get_user()
    assert error_of(e)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Active")
    server.client("iam", *creds).get_user()


def test_invalid_names_are_validation_errors(server):
    iam = server.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="bad/name")
    assert error_of(e)[0] == "ValidationError"
    name = unique("dup")
    iam.create_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName=name)
    assert error_of(e)[0] == "EntityAlreadyExists"


def test_managed_policies(server, account):
    iam = server.client("iam")
    pname = unique("pol")
    arn = iam.create_policy(PolicyName=pname, PolicyDocument=allow("iam:ListUsers"))["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{account}:policy/{pname}"
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["DefaultVersionId"] == "v1" and got["AttachmentCount"] == 0
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(allow("iam:ListUsers")) and version["IsDefaultVersion"]
    name, creds = make_user(server)
    user_iam = server.client("iam", *creds)
    with pytest.raises(botocore.exceptions.ClientError):
        user_iam.list_users()
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]] == [arn]
    user_iam.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(e)[0] == "DeleteConflict"
    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    with pytest.raises(botocore.exceptions.ClientError):
        user_iam.list_users()
    iam.delete_policy(PolicyArn=arn)
    # An AWS-managed policy attaches as in AWS.
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    user_iam.create_user(UserName=unique("byadmin"))
