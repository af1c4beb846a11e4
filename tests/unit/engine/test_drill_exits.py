"""Every way out of a drill, through the engine's seam with recording fakes: the status, the
exit code, the rollback and the events. No subprocess, no emulator: a fake environment hands
the drill a recording injector whose faults make a loopback app answer 500."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.suite import exit_code_for
from gameday.errors import ExitCode
from gameday.faults.rules import Rule
from gameday.kinds import RunStatus
from gameday.recorder import Recorder
from gameday.result import RunResult
from tests.unit.engine.fakes import (
    FakeEnvironment,
    FaultyApp,
    RecordingInjector,
    plan_for,
    scenario_file,
    serving,
    signal_self,
)


@pytest.fixture
def app() -> Iterator[FaultyApp]:
    with serving() as server:
        yield server


def _run(path: Path, injector: RecordingInjector, **options: object) -> RunResult:
    environment = FakeEnvironment(injector)
    result = run_drill(
        plan_for(path), RunOptions(environment=environment, **options), time.monotonic
    )
    assert environment.torn_down == [True]
    return result


def _kinds(result: RunResult) -> list[str]:
    return [e.kind for e in result.events]


def test_a_normal_end_removes_the_fault_once_and_passes(tmp_path: Path, app: FaultyApp) -> None:
    injector = RecordingInjector(app)
    result = _run(scenario_file(tmp_path), injector)
    assert result.status is RunStatus.PASSED, result.reason
    assert injector.calls == [("inject", "sts-down"), ("remove", "sts-down"), ("finish", "")]
    assert result.rollback.complete and result.rollback.problems == []
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None
    assert fault.not_removed is None
    assert exit_code_for([result]) is ExitCode.OK
    assert result.gateway.total == 3  # the stage's evidence reaches the result


def test_a_guardrail_aborts_and_rolls_back(tmp_path: Path, app: FaultyApp) -> None:
    app.suffers = True
    rails = "{abort_when: [{probe: api, consecutive_failures: 2}]}"
    path = scenario_file(
        tmp_path,
        guardrails=rails,
        faults="[{name: sts-down, kind: identity-loss, start_after: 50ms, duration: 2s}]",
    )
    injector = RecordingInjector(app)
    result = _run(path, injector)
    assert result.status is RunStatus.ABORTED
    assert result.reason == "guardrail: probe 'api' failed 2 times in a row"
    assert injector.calls == [("inject", "sts-down"), ("remove", "sts-down"), ("finish", "")]
    (fault,) = result.faults
    assert fault.removed_at is not None and fault.removed_at < 1.5  # not at its planned 2 s
    assert result.rollback.complete
    assert exit_code_for([result]) is ExitCode.ABORTED


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_aborts_and_rolls_back(
    tmp_path: Path, app: FaultyApp, signum: signal.Signals
) -> None:
    path = scenario_file(
        tmp_path,
        faults="[{name: sts-down, kind: identity-loss, start_after: 0s, duration: 2500ms}]",
    )
    before = signal.getsignal(signum)
    injector = RecordingInjector(app, on_inject=signal_self(signum))
    result = _run(path, injector)
    assert result.status is RunStatus.ABORTED
    assert result.reason == f"signal {signum.name}"
    assert ("remove", "sts-down") in injector.calls and injector.finished == 1
    assert result.rollback.complete
    assert exit_code_for([result]) is ExitCode.ABORTED
    assert signal.getsignal(signum) == before  # the handlers are put back


def test_a_failed_inject_is_an_error_and_still_finishes(tmp_path: Path, app: FaultyApp) -> None:
    injector = RecordingInjector(app, fail_inject=True)
    result = _run(scenario_file(tmp_path), injector)
    assert result.status is RunStatus.ERROR
    assert result.reason == (
        "injecting faults failed: could not inject sts-down: "
        "PUT /_gameday/faults/sts-down failed with 503"
    )
    assert injector.calls == [("inject", "sts-down"), ("finish", "")]
    assert result.rollback.complete
    assert result.faults[0].injected_at is None
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN


def test_a_removal_failing_once_is_taken_back_by_the_rollback(
    tmp_path: Path, app: FaultyApp
) -> None:
    injector = RecordingInjector(app, removal_failures=1)
    result = _run(scenario_file(tmp_path), injector)
    assert result.rollback.complete, result.rollback.problems
    assert injector.calls == [
        ("inject", "sts-down"),
        ("remove", "sts-down"),  # fails: the fault is not recorded as removed
        ("finish", ""),
        ("remove", "sts-down"),  # the rollback's second try
    ]
    assert "remove-failed" in _kinds(result)
    (fault,) = result.faults
    assert fault.removed_at is not None and fault.not_removed is None
    assert result.status is RunStatus.PASSED
    assert exit_code_for([result]) is ExitCode.OK


def test_a_removal_failing_for_good_is_exit_5_and_keeps_the_status(
    tmp_path: Path, app: FaultyApp
) -> None:
    injector = RecordingInjector(app, removal_failures=-1)
    result = _run(scenario_file(tmp_path), injector)
    assert result.status is RunStatus.PASSED  # the drill's own verdict is kept
    assert result.rollback.complete is False
    assert result.rollback.problems == [
        "fault sts-down may still be in force: DELETE /_gameday/faults/sts-down: connection refused"
    ]
    assert "rollback-failed" in _kinds(result)
    (fault,) = result.faults
    assert fault.removed_at is None
    assert fault.not_removed == result.rollback.problems[0]
    assert exit_code_for([result]) is ExitCode.ROLLBACK_FAILED
    # 5 overrides every other code in a suite, a missed objective's 1 included
    missed = result.model_copy(update={"status": RunStatus.FAILED})
    assert exit_code_for([missed, result]) is ExitCode.ROLLBACK_FAILED


def test_an_injector_api_error_mid_drill_stops_and_rolls_back(
    tmp_path: Path, app: FaultyApp
) -> None:
    path = scenario_file(
        tmp_path,
        faults="[{name: sts-down, kind: identity-loss, start_after: 0s, duration: 2500ms}]",
    )
    environment = FakeEnvironment(RecordingInjector(app))

    def follow_fails(rule: Rule) -> None:
        del rule  # as the FIS follower does when GetExperiment is denied
        environment.requests[0].fail("could not follow the FIS experiment: AccessDenied")

    environment.injector.on_inject = follow_fails
    started = time.monotonic()
    result = run_drill(plan_for(path), RunOptions(environment=environment), time.monotonic)
    assert time.monotonic() - started < 2  # at once, not at the end of the 2.5 s window
    assert result.status is RunStatus.ERROR
    assert result.reason == "could not follow the FIS experiment: AccessDenied"
    assert environment.injector.calls == [
        ("inject", "sts-down"),
        ("remove", "sts-down"),
        ("finish", ""),
    ]
    assert result.rollback.complete
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN


def test_a_bug_during_observation_still_rolls_back(tmp_path: Path, app: FaultyApp) -> None:
    def broken(recorder: Recorder, kind: str, detail: str) -> None:
        del recorder, detail
        if kind == "inject":
            raise RuntimeError("listener bug")

    injector = RecordingInjector(app)
    result = _run(scenario_file(tmp_path), injector, listeners=[broken])
    assert result.status is RunStatus.ERROR
    assert result.reason == "internal error: RuntimeError: listener bug"
    assert ("remove", "sts-down") in injector.calls and injector.finished == 1
    assert result.rollback.complete
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN


def test_not_steady_injects_nothing_and_still_finishes(tmp_path: Path, app: FaultyApp) -> None:
    app.suffers = True
    app.faulted.set()  # unhealthy before any fault
    injector = RecordingInjector(app)
    result = _run(scenario_file(tmp_path), injector)
    assert result.status is RunStatus.NOT_STEADY
    assert injector.calls == [("finish", "")]
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN
