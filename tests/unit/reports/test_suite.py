"""The shared content of every report: miss messages, the score formula, runbook links, the
gateway tally, the suite of a set of results."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.grading import display_score
from gameday.kinds import HUMAN_OBJECTIVES, Capability, Grade, MarkKind, ObjectiveKind, RunStatus
from gameday.reports.people import facilitation_facts, mark_note, since_t0
from gameday.reports.suite import (
    format_delta,
    gateway_by_service,
    latest_per_scenario,
    miss_message,
    objective_cells,
    runbook_href,
    score_formula,
    suite_of,
    timeline_end,
    trend_delta,
)
from gameday.result import Mark, ObjectiveResult, RunbookStepRecord
from tests.unit.reports.runs import (
    REPO,
    every_result,
    facilitated,
    facilitated_unmarked,
    met_and_missed,
    never_recovered,
    synthetic,
)


def _objective(name: str, run: str = "met-and-missed") -> ObjectiveResult:
    return next(o for o in synthetic()[run].objectives if o.name == name)


def test_miss_message_names_the_value_the_target_and_a_late_recovery() -> None:
    assert miss_message(_objective("credentials-rto")) == (
        "rto 21.5s > target 15.0s (not recovered during fault)"
    )


def test_miss_message_for_an_objective_never_recovered() -> None:
    assert miss_message(_objective("image-pull-rto", "never-recovered")) == (
        "rto not recovered (target 30.0s)"
    )


def test_miss_message_for_availability_and_ttd() -> None:
    assert miss_message(_objective("availability")) == "availability 90.00% < target 95.00%"
    assert miss_message(_objective("detect-credential-refresh-failures")) == (
        "ttd 14.5s > target 10.0s"
    )


def test_miss_message_for_a_failed_steady_state() -> None:
    steady = _objective("steady").model_copy(update={"measured": 0.0, "met": False})
    assert miss_message(steady) == "steady state did not hold (target: holds)"


@pytest.mark.parametrize("name", sorted(every_result()))
def test_the_score_formula_recomputes_the_score(name: str) -> None:
    result = every_result()[name]
    formula = score_formula(result)
    if not result.objectives or result.score is None:
        # An inconclusive run keeps its objectives as evidence, but has no score to recompute.
        assert formula is None
        return
    assert formula is not None
    if result.score is not None and not result.caps:
        assert formula.endswith(f"= {display_score(result.score)}")


def test_the_score_formula_lists_every_weight_and_credit() -> None:
    assert score_formula(met_and_missed()) == (
        "100 x (1 x 1.00 + 2 x 1.00 + 1 x 0.57 + 1 x 0.00 + 1 x 1.00 + 1 x 0.55) / 7 = 73.0"
    )


def test_runbook_link_is_relative_to_the_report_folder() -> None:
    href = runbook_href(met_and_missed(), REPO / "gameday-reports" / "run-1")
    assert href == "../../runbooks/identity-loss.md"
    assert (REPO / "gameday-reports" / "run-1" / href).resolve() == (
        REPO / "runbooks" / "identity-loss.md"
    )


def test_runbook_link_is_an_absolute_file_uri_without_a_report_folder() -> None:
    href = runbook_href(met_and_missed(), None)
    assert href == (REPO / "runbooks" / "identity-loss.md").as_uri()


def test_a_runbook_with_a_scheme_is_never_a_javascript_link(tmp_path: Path) -> None:
    hostile = synthetic()["hostile"]
    for report_dir in (tmp_path, None):
        href = runbook_href(hostile, report_dir)
        assert href is not None
        assert not href.lower().startswith("javascript:")
        assert "javascript%3Aalert" in href


def test_an_http_runbook_is_linked_as_given() -> None:
    result = met_and_missed()
    wiki = result.model_copy(
        update={"scenario": result.scenario.model_copy(update={"runbook": "https://wiki/rb"})}
    )
    assert runbook_href(wiki, Path("out")) == "https://wiki/rb"


def test_gateway_tally_rolls_up_per_service_most_calls_first() -> None:
    tallies = gateway_by_service(met_and_missed())
    assert [(t.service, t.total) for t in tallies] == [
        ("dynamodb", 356),
        ("sts", 53),
        ("logs", 52),
        ("iam", 3),
    ]
    assert tallies[1].by_outcome == {"forwarded": 12, "unavailable": 41}


def test_the_suite_counts_the_latest_run_of_each_scenario() -> None:
    older = met_and_missed(day=21)
    newer = met_and_missed(day=22)
    assert latest_per_scenario([newer, older, never_recovered()])[0] is newer
    suite = suite_of([older, newer, never_recovered()])
    assert suite.counted == ("identity-loss", "registry-loss")
    assert suite.by_capability[Capability.IDENTITY] == newer.score
    assert suite.grade is Grade.C


def test_trend_delta_compares_the_last_two_scored_runs() -> None:
    points = [("a", 60.0), ("b", None), ("c", 72.5)]
    assert trend_delta(points) == 12.5
    assert format_delta(trend_delta(points)) == "+12.5"
    assert format_delta(-3.0) == "-3.0"
    assert format_delta(0.0) == "0.0"
    assert format_delta(None) == ""
    assert trend_delta([("a", 60.0)]) is None


def test_every_fixture_is_a_valid_result() -> None:
    kinds = {o.kind for r in every_result().values() for o in r.objectives}
    assert {ObjectiveKind.RTO, ObjectiveKind.TTD, ObjectiveKind.AVAILABILITY} <= kinds


def test_human_objectives_read_people_in_the_probe_column() -> None:
    cells = {o.name: objective_cells(o) for o in facilitated().objectives}
    assert cells["human_ttd"][1:5] == ["human_ttd", "people", "<= 60.0s", "7.30s"]
    assert cells["human_ttm"][1:6] == ["human_ttm", "people", "<= 10.0s", "16.0s", "NO"]
    assert cells["api-rto"][2] == "api"
    assert all(o.probe == "" for o in facilitated().objectives if o.kind in HUMAN_OBJECTIVES)


def test_miss_message_for_human_objectives() -> None:
    assert miss_message(_objective("human_ttd", "facilitated-unmarked")) == (
        "human_ttd not detected (target 30.0s)"
    )
    assert miss_message(_objective("human_ttm", "facilitated-unmarked")) == (
        "human_ttm no mitigation (target 60.0s)"
    )
    assert miss_message(_objective("human_ttm", "facilitated")) == "human_ttm 16.0s > target 10.0s"


def test_the_timeline_reaches_the_last_mark() -> None:
    result = facilitated_unmarked()
    assert timeline_end(result) == 45.0
    late = Mark(at=80.0, kind=MarkKind.RECOVERED, author="dave")
    assert timeline_end(result.model_copy(update={"marks": [*result.marks, late]})) == 80.0


def test_a_mark_s_note_names_its_step_the_end_of_the_hold_and_the_marks_api() -> None:
    steps = [RunbookStepRecord(number=1, text="Page the on-call")]
    step = Mark(at=9.0, kind=MarkKind.STEP, author="bob", step=1, note="done")
    assert mark_note(step, steps) == "step 1: Page the on-call; done"
    assert mark_note(step.model_copy(update={"step": 7}), steps) == "step 7; done"
    end = Mark(at=25.0, kind=MarkKind.END, author="alice")
    assert mark_note(end, steps) == "ended the held faults"
    posted = Mark(at=12.0, kind=MarkKind.DETECTED, author="pager-bot", source="http")
    assert mark_note(posted, steps) == "(via http)"


def test_times_since_t0_before_and_after_the_first_injection() -> None:
    result = facilitated()
    assert (since_t0(result, 3.0), since_t0(result, 5.0), since_t0(result, 17.34)) == (
        "-2.0s",
        "+0.0s",
        "+12.3s",
    )
    assert since_t0(result.model_copy(update={"t0": None}), 17.3) == "-"


def test_facilitation_facts_for_each_way_a_hold_ends() -> None:
    result = facilitated()
    assert facilitation_facts(met_and_missed()) == []
    assert dict(facilitation_facts(result)) == {
        "facilitator": "alice",
        "hold": "faults held until alice ended them at 25.00s (+20.0s); deadline 125.00s",
        "checklist": "2 of 4 steps ticked, from 'Mitigate' in ../runbooks/identity-loss.md",
        "marks API": "http://127.0.0.1:8765/marks",
    }
    assert result.facilitation is not None
    open_hold = result.facilitation.model_copy(
        update={"hold_ended_at": None, "hold_ended_by": None, "steps": []}
    )
    stopped = result.model_copy(update={"facilitation": open_hold, "status": RunStatus.ABORTED})
    facts = dict(facilitation_facts(stopped))
    assert facts["hold"] == (
        "faults held until the drill stopped (aborted); rolled back; deadline 125.00s"
    )
    assert facts["checklist"] == "none: the runbook has no steps to tick"
    unheld = result.facilitation.model_copy(update={"hold": False})
    assert "hold" not in dict(
        facilitation_facts(result.model_copy(update={"facilitation": unheld}))
    )
