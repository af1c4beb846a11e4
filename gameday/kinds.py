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


TIME_OBJECTIVES: frozenset[ObjectiveKind] = frozenset(
    {ObjectiveKind.RTO, ObjectiveKind.RPO, ObjectiveKind.TTD, ObjectiveKind.LATENCY}
)
"""Objectives whose target is a duration; a miss earns partial credit (DESIGN.md "Score")."""


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
