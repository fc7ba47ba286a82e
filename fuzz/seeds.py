#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*: AWS's SigV4 test-suite requests,
SigV2 and presigned forms, aws-chunked bodies, the policy engine's test policies, the envelope and KMS golden
files, S3 XML bodies and POST policies. The fuzzer grows the corpora from these; `./scripts/fuzz` runs it."""

import base64
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"
SUITE = ROOT.parent / "shared" / "testdata" / "aws-signing-test-suite" / "v4"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def sigv4_request():
    n = 0
    if SUITE.is_dir():
        for case in sorted(SUITE.iterdir()):
            for f in ["header-signed-request.txt", "query-signed-request.txt", "request.txt"]:
                p = case / f
                if p.is_file():
                    write("sigv4_request", f"{case.name}-{f}", p.read_bytes().replace(b"\r\n", b"\n"))
                    n += 1
    extra = {
        "v2-header": "GET /b/k HTTP/1.1\nhost: b.s3.localhost\ndate: Tue, 01 Dec 2026 12:00:00 GMT\n"
                     "authorization: AWS AKIDEXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=\n\n",
        "v2-presigned": "GET /b/k?versionId=3&AWSAccessKeyId=AKIDEXAMPLE&Expires=1790003600&Signature=abc%2B%3D HTTP/1.1\n"
                        "host: 127.0.0.1\n\n",
        "v4-presigned": "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1"
                        "%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
                        "&X-Amz-Signature=00 HTTP/1.1\nhost: example\n\n",
        "two-mechanisms": "GET /b/k?Signature=x HTTP/1.1\nhost: h\nauthorization: AWS4-HMAC-SHA256 Credential=A/20150830/"
                          "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\nx-amz-date: 20150830T123600Z\n\n",
        "chunked-put": "PUT /b/k HTTP/1.1\nhost: h\nx-amz-date: 20130524T000000Z\nx-amz-content-sha256: "
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD\ncontent-encoding: aws-chunked\nauthorization: AWS4-HMAC-SHA256 "
                       "Credential=AKIDEXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;"
                       "x-amz-date, Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n\n",
    }
    for k, v in extra.items():
        write("sigv4_request", k, v)


def sigv4_chunked():
    sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    write("sigv4_chunked", "one-chunk", f"5;chunk-signature={sig}\r\nhello\r\n0;chunk-signature={sig}\r\n\r\n")
    write("sigv4_chunked", "trailer", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
    write("sigv4_chunked", "empty", "0;chunk-signature=" + sig + "\r\n\r\n")


def policy():
    tests = ROOT / "crates" / "policy" / "tests"
    n = 0
    for f in ["cases_eval.json", "cases_authorize.json", "principals.json"]:
        p = tests / f
        if not p.is_file():
            continue

        def walk(v):
            nonlocal n
            if isinstance(v, dict):
                if "Statement" in v:
                    write("policy", f"{f}-{n}", json.dumps(v))
                    n += 1
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, str) and '"Statement"' in v:
                write("policy", f"{f}-{n}", v)
                n += 1

        walk(json.loads(p.read_text()))
    write("policy", "cloudfront-oac", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"AWS:SourceArn":
        "arn:aws:cloudfront::111122223333:distribution/E1"}}}]}))
    write("policy", "identity", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:Get*", "kms:Decrypt"], "NotResource": "arn:aws:s3:::secret/*",
        "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "te*"}, "IpAddress": {"aws:SourceIp": "192.0.2.0/24"},
                      "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}]}))


def envelope():
    golden = ROOT / "crates" / "envelope" / "tests" / "golden"
    for p in sorted(golden.glob("*.bin")):
        for split in (0, 63, 255):
            write("envelope", f"{p.stem}-{split}", bytes([split]) + p.read_bytes())


def kms_ciphertext():
    p = ROOT / "crates" / "kms" / "tests" / "golden" / "v1_blob.hex"
    if p.is_file():
        write("kms_ciphertext", "v1-blob", bytes.fromhex(p.read_text().strip()))


def s3_xml():
    docs = [
        (0, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part></CompleteMultipartUpload>"),
        (1, "<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>"),
        (2, "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"),
        (3, "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<MaxAgeSeconds>30</MaxAgeSeconds></CORSRule></CORSConfiguration>"),
        (4, "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms"
            "</SSEAlgorithm><KMSMasterKeyID>alias/k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>"
            "<BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"),
        (5, "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"),
        (6, "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>"),
        (7, "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>"),
        (8, "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"),
        (9, "<AccessControlPolicy><Owner><ID>1</ID></Owner><AccessControlList><Grant><Grantee "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>1</ID></Grantee>"
            "<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"),
        (10, "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status>"
             "<Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>"),
        (11, "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"),
    ]
    for which, xml in docs:
        write("s3_xml", str(which), bytes([which]) + b'<?xml version="1.0" encoding="UTF-8"?>' + xml.encode())


def post_policy():
    write("post_policy", "form", json.dumps({"expiration": "2030-01-01T00:00:00.000Z", "conditions": [
        {"bucket": "bucket"}, ["starts-with", "$key", "user/"], {"acl": "private"},
        ["content-length-range", 1, 1048576], ["eq", "$x-amz-algorithm", "AWS4-HMAC-SHA256"]]}))
    write("post_policy", "fields", "key=user/a&acl=private&x-amz-algorithm=AWS4-HMAC-SHA256")
    write("post_policy", "b64", base64.b64encode(b'{"expiration":"2030-01-01T00:00:00Z","conditions":[]}').decode())


def s3_request():
    reqs = [
        (1, "GET /fzb/obj HTTP/1.1\n\n"),
        (0, "GET /fzb/obj HTTP/1.1\n\n"),
        (1, "GET /fzb?list-type=2&prefix=o&max-keys=2 HTTP/1.1\n\n"),
        (1, "PUT /fzb/new HTTP/1.1\ncontent-type: text/plain\nx-amz-tagging: a=b\n\nhello"),
        (3 | (4 << 2), "PUT /fzb/chunked HTTP/1.1\n\n" + "c" * 200),
        (2, "PUT /fzb/obj?tagging HTTP/1.1\n\n<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"),
        (1, "POST /fzb?delete HTTP/1.1\n\n<Delete><Object><Key>gone</Key></Object></Delete>"),
        (1, "PUT /fzb?policy HTTP/1.1\n\n{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\","
            "\"Action\":\"s3:DeleteBucket\",\"Resource\":\"arn:aws:s3:::fzb\"}]}"),
        (1, "PUT /fzb/copy HTTP/1.1\nx-amz-copy-source: /fzb/obj\n\n"),
        (1, "POST /fzb/mp?uploads HTTP/1.1\n\n"),
        (1, "GET /fzb/obj HTTP/1.1\nrange: bytes=2-5\nif-none-match: \"x\"\n\n"),
        (1, "DELETE /fzb?metadataConfiguration HTTP/1.1\n\n"),
        (0, "POST /fzb HTTP/1.1\ncontent-type: multipart/form-data; boundary=b\n\n--b\r\nContent-Disposition: form-data; "
            "name=\"key\"\r\n\r\nanon\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n"
            "data\r\n--b--\r\n"),
        (1, "PUT /fzb?cors HTTP/1.1\n\n<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
            "</AllowedMethod></CORSRule></CORSConfiguration>"),
        (0, "OPTIONS /fzb/obj HTTP/1.1\norigin: https://a.example\naccess-control-request-method: GET\n\n"),
    ]
    for i, (mode, text) in enumerate(reqs):
        write("s3_request", str(i), bytes([mode]) + text.encode())


NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"


def path():
    for i, p in enumerate(["/", "/private/secret.txt", "/%70rivate/a", "/a/../b/./c", "//x//y/", "/%2e%2e/x", "/a%2Fb",
                           "/%zz", "/\\x", "/%5C", "/%2570", "/caf%C3%A9", "/%C3", "/a?b", "/" + "x" * 100]):
        write("path", str(i), p)


def edge_conditional():
    cases = [
        '10\n"e1"\nSun, 06 Nov 1994 08:49:37 GMT\n"e1"\n\n\n\n\nbytes=2-4',
        '10\n"e1"\nSun, 06 Nov 1994 08:49:37 GMT\n\n"x", W/"e1"\n\n\n\n',
        '10\n"e1"\nSun, 06 Nov 1994 08:49:37 GMT\n\n\nSun, 06 Nov 1994 08:49:37 GMT\n\n"e1"\nbytes=-3',
        '0\n\n\n\n\n\n\n\nbytes=0-',
        '18446744073709551615\n"e"\n\n*\n\n\nMon, 07 Nov 1994 08:49:37 GMT\n"e"\nbytes=18446744073709551614-',
    ]
    for i, c in enumerate(cases):
        write("edge_conditional", str(i), c)


def edge_request():
    cases = [
        "a=1&b=%20&versionId=3\nGET /x HTTP/1.1\nhost: d1.cloudfront.localhost\n\n",
        "origin.example.com\nGET http://a.example/x HTTP/1.1\nhost: b.example\n\n",
        "0177.0.0.1\nGET /x HTTP/1.1\nhost: d1.cloudfront.localhost:8443\nhost: other\n\n",
        "[::ffff:127.0.0.1]\nGET /x HTTP/1.1\n\n",
        "2130706433\nGET / HTTP/1.1\nhost: " + "h" * 300 + "\n\n",
    ]
    for i, c in enumerate(cases):
        write("edge_request", str(i), c)


def cloudfront_xml():
    dist = (f'<DistributionConfig xmlns="{NS}"><CallerReference>r</CallerReference><Origins><Quantity>1</Quantity><Items>'
            "<Origin><Id>s3</Id><DomainName>photos.s3.us-east-1.amazonaws.com</DomainName><OriginPath>/public</OriginPath>"
            "<S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig><OriginAccessControlId>E1"
            "</OriginAccessControlId></Origin></Items></Origins><DefaultCacheBehavior><TargetOriginId>s3</TargetOriginId>"
            "<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy><CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6"
            "</CachePolicyId></DefaultCacheBehavior><CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>"
            "/api/*</PathPattern><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>https-only</ViewerProtocolPolicy>"
            "<TrustedKeyGroups><Enabled>true</Enabled><Quantity>1</Quantity><Items><KeyGroup>k</KeyGroup></Items></TrustedKeyGroups>"
            "</CacheBehavior></Items></CacheBehaviors><Aliases><Quantity>1</Quantity><Items><CNAME>files.example.com</CNAME>"
            "</Items></Aliases><DefaultRootObject>index.html</DefaultRootObject><Comment>c &amp; d</Comment>"
            "<Enabled>true</Enabled></DistributionConfig>")
    policy = (f'<CachePolicyConfig xmlns="{NS}"><Name>p</Name><DefaultTTL>60</DefaultTTL><MaxTTL>600</MaxTTL><MinTTL>0</MinTTL>'
              "<ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>"
              "<HeadersConfig><HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>Origin"
              "</Name></Items></Headers></HeadersConfig><CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>"
              "<QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig>"
              "</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>")
    write("cloudfront_xml", "distribution", dist)
    write("cloudfront_xml", "cache-policy", policy)
    write("cloudfront_xml", "nested", "<DistributionConfig>" + "<a>" * 500 + "</a>" * 500 + "</DistributionConfig>")


def cloudfront_signed():
    pol = '{"Statement":[{"Resource":"https://d.example/*","Condition":{"DateLessThan":{"AWS:EpochTime":1900000000},' \
          '"DateGreaterThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}'
    write("cloudfront_signed", "policy", pol)
    write("cloudfront_signed", "canned", "Expires=1900000000&Signature=abc~&Key-Pair-Id=K1&x=1\n")
    write("cloudfront_signed", "custom", "Policy=eyJTdGF0ZW1lbnQiOltdfQ__&Signature=a-b&Key-Pair-Id=K2\n")
    write("cloudfront_signed", "cookies", "\nCloudFront-Policy=eyJ9; CloudFront-Signature=x; CloudFront-Key-Pair-Id=K")


if __name__ == "__main__":
    for f in [sigv4_request, sigv4_chunked, policy, envelope, kms_ciphertext, s3_xml, post_policy, s3_request, path,
              edge_conditional, edge_request, cloudfront_xml, cloudfront_signed]:
        f()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} inputs")
