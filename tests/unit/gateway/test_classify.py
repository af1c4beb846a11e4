"""classify() against requests that botocore itself builds, signs and would send."""

from __future__ import annotations

import gzip
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.loaders import create_loader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from gameday.gateway import _models
from gameday.gateway.classify import Protocol, RequestInfo, classify, needs_body, warm
from tests.unit.gateway._botocore import Captured, capture, client, serialize

ROLE = "arn:aws:iam::123456789012:role/app"
RECORD = {
    "Action": "UPSERT",
    "ResourceRecordSet": {
        "Name": "a.example.com",
        "Type": "A",
        "TTL": 60,
        "ResourceRecords": [{"Value": "192.0.2.1"}],
    },
}
METRIC = {"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": 1.0}]}

Q, EC2, JSON, RJ, RX, CBOR = (
    Protocol.QUERY,
    Protocol.EC2,
    Protocol.JSON,
    Protocol.REST_JSON,
    Protocol.REST_XML,
    Protocol.RPC_V2_CBOR,
)

# (service, client method, params, client args) -> (service, region, operation, protocol)
SIGNED: list[tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, str, str, Protocol]]] = [
    ("sts", "get_caller_identity", {}, {}, ("sts", "us-east-1", "GetCallerIdentity", Q)),
    (
        "sts",
        "assume_role",
        {"RoleArn": ROLE, "RoleSessionName": "drill"},
        {"region": "eu-west-1"},
        ("sts", "eu-west-1", "AssumeRole", Q),
    ),
    ("iam", "list_roles", {}, {}, ("iam", "us-east-1", "ListRoles", Q)),
    (
        "ec2",
        "describe_instances",
        {},
        {"region": "eu-west-1"},
        ("ec2", "eu-west-1", "DescribeInstances", EC2),
    ),
    (
        "logs",
        "put_log_events",
        {
            "logGroupName": "g",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        {"region": "ap-southeast-2"},
        ("logs", "ap-southeast-2", "PutLogEvents", JSON),
    ),
    ("logs", "describe_log_groups", {}, {}, ("logs", "us-east-1", "DescribeLogGroups", JSON)),
    ("ecr", "describe_repositories", {}, {}, ("ecr", "us-east-1", "DescribeRepositories", JSON)),
    ("ecr", "get_authorization_token", {}, {}, ("ecr", "us-east-1", "GetAuthorizationToken", JSON)),
    (
        "ecr-public",
        "describe_repositories",
        {},
        {},
        ("ecr-public", "us-east-1", "DescribeRepositories", JSON),
    ),
    (
        "dynamodb",
        "put_item",
        {"TableName": "t", "Item": {"k": {"S": "v"}}},
        {},
        ("dynamodb", "us-east-1", "PutItem", JSON),
    ),
    ("lambda", "invoke", {"FunctionName": "f"}, {}, ("lambda", "us-east-1", "Invoke", RJ)),
    ("lambda", "list_functions", {}, {}, ("lambda", "us-east-1", "ListFunctions", RJ)),
    ("fis", "list_experiments", {}, {}, ("fis", "us-east-1", "ListExperiments", RJ)),
    (
        "identitystore",
        "list_users",
        {"IdentityStoreId": "d-1234567890"},
        {},
        ("identitystore", "us-east-1", "ListUsers", JSON),
    ),
    ("sso-admin", "list_instances", {}, {}, ("sso-admin", "us-east-1", "ListInstances", JSON)),
    (
        "s3",
        "put_object",
        {"Bucket": "b", "Key": "dir/a b+c.txt", "Body": b"x"},
        {},
        ("s3", "us-east-1", "PutObject", RX),
    ),
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}, {}, ("s3", "us-east-1", "GetObject", RX)),
    ("s3", "head_object", {"Bucket": "b", "Key": "k"}, {}, ("s3", "us-east-1", "HeadObject", RX)),
    ("s3", "head_bucket", {"Bucket": "b"}, {}, ("s3", "us-east-1", "HeadBucket", RX)),
    ("s3", "list_objects_v2", {"Bucket": "b"}, {}, ("s3", "us-east-1", "ListObjectsV2", RX)),
    ("s3", "list_objects", {"Bucket": "b"}, {}, ("s3", "us-east-1", "ListObjects", RX)),
    ("s3", "list_buckets", {}, {}, ("s3", "us-east-1", "ListBuckets", RX)),
    (
        "s3",
        "create_multipart_upload",
        {"Bucket": "b", "Key": "k"},
        {},
        ("s3", "us-east-1", "CreateMultipartUpload", RX),
    ),
    (
        "s3",
        "upload_part",
        {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "Body": b"x"},
        {},
        ("s3", "us-east-1", "UploadPart", RX),
    ),
    (
        "s3",
        "upload_part_copy",
        {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "CopySource": "b/o"},
        {},
        ("s3", "us-east-1", "UploadPartCopy", RX),
    ),
    (
        "s3",
        "copy_object",
        {"Bucket": "b", "Key": "k", "CopySource": "b/o"},
        {},
        ("s3", "us-east-1", "CopyObject", RX),
    ),
    (
        "s3",
        "list_parts",
        {"Bucket": "b", "Key": "k", "UploadId": "u"},
        {},
        ("s3", "us-east-1", "ListParts", RX),
    ),
    (
        "s3",
        "abort_multipart_upload",
        {"Bucket": "b", "Key": "k", "UploadId": "u"},
        {},
        ("s3", "us-east-1", "AbortMultipartUpload", RX),
    ),
    (
        "s3",
        "delete_object",
        {"Bucket": "b", "Key": "k"},
        {},
        ("s3", "us-east-1", "DeleteObject", RX),
    ),
    (
        "s3",
        "put_bucket_tagging",
        {"Bucket": "b", "Tagging": {"TagSet": []}},
        {},
        ("s3", "us-east-1", "PutBucketTagging", RX),
    ),
    (
        "s3",
        "get_object_tagging",
        {"Bucket": "b", "Key": "k"},
        {},
        ("s3", "us-east-1", "GetObjectTagging", RX),
    ),
    (
        "s3",
        "list_objects_v2",
        {"Bucket": "my.bucket"},
        {"endpoint": "http://localhost:4566", "addressing": "virtual"},
        ("s3", "us-east-1", "ListObjectsV2", RX),
    ),
    (
        "s3",
        "get_object",
        {"Bucket": "bucket", "Key": "a/b"},
        {"endpoint": "http://s3.localhost.localstack.cloud:4566", "addressing": "virtual"},
        ("s3", "us-east-1", "GetObject", RX),
    ),
    (
        "s3",
        "list_objects_v2",
        {"Bucket": "bucket"},
        {"endpoint": "http://s3.localhost.localstack.cloud:4566", "addressing": "path"},
        ("s3", "us-east-1", "ListObjectsV2", RX),
    ),
    (
        "s3",
        "list_buckets",
        {},
        {"endpoint": "http://s3.localhost.localstack.cloud:4566", "addressing": "virtual"},
        ("s3", "us-east-1", "ListBuckets", RX),
    ),
    (
        "s3control",
        "get_public_access_block",
        {"AccountId": "123456789012"},
        {},
        ("s3control", "us-east-1", "GetPublicAccessBlock", RX),
    ),
    (
        "route53",
        "change_resource_record_sets",
        {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [RECORD]}},
        {},
        ("route53", "us-east-1", "ChangeResourceRecordSets", RX),
    ),
    (
        "cloudfront",
        "list_distributions",
        {},
        {},
        ("cloudfront", "us-east-1", "ListDistributions", RX),
    ),
    (
        "organizations",
        "list_accounts",
        {},
        {},
        ("organizations", "us-east-1", "ListAccounts", JSON),
    ),
    (
        "cloudwatch",
        "put_metric_data",
        METRIC,
        {"region": "eu-central-1"},
        ("cloudwatch", "eu-central-1", "PutMetricData", JSON),
    ),
    (
        "kinesis",
        "put_record",
        {"StreamName": "s", "Data": b"x", "PartitionKey": "p"},
        {},
        ("kinesis", "us-east-1", "PutRecord", JSON),
    ),
    (
        "firehose",
        "put_record",
        {"DeliveryStreamName": "s", "Record": {"Data": b"x"}},
        {},
        ("firehose", "us-east-1", "PutRecord", JSON),
    ),
    ("cloudtrail", "lookup_events", {}, {}, ("cloudtrail", "us-east-1", "LookupEvents", JSON)),
    (
        "elbv2",
        "describe_load_balancers",
        {},
        {},
        ("elbv2", "us-east-1", "DescribeLoadBalancers", Q),
    ),
    ("elb", "describe_load_balancers", {}, {}, ("elb", "us-east-1", "DescribeLoadBalancers", Q)),
    (
        "eventbridgev2",
        "list_tags_for_resource",
        {"ResourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"},
        {},
        ("eventbridgev2", "us-east-1", "ListTagsForResource", CBOR),
    ),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0]}-{case[1]}" + ("-" + "-".join(map(str, case[3].values())) if case[3] else "")


