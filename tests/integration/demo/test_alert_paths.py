"""The demo's two alert paths: SNS in the home region first (moto delivers its HTTP
notification to the webhook), the webhook itself when SNS is down, and nothing at all when
the primary path is down and there is no fallback."""

from __future__ import annotations

import time

import boto3
import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.demo.conftest import (
    HOME,
    AlertSink,
    DemoFactory,
    Faults,
    new_id,
    requests_since,
    wait_until,
)


@pytest.fixture
def topic(moto_url: str) -> str:
    """An SNS topic in the home region, created straight in moto, as setup would."""
    name = new_id("pager")
    boto3.client("sns", endpoint_url=moto_url, region_name=HOME).create_topic(Name=name)
    return name


def _break_orders(faults: Faults) -> None:
    faults.add("dynamodb", Mode.UNAVAILABLE, HOME, ("PutItem", "GetItem"))


def test_alerts_go_through_the_sns_topic_while_it_answers(
    start_demo: DemoFactory,
    faults: Faults,
    gateway: Gateway,
    alert_sink: AlertSink,
    topic: str,
) -> None:
    demo = start_demo(GAMEDAY_DEMO_ALERT_TOPIC=topic, GAMEDAY_ALERT_URL=alert_sink.url)
    client = GatewayClient(gateway.url)
    since = client.requests(since=0).last_seq
    _break_orders(faults)

    assert demo.request("POST", f"/orders/{new_id('down')}").status == 503
    wait_until(lambda: alert_sink.of("orders") == ["degraded"], 5, "the orders alert")

    assert [a["component"] for a in alert_sink.via_sns()] == ["orders"]
    assert alert_sink.via_webhook() == []
    assert ("sns", HOME, "Publish") in requests_since(client, since)


def test_the_webhook_takes_over_when_the_topic_is_down(
    start_demo: DemoFactory, faults: Faults, alert_sink: AlertSink, topic: str
) -> None:
    demo = start_demo(GAMEDAY_DEMO_ALERT_TOPIC=topic, GAMEDAY_ALERT_URL=alert_sink.url)
    faults.add("sns", Mode.UNAVAILABLE, HOME)
    _break_orders(faults)

    started = time.monotonic()
    demo.request("POST", f"/orders/{new_id('down')}")
    wait_until(lambda: alert_sink.of("orders") == ["degraded"], 5, "the orders alert")
    delay_s = time.monotonic() - started

    assert alert_sink.via_sns() == []
    assert [a["component"] for a in alert_sink.via_webhook()] == ["orders"]
    assert "alert sent through the fallback webhook" in demo.logs()
    # Two quick 503s from SNS, then the webhook: not a timeout's worth of silence.
    assert delay_s < 2.0


def test_without_a_fallback_the_alert_is_lost_while_the_topic_is_down(
    start_demo: DemoFactory, faults: Faults, alert_sink: AlertSink, topic: str
) -> None:
    demo = start_demo(
        GAMEDAY_DEMO_ALERT_TOPIC=topic,
        GAMEDAY_DEMO_ALERT_FALLBACK="0",
        GAMEDAY_ALERT_URL=alert_sink.url,
    )
    faults.add("sns", Mode.UNAVAILABLE, HOME)
    _break_orders(faults)

    demo.request("POST", f"/orders/{new_id('down')}")
    wait_until(lambda: "alert lost" in demo.logs(), 5, "the lost alert logged")

    assert alert_sink.alerts == []
