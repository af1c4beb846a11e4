"""Rendered errors read back by botocore's own parsers, error factory and retry rules."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from botocore import retryhandler, translate
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.loaders import create_loader
from botocore.parsers import create_parser
from botocore.retries import standard

from gameday.faults.modes import CONNECTION_MODES, ERROR_MODES, Mode
from gameday.gateway.classify import Protocol, RequestInfo
from gameday.gateway.wire import ErrorResponse, error_for_mode, render_error
from tests.unit.gateway._botocore import (
    Captured,
    answer,
    capture,
    client,
    http_response,
    operation_model,
    serialize,
)

MESSAGE = "Rate <exceeded> & 'ünïcödé' \"quoted\" ]]>"
REQUEST_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
METRIC = {"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": 1.0}]}

Expected = dict[Mode, tuple[int, str]]
XML: Expected = {
    Mode.THROTTLE: (400, "Throttling"),
    Mode.UNAVAILABLE: (503, "ServiceUnavailable"),
    Mode.INTERNAL: (500, "InternalFailure"),
    Mode.DENIED: (403, "AccessDenied"),
    Mode.EXPIRED_TOKEN: (400, "ExpiredToken"),
}
EC2: Expected = {
    **XML,
    Mode.THROTTLE: (503, "RequestLimitExceeded"),
    Mode.INTERNAL: (500, "InternalError"),
}
S3: Expected = {**XML, Mode.THROTTLE: (503, "SlowDown"), Mode.INTERNAL: (500, "InternalError")}
JSON: Expected = {
    Mode.THROTTLE: (400, "ThrottlingException"),
    Mode.UNAVAILABLE: (503, "ServiceUnavailable"),
    Mode.INTERNAL: (500, "InternalFailure"),
    Mode.DENIED: (403, "AccessDeniedException"),
    Mode.EXPIRED_TOKEN: (400, "ExpiredTokenException"),
}
# CloudWatch Logs and Firehose model ServiceUnavailableException: SDKs raise that class.
JSON_MODELED_503: Expected = {**JSON, Mode.UNAVAILABLE: (503, "ServiceUnavailableException")}
PROVISIONED: Expected = {**JSON, Mode.THROTTLE: (400, "ProvisionedThroughputExceededException")}


class Case:
    """One real request, how to make it again through a client, and the codes it must get."""

    def __init__(
        self,
        name: str,
        service: str,
        operation: str,
        params: dict[str, Any],
        expected: Expected,
        protocol: Protocol,
        *,
        wire_protocol: str | None = None,
        client_args: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.service = service
        self.operation = operation
        self.params = params
        self.expected = expected
        self.protocol = protocol
        self.wire_protocol = wire_protocol
        """Built with botocore's serializer for this protocol instead of through a client."""
        self.client_args = client_args or {}

    @functools.cached_property
    def request(self) -> Captured:
        if self.wire_protocol is not None:
            return serialize(self.service, self.operation, self.params, self.wire_protocol)
        return capture(self.service, self.python_name(), self.params, **self.client_args)

    @functools.cached_property
    def info(self) -> RequestInfo:
        info = self.request.classify()
        assert info.protocol is self.protocol, info
        return info

    @property
    def head(self) -> bool:
        return self.request.method == "HEAD"

    def python_name(self) -> str:
        mapping = client(self.service).meta.method_to_api_mapping
        return next(k for k, v in mapping.items() if v == self.operation)


