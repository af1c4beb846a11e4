"""`gameday run --exit-zero-on-miss` (make demo): a graded suite exits 0, misses and
guardrail aborts included; a signal, a drill that could not run, a failed rollback do not."""

from __future__ import annotations

import pytest

from gameday.engine.run import command_exit_code
from gameday.engine.suite import SuiteOutcome
from gameday.errors import ExitCode
from gameday.kinds import RunStatus
from gameday.reports.suite import suite_of
from gameday.result import RunResult
from tests.unit.reports.runs import aborted, met_and_missed, not_steady, rollback_failed


def _outcome(*results: RunResult) -> SuiteOutcome:
    return SuiteOutcome(results=list(results), paths=[], suite=suite_of(results))


def _stopped_by_a_person() -> RunResult:
    return aborted().model_copy(update={"reason": "aborted by signal SIGINT", "run_id": "sig"})


def _passed() -> RunResult:
    return met_and_missed().model_copy(update={"status": RunStatus.PASSED, "run_id": "passed"})


@pytest.mark.parametrize(
    ("results", "designed", "with_flag"),
    [
        ((_passed(),), ExitCode.OK, ExitCode.OK),
        ((met_and_missed(),), ExitCode.OBJECTIVE_MISSED, ExitCode.OK),
        ((_passed(), met_and_missed()), ExitCode.OBJECTIVE_MISSED, ExitCode.OK),
        ((met_and_missed(), not_steady()), ExitCode.COULD_NOT_RUN, ExitCode.COULD_NOT_RUN),
        ((met_and_missed(), aborted()), ExitCode.ABORTED, ExitCode.OK),
        ((met_and_missed(), _stopped_by_a_person()), ExitCode.ABORTED, ExitCode.ABORTED),
        ((_passed(), rollback_failed()), ExitCode.ROLLBACK_FAILED, ExitCode.ROLLBACK_FAILED),
    ],
    ids=[
        "passed",
        "missed",
        "suite-missed",
        "could-not-run",
        "guardrail-abort",
        "signal-abort",
        "rollback-failed",
    ],
)
def test_a_graded_suite_exits_0_with_the_flag(
    results: tuple[RunResult, ...], designed: ExitCode, with_flag: ExitCode
) -> None:
    outcome = _outcome(*results)
    assert command_exit_code(outcome) == outcome.exit_code == designed
    assert command_exit_code(outcome, exit_zero_on_miss=True) == with_flag
