"""Attacks on KMS grants, through boto3 against the real binary: a grant, a grant token or a delegated permission
must never produce more than it was given — not more operations, not looser constraints, not another grant's
retirement, not another account's use of a key beyond what the grant lists."""

import json

import botocore.exceptions
import pytest

from conftest import unique


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def denied(call, code="AccessDeniedException"):
    """Runs `call`, which must fail with `code`; returns the error message."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert error_code(e) == code, e.value.response
    return e.value.response["Error"]["Message"]


def key_policy(account, statements=()):
    root = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})


def make_user(server, policy=None, creds=None):
    """An IAM user (in the account of `creds`, default the first account) with an optional inline policy."""
    iam = server.client("iam", *(creds or ()))
    name = unique("atk")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    return arn, server.client("kms", key["AccessKeyId"], key["SecretAccessKey"])


def other_account(server):
    """A second account: (account id, its root's kms client, its root's (access key, secret))."""
    p = server.coffer("account", "create", "--name", unique("atkacct"), "--data-dir", str(server.data_dir), "--json")
    created = json.loads(p.stdout)
    creds = (created["access_key_id"], created["secret_access_key"])
    return created["account_id"], server.client("kms", *creds), creds


@pytest.fixture
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


@pytest.fixture
def kms(server):
    return server.client("kms")


def test_a_grant_for_only_create_grant_cannot_grant_itself_decrypt(server, kms):
    """The review's reproduction: a principal holding a grant for only CreateGrant made itself a Decrypt+Encrypt
    grant and decrypted the owner's data."""
    key = kms.create_key()["KeyMetadata"]["Arn"]
    secret = kms.encrypt(KeyId=key, Plaintext=b"owner's secret")["CiphertextBlob"]
    attacker_arn, attacker = make_user(server)
    accomplice_arn, accomplice = make_user(server)
    kms.create_grant(KeyId=key, GranteePrincipal=attacker_arn, Operations=["CreateGrant"])

    for ops in (["Decrypt", "Encrypt"], ["Decrypt"], ["CreateGrant", "Decrypt"], ["RetireGrant"]):
        denied(lambda: attacker.create_grant(KeyId=key, GranteePrincipal=attacker_arn, Operations=ops))
        denied(lambda: attacker.create_grant(KeyId=key, GranteePrincipal=accomplice_arn, Operations=ops))
    denied(lambda: attacker.decrypt(CiphertextBlob=secret))
    denied(lambda: accomplice.decrypt(CiphertextBlob=secret))
    # What the grant does allow: passing CreateGrant on, and nothing more.
    attacker.create_grant(KeyId=key, GranteePrincipal=accomplice_arn, Operations=["CreateGrant"])
    denied(lambda: accomplice.create_grant(KeyId=key, GranteePrincipal=accomplice_arn, Operations=["Decrypt"]))
    assert {tuple(g["Operations"]) for g in kms.list_grants(KeyId=key)["Grants"]} == {("CreateGrant",)}


def test_a_delegated_grant_is_at_least_as_constrained_as_its_parent(server, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    it = {"Department": "IT"}
    hr_blob = kms.encrypt(KeyId=key, Plaintext=b"hr", EncryptionContext={"Department": "HR"})["CiphertextBlob"]
    sub_arn, sub = make_user(server)
    kms.create_grant(
        KeyId=key, GranteePrincipal=sub_arn, Operations=["CreateGrant", "Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": it},
    )
    child_arn, child = make_user(server)

    def grant(ops, constraints=None):
        kw = {"Constraints": constraints} if constraints is not None else {}
        return lambda: sub.create_grant(KeyId=key, GranteePrincipal=child_arn, Operations=ops, **kw)

    denied(grant(["Decrypt"]))
    denied(grant(["Decrypt"], {"EncryptionContextSubset": {"Department": "HR"}}))
    denied(grant(["Decrypt"], {"EncryptionContextSubset": {"Team": "a"}}))
    denied(grant(["Decrypt", "GenerateDataKey"], {"EncryptionContextSubset": it}))
    # Equally strict or stricter is allowed.
    grant(["Decrypt"], {"EncryptionContextSubset": {"Department": "IT", "Team": "a"}})()
    grant(["Encrypt"], {"EncryptionContextEquals": it})()
    blob = child.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=it)["CiphertextBlob"]
    denied(lambda: child.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"Department": "IT", "x": "1"}))
    denied(lambda: child.decrypt(CiphertextBlob=blob, EncryptionContext=it))
    denied(lambda: child.decrypt(CiphertextBlob=hr_blob, EncryptionContext={"Department": "HR"}))

    # A parent with EncryptionContextEquals admits only children with the same Equals.
    eq_arn, eq = make_user(server)
    kms.create_grant(
        KeyId=key, GranteePrincipal=eq_arn, Operations=["CreateGrant", "Decrypt"],
        Constraints={"EncryptionContextEquals": it},
    )
    for constraints in ({"EncryptionContextSubset": it}, {"EncryptionContextEquals": {"Department": "IT", "x": "1"}}, None):
        kw = {"Constraints": constraints} if constraints is not None else {}
        denied(lambda: eq.create_grant(KeyId=key, GranteePrincipal=child_arn, Operations=["Decrypt"], **kw))
    eq.create_grant(KeyId=key, GranteePrincipal=child_arn, Operations=["Decrypt"], Constraints={"EncryptionContextEquals": it})


