"""The enums every layer shares: objective kinds, capabilities, run statuses, grades.

A leaf module (no imports from the package) so that scenario models, grading, reports and
history can all name the same words of DESIGN.md without importing each other.
"""

from __future__ import annotations

from enum import StrEnum


class ObjectiveKind(StrEnum):
    """A measured quantity with a target (DESIGN.md "Words")."""

    RTO = "rto"
    RPO = "rpo"
    TTD = "ttd"
    AVAILABILITY = "availability"
    LATENCY = "latency"
    STEADY = "steady"
    HUMAN_TTD = "human_ttd"
    HUMAN_TTM = "human_ttm"
    DESTRUCTIVE_CALLS = "destructive_calls"
    """How many destructive calls the app made from T0 to the end of observation."""


HUMAN_OBJECTIVES: frozenset[ObjectiveKind] = frozenset(
    {ObjectiveKind.HUMAN_TTD, ObjectiveKind.HUMAN_TTM}
)
"""Measured on the marks people make in a facilitated run (``run --facilitate``), not on a
probe; an unattended run has nobody to make them and leaves these objectives ungraded."""

TIME_OBJECTIVES: frozenset[ObjectiveKind] = frozenset(
    {ObjectiveKind.RTO, ObjectiveKind.RPO, ObjectiveKind.TTD, ObjectiveKind.LATENCY}
    | HUMAN_OBJECTIVES
)
"""Objectives whose target is a duration; a miss earns partial credit (DESIGN.md "Score")."""

AT_MOST_OBJECTIVES: frozenset[ObjectiveKind] = TIME_OBJECTIVES | {ObjectiveKind.DESTRUCTIVE_CALLS}
"""Objectives met at or under their target (the others: at or over it). A count of
destructive calls is met at or under it, but a miss earns no partial credit."""


class MarkKind(StrEnum):
    """What people mark on a facilitated run's timeline (keys d, m, r, n, a digit, e)."""

    DETECTED = "detected"
    MITIGATION = "mitigation"
    RECOVERED = "recovered"
    NOTE = "note"
    STEP = "step"
    END = "end"
    """The facilitator ended the held faults (key e under ``--hold``)."""


HUMAN_MARKS: dict[ObjectiveKind, MarkKind] = {
    ObjectiveKind.HUMAN_TTD: MarkKind.DETECTED,
    ObjectiveKind.HUMAN_TTM: MarkKind.MITIGATION,
}
"""The mark each human objective is measured to, from the first injection."""


class CallClass(StrEnum):
    """What one AWS call does to the account (DESIGN.md "Safety" 8; docs/audit.md)."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"
    """Deletes, terminates, detaches, disables, revokes...: something is gone or cut off."""


class Capability(StrEnum):
    """What a drill takes away; the suite score rolls up per capability."""

    IDENTITY = "identity"
    LOGGING = "logging"
    REGISTRY = "registry"
    REGION = "region"


class RunStatus(StrEnum):
    """How a run ended (DESIGN.md "Results": the `status` field)."""

    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    NOT_STEADY = "not-steady"
    INCONCLUSIVE = "inconclusive"
    """The drill ran but tested nothing: a fault matched none of the app's calls."""


UNSCORED: frozenset[RunStatus] = frozenset(
    {RunStatus.ERROR, RunStatus.NOT_STEADY, RunStatus.INCONCLUSIVE}
)
"""Runs with no score and no grade, left out of the suite score: they could not start, or
they tested nothing (DESIGN.md "One run")."""


class Grade(StrEnum):
    """Letter grades; thresholds live in grading."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    F = "F"
