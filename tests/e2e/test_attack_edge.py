"""Attacks on the edge and the CloudFront control plane, end to end against `coffer serve`: each test is the attack a
security review ran, and asserts the edge refuses it. Helpers for distributions with several behaviors live here
(conftest.py stays as it is)."""

import datetime
import json
import time

from conftest import REGION, unique, viewer, wait_until
from test_edge import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    allow_distribution_in_bucket,
    allow_distribution_in_key,
    create_oac,
    private_kms_bucket,
)


def behavior(origin, pattern=None, key_groups=None, cache_policy=CACHING_OPTIMIZED, methods=("GET", "HEAD"),
             policy="allow-all"):
    b = {
        **({"PathPattern": pattern} if pattern else {}),
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": policy,
        "AllowedMethods": {
            "Quantity": len(methods),
            "Items": list(methods),
            "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
        },
        "CachePolicyId": cache_policy,
    }
    if key_groups:
        b["TrustedKeyGroups"] = {"Enabled": True, "Quantity": len(key_groups), "Items": list(key_groups)}
    return b


def s3_origin(bucket, oac_id, origin_id="s3origin"):
    return {
        "Id": origin_id,
        "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
        "OriginAccessControlId": oac_id,
    }


def deployed(server, d):
    cf = server.client("cloudfront")
    wait_until(
        lambda: cf.get_distribution(Id=d["Id"])["Distribution"]["Status"] == "Deployed",
        what="the distribution to deploy",
    )
    return d


def key_group(server):
    """A key pair and a key group holding its public key: (private key, public key id, key group id)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    cf = server.client("cloudfront")
    pk = cf.create_public_key(
        PublicKeyConfig={"CallerReference": unique("pk"), "Name": unique("pk"), "EncodedKey": public_pem}
    )["PublicKey"]["Id"]
    group = cf.create_key_group(KeyGroupConfig={"Name": unique("kg"), "Items": [pk]})["KeyGroup"]["Id"]
    return key, pk, group


def signed_cookies(key, pk, resource):
    """CloudFront-* cookies for a custom policy on `resource` (botocore's CloudFrontSigner)."""
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signer = CloudFrontSigner(pk, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()))
    policy = signer.build_policy(
        resource, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    ).encode()
    return "; ".join(
        [
            f"CloudFront-Policy={signer._url_b64encode(policy).decode()}",
            f"CloudFront-Signature={signer._url_b64encode(signer.rsa_signer(policy)).decode()}",
            f"CloudFront-Key-Pair-Id={pk}",
        ]
    )


def private_prefix_distribution(server):
    """The review's setup: one private SSE-KMS bucket, `/private/*` behind a trusted key group, everything else
    public. Returns (bucket, distribution, signing key, public key id)."""
    bucket = unique("paths-")
    key_arn = private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    key, pk, group = key_group(server)
    cf = server.client("cloudfront")
    d = cf.create_distribution(DistributionConfig={
        "CallerReference": unique("ref"),
        "Comment": "private prefix",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [s3_origin(bucket, oac)]},
        "DefaultCacheBehavior": behavior("s3origin"),
        "CacheBehaviors": {"Quantity": 1, "Items": [behavior("s3origin", "/private/*", key_groups=[group])]},
    })["Distribution"]
    deployed(server, d)
    allow_distribution_in_bucket(server, bucket, [d["ARN"]])
    allow_distribution_in_key(server, key_arn, [d["ARN"]])
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="private/secret.txt", Body=b"TOP SECRET", ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="public/readme.txt", Body=b"v1", ContentType="text/plain")
    return bucket, d, key, pk


# Spellings of /private/secret.txt that S3 decodes (or a path-normalizing origin resolves) to that key.
ENCODED_PRIVATE = [
    "/%70rivate/secret.txt",
    "/%70%72ivate/secret.txt",
    "/pr%69vate/secret.txt",
    "/private%2Fsecret.txt",
    "/private%2fsecret.txt",
    "/%2Fprivate/secret.txt",
    "//private/secret.txt",
    "/./private/secret.txt",
    "/public/../private/secret.txt",
    "/public/%2E%2E/private/secret.txt",
    "/public/%2e%2e%2fprivate/secret.txt",
    "/public/..%2Fprivate/secret.txt",
    "/private/./secret.txt",
]


def test_encoded_paths_cannot_escape_a_signed_behavior(server):
    bucket, d, key, pk = private_prefix_distribution(server)
    host = d["DomainName"]
    assert viewer(server.edge, host, "/public/readme.txt").status == 200
    assert viewer(server.edge, host, "/private/secret.txt").status == 403
    for path in ENCODED_PRIVATE:
        r = viewer(server.edge, host, path)
        assert r.status == 403 and b"TOP SECRET" not in r.body, (path, r)
    # Double encoding is decoded once, like S3 does: `%2570` is the key `%70rivate/…`, not the secret.
    r = viewer(server.edge, host, "/%2570rivate/secret.txt")
    assert r.status != 200 and b"TOP SECRET" not in r.body, r


