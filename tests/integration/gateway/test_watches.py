"""Watches on the real gateway in front of a real moto server: ``PUT/GET/DELETE
/_gameday/watches/{id}`` over HTTP (validation, auth, limits, TTL), the denial they switch on,
and ``gameday gateway --deny-destructive`` in a subprocess."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from botocore.exceptions import ClientError

from gameday.errors import EnvironmentFailure
from gameday.gateway.client import GatewayClient
from gameday.gateway.ledger import MAX_WATCHES
from gameday.gateway.models import Outcome, WatchSpec
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import hold_watch
from tests.gateway_process import gateway_process
from tests.integration.gateway.helpers import aws
from tests.integration.gateway.test_admin import call


@pytest.fixture
def gateway(moto_url: str) -> Iterator[Gateway]:
    """A fresh gateway: no watch, counts from zero."""
    with Gateway(moto_url) as running:
        yield running


def _table(moto_url: str) -> str:
    name = f"watched-{uuid.uuid4().hex[:8]}"
    aws("dynamodb", moto_url).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _exists(moto_url: str, table: str) -> bool:
    return table in aws("dynamodb", moto_url).list_tables()["TableNames"]


def _delete(url: str, table: str) -> str:
    """DeleteTable through ``url``: "deleted", or the error code botocore read."""
    try:
        aws("dynamodb", url).delete_table(TableName=table)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "deleted"


def test_a_denying_watch_refuses_deletions_until_it_is_removed(
    gateway: Gateway, moto_url: str
) -> None:
    admin = GatewayClient(gateway.url)
    first, second = _table(moto_url), _table(moto_url)
    assert admin.calls().sees_all_calls is True  # the gateway sees every call it is sent
    held = admin.add_watch(WatchSpec(id="run-1", ttl_seconds=60, deny_destructive=True))
    assert held.id == "run-1" and 0 < held.expires_in_s <= 60
    assert _delete(gateway.url, first) == "AccessDeniedException"
    assert _exists(moto_url, first)
    page = admin.calls()
    assert page.deny_destructive and page.watches is not None
    assert [w.id for w in page.watches] == ["run-1"]
    assert page.destructive[-1].outcome is Outcome.DENIED
    assert admin.remove_watch("run-1")
    assert not admin.calls().deny_destructive
    assert _delete(gateway.url, second) == "deleted"
    assert not _exists(moto_url, second)


def test_a_watch_that_does_not_deny_only_watches(gateway: Gateway, moto_url: str) -> None:
    admin = GatewayClient(gateway.url)
    table = _table(moto_url)
    admin.add_watch(WatchSpec(id="count-only", ttl_seconds=60))
    assert _delete(gateway.url, table) == "deleted"
    page = admin.calls()
    assert not page.deny_destructive and page.destructive[-1].outcome is Outcome.FORWARDED


def test_one_denying_watch_among_several_denies_and_each_ends_alone(gateway: Gateway) -> None:
    """Two drills through one gateway: ending one's watch leaves the other's denial."""
    admin = GatewayClient(gateway.url)
    admin.add_watch(WatchSpec(id="a", ttl_seconds=60, deny_destructive=True))
    admin.add_watch(WatchSpec(id="b", ttl_seconds=30))
    assert [w.id for w in admin.watches()] == ["b", "a"]  # soonest to end first
    assert admin.remove_watch("b")
    assert admin.calls().deny_destructive
    assert admin.remove_watch("a")
    assert not admin.calls().deny_destructive and admin.watches() == []


def test_a_watch_ends_at_its_ttl(gateway: Gateway, moto_url: str) -> None:
    admin = GatewayClient(gateway.url)
    admin.add_watch(WatchSpec(id="short", ttl_seconds=0.3, deny_destructive=True))
    table = _table(moto_url)
    time.sleep(0.4)
    assert admin.watches() == [] and not admin.calls().deny_destructive
    assert _delete(gateway.url, table) == "deleted"  # gone for the very next call
    status, body, _ = call(gateway.url, "GET", "/_gameday/watches/short")
    assert (status, body) == (404, {"error": "no watch 'short'", "field": "id"})


def test_a_put_again_replaces_the_watch(gateway: Gateway) -> None:
    body = {"ttl_seconds": 30, "deny_destructive": True}
    assert call(gateway.url, "PUT", "/_gameday/watches/w", body)[0] == 201
    status, held, _ = call(gateway.url, "PUT", "/_gameday/watches/w", {"ttl_seconds": 60})
    assert status == 200 and held["deny_destructive"] is False and held["ttl_seconds"] == 60
    assert call(gateway.url, "GET", "/_gameday/watches/w")[1]["id"] == "w"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "ttl_seconds: Field required"),
        ({"ttl_seconds": 0}, "ttl_seconds: Input should be greater than 0"),
        ({"ttl_seconds": 10, "deny": True}, "deny: Extra inputs are not permitted"),
        ({"ttl_seconds": 10, "id": "other"}, "id 'other' differs from the path's 'w'"),
        ([1], "the body must be a JSON object {ttl_seconds, deny_destructive}"),
    ],
)
def test_a_bad_watch_is_refused_naming_the_field(
    gateway: Gateway, body: object, message: str
) -> None:
    status, answer, _ = call(gateway.url, "PUT", "/_gameday/watches/w", body)
    assert status == 400
    assert answer["error"].startswith(message)
    assert GatewayClient(gateway.url).watches() == []


def test_watch_ids_are_checked_and_unknown_ones_are_404(gateway: Gateway) -> None:
    status, answer, _ = call(gateway.url, "PUT", "/_gameday/watches/-bad", {"ttl_seconds": 5})
    assert status == 400 and answer["field"] == "id"
    assert call(gateway.url, "DELETE", "/_gameday/watches/none")[0] == 404
    assert not GatewayClient(gateway.url).remove_watch("none")
    status, _, headers = call(gateway.url, "POST", "/_gameday/watches/w", {"ttl_seconds": 5})
    assert status == 405 and headers["Allow"] == "DELETE, GET, PUT"


def test_the_gateway_holds_a_bounded_number_of_watches(gateway: Gateway) -> None:
    admin = GatewayClient(gateway.url)
    for i in range(MAX_WATCHES):
        admin.add_watch(WatchSpec(id=f"w{i}", ttl_seconds=60))
    status, answer, _ = call(gateway.url, "PUT", "/_gameday/watches/one-more", {"ttl_seconds": 5})
    assert (status, answer["error"]) == (400, f"the gateway holds at most {MAX_WATCHES} watches")
    assert call(gateway.url, "PUT", "/_gameday/watches/w0", {"ttl_seconds": 5})[0] == 200


def test_watches_need_the_token(moto_url: str) -> None:
    with Gateway(moto_url, token="s3cret") as secured:
        for method, path in [("GET", "/_gameday/watches"), ("PUT", "/_gameday/watches/w")]:
            assert call(secured.url, method, path, {"ttl_seconds": 5})[0] == 401
        status, _, _ = call(secured.url, "PUT", "/_gameday/watches/w", {"ttl_seconds": 5}, "s3cret")
        assert status == 201


def test_hold_watch_sets_checks_and_ends_the_watch(gateway: Gateway) -> None:
    admin = GatewayClient(gateway.url)
    notes: list[tuple[str, str]] = []
    with ExitStack() as stack:
        hold_watch(
            admin, "run-7", stack, ttl_s=60, deny=True, why="target.deny_destructive",
            note=lambda kind, detail: notes.append((kind, detail)),
        )  # fmt: skip
        assert [(w.id, w.deny_destructive) for w in admin.watches()] == [("run-7", True)]
    assert admin.watches() == []
    assert notes == [
        ("environment", f"watching every call at {gateway.url} (TTL 60 s); destructive calls "
         "are refused"),
    ]  # fmt: skip


def test_hold_watch_refuses_a_gateway_that_does_not_answer_for_watches(moto_url: str) -> None:
    """The moto server stands for anything that is not a gameday with watches: the PUT gets
    moto's own 404, and the run must stop there."""
    with ExitStack() as stack, pytest.raises(EnvironmentFailure) as refused:
        hold_watch(
            GatewayClient(moto_url, retry_deadline_s=0.1), "run-8", stack, ttl_s=60,
            deny=True, why="target.deny_destructive", note=lambda kind, detail: None,
        )  # fmt: skip
    assert refused.value.message.startswith(
        f"the gateway or egress proxy at {moto_url} does not support watches (PUT "
        "/_gameday/watches/ answered 404)"
    )
    assert refused.value.hint is not None and "upgrade gameday" in refused.value.hint


@pytest.fixture
def denying_gateway(moto_url: str) -> Iterator[str]:
    """`gameday gateway --deny-destructive` in front of moto, in a subprocess."""
    with gateway_process(moto_url, "--deny-destructive") as gateway:
        assert gateway.ready_line.endswith("; destructive calls are refused")
        yield gateway.url


def test_gateway_deny_destructive_refuses_for_the_process_life(
    denying_gateway: str, moto_url: str
) -> None:
    table = _table(moto_url)
    assert _delete(denying_gateway, table) == "AccessDeniedException"
    assert _exists(moto_url, table)
    admin = GatewayClient(denying_gateway)
    page = admin.calls()
    assert page.deny_destructive and page.watches == ()  # no watch: the process's own flag
    (refused,) = page.destructive
    assert (refused.operation, refused.resource, refused.outcome) == (
        "DeleteTable",
        table,
        Outcome.DENIED,
    )
    # Removing a watch cannot lift it.
    assert not admin.remove_watch("anything")
    assert _delete(denying_gateway, table) == "AccessDeniedException"
