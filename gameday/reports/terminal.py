"""The summary ``gameday run`` prints: per drill its objectives and the reasons for misses,
then closing lines with the score (a suite's with its roll-up per capability), the report's
path and the command that explains the score.

The scoring rules are not printed here: they are in every report and in ``gameday explain``
(``gameday.reports.explain``). A failed rollback comes first, in capitals, with what may still
be in force and the command that removes it: in a drill's summary and again in the closing
lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gameday.grading import NOT_MEASURED_ABORTED, SuiteScore, display_score, is_cut_short
from gameday.kinds import ObjectiveKind, RunStatus
from gameday.reports.app_calls import counted, destructive_lines, probe_line, summary_line
from gameday.reports.egress import egress_lines
from gameday.reports.fault_calls import matched_lines
from gameday.reports.people import (
    MARK_HEAD,
    MARKS_CAPTION,
    STEP_HEAD,
    facilitation_facts,
    mark_cells,
    step_cells,
)
from gameday.reports.read_back import read_back_lines
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
    if objective.kind is ObjectiveKind.DESTRUCTIVE_CALLS:
        return f"<= {objective.target:g} call(s)"
    return f"<= {_seconds(objective.target)}"


def format_measured(objective: ObjectiveResult) -> str:
    """The measured value, or why there is none ('not recovered', 'not detected', or
    'not measured (aborted)' for one an abort cut short)."""
    if is_cut_short(objective):
        return NOT_MEASURED_ABORTED
    if objective.kind is ObjectiveKind.STEADY:
        return "held" if objective.measured else "failed"
    if objective.measured is None:
        return {
            ObjectiveKind.RTO: "not recovered",
            ObjectiveKind.TTD: "not detected",
            ObjectiveKind.RPO: "not measured",
            ObjectiveKind.HUMAN_TTD: "not detected",
            ObjectiveKind.HUMAN_TTM: "no mitigation",
            ObjectiveKind.DESTRUCTIVE_CALLS: "not counted",
        }.get(objective.kind, "no data")
    if objective.kind is ObjectiveKind.AVAILABILITY:
        return f"{objective.measured:.2%}"
    if objective.kind is ObjectiveKind.DESTRUCTIVE_CALLS:
        return f"{objective.measured:g} call(s)"
    return _seconds(objective.measured)


def met_word(objective: ObjectiveResult, missed: str) -> str:
    """The met column: ``yes``, ``missed``, or ``-`` for one an abort cut short (neither)."""
    if is_cut_short(objective):
        return "-"
    return "yes" if objective.met else missed


def text_table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows as aligned columns, the first row being the heading."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def printable(text: str) -> str:
    """``text`` with control characters shown as '?': nothing recolours or moves the cursor."""
    return _CONTROL.sub("?", text)


def _facilitation(result: RunResult) -> list[str]:
    """A facilitated run's facts, its marks and its runbook checklist; nothing when unattended."""
    if result.facilitation is None:
        return []
    lines = [f"  {label}: {printable(text)}" for label, text in facilitation_facts(result)]
    if not result.marks:
        lines.append("  marks: none")
    else:
        rows = [list(MARK_HEAD)]
        rows += [[printable(c) for c in mark_cells(result, m)] for m in result.marks]
        lines += [f"  marks ({MARKS_CAPTION})", *text_table(rows, indent="    ")]
    if result.facilitation.steps:
        rows = [list(STEP_HEAD)]
        rows += [[printable(c) for c in step_cells(result, s)] for s in result.facilitation.steps]
        lines += ["  runbook checklist", *text_table(rows, indent="    ")]
    return lines


def _rollback(result: RunResult) -> list[str]:
    """A failed rollback's banner and problems; nothing for a complete one."""
    problems = rollback_problems(result)
    if not problems:
        return []
    banner = f"!! {ROLLBACK_FAILED}: {printable(result.scenario.name)} (run {result.run_id})"
    return [banner, *(f"!!   {printable(problem)}" for problem in problems)]


def _probe_timeouts(result: RunResult) -> list[str]:
    """Each probe's timeout, under the objectives it decides: a slower answer is unhealthy."""
    shown = [
        f"{printable(p.name)} {p.timeout_s:g}s"
        for p in result.probes
        if p.timeout_s is not None and p.kind != "alert"
    ]
    if not shown or not result.objectives:
        return []
    return [f"  probe timeouts: {', '.join(shown)} (a slower answer is an unhealthy sample)"]