def test_a_signature_for_one_object_does_not_unlock_an_encoded_other(server):
    bucket, d, key, pk = private_prefix_distribution(server)
    host = d["DomainName"]
    port = server.edge["https"][1]
    server.client("s3").put_object(Bucket=bucket, Key="private/shared/a.txt", Body=b"shared a")
    cookies = signed_cookies(key, pk, f"https://{host}:{port}/private/shared/*")
    ok = viewer(server.edge, host, "/private/shared/a.txt", headers={"Cookie": cookies})
    assert ok.status == 200 and ok.body == b"shared a", ok
    # An encoded spelling of the same object is the same object: allowed.
    same = viewer(server.edge, host, "/private/shared/%61.txt", headers={"Cookie": cookies})
    assert same.status == 200 and same.body == b"shared a", same
    # Dot segments (plain or encoded) under the signed prefix name another object: the wildcard does not cover it.
    for path in ["/private/shared/../secret.txt", "/private/shared/%2E%2E/secret.txt",
                 "/private/shared%2F..%2F..%2Fprivate/secret.txt"]:
        r = viewer(server.edge, host, path, headers={"Cookie": cookies})
        assert r.status == 403 and b"TOP SECRET" not in r.body, (path, r)


def test_bad_escapes_and_backslashes_are_refused(server):
    bucket, d, key, pk = private_prefix_distribution(server)
    host = d["DomainName"]
    for path in ["/a%zz", "/a%", "/a%4", "/%FF.txt", "/a%C3%28", "/private%5Csecret.txt", "/a%00b"]:
        r = viewer(server.edge, host, path)
        assert r.status == 400, (path, r)


def test_encoded_paths_share_the_cache_entry_and_its_invalidation(server):
    bucket, d, key, pk = private_prefix_distribution(server)
    host = d["DomainName"]
    first = viewer(server.edge, host, "/%70ublic/readme.txt")
    assert first.status == 200 and first.body == b"v1", first
    # The same object under another spelling is the same cache entry.
    assert viewer(server.edge, host, "/public/readme.txt").headers["x-cache"] == "Hit from cloudfront"
    server.client("s3").put_object(Bucket=bucket, Key="public/readme.txt", Body=b"v2", ContentType="text/plain")
    assert viewer(server.edge, host, "/%70ublic/readme.txt").body == b"v1"
    server.aws("cloudfront", "create-invalidation", "--distribution-id", d["Id"], "--paths", "/public/*")
    fresh = wait_until(
        lambda: (lambda r: r if r.body == b"v2" else None)(viewer(server.edge, host, "/%70ublic/readme.txt")),
        timeout=2.0,
        what="the invalidation of /public/* to cover the encoded spelling",
    )
    assert fresh.status == 200
    # An invalidation path that is itself encoded covers the decoded object.
    server.client("s3").put_object(Bucket=bucket, Key="public/readme.txt", Body=b"v3", ContentType="text/plain")
    assert viewer(server.edge, host, "/public/readme.txt").body == b"v2"
    server.aws("cloudfront", "create-invalidation", "--distribution-id", d["Id"], "--paths", "/%70ublic/readme.txt")
    wait_until(
        lambda: viewer(server.edge, host, "/public/readme.txt").body == b"v3",
        timeout=2.0,
        what="an encoded invalidation path to cover the object",
    )
    # Invalidation paths that cannot be a path are refused.
    rc, _, err = server.aws("cloudfront", "create-invalidation", "--distribution-id", d["Id"], "--paths", "/a%zz",
                            check=False)
    assert rc != 0 and "InvalidArgument" in err


def create_cache_policy(server, query_strings, headers=None, name=None):
    cf = server.client("cloudfront")
    return cf.create_cache_policy(CachePolicyConfig={
        "Name": name or unique("cp"),
        "MinTTL": 0,
        "DefaultTTL": 300,
        "MaxTTL": 3600,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": False,
            "EnableAcceptEncodingBrotli": False,
            "HeadersConfig": headers or {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": query_strings,
        },
    })["CachePolicy"]["Id"]


def oac_distribution(server, signing="always", cache_policy=CACHING_OPTIMIZED, actions=("s3:GetObject",)):
    """A private SSE-KMS bucket behind an OAC with `signing` behavior: (bucket, distribution)."""
    bucket = unique("sig-")
    key_arn = private_kms_bucket(server, bucket)
    cf = server.client("cloudfront")
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": unique("oac"),
        "SigningProtocol": "sigv4",
        "SigningBehavior": signing,
        "OriginAccessControlOriginType": "s3",
    })["OriginAccessControl"]["Id"]
    d = cf.create_distribution(DistributionConfig={
        "CallerReference": unique("ref"),
        "Comment": "signing",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [s3_origin(bucket, oac)]},
        "DefaultCacheBehavior": behavior("s3origin", cache_policy=cache_policy),
    })["Distribution"]
    deployed(server, d)
    allow_distribution_in_bucket(server, bucket, [d["ARN"]], actions=actions)
    allow_distribution_in_key(server, key_arn, [d["ARN"]])
    return bucket, d


