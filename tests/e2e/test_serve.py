"""`coffer serve`: first start, credentials, configuration, accounts, health, metrics, restart and shutdown."""

import json
import os
import re
import stat
import subprocess
import urllib.request

from conftest import BIN, Server, unique


def test_get_caller_identity_with_the_root_credentials_file(server):
    _, out, _ = server.aws("sts", "get-caller-identity")
    assert re.fullmatch(r"\d{12}", out["Account"])
    assert out["Arn"] == f"arn:aws:iam::{out['Account']}:root"
    assert out["UserId"] == out["Account"]


def test_secret_files_are_private(server):
    for path in [server.credentials_file, server.data_dir / "keys" / "root.key"]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600, f"{path} has mode {mode:o}"
    text = server.credentials_file.read_text()
    assert "[default]" in text and "aws_access_key_id" in text and "aws_secret_access_key" in text


def test_root_credentials_from_environment(fresh_server):
    akid, secret = "AKIACOFFERTESTKEY001", "coffer-test-secret-key-0123456789abcdef"
    s = fresh_server(env={"COFFER_ROOT_ACCESS_KEY_ID": akid, "COFFER_ROOT_SECRET_ACCESS_KEY": secret})
    _, out, _ = s.aws("sts", "get-caller-identity", creds=(akid, secret))
    assert out["Arn"].endswith(":root")
    assert s.root_keys() == (akid, secret)


def test_state_survives_restart(fresh_server):
    s = fresh_server()
    _, before, _ = s.aws("sts", "get-caller-identity")
    s.aws("iam", "create-user", "--user-name", "persisted")
    assert s.stop() == 0
    again = Server(s.data_dir)
    try:
        _, after, _ = again.aws("sts", "get-caller-identity")
        assert after == before
        _, user, _ = again.aws("iam", "get-user", "--user-name", "persisted")
        assert user["User"]["UserName"] == "persisted"
    finally:
        assert again.stop() == 0


def test_config_file_rejects_unknown_keys(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('api = "127.0.0.1:0"\nfavourite_colour = "blue"\n')
    p = subprocess.run(
        [BIN, "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0
    assert "favourite_colour" in p.stderr


def test_config_file_is_honoured(fresh_server):
    s = fresh_server(config_text='region = "eu-west-1"\n[audit]\nsync = "interval"\ninterval_ms = 20\n')
    sts = s.client("sts", region="eu-west-1")
    assert sts.get_caller_identity()["Arn"].endswith(":root")


def test_account_create_through_the_running_server(server):
    name = unique("acct")
    p = server.coffer("account", "create", "--name", name, "--data-dir", str(server.data_dir), "--json")
    created = json.loads(p.stdout)
    assert re.fullmatch(r"\d{12}", created["account_id"])
    other = server.client("sts", created["access_key_id"], created["secret_access_key"])
    ident = other.get_caller_identity()
    assert ident["Account"] == created["account_id"]
    _, mine, _ = server.aws("sts", "get-caller-identity")
    assert mine["Account"] != created["account_id"]
    # The same name twice is refused.
    p = server.coffer("account", "create", "--name", name, "--data-dir", str(server.data_dir), check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    # The system account that owns the edge identity is coffer's own.
    p = server.coffer("account", "create", "--name", "coffer-system", "--data-dir", str(server.data_dir), check=False)
    assert p.returncode != 0 and "reserved" in p.stderr


def test_account_create_prints_a_credentials_file(server, tmp_path):
    p = server.coffer("account", "create", "--name", unique("acct"), "--data-dir", str(server.data_dir))
    creds = tmp_path / "creds"
    creds.write_text(p.stdout)
    profile = [l for l in p.stdout.splitlines() if l.startswith("[")][0].strip("[]")
    _, out, _ = server.aws(
        "sts", "get-caller-identity", "--profile", profile, creds=None,
        profile_env={"AWS_SHARED_CREDENTIALS_FILE": str(creds)},
    )
    assert out["Arn"].endswith(":root")


def test_health_and_metrics(server):
    server.client("sts").get_caller_identity()
    with urllib.request.urlopen(server.endpoint + "/health") as r:
        assert r.status == 200
    with urllib.request.urlopen(server.endpoint + "/metrics") as r:
        text = r.read().decode()
    assert re.search(r'coffer_requests_total\{service="sts",operation="GetCallerIdentity",status="200"\} \d+', text)
    assert 'coffer_request_duration_seconds_bucket{service="sts",operation="GetCallerIdentity",le="+Inf"}' in text
    assert "coffer_audit_backlog" in text
    assert "coffer_audit_fsync_seconds_count" in text


def test_clean_shutdown_and_verified_trail(fresh_server):
    s = fresh_server()
    s.client("sts").get_caller_identity()
    assert s.stop() == 0
    p = subprocess.run([BIN, "trail", "verify", "--data-dir", str(s.data_dir)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("OK")


def test_no_secret_in_plaintext_in_the_data_directory(fresh_server):
    s = fresh_server()
    iam = s.client("iam")
    iam.create_user(UserName="scan")
    secret = iam.create_access_key(UserName="scan")["AccessKey"]["SecretAccessKey"]
    _, root_secret = s.root_keys()
    assert s.stop() == 0
    for dirpath, _, files in os.walk(s.data_dir):
        for f in files:
            path = os.path.join(dirpath, f)
            if path == str(s.credentials_file):
                continue  # written on purpose, mode 0600, for the operator
            data = open(path, "rb").read()
            assert secret.encode() not in data, f"user secret found in {path}"
            assert root_secret.encode() not in data, f"root secret found in {path}"
