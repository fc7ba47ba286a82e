"""KMS with the aws CLI and boto3: keys, aliases, tags, key policies, cryptography, grants, rotation, deletion
windows and multi-Region keys, with AWS's shapes and error codes; key policies enforced on every call."""

import base64
import json
import urllib.request

import botocore.exceptions
import pytest

from conftest import unique


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def key_policy(account, statements=()):
    root = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})


@pytest.fixture
def account(server):
    return server.client("sts").get_caller_identity()["Account"]


@pytest.fixture
def kms(server):
    return server.client("kms")


def make_user(server, policy=None):
    iam = server.client("iam")
    name = unique("kmsuser")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    return arn, (key["AccessKeyId"], key["SecretAccessKey"])


def test_key_lifecycle_with_the_cli(server, account):
    _, out, _ = server.aws(
        "kms", "create-key", "--description", "S3 Bucket Encryption Key", "--tags", "TagKey=Purpose,TagValue=S3Encryption"
    )
    meta = out["KeyMetadata"]
    key_id = meta["KeyId"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{account}:key/{key_id}"
    assert meta["AWSAccountId"] == account
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeyManager"] == "CUSTOMER" and meta["Origin"] == "AWS_KMS"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["MultiRegion"] is False
    assert meta["Description"] == "S3 Bucket Encryption Key"
    assert isinstance(meta["CreationDate"], (int, float))  # epoch seconds, as KMS sends them

    _, out, _ = server.aws("kms", "describe-key", "--key-id", key_id)
    assert out["KeyMetadata"]["Arn"] == meta["Arn"]
    assert out["KeyMetadata"].get("CurrentKeyMaterialId")
    _, out, _ = server.aws("kms", "list-keys")
    assert {"KeyId": key_id, "KeyArn": meta["Arn"]} in out["Keys"]
    server.aws("kms", "update-key-description", "--key-id", key_id, "--description", "new")
    _, out, _ = server.aws("kms", "describe-key", "--key-id", meta["Arn"])
    assert out["KeyMetadata"]["Description"] == "new"

    server.aws("kms", "disable-key", "--key-id", key_id)
    _, out, _ = server.aws("kms", "describe-key", "--key-id", key_id)
    assert out["KeyMetadata"]["KeyState"] == "Disabled" and out["KeyMetadata"]["Enabled"] is False
    rc, _, err = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "aGk=", check=False)
    assert rc != 0 and "DisabledException" in err
    server.aws("kms", "enable-key", "--key-id", key_id)
    _, out, _ = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "aGk=")
    assert out["KeyId"] == meta["Arn"]

    _, out, _ = server.aws("kms", "list-resource-tags", "--key-id", key_id)
    assert out["Tags"] == [{"TagKey": "Purpose", "TagValue": "S3Encryption"}]


def test_unknown_keys_and_bad_input(server, account):
    # Without client-side validation, so the server's own checks answer.
    kms = server.client("kms", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.describe_key(KeyId="11111111-2222-3333-4444-555555555555")
    assert error_code(e) == "NotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.describe_key(KeyId="alias/does-not-exist")
    assert error_code(e) == "NotFoundException"
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x" * 4097)
    assert error_code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_random(NumberOfBytes=1025)
    assert error_code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=6)
    assert error_code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=89)
    assert error_code(e) == "ValidationException"