def test_a_viewer_authorization_header_cannot_switch_off_oac_signing(server):
    for signing in ["no-override", "always"]:
        bucket, d = oac_distribution(server, signing)
        host = d["DomainName"]
        server.client("s3").put_object(Bucket=bucket, Key="logo.txt", Body=b"logo", ContentType="text/plain")
        # The attacker's junk credentials: the edge still signs (it never forwards a viewer's Authorization), so
        # nothing unsigned is fetched and nothing unsigned is cached.
        junk = viewer(server.edge, host, "/logo.txt", headers={"Authorization": "junk"})
        assert junk.status == 200 and junk.body == b"logo", (signing, junk)
        after = viewer(server.edge, host, "/logo.txt")
        assert after.status == 200 and after.body == b"logo", (signing, after)
        assert after.headers["x-cache"] == "Hit from cloudfront"


def test_s3_credentials_in_the_query_never_reach_the_origin(server):
    policy = create_cache_policy(server, {"QueryStringBehavior": "all"})
    bucket, d = oac_distribution(server, cache_policy=policy)
    host = d["DomainName"]
    server.client("s3").put_object(Bucket=bucket, Key="doc.txt", Body=b"doc", ContentType="text/plain")
    # Presigned-URL parameters (SigV4 and SigV2, also with an encoded name) would make S3 evaluate the viewer's
    # own credentials from the edge's address, or refuse two authentication mechanisms at once.
    for q in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAJUNK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        "%58-Amz-Credential=AKIAJUNK&x-amz-signature=00",
        "AWSAccessKeyId=AKIAJUNK&Signature=junk&Expires=1",
        "x-amz-security-token=junk",
    ]:
        r = viewer(server.edge, host, f"/doc.txt?{q}")
        assert r.status == 200 and r.body == b"doc", (q, r)


def test_query_string_exclusions_cannot_be_escaped_by_encoding_the_name(server):
    policy = create_cache_policy(
        server, {"QueryStringBehavior": "allExcept", "QueryStrings": {"Quantity": 1, "Items": ["versionId"]}}
    )
    bucket, d = oac_distribution(server, cache_policy=policy, actions=("s3:GetObject", "s3:GetObjectVersion"))
    host = d["DomainName"]
    s3 = server.client("s3")
    old = s3.put_object(Bucket=bucket, Key="price.txt", Body=b"old price", ContentType="text/plain")["VersionId"]
    s3.put_object(Bucket=bucket, Key="price.txt", Body=b"new price", ContentType="text/plain")
    # The operator keeps versionId away from the origin; spelling the name with an escape must not get it there.
    for q in [f"versionId={old}", f"%76ersionId={old}", f"version%49d={old}"]:
        r = viewer(server.edge, host, f"/price.txt?{q}")
        assert r.status == 200 and r.body == b"new price", (q, r)


LOOPBACK_ALLOWED = '[edge]\norigin_allow_networks = ["127.0.0.0/8"]\n'


def custom_distribution(server, domain, http_port=80, https_port=443, protocol="http-only", cache_policy=CACHING_DISABLED):
    """A distribution with one custom origin: the CreateDistribution call itself (it may be refused)."""
    return server.client("cloudfront").create_distribution(DistributionConfig={
        "CallerReference": unique("custom"),
        "Comment": "custom origin",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "app",
            "DomainName": domain,
            "CustomOriginConfig": {"HTTPPort": http_port, "HTTPSPort": https_port,
                                   "OriginProtocolPolicy": protocol},
        }]},
        "DefaultCacheBehavior": behavior("app", cache_policy=cache_policy),
    })["Distribution"]


def serving(server, d):
    deployed(server, d)
    wait_until(lambda: viewer(server.edge, d["DomainName"], "/x", https=False).status != 503,
               what="the edge to know the distribution")
    return d["DomainName"]


def test_ip_literals_and_loopback_names_are_refused_as_custom_origins(server):
    import botocore.exceptions

    for domain in ["127.0.0.1", "169.254.169.254", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1",
                   "10.0.0.1.", "[::1]", "::1", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "localhost", "LOCALHOST.",
                   "api.localhost", "evil.example@127.0.0.1", "example.com:8080", "exa mple.com"]:
        try:
            custom_distribution(server, domain)
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] in ("InvalidArgument", "InvalidOrigin"), (domain, e.response)
        else:
            raise AssertionError(f"{domain} was accepted as a custom origin")
    # UpdateDistribution is checked the same way.
    cf = server.client("cloudfront")
    d = custom_distribution(server, "origin.example.com")
    got = cf.get_distribution_config(Id=d["Id"])
    config = got["DistributionConfig"]
    config["Origins"]["Items"][0]["DomainName"] = "169.254.169.254"
    try:
        cf.update_distribution(Id=d["Id"], IfMatch=got["ETag"], DistributionConfig=config)
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidArgument"
    else:
        raise AssertionError("UpdateDistribution accepted an IP literal")


