"""Each resilience switch under a real fault from the gateway: on rides through, off does not.

And in both cases the dependency failure is alerted once when it starts and once when it ends.
"""

from __future__ import annotations

import socket
import time

import boto3
import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.demo.conftest import (
    FAILOVER,
    HOME,
    AlertSink,
    Demo,
    DemoFactory,
    Faults,
    Resources,
    Response,
    audit_messages,
    new_id,
    wait_until,
)


def _detail(body: dict[str, object], component: str) -> str:
    components = body["components"]
    assert isinstance(components, dict)
    return str(components[component]["detail"])


def test_cached_credentials_ride_through_an_sts_outage_and_page_once(
    start_demo: DemoFactory, faults: Faults, alert_sink: AlertSink
) -> None:
    demo = start_demo(GAMEDAY_DEMO_CACHE_CREDENTIALS="1", GAMEDAY_ALERT_URL=alert_sink.url)
    faults.add("sts")

    wait_until(lambda: alert_sink.of("credentials") == ["degraded"], 5, "a credentials alert")
    wait_until(lambda: faults.hits() >= 6, 5, "several more failed refreshes")
    credentials = demo.health("credentials")
    order = demo.request("POST", f"/orders/{new_id('cached')}")
    health = demo.health()
    faults.clear()

    assert credentials.status == 200
    assert str(credentials.body["detail"]).startswith("ok (cached, refresh failing")
    assert credentials.body["dependency"] == "failing"
    assert order.status == 201
    assert health.status == 200
    wait_until(
        lambda: alert_sink.of("credentials") == ["degraded", "recovered"], 5, "a recovery alert"
    )
    assert demo.health("credentials").body["detail"] == "ok"
    assert {alert["component"] for alert in alert_sink.alerts} == {"credentials"}


def test_naive_credentials_fail_every_aws_path_while_sts_fails(
    start_demo: DemoFactory, faults: Faults, alert_sink: AlertSink
) -> None:
    demo = start_demo(GAMEDAY_DEMO_CACHE_CREDENTIALS="0", GAMEDAY_ALERT_URL=alert_sink.url)
    faults.add("sts")

    wait_until(lambda: demo.health().status == 503, 5, "health down without credentials")
    health = demo.health()
    order = demo.request("POST", f"/orders/{new_id('naive')}")
    deploy = demo.request("POST", "/deploy")

    assert health.body["degraded"] == ["credentials"]
    assert _detail(health.body, "credentials") == "no credentials: the refresh is failing"
    assert order.status == 503
    assert "no credentials" in str(order.body["error"])
    assert deploy.status == 200  # the image cache stands in for ECR, as it would for an outage
    assert deploy.body["source"] == "cache"
    assert alert_sink.of("credentials") == ["degraded"]

    faults.clear()
    wait_until(lambda: demo.health("credentials").status == 200, 5, "credentials again")
    assert demo.request("POST", f"/orders/{new_id('naive')}").status == 201
    wait_until(lambda: demo.health().status == 200, 5, "health again")
    assert alert_sink.of("credentials") == ["degraded", "recovered"]


