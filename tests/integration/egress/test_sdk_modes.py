"""Every fault mode through the egress proxy, met by botocore with its own retries (standard
mode) and no endpoint override: the error code each mode gives, and exactly the attempts
botocore's retry policy makes for it, counted in the proxy's request ring and the fault's hits.

The expected count is never typed in: it is what botocore's own StandardRetryConditions
decide for the outcome the client got (retryable codes, statuses and exceptions, up to the
client's max attempts). Backoff sleeps are botocore's, nothing patched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.retries.standard import RetryContext, StandardRetryConditions

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from tests.egress_support import Setup, TlsUpstream, egress_setup
from tests.integration.gateway.helpers import fault

MAX_ATTEMPTS = 3
READ_TIMEOUT_S = 0.3
LATENCY_S = 0.3

CALLS = {"sts": "GetCallerIdentity", "logs": "DescribeLogGroups"}
"""One call per host the issue names, as botocore operation names."""
OTHER_CALLS = {"sts": "AssumeRole", "logs": "DeleteLogGroup"}
"""Calls these tests never make: a fault on one decrypts the host and takes nothing."""

ERROR_CODES = {
    # docs/gateway.md "Modes on the wire": sts speaks query, logs json.
    Mode.THROTTLE: {"sts": "Throttling", "logs": "ThrottlingException"},
    Mode.UNAVAILABLE: {"sts": "ServiceUnavailable", "logs": "ServiceUnavailableException"},
    Mode.INTERNAL: {"sts": "InternalFailure", "logs": "InternalFailure"},
    Mode.DENIED: {"sts": "AccessDenied", "logs": "AccessDeniedException"},
    Mode.EXPIRED_TOKEN: {"sts": "ExpiredToken", "logs": "ExpiredTokenException"},
}
OTHER_MODES = (Mode.LATENCY, Mode.BLACKHOLE, Mode.RESET)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-modes"), moto_url) as proxy:
        yield proxy


pytestmark = pytest.mark.usefixtures("in_account")


def _client(service: str, read_timeout_s: float = 10.0) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=2,
        read_timeout=read_timeout_s,
    )
    session: Any = boto3.session.Session()  # its own connection pool: a fresh tunnel
    return session.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=config,
    )


def _call(client: Any, service: str) -> dict[str, Any]:
    answer: dict[str, Any] = getattr(client, xform_name(CALLS[service]))()
    return answer


def policy_attempts(client: Any, service: str, outcome: Exception) -> int:
    """How many attempts botocore's standard retry policy makes when every attempt ends in
    ``outcome``: it asks StandardRetryConditions after each attempt, as the client does."""
    conditions = StandardRetryConditions(max_attempts=MAX_ATTEMPTS)
    operation = client.meta.service_model.operation_model(CALLS[service])
    attempts = 1
    while conditions.is_retryable(_context(attempts, operation, outcome)):
        attempts += 1
    return attempts


def _context(attempt: int, operation: Any, outcome: Exception) -> RetryContext:
    if isinstance(outcome, ClientError):
        response: dict[str, Any] = dict(outcome.response)
        status = response["ResponseMetadata"]["HTTPStatusCode"]
        http = AWSResponse("", status, response["ResponseMetadata"].get("HTTPHeaders", {}), None)
        return RetryContext(attempt, operation, parsed_response=response, http_response=http)
    return RetryContext(attempt, operation, caught_exception=outcome)


def _faulted(admin: GatewayClient, since: int, fault_id: str) -> list[Any]:
    return [r for r in admin.requests(since).requests if r.fault_id == fault_id]


def _hits(admin: GatewayClient, fault_id: str) -> int:
    return next(f.hits for f in admin.list() if f.id == fault_id)


def _kill_switch_restores(
    admin: GatewayClient, upstream: TlsUpstream, client: Any, service: str, faults: int = 1
) -> None:
    """DELETE /_gameday/faults: the same client's next call reaches the real endpoint (blind
    or decrypted, whichever connection it gets) and succeeds."""
    assert admin.clear() == faults
    reached = upstream.verified
    assert _call(client, service)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert upstream.verified == reached + 1


def test_every_gateway_mode_is_covered_here() -> None:
    assert set(ERROR_CODES) | set(OTHER_MODES) == set(Mode)


@pytest.mark.parametrize("service", sorted(CALLS))
@pytest.mark.parametrize("mode", sorted(ERROR_CODES), ids=str)
def test_an_error_mode_gets_its_code_and_botocores_attempts(
    setup: Setup, admin: GatewayClient, mode: Mode, service: str
) -> None:
    fault_id = f"{mode}-{service}"
    admin.add(fault(fault_id, mode, services=(service,)))
    since = admin.requests().last_seq
    client = _client(service)

    with pytest.raises(ClientError) as raised:
        _call(client, service)

    error = raised.value
    assert error.response["Error"]["Code"] == ERROR_CODES[mode][service]
    expected = policy_attempts(client, service, error)
    made = int(error.response["ResponseMetadata"]["RetryAttempts"]) + 1
    records = _faulted(admin, since, fault_id)
    assert [(r.operation, r.outcome) for r in records] == [(CALLS[service], Outcome.ERROR)] * made
    assert made == _hits(admin, fault_id) == expected
    _kill_switch_restores(admin, setup.upstream, client, service)


def test_the_policy_retries_what_aws_would_and_no_more() -> None:
    """The oracle above is not blind: throttling and 5xx take every attempt, the rest one."""
    client = _client("sts")

    def error(code: str, status: int) -> ClientError:
        response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "GetCallerIdentity")

    assert policy_attempts(client, "sts", error("Throttling", 400)) == MAX_ATTEMPTS
    assert policy_attempts(client, "sts", error("InternalFailure", 500)) == MAX_ATTEMPTS
    assert policy_attempts(client, "sts", error("ExpiredToken", 400)) == 1
    assert policy_attempts(client, "sts", error("AccessDenied", 403)) == 1


@pytest.mark.parametrize("service", sorted(CALLS))
def test_latency_delays_the_call_by_the_faults_latency(
    setup: Setup, admin: GatewayClient, service: str
) -> None:
    # A fault on another call decrypts the host: the leaf is minted and the client's
    # connection is a decrypted tunnel before the clock runs.
    admin.add(
        fault("decrypt", Mode.THROTTLE, services=(service,), operations=(OTHER_CALLS[service],))
    )
    client = _client(service)
    _call(client, service)
    admin.add(fault("slow", Mode.LATENCY, services=(service,), latency=LATENCY_S))
    since = admin.requests().last_seq

    started = time.monotonic()
    answer = _call(client, service)
    elapsed = time.monotonic() - started

    assert answer["ResponseMetadata"]["RetryAttempts"] == 0
    assert LATENCY_S <= elapsed < LATENCY_S + 2.0
    [record] = _faulted(admin, since, "slow")
    assert (record.operation, record.outcome, record.status) == (
        CALLS[service],
        Outcome.DELAYED,
        200,
    )
    assert record.latency_s >= LATENCY_S
    _kill_switch_restores(admin, setup.upstream, client, service, faults=2)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_blackhole_ends_in_the_read_timeout_retried(
    setup: Setup, admin: GatewayClient, service: str
) -> None:
    admin.add(fault("hole", Mode.BLACKHOLE, services=(service,)))
    since = admin.requests().last_seq
    client = _client(service, read_timeout_s=READ_TIMEOUT_S)

    started = time.monotonic()
    with pytest.raises(ReadTimeoutError) as raised:
        _call(client, service)
    elapsed = time.monotonic() - started

    expected = policy_attempts(client, service, raised.value)
    assert expected == MAX_ATTEMPTS  # a timeout is transient to botocore
    records = _faulted(admin, since, "hole")
    assert [(r.operation, r.outcome) for r in records] == [(CALLS[service], Outcome.BLACKHOLE)] * (
        expected
    )
    assert _hits(admin, "hole") == expected
    assert elapsed >= expected * READ_TIMEOUT_S
    _kill_switch_restores(admin, setup.upstream, client, service)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_reset_is_a_connection_error_retried(
    setup: Setup, admin: GatewayClient, service: str
) -> None:
    admin.add(fault("reset", Mode.RESET, services=(service,)))
    since = admin.requests().last_seq
    client = _client(service)

    # Through a proxy, urllib3 reports the reset as a ProxyError (it closed the connection
    # before asking whether it had reached the proxy): botocore raises ProxyConnectionError,
    # "Failed to connect to proxy URL", where the gateway's clients get ConnectionClosedError.
    # Either is a ConnectionError to botocore, retried alike.
    with pytest.raises((BotoConnectionError, HTTPClientError)) as raised:
        _call(client, service)

    expected = policy_attempts(client, service, raised.value)
    assert expected == MAX_ATTEMPTS
    records = _faulted(admin, since, "reset")
    assert [(r.operation, r.outcome) for r in records] == [(CALLS[service], Outcome.RESET)] * (
        expected
    )
    assert _hits(admin, "reset") == expected
    _kill_switch_restores(admin, setup.upstream, client, service)
