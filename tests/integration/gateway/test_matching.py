"""Which requests a fault applies to: region, operation, order, TTL, probability, kill switch."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import aws, fault, host_port, sigv4_authorization

STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def error_code(call: object) -> str | None:
    """The AWS error code a call fails with, or None when it succeeds."""
    try:
        call()  # type: ignore[operator]
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def test_region_scoped_fault_fails_that_region_only(gateway: Gateway, admin: GatewayClient) -> None:
    admin.add(fault("east", Mode.UNAVAILABLE, regions=("us-east-1",)))
    east = aws("sts", gateway.url, region="us-east-1")
    west = aws("sts", gateway.url, region="us-west-2")

    assert error_code(east.get_caller_identity) == "ServiceUnavailable"
    assert error_code(west.get_caller_identity) is None


def test_operation_scoped_fault_fails_that_operation_only(
    gateway: Gateway, admin: GatewayClient
) -> None:
    logs = aws("logs", gateway.url)
    logs.create_log_group(logGroupName="matching")
    logs.create_log_stream(logGroupName="matching", logStreamName="s")
    admin.add(fault("put", Mode.THROTTLE, services=("logs",), operations=("PutLogEvents",)))

    put = lambda: logs.put_log_events(  # noqa: E731
        logGroupName="matching",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}],
    )
    assert error_code(put) == "ThrottlingException"
    assert error_code(lambda: logs.describe_log_groups(logGroupNamePrefix="matching")) is None


def test_service_matches_the_signing_name_too(gateway: Gateway, admin: GatewayClient) -> None:
    # CloudWatch signs as "monitoring": a fault written either way applies.
    admin.add(fault("monitoring", Mode.DENIED, services=("monitoring",)))

    assert error_code(aws("cloudwatch", gateway.url).list_metrics) == "AccessDenied"


def test_first_matching_fault_in_creation_order_applies(
    gateway: Gateway, admin: GatewayClient
) -> None:
    sts = aws("sts", gateway.url)
    logs = aws("logs", gateway.url)
    admin.add(fault("sts-first", Mode.THROTTLE, services=("sts",)))
    admin.add(fault("everything", Mode.DENIED))

    assert error_code(sts.get_caller_identity) == "Throttling"
    assert error_code(logs.describe_log_groups) == "AccessDeniedException"

    # Replacing a fault keeps its place in the order.
    admin.add(fault("sts-first", Mode.INTERNAL, services=("sts",)))
    assert error_code(sts.get_caller_identity) == "InternalFailure"
    assert [f.id for f in admin.list()] == ["sts-first", "everything"]


def test_fault_is_gone_for_the_next_request_once_its_ttl_has_passed(
    gateway: Gateway, admin: GatewayClient
) -> None:
    sts = aws("sts", gateway.url)
    admin.add(fault("short", Mode.UNAVAILABLE, services=("sts",), ttl_s=1.0))
    added = time.monotonic()

    assert error_code(sts.get_caller_identity) == "ServiceUnavailable"
    time.sleep(max(0.0, added + 1.05 - time.monotonic()))
    assert error_code(sts.get_caller_identity) is None
    assert admin.list() == []


def test_clear_removes_every_fault(gateway: Gateway, admin: GatewayClient) -> None:
    for mode in (Mode.THROTTLE, Mode.DENIED, Mode.BLACKHOLE):
        admin.add(fault(f"f-{mode}", mode))

    assert admin.clear() == 3

    assert admin.list() == []
    assert error_code(aws("sts", gateway.url).get_caller_identity) is None


@pytest.fixture
def sts_connection(gateway: Gateway) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
    yield connection
    connection.close()


def raw_sts_call(connection: http.client.HTTPConnection) -> int:
    """One GetCallerIdentity over a kept-alive connection (fast: no SDK); returns the status."""
    connection.request(
        "POST",
        "/",
        body=STS_BODY,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": sigv4_authorization("sts"),
        },
    )
    response = connection.getresponse()
    response.read()
    return response.status


def test_probability_half_hits_about_half_of_2000_calls(
    gateway: Gateway, admin: GatewayClient, sts_connection: http.client.HTTPConnection
) -> None:
    admin.add(fault("half", Mode.THROTTLE, services=("sts",), probability=0.5))
    # Misses fall through to this one (403) instead of going to moto: the same draws, faster.
    admin.add(fault("rest", Mode.DENIED, services=("sts",)))

    statuses = [raw_sts_call(sts_connection) for _ in range(2000)]

    hits = statuses.count(400)
    assert statuses.count(403) + hits == 2000
    # Binomial(2000, 0.5): sigma = sqrt(2000 / 4) ~ 22.4; 3 sigma ~ 67.
    assert abs(hits - 1000) <= 67, hits
    assert admin.list()[0].hits == hits


def test_same_seed_same_draws(moto_url: str) -> None:
    def draws() -> list[int]:
        with Gateway(moto_url, seed=99) as gateway:
            GatewayClient(gateway.url).add(fault("coin", Mode.THROTTLE, probability=0.5))
            connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
            try:
                return [raw_sts_call(connection) for _ in range(100)]
            finally:
                connection.close()

    first = draws()
    assert first == draws()
    assert 200 in first and 400 in first


def test_unclassified_request_is_forwarded_and_logged(
    gateway: Gateway, admin: GatewayClient
) -> None:
    # Faults by service, by operation, or on everything: none fails a request the gateway
    # could not classify.
    admin.add(fault("sts", Mode.UNAVAILABLE, services=("sts",)))
    admin.add(fault("all", Mode.UNAVAILABLE))
    since = admin.requests().last_seq
    connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 200
    assert b"<ListAllMyBucketsResult" in body
    [seen] = admin.requests(since).requests
    assert seen.unclassified and seen.outcome is Outcome.FORWARDED and seen.fault_id is None


def test_region_only_fault_fails_an_unclassified_request_of_that_region(
    gateway: Gateway, admin: GatewayClient
) -> None:
    admin.add(fault("by-service", Mode.THROTTLE, services=("sts",)))
    admin.add(fault("region", Mode.UNAVAILABLE, regions=("eu-west-1",)))
    connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
    try:
        # Signed for a service no botocore model knows: region known, service not.
        connection.request(
            "GET", "/", headers={"Authorization": sigv4_authorization("nosuch", "eu-west-1")}
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()

    assert response.status == 503


def test_a_lost_region_can_spare_the_global_services(
    gateway: Gateway, admin: GatewayClient
) -> None:
    """region-loss of us-east-1 with include_global: false, as the engine injects it."""
    from pathlib import Path

    from gameday.faults.rules import resolve_rules
    from gameday.injectors.gateway import fault_spec
    from gameday.scenario.loader import parse_scenario

    scenario = parse_scenario(
        Path("t.yaml"),
        "apiVersion: gameday/v1\nmetadata: {name: t}\n"
        "faults: [{kind: region-loss, region: us-east-1, include_global: false, duration: 5s}]\n"
        "probes: [{name: p, kind: http, url: 'http://127.0.0.1:1/'}]\n"
        "objectives: [{kind: rto, probe: p, target: 1s}]\n",
    )
    (rule,) = resolve_rules(scenario)
    admin.add(fault_spec(rule, "run"))
    sts = aws("sts", gateway.url, region="us-east-1")
    iam = aws("iam", gateway.url, region="us-east-1")
    logs = aws("logs", gateway.url, region="us-east-1")
    assert error_code(logs.describe_log_groups) == "ServiceUnavailableException"
    assert error_code(iam.list_roles) is None  # global, homed in us-east-1: spared
    assert error_code(sts.get_caller_identity) is None
