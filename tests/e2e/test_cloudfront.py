"""CloudFront control plane and ACM certificates with the real aws CLI and boto3: tutorial 000's steps (an OAC,
a distribution with redirect-to-https, CachingOptimized and an S3 origin using the OAC), ETags and If-Match,
invalidations, cache policies, public keys and key groups, and imported certificates."""

import json
import subprocess

import botocore.exceptions
import pytest

from conftest import unique

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def distribution_config(ref, oac_id, bucket, **extra):
    config = {
        "CallerReference": ref,
        "Comment": "tutorial 000",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3origin",
                    "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": True,
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
        },
    }
    config.update(extra)
    return config


def make_cert(tmp_path, name):
    """A self-signed certificate and its key, made with the openssl CLI."""
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "30", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )
    return cert, key


def make_ca_signed_cert(tmp_path, name):
    """A CA (as an operator would name in `[edge] alias_ca_file`) and a certificate for `name` it signed, with the
    openssl CLI: (CA certificate, certificate, key)."""
    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.pem"
    key, csr, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.csr", tmp_path / f"{name}.pem"
    ext = tmp_path / f"{name}.ext"
    ext.write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run = lambda *args: subprocess.run(list(args), check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "30", "-subj", "/CN=coffer test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "30", "-extfile", str(ext))
    return ca, cert, key


def test_tutorial_000_control_plane_with_the_cli(server, tmp_path):
    rc, oac, _ = server.aws(
        "cloudfront", "create-origin-access-control", "--origin-access-control-config",
        json.dumps({"Name": unique("oac"), "SigningProtocol": "sigv4", "SigningBehavior": "always",
                    "OriginAccessControlOriginType": "s3"}),
    )
    oac_id = oac["OriginAccessControl"]["Id"]
    assert oac_id.startswith("E") and len(oac_id) == 14 and oac["ETag"]

    cfg = tmp_path / "dist.json"
    cfg.write_text(json.dumps(distribution_config(unique("ref"), oac_id, unique("bucket"))))
    _, created, _ = server.aws("cloudfront", "create-distribution", "--distribution-config", f"file://{cfg}")
    dist = created["Distribution"]
    dist_id = dist["Id"]
    assert created["Location"].endswith(f"/distribution/{dist_id}")
    assert dist["DomainName"] == f"{dist_id.lower()}.cloudfront.localhost"
    assert dist["ARN"].endswith(f":distribution/{dist_id}")
    behavior = dist["DistributionConfig"]["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["CachePolicyId"] == CACHING_OPTIMIZED
    assert dist["DistributionConfig"]["Origins"]["Items"][0]["OriginAccessControlId"] == oac_id

    # Idempotent on CallerReference.
    _, again, _ = server.aws("cloudfront", "create-distribution", "--distribution-config", f"file://{cfg}")
    assert again["Distribution"]["Id"] == dist_id

    _, got, _ = server.aws("cloudfront", "get-distribution-config", "--id", dist_id)
    etag, config = got["ETag"], got["DistributionConfig"]
    config["Comment"] = "changed"
    cfg.write_text(json.dumps(config))
    rc, _, err = server.aws("cloudfront", "update-distribution", "--id", dist_id, "--if-match", "EWRONG",
                            "--distribution-config", f"file://{cfg}", check=False)
    assert rc != 0 and "PreconditionFailed" in err
    _, updated, _ = server.aws("cloudfront", "update-distribution", "--id", dist_id, "--if-match", etag,
                               "--distribution-config", f"file://{cfg}")
    assert updated["Distribution"]["DistributionConfig"]["Comment"] == "changed"
    assert updated["ETag"] != etag

    _, inv, _ = server.aws("cloudfront", "create-invalidation", "--distribution-id", dist_id, "--paths", "/*")
    assert inv["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    _, listed, _ = server.aws("cloudfront", "list-invalidations", "--distribution-id", dist_id)
    assert listed["InvalidationList"]["Items"][0]["Id"] == inv["Invalidation"]["Id"]

    _, dists, _ = server.aws("cloudfront", "list-distributions")
    assert dist_id in [d["Id"] for d in dists["DistributionList"]["Items"]]

    # The OAC is in use; the enabled distribution cannot be deleted.
    rc, _, err = server.aws("cloudfront", "delete-origin-access-control", "--id", oac_id, "--if-match", oac["ETag"],
                            check=False)
    assert rc != 0 and "OriginAccessControlInUse" in err
    etag = updated["ETag"]
    rc, _, err = server.aws("cloudfront", "delete-distribution", "--id", dist_id, "--if-match", etag, check=False)
    assert rc != 0 and "DistributionNotDisabled" in err

    config["Enabled"] = False
    cfg.write_text(json.dumps(config))
    _, disabled, _ = server.aws("cloudfront", "update-distribution", "--id", dist_id, "--if-match", etag,
                                "--distribution-config", f"file://{cfg}")
    server.aws("cloudfront", "delete-distribution", "--id", dist_id, "--if-match", disabled["ETag"])
    rc, _, err = server.aws("cloudfront", "get-distribution", "--id", dist_id, check=False)
    assert rc != 0 and "NoSuchDistribution" in err
    server.aws("cloudfront", "delete-origin-access-control", "--id", oac_id, "--if-match", oac["ETag"])


def test_cache_policies_keys_and_groups_with_boto3(server, tmp_path):
    cf = server.client("cloudfront")
    managed = cf.get_cache_policy(Id=CACHING_OPTIMIZED)["CachePolicy"]["CachePolicyConfig"]
    assert (managed["MinTTL"], managed["DefaultTTL"], managed["MaxTTL"]) == (1, 86400, 31536000)
    name = unique("policy")
    created = cf.create_cache_policy(CachePolicyConfig={
        "Name": name, "MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 600,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": True,
            "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "whitelist",
                                   "QueryStrings": {"Quantity": 1, "Items": ["v"]}},
        },
    })
    pid = created["CachePolicy"]["Id"]
    custom = cf.list_cache_policies(Type="custom")["CachePolicyList"]["Items"]
    assert pid in [p["CachePolicy"]["Id"] for p in custom]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cf.delete_cache_policy(Id=CACHING_OPTIMIZED, IfMatch="x")
    assert e.value.response["Error"]["Code"] == "IllegalDelete"
    cf.delete_cache_policy(Id=pid, IfMatch=created["ETag"])

    key, pub = tmp_path / "k.pem", tmp_path / "pub.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    pk = cf.create_public_key(PublicKeyConfig={"CallerReference": unique("r"), "Name": unique("key"),
                                               "EncodedKey": pub.read_text()})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cf.create_public_key(PublicKeyConfig={"CallerReference": unique("r"), "Name": unique("key"),
                                              "EncodedKey": "not a key"})
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    kid = pk["PublicKey"]["Id"]
    group = cf.create_key_group(KeyGroupConfig={"Name": unique("group"), "Items": [kid]})
    assert cf.get_key_group(Id=group["KeyGroup"]["Id"])["KeyGroup"]["KeyGroupConfig"]["Items"] == [kid]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cf.delete_public_key(Id=kid, IfMatch=pk["ETag"])
    assert e.value.response["Error"]["Code"] == "PublicKeyInUse"
    cf.delete_key_group(Id=group["KeyGroup"]["Id"], IfMatch=group["ETag"])
    cf.delete_public_key(Id=kid, IfMatch=pk["ETag"])


