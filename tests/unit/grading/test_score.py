"""Credit, scenario score, caps and grades (DESIGN.md "Score")."""

from __future__ import annotations

import pytest

from gameday.grading import (
    SCORING_RULES,
    ScenarioScore,
    credit,
    describe_rules,
    display_score,
    grade_aborted,
    grade_for,
    grade_not_run,
    grade_objective,
    is_met,
    score_scenario,
)
from gameday.kinds import Grade, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult

RTO = ObjectiveKind.RTO


def objective(
    credit_: float, *, weight: float = 1.0, critical: bool = False, name: str = "o"
) -> ObjectiveResult:
    return ObjectiveResult(
        name=name,
        kind=RTO,
        probe="api",
        target=10.0,
        measured=None if credit_ == 0 else 10.0 * (2 - credit_),
        met=credit_ == 1.0,
        credit=credit_,
        weight=weight,
        critical=critical,
    )


@pytest.mark.parametrize(
    ("measured", "expected"),
    [(10.0, 1.0), (15.0, 0.5), (20.0, 0.0), (30.0, 0.0), (None, 0.0), (12.5, 0.75)],
)
@pytest.mark.parametrize(
    "kind", [ObjectiveKind.RTO, ObjectiveKind.RPO, ObjectiveKind.TTD, ObjectiveKind.LATENCY]
)
def test_credit_of_a_missed_time_objective(
    kind: ObjectiveKind, measured: float | None, expected: float
) -> None:
    assert credit(kind, met=False, measured=measured, target=10.0) == expected


def test_credit_of_a_met_objective_is_one() -> None:
    assert credit(ObjectiveKind.RTO, met=True, measured=10.0, target=10.0) == 1.0
    assert credit(ObjectiveKind.AVAILABILITY, met=True, measured=1.0, target=0.99) == 1.0


@pytest.mark.parametrize("kind", [ObjectiveKind.AVAILABILITY, ObjectiveKind.STEADY])
def test_credit_of_a_missed_boolean_objective_is_zero(kind: ObjectiveKind) -> None:
    assert credit(kind, met=False, measured=0.989, target=0.99) == 0.0


def test_credit_of_a_missed_zero_target_is_zero() -> None:
    assert credit(ObjectiveKind.RPO, met=False, measured=0.5, target=0.0) == 0.0


def test_credit_is_never_above_one() -> None:
    # An inconsistent "missed" below target earns no more than a met objective.
    assert credit(ObjectiveKind.RTO, met=False, measured=5.0, target=10.0) == 1.0


def test_credit_rejects_bad_numbers() -> None:
    with pytest.raises(ValueError, match="rto target must be a finite number >= 0, got -1"):
        credit(RTO, met=False, measured=1.0, target=-1.0)
    with pytest.raises(ValueError, match="rto measured value is NaN"):
        credit(RTO, met=False, measured=float("nan"), target=1.0)


@pytest.mark.parametrize(
    ("kind", "measured", "target", "met"),
    [
        (ObjectiveKind.RTO, 10.0, 10.0, True),
        (ObjectiveKind.RTO, 10.1, 10.0, False),
        (ObjectiveKind.RPO, 0.0, 0.0, True),
        (ObjectiveKind.TTD, None, 60.0, False),
        (ObjectiveKind.AVAILABILITY, 0.99, 0.99, True),
        (ObjectiveKind.AVAILABILITY, 0.98, 0.99, False),
        (ObjectiveKind.STEADY, 1.0, 1.0, True),
        (ObjectiveKind.STEADY, 0.0, 1.0, False),
        (ObjectiveKind.AVAILABILITY, None, 0.5, False),
    ],
)
def test_is_met(kind: ObjectiveKind, measured: float | None, target: float, met: bool) -> None:
    assert is_met(kind, measured, target) is met


def test_grade_objective_decides_met_and_credit() -> None:
    graded = grade_objective("api-rto", RTO, "api", 10.0, 15.0, critical=True, detail="x")
    assert graded == ObjectiveResult(
        name="api-rto",
        kind=RTO,
        probe="api",
        target=10.0,
        measured=15.0,
        met=False,
        credit=0.5,
        weight=1.0,
        critical=True,
        detail="x",
    )


def test_a_graded_objective_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="'o' is met, so its credit must be 1"):
        ObjectiveResult(
            name="o", kind=RTO, probe="api", target=1.0, measured=1.0, met=True, credit=0.5
        )
    with pytest.raises(ValueError, match=r"credit must be in \[0, 1\]"):
        ObjectiveResult(
            name="o", kind=RTO, probe="api", target=1.0, measured=3.0, met=False, credit=-0.5
        )
    with pytest.raises(ValueError, match="weight must be a finite number > 0"):
        ObjectiveResult(
            name="o",
            kind=RTO,
            probe="api",
            target=1.0,
            measured=1.0,
            met=True,
            weight=0,
            credit=1.0,
        )
    with pytest.raises(ValueError, match="weight must be a finite number > 0, got 0"):
        grade_objective("o", RTO, "api", 1.0, 1.0, weight=0)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100.0, Grade.A),
        (90.0, Grade.A),
        (89.999, Grade.B),
        (75.0, Grade.B),
        (74.999, Grade.C),
        (60.0, Grade.C),
        (59.999, Grade.D),
        (40.0, Grade.D),
        (39.999, Grade.F),
        (0.0, Grade.F),
        # Float noise: 100 x 0.57 is 56.99999999999999 and 100 x 0.9 is 90.00000000000001.
        (100 * 0.6 - 1e-12, Grade.C),
        (90.0 - 1e-12, Grade.A),
    ],
)
def test_grade_boundaries(score: float, grade: Grade) -> None:
    assert grade_for(score) is grade