BEARER = {"roleName": "r", "accountId": "123456789012", "accessToken": "bearer"}
CASES = [
    Case("sts-query", "sts", "GetCallerIdentity", {}, XML, Protocol.QUERY),
    Case("iam-query", "iam", "ListRoles", {}, XML, Protocol.QUERY),
    Case("ec2", "ec2", "DescribeInstances", {}, EC2, Protocol.EC2),
    Case(
        "logs-json",
        "logs",
        "PutLogEvents",
        {
            "logGroupName": "g",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        JSON_MODELED_503,
        Protocol.JSON,
    ),
    Case("ecr-json", "ecr", "DescribeRepositories", {}, JSON, Protocol.JSON),
    Case("ecr-token-json", "ecr", "GetAuthorizationToken", {}, JSON, Protocol.JSON),
    Case(
        "dynamodb-json",
        "dynamodb",
        "PutItem",
        {"TableName": "t", "Item": {"k": {"S": "v"}}},
        PROVISIONED,
        Protocol.JSON,
    ),
    Case(
        "kinesis-json",
        "kinesis",
        "PutRecord",
        {"StreamName": "s", "Data": b"x", "PartitionKey": "p"},
        PROVISIONED,
        Protocol.JSON,
    ),
    Case(
        "firehose-json",
        "firehose",
        "PutRecord",
        {"DeliveryStreamName": "s", "Record": {"Data": b"x"}},
        JSON_MODELED_503,
        Protocol.JSON,
    ),
    Case("sso-admin-json", "sso-admin", "ListInstances", {}, JSON, Protocol.JSON),
    Case("lambda-rest-json", "lambda", "Invoke", {"FunctionName": "f"}, JSON, Protocol.REST_JSON),
    Case("fis-rest-json", "fis", "ListExperiments", {}, JSON, Protocol.REST_JSON),
    Case("sso-rest-json", "sso", "GetRoleCredentials", BEARER, JSON, Protocol.REST_JSON),
    Case("s3-get", "s3", "GetObject", {"Bucket": "b", "Key": "k"}, S3, Protocol.REST_XML),
    Case("s3-head", "s3", "HeadObject", {"Bucket": "b", "Key": "k"}, S3, Protocol.REST_XML),
    Case(
        "s3-put",
        "s3",
        "PutObject",
        {"Bucket": "b", "Key": "k", "Body": b"x"},
        S3,
        Protocol.REST_XML,
    ),
    Case("route53-rest-xml", "route53", "ListHostedZones", {}, XML, Protocol.REST_XML),
    Case("cloudfront-rest-xml", "cloudfront", "ListDistributions", {}, XML, Protocol.REST_XML),
    # Query-compatible: the code in x-amzn-query-error is the one SDKs surface.
    Case("cloudwatch-json", "cloudwatch", "PutMetricData", METRIC, XML, Protocol.JSON),
    Case(
        "cloudwatch-cbor",
        "cloudwatch",
        "PutMetricData",
        METRIC,
        XML,
        Protocol.RPC_V2_CBOR,
        wire_protocol="smithy-rpc-v2-cbor",
    ),
    Case(
        "cloudwatch-query",
        "cloudwatch",
        "PutMetricData",
        METRIC,
        XML,
        Protocol.QUERY,
        wire_protocol="query",
    ),
    Case(
        "eventbridgev2-cbor",
        "eventbridgev2",
        "ListTagsForResource",
        {"ResourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"},
        JSON,
        Protocol.RPC_V2_CBOR,
    ),
]
MATRIX = [
    pytest.param(case, mode, id=f"{case.name}-{mode.value}")
    for case in CASES
    for mode in sorted(ERROR_MODES)
]
CLIENT_MATRIX = [
    pytest.param(case, mode, id=f"{case.name}-{mode.value}")
    for case in CASES
    if case.wire_protocol is None  # a client speaks only the protocol botocore picks
    for mode in sorted(ERROR_MODES)
]


def _render(case: Case, mode: Mode) -> ErrorResponse:
    status, code = error_for_mode(mode, case.info)
    return render_error(
        case.info, status, code, MESSAGE, method=case.request.method, request_id=REQUEST_ID
    )


def _parse(case: Case, response: ErrorResponse) -> tuple[AWSResponse, dict[str, Any]]:
    """What botocore's endpoint does with a response: convert_to_response_dict, then the
    parser of the request's protocol with the operation's output shape."""
    op = operation_model(case.service, case.operation)
    raw = http_response(response)
    parser = create_parser(case.protocol.value)
    parsed: dict[str, Any] = parser.parse(convert_to_response_dict(raw, op), op.output_shape)
    return raw, parsed


@pytest.mark.parametrize(("case", "mode"), MATRIX)
def test_error_for_mode_presets(case: Case, mode: Mode) -> None:
    assert error_for_mode(mode, case.info) == case.expected[mode]


@pytest.mark.parametrize(("case", "mode"), MATRIX)
def test_botocore_parser_reads_the_code(case: Case, mode: Mode) -> None:
    status, code = case.expected[mode]
    response = _render(case, mode)
    assert response.status == status
    _, parsed = _parse(case, response)
    error = parsed["Error"]
    if case.head:
        # No body on HEAD: botocore names the error by its status.
        assert response.body == b""
        assert error["Code"] == str(status)
    else:
        assert error["Code"] == code
        assert error["Message"] == MESSAGE
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    if not (case.head and status >= 500):
        # An empty 5xx body takes botocore's generic path, which keeps no request id
        # (botocore/parsers.py ResponseParser._do_generic_error_parse).
        assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID
    if case.info.query_mode:
        assert error["Type"] == ("Receiver" if status >= 500 else "Sender")


@pytest.mark.parametrize(("case", "mode"), CLIENT_MATRIX)
def test_botocore_client_raises_the_code(case: Case, mode: Mode) -> None:
    # The whole client: endpoint, parser, error factory, exception class.
    status, code = case.expected[mode]
    error = answer(
        case.service, case.python_name(), case.params, _render(case, mode), **case.client_args
    )
    assert error.response["Error"]["Code"] == (str(status) if case.head else code)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    modeled = client(case.service).exceptions
    if not case.head and code in modeled._code_to_exception:
        assert isinstance(error, modeled.from_code(code))


@functools.cache
def _legacy_handler(service: str) -> Callable[..., Any]:
    # Built exactly as botocore/client.py _register_legacy_retries builds it.
    model = client(service).meta.service_model
    retry = create_loader().load_data("_retry")
    config = translate.build_retry_config(
        model.endpoint_prefix, retry["retry"], retry.get("definitions", {})
    )
    handler: Callable[..., Any] = retryhandler.create_retry_handler(config, model.endpoint_prefix)
    return handler


RETRIED = {Mode.THROTTLE, Mode.UNAVAILABLE, Mode.INTERNAL}


@pytest.mark.parametrize(("case", "mode"), MATRIX)
def test_retry_modes_agree(case: Case, mode: Mode) -> None:
    raw, parsed = _parse(case, _render(case, mode))
    retried = mode in RETRIED
    delay = _legacy_handler(case.service)(
        attempts=1,
        response=(raw, parsed),
        caught_exception=None,
        request_dict={"context": {}},  # what botocore/endpoint.py passes to needs-retry
    )
    assert (delay is not None) is retried, "legacy"
    context = standard.RetryContext(
        attempt_number=1,
        operation_model=operation_model(case.service, case.operation),
        parsed_response=parsed,
        http_response=raw,
    )
    assert standard.StandardRetryConditions().is_retryable(context) is retried, "standard"
    # Adaptive mode retries like standard and slows its send rate on throttling errors.
    throttling = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
    is_throttle = throttling.is_throttling_error_from_context(context)
    if mode is Mode.THROTTLE and not case.head:
        assert is_throttle, "adaptive"
    if mode in {Mode.DENIED, Mode.EXPIRED_TOKEN}:
        assert not is_throttle


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_headers(case: Case) -> None:
    response = _render(case, Mode.THROTTLE)
    headers = response.headers
    assert headers["x-amzn-RequestId"] == REQUEST_ID
    assert headers["Content-Length"] == str(len(response.body))
    if case.info.service == "s3":
        assert headers["x-amz-request-id"] == REQUEST_ID
        assert headers["x-amz-id-2"]
    if case.protocol is Protocol.JSON:
        assert headers["Content-Type"] == f"application/x-amz-json-{case.info.json_version}"
        assert headers["x-amzn-ErrorType"]
    if case.protocol is Protocol.REST_JSON:
        assert headers["x-amzn-ErrorType"] == "ThrottlingException"
    if case.protocol is Protocol.RPC_V2_CBOR:
        assert headers["Content-Type"] == "application/cbor"
        assert headers["smithy-protocol"] == "rpc-v2-cbor"
        assert cbor2.loads(response.body)["__type"] == error_for_mode(Mode.THROTTLE, case.info)[1]
    if case.info.query_mode:
        assert headers["x-amzn-query-error"] == "Throttling;Sender"
    if case.protocol in {Protocol.QUERY, Protocol.EC2, Protocol.REST_XML}:
        assert headers["Content-Type"] in {"text/xml", "text/xml;charset=UTF-8", "application/xml"}


def test_query_errors_carry_the_service_namespace() -> None:
    sts = CASES[0]
    body = _render(sts, Mode.DENIED).body
    assert b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' in body
    assert b"<Type>Sender</Type>" in body
    assert b"<Type>Receiver</Type>" in _render(sts, Mode.INTERNAL).body


AWS_PROTOCOLS = [p for p in Protocol if p is not Protocol.REGISTRY]


@pytest.mark.parametrize("protocol", [None, *AWS_PROTOCOLS])
def test_every_protocol_survives_hostile_messages(protocol: Protocol | None) -> None:
    info = RequestInfo("svc", "us-east-1", "Op", protocol, json_version="1.1")
    message = "bad \x00\x01\x1b chars, a lone \ud800 surrogate, </Message><Code>X</Code>"
    response = render_error(info, 400, "Throttling", message)
    parser_protocol = "query" if protocol is None else protocol.value
    parsed = create_parser(parser_protocol).parse(
        {"status_code": 400, "headers": response.headers, "body": response.body}, None
    )
    assert parsed["Error"]["Code"] == "Throttling"
    assert "</Message>" in parsed["Error"]["Message"]


@pytest.mark.parametrize("parser_protocol", ["query", "rest-xml"])
def test_unclassified_requests_get_a_generic_xml_error(parser_protocol: str) -> None:
    info = RequestInfo(None, "us-east-1", None, None)
    assert error_for_mode(Mode.UNAVAILABLE, info) == (503, "ServiceUnavailable")
    response = render_error(info, 503, "ServiceUnavailable", "region down")
    assert response.headers["Content-Type"] == "text/xml"
    parsed = create_parser(parser_protocol).parse(
        {"status_code": 503, "headers": response.headers, "body": response.body}, None
    )
    assert parsed["Error"]["Code"] == "ServiceUnavailable"
    assert parsed["Error"]["Message"] == "region down"


def test_head_requests_get_no_body_in_any_protocol() -> None:
    for protocol in Protocol:
        info = RequestInfo("svc", "us-east-1", "Op", protocol)
        response = render_error(info, 403, "AccessDenied", "no", method="head")
        assert response.body == b""
        assert response.headers["Content-Length"] == "0"


def test_registry_errors_survive_hostile_messages() -> None:
    info = RequestInfo("registry", "us-east-1", "GetManifest", Protocol.REGISTRY)
    message = 'bad \x00\x01\x1b chars, a lone \ud800 surrogate, "}], "x": ['
    response = render_error(info, 503, "UNAVAILABLE", message, method="GET")
    (error,) = json.loads(response.body)["errors"]
    assert error["code"] == "UNAVAILABLE"
    assert error["message"].endswith('"}], "x": [')


def test_request_ids_are_generated_when_not_given() -> None:
    s3 = RequestInfo("s3", "us-east-1", "GetObject", Protocol.REST_XML, signing_name="s3")
    one = render_error(s3, 503, "SlowDown", "slow")
    two = render_error(s3, 503, "SlowDown", "slow")
    assert one.headers["x-amz-request-id"] != two.headers["x-amz-request-id"]
    assert len(one.headers["x-amz-request-id"]) == 16
    logs = RequestInfo("logs", "us-east-1", "PutLogEvents", Protocol.JSON, json_version="1.1")
    assert (
        len(render_error(logs, 400, "ThrottlingException", "x").headers["x-amzn-RequestId"]) == 36
    )


@pytest.mark.parametrize("mode", sorted(set(Mode) - ERROR_MODES))
def test_modes_without_an_error_response_raise(mode: Mode) -> None:
    assert mode is Mode.LATENCY or mode in CONNECTION_MODES
    info = RequestInfo("sts", "us-east-1", "GetCallerIdentity", Protocol.QUERY)
    with pytest.raises(ValueError, match=f"mode '{mode.value}' is not answered"):
        error_for_mode(mode, info)


def test_render_error_refuses_what_cannot_go_into_headers() -> None:
    info = RequestInfo("sts", "us-east-1", "GetCallerIdentity", Protocol.QUERY)
    with pytest.raises(ValueError, match="error code 'Bad\\\\r\\\\nCode' is not a plain token"):
        render_error(info, 400, "Bad\r\nCode", "m")
    with pytest.raises(ValueError, match="needs a 4xx or 5xx status, not 200"):
        render_error(info, 200, "Throttling", "m")
    with pytest.raises(ValueError, match="request id 'a b' is not a plain token"):
        render_error(info, 400, "Throttling", "m", request_id="a b")
