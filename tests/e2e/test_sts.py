"""STS: GetCallerIdentity for every kind of principal, and AssumeRole decided by the trust policy and the
caller's own permissions, with temporary credentials and session policies."""

import json

import botocore.exceptions
import pytest

from conftest import unique
from test_iam import allow, error_of, make_user


def trust(principal):
    return json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]}
    )


def make_role(server, principal, policy=None):
    iam = server.client("iam")
    name = unique("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principal))["Role"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return role


def test_assume_role_allowed_by_a_trust_policy_naming_the_user(server):
    account = server.client("sts").get_caller_identity()["Account"]
    name, creds = make_user(server)  # no identity policy at all
    role = make_role(server, f"arn:aws:iam::{account}:user/{name}", allow(["iam:ListUsers"]))
    assert role["Arn"] == f"arn:aws:iam::{account}:role/{role['RoleName']}"
    out = server.client("sts", *creds).assume_role(RoleArn=role["Arn"], RoleSessionName="sess1")
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/sess1"
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:sess1"
    session = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    ident = server.client("sts", *session).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert ident["UserId"] == f"{role['RoleId']}:sess1"
    # The session has the role's permissions, and only those.
    session_iam = server.client("iam", *session)
    session_iam.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session_iam.create_user(UserName="x")
    code, message = error_of(e)
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:sts::{account}:assumed-role/{role['RoleName']}/sess1 is not authorized")
    # The aws CLI sees the same.
    _, who, _ = server.aws("sts", "get-caller-identity", creds=session)
    assert who["Arn"] == ident["Arn"]


def test_assume_role_denied_by_the_trust_policy(server):
    account = server.client("sts").get_caller_identity()["Account"]
    name, creds = make_user(server, allow("sts:AssumeRole"))
    other, _ = make_user(server)
    role = make_role(server, f"arn:aws:iam::{account}:user/{other}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts", *creds).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    code, message = error_of(e)
    assert code == "AccessDenied"
    assert message.startswith(
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: sts:AssumeRole on resource: "
        f"{role['Arn']}"
    )


def test_trust_policy_naming_the_account_needs_the_callers_permission(server):
    account = server.client("sts").get_caller_identity()["Account"]
    role = make_role(server, f"arn:aws:iam::{account}:root")
    _, without = make_user(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts", *without).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_of(e)[0] == "AccessDenied"
    _, with_perm = make_user(server, allow("sts:AssumeRole", role["Arn"]))
    server.client("sts", *with_perm).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")


def test_a_missing_role_is_access_denied(server):
    account = server.client("sts").get_caller_identity()["Account"]
    _, creds = make_user(server, allow("sts:AssumeRole"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts", *creds).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/does-not-exist", RoleSessionName="sess"
        )
    assert error_of(e)[0] == "AccessDenied"


def test_session_policy_narrows_the_session(server):
    account = server.client("sts").get_caller_identity()["Account"]
    name, creds = make_user(server)
    role = make_role(server, f"arn:aws:iam::{account}:user/{name}", allow(["iam:ListUsers", "iam:ListRoles"]))
    out = server.client("sts", *creds).assume_role(
        RoleArn=role["Arn"], RoleSessionName="narrow", Policy=allow("iam:ListRoles")
    )
    c = out["Credentials"]
    session_iam = server.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    session_iam.list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session_iam.list_users()
    code, message = error_of(e)
    assert code == "AccessDenied"
    assert message.endswith("because no session policy allows the iam:ListUsers action")


def test_session_credentials_need_their_token(server):
    account = server.client("sts").get_caller_identity()["Account"]
    name, creds = make_user(server)
    role = make_role(server, f"arn:aws:iam::{account}:user/{name}")
    c = server.client("sts", *creds).assume_role(RoleArn=role["Arn"], RoleSessionName="tok")["Credentials"]
    for token in [None, c["SessionToken"][:-4] + "AAAA"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            server.client("sts", c["AccessKeyId"], c["SecretAccessKey"], token).get_caller_identity()
        assert error_of(e)[0] == "InvalidClientTokenId"


def test_assume_role_validates_its_input(server):
    account = server.client("sts").get_caller_identity()["Account"]
    role = make_role(server, f"arn:aws:iam::{account}:root")
    _, creds = make_user(server, allow("sts:AssumeRole"))
    sts = server.client("sts", *creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=7200)
    assert error_of(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", Policy="{nope")
    assert error_of(e)[0] == "MalformedPolicyDocument"