@pytest.mark.parametrize(
    ("score", "text"),
    [(89.96, "89.9"), (89.999, "89.9"), (90.0 - 1e-12, "90.0"), (100.0, "100.0"), (0.0, "0.0")],
)
def test_display_truncates_so_a_shown_score_matches_its_grade(score: float, text: str) -> None:
    assert display_score(score) == text


def test_display_of_no_score() -> None:
    assert display_score(None) == "\N{EM DASH}"


def test_scenario_score_is_the_weighted_mean_of_credits() -> None:
    result = score_scenario(
        [objective(1.0), objective(0.5, weight=2.0), objective(0.0)], steady_after_ok=True
    )
    assert result == ScenarioScore(50.0, Grade.D, (), RunStatus.FAILED)


def test_every_objective_met_passes() -> None:
    result = score_scenario([objective(1.0), objective(1.0)], steady_after_ok=True)
    assert result == ScenarioScore(100.0, Grade.A, (), RunStatus.PASSED)


def test_a_missed_critical_objective_caps_the_grade_and_keeps_the_score() -> None:
    objectives = [objective(1.0, name=f"ok-{i}") for i in range(9)]
    objectives.append(objective(0.5, critical=True, name="login-rto"))
    result = score_scenario(objectives, steady_after_ok=True)
    assert result.score == 95.0
    assert result.grade is Grade.D
    assert result.caps == ("critical objective 'login-rto' missed: grade at most D",)
    assert result.status is RunStatus.FAILED


def test_the_critical_cap_never_raises_a_grade() -> None:
    result = score_scenario([objective(0.0, critical=True)], steady_after_ok=True)
    assert (result.score, result.grade) == (0.0, Grade.F)
    assert len(result.caps) == 1


def test_a_met_critical_objective_does_not_cap() -> None:
    result = score_scenario([objective(1.0, critical=True)], steady_after_ok=True)
    assert (result.grade, result.caps) == (Grade.A, ())


def test_a_failed_steady_state_after_makes_the_score_zero() -> None:
    result = score_scenario([objective(1.0), objective(0.75)], steady_after_ok=False)
    assert result == ScenarioScore(
        0.0,
        Grade.F,
        ("steady state after the drill failed: score set to 0 (was 87.5)",),
        RunStatus.FAILED,
    )


def test_a_scenario_without_objectives_has_no_score() -> None:
    with pytest.raises(ValueError, match="at least one objective"):
        score_scenario([], steady_after_ok=True)


def test_a_guardrail_abort_is_an_f_and_says_what_the_objectives_earned() -> None:
    result = grade_aborted(
        "guardrail: probe 'api' unhealthy 50% of samples since injection (max 20%)",
        [objective(1.0), objective(0.0), objective(0.0)],
    )
    assert result == ScenarioScore(
        0.0,
        Grade.F,
        ("aborted by guardrail: score set to 0 (was 33.3)",),
        RunStatus.ABORTED,
    )


@pytest.mark.parametrize("status", [RunStatus.ERROR, RunStatus.NOT_STEADY, RunStatus.INCONCLUSIVE])
def test_a_run_that_could_not_start_has_no_grade(status: RunStatus) -> None:
    result = grade_not_run(status, "probe 'api' failed before any fault")
    assert (result.score, result.grade, result.status) == (None, None, status)
    assert result.caps == (f"{status.value}: probe 'api' failed before any fault",)


def test_only_error_not_steady_and_inconclusive_are_runs_with_nothing_to_grade() -> None:
    with pytest.raises(ValueError, match="error, not-steady or inconclusive, not passed"):
        grade_not_run(RunStatus.PASSED, "x")
    with pytest.raises(ValueError, match="a run that failed has a score"):
        ScenarioScore(None, None, (), RunStatus.FAILED)
    with pytest.raises(ValueError, match=r"could not start \(error, not-steady\) or tested"):
        ScenarioScore(50.0, Grade.D, (), RunStatus.ERROR)
    with pytest.raises(ValueError, match="a score needs a grade"):
        ScenarioScore(0.0, None, (), RunStatus.ABORTED)


def test_the_rules_print_the_numbers_the_code_applies() -> None:
    text = "\n".join(describe_rules())
    assert "grades: A >= 90, B >= 75, C >= 60, D >= 40, F below 40 (" in text
    assert "a boolean objective (availability, steady) at or over it" in text
    assert "max(0, 1 - (measured - target) / target)" in text
    assert "(human_ttd, human_ttm, latency, rpo, rto, ttd)" in text
    assert "(availability, steady) or count (destructive_calls) earns 0" in text
    assert "caps the grade at D; the score is kept" in text
    assert "makes the score 0" in text
    for grade, minimum in SCORING_RULES.grade_thresholds:
        assert grade_for(minimum) is grade
