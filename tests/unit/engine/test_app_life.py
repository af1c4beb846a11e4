"""The app's exit and the tool's failures, through the engine's seam with recording fakes
(issue 15): an app gone before any fault is an error, one gone during a fault a finding that
is graded; upstream failures under the gateway and an unreadable gateway are errors, whatever
a guardrail said; the app's log is kept beside the result, redacted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gameday.engine import drill
from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.probing import ProbeSet
from gameday.engine.suite import exit_code_for
from gameday.environments.app import RunningApp
from gameday.environments.stage import Evidence, Stage, StageRequest
from gameday.errors import ExitCode
from gameday.faults.rules import Rule
from gameday.kinds import RunStatus
from gameday.result import GatewayTally, RunResult
from tests.unit.engine.fakes import FaultyApp, RecordingInjector, plan_for, serving

SECRET = "app-secret-value-31337"


@pytest.fixture
def app() -> Iterator[FaultyApp]:
    with serving() as server:
        yield server


@dataclass
class AppEnvironment:
    """Like ``FakeEnvironment``, with an app that writes a log and exits when told to."""

    injector: RecordingInjector
    tally: GatewayTally = field(default_factory=GatewayTally)
    code: int | None = None
    exited: threading.Event = field(default_factory=threading.Event)

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        del stack
        (request.workdir / "app.log").write_text(f"starting\nAPI_TOKEN={SECRET}\nbye\n")
        app = RunningApp(
            url=self.injector.app.url,
            pid=0,
            log=request.workdir / "app.log",
            exit_code=lambda: self.code if self.exited.is_set() else None,
        )
        return Stage(
            injector=self.injector,
            rules=tuple(request.plan.rules),
            evidence=lambda: Evidence(gateway=self.tally),
            app=app,
            aws_endpoint_url=None,
            emulator_url=None,
            clients=None,
            credentials=None,
        )


def _scenario(
    tmp_path: Path, *, start_after: str = "300ms", guardrails: str = "{}", duration: str = "300ms"
) -> Path:
    # ``duration``: long enough, where a test needs the exit or the abort to land inside the
    # fault, that the 50 ms exit watch and the probe's ticks get there on a loaded machine.
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: life}\n"
        "target:\n"
        f"  app: {{command: [app], health_url: 'http://127.0.0.1:{{port}}/', "
        f"env: {{API_TOKEN: '{SECRET}'}}}}\n"
        f"faults: [{{name: sts-down, kind: identity-loss, start_after: {start_after}, "
        f"duration: {duration}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 20ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 2s}]\n"
        f"guardrails: {guardrails}\n"
        "observe: {max: 4s, recovery_window: 100ms, stable: 2}\n"
    )
    return path


def _run(path: Path, environment: AppEnvironment, report_dir: Path | None) -> RunResult:
    options = RunOptions(environment=environment, report_dir=report_dir)
    return run_drill(plan_for(path), options, time.monotonic)


def _exit_on_inject(environment: AppEnvironment, code: int) -> Callable[[Rule], None]:
    def exit_now(rule: Rule) -> None:
        del rule
        environment.code = code
        environment.exited.set()

    return exit_now


def test_an_exit_before_any_fault_is_an_error_and_its_log_is_kept(
    tmp_path: Path, app: FaultyApp
) -> None:
    injector = RecordingInjector(app)
    environment = AppEnvironment(injector, code=7)
    environment.exited.set()
    result = _run(_scenario(tmp_path, start_after="1s"), environment, tmp_path / "out")
    assert result.status is RunStatus.ERROR and result.score is None
    assert result.reason == "the app exited with code 7 before any fault (see app.log)"
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN
    assert ("inject", "sts-down") not in injector.calls  # stopped before the fault
    assert result.app_exit is not None and result.app_exit.before_faults
    assert result.app_log == "app.log"
    kept = (tmp_path / "out" / result.run_id / "app.log").read_text()
    assert kept == "starting\nAPI_TOKEN=[redacted]\nbye\n"
    (event,) = [e for e in result.events if e.kind == "app-exit"]
    assert event.detail == "the app exited with code 7 before any fault"


def test_an_exit_during_a_fault_is_graded_and_said(tmp_path: Path, app: FaultyApp) -> None:
    app.suffers = True
    injector = RecordingInjector(app)
    environment = AppEnvironment(injector)
    injector.on_inject = _exit_on_inject(environment, -9)
    result = _run(_scenario(tmp_path, duration="1500ms"), environment, None)
    assert result.status is RunStatus.PASSED, result.reason  # the fake app still answers
    assert result.score is not None
    assert result.app_exit is not None and result.app_exit.fault == "sts-down"
    assert not result.app_exit.before_faults
    assert result.reason == (
        f"the app was killed by SIGKILL (code -9) at t={result.app_exit.at:.1f} s during "
        "fault sts-down"
    )  # no report folder: no log kept, none pointed at
    assert result.app_log is None


def test_upstream_failures_make_a_guardrail_abort_an_error(tmp_path: Path, app: FaultyApp) -> None:
    app.suffers = True
    injector = RecordingInjector(app)
    calls = [("sts", "GetCallerIdentity", "upstream-error", 87), ("sts", "X", "forwarded", 3)]
    tally = GatewayTally(total=90, calls=calls, first_upstream_error_at=12.34)
    environment = AppEnvironment(injector, tally=tally)
    rails = "{abort_when: [{probe: api, consecutive_failures: 2}]}"
    path = _scenario(tmp_path, guardrails=rails, duration="1500ms")
    result = _run(path, environment, tmp_path / "out")
    assert result.status is RunStatus.ERROR and result.grade is None
    assert result.reason == (
        "the emulator stopped answering: 87 call(s) through the gateway failed upstream "
        "(first at t=12.3 s)"
    )
    assert [e.kind for e in result.events].count("abort") == 1  # the abort is still shown
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN


def test_a_gateway_that_cannot_be_read_is_an_error(tmp_path: Path, app: FaultyApp) -> None:
    tally = GatewayTally(read_error="could not read what it saw: connection refused")
    environment = AppEnvironment(RecordingInjector(app), tally=tally)
    result = _run(_scenario(tmp_path), environment, None)
    assert result.status is RunStatus.ERROR
    assert result.reason == (
        "the gateway stopped answering: could not read what it saw: connection refused"
    )


def test_no_fault_goes_in_once_the_drill_decided_to_stop_however_late_it_acts(
    tmp_path: Path, app: FaultyApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two delays a loaded machine has shown (CI): the observation loop's next turn, which
    # acts on the app's exit, came after the fault's start_after; and stopping the probes
    # took longer than it. Either way the fault went in after the drill had decided to stop.
    monkeypatch.setattr(drill, "OBSERVE_TICK_S", 1.0)
    stop = ProbeSet.stop

    async def slow_stop(self: ProbeSet, tasks: list[asyncio.Task[None]]) -> None:
        await asyncio.sleep(0.6)
        await stop(self, tasks)

    monkeypatch.setattr(ProbeSet, "stop", slow_stop)
    injector = RecordingInjector(app)
    environment = AppEnvironment(injector, code=7)
    environment.exited.set()
    result = _run(_scenario(tmp_path, start_after="300ms"), environment, None)
    assert result.status is RunStatus.ERROR, result.reason
    assert injector.calls == [("finish", "")]
