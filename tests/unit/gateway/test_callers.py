"""Who made a call: the access key id each signing form carries (botocore's own requests), and
the ledger counting the calls of the probes' key apart from the app's."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

import pytest

from gameday.gateway.classify import RequestInfo, classify
from gameday.gateway.ledger import CallLedger
from gameday.gateway.models import Outcome
from gameday.kinds import CallClass
from tests.unit.gateway._botocore import CREDENTIALS, capture, client

PROBE = "gameday-probe"


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("sts", "get_caller_identity", {}),  # query
        ("logs", "describe_log_groups", {}),  # json
        ("dynamodb", "delete_table", {"TableName": "orders"}),  # json, destructive
        ("s3", "get_object", {"Bucket": "b", "Key": "k"}),  # rest-xml
        ("lambda", "list_functions", {}),  # rest-json
        ("ec2", "describe_instances", {}),  # ec2, form body
    ],
)
def test_a_signed_request_names_its_access_key_id(
    service: str, operation: str, params: dict[str, object]
) -> None:
    info = capture(service, operation, params).classify()
    assert info.classified
    assert info.access_key_id == CREDENTIALS.access_key


def test_presigned_urls_name_their_access_key_id_sigv4_and_sigv2() -> None:
    # boto3 adds generate_presigned_url to clients at run time: not on BaseClient's type.
    s3v4, s3v2, sts = (
        cast(Any, client("s3", signature_version="s3v4")),
        cast(Any, client("s3")),
        cast(Any, client("sts", "us-west-2")),
    )
    urls = [
        s3v4.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}),
        s3v2.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}),
        sts.generate_presigned_url("get_caller_identity", Params={}),
    ]
    assert "X-Amz-Credential=" in urls[0] and "AWSAccessKeyId=" in urls[1]
    for url in urls:
        parts = urlsplit(url)
        info = classify("GET", parts.path, parts.query, {"Host": parts.netloc})
        assert info.classified, url
        assert info.access_key_id == CREDENTIALS.access_key, url


def test_sigv2_and_sigv4a_headers_name_their_access_key_id() -> None:
    request = capture("s3", "get_object", {"Bucket": "b", "Key": "k"})
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    sigv2 = classify("GET", request.path, "", {**headers, "Authorization": f"AWS {PROBE}:c2ln"})
    assert (sigv2.service, sigv2.access_key_id) == ("s3", PROBE)
    credential = f"{PROBE}/20260101/s3/aws4_request"
    sigv4a = classify(
        "GET",
        request.path,
        "",
        {
            **headers,
            "Authorization": f"AWS4-ECDSA-P256-SHA256 Credential={credential}, "
            "SignedHeaders=host, Signature=ab",
            "X-Amz-Region-Set": "eu-west-3",
        },
    )
    assert (sigv4a.operation, sigv4a.region, sigv4a.access_key_id) == (
        "GetObject",
        "eu-west-3",
        PROBE,
    )


def test_unsigned_or_unreadable_credentials_name_nobody() -> None:
    unsigned = capture("sts", "assume_role_with_web_identity", _WEB_IDENTITY, unsigned=True)
    assert unsigned.classify().operation == "AssumeRoleWithWebIdentity"
    assert unsigned.classify().access_key_id is None
    signed = capture("logs", "describe_log_groups")
    headers = {k: v for k, v in signed.headers.items() if k.lower() != "authorization"}
    for authorization in (
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/logs/not_aws4, Signature=ab",
        f"AWS4-HMAC-SHA256 Credential={'k' * 129}/20260101/us-east-1/logs/aws4_request",
        "Bearer token",
    ):
        info = classify("POST", "/", "", {**headers, "Authorization": authorization})
        assert info.access_key_id is None, authorization


_WEB_IDENTITY = {
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "RoleSessionName": "session",
    "WebIdentityToken": "token",
}


def _info(operation: str, key: str | None) -> RequestInfo:
    return RequestInfo("dynamodb", "us-east-1", operation, None, access_key_id=key)


def test_the_ledger_counts_the_probes_key_apart_and_keeps_only_the_apps_destructive_calls() -> None:
    ledger = CallLedger(probe_keys=frozenset({PROBE}))
    ledger.record(_info("GetItem", "testing"), CallClass.READ, Outcome.FORWARDED, None)
    ledger.record(_info("GetItem", None), CallClass.READ, Outcome.FORWARDED, None)  # unsigned
    ledger.record(_info("DescribeTable", PROBE), CallClass.READ, Outcome.FORWARDED, None)
    ledger.record(_info("DeleteTable", PROBE), CallClass.DESTRUCTIVE, Outcome.DENIED, "orders")
    page = ledger.page()
    assert {(c.operation, c.count) for c in page.counts} == {("GetItem", 2)}
    assert {(c.operation, c.outcome, c.call_class, c.count) for c in page.probe_counts} == {
        ("DescribeTable", Outcome.FORWARDED, CallClass.READ, 1),
        ("DeleteTable", Outcome.DENIED, CallClass.DESTRUCTIVE, 1),
    }
    # The probe's destructive call is in no guardrail's sight: not listed, not numbered.
    assert page.destructive == () and page.last_seq == 0
    ledger.record(_info("DeleteTable", "testing"), CallClass.DESTRUCTIVE, Outcome.DENIED, "t")
    (call,) = ledger.page().destructive
    assert (call.seq, call.resource) == (1, "t")


def test_without_probe_keys_every_call_is_the_apps() -> None:
    ledger = CallLedger()
    ledger.record(_info("DescribeTable", PROBE), CallClass.READ, Outcome.FORWARDED, None)
    page = ledger.page()
    assert [(c.operation, c.count) for c in page.counts] == [("DescribeTable", 1)]
    assert page.probe_counts == ()
