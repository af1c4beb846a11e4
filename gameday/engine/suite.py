"""Run a suite: scenarios one after another, then the suite score (DESIGN.md "Score")."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.signals import SignalGuard
from gameday.errors import ExitCode
from gameday.faults.plan import Plan
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
        return exit_code_for(self.results)


def exit_code_for(results: Sequence[RunResult]) -> ExitCode:
    """The most serious outcome of ``results``; a fault that may still be in force (5)
    overrides every other code."""
    if any(not r.rollback.complete for r in results):
        return ExitCode.ROLLBACK_FAILED
    codes = {_EXIT_BY_STATUS[r.status] for r in results}
    return next(code for code in _SEVERITY if code in codes or code is ExitCode.OK)


def run_suite(
    plans: Sequence[Plan],
    options: RunOptions,
    report_dir: Path,
    *,
    clock: Callable[[], float] = time.monotonic,
    on_result: Callable[[RunResult, Path], None] | None = None,
    guard: SignalGuard | None = None,
) -> SuiteOutcome:
    """Run each plan in turn; a signal aborts the current drill (rolled back, recorded) and
    starts nothing more. ``guard``: the command's signal handling, installed once (one is
    installed for the suite when none is given)."""
    if guard is None:
        guard = SignalGuard()
        with guard.installed():
            return run_suite(
                plans, options, report_dir, clock=clock, on_result=on_result, guard=guard
            )
    results: list[RunResult] = []
    paths: list[Path] = []
    for plan in plans:
        if guard.received is not None:
            break
        result = run_drill(plan, options, clock, guard)
        path = report_dir / result.run_id / "result.json"
        write_result(result, path)
        results.append(result)
        paths.append(path)
        if on_result is not None:
            on_result(result, path)
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
