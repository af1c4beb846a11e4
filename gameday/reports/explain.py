"""How a score was computed, with its numbers: what ``gameday explain RESULT`` prints.

Per run: each objective's credit with the formula that gave it, the score written out, the
grade and what capped it. For several runs: the suite score and each capability's roll-up as
means over the scenario scores. Then the scoring rules the result was graded with. The numbers
are the result's own (credits, scores, grades as recorded), never graded again, so the text
explains what happened, not what today's code would say.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.grading import display_score, is_cut_short
from gameday.kinds import TIME_OBJECTIVES, ObjectiveKind
from gameday.reports.suite import (
    latest_per_scenario,
    measured_text,
    rules_of,
    score_formula,
    suite_of,
)
from gameday.reports.terminal import format_target, printable, text_table
from gameday.result import ObjectiveResult, RunResult


def _number(value: float) -> str:
    return f"{round(value, 3):g}"


def credit_reason(objective: ObjectiveResult) -> str:
    """Why the objective earned its credit, as a formula with the result's numbers."""
    if objective.met:
        return "met: 1"
    if is_cut_short(objective):
        return f"{measured_text(objective)}: 0"
    if objective.kind is ObjectiveKind.DESTRUCTIVE_CALLS:
        return "a missed count earns 0"
    if objective.kind not in TIME_OBJECTIVES:
        return "a missed boolean objective earns 0"
    if objective.measured is None:
        return f"{measured_text(objective)}: 0"
    if objective.target == 0:
        return "over a target of 0: 0"
    measured, target = _number(objective.measured), _number(objective.target)
    return f"max(0, 1 - ({measured} - {target}) / {target}) = {objective.credit:.2f}"


def _explain_run(result: RunResult) -> list[str]:
    name = printable(result.scenario.name)
    head = f"{name} (run {result.run_id}): {result.status.value}"
    if result.score is None:
        lines = [head + ", not graded: no score and no grade"]
        if result.reason:
            lines.append(f"  reason: {printable(result.reason)}")
        # Why an abort has no score: the cap says it was not a guardrail's.
        lines += [f"  {printable(cap)}" for cap in result.caps if cap.startswith("aborted")]
        return lines
    grade = result.grade.value if result.grade else "-"
    lines = [head + f", score {display_score(result.score)} ({grade})"]
    if result.reason:
        lines.append(f"  reason: {printable(result.reason)}")
    if result.objectives:
        lines += text_table([_OBJECTIVE_HEAD, *(_objective_row(o) for o in result.objectives)])
    formula = score_formula(result)
    if formula is not None:
        lines.append(f"  score = {formula}")
    lines += [f"  cap: {cap}" for cap in result.caps]
    if formula is not None and not formula.endswith(f"= {display_score(result.score)}"):
        # A cap set the score (a guardrail abort, a failed steady state after): the formula's
        # number is not the score, and the reader must not take it for one.
        lines.append(f"  score: {display_score(result.score)}")
    lines.append(f"  grade: {grade}")
    return lines


_OBJECTIVE_HEAD = ["objective", "kind", "target", "measured", "weight", "credit"]


def _objective_row(objective: ObjectiveResult) -> list[str]:
    return [
        objective.name + (" *" if objective.critical else ""),
        objective.kind.value,
        format_target(objective),
        measured_text(objective),
        f"{objective.weight:g}",
        credit_reason(objective),
    ]


def _mean(scores: Sequence[float | None], mean: float | None) -> str:
    terms = " + ".join(display_score(s) for s in scores)
    return f"({terms}) / {len(scores)} = {display_score(mean)}"


def _explain_suite(results: Sequence[RunResult]) -> list[str]:
    latest = latest_per_scenario(results)
    suite = suite_of(latest)
    counted = [r for r in latest if r.score is not None]
    if not counted:
        return ["suite: nothing was graded, no drill could run"]
    grade = suite.grade.value if suite.grade else "-"
    scores = [r.score for r in counted]
    lines = [
        f"suite score {display_score(suite.score)} ({grade}): the mean of the scenario scores, "
        "weight 1 each, the latest run of each scenario",
        f"  {_mean(scores, suite.score)}",
    ]
    if suite.excluded:
        lines.append(f"  left out (no score): {', '.join(suite.excluded)}")
    lines.append("per capability, the mean of the scenarios covering it:")
    for capability, mean in sorted(suite.by_capability.items()):
        covering = [r.score for r in counted if capability in r.scenario.capabilities]
        lines.append(f"  {capability.value:<9} {_mean(covering, mean)}")
    return lines


def render_explanation(results: Sequence[RunResult]) -> str:
    """The explanation of ``results``' scores (one run, or a suite when there are several
    scenarios), ending with the scoring rules they were graded with (* = critical)."""
    lines: list[str] = []
    for result in results:
        lines += [*_explain_run(result), ""]
    if len(latest_per_scenario(results)) > 1:
        lines += [*_explain_suite(results), ""]
    lines.append("scoring rules (* = critical):")
    lines += [f"  {rule}" for rule in rules_of(results[0])]
    return "\n".join(lines) + "\n"
