"""Aborted runs: which aborts are scored, and what their objectives may still claim.

DESIGN.md "Score": "A guardrail abort is an F with its reason". A guardrail fires on what the
app did (it stayed down, it destroyed something), so that abort is a finding about the app. A
person's Ctrl-C, a scheduler's SIGTERM or a runner that died says nothing about the app: such
a run is ``aborted`` with no score and no grade, and every mean leaves it out.

An abort also cuts the observation short. An objective keeps its measurement only when what
decides it has already happened (a recovery seen, an alert received, a count already over its
target, the writes made read back); the others read ``not measured (aborted)`` instead of
claiming a target met 2 s into a 20 s fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.kinds import ObjectiveKind
from gameday.result import ObjectiveResult

GUARDRAIL_PREFIX = "guardrail: "
"""How the reason of every guardrail abort begins (``gameday.engine.guard.GUARDRAIL``)."""

NOT_MEASURED_ABORTED = "not measured (aborted)"
"""How the detail of an objective the abort left undecided begins."""

_FIRST_EVENT = frozenset(
    {ObjectiveKind.TTD, ObjectiveKind.HUMAN_TTD, ObjectiveKind.HUMAN_TTM}
)  # fmt: skip
"""Measured to the first alert or mark: once it came, later samples cannot change it."""


def is_guardrail_abort(reason: str | None) -> bool:
    """True when an abort's reason is a guardrail's (scored F), not a signal or a dead runner."""
    return reason is not None and reason.startswith(GUARDRAIL_PREFIX)


def is_cut_short(objective: ObjectiveResult) -> bool:
    """True for an objective an abort left undecided (``cut_short``): reports say "not
    measured (aborted)" for it, never "not recovered" or a miss."""
    return (
        objective.measured is None
        and not objective.met
        and objective.detail.startswith(NOT_MEASURED_ABORTED)
    )


def _decided(objective: ObjectiveResult) -> bool:
    """Whether the objective's outcome stands however long the drill would have gone on."""
    kind, measured = objective.kind, objective.measured
    if kind is ObjectiveKind.STEADY:
        return True  # checked after the rollback, as on any run
    if measured is None:
        return False
    if kind is ObjectiveKind.RTO:
        return objective.impact_start is not None  # a recovery was seen (no impact: not yet)
    if kind in _FIRST_EVENT:
        return True
    if kind is ObjectiveKind.RPO:
        # Read back after the rollback as on any run: what became of every write made.
        return True
    # A count only grows: over its target the miss stands, under it nothing is decided.
    return kind is ObjectiveKind.DESTRUCTIVE_CALLS and not objective.met


def cut_short(objectives: Sequence[ObjectiveResult], at_s: float) -> list[ObjectiveResult]:
    """``objectives`` of a run aborted at ``at_s`` (seconds from its start): each one the abort
    left undecided becomes not measured (``measured`` None, not met, credit 0), its detail
    saying so and keeping what had been seen; decided ones are kept as graded.
    """
    kept: list[ObjectiveResult] = []
    for objective in objectives:
        if _decided(objective):
            kept.append(objective)
            continue
        detail = f"{NOT_MEASURED_ABORTED}: the drill stopped at t={at_s:.1f} s"
        if objective.detail:
            detail += f"; seen: {objective.detail}"
        kept.append(
            objective.model_copy(
                update={"measured": None, "met": False, "credit": 0.0, "detail": detail}
            )
        )
    return kept
