"""The shared content of every report: miss messages, the score formula, runbook links, the
gateway tally, the suite of a set of results."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.grading import display_score
from gameday.kinds import Capability, Grade, ObjectiveKind
from gameday.reports.suite import (
    format_delta,
    gateway_by_service,
    latest_per_scenario,
    miss_message,
    runbook_href,
    score_formula,
    suite_of,
    trend_delta,
)
from gameday.result import ObjectiveResult
from tests.unit.reports.runs import REPO, every_result, met_and_missed, never_recovered, synthetic


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
    if not result.objectives:
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
