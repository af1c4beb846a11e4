"""Run a suite: scenarios one after another, then the suite score (DESIGN.md "Score")."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import Plan
from gameday.errors import ExitCode
from gameday.grading import ScenarioEntry, SuiteScore, suite_score
from gameday.kinds import RunStatus
from gameday.result import RunResult, write_result

_EXIT_BY_STATUS = {
    RunStatus.PASSED: ExitCode.OK,
    RunStatus.FAILED: ExitCode.OBJECTIVE_MISSED,
    RunStatus.ERROR: ExitCode.COULD_NOT_RUN,
    RunStatus.NOT_STEADY: ExitCode.COULD_NOT_RUN,
    RunStatus.ABORTED: ExitCode.ABORTED,
}
# A suite exits with its most serious outcome: aborted, then could not run, then missed.
_SEVERITY = [ExitCode.ABORTED, ExitCode.COULD_NOT_RUN, ExitCode.OBJECTIVE_MISSED, ExitCode.OK]


@dataclass(frozen=True)
class SuiteOutcome:
    """Every run's result, where each was written, and the suite's score."""

    results: list[RunResult]
    paths: list[Path]
    suite: SuiteScore

    @property
    def exit_code(self) -> ExitCode:
        """DESIGN.md's exit code for the whole suite: its most serious outcome."""
        codes = {_EXIT_BY_STATUS[r.status] for r in self.results}
        return next(code for code in _SEVERITY if code in codes or code is ExitCode.OK)


def run_suite(
    plans: Sequence[Plan],
    options: RunOptions,
    report_dir: Path,
    *,
    clock: Callable[[], float] = time.monotonic,
    on_result: Callable[[RunResult, Path], None] | None = None,
) -> SuiteOutcome:
    """Run each plan in turn; a signal stops the suite after rolling back the current drill."""
    results: list[RunResult] = []
    paths: list[Path] = []
    stopped: list[str] = []

    def on_signal(signum: int, frame: object) -> None:
        # Between drills: finish writing what ran, start nothing more.
        del frame
        stopped.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _run_each(plans, options, report_dir, clock, on_result, results, paths, stopped)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    entries = [
        ScenarioEntry(
            name=r.scenario.name,
            score=r.score,
            weight=1.0,
            capabilities=frozenset(r.scenario.capabilities),
            status=r.status,
        )
        for r in results
    ]
    return SuiteOutcome(results=results, paths=paths, suite=suite_score(entries))


def _run_each(
    plans: Sequence[Plan],
    options: RunOptions,
    report_dir: Path,
    clock: Callable[[], float],
    on_result: Callable[[RunResult, Path], None] | None,
    results: list[RunResult],
    paths: list[Path],
    stopped: list[str],
) -> None:
    for plan in plans:
        if stopped:
            return
        result = run_drill(plan, options, clock)
        path = report_dir / result.run_id / "result.json"
        write_result(result, path)
        results.append(result)
        paths.append(path)
        if on_result is not None:
            on_result(result, path)
        if result.status is RunStatus.ABORTED and (result.reason or "").startswith("signal"):
            return
