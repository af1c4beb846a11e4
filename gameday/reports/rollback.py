"""A failed rollback, in the words every format shows it in, at the top and loudly.

``RunResult.rollback.complete`` is False when a removal failed for good: a fault may still be
in force (exit code 5, DESIGN.md "CLI"). Each format leads with ``ROLLBACK_FAILED`` and every
problem (each names the fault and the command that removes it); a suite says how many of its
drills left a fault behind. A complete rollback adds nothing but a quiet fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gameday.result import RunResult

ROLLBACK_FAILED = "ROLLBACK FAILED: a fault may still be in force"
"""The words every format leads with when a run's rollback failed."""

ROLLBACK_COMPLETE = "complete"
"""The quiet fact of a complete rollback, where a report lists the run's facts."""

_UNKNOWN = (
    "the rollback did not complete and recorded no detail; to remove every fault now: gameday abort"
)


def rollback_problems(result: RunResult) -> list[str]:
    """What a failed rollback left behind and how to finish it; [] for a complete rollback.

    A failed rollback that recorded no problem still gets a line, so that no format can show
    it as nothing.
    """
    if result.rollback.complete:
        return []
    return list(result.rollback.problems) or [_UNKNOWN]


def left_behind(results: Iterable[RunResult]) -> list[RunResult]:
    """The runs whose rollback failed, in the order given: each may have left a fault."""
    return [r for r in results if not r.rollback.complete]


def left_behind_count(results: Sequence[RunResult]) -> str:
    """'1 of 4 drill(s) left a fault behind': how a suite says it."""
    return f"{len(left_behind(results))} of {len(results)} drill(s) left a fault behind"
