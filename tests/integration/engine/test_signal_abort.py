"""A drill stopped by a signal is aborted, not scored: the stop was a person's or a
scheduler's, not the app's (DESIGN.md "Score" scores a *guardrail* abort, an F).

A real embedded drill (moto server, the gateway, tests/fixtures/apps/truth_app.py in
recover-after mode: /health calls STS, and stays unhealthy RECOVER_S after STS is back) gets
SIGTERM one second into a 20 s fault. Its result has no score, its undecided objectives read
"not measured (aborted)", its steady state after is judged once the app had its recovery
window to settle, and a real SQLite history store leaves it out of the trend and the posture.
A run whose runner died (the row ``reap`` finalises) is unscored too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.grading import NOT_MEASURED_ABORTED
from gameday.history import HistoryStatus, HistoryStore
from gameday.kinds import ObjectiveKind, RunStatus
from gameday.recorder import Recorder
from gameday.reports.posture import POSTURE_KINDS, build_posture
from gameday.reports.suite import suite_of, trend_delta
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario
from tests.unit.reports.runs import met_and_missed

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "truth_app.py"
SIGNAL_AFTER_S = 1.0
"""How long into the fault the drill is stopped: a tenth of its 20 s."""


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "stopped.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: stopped-by-a-person}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        "    env: {MODE: recover-after, RECOVER_S: '1.5', CALL_TIMEOUT_S: '1'}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 30s\n"
        "faults: [{kind: api-fault, services: [sts], start_after: 500ms, duration: 20s}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 200ms, timeout: 1500ms}]\n"
        "objectives: [{kind: steady, probe: api}, {kind: rto, probe: api, target: 5s}, "
        "{kind: availability, probe: api, target: 0.9}]\n"
        "observe: {max: 30s, recovery_window: 5s}\n"
    )
    return path


def _stopped_by_sigterm(tmp_path: Path) -> RunResult:
    """The drill, with SIGTERM sent to this process ``SIGNAL_AFTER_S`` after the injection
    (as a scheduler stopping its pod would)."""
    timers: list[threading.Timer] = []

    def on_event(recorder: Recorder, kind: str, detail: str) -> None:
        del recorder, detail
        if kind == "inject" and not timers:
            timer = threading.Timer(SIGNAL_AFTER_S, os.kill, (os.getpid(), signal.SIGTERM))
            timers.append(timer)
            timer.start()

    options = RunOptions(seed=1, listeners=[on_event])
    try:
        return run_drill(make_plan(load_scenario(_scenario(tmp_path))), options, time.monotonic)
    finally:
        for timer in timers:
            timer.cancel()
            timer.join()


def test_a_drill_stopped_by_sigterm_is_unscored_and_left_out_of_every_mean(
    tmp_path: Path,
) -> None:
    result = _stopped_by_sigterm(tmp_path)
    assert (result.status, result.reason) == (RunStatus.ABORTED, "signal SIGTERM")
    assert result.rollback.complete
    assert (result.score, result.grade) == (None, None)
    assert result.caps and "not by a guardrail (signal SIGTERM)" in result.caps[0]

    by_kind = {o.kind: o for o in result.objectives}
    # 1 s into a 20 s fault, neither the RTO nor the availability was decided.
    for kind in (ObjectiveKind.RTO, ObjectiveKind.AVAILABILITY):
        cut = by_kind[kind]
        assert (cut.measured, cut.met, cut.credit) == (None, False, 0.0), cut
        assert cut.detail.startswith(f"{NOT_MEASURED_ABORTED}: the drill stopped at t="), cut
    # The app stays unhealthy 1.5 s after STS is back: judged at once, the steady state
    # after would fail by construction; within its recovery window it holds.
    steady = by_kind[ObjectiveKind.STEADY]
    assert (result.steady_before, result.steady_after) == (True, True)
    assert (steady.met, steady.detail) == (True, "held before and after")
    api = next(p for p in result.probes if p.name == "api")
    assert result.tend is not None
    late = [at for at, ok, _ in api.samples if not ok and at > result.tend]
    assert late, "the app was not unhealthy after the rollback: the settle was not tested"

    scored = met_and_missed().model_copy(
        update={"scenario": result.scenario, "started_at": "2020-01-01T00:00:00.000Z"}
    )
    with HistoryStore(tmp_path / "history.db") as store:
        store.finish_run(scored)
        store.finish_run(result)
        trend = store.trend([result.scenario.name])[result.scenario.name]
        rows = store.finished_runs(POSTURE_KINDS)
    assert [score for _, score in trend] == [scored.score, None]
    assert trend_delta(trend) is None  # one scored run: nothing to compare, no drop to 0
    now = datetime.now(UTC)
    (posture,) = build_posture(rows, now=now, since=now - timedelta(days=3650)).scenarios
    assert (posture.drills, posture.unscored, posture.latest_score) == (1, 1, scored.score)
    suite = suite_of([result])
    assert (suite.score, suite.excluded) == (None, (result.scenario.name,))


def _dead_pid() -> int:
    script = "import os; print(os.getpid())"
    finished = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    return int(finished.stdout)


def test_the_row_of_a_runner_that_died_is_aborted_without_a_score(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "history.db") as store:
        store.finish_run(met_and_missed())
        store.start_run(
            "killed", "identity-loss", "embedded", "2026-11-23T02:00:00Z", pid=_dead_pid()
        )
        assert store.reap() == ["killed"]
        rows = {row.run_id: row for row in store.runs()}
        trend = store.trend(["identity-loss"])["identity-loss"]
    killed = rows["killed"]
    assert (killed.status, killed.score, killed.grade) == (HistoryStatus.ABORTED, None, None)
    assert killed.delta is None
    assert [score for _, score in trend] == [met_and_missed().score, None]
