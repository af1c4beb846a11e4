"""Human TTD/TTM: measured on people's marks in a facilitated run, graded like time objectives,
and left out of an unattended run."""

from __future__ import annotations

from pathlib import Path

from gameday.engine.grade import SteadyHeld, grade_objectives
from gameday.grading import measure_human
from gameday.kinds import MarkKind, ObjectiveKind
from gameday.result import ObjectiveResult
from gameday.scenario.loader import parse_scenario
from gameday.scenario.models import HumanObjective, Scenario
from tests.unit.grading.builders import samples

HEADER = (
    "apiVersion: gameday/v1\n"
    "metadata: {name: people}\n"
    "faults: [{kind: identity-loss, mode: unavailable, start_after: 10s, duration: 10s}]\n"
    "probes: [{name: api, kind: http, url: '{app}/health'}]\n"
    "observe: {max: 60s, recovery_window: 5s}\n"
)


def _scenario(objectives: str) -> Scenario:
    return parse_scenario(Path("people.yaml"), HEADER + f"objectives: {objectives}\n")


def test_the_first_mark_in_the_window_counts_from_t0() -> None:
    assert measure_human([40.0, 25.0, 31.0], 10.0, 70.0) == 15.0


def test_a_mark_before_t0_does_not_count() -> None:
    assert measure_human([9.999, 12.5], 10.0, 70.0) == 2.5
    assert measure_human([3.0], 10.0, 70.0) is None


def test_a_mark_after_the_window_does_not_count() -> None:
    assert measure_human([70.001], 10.0, 70.0) is None
    assert measure_human([80.0, 69.0], 10.0, 70.0) == 59.0


def test_marks_at_the_edges_of_the_window_count() -> None:
    assert measure_human([10.0], 10.0, 70.0) == 0.0
    assert measure_human([70.0], 10.0, 70.0) == 60.0


def test_no_mark_is_none() -> None:
    assert measure_human([], 10.0, 70.0) is None


def test_a_human_objective_needs_no_probe_and_is_named_after_its_kind() -> None:
    scenario = _scenario(
        "[{kind: human_ttd, target: 5m}, {kind: human_ttm, name: mitigated, target: 10m, "
        "weight: 2, critical: true}, {kind: availability, probe: api, target: 0.9}]"
    )
    ttd, ttm, _ = scenario.objectives
    assert isinstance(ttd, HumanObjective)
    assert isinstance(ttm, HumanObjective)
    assert (ttd.kind, ttd.name, ttd.target, ttd.weight, ttd.critical, ttd.probe) == (
        ObjectiveKind.HUMAN_TTD,
        None,
        300.0,
        1.0,
        False,
        "",
    )
    assert (ttm.kind, ttm.name, ttm.target, ttm.weight, ttm.critical) == (
        ObjectiveKind.HUMAN_TTM,
        "mitigated",
        600.0,
        2.0,
        True,
    )
    assert scenario.objective_names() == ["human_ttd", "mitigated", "availability-api"]


SCENARIO_OBJECTIVES = (
    "[{kind: availability, probe: api, target: 0.5}, "
    "{kind: human_ttd, target: 20s}, "
    "{kind: human_ttm, target: 30s, weight: 2}]"
)


def _grade(
    marks: dict[MarkKind, list[float]] | None,
) -> list[ObjectiveResult]:
    # T0 = 10 s, Tend = 20 s, observation ends at 70 s; the probe is healthy throughout.
    return grade_objectives(
        _scenario(SCENARIO_OBJECTIVES),
        samples={"api": samples("H" * 80)},
        markers={},
        alerts={},
        t0=10.0,
        tend=20.0,
        observe_end=70.0,
        steady={"api": SteadyHeld(before=True, after=True)},
        marks=marks,
    )


def test_human_objectives_are_graded_on_the_first_mark_of_their_kind() -> None:
    graded = _grade(
        {
            MarkKind.DETECTED: [4.0, 25.0, 27.0],  # the one before T0 is no detection
            MarkKind.RECOVERED: [12.0],  # not what human_ttm measures
            MarkKind.MITIGATION: [35.0],
        }
    )
    results = {result.name: result for result in graded}
    assert list(results) == ["availability-api", "human_ttd", "human_ttm"]
    detected, mitigated = results["human_ttd"], results["human_ttm"]
    assert (detected.kind, detected.probe) == (ObjectiveKind.HUMAN_TTD, "")
    assert (detected.target, detected.measured, detected.met, detected.credit) == (
        20.0,
        15.0,
        True,
        1.0,
    )
    assert detected.detail == "first 'detected' mark"
    assert (mitigated.measured, mitigated.met, mitigated.credit, mitigated.weight) == (
        25.0,
        True,
        1.0,
        2.0,
    )
    assert mitigated.detail == "first 'mitigation' mark"


def test_a_late_mark_earns_partial_credit_like_any_time_objective() -> None:
    graded = _grade({MarkKind.DETECTED: [40.0], MarkKind.MITIGATION: [70.0]})
    by_name = {g.name: g for g in graded}
    # Detected 30 s after T0 against 20 s: 1 - (30 - 20) / 20.
    assert (by_name["human_ttd"].measured, by_name["human_ttd"].met) == (30.0, False)
    assert by_name["human_ttd"].credit == 0.5
    # Mitigation at the very end of the window, 60 s against 30 s: twice the target, 0.
    assert (by_name["human_ttm"].measured, by_name["human_ttm"].credit) == (60.0, 0.0)


def test_nobody_marking_earns_nothing_and_says_so() -> None:
    graded = _grade({MarkKind.NOTE: [15.0], MarkKind.DETECTED: [75.0]})
    results = {result.name: result for result in graded}
    detected, mitigated = results["human_ttd"], results["human_ttm"]
    assert (detected.measured, detected.met, detected.credit) == (None, False, 0.0)
    assert detected.detail == (
        "not detected: nobody marked 'detected' within the observation window"
    )
    assert (mitigated.measured, mitigated.met, mitigated.credit) == (None, False, 0.0)
    assert mitigated.detail == (
        "no mitigation: nobody marked 'mitigation' within the observation window"
    )


def test_an_empty_facilitated_run_still_grades_the_human_objectives() -> None:
    graded = _grade({})
    assert [g.name for g in graded] == ["availability-api", "human_ttd", "human_ttm"]
    assert [g.credit for g in graded] == [1.0, 0.0, 0.0]


def test_an_unattended_run_leaves_the_human_objectives_out() -> None:
    graded = _grade(None)
    assert [(g.name, g.kind, g.met) for g in graded] == [
        ("availability-api", ObjectiveKind.AVAILABILITY, True)
    ]
    assert [r.name for r in graded] == ["availability-api"]
