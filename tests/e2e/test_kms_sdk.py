"""KMS with real clients over a server's lifetime: data encrypted before several rotations and a restart still
decrypts, and the AWS Encryption SDK for Python encrypts and decrypts through coffer's KMS."""

import base64

import aws_encryption_sdk
import botocore.session
from aws_encryption_sdk import CommitmentPolicy

from conftest import REGION, Server


def test_rotations_and_a_restart_keep_every_ciphertext_decryptable(fresh_server):
    server = fresh_server()
    kms = server.client("kms")
    key = kms.create_key(Description="survives restarts")["KeyMetadata"]
    kms.create_alias(AliasName="alias/durable", TargetKeyId=key["KeyId"])
    blobs = []
    for i in range(4):
        blobs.append((f"message {i}".encode(), kms.encrypt(KeyId="alias/durable", Plaintext=f"message {i}".encode(),
                                                           EncryptionContext={"n": str(i)})["CiphertextBlob"]))
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    dk = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    materials = {r["KeyMaterialId"] for r in kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]}
    assert len(materials) == 4
    server.stop()

    server = Server(server.data_dir)
    try:
        kms = server.client("kms")
        for i, (plain, blob) in enumerate(blobs):
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"n": str(i)})["Plaintext"] == plain
        assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
        assert kms.describe_key(KeyId="alias/durable")["KeyMetadata"]["Arn"] == key["Arn"]
        assert len(kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]) == 4
        # The key material never reaches the data directory in plaintext.
        raw = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
        assert dk["Plaintext"] not in raw
    finally:
        server.stop()


def _session_for(server):
    access_key, secret = server.root_keys()
    session = botocore.session.Session()
    session.set_credentials(access_key, secret)
    session.set_config_variable("region", REGION)
    return session


def test_the_aws_encryption_sdk_round_trips_through_coffer(server, monkeypatch):
    kms = server.client("kms")
    key = kms.create_key(Description="encryption sdk")["KeyMetadata"]
    # The SDK builds its own boto3 clients; point every one of them at coffer.
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[key["Arn"]], botocore_session=_session_for(server)
    )
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    message = b"a private invoice, encrypted client-side" * 50
    ciphertext, header = client.encrypt(
        source=message, key_provider=provider, encryption_context={"tenant": "acme"}
    )
    assert message not in ciphertext
    assert header.encryption_context["tenant"] == "acme"
    plaintext, dec_header = client.decrypt(source=ciphertext, key_provider=provider)
    assert plaintext == message
    assert dec_header.encryption_context["tenant"] == "acme"
    # The data key was wrapped by coffer's KMS under the key's ARN.
    [edk] = header.encrypted_data_keys
    assert edk.key_provider.key_info.decode() == key["Arn"]
    assert kms.decrypt(
        CiphertextBlob=edk.encrypted_data_key,
        EncryptionContext=dict(header.encryption_context),
    )["KeyId"] == key["Arn"]
    # A provider limited to another key cannot open the message.
    other = kms.create_key()["KeyMetadata"]["Arn"]
    wrong = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[other], botocore_session=_session_for(server))
    try:
        client.decrypt(source=ciphertext, key_provider=wrong)
    except aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError:
        pass
    else:
        raise AssertionError("decrypting with an unrelated key succeeded")
    assert base64.b64encode(message[:30]) not in ciphertext