def test_aliases(server, kms, account):
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    name = "alias/" + unique("app")
    server.aws("kms", "create-alias", "--alias-name", name, "--target-key-id", key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_alias(AliasName=name, TargetKeyId=other["KeyId"])
    assert error_code(e) == "AlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_alias(AliasName="alias/aws/" + unique("x"), TargetKeyId=key["KeyId"])
    assert error_code(e) in ("NotAuthorizedException", "InvalidAliasNameException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_alias(AliasName=unique("noprefix"), TargetKeyId=key["KeyId"])
    assert error_code(e) == "InvalidAliasNameException"

    # An alias name and an alias ARN work wherever a key id does; responses name the key by its ARN.
    alias_arn = f"arn:aws:kms:us-east-1:{account}:{name}"
    for ref in (name, alias_arn):
        out = kms.encrypt(KeyId=ref, Plaintext=b"hello")
        assert out["KeyId"] == key["Arn"]
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key["KeyId"]
    aliases = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in aliases] == [(name, alias_arn, key["KeyId"])]

    kms.update_alias(AliasName=name, TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    _, out, _ = server.aws("kms", "list-aliases")
    assert name in [a["AliasName"] for a in out["Aliases"]]
    server.aws("kms", "delete-alias", "--alias-name", name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.delete_alias(AliasName=name)
    assert error_code(e) == "NotFoundException"


def test_tags(kms):
    key = kms.create_key(Tags=[{"TagKey": "a", "TagValue": "1"}])["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "b", "TagValue": "2"}, {"TagKey": "a", "TagValue": "3"}])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
    assert tags == {"a": "3", "b": "2"}
    kms.untag_resource(KeyId=key, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]


def test_key_policies_and_the_lockout_safety_check(server, kms, account):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    default = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    stmt = default["Statement"][0]
    assert stmt["Principal"]["AWS"] == f"arn:aws:iam::{account}:root" and stmt["Action"] == "kms:*"

    # A policy that would lock the caller out is refused unless the check is bypassed.
    lockout = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:Decrypt", "Resource": "*"}
            ],
        }
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=lockout)
    assert error_code(e) == "MalformedPolicyDocumentException"
    assert "will not allow you to update the key policy in the future" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(Policy=lockout)
    assert error_code(e) == "MalformedPolicyDocumentException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy="{not json")
    assert error_code(e) == "MalformedPolicyDocumentException"

    server.aws("kms", "put-key-policy", "--key-id", key, "--policy-name", "default", "--policy", key_policy(account))
    assert json.loads(kms.get_key_policy(KeyId=key)["Policy"]) == json.loads(key_policy(account))
    kms.put_key_policy(KeyId=key, Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    # Now even the account root may only decrypt.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.describe_key(KeyId=key)
    assert error_code(e) == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_encrypt_decrypt_reencrypt_and_data_keys(server, kms, account):
    key = kms.create_key()["KeyMetadata"]
    dest = kms.create_key()["KeyMetadata"]
    ctx = {"Department": "IT", "aws:s3:arn": "arn:aws:s3:::bucket/key"}
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret data", EncryptionContext=ctx)
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    assert b"secret data" not in blob

    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
    assert dec["Plaintext"] == b"secret data" and dec["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx, KeyId=key["Arn"])["Plaintext"] == b"secret data"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"Department": "HR"})
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx, KeyId=dest["KeyId"])
    assert error_code(e) == "IncorrectKeyException"
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=ctx)
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=b"garbage-garbage-garbage")
    assert error_code(e) == "InvalidCiphertextException"

    re = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=ctx,
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"new": "ctx"},
    )
    assert re["SourceKeyId"] == key["Arn"] and re["KeyId"] == dest["Arn"]
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"new": "ctx"})["Plaintext"] == b"secret data"

    dk = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=ctx)
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    assert len(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_data_key(KeyId=key["KeyId"])
    assert error_code(e) == "ValidationException"
    nopt = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in nopt and nopt["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=nopt["CiphertextBlob"])["Plaintext"]) == 32
    rnd = kms.generate_random(NumberOfBytes=48)["Plaintext"]
    assert len(rnd) == 48 and rnd != kms.generate_random(NumberOfBytes=48)["Plaintext"]


def test_crypto_with_the_cli(server, kms, tmp_path):
    key = kms.create_key()["KeyMetadata"]
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"the cli way")
    _, out, _ = server.aws(
        "kms", "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{plain}",
        "--encryption-context", "purpose=test",
    )
    assert out["KeyId"] == key["Arn"]
    cipher = tmp_path / "cipher.bin"
    cipher.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    _, out, _ = server.aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{cipher}", "--encryption-context", "purpose=test"
    )
    assert base64.b64decode(out["Plaintext"]) == b"the cli way"
    rc, _, err = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{cipher}", check=False)
    assert rc != 0 and "InvalidCiphertextException" in err
    _, out, _ = server.aws("kms", "generate-data-key", "--key-id", key["KeyId"], "--key-spec", "AES_256")
    assert len(base64.b64decode(out["Plaintext"])) == 32
    _, out, _ = server.aws("kms", "generate-random", "--number-of-bytes", "16")
    assert len(base64.b64decode(out["Plaintext"])) == 16


