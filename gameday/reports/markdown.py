"""The Markdown report: the HTML report's content as text and tables, for a wiki or a PR.

Scenario strings are escaped for Markdown and for the HTML that Markdown lets through (GitHub
and most wikis render inline HTML): ``&``, ``<`` and ``>`` become entities, Markdown's
punctuation gets a backslash, and line breaks become spaces, so a string can neither open a
tag, nor a link, nor a new table row. Timelines are drawn as text in a fenced block whose
fence is longer than any run of backticks inside it. A failed rollback comes right under the
title, before anything else, in bold with a list of every fault left (and again at the top of
its run on a page of several).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gameday.grading import display_score, grade_for
from gameday.kinds import MarkKind, ObjectiveKind
from gameday.reports.app_calls import (
    APP_CALLS_HEADING,
    DESTRUCTIVE_HEAD,
    counted,
    destructive_cells,
    probe_line,
    summary_line,
)
from gameday.reports.egress import EGRESS_HEADING, egress_lines
from gameday.reports.people import (
    MARK_HEAD,
    MARKS_CAPTION,
    STEP_HEAD,
    facilitation_facts,
    mark_cells,
    step_cells,
)
from gameday.reports.rollback import (
    ROLLBACK_COMPLETE,
    ROLLBACK_FAILED,
    left_behind,
    left_behind_count,
    rollback_problems,
)
from gameday.reports.suite import (
    FAULT_HEAD,
    NOT_GRADED_SUITE,
    OBJECTIVE_HEAD,
    Trend,
    TrendPoint,
    app_log_href,
    fault_cells,
    format_delta,
    gateway_table,
    headline,
    latest_per_scenario,
    miss_message,
    not_graded,
    objective_cells,
    probe_summary,
    rules_of,
    runbook_href,
    score_formula,
    suite_of,
    tags_of,
    timeline_end,
    trend_delta,
)
from gameday.reports.terminal import format_measured, met_word
from gameday.result import ProbeRecord, RunResult

_INLINE = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COLUMNS = 60
_MARK_LETTERS = {
    MarkKind.DETECTED: "D",
    MarkKind.MITIGATION: "M",
    MarkKind.RECOVERED: "R",
    MarkKind.NOTE: "N",
    MarkKind.STEP: "S",
    MarkKind.END: "E",
}
_MARKS_LEGEND = (
    "; people's marks: `D` detected, `M` mitigation, `R` recovered, `N` note, `S` runbook step, "
    "`E` held faults ended, `+` several marks"
)


def _md(text: object) -> str:
    """Escape a string for inline Markdown (a table cell, a sentence)."""
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INLINE.sub(r"\\\1", flat)


def _md_start(text: object) -> str:
    """Escape a string that starts a line: it must not become a heading, quote or list."""
    return _LINE_START.sub(r"\1\\\2", _md(text))


def _md_url(url: str) -> str:
    """A link target: what would end a Markdown link or open a tag is percent-encoded."""
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url


def _plain(text: str) -> str:
    """A name for a fenced code block: no control characters, one line."""
    return _CONTROL.sub("?", text)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A pipe table; cells arrive escaped."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _grade(result: RunResult) -> str:
    return result.grade.value if result.grade else "-"


def _trend_text(points: Sequence[TrendPoint]) -> str:
    """'61.0 → 72.5 → 80.0': the scored runs, oldest first."""
    return " → ".join(display_score(score) for _, score in points if score is not None)


def _suite(results: Sequence[RunResult], trend: Trend | None) -> list[str]:
    suite = suite_of(results)
    grade = suite.grade.value if suite.grade else "-"
    lines = [
        "## Suite",
        "",
        f"**Score {display_score(suite.score)} ({grade})** over {len(suite.counted)} graded "
        "scenario(s): the weighted mean of their latest runs.",
        "",
    ]
    if suite.excluded:
        lines += [f"{NOT_GRADED_SUITE.capitalize()}: {_md(', '.join(suite.excluded))}", ""]
    if left_behind(results):
        lines += [f"**Rollback failed: {left_behind_count(results)}** (see the top).", ""]
    lines += _table(
        ["capability", "score", "grade"],
        [
            [c.value, display_score(score), grade_for(score).value]
            for c, score in sorted(suite.by_capability.items())
        ],
    )
    rows = []
    for result in results:
        points = (trend or {}).get(result.scenario.name, ())
        rows.append(
            [
                _md(result.scenario.name),
                result.status.value,
                display_score(result.score),
                _grade(result),
                str(sum(1 for o in result.objectives if not o.met)),
                _trend_text(points),
                format_delta(trend_delta(points)),
            ]
        )
    head = ["scenario", "status", "score", "grade", "missed", "last runs (oldest first)", "change"]
    return lines + _table(head, rows)


def _facts(result: RunResult) -> list[str]:
    scenario = result.scenario
    rows = [
        ["run", _md(result.run_id)],
        ["environment", _md(result.environment)],
        ["started", _md(result.started_at)],
        ["ended", _md(result.ended_at)],
        ["scenario file", _md(scenario.file)],
        ["rollback", ROLLBACK_COMPLETE if result.rollback.complete else "**FAILED**"],
    ]
    if scenario.owner:
        rows.append(["owner", _md(scenario.owner)])
    if scenario.capabilities:
        rows.append(["capabilities", ", ".join(c.value for c in scenario.capabilities)])
    tags = tags_of(result)
    if tags:
        rows.append(["tags", ", ".join(_md(t) for t in tags)])
    log = app_log_href(result)
    if log:
        rows.append(["app log", f"[{_md(result.app_log)}]({_md_url(log)})"])
    return _table(["", ""], rows)


def _objectives(result: RunResult, report_dir: Path | None) -> list[str]:
    rows = [[_md(cell) for cell in objective_cells(o)] for o in result.objectives]
    for row, o in zip(rows, result.objectives, strict=True):
        row[5] = met_word(o, "**NO**")
    lines = ["### Objectives", "", *_table(OBJECTIVE_HEAD, rows)]
    href = runbook_href(result, report_dir)
    link = f" [runbook]({_md_url(href)})" if href else " (no runbook)"
    for o in result.objectives:
        if not o.met:
            lines.append(f"- **{_md(o.name)}**: {_md(miss_message(o))}. {_md(o.detail)}{link}")
        elif o.detail:
            lines.append(f"- {_md(o.name)}: {_md(o.detail)}")
    return [*lines, ""]


def _score(result: RunResult) -> list[str]:
    lines = ["### Score", ""]
    if result.score is None:
        lines.append(f"Not graded: {not_graded(result)}.")
    else:
        lines.append(f"**{display_score(result.score)} ({_grade(result)})**")
    formula = score_formula(result)
    if formula is not None:
        lines += ["", f"`{formula}`"]
    if result.caps:
        lines += ["", *(f"- {_md(cap)}" for cap in result.caps)]
    return [*lines, ""]


def _column(at_s: float, end_s: float) -> int:
    return min(_COLUMNS - 1, max(0, int(at_s / end_s * _COLUMNS)))


def _probe_row(probe: ProbeRecord, end_s: float) -> str:
    cells = [" "] * _COLUMNS
    for at in probe.missed:
        cells[_column(at, end_s)] = "?"
    for offset, ok, _ in probe.samples:
        col = _column(offset, end_s)
        # An unhealthy sample wins its column: a short outage must stay visible when shrunk.
        if not ok:
            cells[col] = "x"
        elif cells[col] == " ":
            cells[col] = "."
    for seq_at in (at for _, at, ack, found in probe.markers if ack and found is None):
        cells[_column(seq_at, end_s)] = "U"
    for seq_at in (at for _, at, ack, found in probe.markers if ack and found is False):
        cells[_column(seq_at, end_s)] = "L"
    for at, matched in probe.alerts:
        if matched:
            cells[_column(at, end_s)] = "!"
    return "".join(cells)


def _marks_row(result: RunResult, probe: ProbeRecord, end_s: float) -> str | None:
    cells = [" "] * _COLUMNS
    marked = False
    for o in result.objectives:
        if o.probe != probe.name or o.impact_start is None:
            continue
        start = _column(o.impact_start, end_s)
        stop = _COLUMNS - 1 if o.recovered_at is None else _column(o.recovered_at, end_s)
        for col in range(start, stop + 1):
            cells[col] = "-" if cells[col] == " " else cells[col]
        cells[start] = "I"
        cells[stop] = "R" if o.recovered_at is not None else ">"
        marked = True
    return "".join(cells) if marked else None


def _people_row(result: RunResult, end_s: float) -> str:
    """People's marks as letters on the timeline's scale; ``+`` where marks share a column."""
    cells = [" "] * _COLUMNS
    for mark in result.marks:
        col = _column(mark.at, end_s)
        cells[col] = _MARK_LETTERS[mark.kind] if cells[col] == " " else "+"
    return "".join(cells)


def _timeline(result: RunResult) -> list[str]:
    end_s = timeline_end(result)
    labels = [_plain(p.name) for p in result.probes]
    width = max([len(label) for label in labels] + [len("faults")]) + 2
    fault_cells = [" "] * _COLUMNS
    for fault in result.faults:
        if fault.injected_at is not None:
            stop = end_s if fault.removed_at is None else fault.removed_at
            for col in range(_column(fault.injected_at, end_s), _column(stop, end_s) + 1):
                fault_cells[col] = "#"
    scale = f"0s{' ' * (_COLUMNS - 2 - len(f'{end_s:.0f}s'))}{end_s:.0f}s"
    rows = [" " * width + scale, "faults".ljust(width) + "".join(fault_cells)]
    for probe, label in zip(result.probes, labels, strict=True):
        rows.append(label.ljust(width) + _probe_row(probe, end_s))
        marks = _marks_row(result, probe, end_s)
        if marks is not None:
            rows.append(" " * width + marks)
    if result.marks:
        rows.append("marks".ljust(width) + _people_row(result, end_s))
    longest = max((len(run) for row in rows for run in re.findall(r"`+", row)), default=0)
    fence = "`" * max(3, longest + 1)
    legend = (
        "`.` healthy, `x` unhealthy, `?` missed tick, `!` alert received, `L` marker lost, "
        "`U` marker unverified, `#` fault in force, `I` impact start, `R` recovered (`>`: not "
        "recovered), `-` the RTO span"
    )
    if result.marks:
        legend += _MARKS_LEGEND
    rows = [row.rstrip() for row in rows]
    return ["### Timeline", "", f"{fence}text", *rows, fence, "", legend, ""]


def _probe_notes(result: RunResult) -> list[str]:
    lines = []
    for probe in result.probes:
        text = f"- **{_md(probe.name)}**: {_md(probe_summary(probe))}"
        for o in result.objectives:
            if o.probe == probe.name and o.kind is ObjectiveKind.RTO and o.impact_start is not None:
                text += f"; {_md(o.name)}: impact at {o.impact_start:.2f}s, RTO "
                text += _md(format_measured(o))
                if o.recovered_during_fault is not None:
                    text += " (during the fault)" if o.recovered_during_fault else " (after it)"
        if probe.failures:
            at, detail = probe.failures[0]
            text += f"; first unhealthy sample at {at:.2f}s: {_md(detail)}"
        lines.append(text)
    return [*lines, ""] if lines else []


def _people(result: RunResult) -> list[str]:
    """A facilitated run's facts, marks and runbook checklist; nothing when unattended."""
    if result.facilitation is None:
        return []
    facts = [[_md(label), _md(text)] for label, text in facilitation_facts(result)]
    lines = ["### Facilitation", "", *_table(["", ""], facts), "### Marks", ""]
    if result.marks:
        rows = [[_md(cell) for cell in mark_cells(result, m)] for m in result.marks]
        lines += [f"{_md(MARKS_CAPTION)}.", "", *_table(MARK_HEAD, rows)]
    else:
        lines += ["Nobody marked the timeline.", ""]
    steps = result.facilitation.steps
    if steps:
        rows = [[_md(cell) for cell in step_cells(result, s)] for s in steps]
        lines += ["### Runbook checklist", "", *_table(STEP_HEAD, rows)]
    return lines