def test_key_policy_grant_conditions_hold_on_every_path(server, kms, account):
    """kms:GrantOperations, kms:GranteePrincipal and kms:GrantIsForAWSResource are evaluated for CreateGrant
    whether the key policy, an IAM policy or a grant allows it."""
    target_arn, _ = make_user(server)
    iam_arn, via_iam = make_user(
        server, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*"}]}
    )
    grant_arn, via_grant = make_user(server)
    # Nobody may create a Decrypt grant for anyone but `via_grant` (except for an AWS resource).
    no_decrypt_grants = {
        "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*",
        "Condition": {
            "ForAnyValue:StringEquals": {"kms:GrantOperations": ["Decrypt"]},
            "Bool": {"kms:GrantIsForAWSResource": "false"},
            "StringNotEquals": {"kms:GranteePrincipal": grant_arn},
        },
    }
    key = kms.create_key(Policy=key_policy(account, [no_decrypt_grants]))["KeyMetadata"]["Arn"]
    kms.create_grant(KeyId=key, GranteePrincipal=grant_arn, Operations=["CreateGrant", "Encrypt", "Decrypt"])
    for caller in (kms, via_iam, via_grant):
        denied(lambda: caller.create_grant(KeyId=key, GranteePrincipal=target_arn, Operations=["Decrypt"]))
        caller.create_grant(KeyId=key, GranteePrincipal=target_arn, Operations=["Encrypt"])

    # Allow statements with the condition keys: only Encrypt grants, only for one grantee.
    delegate_arn, delegate = make_user(server)
    narrow = {
        "Effect": "Allow", "Principal": {"AWS": delegate_arn}, "Action": "kms:CreateGrant", "Resource": "*",
        "Condition": {
            "ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt"]},
            "StringEquals": {"kms:GranteePrincipal": target_arn},
        },
    }
    key2 = kms.create_key(Policy=key_policy(account, [narrow]))["KeyMetadata"]["Arn"]
    delegate.create_grant(KeyId=key2, GranteePrincipal=target_arn, Operations=["Encrypt"])
    denied(lambda: delegate.create_grant(KeyId=key2, GranteePrincipal=target_arn, Operations=["Encrypt", "Decrypt"]))
    denied(lambda: delegate.create_grant(KeyId=key2, GranteePrincipal=delegate_arn, Operations=["Encrypt"]))
    iam_narrow_arn, iam_narrow = make_user(server, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }]})
    denied(lambda: iam_narrow.create_grant(KeyId=key2, GranteePrincipal=target_arn, Operations=["Encrypt"]))


def test_retire_grant_is_decided_by_the_grant(server, kms, account):
    """Who may retire: the retiring principal, the grantee when its grant includes RetireGrant, and the account
    that created the grant. kms:RetireGrant in a key policy is not effective (AWS), and a grant's RetireGrant
    operation is about that grant only."""
    retiree_arn, retiree = make_user(server)
    holder_arn, holder = make_user(server)
    named_arn, named = make_user(server)
    policy = key_policy(account, [{"Effect": "Allow", "Principal": {"AWS": named_arn}, "Action": "kms:RetireGrant", "Resource": "*"}])
    key = kms.create_key(Policy=policy)["KeyMetadata"]["Arn"]
    own = kms.create_grant(KeyId=key, GranteePrincipal=holder_arn, Operations=["Decrypt", "RetireGrant"])["GrantId"]
    victim_arn, victim = make_user(server)
    other = kms.create_grant(
        KeyId=key, GranteePrincipal=victim_arn, RetiringPrincipal=retiree_arn, Operations=["Decrypt"]
    )["GrantId"]
    plain = kms.create_grant(KeyId=key, GranteePrincipal=victim_arn, Operations=["Encrypt"])["GrantId"]

    # A RetireGrant grant is no licence to retire the key's other grants.
    denied(lambda: holder.retire_grant(KeyId=key, GrantId=other))
    denied(lambda: holder.retire_grant(KeyId=key, GrantId=plain))
    # Neither is kms:RetireGrant in the key policy.
    denied(lambda: named.retire_grant(KeyId=key, GrantId=other))
    # A grantee whose grant lacks RetireGrant cannot retire it.
    denied(lambda: victim.retire_grant(KeyId=key, GrantId=plain))
    # Another account cannot, whatever it names.
    _, stranger, _ = other_account(server)
    denied(lambda: stranger.retire_grant(KeyId=key, GrantId=plain))

    retiree.retire_grant(KeyId=key, GrantId=other)
    holder.retire_grant(KeyId=key, GrantId=own)
    kms.retire_grant(KeyId=key, GrantId=plain)  # the account that created it
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_revoke_grant_needs_kms_revoke_grant_from_a_policy(server, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    holder_arn, holder = make_user(server)
    kms.create_grant(KeyId=key, GranteePrincipal=holder_arn, Operations=["CreateGrant", "RetireGrant", "Decrypt"])
    victim = kms.create_grant(KeyId=key, GranteePrincipal=holder_arn, Operations=["Encrypt"])["GrantId"]
    denied(lambda: holder.revoke_grant(KeyId=key, GrantId=victim))
    denied(lambda: holder.create_grant(KeyId=key, GranteePrincipal=holder_arn, Operations=["RevokeGrant"]), "ValidationException")
    kms.revoke_grant(KeyId=key, GrantId=victim)


def test_a_grant_token_gives_no_more_than_its_grant(server, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    secret = kms.encrypt(KeyId=key, Plaintext=b"s")["CiphertextBlob"]
    holder_arn, holder = make_user(server)
    token = kms.create_grant(KeyId=key, GranteePrincipal=holder_arn, Operations=["Encrypt"])["GrantToken"]
    _, outsider = make_user(server)
    denied(lambda: outsider.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=[token]))
    denied(lambda: outsider.decrypt(CiphertextBlob=secret, GrantTokens=[token]))
    denied(lambda: holder.decrypt(CiphertextBlob=secret, GrantTokens=[token]))
    holder.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=[token])
    denied(lambda: holder.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["forged"]), "InvalidGrantTokenException")