def test_administrators_manage_and_users_use(server, kms, account):
    admin_arn, admin = make_user(server)
    user_arn, user = make_user(server)
    policy = key_policy(
        account,
        [
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": admin_arn},
                "Action": [
                    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                ],
                "Resource": "*",
            },
            {
                "Sid": "Allow use of the key",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
            },
        ],
    )
    key = kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    as_admin = server.client("kms", *admin)
    as_user = server.client("kms", *user)

    as_admin.describe_key(KeyId=key)
    as_admin.update_key_description(KeyId=key, Description="managed")
    as_admin.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_admin.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(e) == "AccessDeniedException"
    assert f"User: {admin_arn} is not authorized to perform: kms:Encrypt" in e.value.response["Error"]["Message"]

    blob = as_user.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert as_user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    for call in (
        lambda: as_user.disable_key(KeyId=key),
        lambda: as_user.schedule_key_deletion(KeyId=key),
        lambda: as_user.put_key_policy(KeyId=key, Policy=policy),
        lambda: as_user.get_key_policy(KeyId=key),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
    # Decrypting the admin cannot do is refused before anything about the ciphertext is said.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_admin.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "AccessDeniedException"
    as_admin.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    as_admin.cancel_key_deletion(KeyId=key)


def test_grants(server, kms, account):
    grantee_arn, grantee = make_user(server)
    retiree_arn, retiree = make_user(server)
    key = kms.create_key()["KeyMetadata"]
    as_grantee = server.client("kms", *grantee)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert error_code(e) == "AccessDeniedException"

    out = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee_arn,
        RetiringPrincipal=retiree_arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"Department": "IT"}},
        Name="app-grant",
    )
    grant_id = out["GrantId"]
    assert out["GrantToken"]
    # Creating the same grant again by name is idempotent.
    assert kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee_arn, RetiringPrincipal=retiree_arn,
        Operations=["Encrypt", "Decrypt"], Constraints={"EncryptionContextSubset": {"Department": "IT"}},
        Name="app-grant",
    )["GrantId"] == grant_id

    blob = as_grantee.encrypt(
        KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Department": "IT", "extra": "1"}
    )["CiphertextBlob"]
    assert as_grantee.decrypt(CiphertextBlob=blob, EncryptionContext={"Department": "IT", "extra": "1"})["Plaintext"] == b"x"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Department": "HR"})
    assert error_code(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_grantee.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext={"Department": "IT"})
    assert error_code(e) == "AccessDeniedException"

    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [(g["GrantId"], g["GranteePrincipal"], g["Name"]) for g in grants] == [(grant_id, grantee_arn, "app-grant")]
    assert grants[0]["KeyId"] == key["Arn"]
    assert grants[0]["Constraints"] == {"EncryptionContextSubset": {"Department": "IT"}}
    _, out, _ = server.aws("kms", "list-retirable-grants", "--retiring-principal", retiree_arn)
    assert [g["GrantId"] for g in out["Grants"]] == [grant_id]

    server.client("kms", *retiree).retire_grant(KeyId=key["Arn"], GrantId=grant_id)
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Department": "IT"})
    assert error_code(e) == "AccessDeniedException"

    second = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee_arn, Operations=["GenerateDataKey"])["GrantId"]
    as_grantee.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    server.aws("kms", "revoke-grant", "--key-id", key["KeyId"], "--grant-id", second)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_grantee.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    assert error_code(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=second)
    assert error_code(e) in ("NotFoundException", "InvalidGrantIdException")


def test_explicit_deny_in_the_key_policy_beats_a_grant(server, kms, account):
    user_arn, user = make_user(server)
    deny = {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "kms:Decrypt", "Resource": "*"}
    key = kms.create_key(Policy=key_policy(account, [deny]))["KeyMetadata"]["KeyId"]
    kms.create_grant(KeyId=key, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"])
    as_user = server.client("kms", *user)
    blob = as_user.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "AccessDeniedException"
    assert "explicit deny in a resource-based policy" in e.value.response["Error"]["Message"]


def test_condition_keys_in_key_policies(server, kms, account):
    user_arn, user = make_user(server)
    use = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:EncryptionContext:tenant": "a", "kms:CallerAccount": account},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]},
        },
    }
    via = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    key = kms.create_key(Policy=key_policy(account, [use, via]))["KeyMetadata"]["KeyId"]
    as_user = server.client("kms", *user)
    blob = as_user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    as_user.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "a"})
    for ctx in ({"tenant": "b"}, {"tenant": "a", "other": "x"}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            as_user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=ctx)
        assert error_code(e) == "AccessDeniedException"
    # Only S3 may get data keys for this user; a direct call is not through S3.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert error_code(e) == "AccessDeniedException"


