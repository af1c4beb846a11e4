"""The summary ``gameday run`` prints: per scenario its objectives and score, then the suite
score with its per-capability roll-up, and the scoring rules (so anyone can recompute it)."""

from __future__ import annotations

from gameday.grading import SuiteScore, describe_rules, display_score
from gameday.kinds import ObjectiveKind
from gameday.result import ObjectiveResult, RunResult


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
        }.get(objective.kind, "no data")
    if objective.kind is ObjectiveKind.AVAILABILITY:
        return f"{objective.measured:.2%}"
    return _seconds(objective.measured)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_result(result: RunResult) -> str:
    """One scenario's summary."""
    grade = result.grade.value if result.grade else "-"
    head = f"{result.scenario.name}: {result.status.value}"
    if result.score is not None:
        head += f", score {display_score(result.score)} ({grade})"
    lines = [head]
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
    return "\n".join(lines) + "\n"


def render_suite(suite: SuiteScore) -> str:
    """The suite's score, its roll-up per capability, and the rules behind the numbers."""
    grade = suite.grade.value if suite.grade else "-"
    lines = [
        f"suite score {display_score(suite.score)} ({grade}) over {len(suite.counted)} scenario(s)"
    ]
    for capability, score in sorted(suite.by_capability.items()):
        lines.append(f"  {capability.value:<9} {display_score(score)}")
    if suite.excluded:
        lines.append(f"  not graded (could not run): {', '.join(suite.excluded)}")
    lines.append("scoring: (* = critical)")
    lines += [f"  {rule}" for rule in describe_rules()]
    return "\n".join(lines) + "\n"
