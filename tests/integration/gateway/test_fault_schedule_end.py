"""Ending held faults (key e under ``--hold``): the real gateway in front of a real moto
server; the run clock is a fake set by hand, so the recorded times are exact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from botocore.exceptions import ClientError

from gameday.engine.injection import FaultSchedule
from gameday.facilitation.hold import held_rules
from gameday.faults.modes import Mode
from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import GatewayInjector
from gameday.recorder import Recorder
from gameday.result import Rollback
from gameday.scenario.models import FaultKind
from tests.integration.gateway.helpers import aws

RUN_ID = "hold-test"
DEADLINE_S = 300.0


class Ticks:
    """A clock the test sets by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _rule(rule_id: str, service: str, start_s: float, end_s: float) -> Rule:
    return Rule(
        id=rule_id,
        fault=rule_id,
        kind=FaultKind.API_FAULT,
        mode=Mode.UNAVAILABLE,
        services=(service,),
        regions=(),
        operations=(),
        probability=1.0,
        start_s=start_s,
        end_s=end_s,
    )


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the schedule never got there"
        await asyncio.sleep(0.005)


def _sts_works(url: str) -> bool:
    try:
        aws("sts", url).get_caller_identity()
    except ClientError:
        return False
    return True


def test_ending_the_hold_removes_every_fault_at_once_and_injects_no_more(
    gateway: Gateway, admin: GatewayClient
) -> None:
    # "sts" starts at once; "logs" is planned for 20 s in, after the facilitator ends the hold.
    rules = held_rules([_rule("sts", "sts", 0.0, 10.0), _rule("logs", "logs", 20.0, 30.0)], 300.0)
    assert [(r.id, r.end_s) for r in rules] == [("sts", DEADLINE_S), ("logs", DEADLINE_S)]
    clock = Ticks(1000.0)
    recorder = Recorder(clock=clock, origin=1000.0)
    end = asyncio.Event()
    seen: dict[str, object] = {}

    async def main() -> None:
        schedule = FaultSchedule(rules, GatewayInjector(admin, RUN_ID), recorder, end=end)
        task = asyncio.create_task(schedule.run(0.0))
        await _until(lambda: schedule.active == ["sts"])
        seen["held"] = [f.id for f in await asyncio.to_thread(admin.list)]
        seen["sts held"] = await asyncio.to_thread(_sts_works, gateway.url)
        clock.now = 1012.5  # the facilitator presses e 12.5 s into the drill
        end.set()
        await asyncio.wait_for(task, 2.0)  # at once: not at 300 s, not at 20 s
        seen["after"] = await asyncio.to_thread(admin.list)
        seen["sts after"] = await asyncio.to_thread(_sts_works, gateway.url)
        seen["rollback"] = await schedule.rollback()
        seen["active"] = schedule.active

    asyncio.run(main())
    assert seen["held"] == [f"{RUN_ID}.sts"]
    assert seen["sts held"] is False
    assert seen["after"] == []
    assert seen["sts after"] is True
    assert (seen["rollback"], seen["active"]) == (Rollback(), [])
    sts, logs = recorder.faults["sts"], recorder.faults["logs"]
    assert (sts.injected_at, sts.removed_at) == (0.0, 12.5)
    assert (logs.injected_at, logs.removed_at) == (None, None)
    assert recorder.events == [(0.0, "inject", "sts: unavailable"), (12.5, "remove", "sts")]
    assert (recorder.t0, recorder.tend) == (0.0, 12.5)


def test_an_end_before_the_first_fault_injects_nothing(admin: GatewayClient) -> None:
    rules = held_rules([_rule("sts", "sts", 5.0, 10.0)], DEADLINE_S)
    recorder = Recorder(clock=Ticks(1000.0), origin=1000.0)
    end = asyncio.Event()
    end.set()

    async def main() -> list[str]:
        schedule = FaultSchedule(rules, GatewayInjector(admin, RUN_ID), recorder, end=end)
        await asyncio.wait_for(schedule.run(0.0), 2.0)
        return [f.id for f in await asyncio.to_thread(admin.list)]

    assert asyncio.run(main()) == []
    assert recorder.faults["sts"].injected_at is None
    assert recorder.events == []
    assert recorder.t0 is None