def test_a_custom_origin_cannot_reach_the_deployments_own_listeners(fresh_server):
    # Even where the operator allows loopback (a local origin), the API and the edge's own ports stay out of reach:
    # the review's distribution served the API's /metrics to any viewer.
    server = fresh_server(config_text=LOOPBACK_ALLOWED)
    api_port = int(server.endpoint.rsplit(":", 1)[1])
    for port in [api_port, server.edge["http"][1], server.edge["https"][1]]:
        host = serving(server, custom_distribution(server, "localhost", http_port=port))
        r = viewer(server.edge, host, "/metrics", https=False)
        assert r.status == 502 and b"coffer_" not in r.body, (port, r)


def test_loopback_origins_need_the_operator_to_allow_them(fresh_server):
    import http.server
    import threading

    seen = []

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = b"internal"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        # Allowed: the origin answers.
        allowed = fresh_server(config_text=LOOPBACK_ALLOWED)
        host = serving(allowed, custom_distribution(allowed, "localhost", http_port=httpd.server_address[1]))
        seen.clear()
        r = viewer(allowed.edge, host, "/ok", https=False)
        assert r.status == 200 and r.body == b"internal", r
        assert seen == ["/ok"]
        # Allowing only ::1 lets the name through the API's static check, but the edge refuses 127.0.0.1 when it
        # connects: the origin is never reached.
        v6 = fresh_server(config_text='[edge]\norigin_allow_networks = ["::1/128"]\n')
        host = serving(v6, custom_distribution(v6, "localhost", http_port=httpd.server_address[1]))
        r = viewer(v6.edge, host, "/refused", https=False)
        assert r.status == 502, r
        assert seen == ["/ok"]
    finally:
        httpd.shutdown()


