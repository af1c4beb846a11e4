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


class Grade(StrEnum):
    """Letter grades; thresholds live in grading."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    F = "F"
