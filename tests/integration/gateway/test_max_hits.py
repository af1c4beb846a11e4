"""``match.max_hits`` through the real gateway: the first N matching calls fail, then the
calls reach moto again, and the spent fault stays listed with its hits."""

from __future__ import annotations

import http.client
import json

import pytest
from botocore.exceptions import ClientError

from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultSpec, Outcome
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import aws, host_port


def test_the_first_two_calls_are_throttled_then_forwarded(
    gateway: Gateway, admin: GatewayClient
) -> None:
    since = admin.requests().last_seq
    admin.add(
        FaultSpec.model_validate(
            {
                "id": "sts-twice",
                "match": {"services": ["sts"], "max_hits": 2},
                "effect": {"mode": "throttle"},
                "ttl_seconds": 60,
            }
        )
    )
    sts = aws("sts", gateway.url)
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            sts.get_caller_identity()
        assert caught.value.response["Error"]["Code"] == "Throttling"
    assert sts.get_caller_identity()["Account"]
    assert sts.get_caller_identity()["Account"]

    records = admin.requests(since).requests
    assert [(r.outcome, r.fault_id) for r in records] == [
        (Outcome.ERROR, "sts-twice"),
        (Outcome.ERROR, "sts-twice"),
        (Outcome.FORWARDED, None),
        (Outcome.FORWARDED, None),
    ]
    [held] = admin.list()
    assert (held.id, held.hits, held.match.max_hits) == ("sts-twice", 2, 2)


def test_the_admin_api_takes_and_shows_max_hits(gateway: Gateway, admin: GatewayClient) -> None:
    body = {
        "match": {"operations": ["StopExperiment"], "max_hits": 3},
        "effect": {"mode": "denied"},
        "ttl_seconds": 30,
    }
    connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
    try:
        connection.request("PUT", "/_gameday/faults/stop-thrice", body=json.dumps(body))
        response = connection.getresponse()
        payload = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 201
    assert (payload["match"]["max_hits"], payload["hits"]) == (3, 0)

    connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
    try:
        bad = {**body, "match": {"max_hits": 0}}
        connection.request("PUT", "/_gameday/faults/bad", body=json.dumps(bad))
        response = connection.getresponse()
        refusal = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400
    assert refusal["field"] == "match.max_hits"
