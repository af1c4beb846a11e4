"""`gameday explain`: a result's score taken apart with its own numbers, and the rules."""

from __future__ import annotations

import re

from gameday.grading import credit, display_score
from gameday.reports.explain import credit_reason, render_explanation
from gameday.reports.suite import rules_of, score_formula, suite_of
from tests.unit.reports.runs import demo_suite, met_and_missed, not_steady

_FORMULA = re.compile(r"max\(0, 1 - \(([\d.]+) - ([\d.]+)\) / ([\d.]+)\) = ([\d.]+)")


def test_each_missed_time_objective_shows_the_formula_that_gave_its_credit() -> None:
    result = met_and_missed()
    checked = 0
    for objective in result.objectives:
        reason = credit_reason(objective)
        found = _FORMULA.fullmatch(reason)
        if found is None:
            continue
        measured, target, divisor, shown = (float(g) for g in found.groups())
        assert (target, divisor) == (objective.target, objective.target)
        assert measured == round(objective.measured or -1, 3)
        # The numbers shown recompute to the credit the result recorded.
        assert f"{max(0.0, 1 - (measured - target) / target):.2f}" == f"{shown:.2f}"
        assert f"{shown:.2f}" == f"{objective.credit:.2f}"
        checked += 1
    assert checked == 2  # credentials-rto and the late ttd


def test_met_boolean_and_unmeasured_objectives_say_why_in_words() -> None:
    by_name = {o.name: o for o in met_and_missed().objectives}
    assert credit_reason(by_name["api-rto"]) == "met: 1"
    assert credit_reason(by_name["availability"]) == "a missed boolean objective earns 0"
    unmeasured = by_name["credentials-rto"].model_copy(update={"measured": None, "credit": 0.0})
    assert credit_reason(unmeasured) == "not recovered: 0"
    assert credit(unmeasured.kind, False, None, unmeasured.target) == 0.0


def test_one_run_explained_ends_with_its_own_scoring_rules() -> None:
    result = met_and_missed()
    lines = render_explanation([result]).splitlines()
    assert lines[0] == f"identity-loss (run {result.run_id}): failed, score 73.0 (C)"
    assert f"  score = {score_formula(result)}" in lines
    assert "  grade: C" in lines
    rules = lines[lines.index("scoring rules (* = critical):") + 1 :]
    assert rules == [f"  {rule}" for rule in rules_of(result)]
    assert not any(line.startswith("suite score") for line in lines)


def test_a_suite_explains_its_mean_and_each_capability() -> None:
    results = demo_suite()
    suite = suite_of(results)
    text = render_explanation(results)
    counted = [r for r in results if r.score is not None]
    terms = " + ".join(display_score(r.score) for r in counted)
    assert (
        f"suite score {display_score(suite.score)} ({suite.grade}): the mean of the scenario "
        "scores, weight 1 each, the latest run of each scenario\n"
        f"  ({terms}) / {len(counted)} = {display_score(suite.score)}\n"
    ) in text
    assert "  left out (no score): region-loss\n" in text
    for capability, mean in suite.by_capability.items():
        assert re.search(
            rf"^  {capability.value} +\(.*\) / \d+ = {display_score(mean)}$", text, re.M
        )
    assert "region-loss (run " in text and "not-steady, not graded: no score and no grade" in text


def test_a_run_that_could_not_start_is_explained_as_not_graded() -> None:
    result = not_steady()
    lines = render_explanation([result]).splitlines()
    assert lines[:2] == [
        f"region-loss (run {result.run_id}): not-steady, not graded: no score and no grade",
        f"  reason: {result.reason}",
    ]
