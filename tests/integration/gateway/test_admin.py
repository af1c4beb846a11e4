"""The admin API over HTTP: auth, validation, the typed client, metrics, LocalStack's Chaos API."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient, GatewayError
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import aws, fault, host_port, read_all

VALID = {"match": {"services": ["sts"]}, "effect": {"mode": "throttle"}, "ttl_seconds": 30}


def call(
    url: str, method: str, path: str, body: object = None, token: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    """One admin call; returns (status, decoded JSON or text, headers)."""
    connection = http.client.HTTPConnection(*host_port(url), timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = raw.decode()
    return response.status, payload, dict(response.getheaders())


@pytest.fixture(scope="module")
def secured(moto_url: str) -> Iterator[Gateway]:
    with Gateway(moto_url, token="s3cret-token") as gateway:
        yield gateway


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_gameday/health"),
        ("GET", "/_gameday/faults"),
        ("DELETE", "/_gameday/faults"),
        ("PUT", "/_gameday/faults/x"),
        ("GET", "/_gameday/requests"),
        ("GET", "/metrics"),
        ("GET", "/_localstack/chaos/faults"),
        ("POST", "/_localstack/chaos/effects"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong", "s3cret-token-and-more"])
def test_every_admin_call_needs_the_token(
    secured: Gateway, method: str, path: str, token: str | None
) -> None:
    status, payload, headers = call(secured.url, method, path, VALID, token=token)

    assert status == 401
    assert payload == {"error": "missing or wrong bearer token (GAMEDAY_GATEWAY_TOKEN)"}
    assert headers["WWW-Authenticate"] == 'Bearer realm="gameday"'


def test_the_right_token_is_let_in(secured: Gateway) -> None:
    client = GatewayClient(secured.url, token="s3cret-token")
    client.add(fault("t", Mode.THROTTLE, services=("sts",)))

    assert [f.id for f in client.list()] == ["t"]
    with pytest.raises(GatewayError) as raised:
        GatewayClient(secured.url).list()
    assert raised.value.status == 401
    assert raised.value.hint == "set the same token as the gateway's (GAMEDAY_GATEWAY_TOKEN)"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"{not json", "body", "the body is not valid JSON: "),
        ([1, 2], None, "the body must be a JSON object {match, effect, ttl_seconds}"),
        ({**VALID, "effect": {"mode": "throtle"}}, "effect.mode", "effect.mode: Input should be"),
        ({**VALID, "match": {"probability": 2}}, "match.probability", "match.probability: "),
        ({"effect": {"mode": "throttle"}}, "ttl_seconds", "ttl_seconds: Field required"),
        ({**VALID, "ttl_seconds": 0}, "ttl_seconds", "ttl_seconds: Input should be greater"),
        ({**VALID, "colour": "red"}, "colour", "colour: Extra inputs are not permitted"),
        ({**VALID, "effect": {"mode": "latency"}}, "effect", "effect: Value error, mode 'la"),
        (
            {**VALID, "effect": {"mode": "latency", "latency": "soon"}},
            "effect.latency",
            "effect.latency: Value error, latency 'soon' is neither seconds nor 'min..max'",
        ),
        ({**VALID, "id": "other"}, "id", "id 'other' differs from the path's 'f1'"),
    ],
)
def test_bad_fault_gets_400_naming_the_field(
    gateway: Gateway, admin: GatewayClient, body: object, field: str | None, message: str
) -> None:
    status, payload, _ = call(gateway.url, "PUT", "/_gameday/faults/f1", body)

    assert status == 400
    assert payload.get("field") == field
    assert payload["error"].startswith(message)
    assert admin.list() == []


def test_bad_fault_id_gets_400(gateway: Gateway, admin: GatewayClient) -> None:
    status, payload, _ = call(gateway.url, "PUT", "/_gameday/faults/-dash-first", VALID)

    assert (status, payload["field"]) == (400, "id")
    assert "ids match ^[A-Za-z0-9]" in payload["error"]


def test_put_creates_then_replaces(gateway: Gateway, admin: GatewayClient) -> None:
    created = call(gateway.url, "PUT", "/_gameday/faults/f1", VALID)
    replaced = call(gateway.url, "PUT", "/_gameday/faults/f1", {**VALID, "ttl_seconds": 5})

    assert (created[0], replaced[0]) == (201, 200)
    assert replaced[1]["id"] == "f1"
    assert replaced[1]["ttl_seconds"] == 5
    assert 4 < replaced[1]["expires_in_s"] <= 5
    status, one, _ = call(gateway.url, "GET", "/_gameday/faults/f1")
    assert (status, one["effect"]["mode"], one["hits"]) == (200, "throttle", 0)


def test_delete_one_and_unknown(gateway: Gateway, admin: GatewayClient) -> None:
    admin.add(fault("gone", Mode.DENIED))

    assert admin.remove("gone") is True
    assert admin.remove("gone") is False
    status, payload, _ = call(gateway.url, "DELETE", "/_gameday/faults/gone")
    assert (status, payload) == (404, {"error": "no fault 'gone'", "field": "id"})


def test_unknown_admin_path_and_method_are_answered_here(
    gateway: Gateway, admin: GatewayClient
) -> None:
    # A catch-all fault would fail anything forwarded: admin paths never are.
    admin.add(fault("all", Mode.UNAVAILABLE))

    assert call(gateway.url, "GET", "/_gameday/nope")[:2] == (
        404,
        {"error": "no admin endpoint at /_gameday/nope"},
    )
    status, _, headers = call(gateway.url, "POST", "/_gameday/health")
    assert (status, headers["Allow"]) == (405, "GET")
    assert call(gateway.url, "GET", "/_gameday/health")[1]["status"] == "ok"


def test_requests_since_must_be_a_number(gateway: Gateway, admin: GatewayClient) -> None:
    status, payload, _ = call(gateway.url, "GET", "/_gameday/requests?since=abc")

    assert (status, payload) == (400, {"error": "since must be a whole number, not 'abc'",
                                       "field": "since"})  # fmt: skip


def test_client_reads_what_the_app_called(gateway: Gateway, admin: GatewayClient) -> None:
    since = admin.requests().last_seq
    aws("sts", gateway.url).get_caller_identity()

    page = admin.requests(since)

    assert [(r.service, r.operation, r.status) for r in page.requests] == [
        ("sts", "GetCallerIdentity", 200)
    ]
    assert page.last_seq == since + 1
    assert admin.requests(page.last_seq).requests == ()
    health = admin.health()
    assert (health.status, health.requests) == ("ok", page.last_seq)


def test_wait_ready_gives_up_on_a_closed_port() -> None:
    client = GatewayClient("http://127.0.0.1:9", timeout_s=0.2)
    started = time.monotonic()

    with pytest.raises(GatewayError, match=r"was not ready within 0.3 s: cannot reach"):
        client.wait_ready(timeout_s=0.3)
    assert time.monotonic() - started < 2


def test_metrics_count_by_service_operation_outcome_and_fault(
    gateway: Gateway, admin: GatewayClient
) -> None:
    admin.add(fault("metered", Mode.THROTTLE, services=("sts",)))
    with pytest.raises(ClientError):
        aws("sts", gateway.url).get_caller_identity()

    status, text, headers = call(gateway.url, "GET", "/metrics")

    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    assert (
        'gameday_gateway_requests_total{fault="metered",operation="GetCallerIdentity",'
        'outcome="error",service="sts"} 1.0'
    ) in text
    assert 'gameday_gateway_request_duration_seconds_bucket{le="0.001",outcome="error"' in text
    assert "gameday_gateway_faults_active 1.0" in text


def test_a_bucket_named_metrics_is_still_s3(gateway: Gateway, admin: GatewayClient) -> None:
    s3 = aws("s3", gateway.url)
    s3.create_bucket(Bucket="metrics")
    s3.put_object(Bucket="metrics", Key="k", Body=b"v")

    assert [o["Key"] for o in s3.list_objects_v2(Bucket="metrics")["Contents"]] == ["k"]


def test_localstack_chaos_faults_api(gateway: Gateway, admin: GatewayClient) -> None:
    url = gateway.url
    sts_rule = {"service": "sts", "error": {"statusCode": 503, "code": "ServiceUnavailable"}}
    logs_rule = {"service": "logs", "operation": "DescribeLogGroups", "probability": 1,
                 "error": {"statusCode": 400, "code": "ThrottlingException"}}  # fmt: skip

    assert call(url, "POST", "/_localstack/chaos/faults", [sts_rule])[:2] == (200, [sts_rule])
    assert call(url, "PATCH", "/_localstack/chaos/faults", [logs_rule])[1] == [sts_rule, logs_rule]
    assert call(url, "GET", "/_localstack/chaos/faults")[1] == [sts_rule, logs_rule]

    with pytest.raises(ClientError) as sts_error:
        aws("sts", url).get_caller_identity()
    with pytest.raises(ClientError) as logs_error:
        aws("logs", url).describe_log_groups()
    assert sts_error.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert logs_error.value.response["Error"]["Code"] == "ThrottlingException"

    assert call(url, "DELETE", "/_localstack/chaos/faults", [sts_rule])[1] == [logs_rule]
    assert call(url, "POST", "/_localstack/chaos/faults", [])[1] == []
    aws("sts", url).get_caller_identity()


def test_localstack_chaos_rule_defaults_to_503_service_unavailable(
    gateway: Gateway, admin: GatewayClient
) -> None:
    call(gateway.url, "POST", "/_localstack/chaos/faults", [{"region": "us-east-1"}])

    with pytest.raises(ClientError) as raised:
        aws("sts", gateway.url).get_caller_identity()
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceUnavailable",
        503,
    )


def test_localstack_chaos_bad_rule_gets_400(gateway: Gateway, admin: GatewayClient) -> None:
    status, payload, _ = call(gateway.url, "POST", "/_localstack/chaos/faults",
                              [{"service": "sts", "probability": "often"}])  # fmt: skip

    assert (status, payload["field"]) == (400, "0.probability")


def test_localstack_chaos_effects_latency(gateway: Gateway, admin: GatewayClient) -> None:
    sts = aws("sts", gateway.url)
    assert call(gateway.url, "GET", "/_localstack/chaos/effects")[1] == {"latency": 0}

    assert call(gateway.url, "POST", "/_localstack/chaos/effects", {"latency": 200})[1] == {
        "latency": 200
    }
    started = time.monotonic()
    sts.get_caller_identity()
    assert 0.2 <= time.monotonic() - started < 0.5

    # The kill switch clears LocalStack rules and effects too.
    call(gateway.url, "POST", "/_localstack/chaos/faults", [{"service": "sts"}])
    admin.clear()
    assert call(gateway.url, "GET", "/_localstack/chaos/effects")[1] == {"latency": 0}
    assert call(gateway.url, "GET", "/_localstack/chaos/faults")[1] == []


def test_admin_body_arriving_in_pieces_and_over_the_limit(
    gateway: Gateway, admin: GatewayClient
) -> None:
    body = json.dumps(VALID).encode()
    with socket.create_connection(host_port(gateway.url), timeout=5) as sock:
        sock.sendall(
            b"PUT /_gameday/faults/pieces HTTP/1.1\r\nHost: g\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        for start in range(0, len(body), 7):
            sock.sendall(body[start : start + 7])
            time.sleep(0.002)
        answer = read_all(sock)
    too_big = call(gateway.url, "PUT", "/_gameday/faults/big", b"[" + b" " * 1024 * 1024 + b"]")

    assert answer.startswith(b"HTTP/1.1 201 Created")
    assert [f.id for f in admin.list()] == ["pieces"]
    assert too_big[:2] == (413, {"error": "the body is 1048578 bytes; the limit is 1048576"})
