"""The ``destructive_calls`` guardrail through the engine's seam (issue 17): a stage that
reports a destructive call once a fault is in force aborts the drill at once and rolls back;
a stage that cannot see the app's calls refuses a drill that needs them, before any fault."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.suite import exit_code_for
from gameday.environments.stage import Stage, StageRequest
from gameday.errors import ExitCode
from gameday.kinds import RunStatus
from gameday.result import DestructiveCall, RunResult
from tests.unit.engine.fakes import (
    FakeEnvironment,
    FaultyApp,
    RecordingInjector,
    plan_for,
    scenario_file,
    serving,
)


@pytest.fixture
def app() -> Iterator[FaultyApp]:
    with serving() as server:
        yield server


class _Watched(FakeEnvironment):
    """The fake environment, with a gateway that sees the app delete a table once a fault
    is in force (``watch_calls``), or with no view of the app's calls at all."""

    watching: bool = True
    polls: int = 0

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        stage = await super().bring_up(request, stack)
        if not self.watching:
            return stage
        reported: list[bool] = []

        def poll() -> list[DestructiveCall]:
            self.polls += 1
            if reported or not self.injector.calls:
                return []
            reported.append(True)
            return [
                DestructiveCall(
                    at=request.now(),
                    service="dynamodb",
                    operation="DeleteTable",
                    resource="orders",
                    outcome="denied",
                )
            ]

        return dataclasses.replace(stage, watch_calls=poll)


def _run(environment: FakeEnvironment, path: Path) -> RunResult:
    return run_drill(plan_for(path), RunOptions(environment=environment), time.monotonic)


def test_the_first_destructive_call_aborts_and_rolls_back(tmp_path: Path, app: FaultyApp) -> None:
    injector = RecordingInjector(app)
    path = scenario_file(tmp_path, guardrails="{abort_when: [{destructive_calls: 1}]}")
    environment = _Watched(injector)
    result = _run(environment, path)
    assert result.status is RunStatus.ABORTED
    assert exit_code_for([result]) is ExitCode.ABORTED
    assert result.reason is not None
    assert result.reason.startswith(
        "guardrail: the app made 1 destructive call(s) (abort at 1), the last dynamodb "
        "DeleteTable orders at t="
    )
    assert result.reason.endswith(" (denied)")
    assert injector.calls[0] == ("inject", "sts-down") and ("remove", "sts-down") in injector.calls
    assert result.rollback.complete
    kinds = [e.kind for e in result.events]
    assert kinds.count("abort") == 1 and "destructive" in kinds
    assert kinds.index("destructive") < kinds.index("abort")
    (fault,) = result.faults
    # Stopped at the call, long before the fault's own end (150 ms after its start).
    abort_at = next(e.at for e in result.events if e.kind == "abort")
    assert fault.injected_at is not None and abort_at - fault.injected_at < 0.15
    assert environment.polls >= 1


def test_a_drill_that_needs_the_apps_calls_refuses_a_stage_that_cannot_see_them(
    tmp_path: Path, app: FaultyApp
) -> None:
    injector = RecordingInjector(app)
    path = scenario_file(tmp_path, guardrails="{abort_when: [{destructive_calls: 1}]}")
    environment = _Watched(injector)
    environment.watching = False
    result = _run(environment, path)
    assert result.status is RunStatus.ERROR
    assert result.reason == (
        "this scenario counts or refuses destructive calls, and on embedded no gateway sees "
        "the app's calls"
    )
    assert injector.calls == [("finish", "")]  # nothing was ever injected
