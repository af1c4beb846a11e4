"""The summary ``gameday run`` prints: per scenario its objectives and score, then the suite
score with its per-capability roll-up, and the scoring rules (so anyone can recompute it).

A failed rollback comes first, in capitals, with what may still be in force and the command
that removes it: in a drill's summary and again in the suite's, the last thing printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gameday.grading import SuiteScore, describe_rules, display_score
from gameday.kinds import ObjectiveKind
from gameday.reports.egress import egress_lines
from gameday.reports.people import (
    MARK_HEAD,
    MARKS_CAPTION,
    STEP_HEAD,
    facilitation_facts,
    mark_cells,
    step_cells,
)
from gameday.reports.rollback import (
    ROLLBACK_FAILED,
    left_behind,
    left_behind_count,
    rollback_problems,
)
from gameday.result import ObjectiveResult, RunResult

# Marks and notes come from whoever holds the marks API's token: a terminal escape in one
# must not recolour or move the summary's cursor.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"


def format_target(objective: ObjectiveResult) -> str:
    """The target as people read it: '<= 5s', '>= 95.00%', 'holds'."""
    if objective.kind is ObjectiveKind.STEADY:
        return "holds"
    if objective.kind is ObjectiveKind.AVAILABILITY:
        return f">= {objective.target:.2%}"
    return f"<= {_seconds(objective.target)}"


def format_measured(objective: ObjectiveResult) -> str:
    """The measured value, or why there is none ('not recovered', 'not detected')."""
    if objective.kind is ObjectiveKind.STEADY:
        return "held" if objective.measured else "failed"
    if objective.measured is None:
        return {
            ObjectiveKind.RTO: "not recovered",
            ObjectiveKind.TTD: "not detected",
            ObjectiveKind.RPO: "not measured",
            ObjectiveKind.HUMAN_TTD: "not detected",
            ObjectiveKind.HUMAN_TTM: "no mitigation",
        }.get(objective.kind, "no data")
    if objective.kind is ObjectiveKind.AVAILABILITY:
        return f"{objective.measured:.2%}"
    return _seconds(objective.measured)


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _printable(text: str) -> str:
    return _CONTROL.sub("?", text)


def _facilitation(result: RunResult) -> list[str]:
    """A facilitated run's facts, its marks and its runbook checklist; nothing when unattended."""
    if result.facilitation is None:
        return []
    lines = [f"  {label}: {_printable(text)}" for label, text in facilitation_facts(result)]
    if not result.marks:
        lines.append("  marks: none")
    else:
        rows = [list(MARK_HEAD)]
        rows += [[_printable(c) for c in mark_cells(result, m)] for m in result.marks]
        lines += [f"  marks ({MARKS_CAPTION})", *_table(rows, indent="    ")]
    if result.facilitation.steps:
        rows = [list(STEP_HEAD)]
        rows += [[_printable(c) for c in step_cells(result, s)] for s in result.facilitation.steps]
        lines += ["  runbook checklist", *_table(rows, indent="    ")]
    return lines


def _rollback(result: RunResult) -> list[str]:
    """A failed rollback's banner and problems; nothing for a complete one."""
    problems = rollback_problems(result)
    if not problems:
        return []
    banner = f"!! {ROLLBACK_FAILED}: {_printable(result.scenario.name)} (run {result.run_id})"
    return [banner, *(f"!!   {_printable(problem)}" for problem in problems)]


def render_result(result: RunResult) -> str:
    """One scenario's summary, led by a failed rollback; a facilitated run's adds its marks
    and runbook checklist."""
    grade = result.grade.value if result.grade else "-"
    head = f"{result.scenario.name}: {result.status.value}"
    if result.score is not None:
        head += f", score {display_score(result.score)} ({grade})"
    lines = [*_rollback(result), head]
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    if result.objectives:
        rows = [["objective", "kind", "target", "measured", "met", "credit", "weight"]]
        for o in result.objectives:
            rows.append(
                [
                    o.name + (" *" if o.critical else ""),
                    o.kind.value,
                    format_target(o),
                    format_measured(o),
                    "yes" if o.met else "NO",
                    f"{o.credit:.2f}",
                    f"{o.weight:g}",
                ]
            )
        lines += _table(rows)
        for o in result.objectives:
            if not o.met or o.recovered_during_fault is False:
                lines.append(f"  - {o.name}: {o.detail}")
            if o.target_source:
                lines.append(f"  - {o.name}: target from {o.target_source}")
    lines += [f"  caps: {cap}" for cap in result.caps]
    lines += [f"  egress: {_printable(line)}" for line in egress_lines(result)]
    lines += _facilitation(result)
    return "\n".join(lines) + "\n"


def render_suite(suite: SuiteScore, results: Sequence[RunResult]) -> str:
    """The suite's score, its roll-up per capability, and the rules behind the numbers; led,
    when a drill's rollback failed, by how many left a fault behind and what to remove."""
    grade = suite.grade.value if suite.grade else "-"
    lines = []
    if left_behind(results):
        lines.append(f"!! {ROLLBACK_FAILED}: {left_behind_count(results)}")
        for result in left_behind(results):
            name = _printable(result.scenario.name)
            lines += [f"!!   {name}: {_printable(p)}" for p in rollback_problems(result)]
    lines.append(
        f"suite score {display_score(suite.score)} ({grade}) over {len(suite.counted)} scenario(s)"
    )
    for capability, score in sorted(suite.by_capability.items()):
        lines.append(f"  {capability.value:<9} {display_score(score)}")
    if suite.excluded:
        lines.append(f"  not graded (could not run): {', '.join(suite.excluded)}")
    lines.append("scoring: (* = critical)")
    lines += [f"  {rule}" for rule in describe_rules()]
    return "\n".join(lines) + "\n"