def test_the_viewer_protocol_is_in_the_cache_key_when_it_picks_the_origin_protocol(fresh_server, tmp_path):
    # With OriginProtocolPolicy match-viewer, a plain-HTTP viewer makes the edge fetch over plain HTTP; that answer
    # must not be served from the cache to HTTPS viewers, whose requests go to the origin over TLS.
    import http.server
    import ssl
    import threading

    from test_edge import self_signed

    def origin(answer):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Cache-Control", "max-age=300")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    cert_pem, key_pem = self_signed("localhost")
    (tmp_path / "origin.crt").write_bytes(cert_pem)
    (tmp_path / "origin.key").write_bytes(key_pem)
    plain, tls = origin(b"over plain http"), origin(b"over tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "origin.crt", tmp_path / "origin.key")
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        server = fresh_server(config_text=LOOPBACK_ALLOWED + f'origin_ca_file = "{tmp_path / "origin.crt"}"\n')
        host = serving(server, custom_distribution(
            server, "localhost", http_port=plain.server_address[1], https_port=tls.server_address[1],
            protocol="match-viewer", cache_policy=CACHING_OPTIMIZED,
        ))
        first = viewer(server.edge, host, "/page", https=False)
        assert first.status == 200 and first.body == b"over plain http", first
        secure = viewer(server.edge, host, "/page")
        assert secure.status == 200 and secure.body == b"over tls", secure
        assert viewer(server.edge, host, "/page").headers["x-cache"] == "Hit from cloudfront"
    finally:
        plain.shutdown()
        tls.shutdown()


def closed_by_peer(sock, limit=15.0):
    """Reads until the edge closes the connection; returns the bytes it sent, or None if it stayed open for
    `limit` seconds (a generous bound far above the configured timeouts: the test polls for the close)."""
    import socket

    sock.settimeout(limit)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        return got
    except socket.timeout:
        return None


def edge_ready(server):
    """Waits until the edge has its first state (before that it answers 503)."""
    wait_until(lambda: viewer(server.edge, "unknown.cloudfront.localhost", "/", https=False).status == 403,
               what="the edge to load its state")


SHORT_TIMEOUTS = "[edge]\nheader_timeout_ms = 500\ntls_handshake_timeout_ms = 500\nidle_timeout_ms = 1000\n"


def test_slow_clients_are_disconnected(fresh_server):
    import socket

    server = fresh_server(config_text=SHORT_TIMEOUTS)
    edge_ready(server)
    host, port = server.edge["http"]
    # Half a request line, never finished: dropped after the header read timeout.
    slow = socket.create_connection((host, port))
    slow.sendall(b"GET /slowloris HTTP/1.1\r\nHost: a")
    assert closed_by_peer(slow) is not None, "a half-sent request kept its connection"
    # Nothing at all: the same.
    silent = socket.create_connection((host, port))
    assert closed_by_peer(silent) is not None, "a silent connection was kept"
    # A TLS client that never sends its ClientHello: dropped after the handshake timeout.
    tls_host, tls_port = server.edge["https"]
    hello_less = socket.create_connection((tls_host, tls_port))
    assert closed_by_peer(hello_less) is not None, "a TLS connection without a ClientHello was kept"
    # A finished request, then silence: the keep-alive connection is closed after the idle timeout.
    idle = socket.create_connection((host, port))
    idle.sendall(b"GET /x HTTP/1.1\r\nHost: unknown.cloudfront.localhost\r\n\r\n")
    answer = closed_by_peer(idle)
    assert answer is not None and answer.startswith(b"HTTP/1.1 403"), answer


def test_connections_beyond_the_cap_are_refused_while_existing_ones_keep_working(fresh_server):
    import socket

    server = fresh_server(config_text="[edge]\nmax_connections = 3\nidle_timeout_ms = 60000\n")
    edge_ready(server)
    host, port = server.edge["http"]
    request = b"GET /x HTTP/1.1\r\nHost: unknown.cloudfront.localhost\r\n\r\n"

    def exchange(sock):
        """The edge's answer to one request on `sock`, or None when it closes the connection instead."""
        sock.sendall(request)
        sock.settimeout(10)
        got = b""
        try:
            while b"</HTML>" not in got:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                got += chunk
        except ConnectionResetError:
            return None
        return got

    def answered():
        """A new connection that got an answer (earlier test connections may still hold slots briefly)."""
        sock = socket.create_connection((host, port))
        if exchange(sock) is None:
            sock.close()
            return None
        return sock

    held = [wait_until(answered, what="a connection slot") for _ in range(3)]
    extra = socket.create_connection((host, port))
    assert exchange(extra) is None, "a connection beyond the cap was served"
    # The held connections keep working.
    for s in held:
        answer = exchange(s)
        assert answer is not None and answer.startswith(b"HTTP/1.1 403"), answer
    # Closing one makes room again.
    held.pop().close()
    wait_until(answered, what="the freed connection slot").close()
    for s in held:
        s.close()


def make_ca(name="coffer test CA"):
    """A CA key and certificate (PEM) an operator would name in [edge] alias_ca_file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert, cert.public_bytes(serialization.Encoding.PEM)


def issue(ca, names, not_before=None, not_after=None):
    """A leaf certificate for `names` from `ca` (or self-signed when `ca` is None): (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer_key, issuer_name = (key, subject) if ca is None else (ca[0], ca[1].subject)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def alias_distribution(server, aliases, cert_arn):
    """CreateDistribution for a private bucket with `aliases` and the ACM certificate `cert_arn`."""
    bucket = unique("alias-")
    private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    return server.client("cloudfront").create_distribution(DistributionConfig={
        "CallerReference": unique("ref"),
        "Comment": "aliases",
        "Enabled": True,
        "Aliases": {"Quantity": len(aliases), "Items": aliases},
        "ViewerCertificate": {"ACMCertificateArn": cert_arn, "SSLSupportMethod": "sni-only",
                              "MinimumProtocolVersion": "TLSv1.2_2021"},
        "Origins": {"Quantity": 1, "Items": [s3_origin(bucket, oac)]},
        "DefaultCacheBehavior": behavior("s3origin"),
    })["Distribution"]


def refused_code(call):
    import botocore.exceptions

    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


def test_an_alias_needs_a_trusted_valid_certificate_that_covers_it(fresh_server, tmp_path):
    ca = make_ca()
    (tmp_path / "ca.pem").write_bytes(ca[2])
    server = fresh_server(config_text=f'[edge]\nalias_ca_file = "{tmp_path / "ca.pem"}"\n')
    acm = server.client("acm")

    def imported(cert_key):
        return acm.import_certificate(Certificate=cert_key[0], PrivateKey=cert_key[1])["CertificateArn"]

    zone = f"{unique('z')}.example.test"
    # The review's hijack: a self-signed certificate, not even for the name.
    self_signed = imported(issue(None, [f"other.{zone}"]))
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], self_signed)) == "InvalidViewerCertificate"
    # Self-signed for the name: still not trusted.
    own_ca = imported(issue(None, [f"www.{zone}"]))
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], own_ca)) == "InvalidViewerCertificate"
    # Trusted, but for another name.
    elsewhere = imported(issue(ca, [f"api.{zone}"]))
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], elsewhere)) == "InvalidViewerCertificate"
    # Trusted and covering, but expired or not yet valid.
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = imported(issue(ca, [f"www.{zone}"], now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)))
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], expired)) == "InvalidViewerCertificate"
    future = imported(issue(ca, [f"www.{zone}"], now + datetime.timedelta(days=1), now + datetime.timedelta(days=30)))
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], future)) == "InvalidViewerCertificate"
    # A wildcard certificate covers one label, as in TLS; a wildcard alias needs the wildcard name itself.
    wildcard = imported(issue(ca, [f"*.{zone}"]))
    assert refused_code(lambda: alias_distribution(server, [f"a.b.{zone}"], wildcard)) == "InvalidViewerCertificate"
    www_only = imported(issue(ca, [f"www.{zone}"]))
    assert refused_code(lambda: alias_distribution(server, [f"*.{zone}"], www_only)) == "InvalidViewerCertificate"
    ok = alias_distribution(server, [f"www.{zone}", f"*.{zone}"], wildcard)
    # A name another distribution holds is CNAMEAlreadyExists.
    assert refused_code(lambda: alias_distribution(server, [f"www.{zone}"], www_only)) == "CNAMEAlreadyExists"
    # Re-importing the certificate with one that no longer covers the distribution's aliases is refused.
    replacement = issue(ca, [f"api.{zone}"])
    assert refused_code(lambda: acm.import_certificate(
        CertificateArn=wildcard, Certificate=replacement[0], PrivateKey=replacement[1])) is not None
    assert ok["Id"]