def test_orders_fail_over_and_the_breaker_spares_the_home_region(
    start_demo: DemoFactory,
    faults: Faults,
    gateway: Gateway,
    alert_sink: AlertSink,
    moto_url: str,
    resources: Resources,
) -> None:
    demo = start_demo(
        GAMEDAY_DEMO_REGIONS=f"{HOME},{FAILOVER}",
        GAMEDAY_DEMO_FAILOVER_REGION=FAILOVER,
        GAMEDAY_ALERT_URL=alert_sink.url,
    )
    faults.add("dynamodb", region=HOME)
    ids = [new_id("failover") for _ in range(4)]

    first = [demo.request("POST", f"/orders/{order_id}") for order_id in ids[:2]]
    seen = GatewayClient(gateway.url).requests().last_seq
    later = [demo.request("POST", f"/orders/{order_id}") for order_id in ids[2:]]
    after_breaker = GatewayClient(gateway.url).requests(since=seen).requests
    health = demo.health()
    read = demo.request("GET", f"/orders/{ids[0]}")
    unknown = demo.request("GET", f"/orders/{new_id('never')}")

    assert [answer.status for answer in first + later] == [201] * 4
    assert {answer.body["region"] for answer in first + later} == {FAILOVER}
    assert not [r for r in after_breaker if r.service == "dynamodb" and r.region == HOME]
    assert health.status == 200
    assert _detail(health.body, "orders").startswith(f"ok (writing to {FAILOVER}: {HOME} failing")
    assert read.status == 200
    assert read.body["region"] == FAILOVER
    assert unknown.status == 503  # the home region may hold it: "not found" would be a guess
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=FAILOVER)
    for order_id in ids:
        assert "Item" in dynamodb.get_item(TableName=resources.table, Key={"id": {"S": order_id}})
    assert alert_sink.of("orders") == ["degraded"]

    faults.clear()
    # The breaker lets a write try the home region again 5 s after it opened.
    wait_until(
        lambda: demo.request("POST", f"/orders/{new_id('home')}").body["region"] == HOME,
        8,
        "writes back in the home region",
        interval_s=0.5,
    )
    assert demo.request("GET", f"/orders/{ids[0]}").body["region"] == FAILOVER
    wait_until(lambda: alert_sink.of("orders") == ["degraded", "recovered"], 3, "recovery alert")


def test_orders_without_failover_are_refused_not_lost(
    start_demo: DemoFactory, faults: Faults
) -> None:
    demo = start_demo()
    faults.add("dynamodb", region=HOME)

    answer = demo.request("POST", f"/orders/{new_id('refused')}")
    health = demo.health()

    assert answer.status == 503
    assert "ServiceUnavailable" in str(answer.body["error"])
    assert health.status == 503
    assert health.body["degraded"] == ["orders"]
    faults.clear()
    assert demo.request("POST", f"/orders/{new_id('again')}").status == 201
    assert demo.health().status == 200  # the first success ends it, no memory to wait out


def test_a_blackholed_home_region_costs_two_timeouts_then_none(
    start_demo: DemoFactory, faults: Faults
) -> None:
    demo = start_demo(
        GAMEDAY_DEMO_REGIONS=f"{HOME},{FAILOVER}", GAMEDAY_DEMO_FAILOVER_REGION=FAILOVER
    )
    faults.add("dynamodb", Mode.BLACKHOLE, region=HOME)

    slow = [_timed(demo, "POST", f"/orders/{new_id('slow')}") for _ in range(2)]
    fast = [_timed(demo, "POST", f"/orders/{new_id('fast')}") for _ in range(3)]

    assert [(answer.status, answer.body["region"]) for answer, _ in slow + fast] == [
        (201, FAILOVER)
    ] * 5
    # Two attempts of a 1 s read timeout each, then the failover write.
    assert all(1.9 < took_s < 3.5 for _, took_s in slow), slow
    assert all(took_s < 0.5 for _, took_s in fast), fast
    assert demo.health().status == 200


def _timed(demo: Demo, method: str, path: str) -> tuple[Response, float]:
    started = time.monotonic()
    answer = demo.request(method, path)
    return answer, time.monotonic() - started