def test_a_grantee_must_be_an_aws_principal_not_a_service(server, kms):
    """A service principal acts for resources of every account (CloudFront for any distribution, S3 for any
    bucket): a grant naming one in GranteePrincipal would let anyone's distribution use the key."""
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for service in ("cloudfront.amazonaws.com", "s3.amazonaws.com", "kms.amazonaws.com"):
        denied(lambda: kms.create_grant(KeyId=key, GranteePrincipal=service, Operations=["Decrypt"]), "ValidationException")
        denied(lambda: kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::111122223333:user/u",
                                        RetiringPrincipal=service, Operations=["Decrypt"]), "ValidationException")
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_grant_operations_must_apply_to_the_key_spec(server, kms, account):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    user_arn, _ = make_user(server)
    for op in ("Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret"):
        msg = denied(lambda: kms.create_grant(KeyId=key, GranteePrincipal=user_arn, Operations=["Decrypt", op]),
                     "ValidationException")
        assert op in msg
    # Constraints may accompany DescribeKey and RetireGrant (AWS applies them to neither).
    holder_arn, holder = make_user(server)
    grant = kms.create_grant(
        KeyId=key, GranteePrincipal=holder_arn, Operations=["Decrypt", "DescribeKey", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"a": "1"}},
    )["GrantId"]
    assert holder.describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    holder.retire_grant(KeyId=key, GrantId=grant)


def test_cross_account_grants_allow_only_what_they_list(server, kms, account):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    secret = kms.encrypt(KeyId=key, Plaintext=b"cross")["CiphertextBlob"]
    other_id, other, other_creds = other_account(server)
    other_root = f"arn:aws:iam::{other_id}:root"
    kms.create_grant(KeyId=key, GranteePrincipal=other_root, Operations=["Decrypt", "CreateGrant"])
    assert other.decrypt(CiphertextBlob=secret, KeyId=key)["Plaintext"] == b"cross"
    denied(lambda: other.encrypt(KeyId=key, Plaintext=b"x"))
    denied(lambda: other.generate_data_key(KeyId=key, KeySpec="AES_256"))
    denied(lambda: other.describe_key(KeyId=key))
    denied(lambda: other.list_grants(KeyId=key))
    other_user_arn, other_user = make_user(server, creds=other_creds)
    denied(lambda: other.create_grant(KeyId=key, GranteePrincipal=other_user_arn, Operations=["Encrypt"]))
    denied(lambda: other.create_grant(KeyId=key, GranteePrincipal=other_user_arn, Operations=["Decrypt", "Encrypt"]))
    other.create_grant(KeyId=key, GranteePrincipal=other_user_arn, Operations=["Decrypt"])
    assert other_user.decrypt(CiphertextBlob=secret, KeyId=key)["Plaintext"] == b"cross"
    denied(lambda: other_user.encrypt(KeyId=key, Plaintext=b"x"))
    # Without the key ARN the other account's namespace is searched, never ours.
    denied(lambda: other.decrypt(CiphertextBlob=secret, KeyId=key.split("/")[-1]), "NotFoundException")


def test_list_retirable_grants_only_for_principals_of_the_callers_account(server, kms, account):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    retiree_arn, _ = make_user(server)
    grantee_arn, _ = make_user(server)
    kms.create_grant(KeyId=key, GranteePrincipal=grantee_arn, RetiringPrincipal=retiree_arn, Operations=["Decrypt"])
    assert len(kms.list_retirable_grants(RetiringPrincipal=retiree_arn)["Grants"]) == 1
    _, stranger, _ = other_account(server)
    denied(lambda: stranger.list_retirable_grants(RetiringPrincipal=retiree_arn))
    denied(lambda: stranger.list_retirable_grants(RetiringPrincipal=account))
    _, nobody = make_user(server)
    denied(lambda: nobody.list_retirable_grants(RetiringPrincipal=retiree_arn))