def render_result(result: RunResult, result_path: Path | None = None) -> str:
    """One scenario's summary, led by a failed rollback; a facilitated run's adds its marks
    and runbook checklist. The app's log is named when the app exited or the run is an
    error (``result_path``: where the result was written, beside which the log is)."""
    grade = result.grade.value if result.grade else "-"
    head = f"{result.scenario.name}: {result.status.value}"
    if result.score is not None:
        head += f", score {display_score(result.score)} ({grade})"
    lines = [*_rollback(result), head]
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    if result.app_log and (result.app_exit or result.status is RunStatus.ERROR):
        where = result_path.parent / result.app_log if result_path else result.app_log
        lines.append(f"  app log: {where}")
    if result.objectives:
        rows = [["objective", "kind", "target", "measured", "met", "credit", "weight"]]
        for o in result.objectives:
            rows.append(
                [
                    o.name + (" *" if o.critical else ""),
                    o.kind.value,
                    format_target(o),
                    format_measured(o),
                    met_word(o, "NO"),
                    f"{o.credit:.2f}",
                    f"{o.weight:g}",
                ]
            )
        lines += text_table(rows)
        for o in result.objectives:
            if not o.met or o.recovered_during_fault is False:
                lines.append(f"  - {o.name}: {o.detail}")
            if o.target_source:
                lines.append(f"  - {o.name}: target from {o.target_source}")
    lines += _probe_timeouts(result)
    lines += [f"  caps: {cap}" for cap in result.caps]
    lines += [f"  fault {printable(line)}" for line in matched_lines(result.faults)]
    lines += [f"  read-back {printable(line)}" for line in read_back_lines(result)]
    lines += [f"  egress: {printable(line)}" for line in egress_lines(result)]
    if counted(result):
        lines.append(f"  what the app did: {summary_line(result)}")
        lines += [f"    destructive: {printable(line)}" for line in destructive_lines(result)]
        probes = probe_line(result)
        if probes:
            lines.append(f"    {probes}")
    lines += _facilitation(result)
    return "\n".join(lines) + "\n"


def _graded_line(suite: SuiteScore, results: Sequence[RunResult]) -> list[str]:
    """The score of one drill, or a suite's with its roll-up; a sentence when nothing was."""
    if not results:
        return ["nothing was graded: no drill finished"]
    if not suite.counted:
        not_run = ", ".join(f"{printable(r.scenario.name)} ({r.status.value})" for r in results)
        return [f"nothing was graded: {not_run}; each drill's reason is above"]
    if len(results) == 1:
        (result,) = results
        grade = result.grade.value if result.grade else "-"
        return [f"{printable(result.scenario.name)}: score {display_score(result.score)} ({grade})"]
    grade = suite.grade.value if suite.grade else "-"
    over = f"{len(suite.counted)} drills"
    if suite.excluded:
        over = f"{len(suite.counted)} of {len(suite.counted) + len(suite.excluded)} drills"
    lines = [f"suite score {display_score(suite.score)} ({grade}) over {over}"]
    lines += [
        f"  {capability.value:<9} {display_score(score)}"
        for capability, score in sorted(suite.by_capability.items())
    ]
    if suite.excluded:
        excluded = ", ".join(suite.excluded)
        lines.append(f"  not graded (could not run, or tested nothing): {excluded}")
    return lines


def render_closing(
    suite: SuiteScore,
    results: Sequence[RunResult],
    *,
    report: str | None = None,
    explain: str | None = None,
) -> str:
    """The last lines of ``gameday run``: the score (a suite's with its roll-up per capability;
    no suite lines for one drill; a sentence when nothing could be graded), then ``report``,
    the report's path, and ``explain``, the command that shows how the score was computed.

    Led, when a drill's rollback failed, by how many left a fault behind and what to remove.
    """
    lines = []
    if left_behind(results):
        lines.append(f"!! {ROLLBACK_FAILED}: {left_behind_count(results)}")
        for result in left_behind(results):
            name = printable(result.scenario.name)
            lines += [f"!!   {name}: {printable(p)}" for p in rollback_problems(result)]
    lines += _graded_line(suite, results)
    if report is not None:
        lines.append(f"report: {report}")
    if explain is not None and suite.counted:
        lines.append(f"how the score was computed: {explain}")
    return "\n".join(lines) + "\n"
