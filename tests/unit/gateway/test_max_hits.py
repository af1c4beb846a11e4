"""``match.max_hits``: a fault that answers the first N matching requests, then none."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from gameday.gateway.classify import Protocol, RequestInfo
from gameday.gateway.models import FaultSpec
from gameday.gateway.store import FaultStore

STOP = RequestInfo(
    service="fis",
    region="us-west-2",
    operation="StopExperiment",
    protocol=Protocol.REST_JSON,
    signing_name="fis",
)
GET = RequestInfo(
    service="fis",
    region="us-west-2",
    operation="GetExperiment",
    protocol=Protocol.REST_JSON,
    signing_name="fis",
)


def spec(fault_id: str, operations: tuple[str, ...] = (), **match: object) -> FaultSpec:
    return FaultSpec.model_validate(
        {
            "id": fault_id,
            "match": {"services": ["fis"], "operations": list(operations), **match},
            "effect": {"mode": "throttle"},
            "ttl_seconds": 60,
        }
    )


def store() -> FaultStore:
    return FaultStore(rng=random.Random(5), clock=lambda: 1000.0)


def test_a_fault_with_max_hits_answers_the_first_n_matching_requests_only() -> None:
    faults = store()
    faults.put(spec("stop-twice", ("StopExperiment",), max_hits=2))
    assert faults.match(GET) is None  # out of scope: not counted
    assert [faults.match(STOP) is not None for _ in range(4)] == [True, True, False, False]
    [status] = faults.statuses()
    assert status.id == "stop-twice" and status.hits == 2 and status.match.max_hits == 2


def test_a_spent_fault_lets_the_next_fault_match() -> None:
    faults = store()
    faults.put(spec("first", max_hits=1))
    faults.put(spec("then", ("StopExperiment",)))
    matched = [faults.match(STOP) for _ in range(3)]
    assert [f.id if f else None for f in matched] == ["first", "then", "then"]


def test_a_put_with_the_same_id_starts_counting_again() -> None:
    faults = store()
    faults.put(spec("once", max_hits=1))
    assert faults.match(STOP) is not None and faults.match(STOP) is None
    faults.put(spec("once", max_hits=1))
    assert faults.match(STOP) is not None


def test_without_max_hits_a_fault_never_runs_out() -> None:
    faults = store()
    faults.put(spec("always"))
    assert all(faults.match(STOP) is not None for _ in range(50))
    assert spec("always").match.max_hits is None


@pytest.mark.parametrize("value", [0, -1, 1.5, "two"])
def test_max_hits_is_a_whole_number_of_one_or_more(value: object) -> None:
    with pytest.raises(ValidationError, match=r"match\.max_hits"):
        spec("bad", max_hits=value)