def _gateway(result: RunResult) -> list[str]:
    head, rows = gateway_table(result)
    lines = ["### What the gateway saw", "", f"{result.gateway.total} call(s).", ""]
    if rows:
        lines += _table([_md(h) for h in head], [[_md(c) for c in row] for row in rows])
    return lines


def _app_calls(result: RunResult) -> list[str]:
    if not counted(result):
        return []
    lines = [f"### {APP_CALLS_HEADING}", "", f"{_md(summary_line(result))}.", ""]
    rows = [[_md(c) for c in destructive_cells(call)] for call in result.calls.destructive]
    if rows:
        lines += ["Destructive calls:", "", *_table(DESTRUCTIVE_HEAD, rows)]
    probes = probe_line(result)
    if probes:
        lines += [f"{_md(probes)}.", ""]
    return lines


def _egress(result: RunResult) -> list[str]:
    lines = [f"- {_md(line)}" for line in egress_lines(result)]
    return [f"### {EGRESS_HEADING}", "", *lines, ""] if lines else []


def _events(result: RunResult) -> list[str]:
    if not result.events:
        return []
    rows = [[f"{ev.at:.2f}s", _md(ev.kind), _md(ev.detail)] for ev in result.events]
    summary = f"<details><summary>Timeline events ({len(rows)})</summary>"
    return [summary, "", *_table(["at", "event", "detail"], rows), "</details>", ""]