@pytest.mark.parametrize("case", SIGNED, ids=[_id(c) for c in SIGNED])
def test_signed_botocore_requests(
    case: tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, str, str, Protocol]],
) -> None:
    service, method, params, client_args, expected = case
    request = capture(service, method, params, **client_args)
    info = request.classify()
    assert (info.service, info.region, info.operation, info.protocol) == expected
    assert info.signing_name == client(service).meta.service_model.signing_name
    assert info.classified


@pytest.mark.parametrize(
    ("service", "method", "params", "client_args", "expected"),
    [
        pytest.param(
            "sts",
            "assume_role_with_web_identity",
            {"RoleArn": ROLE, "RoleSessionName": "drill", "WebIdentityToken": "jwt-token"},
            {},
            ("sts", None, "AssumeRoleWithWebIdentity", Q),
            id="sts-web-identity",
        ),
        pytest.param(
            "sts",
            "assume_role_with_saml",
            {"RoleArn": ROLE, "PrincipalArn": ROLE, "SAMLAssertion": "x" * 8},
            {"endpoint": "https://sts.eu-west-2.amazonaws.com"},
            ("sts", "eu-west-2", "AssumeRoleWithSAML", Q),
            id="sts-saml-regional-host",
        ),
        pytest.param(
            "sts",
            "assume_role_with_web_identity",
            {"RoleArn": ROLE, "RoleSessionName": "drill", "WebIdentityToken": "jwt-token"},
            {"endpoint": "https://sts.amazonaws.com"},
            ("sts", "us-east-1", "AssumeRoleWithWebIdentity", Q),
            id="sts-global-host",
        ),
        pytest.param(
            "sso",
            "get_role_credentials",
            {"roleName": "r", "accountId": "123456789012", "accessToken": "bearer"},
            {},
            ("sso", None, "GetRoleCredentials", RJ),
            id="sso-portal",
        ),
        pytest.param(
            "sso",
            "list_account_roles",
            {"accountId": "123456789012", "accessToken": "bearer"},
            {"endpoint": "https://portal.sso.eu-central-1.amazonaws.com"},
            ("sso", "eu-central-1", "ListAccountRoles", RJ),
            id="sso-portal-regional-host",
        ),
        pytest.param(
            "sso",
            "list_accounts",
            {"accessToken": "bearer"},
            {},
            ("sso", None, "ListAccounts", RJ),
            id="sso-list-accounts",
        ),
        pytest.param(
            "sso",
            "logout",
            {"accessToken": "bearer"},
            {},
            ("sso", None, "Logout", RJ),
            id="sso-out",
        ),
        pytest.param(
            "sso-oidc",
            "create_token",
            {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token"},
            {},
            ("sso-oidc", None, "CreateToken", RJ),
            id="sso-oidc-create-token",
        ),
        pytest.param(
            "cognito-identity",
            "get_id",
            {"IdentityPoolId": "us-east-1:0000"},
            {},
            ("cognito-identity", None, "GetId", JSON),
            id="cognito-identity-get-id",
        ),
    ],
)
def test_unsigned_botocore_requests(
    service: str,
    method: str,
    params: dict[str, Any],
    client_args: dict[str, Any],
    expected: tuple[str, str | None, str, Protocol],
) -> None:
    request = capture(service, method, params, **client_args)
    assert "Authorization" not in request.headers  # botocore sends these unsigned
    info = request.classify()
    assert (info.service, info.region, info.operation, info.protocol) == expected
    assert info.signing_name is None
    assert info.names == {service}


def test_the_sso_portal_is_classified_by_its_bearer_token_path() -> None:
    request = capture(
        "sso",
        "get_role_credentials",
        {"roleName": "r", "accountId": "123456789012", "accessToken": "bearer"},
    )
    assert request.path == "/federation/credentials"
    assert request.headers["x-amz-sso_bearer_token"] == "bearer"
    assert request.classify().service == "sso"


@pytest.mark.parametrize(
    ("protocol", "expected", "query_mode"),
    [("smithy-rpc-v2-cbor", CBOR, True), ("json", JSON, True), ("query", Q, False)],
)
def test_cloudwatch_in_each_protocol_it_lists(
    protocol: str, expected: Protocol, query_mode: bool
) -> None:
    # The installed botocore picks json for CloudWatch; other SDKs send cbor or query.
    request = serialize("cloudwatch", "PutMetricData", METRIC, protocol, region="eu-west-1")
    info = request.classify()
    assert (info.service, info.region, info.operation, info.protocol) == (
        "cloudwatch",
        "eu-west-1",
        "PutMetricData",
        expected,
    )
    assert info.query_mode is query_mode
    assert info.signing_name == "monitoring"
    assert info.names == {"cloudwatch", "monitoring"}


def test_botocore_sends_cloudwatch_as_query_compatible_json() -> None:
    info = capture("cloudwatch", "put_metric_data", METRIC).classify()
    assert (info.protocol, info.json_version, info.query_mode) == (JSON, "1.0", True)


def test_json_version_follows_the_content_type() -> None:
    assert capture("dynamodb", "list_tables").classify().json_version == "1.0"
    assert capture("logs", "describe_log_groups").classify().json_version == "1.1"


def test_names_keep_the_sso_portal_apart_from_sso_admin() -> None:
    # sso-admin is signed as "sso", which is the SSO portal's model name.
    admin = capture("sso-admin", "list_instances").classify()
    assert (admin.service, admin.signing_name, admin.names) == ("sso-admin", "sso", {"sso-admin"})
    control = capture("s3control", "list_access_points", {"AccountId": "123456789012"}).classify()
    assert (control.signing_name, control.names) == ("s3", {"s3control"})
    states = capture("stepfunctions", "list_state_machines").classify()
    assert states.names == {"stepfunctions", "states"}


def _presigned(url: str) -> RequestInfo:
    parts = urlsplit(url)
    return classify("GET", parts.path, parts.query, {"Host": parts.netloc})


def test_presigned_s3_urls() -> None:
    v4 = client("s3", "eu-west-1", signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k/x y"})
    assert "X-Amz-Credential=" in url
    info = _presigned(url)
    assert (info.service, info.region, info.operation, info.signing_name) == (
        "s3",
        "eu-west-1",
        "GetObject",
        "s3",
    )
    # botocore's default S3 presigning is SigV2 (AWSAccessKeyId/Signature): no region in it.
    url = client("s3", "eu-west-1").generate_presigned_url(
        "put_object", Params={"Bucket": "b", "Key": "k"}
    )
    assert "AWSAccessKeyId=" in url
    parts = urlsplit(url)
    info = classify("PUT", parts.path, parts.query, {"Host": parts.netloc})
    assert (info.service, info.region, info.operation, info.signing_name) == (
        "s3",
        None,
        "PutObject",
        None,
    )


def test_presigned_sts_get_caller_identity_by_get() -> None:
    # aws-iam-authenticator (EKS) sends a presigned GET with Action in the query string.
    sts = client("sts", "us-west-2")
    url = sts.generate_presigned_url("get_caller_identity", Params={})
    info = _presigned(url)
    assert (info.service, info.region, info.operation, info.protocol) == (
        "sts",
        "us-west-2",
        "GetCallerIdentity",
        Q,
    )


def _with(request: Captured, **headers: str) -> Captured:
    merged = {k: v for k, v in request.headers.items() if k.lower() not in headers}
    merged.update(headers)
    return Captured(request.method, request.path, request.query, merged, request.body)


def test_sigv4a_takes_the_region_from_the_region_set() -> None:
    request = capture("s3", "get_object", {"Bucket": "b", "Key": "k"})
    credential = "AKIDEXAMPLE/20260101/s3/aws4_request"
    sigv4a = f"AWS4-ECDSA-P256-SHA256 Credential={credential}, SignedHeaders=host, Signature=ab"
    one = _with(request, authorization=sigv4a, **{"x-amz-region-set": "eu-west-3"})
    info = one.classify()
    assert (info.service, info.region, info.operation, info.signing_name) == (
        "s3",
        "eu-west-3",
        "GetObject",
        "s3",
    )
    for region_set in ("*", "us-east-1,us-west-2", ""):
        anywhere = _with(request, authorization=sigv4a, **{"x-amz-region-set": region_set})
        assert anywhere.classify().region is None


def test_s3express_and_object_lambda_signing_names_are_s3() -> None:
    request = capture("s3", "get_object", {"Bucket": "b", "Key": "k"})
    for signing_name in ("s3express", "s3-object-lambda"):
        auth = (
            f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{signing_name}/"
            "aws4_request, SignedHeaders=host, Signature=ab"
        )
        info = _with(request, authorization=auth).classify()
        assert (info.service, info.operation, info.signing_name) == (
            "s3",
            "GetObject",
            signing_name,
        )
        assert info.names == {"s3", signing_name}


def test_headers_are_case_insensitive_in_any_mapping() -> None:
    request = capture("logs", "describe_log_groups")
    expected = request.classify()
    upper = {k.upper(): v for k, v in request.headers.items()}
    assert classify(request.method, request.path, request.query, upper) == expected
    proxy = CIMultiDictProxy(CIMultiDict(request.headers))
    assert classify(request.method, request.path, request.query, proxy) == expected


def test_query_calls_read_action_from_the_form_body_only_when_given() -> None:
    request = capture("sts", "get_caller_identity")
    assert needs_body(request.method, request.headers)
    info = classify(request.method, request.path, request.query, request.headers)
    assert (info.service, info.operation, info.classified) == ("sts", None, False)


def test_needs_body_only_for_form_posts() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert needs_body("POST", form)
    assert needs_body("post", {"content-type": "Application/X-WWW-Form-Urlencoded"})
    assert not needs_body("GET", form)
    assert not needs_body("POST", {"Content-Type": "application/x-amz-json-1.1"})
    assert not needs_body("PUT", {})
    for service, method, params in [
        ("logs", "describe_log_groups", {}),
        ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
        ("lambda", "invoke", {"FunctionName": "f"}),
    ]:
        request = capture(service, method, params)
        assert not needs_body(request.method, request.headers)


def test_unknown_operations_keep_what_is_known() -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/logs/aws4_request, "
        "SignedHeaders=host, Signature=ab"
    )
    info = classify("POST", "/", "", {"Authorization": auth, "Content-Type": "application/json"})
    assert (info.service, info.region, info.operation, info.classified) == (
        "logs",
        "eu-west-1",
        None,
        False,
    )
    assert info.signing_name == "logs"
    s3 = auth.replace("/logs/", "/s3/")
    info = classify("PATCH", "/b/k", "", {"Authorization": s3})
    assert (info.service, info.operation, info.protocol) == ("s3", None, RX)
    unknown = auth.replace("/logs/", "/no-such-service/")
    info = classify("POST", "/", "", {"Authorization": unknown})
    assert (info.service, info.region, info.signing_name) == (None, "eu-west-1", "no-such-service")
    assert info.names == {"no-such-service"}


def test_nothing_aws_about_it() -> None:
    assert classify("GET", "/", "", {}) == RequestInfo(None, None, None, None)
    assert classify("GET", "/index.html", "a=b", {"Host": "example.com"}).classified is False
    garbage = classify("POST", "/", "", {"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert (garbage.service, garbage.region) == (None, None)


def test_unsigned_services_match_the_installed_botocore() -> None:
    # Every model with an operation sent without a signature must be in UNSIGNED_SERVICES.
    loader = create_loader()
    marker = re.compile(rb'"authtype"\s*:\s*"none"|smithy\.api#noAuth')
    found = set()
    for name in loader.list_available_services("service-2"):
        path = _models._model_file(name)
        assert path is not None
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as stream:
            if marker.search(stream.read()):
                found.add(name)
    assert found == set(_models.UNSIGNED_SERVICES)


def test_signing_name_aliases_match_the_s3_endpoint_rules() -> None:
    loader = create_loader()
    index = _models.service_index()
    for name in ("s3", "s3control"):
        rules = repr(loader.load_service_model(name, "endpoint-rule-set-1"))
        for signing_name in set(re.findall(r"'signingName': '([^'{]+)'", rules)):
            candidates = {m.name for m in index.by_signing_name.get(signing_name, ())}
            assert name in candidates, (name, signing_name)


def test_x_id_names_the_s3_operation_for_sdks_that_send_it() -> None:
    # JS v3, Go v2 and Java v2 add x-id to S3 requests; botocore's model no longer has it.
    request = capture("s3", "get_object", {"Bucket": "b", "Key": "k"})
    auth = {"Authorization": request.headers["Authorization"]}
    for method, query, operation in [
        ("GET", "x-id=GetObject", "GetObject"),
        ("PUT", "x-id=PutObject", "PutObject"),
        ("GET", "uploadId=u&x-id=ListParts", "ListParts"),
        ("PUT", "partNumber=1&uploadId=u&x-id=UploadPart", "UploadPart"),
    ]:
        assert classify(method, "/b/k", query, auth).operation == operation


def test_request_data_does_not_grow_the_caches() -> None:
    request = capture("s3", "get_object", {"Bucket": "b", "Key": "k"})
    request.classify()
    before = _models._signing_routes.cache_info().currsize
    for n in range(50):
        auth = (
            f"AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/made-up-{n}/aws4_request, "
            "SignedHeaders=host, Signature=ab"
        )
        assert classify("GET", "/b/k", "", {"Authorization": auth}).service is None
    assert _models._signing_routes.cache_info().currsize == before


def test_warm_builds_the_indexes() -> None:
    warm(["s3", "lambda"])
    assert _models._signing_routes.cache_info().currsize >= 2


_HEADER_NAMES = st.sampled_from(
    [
        "Authorization",
        "authorization",
        "X-Amz-Target",
        "Content-Type",
        "smithy-protocol",
        "Host",
        "X-Amz-Region-Set",
        "x-amzn-query-mode",
        "x-amz-copy-source",
        "x-amz-sso_bearer_token",
    ]
)
_HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/s3/aws4_request, Signature=x",
            "AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/sts/aws4_request",
            "AWS4-HMAC-SHA256 Credential=/////aws4_request",
            "AWS4-ECDSA-P256-SHA256 Credential=A/20260101/s3/aws4_request",
            "AWS A:b",
            "Logs_20140328.PutLogEvents",
            "GraniteServiceVersion20100801.",
            ".",
            "application/x-amz-json-1.1",
            "application/x-www-form-urlencoded",
            "application/cbor",
            "rpc-v2-cbor",
            "b.s3.localhost:4566",
            "[::1]:80",
            "portal.sso.us-east-1.amazonaws.com",
            "true",
        ]
    ),
)
_PATHS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "/",
            "//",
            "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            "/service//operation/",
            "/b/k",
            "/2015-03-31/functions/f/invocations",
            "/federation/credentials",
            "/v20180820/mrap/instances/a/b/routes",
        ]
    ),
)
_QUERIES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "Action=GetCallerIdentity",
            "Action=",
            "X-Amz-Credential=A%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Credential=&X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256",
            "AWSAccessKeyId=A&Signature=s",
            "uploads&x-id=CreateMultipartUpload",
            "%%&=&&==",
        ]
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.one_of(st.sampled_from(["GET", "PUT", "POST", "HEAD", "DELETE"]), st.text()),
    path=_PATHS,
    query=_QUERIES,
    headers=st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=6),
    body=st.one_of(st.none(), st.binary(max_size=60), st.just(b"Action=AssumeRoleWithSAML")),
)
def test_classify_never_raises(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
) -> None:
    info = classify(method, path, query, headers, body)
    assert isinstance(info, RequestInfo)
    assert info.protocol is None or isinstance(info.protocol, Protocol)
    assert isinstance(info.names, frozenset)
    needs_body(method, headers)