def test_identity_policies_count_when_the_key_policy_delegates(server, kms, account):
    user_arn, user = make_user(
        server, json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]})
    )
    delegated = kms.create_key()["KeyMetadata"]["KeyId"]
    closed = kms.create_key(
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}}},
                ],
            }
        )
    )["KeyMetadata"]["KeyId"]
    as_user = server.client("kms", *user)
    as_user.encrypt(KeyId=delegated, Plaintext=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user.encrypt(KeyId=closed, Plaintext=b"x")
    assert error_code(e) == "AccessDeniedException"


def test_deletion_window_and_recovery(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"keep")["CiphertextBlob"]
    _, out, _ = server.aws("kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7")
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    assert out["KeyId"].endswith(key) and out["KeyId"].startswith("arn:aws:kms:")
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["PendingDeletionWindowInDays"] == 7 and "DeletionDate" in meta
    for call in (
        lambda: kms.encrypt(KeyId=key, Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "KMSInvalidStateException"
    _, out, _ = server.aws("kms", "cancel-key-deletion", "--key-id", key)
    assert out["KeyId"].endswith(key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=key)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"keep"
    # The default window is 30 days.
    assert kms.schedule_key_deletion(KeyId=key)["PendingWindowInDays"] == 30
    kms.cancel_key_deletion(KeyId=key)


def test_rotation(server, kms):
    key = kms.create_key()["KeyMetadata"]
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is False
    server.aws("kms", "enable-key-rotation", "--key-id", key["KeyId"], "--rotation-period-in-days", "180")
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    assert "NextRotationDate" in status and status["KeyId"] == key["Arn"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    before = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    _, out, _ = server.aws("kms", "rotate-key-on-demand", "--key-id", key["KeyId"])
    assert out["KeyId"] == key["Arn"]
    after = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert after != before
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert len(rotations) >= 1 and rotations[-1]["RotationType"] == "ON_DEMAND"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    dec = kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")["CiphertextBlob"])
    assert dec["Plaintext"] == b"after" and dec.get("KeyMaterialId", after) == after
    server.aws("kms", "disable-key-rotation", "--key-id", key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_multi_region_keys(server, kms, account):
    primary = kms.create_key(MultiRegion=True, Description="mrk")["KeyMetadata"]
    assert primary["KeyId"].startswith("mrk-") and primary["MultiRegion"] is True
    assert primary["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    out = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1", Description="replica")
    replica = out["ReplicaKeyMetadata"]
    assert replica["Arn"] == f"arn:aws:kms:eu-west-1:{account}:key/{primary['KeyId']}"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    eu = server.client("kms", region="eu-west-1")
    assert eu.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["Arn"] == replica["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    assert error_code(e) == "AlreadyExistsException"

    # Ciphertext from one region decrypts in the other.
    blob = kms.encrypt(KeyId=primary["KeyId"], Plaintext=b"everywhere")["CiphertextBlob"]
    dec = eu.decrypt(CiphertextBlob=blob, KeyId=replica["Arn"])
    assert dec["Plaintext"] == b"everywhere" and dec["KeyId"] == replica["Arn"]
    back = eu.encrypt(KeyId=primary["KeyId"], Plaintext=b"back")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"back"

    kms.update_primary_region(KeyId=primary["Arn"], PrimaryRegion="eu-west-1")
    cfg = eu.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "PRIMARY" and cfg["PrimaryKey"]["Region"] == "eu-west-1"
    # A single-Region key cannot be replicated.
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.replicate_key(KeyId=single, ReplicaRegion="eu-west-1")
    assert error_code(e) == "UnsupportedOperationException"


def test_regions_are_separate_namespaces(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("kms", region="eu-central-1").describe_key(KeyId=key)
    assert error_code(e) == "NotFoundException"


def test_audit_records_key_use_without_secrets(server, kms):
    key = kms.create_key()["KeyMetadata"]
    secret = b"do-not-log-this-plaintext"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=secret, EncryptionContext={"audit": "me"})["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"audit": "me"})
    trail = server.client("cloudtrail")

    def events():
        evs = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])["Events"]
        return [json.loads(e["CloudTrailEvent"]) for e in evs]

    evs = events()
    by_name = {e["eventName"]: e for e in evs}
    assert {"Encrypt", "Decrypt"} <= set(by_name)
    enc = by_name["Encrypt"]
    assert enc["eventSource"] == "kms.amazonaws.com" and enc["readOnly"] is True
    assert enc["requestParameters"]["encryptionContext"] == {"audit": "me"}
    assert enc["requestParameters"]["keyId"] == key["KeyId"]
    assert enc["responseElements"] is None
    assert enc["resources"] == [{"ARN": key["Arn"], "accountId": key["AWSAccountId"], "type": "AWS::KMS::Key"}]
    assert enc["additionalEventData"]["keyMaterialId"]
    raw = json.dumps(evs)
    assert base64.b64encode(secret).decode() not in raw and secret.decode() not in raw
    assert base64.b64encode(blob).decode() not in raw


def kms_total(server, operation):
    with urllib.request.urlopen(server.endpoint + "/metrics") as r:
        text = r.read().decode()
    prefix = f'coffer_kms_requests_total{{operation="{operation}"}} '
    return sum(float(l[len(prefix):]) for l in text.splitlines() if l.startswith(prefix)), text


def test_metrics_count_requests_per_operation_without_naming_keys(server, kms):
    """/metrics is anyone's to read, so it counts KMS requests by operation only: series named by key id would
    list every account's keys and when each is used. A key's own usage is in its owner's audit trail."""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    before, _ = kms_total(server, "GenerateDataKey")
    for _ in range(3):
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    after, text = kms_total(server, "GenerateDataKey")
    assert after - before >= 3
    assert key not in text
