"""Fixtures for end-to-end tests: a real `coffer serve` process on an ephemeral loopback port, and clients
(the aws CLI and boto3) pointed at it."""

import configparser
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import pytest

BIN = os.environ.get("COFFER_BIN") or str(Path(__file__).resolve().parents[2] / "target" / "debug" / "coffer")
REGION = "us-east-1"


def wait_until(predicate, timeout=30.0, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Server:
    """A running `coffer serve` process with its own data directory."""

    def __init__(self, data_dir, extra_args=(), env=None, config_text=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [BIN, "serve", "--data-dir", str(self.data_dir), "--api", "127.0.0.1:0"]
        # The edge's listeners on ephemeral ports too, unless a test chooses.
        if not any(str(a).startswith("--edge-http") for a in extra_args):
            args += ["--edge-http", "127.0.0.1:0", "--edge-https", "127.0.0.1:0"]
        args += list(extra_args)
        if config_text is not None:
            cfg = self.data_dir.parent / (self.data_dir.name + ".toml")
            cfg.write_text(config_text)
            args += ["--config", str(cfg)]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("COFFER_")}
        full_env["COFFER_LOG"] = "warn"
        full_env.update(env or {})
        endpoint_file = self.data_dir / "api-endpoint"
        if endpoint_file.exists():
            endpoint_file.unlink()
        edge_file = self.data_dir / "edge" / "edge-endpoints"
        if edge_file.exists():
            edge_file.unlink()
        self.log = open(self.data_dir.parent / (self.data_dir.name + ".log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=full_env)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"coffer exited with {self.proc.returncode}: {self.read_log()}")
            if not endpoint_file.exists():
                return None
            url = endpoint_file.read_text().strip()
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    return url if r.status == 200 else None
            except OSError:
                return None

        self.endpoint = wait_until(ready, what="coffer to become healthy")
        self.edge = read_edge_endpoints(edge_file) if edge_file.exists() else {}

    def metric(self, name):
        """The value of one Prometheus sample from /metrics (0 when absent)."""
        with urllib.request.urlopen(self.endpoint + "/metrics", timeout=5) as r:
            text = r.read().decode()
        return metric_value(text, name)

    def read_log(self):
        self.log.flush()
        return (self.data_dir.parent / (self.data_dir.name + ".log")).read_text(errors="replace")[-4000:]

    @property
    def credentials_file(self):
        return self.data_dir / "root-credentials"

    def root_keys(self):
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        return cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def client(self, service, access_key=None, secret=None, token=None, **kw):
        if access_key is None:
            access_key, secret = self.root_keys()
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=kw.pop("region", REGION),
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1}, **kw),
        )

    def aws(self, *args, creds=None, check=True, profile_env=None):
        """Runs the real aws CLI against this server; returns (returncode, parsed JSON or text, stderr)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_RETRY_MODE="standard",
            AWS_MAX_ATTEMPTS="1",
        )
        if creds is None:
            env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.credentials_file)
        else:
            env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = creds[0], creds[1]
            if len(creds) > 2 and creds[2]:
                env["AWS_SESSION_TOKEN"] = creds[2]
        env.update(profile_env or {})
        p = subprocess.run(
            ["aws", "--endpoint-url", self.endpoint, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        out = p.stdout
        try:
            out = json.loads(out) if out.strip() else None
        except json.JSONDecodeError:
            pass
        return p.returncode, out, p.stderr

    def coffer(self, *args, check=True):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"coffer {' '.join(args)} failed ({p.returncode}): {p.stdout}{p.stderr}")
        return p


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server shared by tests that only add state of their own (unique names per test)."""
    s = Server(tmp_path_factory.mktemp("shared") / "data")
    yield s
    s.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that restart it, corrupt its files, or need an empty state."""
    servers = []

    def make(**kw):
        s = Server(tmp_path / f"data{len(servers)}", **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


_counter = [0]


def unique(prefix):
    """A name no other test uses."""
    _counter[0] += 1
    return f"{prefix}{os.getpid()}x{_counter[0]}"


def read_edge_endpoints(path):
    """`{"http": (host, port), "https": (host, port)}` from an edge's `edge-endpoints` file."""
    out = {}
    for line in Path(path).read_text().splitlines():
        scheme, addr = line.split()
        host, port = addr.rsplit(":", 1)
        out[scheme] = (host, int(port))
    return out


def metric_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class ViewerResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def __repr__(self):
        return f"<{self.status} {self.headers.get('x-cache')} {self.body[:200]!r}>"


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback address with the distribution's name as SNI (names under .localhost need no DNS)."""

    def __init__(self, addr, port, sni, context, timeout):
        super().__init__(addr, port, context=context, timeout=timeout)
        self._sni = sni

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)


def viewer(endpoints, host, path, method="GET", headers=None, body=None, https=True, timeout=30, tls_context=None):
    """One viewer request to an edge: `endpoints` is `Server.edge` (or an edge process's), `host` the distribution's
    domain name or alias. Returns a ViewerResponse; redirects are not followed."""
    addr, port = endpoints["https" if https else "http"]
    if https:
        ctx = tls_context or ssl.create_default_context()
        if tls_context is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        conn = _SNIConnection(addr, port, host, ctx, timeout)
    else:
        conn = http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        # As a browser would: the port is part of Host unless it is the scheme's default.
        default_port = 443 if https else 80
        hdrs = {"Host": host if port == default_port else f"{host}:{port}", **(headers or {})}
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return ViewerResponse(r.status, r.getheaders(), r.read())
    finally:
        conn.close()
