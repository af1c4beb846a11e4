"""The fault store and request ring on their own, with a fake clock and a seeded RNG."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from gameday.faults.modes import Mode
from gameday.gateway.classify import Protocol, RequestInfo
from gameday.gateway.models import ChaosRule, FaultSpec, Latency, Outcome
from gameday.gateway.store import CHAOS_TTL_S, FaultStore, RequestLog
from tests.integration.gateway.helpers import fault

STS = RequestInfo(
    service="sts",
    region="us-east-1",
    operation="GetCallerIdentity",
    protocol=Protocol.QUERY,
    signing_name="sts",
)
LOGS_WEST = RequestInfo(
    service="logs",
    region="us-west-2",
    operation="PutLogEvents",
    protocol=Protocol.JSON,
    signing_name="logs",
)
UNCLASSIFIED = RequestInfo(service=None, region="us-east-1", operation=None, protocol=None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FaultStore:
    return FaultStore(rng=random.Random(1), clock=clock)


def test_ttl_is_checked_on_each_match(store: FaultStore, clock: FakeClock) -> None:
    store.put(fault("f", Mode.THROTTLE, ttl_s=10))

    clock.now += 9.999
    assert store.match(STS) is not None
    clock.now += 0.001
    assert store.match(STS) is None
    assert store.active() == []


def test_sweep_drops_expired_faults(store: FaultStore, clock: FakeClock) -> None:
    store.put(fault("short", Mode.THROTTLE, ttl_s=1))
    store.put(fault("long", Mode.THROTTLE, ttl_s=100))
    clock.now += 2

    assert store.sweep() == 1
    assert [f.id for f in store.active()] == ["long"]


def test_matching_by_service_region_and_operation(store: FaultStore) -> None:
    store.put(fault("west-logs", Mode.DENIED, services=("logs",), regions=("us-west-2",)))
    store.put(fault("sts-op", Mode.DENIED, operations=("GetCallerIdentity",)))

    assert store.match(LOGS_WEST).id == "west-logs"  # type: ignore[union-attr]
    assert store.match(STS).id == "sts-op"  # type: ignore[union-attr]
    assert store.match(RequestInfo("logs", "us-east-1", "PutLogEvents", Protocol.JSON)) is None


def test_unclassified_requests_only_match_region_only_faults(store: FaultStore) -> None:
    store.put(fault("all", Mode.UNAVAILABLE))
    store.put(fault("sts", Mode.UNAVAILABLE, services=("sts",)))
    store.put(fault("op", Mode.UNAVAILABLE, regions=("us-east-1",), operations=("X",)))
    assert store.match(UNCLASSIFIED) is None

    store.put(fault("east", Mode.UNAVAILABLE, regions=("us-east-1",)))
    assert store.match(UNCLASSIFIED).id == "east"  # type: ignore[union-attr]


def test_probability_draws_are_reproducible_and_only_for_requests_in_scope(
    clock: FakeClock,
) -> None:
    def run(with_noise: bool) -> list[bool]:
        store = FaultStore(rng=random.Random(5), clock=clock)
        store.put(fault("coin", Mode.THROTTLE, services=("sts",), probability=0.3))
        results = []
        for _ in range(200):
            if with_noise:
                store.match(LOGS_WEST)  # out of scope: must not consume a draw
            results.append(store.match(STS) is not None)
        return results

    plain = run(with_noise=False)
    assert plain == run(with_noise=True)
    assert 30 < sum(plain) < 90


def test_zero_and_one_probability_never_draw(clock: FakeClock) -> None:
    rng = random.Random(3)
    state = rng.getstate()
    store = FaultStore(rng=rng, clock=clock)
    store.put(fault("never", Mode.THROTTLE, probability=0.0))
    store.put(fault("always", Mode.DENIED))

    assert store.match(STS).id == "always"  # type: ignore[union-attr]
    assert rng.getstate() == state


def test_hits_are_counted(store: FaultStore) -> None:
    store.put(fault("f", Mode.THROTTLE))
    for _ in range(3):
        store.match(STS)

    assert store.statuses()[0].hits == 3


def test_chaos_rules_replace_add_and_remove(store: FaultStore) -> None:
    one = ChaosRule(service="sts")
    two = ChaosRule(service="logs", operation="PutLogEvents")
    store.set_chaos_rules([(one, one.as_body(CHAOS_TTL_S)), (two, two.as_body(CHAOS_TTL_S))])
    store.add_chaos_rules([(one, one.as_body(CHAOS_TTL_S))])
    assert store.chaos_rules() == [one, two, one]

    store.remove_chaos_rules([ChaosRule(service="sts")])
    assert store.chaos_rules() == [two]
    store.set_chaos_rules([])
    assert store.chaos_rules() == []


def test_latency_forms() -> None:
    assert Latency.model_validate(Latency.parse(0.5)) == Latency(min_s=0.5, max_s=0.5)
    assert Latency.model_validate(Latency.parse("0.1..0.3")) == Latency(min_s=0.1, max_s=0.3)
    with pytest.raises(ValidationError, match="max_s"):
        Latency(min_s=2, max_s=1)
    with pytest.raises(ValueError, match=r"neither seconds nor 'min\.\.max'"):
        Latency.parse("soon")


def test_fault_spec_is_frozen_and_strict() -> None:
    spec = fault("f", Mode.THROTTLE)
    with pytest.raises(ValidationError):
        spec.id = "g"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        FaultSpec.model_validate(
            {"id": "f", "effect": {"mode": "throttle"}, "ttl_seconds": 1, "extra": 1}
        )


def test_ring_keeps_the_newest_and_says_how_many_were_dropped() -> None:
    log = RequestLog(size=5, wall_clock=lambda: 42.0)
    for _ in range(8):
        log.record("POST", STS, 200, Outcome.FORWARDED, None, 0.001)

    page = log.page(since=0)
    assert [r.seq for r in page.requests] == [4, 5, 6, 7, 8]
    assert (page.dropped, page.last_seq) == (3, 8)
    assert [r.seq for r in log.page(since=6).requests] == [7, 8]
    assert log.page(since=6).dropped == 0
    assert log.page(since=8).requests == ()
    assert [r.seq for r in log.page(since=3, limit=2).requests] == [4, 5]
    assert log.page(since=3, limit=2).last_seq == 5
