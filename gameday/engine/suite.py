"""Run a suite: scenarios one after another, or N at a time each in a worker process of its
own (``engine.parallel``), then the suite score (DESIGN.md "Score")."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.parallel import run_in_workers
from gameday.engine.signals import SignalGuard
from gameday.engine.worker import result_path
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
    RunStatus.INCONCLUSIVE: ExitCode.COULD_NOT_RUN,
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
    parallel: int = 1,
) -> SuiteOutcome:
    """Run each plan in turn; a signal aborts the current drill (rolled back, recorded) and
    starts nothing more. ``guard``: the command's signal handling, installed once (one is
    installed for the suite when none is given).

    ``parallel`` > 1 runs up to that many drills at once, each in a worker process (on the
    monotonic clock, whatever ``clock`` is); a signal then aborts every running drill. The
    results come in the order of the plans either way.
    """
    if guard is None:
        guard = SignalGuard()
        with guard.installed():
            return run_suite(
                plans,
                options,
                report_dir,
                clock=clock,
                on_result=on_result,
                guard=guard,
                parallel=parallel,
            )
    options = replace(options, report_dir=report_dir)  # the app's log goes beside the result
    if parallel > 1 and len(plans) > 1:
        ran = run_in_workers(
            plans, options, report_dir, parallel=parallel, guard=guard, on_result=on_result
        )
        results = [result for result, _ in ran]
        paths = [path for _, path in ran]
    else:
        results, paths = _run_in_turn(plans, options, report_dir, clock, on_result, guard)
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


def _run_in_turn(
    plans: Sequence[Plan],
    options: RunOptions,
    report_dir: Path,
    clock: Callable[[], float],
    on_result: Callable[[RunResult, Path], None] | None,
    guard: SignalGuard,
) -> tuple[list[RunResult], list[Path]]:
    """Each plan in this process, one after another, until a signal."""
    results: list[RunResult] = []
    paths: list[Path] = []
    for plan in plans:
        if guard.received is not None:
            break
        result = run_drill(plan, options, clock, guard)
        path = result_path(report_dir, result)
        write_result(result, path)
        results.append(result)
        paths.append(path)
        if on_result is not None:
            on_result(result, path)
    return results, paths
