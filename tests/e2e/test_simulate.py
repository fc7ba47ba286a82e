"""IAM's policy simulator: SimulateCustomPolicy and SimulatePrincipalPolicy with context entries."""

import json


from test_iam import make_user


def results(out):
    return {(r["EvalActionName"], r["EvalResourceName"]): r for r in out["EvaluationResults"]}


def test_simulate_custom_policy(server):
    iam = server.client("iam")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                 "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
                {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
            ],
        }
    )
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject", "s3:DeleteObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::b/k"],
        ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}],
    )
    r = results(out)
    assert r[("s3:GetObject", "arn:aws:s3:::b/k")]["EvalDecision"] == "allowed"
    assert r[("s3:DeleteObject", "arn:aws:s3:::b/k")]["EvalDecision"] == "explicitDeny"
    assert r[("s3:PutObject", "arn:aws:s3:::b/k")]["EvalDecision"] == "implicitDeny"
    matched = r[("s3:GetObject", "arn:aws:s3:::b/k")]["MatchedStatements"]
    assert matched and matched[0]["SourcePolicyId"] == "PolicyInputList.1"

    # Outside the address range the condition fails; without the key, the simulator names the missing key.
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"],
        ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["192.0.2.1"], "ContextKeyType": "ip"}],
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"]
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    assert "aws:SourceIp" in out["EvaluationResults"][0]["MissingContextValues"]


def test_simulate_custom_policy_with_the_cli(server):
    policy = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]})
    _, out, _ = server.aws(
        "iam", "simulate-custom-policy", "--policy-input-list", policy,
        "--action-names", "iam:ListUsers", "iam:CreateUser",
    )
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"iam:ListUsers": "allowed", "iam:CreateUser": "implicitDeny"}


def test_simulate_principal_policy(server):
    account = server.client("sts").get_caller_identity()["Account"]
    policy = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    name, _ = make_user(server, policy)
    out = server.client("iam").simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{account}:user/{name}", ActionNames=["iam:GetUser", "iam:DeleteUser"]
    )
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"iam:GetUser": "allowed", "iam:DeleteUser": "implicitDeny"}