def test_a_distributions_own_domain_keeps_the_default_certificate(fresh_server, tmp_path):
    import socket
    import ssl

    ca = make_ca()
    (tmp_path / "ca.pem").write_bytes(ca[2])
    server = fresh_server(config_text=f'[edge]\nalias_ca_file = "{tmp_path / "ca.pem"}"\n')
    alias = f"{unique('cdn')}.example.test"
    cert_pem, key_pem = issue(ca, [alias])
    arn = server.client("acm").import_certificate(Certificate=cert_pem, PrivateKey=key_pem)["CertificateArn"]
    d = deployed(server, alias_distribution(server, [alias], arn))

    def presented(sni):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        host, port = server.edge["https"]
        with socket.create_connection((host, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                return tls.getpeercert(binary_form=True)

    from cryptography import x509

    alias_der = x509.load_pem_x509_certificate(cert_pem).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)
    wait_until(lambda: presented(alias) == alias_der, what="the alias to get its certificate")
    assert presented(d["DomainName"]) != alias_der, "the distribution's own name got the alias certificate"


def test_the_disk_cache_and_access_log_hold_no_plaintext_and_are_owner_only(fresh_server):
    import os
    import stat

    config = "[edge]\ncache_memory_mb = 1\ncache_disk_mb = 64\n"
    server = fresh_server(config_text=config)
    bucket, d = oac_distribution(server)
    host = d["DomainName"]
    marker = unique("PLAINTEXT-MARKER-").encode()
    key = f"{unique('secret-path-')}.txt"
    # Larger than the memory tier, so entries move to disk while running, and more go there on shutdown.
    bodies = {f"{i}-{key}": marker * (400_000 // len(marker)) + str(i).encode() for i in range(4)}
    s3 = server.client("s3")
    for k, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=body, ContentType="text/plain")
    for k, body in bodies.items():
        r = viewer(server.edge, host, f"/{k}")
        assert r.status == 200 and r.body == body, r
    assert server.stop() == 0

    edge_dir = server.data_dir / "edge"
    cache_dir = edge_dir / "cache"
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert any(p.read_bytes().strip(b"\0") for p in files), "the disk tier wrote nothing"
    for p in files:
        data = p.read_bytes()
        assert marker not in data, f"plaintext object bytes in {p}"
        assert key.encode() not in data, f"a plaintext cache key in {p}"
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p, oct(p.stat().st_mode))
    for directory in [edge_dir, cache_dir]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, (directory, oct(directory.stat().st_mode))
    log = edge_dir / "access.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600, oct(log.stat().st_mode)
    assert os.stat(server.data_dir / "edge").st_uid == os.getuid()

    # A restart with the old disk tier: it is unreadable under the new process's key, so it degrades to misses.
    restarted = type(server)(server.data_dir, config_text=config)
    try:
        wait_until(lambda: viewer(restarted.edge, host, "/x").status != 503, what="the restarted edge")
        for k, body in bodies.items():
            r = viewer(restarted.edge, host, f"/{k}")
            assert r.status == 200 and r.body == body, r
    finally:
        restarted.stop()



def test_custom_headers_cannot_speak_for_the_edge(server):
    import botocore.exceptions

    cf = server.client("cloudfront")
    bucket = unique("hdr-")
    private_kms_bucket(server, bucket)
    oac = create_oac(server, unique("oac"))
    for name, value in [("X-Amz-Coffer-Distribution-Arn", "arn:aws:cloudfront::000000000000:distribution/E1"),
                        ("Host", "other-bucket.s3.amazonaws.com"), ("x-amz-security-token", "t"),
                        ("Content-Length", "5"), ("Transfer-Encoding", "chunked"), ("Bad Name", "x"),
                        ("X-Ok", "bad\u0001value")]:
        origin = s3_origin(bucket, oac)
        origin["CustomHeaders"] = {"Quantity": 1, "Items": [{"HeaderName": name, "HeaderValue": value}]}
        try:
            cf.create_distribution(DistributionConfig={
                "CallerReference": unique("ref"), "Comment": "", "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [origin]},
                "DefaultCacheBehavior": behavior("s3origin"),
            })
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidArgument", (name, e.response)
        else:
            raise AssertionError(f"custom header {name} was accepted")


def raw_request(endpoint, data, tls_sni=None):
    """Sends raw bytes to an edge listener and returns (status, raw response) once the edge answers or closes."""
    import socket
    import ssl

    host, port = endpoint
    sock = socket.create_connection((host, port), timeout=10)
    if tls_sni is not None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=tls_sni)
    try:
        sock.sendall(data)
        got = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep:
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
        status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/") else None
        return status, got
    finally:
        sock.close()