def test_acm_import_and_viewer_certificate(fresh_server, tmp_path):
    name = f"{unique('site')}.example.com"
    # An alias needs a certificate from a trusted CA: this one is trusted through `[edge] alias_ca_file`.
    ca, cert, key = make_ca_signed_cert(tmp_path, name)
    server = fresh_server(config_text=f'[edge]\nalias_ca_file = "{ca}"\n')
    _, imported, _ = server.aws("acm", "import-certificate", "--certificate", f"fileb://{cert}",
                                "--private-key", f"fileb://{key}")
    arn = imported["CertificateArn"]
    assert arn.startswith("arn:aws:acm:us-east-1:")
    _, described, _ = server.aws("acm", "describe-certificate", "--certificate-arn", arn)
    c = described["Certificate"]
    assert (c["DomainName"], c["Status"], c["Type"]) == (name, "ISSUED", "IMPORTED")
    _, got, _ = server.aws("acm", "get-certificate", "--certificate-arn", arn)
    assert "BEGIN CERTIFICATE" in got["Certificate"] and "PRIVATE KEY" not in json.dumps(got)

    other_cert, other_key = make_cert(tmp_path, "other.example.com")
    rc, _, err = server.aws("acm", "import-certificate", "--certificate", f"fileb://{cert}",
                            "--private-key", f"fileb://{other_key}", check=False)
    assert rc != 0 and "ValidationException" in err

    cf = server.client("cloudfront")
    config = distribution_config(unique("ref"), "", unique("bucket"), Aliases={"Quantity": 1, "Items": [name]},
                                 ViewerCertificate={"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only",
                                                    "MinimumProtocolVersion": "TLSv1.2_2021"})
    config["Origins"]["Items"][0].pop("OriginAccessControlId")
    dist = cf.create_distribution(DistributionConfig=config)
    acm = server.client("acm")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acm.delete_certificate(CertificateArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    assert arn in [x["CertificateArn"] for x in acm.list_certificates()["CertificateSummaryList"]]

    config["Enabled"] = False
    updated = cf.update_distribution(Id=dist["Distribution"]["Id"], IfMatch=dist["ETag"], DistributionConfig=config)
    cf.delete_distribution(Id=dist["Distribution"]["Id"], IfMatch=updated["ETag"])
    acm.delete_certificate(CertificateArn=arn)


def test_user_without_cloudfront_permission_is_denied(server):
    iam = server.client("iam")
    user = unique("cfuser")
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    cf = server.client("cloudfront", access_key=k["AccessKeyId"], secret=k["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cf.list_distributions()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
