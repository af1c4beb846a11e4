"""The demo's automation (``self_heal``) under a real fault from the gateway: the naive one
deletes and recreates its table, the resilient one reads, backs off and pages.

Each test has a table of its own: the naive automation destroys the one it is given.
"""

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

# The table's data calls fail as if the app's role had lost its DynamoDB permissions; the
# table itself, and calls that manage it, are untouched.
DATA_CALLS = ("PutItem", "GetItem")


@pytest.fixture
def own_table(moto_url: str) -> str:
    """A table of this test's own, holding one order written before the demo starts."""
    table = new_id("orders-heal")
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=HOME)
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "before"}, "created_at": {"S": "x"}})
    return table


def _items(moto_url: str, table: str) -> set[str]:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=HOME)
    return {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}


def _operations(client: GatewayClient, since: int, table_calls: set[str]) -> list[str]:
    return [op for _, _, op in requests_since(client, since) if op in table_calls]


MANAGE = {"DeleteTable", "CreateTable", "DescribeTable"}


def test_naive_automation_deletes_and_recreates_the_table_losing_its_orders(
    start_demo: DemoFactory, faults: Faults, gateway: Gateway, moto_url: str, own_table: str
) -> None:
    demo = start_demo(GAMEDAY_DEMO_SELF_HEAL="naive", GAMEDAY_DEMO_TABLE=own_table)
    client = GatewayClient(gateway.url)
    since = client.requests(since=0).last_seq
    faults.add("dynamodb", Mode.DENIED, HOME, DATA_CALLS)

    refused = [demo.request("POST", f"/orders/{new_id('denied')}").status for _ in range(3)]
    wait_until(
        lambda: "CreateTable" in _operations(client, since, MANAGE), 10, "the table recreated"
    )
    faults.clear()

    assert refused == [503, 503, 503]
    calls = _operations(client, since, MANAGE)
    assert calls.index("DeleteTable") < calls.index("CreateTable")
    # The order written before the outage went with the table it was in.
    assert _items(moto_url, own_table) == set()
    assert "self-heal: table recreated, empty" in demo.logs()
    assert demo.request("POST", f"/orders/{new_id('after')}").status == 201


def test_naive_automation_whose_delete_is_refused_destroys_nothing(
    start_demo: DemoFactory, faults: Faults, gateway: Gateway, moto_url: str, own_table: str
) -> None:
    demo = start_demo(GAMEDAY_DEMO_SELF_HEAL="naive", GAMEDAY_DEMO_TABLE=own_table)
    client = GatewayClient(gateway.url)
    since = client.requests(since=0).last_seq
    faults.add("dynamodb", Mode.DENIED, HOME, (*DATA_CALLS, "DeleteTable"))

    for _ in range(3):
        demo.request("POST", f"/orders/{new_id('denied')}")
    wait_until(
        lambda: "DeleteTable" in _operations(client, since, MANAGE), 10, "a DeleteTable attempt"
    )
    wait_until(lambda: "self-heal: DeleteTable failed" in demo.logs(), 5, "the refusal logged")
    faults.clear()

    assert "CreateTable" not in _operations(client, since, MANAGE)
    assert _items(moto_url, own_table) == {"before"}


def test_resilient_automation_checks_pages_once_and_never_destroys(
    start_demo: DemoFactory,
    faults: Faults,
    gateway: Gateway,
    moto_url: str,
    own_table: str,
    alert_sink: AlertSink,
) -> None:
    demo = start_demo(
        GAMEDAY_DEMO_SELF_HEAL="resilient",
        GAMEDAY_DEMO_TABLE=own_table,
        GAMEDAY_ALERT_URL=alert_sink.url,
    )
    client = GatewayClient(gateway.url)
    since = client.requests(since=0).last_seq
    faults.add("dynamodb", Mode.DENIED, HOME, DATA_CALLS)

    for _ in range(5):
        demo.request("POST", f"/orders/{new_id('denied')}")
    wait_until(lambda: alert_sink.of("self_heal") == ["degraded"], 10, "the automation's page")
    # More failures while it backs off: still one page, no second opinion on the table.
    for _ in range(3):
        demo.request("POST", f"/orders/{new_id('denied')}")
    faults.clear()
    assert demo.request("POST", f"/orders/{new_id('after')}").status == 201
    wait_until(lambda: alert_sink.of("self_heal") == ["degraded", "recovered"], 5, "the recovery")

    calls = _operations(client, since, MANAGE)
    assert "DescribeTable" in calls
    assert "DeleteTable" not in calls and "CreateTable" not in calls
    page = next(a for a in alert_sink.alerts if a["component"] == "self_heal")
    assert "table ACTIVE" in page["message"]
    assert "AccessDenied" in page["message"]
    assert "before" in _items(moto_url, own_table)


def test_automation_off_by_default_makes_no_table_calls(
    start_demo: DemoFactory, faults: Faults, gateway: Gateway, own_table: str
) -> None:
    demo = start_demo(GAMEDAY_DEMO_TABLE=own_table)
    client = GatewayClient(gateway.url)
    since = client.requests(since=0).last_seq
    faults.add("dynamodb", Mode.DENIED, HOME, DATA_CALLS)

    for _ in range(5):
        demo.request("POST", f"/orders/{new_id('denied')}")
    # The other modes act within milliseconds of the third failure; give them ten times that.
    time.sleep(0.5)
    faults.clear()
    demo.request("POST", f"/orders/{new_id('after')}")

    assert _operations(client, since, MANAGE) == []