def test_a_dead_alert_sink_does_not_slow_the_service(
    start_demo: DemoFactory, faults: Faults
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/alerts"
        demo = start_demo(GAMEDAY_ALERT_URL=url)
        faults.add("sts")
        wait_until(
            lambda: demo.health("credentials").body["dependency"] == "failing", 5, "an alert"
        )

        answers = [_timed(demo, "GET", "/health") for _ in range(5)]
        order = _timed(demo, "POST", f"/orders/{new_id('unpaged')}")
        # The post gives up after its own 1 s timeout, and says so.
        wait_until(lambda: '"msg": "alert sink unreachable"' in demo.logs(), 3, "the timeout")

    assert all(answer.status == 200 and took_s < 0.5 for answer, took_s in answers), answers
    assert order[0].status == 201
    assert order[1] < 0.5


def test_the_spool_replays_audit_lines_written_during_a_logs_outage(
    start_demo: DemoFactory,
    faults: Faults,
    alert_sink: AlertSink,
    moto_url: str,
    resources: Resources,
) -> None:
    demo = start_demo(GAMEDAY_DEMO_LOG_SPOOL="1", GAMEDAY_ALERT_URL=alert_sink.url)
    faults.add("logs")
    markers = [new_id("spooled") for _ in range(3)]

    answers = [demo.request("POST", f"/audit/{marker}") for marker in markers]
    wait_until(lambda: alert_sink.of("audit_log") == ["degraded"], 5, "an audit_log alert")
    health = demo.health()
    during = audit_messages(moto_url, resources.log_group)
    faults.clear()

    assert {answer.status for answer in answers} == {202}
    assert health.status == 200
    assert _detail(health.body, "audit_log") == "ok (spooling 3 lines, shipping failing)"
    expected = {f"audit marker={marker}" for marker in markers}
    assert not expected & during
    wait_until(
        lambda: expected <= audit_messages(moto_url, resources.log_group),
        5,
        "the spooled lines replayed",
    )
    wait_until(lambda: alert_sink.of("audit_log") == ["degraded", "recovered"], 3, "recovery")


def test_the_naive_buffer_loses_audit_lines_written_during_a_logs_outage(
    start_demo: DemoFactory, faults: Faults, moto_url: str, resources: Resources
) -> None:
    demo = start_demo(GAMEDAY_DEMO_LOG_SPOOL="0")
    faults.add("logs")
    lost = [new_id("lost") for _ in range(3)]

    answers = [demo.request("POST", f"/audit/{marker}") for marker in lost]
    wait_until(
        lambda: _detail(demo.health().body, "audit_log").endswith("3 lines dropped so far"),
        5,
        "the batch dropped",
    )
    health = demo.health()
    faults.clear()
    kept = new_id("kept")
    demo.request("POST", f"/audit/{kept}")

    assert {answer.status for answer in answers} == {202}  # acknowledged...
    assert health.status == 503
    wait_until(
        lambda: f"audit marker={kept}" in audit_messages(moto_url, resources.log_group),
        5,
        "shipping again",
    )
    assert not {f"audit marker={marker}" for marker in lost} & audit_messages(
        moto_url, resources.log_group
    )  # lost


@pytest.mark.parametrize(
    ("image_cache", "status", "source"), [("1", 200, "cache"), ("0", 503, None)]
)
def test_deploy_during_an_ecr_outage(
    start_demo: DemoFactory,
    faults: Faults,
    alert_sink: AlertSink,
    resources: Resources,
    image_cache: str,
    status: int,
    source: str | None,
) -> None:
    demo = start_demo(GAMEDAY_DEMO_IMAGE_CACHE=image_cache, GAMEDAY_ALERT_URL=alert_sink.url)
    faults.add("ecr")

    deployed = demo.request("POST", "/deploy")
    health = demo.health()

    assert deployed.status == status
    assert deployed.body.get("source") == source
    if source is not None:
        assert deployed.body["digest"] == resources.digest
        assert health.status == 200
    else:
        assert "BatchGetImage failed: ServiceUnavailable" in str(deployed.body["error"])
        assert health.body["degraded"] == ["registry"]
    wait_until(lambda: alert_sink.of("registry") == ["degraded"], 3, "a registry alert")

    faults.clear()
    assert demo.request("POST", "/deploy").body["source"] == "ecr"
    wait_until(lambda: alert_sink.of("registry") == ["degraded", "recovered"], 3, "recovery")
