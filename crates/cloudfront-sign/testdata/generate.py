#!/usr/bin/env python3
"""Regenerates the golden vectors in vectors.json (and the test keys, if absent).

Run once, by hand, in a virtualenv with `pip install awscli==1.46.3 cryptography`:

    python generate.py

The keys are throwaway test keys. Signed URLs come from botocore's CloudFrontSigner and
from `aws cloudfront sign` (awscli v1); neither supports Hash-Algorithm=SHA256 or ECDSA
natively, so those vectors pass a SHA-256 / ECDSA signer callable to CloudFrontSigner
and append `&Hash-Algorithm=SHA256` after Key-Pair-Id, as the CloudFront developer guide
shows. botocore has no cookie helper, so cookie vectors are built from CloudFrontSigner's
build_policy, signer and _url_b64encode, exactly as generate_presigned_url does for URLs.
"""

import datetime
import json
import os
import subprocess
import sys

import awscli
import botocore
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def write_pair(stem, key, private_format):
    with open(path(stem + ".pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, private_format,
                                  serialization.NoEncryption()))
    with open(path(stem + ".pub.pem"), "wb") as f:
        f.write(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def load(stem):
    with open(path(stem + ".pem"), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def ensure_keys():
    # PKCS#1 ("BEGIN RSA PRIVATE KEY") is what awscli v1's `rsa` library loads.
    trad = serialization.PrivateFormat.TraditionalOpenSSL
    for stem in ("rsa2048", "rsa2048-other"):
        if not os.path.exists(path(stem + ".pem")):
            write_pair(stem, rsa.generate_private_key(65537, 2048), trad)
    if not os.path.exists(path("ec-p256.pem")):
        key = ec.generate_private_key(ec.SECP256R1())
        write_pair("ec-p256", key, serialization.PrivateFormat.PKCS8)
        # The same EC key in SEC1 form ("BEGIN EC PRIVATE KEY"), to test that label.
        with open(path("ec-p256.sec1.pem"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, trad,
                                      serialization.NoEncryption()))


def rsa_signer(key, hash_alg):
    return lambda msg: key.sign(msg, padding.PKCS1v15(), hash_alg)


def ec_signer(key, hash_alg):
    return lambda msg: key.sign(msg, ec.ECDSA(hash_alg))


def ts(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


KEY_ID = "K2JCJMDEHXQW5F"
EC_KEY_ID = "K3ECDSAEXAMPLE"
BASE = "https://d111111abcdef8.cloudfront.net"
EXPIRES = 1767225600  # 2026-01-01T00:00:00Z
START = 1767139200  # 2025-12-31T00:00:00Z


def url_vector(name, tool, signed_url, key, key_id, hash_name, **extra):
    v = {"name": name, "tool": tool, "kind": "url", "signed_url": signed_url,
         "key": key, "key_pair_id": key_id, "hash": hash_name}
    v.update(extra)
    return v


def main():
    ensure_keys()
    rsa_key = load("rsa2048")
    ec_key = load("ec-p256")
    vectors = []

    # botocore, canned policy, RSA-SHA1 (the default), with an existing query string.
    s = CloudFrontSigner(KEY_ID, rsa_signer(rsa_key, hashes.SHA1()))
    url = BASE + "/private/cat.jpg?size=large&color=red"
    vectors.append(url_vector("botocore-canned-sha1", "botocore", s.generate_presigned_url(
        url, date_less_than=ts(EXPIRES)), "rsa2048", KEY_ID, "SHA1",
        url=url, expires=EXPIRES))

    # botocore, canned policy, percent-encoded path and query kept byte for byte.
    url = BASE + "/docs/a%20b/r%C3%A9sum%C3%A9.pdf?x=1%2B2&y=&z"
    vectors.append(url_vector("botocore-canned-sha1-encoded", "botocore",
        s.generate_presigned_url(url, date_less_than=ts(EXPIRES)), "rsa2048", KEY_ID, "SHA1",
        url=url, expires=EXPIRES))

    # botocore, custom policy: wildcard resource, start time and an IP range.
    url = BASE + "/private/videos/intro.mp4"
    policy = s.build_policy(BASE + "/private/*", ts(EXPIRES), date_greater_than=ts(START),
                            ip_address="192.0.2.0/24")
    vectors.append(url_vector("botocore-custom-sha1", "botocore",
        s.generate_presigned_url(url, policy=policy), "rsa2048", KEY_ID, "SHA1",
        url=url, policy=policy, expires=EXPIRES, starts=START, ip="192.0.2.0/24"))

    # RSA-SHA256: botocore signer with a SHA-256 callable plus the Hash-Algorithm parameter.
    s256 = CloudFrontSigner(KEY_ID, rsa_signer(rsa_key, hashes.SHA256()))
    url = BASE + "/private/cat.jpg"
    vectors.append(url_vector("botocore-canned-sha256", "botocore+Hash-Algorithm",
        s256.generate_presigned_url(url, date_less_than=ts(EXPIRES)) + "&Hash-Algorithm=SHA256",
        "rsa2048", KEY_ID, "SHA256", url=url, expires=EXPIRES))
    policy = s256.build_policy(BASE + "/private/*", ts(EXPIRES))
    url = BASE + "/private/dog.png?v=2"
    vectors.append(url_vector("botocore-custom-sha256", "botocore+Hash-Algorithm",
        s256.generate_presigned_url(url, policy=policy) + "&Hash-Algorithm=SHA256",
        "rsa2048", KEY_ID, "SHA256", url=url, policy=policy, expires=EXPIRES))

    # ECDSA P-256: SHA-1 when no Hash-Algorithm is given (as the AWS SDKs sign), and SHA-256.
    se1 = CloudFrontSigner(EC_KEY_ID, ec_signer(ec_key, hashes.SHA1()))
    url = BASE + "/private/ec.txt"
    vectors.append(url_vector("botocore-canned-ecdsa-sha1", "botocore+ecdsa",
        se1.generate_presigned_url(url, date_less_than=ts(EXPIRES)), "ec-p256", EC_KEY_ID,
        "SHA1", url=url, expires=EXPIRES))
    se256 = CloudFrontSigner(EC_KEY_ID, ec_signer(ec_key, hashes.SHA256()))
    vectors.append(url_vector("botocore-canned-ecdsa-sha256", "botocore+ecdsa+Hash-Algorithm",
        se256.generate_presigned_url(url, date_less_than=ts(EXPIRES)) + "&Hash-Algorithm=SHA256",
        "ec-p256", EC_KEY_ID, "SHA256", url=url, expires=EXPIRES))

    # awscli v1 `aws cloudfront sign`: canned, and custom (IP + start time).
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    key_arg = "file://" + path("rsa2048.pem")
    url = BASE + "/private/report.pdf?download=1"
    out = subprocess.run([aws, "cloudfront", "sign", "--url", url, "--key-pair-id", KEY_ID,
                          "--private-key", key_arg, "--date-less-than", str(EXPIRES)],
                         check=True, capture_output=True, text=True).stdout
    vectors.append(url_vector("awscli-canned-sha1", "awscli", out, "rsa2048", KEY_ID, "SHA1",
                              url=url, expires=EXPIRES))
    url = BASE + "/private/report.pdf"
    out = subprocess.run([aws, "cloudfront", "sign", "--url", url, "--key-pair-id", KEY_ID,
                          "--private-key", key_arg, "--date-less-than", "2026-01-01",
                          "--date-greater-than", "2025-12-31", "--ip-address", "198.51.100.7"],
                         check=True, capture_output=True, text=True).stdout
    vectors.append(url_vector("awscli-custom-sha1", "awscli", out, "rsa2048", KEY_ID, "SHA1",
                              url=url, expires=EXPIRES, starts=START, ip="198.51.100.7/32"))

    # Signed cookies (canned and custom) from CloudFrontSigner's pieces.
    url = BASE + "/private/cat.jpg"
    canned = s.build_policy(url, ts(EXPIRES)).encode()
    vectors.append({"name": "botocore-cookies-canned-sha1", "tool": "botocore-pieces",
                    "kind": "cookies", "key": "rsa2048", "key_pair_id": KEY_ID, "hash": "SHA1",
                    "url": url, "expires": EXPIRES, "cookies": {
                        "CloudFront-Expires": str(EXPIRES),
                        "CloudFront-Signature": s._url_b64encode(s.rsa_signer(canned)).decode(),
                        "CloudFront-Key-Pair-Id": KEY_ID}})
    custom = s.build_policy(BASE + "/private/*", ts(EXPIRES), ip_address="203.0.113.0/24")
    vectors.append({"name": "botocore-cookies-custom-sha1", "tool": "botocore-pieces",
                    "kind": "cookies", "key": "rsa2048", "key_pair_id": KEY_ID, "hash": "SHA1",
                    "url": BASE + "/private/deep/file.bin?part=1", "policy": custom,
                    "expires": EXPIRES, "ip": "203.0.113.0/24", "cookies": {
                        "CloudFront-Policy": s._url_b64encode(custom.encode()).decode(),
                        "CloudFront-Signature": s._url_b64encode(
                            s.rsa_signer(custom.encode())).decode(),
                        "CloudFront-Key-Pair-Id": KEY_ID}})

    doc = {"generated_by": {"botocore": botocore.__version__, "awscli": awscli.__version__},
           "vectors": vectors}
    with open(path("vectors.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