def _left_behind(results: Sequence[RunResult]) -> list[str]:
    """The page's first words when a rollback failed: every fault left, and how to remove it."""
    failed = left_behind(results)
    if not failed:
        return []
    lines = [f"**{ROLLBACK_FAILED}.** {left_behind_count(results)}:", ""]
    for result in failed:
        where = f"**{_md(result.scenario.name)}** (run {_md(result.run_id)})"
        lines += [f"- {where}: {_md(problem)}" for problem in rollback_problems(result)]
    return [*lines, ""]


def _rollback(result: RunResult) -> list[str]:
    problems = rollback_problems(result)
    if not problems:
        return []
    return [f"**{ROLLBACK_FAILED}.**", "", *(f"- {_md(p)}" for p in problems), ""]


def _scenario(
    result: RunResult, report_dir: Path | None, page_rules: list[str], several: bool
) -> list[str]:
    lines = [f"## {_md(result.scenario.name)}: {headline(result)}", ""]
    if several:  # a page of one run says it once, at the top
        lines += _rollback(result)
    if result.scenario.description:
        lines += [_md_start(result.scenario.description), ""]
    lines += _facts(result)
    if result.reason:
        lines += [f"**Reason:** {_md(result.reason)}", ""]
    lines += _score(result)
    if result.objectives:
        lines += _objectives(result, report_dir)
    if result.faults:
        rows = [[_md(cell) for cell in fault_cells(f)] for f in result.faults]
        lines += ["### Faults", "", *_table(FAULT_HEAD, rows)]
    if result.faults or result.probes:
        lines += _timeline(result) + _probe_notes(result)
    lines += _people(result) + _app_calls(result) + _gateway(result) + _egress(result)
    lines += _events(result)
    rules = rules_of(result)
    if rules != page_rules:
        lines += ["### Scoring rules of this run", ""] + [f"- {_md(r)}" for r in rules] + [""]
    return lines


def render_markdown(
    results: Sequence[RunResult],
    trend: Trend | None = None,
    *,
    report_dir: Path | None = None,
    title: str = "GameDay drill report",
) -> str:
    """The report as Markdown: the suite (with more than one scenario), then each run.

    Runbook links follow the same rule as the HTML report (``suite.runbook_href``).
    """
    if not results:
        raise ValueError("a report needs at least one result")
    page_rules = rules_of(results[0])
    lines = [f"# {_md(title)}", "", *_left_behind(results)]
    lines += [f"{len(results)} run(s); scores are out of 100.", ""]
    if len(latest_per_scenario(results)) > 1:
        lines += _suite(results, trend)
    elif trend and trend.get(results[0].scenario.name):
        points = trend[results[0].scenario.name]
        change = format_delta(trend_delta(points))
        lines += [f"Trend of the last runs: {_trend_text(points)} {change}".rstrip(), ""]
    for result in results:
        lines += _scenario(result, report_dir, page_rules, len(results) > 1)
    lines += ["## How the score is computed", ""] + [f"- {_md(r)}" for r in page_rules]
    return "\n".join(lines) + "\n"