def public_distribution(server, body=b"public object"):
    bucket, d = oac_distribution(server)
    server.client("s3").put_object(Bucket=bucket, Key="obj.txt", Body=body, ContentType="text/plain")
    return bucket, d


def test_access_log_lines_cannot_be_forged_by_viewers(fresh_server):
    server = fresh_server()
    bucket, d = public_distribution(server)
    host = d["DomainName"]
    marker = unique("ua")
    data = (f"GET /obj.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {marker}\tinjected\t\xff\xfe\r\n"
            f"Referer: a\tb\r\nCookie: c=\t1\r\nConnection: close\r\n\r\n").encode("latin-1")
    status, _ = raw_request(server.edge["http"], data)
    assert status == 200
    log = server.data_dir / "edge" / "access.log"
    lines = wait_until(
        lambda: [l for l in log.read_bytes().split(b"\n") if marker.encode() in l] if log.exists() else None,
        what="the access log line",
    )
    assert len(lines) == 1
    fields = lines[0].split(b"\t")
    assert len(fields) == 33, fields
    assert all(0x21 <= b <= 0x7E for f in fields for b in f), lines[0]
    assert fields[10].startswith(marker.encode())


def test_conditional_and_range_headers_on_cached_objects(server):
    bucket, d = public_distribution(server, body=b"0123456789")
    host = d["DomainName"]
    first = viewer(server.edge, host, "/obj.txt")
    etag = first.headers["etag"]
    cases = [
        ({"If-Match": '"nope"'}, 412, b""),
        ({"If-Match": etag}, 200, b"0123456789"),
        ({"If-Match": "*"}, 200, b"0123456789"),
        ({"If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}, 412, b""),
        ({"If-None-Match": etag}, 304, b""),
        ({"If-None-Match": f'"x", W/{etag}'}, 304, b""),
        ({"Range": "bytes=2-4"}, 206, b"234"),
        ({"Range": "bytes=2-4", "If-Range": etag}, 206, b"234"),
        ({"Range": "bytes=2-4", "If-Range": '"old"'}, 200, b"0123456789"),
        ({"Range": "bytes=-0"}, 416, b""),
        ({"Range": "bytes=10-"}, 416, b""),
        ({"Range": "bytes=0-1,3-4"}, 200, b"0123456789"),
        ({"Range": "bytes=99999999999999999999999-"}, 200, b"0123456789"),
        ({"Range": "bytes=5-2"}, 200, b"0123456789"),
        ({"Range": "bytes=-99999999999999999999"}, 200, b"0123456789"),
        ({"Range": "bytes=18446744073709551615-18446744073709551615"}, 416, b""),
    ]
    for headers, status, body in cases:
        r = viewer(server.edge, host, "/obj.txt", headers=headers)
        assert (r.status, r.body) == (status, body), (headers, r)


def test_host_header_forms(server):
    bucket, d = public_distribution(server)
    host = d["DomainName"]
    edge = server.edge["http"]
    ok = raw_request(edge, f"GET /obj.txt HTTP/1.1\r\nHost: {host.upper()}.:{edge[1]}\r\nConnection: close\r\n\r\n".encode())
    assert ok[0] == 200 and ok[1].endswith(b"public object"), ok
    # Two Host headers, a Host that is not a host name, and an absolute-form target naming another host than Host.
    for data in [
        f"GET /obj.txt HTTP/1.1\r\nHost: {host}\r\nHost: other.cloudfront.localhost\r\n\r\n",
        f"GET /obj.txt HTTP/1.1\r\nHost: user@{host}\r\n\r\n",
        f"GET /obj.txt HTTP/1.1\r\nHost: {host}/x\r\n\r\n",
        f"GET http://other.cloudfront.localhost/obj.txt HTTP/1.1\r\nHost: {host}\r\n\r\n",
        f"GET http://{host}/obj.txt HTTP/1.1\r\nHost: other.cloudfront.localhost\r\n\r\n",
        "GET /obj.txt HTTP/1.1\r\n\r\n",
    ]:
        status, got = raw_request(edge, data.encode())
        assert status == 400 and b"public object" not in got, (data, got[:300])
    # The absolute form with a matching Host is served.
    status, got = raw_request(edge, f"GET http://{host}/obj.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert status == 200, got[:300]


def test_oversized_requests_get_413(server):
    bucket, d = public_distribution(server)
    host = d["DomainName"]
    long_url = viewer(server.edge, host, "/obj.txt?q=" + "a" * 9000)
    assert long_url.status == 413, long_url
    big_headers = {f"X-Pad-{i}": "b" * 900 for i in range(25)}
    assert viewer(server.edge, host, "/obj.txt", headers=big_headers).status == 413
    # Within the limits it is served.
    assert viewer(server.edge, host, "/obj.txt?q=" + "a" * 100, headers={"X-Pad": "b" * 900}).status == 200


def test_a_tls_connection_for_one_account_cannot_reach_another_accounts_distribution(server):
    import json as _json

    created = _json.loads(server.coffer("account", "create", "--name", unique("front"),
                                        "--data-dir", str(server.data_dir), "--json").stdout)
    other = (created["access_key_id"], created["secret_access_key"])

    class Other:
        """The second account, with the helpers' interface."""
        edge = server.edge

        def client(self, service, **kw):
            return server.client(service, access_key=other[0], secret=other[1], **kw)

        def aws(self, *args, **kw):
            return server.aws(*args, creds=other, **kw)

    bucket_a, mine = public_distribution(server, body=b"account A")
    bucket_b, theirs = public_distribution(Other(), body=b"account B")
    # SNI names account A's distribution, Host names account B's: domain fronting, refused with 421.
    status, got = raw_request(
        server.edge["https"],
        f"GET /obj.txt HTTP/1.1\r\nHost: {theirs['DomainName']}\r\nConnection: close\r\n\r\n".encode(),
        tls_sni=mine["DomainName"],
    )
    assert status == 421 and b"account B" not in got, got[:300]
    # Same account, or SNI and Host for one distribution: served.
    status, got = raw_request(
        server.edge["https"],
        f"GET /obj.txt HTTP/1.1\r\nHost: {mine['DomainName']}\r\nConnection: close\r\n\r\n".encode(),
        tls_sni=mine["DomainName"],
    )
    assert status == 200 and got.endswith(b"account A"), got[:300]


def test_the_edges_address_never_satisfies_a_source_ip_condition(server):
    """The review's bypass: the edge reached S3 from an internal address, so a bucket open only to that network
    (`aws:SourceIp`) was open to every viewer of a distribution. Fetches for a distribution are evaluated without
    the edge's address, as AWS evaluates CloudFront's: without OAC as an anonymous caller, with OAC as the
    service principal."""
    s3 = server.client("s3")
    cf = server.client("cloudfront")
    bucket = unique("ipnet-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="internal.txt", Body=b"for the office only", ContentType="text/plain")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OfficeNetwork", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}))
    # A caller on that network reads it directly.
    import urllib.request
    with urllib.request.urlopen(f"{server.endpoint}/{bucket}/internal.txt", timeout=10) as r:
        assert r.read() == b"for the office only"
    # A distribution without OAC in front of it: its viewers are not on that network.
    d = cf.create_distribution(DistributionConfig={
        "CallerReference": unique("ref"),
        "Comment": "no oac",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [s3_origin(bucket, "")]},
        "DefaultCacheBehavior": behavior("s3origin", cache_policy=CACHING_DISABLED),
    })["Distribution"]
    deployed(server, d)
    r = viewer(server.edge, d["DomainName"], "/internal.txt")
    assert r.status == 403, r
    # With OAC, a policy that keeps everyone outside the network out keeps the distribution's viewers out too.
    oac = create_oac(server, unique("oac"))
    d2 = cf.create_distribution(DistributionConfig={
        "CallerReference": unique("ref"),
        "Comment": "oac",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [s3_origin(bucket, oac)]},
        "DefaultCacheBehavior": behavior("s3origin", cache_policy=CACHING_DISABLED),
    })["Distribution"]
    deployed(server, d2)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Distribution", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"AWS:SourceArn": d2["ARN"]}}},
        {"Sid": "OfficeOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}))
    r = viewer(server.edge, d2["DomainName"], "/internal.txt")
    assert r.status == 403, r
    # And a public object behind a distribution without OAC is still served, as anonymous reads are.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    r = viewer(server.edge, d["DomainName"], "/internal.txt")
    assert r.status == 200 and r.body == b"for the office only", r


def test_the_standalone_edges_metrics_listener_bounds_its_connections(server, tmp_path):
    """`coffer edge --metrics` had no time limit: a client that sent half a request held the connection forever."""
    import socket
    import subprocess

    from conftest import BIN

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    log = open(tmp_path / "edge-metrics.log", "wb")
    proc = subprocess.Popen(
        [BIN, "edge", "--api", server.endpoint, "--credentials", str(server.data_dir / "edge-credentials"),
         "--http", "127.0.0.1:0", "--https", "off", "--dir", str(tmp_path / "edge-m"),
         "--metrics", f"127.0.0.1:{port}"],
        stdout=log, stderr=log,
    )
    try:
        def scraped():
            assert proc.poll() is None, (tmp_path / "edge-metrics.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    return s.recv(64)
            except OSError:
                return None
        assert wait_until(scraped, what="the metrics listener").startswith(b"HTTP/1.1 200")
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        slow.sendall(b"GET /metr")
        assert closed_by_peer(slow, limit=20.0) is not None, "a half-sent request was never cut off"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_missing_object_is_403_through_the_edge_without_list_bucket(server):
    """The review's existence leak, through the edge: a distribution whose OAC may only GetObject learns nothing
    of which keys exist — S3 answers 403 for a missing key, as AWS does, and the edge passes it on."""
    bucket, d = oac_distribution(server)
    server.client("s3").put_object(Bucket=bucket, Key="here.txt", Body=b"here", ContentType="text/plain")
    host = d["DomainName"]
    assert viewer(server.edge, host, "/here.txt").status == 200
    missing = viewer(server.edge, host, "/not-here.txt")
    assert missing.status == 403, missing
