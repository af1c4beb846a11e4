"""The admin client retries what may pass (a dropped connection, a 503) within its deadline,
through a loopback stand-in in front of the real gateway; what will not pass fails at once."""

from __future__ import annotations

import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient, GatewayError
from gameday.gateway.thread import Gateway
from tests.integration.gateway.flaky import DROP, FORWARD, UNAVAILABLE, flaky_proxy
from tests.integration.gateway.helpers import fault, host_port


def test_add_and_remove_succeed_after_a_dropped_connection_and_a_503(
    gateway: Gateway, admin: GatewayClient
) -> None:
    script = [DROP, UNAVAILABLE, FORWARD, DROP, FORWARD]
    with flaky_proxy(host_port(gateway.url), script) as proxy:
        client = GatewayClient(proxy.url, retry_deadline_s=5)

        held = client.add(fault("flaky-add", Mode.THROTTLE, services=("sts",)))
        assert held.id == "flaky-add"
        assert [f.id for f in admin.list()] == ["flaky-add"]

        assert client.remove("flaky-add") is True
        assert admin.list() == []
    assert proxy.served == script


def test_list_clear_and_health_retry_too(gateway: Gateway, admin: GatewayClient) -> None:
    admin.add(fault("kept", Mode.THROTTLE, services=("sts",)))
    script = [UNAVAILABLE, FORWARD, DROP, FORWARD, UNAVAILABLE, DROP, FORWARD]
    with flaky_proxy(host_port(gateway.url), script) as proxy:
        client = GatewayClient(proxy.url, retry_deadline_s=5)
        assert client.health().status == "ok"
        assert [f.id for f in client.list()] == ["kept"]
        assert client.clear() == 1
    assert proxy.served == script


def test_a_refusal_is_not_retried(gateway: Gateway, admin: GatewayClient) -> None:
    with flaky_proxy(host_port(gateway.url), []) as proxy:
        client = GatewayClient(proxy.url, retry_deadline_s=5)
        with pytest.raises(GatewayError) as caught:
            client.requests(limit=-1)
        assert caught.value.status == 400 and not caught.value.transient
        assert client.remove("never-added") is False  # a 404 is an answer, not retried
    assert proxy.served == [FORWARD, FORWARD]


def test_past_the_deadline_the_last_failure_says_how_often_it_was_tried(
    gateway: Gateway,
) -> None:
    with flaky_proxy(host_port(gateway.url), [UNAVAILABLE] * 1000) as proxy:
        client = GatewayClient(proxy.url, retry_deadline_s=0.3)
        with pytest.raises(GatewayError) as caught:
            client.list()
    error = caught.value
    assert error.status == 503 and error.transient
    assert error.message.startswith(
        f"{proxy.url}: GET /_gameday/faults failed with 503: warming up... (after "
    )
    attempts = int(error.message.rsplit("(after ", 1)[1].split(" ", 1)[0])
    assert attempts == len(proxy.served) > 1


def test_wait_ready_is_not_slowed_down_by_the_retries() -> None:
    client = GatewayClient("http://127.0.0.1:9", timeout_s=0.2, retry_deadline_s=30)
    with pytest.raises(GatewayError, match=r"was not ready within 0.2 s: cannot reach"):
        client.wait_ready(timeout_s=0.2)
