"""Suite score: weighted mean, capability roll-up, excluded scenarios."""

from __future__ import annotations

import pytest

from gameday.grading import ScenarioEntry, suite_score
from gameday.kinds import Capability, Grade, RunStatus

IDENTITY, LOGGING, REGISTRY, REGION = (
    Capability.IDENTITY,
    Capability.LOGGING,
    Capability.REGISTRY,
    Capability.REGION,
)


def entry(
    name: str,
    score: float | None,
    capabilities: set[Capability],
    *,
    weight: float = 1.0,
    status: RunStatus = RunStatus.FAILED,
) -> ScenarioEntry:
    return ScenarioEntry(name, score, weight, frozenset(capabilities), status)


def test_suite_rolls_up_by_capability_with_weights_and_an_excluded_error() -> None:
    scenarios = [
        entry("identity-loss", 80.0, {IDENTITY}),
        entry("logging-loss", 60.0, {LOGGING}, weight=2.0),
        entry("control-plane-outage", 90.0, {IDENTITY, LOGGING, REGISTRY}),
        entry("region-loss", None, {REGION}, status=RunStatus.ERROR),
        entry("registry-loss", 0.0, {REGISTRY}, status=RunStatus.ABORTED),
    ]
    suite = suite_score(scenarios)
    # (80 + 2 x 60 + 90 + 0) / 5
    assert suite.score == 58.0
    assert suite.grade is Grade.D
    assert suite.by_capability == {
        IDENTITY: 85.0,  # (80 + 90) / 2
        LOGGING: pytest.approx(70.0),  # (2 x 60 + 90) / 3
        REGISTRY: 45.0,  # (90 + 0) / 2: the guardrail's abort counts as 0
    }
    assert REGION not in suite.by_capability
    assert suite.counted == (
        "identity-loss",
        "logging-loss",
        "control-plane-outage",
        "registry-loss",
    )
    assert suite.excluded == ("region-loss",)
    assert suite.flagged


def test_a_complete_suite_is_not_flagged() -> None:
    suite = suite_score([entry("a", 100.0, {IDENTITY}, status=RunStatus.PASSED)])
    assert (suite.score, suite.grade, suite.flagged) == (100.0, Grade.A, False)


def test_a_suite_where_nothing_could_start_has_no_score() -> None:
    suite = suite_score([entry("a", None, {IDENTITY}, status=RunStatus.NOT_STEADY)])
    assert (suite.score, suite.grade, suite.by_capability) == (None, None, {})
    assert suite.excluded == ("a",)


def test_an_empty_suite_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one scenario"):
        suite_score([])


def test_a_scenario_entry_must_be_consistent() -> None:
    with pytest.raises(ValueError, match=r"scenario 'a': a run that could not start \("):
        entry("a", 50.0, {IDENTITY}, status=RunStatus.ERROR)
    with pytest.raises(ValueError, match="scenario 'a': a run that failed has a score"):
        entry("a", None, {IDENTITY}, status=RunStatus.FAILED)
    with pytest.raises(ValueError, match=r"score must be in \[0, 100\]"):
        entry("a", 101.0, {IDENTITY})
    with pytest.raises(ValueError, match="weight must be a finite number > 0"):
        entry("a", 50.0, {IDENTITY}, weight=-1.0)
