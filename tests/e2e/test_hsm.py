"""The root of trust on a PKCS#11 token (SoftHSM2): secrets sealed inside the token, no key file, survive a
restart, and a data directory is never opened under a different root of trust."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, Server

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "coffer-e2e"
KEY = "coffer-root"
PIN = "9182-user"


@pytest.fixture
def softhsm(tmp_path):
    """A fresh SoftHSM2 token in a temporary directory: (environment for coffer, PIN file)."""
    if shutil.which("softhsm2-util") is None or not Path(MODULE).exists():
        pytest.skip("SKIPPED: SoftHSM2 is not installed (apt-get install softhsm2; scripts/test installs it)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "9182-so"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    pin_file.chmod(0o600)
    return env, pin_file


def pkcs11_config(pin_file):
    return (
        "[kms.pkcs11]\n"
        f'module = "{MODULE}"\n'
        f'token_label = "{TOKEN}"\n'
        f'pin_file = "{pin_file}"\n'
        f'key_label = "{KEY}"\n'
    )


def test_token_is_the_root_of_trust_across_restarts(fresh_server, softhsm):
    env, pin_file = softhsm
    s = fresh_server(config_text=pkcs11_config(pin_file), env=env)
    assert f'root of trust: pkcs11 token "{TOKEN}", key "{KEY}"' in s.read_log()
    keys_dir = s.data_dir / "keys"
    assert not (keys_dir / "root.key").exists()
    assert (keys_dir / "root-of-trust").read_text() == f"pkcs11 {TOKEN}/{KEY}\n"

    # An IAM user's secret access key is sealed by the token; using it proves the token opens it.
    iam = s.client("iam")
    iam.create_user(UserName="hsm-user")
    iam.put_user_policy(
        UserName="hsm-user",
        PolicyName="whoami",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}',
    )
    key = iam.create_access_key(UserName="hsm-user")["AccessKey"]
    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    _, ident, _ = s.aws("sts", "get-caller-identity", creds=creds)
    assert ident["Arn"].endswith(":user/hsm-user")

    # KMS key material is sealed by the token too: data encrypted now, and after a rotation, must decrypt after
    # the restart below.
    kms = s.client("kms")
    key_id = kms.create_key(Description="under the HSM")["KeyMetadata"]["KeyId"]
    before = kms.encrypt(KeyId=key_id, Plaintext=b"sealed by the token", EncryptionContext={"t": "1"})
    kms.rotate_key_on_demand(KeyId=key_id)
    after = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation", EncryptionContext={"t": "2"})
    assert s.stop() == 0

    # Restarted on the same data directory — this time configured through the environment — every sealed
    # secret (the root credentials and the user's key) still opens.
    again = Server(
        s.data_dir,
        env={
            **env,
            "COFFER_PKCS11_MODULE": MODULE,
            "COFFER_PKCS11_TOKEN_LABEL": TOKEN,
            "COFFER_PKCS11_PIN_FILE": str(pin_file),
            "COFFER_PKCS11_KEY_LABEL": KEY,
        },
    )
    try:
        assert f'root of trust: pkcs11 token "{TOKEN}"' in again.read_log()
        _, ident, _ = again.aws("sts", "get-caller-identity", creds=creds)
        assert ident["Arn"].endswith(":user/hsm-user")
        user = again.client("iam", *creds).get_user(UserName="hsm-user")
        assert user["User"]["UserName"] == "hsm-user"
        _, root_ident, _ = again.aws("sts", "get-caller-identity")
        assert root_ident["Arn"].endswith(":root")
        kms = again.client("kms")
        got = kms.decrypt(CiphertextBlob=before["CiphertextBlob"], EncryptionContext={"t": "1"})
        assert got["Plaintext"] == b"sealed by the token" and got["KeyId"] == before["KeyId"]
        got = kms.decrypt(CiphertextBlob=after["CiphertextBlob"], EncryptionContext={"t": "2"})
        assert got["Plaintext"] == b"after rotation"
        assert not (keys_dir / "root.key").exists()
    finally:
        assert again.stop() == 0

    # The same directory without the token configuration is refused, and no key file is created.
    p = subprocess.run(
        [BIN, "serve", "--data-dir", str(s.data_dir), "--api", "127.0.0.1:0"],
        env={k: v for k, v in os.environ.items() if not k.startswith("COFFER_")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0
    assert f'initialized with the root of trust "pkcs11 {TOKEN}/{KEY}"' in p.stderr, p.stderr
    assert 'opened with "file"' in p.stderr, p.stderr
    assert not (keys_dir / "root.key").exists()


def test_key_file_directory_refuses_a_token(fresh_server, softhsm):
    env, pin_file = softhsm
    s = fresh_server()
    assert (s.data_dir / "keys" / "root.key").exists()
    assert (s.data_dir / "keys" / "root-of-trust").read_text() == "file\n"
    assert s.stop() == 0
    cfg = s.data_dir.parent / "hsm.toml"
    cfg.write_text(pkcs11_config(pin_file))
    p = subprocess.run(
        [BIN, "serve", "--data-dir", str(s.data_dir), "--api", "127.0.0.1:0", "--config", str(cfg)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0
    assert 'initialized with the root of trust "file"' in p.stderr, p.stderr


def test_wrong_pin_is_refused_clearly(softhsm, tmp_path):
    env, _ = softhsm
    bad_pin = tmp_path / "bad-pin"
    bad_pin.write_text("0000\n")
    bad_pin.chmod(0o600)
    data = tmp_path / "data-badpin"
    cfg = tmp_path / "badpin.toml"
    cfg.write_text(pkcs11_config(bad_pin))
    p = subprocess.run(
        [BIN, "serve", "--data-dir", str(data), "--api", "127.0.0.1:0", "--config", str(cfg)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0
    assert f'logging in to PKCS#11 token "{TOKEN}"' in p.stderr, p.stderr
    assert not (data / "keys" / "root.key").exists()
    assert not (data / "keys" / "root-of-trust").exists()
