"""blackhole, reset and latency for services of every wire protocol, through real boto3."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from gameday.errors import EnvironmentFailure
from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import (
    CALLS,
    Call,
    aws,
    fault,
    host_port,
    read_all,
    sigv4_authorization,
    wait_until,
)

SERVICES = sorted(CALLS)


@pytest.mark.parametrize("service", SERVICES)
def test_blackhole_lets_the_clients_read_timeout_fire(
    gateway: Gateway, admin: GatewayClient, service: str
) -> None:
    call, _, _ = CALLS[service]
    admin.add(fault("hole", Mode.BLACKHOLE, services=(service,)))
    client = aws(service, gateway.url, read_timeout_s=0.2)
    since = admin.requests().last_seq

    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        call(client)

    assert 0.2 <= time.monotonic() - started < 2.0
    [seen] = admin.requests(since).requests
    assert (seen.outcome, seen.status, seen.fault_id) == (Outcome.BLACKHOLE, None, "hole")


@pytest.mark.parametrize("service", SERVICES)
def test_reset_is_a_closed_connection_to_botocore(
    gateway: Gateway, admin: GatewayClient, service: str
) -> None:
    call, _, _ = CALLS[service]
    admin.add(fault("reset", Mode.RESET, services=(service,)))
    since = admin.requests().last_seq

    with pytest.raises(ConnectionClosedError):
        call(aws(service, gateway.url))

    [seen] = admin.requests(since).requests
    assert (seen.outcome, seen.status) == (Outcome.RESET, None)


@pytest.mark.parametrize("service", SERVICES)
def test_latency_delays_the_forwarded_call(
    gateway: Gateway, admin: GatewayClient, service: str
) -> None:
    call, _, _ = CALLS[service]
    client = aws(service, gateway.url)
    forwarded(call, client)  # warm: the first call of a service builds its route table
    admin.add(fault("slow", Mode.LATENCY, services=(service,), latency=0.2))
    since = admin.requests().last_seq

    started = time.monotonic()
    forwarded(call, client)
    elapsed = time.monotonic() - started

    assert 0.2 <= elapsed < 0.6
    [seen] = admin.requests(since).requests
    assert (seen.outcome, seen.fault_id) == (Outcome.DELAYED, "slow")
    assert seen.status is not None and seen.latency_s >= 0.2


def forwarded(call: Call, client: Any) -> None:
    """Make the call; moto's own answer, success or error, does not matter here (it has no
    SSO portal, for one)."""
    with contextlib.suppress(ClientError):
        call(client)


def test_latency_range_draws_within_its_bounds(gateway: Gateway, admin: GatewayClient) -> None:
    client = aws("sts", gateway.url)
    admin.add(fault("range", Mode.LATENCY, services=("sts",), latency="0.05..0.15"))
    since = admin.requests().last_seq

    for _ in range(8):
        client.get_caller_identity()

    delays = [r.latency_s for r in admin.requests(since).requests]
    assert len(delays) == 8
    assert all(0.05 <= delay < 0.4 for delay in delays)
    assert len({round(delay, 3) for delay in delays}) > 1  # drawn, not fixed


def test_stopping_the_gateway_releases_a_held_connection(moto_url: str) -> None:
    gateway = Gateway(moto_url)
    gateway.start()
    try:
        admin = GatewayClient(gateway.url)
        admin.add(fault("hole", Mode.BLACKHOLE))
        sock = socket.create_connection(host_port(gateway.url), timeout=5)
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Authorization: " + sigv4_authorization("sts").encode() + b"\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        wait_until(lambda: admin.requests().last_seq == 1)
    finally:
        started = time.monotonic()
        gateway.stop()
        stopped_in = time.monotonic() - started
    with sock:
        assert read_all(sock) == b""  # closed without an answer
    assert stopped_in < 2.0


def test_a_port_in_use_is_an_environment_failure(gateway: Gateway) -> None:
    _, port = host_port(gateway.url)

    with pytest.raises(EnvironmentFailure, match=f"could not start on 127.0.0.1:{port}: "):
        Gateway(gateway.upstream, port=port).start()
