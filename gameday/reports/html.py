"""The HTML report: one self-contained file, readable offline, nothing fetched, no script.

The page shell (Content-Security-Policy, base styles, escaping) is ``gameday.reports.page``;
every scenario-supplied string goes through its ``esc`` on its way into text or an attribute.
A failed rollback is a red banner, the first thing on the page, naming every fault left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gameday.grading import display_score, grade_for
from gameday.kinds import Capability, MarkKind, ObjectiveKind
from gameday.reports.app_calls import (
    APP_CALLS_HEADING,
    DESTRUCTIVE_HEAD,
    counted,
    destructive_cells,
    probe_line,
    summary_line,
)
from gameday.reports.egress import EGRESS_HEADING, egress_lines
from gameday.reports.page import cells, document, esc, rules_list, table, td
from gameday.reports.people import (
    MARK_HEAD,
    MARK_NUMERIC,
    MARKS_CAPTION,
    STEP_HEAD,
    STEP_NUMERIC,
    facilitation_facts,
    mark_cells,
    mark_title,
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
    FAULT_NUMERIC,
    NOT_GRADED_SUITE,
    NOT_RUN,
    OBJECTIVE_HEAD,
    OBJECTIVE_NUMERIC,
    RUN_FAILED,
    Trend,
    TrendPoint,
    app_log_href,
    fault_cells,
    format_delta,
    gateway_by_service,
    gateway_table,
    headline,
    latest_per_scenario,
    miss_message,
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
from gameday.reports.terminal import format_measured
from gameday.result import ProbeRecord, RunResult

_STYLE = """
main{max-width:1100px}
h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:18px 0 6px}
h4{font-size:14px;margin:14px 0 4px}
section{padding:8px 20px 16px}
th,td{vertical-align:top}
.objectives td:nth-child(n+2):nth-child(-n+9){white-space:nowrap}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-weight:600;color:#fff}
.badge.passed{background:#2e7d32}.badge.failed{background:#c62828}
.badge.aborted{background:#6a1b9a}.badge.error,.badge.not-steady{background:#616161}
.badge.inconclusive{background:#8d6e63}
.score{font-size:30px;font-weight:700;margin:4px 0}.score .grade{font-size:22px;margin-left:8px}
.miss td{background:#fff4f4}
.rollback-failed{background:#b71c1c;color:#fff;border-radius:8px;padding:12px 20px;
margin:16px 0;font-size:15px}.rollback-failed h2{margin:0 0 6px;font-size:20px}
.rollback-failed ul{margin:6px 0 0;padding-left:20px}.rollback-failed li{margin:4px 0}
.rollback-failed code{color:#fff}.rollback-failed .name{font-weight:700}
.banner.rollback{background:#ffebee;border-color:#b71c1c;font-weight:600}
.facts .no{color:#b71c1c;font-weight:700}
.formula{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
svg.timeline{width:100%;height:auto;display:block;background:#fbfcfd;border:1px solid #e5e8ec}
svg.timeline text{font:11px system-ui,sans-serif;fill:#4a5563}
.series.ok rect{fill:#43a047}.series.failed rect{fill:#e53935}.series.missed rect{fill:#9e9e9e}
.series.alerts circle{fill:#6a1b9a}.series.lost-markers path{stroke:#b71c1c;stroke-width:2}
.series.unverified-markers circle{fill:none;stroke:#b71c1c;stroke-width:1.5}
rect.fault-window{fill:#ff9800;fill-opacity:.18;stroke:#ef6c00;stroke-opacity:.5}
line.impact{stroke:#c62828;stroke-width:1.5;stroke-dasharray:4 3}
line.recovery{stroke:#2e7d32;stroke-width:1.5}
.rto-span line,.ttd-span line{stroke:#1d2430;stroke-width:1.5}
.rto-span.open line{stroke-dasharray:5 4}.axis line{stroke:#9aa4b1}
svg.trend{width:160px;height:36px}
.legend span{display:inline-block;margin-right:14px}.swatch{display:inline-block;width:12px;
height:12px;vertical-align:middle;margin-right:4px;border-radius:2px}
.sw-ok{background:#43a047}.sw-failed{background:#e53935}.sw-missed{background:#9e9e9e}
.sw-fault{background:#ffe0b2}.sw-impact{background:#c62828}.sw-recovery{background:#2e7d32}
.sw-mark{background:currentColor}
line.mark{stroke-width:2}.mark-note{stroke-dasharray:2 3}
.mark-detected{stroke:#1565c0;color:#1565c0}.mark-mitigation{stroke:#00838f;color:#00838f}
.mark-recovered{stroke:#558b2f;color:#558b2f}.mark-note{stroke:#5f6b7a;color:#5f6b7a}
.mark-step{stroke:#8e24aa;color:#8e24aa}.mark-end{stroke:#ef6c00;color:#ef6c00}
span.mark-kind{font-weight:600}tr.unticked td{color:#5f6b7a}
"""
"""The drill report's own styles, after the shell's (gameday/reports/page.py)."""


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    css: str = "",
    row_css: Sequence[str] = (),
) -> str:
    """A table of ready cells (already escaped); ``row_css`` gives a class per row (same
    order as ``rows``; '' for none)."""
    classes = list(row_css) + [""] * (len(rows) - len(row_css))
    body = (
        f'<tr class="{c}">{"".join(row)}</tr>' if c else f"<tr>{''.join(row)}</tr>"
        for c, row in zip(classes, rows, strict=True)
    )
    return table(head, body, css)


def _score_html(score: float | None, grade: str | None) -> str:
    if score is None:
        return '<p class="score muted">not graded</p>'
    letter = grade or "-"
    return (
        f'<p class="score g-{esc(letter)}">{esc(display_score(score))}'
        f'<span class="grade">{esc(letter)}</span></p>'
    )


def _sparkline(points: Sequence[TrendPoint]) -> str:
    """A 160x36 SVG of the last scores (0..100), one dot per scored run."""
    scored = [(at, score) for at, score in points if score is not None]
    if not scored:
        return '<span class="muted">no scored runs</span>'
    step = 150.0 / max(1, len(scored) - 1)
    coords = [(5.0 + i * step, 33.0 - 30.0 * score / 100.0) for i, (_, score) in enumerate(scored)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{esc(at)}: '
        f"{esc(display_score(score))}</title></circle>"
        for (x, y), (at, score) in zip(coords, scored, strict=True)
    )
    return (
        f'<svg class="trend" data-points="{len(scored)}" viewBox="0 0 160 36" role="img" '
        f'aria-label="score trend"><polyline points="{line}"/>{dots}</svg>'
    )


def _suite_section(results: Sequence[RunResult], trend: Trend | None) -> str:
    suite = suite_of(results)
    grade = suite.grade.value if suite.grade else None
    parts = [
        '<section id="suite"><h2>Suite</h2>',
        _score_html(suite.score, grade),
        f'<p class="muted">over {len(suite.counted)} graded scenario(s): weighted mean of '
        "their latest runs</p>",
    ]
    if suite.excluded:
        names = ", ".join(suite.excluded)
        parts.append(f'<p class="banner">{esc(NOT_GRADED_SUITE)}: {esc(names)}</p>')
    if left_behind(results):
        text = f"rollback failed: {left_behind_count(results)} (see the top of the page)"
        parts.append(f'<p class="banner rollback">{esc(text)}</p>')
    capability_rows = [
        [td(c.value), td(display_score(score), num=True), td(grade_for(score).value)]
        for c, score in sorted(suite.by_capability.items())
    ]
    uncovered = [c.value for c in Capability if c not in suite.by_capability]
    parts.append("<h3>By capability</h3>")
    parts.append(_table(["capability", "score", "grade"], capability_rows, "capabilities"))
    if uncovered:
        parts.append(f'<p class="muted">not covered: {esc(", ".join(uncovered))}</p>')
    parts.append("<h3>Scenarios</h3>")
    parts.append(_scenario_index(results, trend))
    parts.append("</section>")
    return "".join(parts)


def _scenario_index(results: Sequence[RunResult], trend: Trend | None) -> str:
    rows = []
    for index, result in enumerate(results):
        points = (trend or {}).get(result.scenario.name, ())
        grade = result.grade.value if result.grade else "-"
        rows.append(
            [
                f'<td><a href="#s-{index}">{esc(result.scenario.name)}</a></td>',
                f'<td><span class="badge {esc(result.status.value)}">'
                f"{esc(result.status.value)}</span></td>",
                td(display_score(result.score), num=True),
                td(grade),
                td(sum(1 for o in result.objectives if not o.met), num=True),
                f"<td>{_sparkline(points)}</td>" if points else td(""),
                td(format_delta(trend_delta(points)), num=True),
            ]
        )
    head = ["scenario", "status", "score", "grade", "missed", "trend (last runs)", "change"]
    return _table(head, rows, "scenarios")


def _facts(result: RunResult) -> str:
    scenario = result.scenario
    facts = [
        ("run", f"<code>{esc(result.run_id)}</code>"),
        ("environment", esc(result.environment)),
        ("started", esc(result.started_at)),
        ("ended", esc(result.ended_at)),
        ("scenario file", f"<code>{esc(scenario.file)}</code>"),
        (
            "rollback",
            ROLLBACK_COMPLETE if result.rollback.complete else '<span class="no">FAILED</span>',
        ),
    ]
    if scenario.owner:
        facts.append(("owner", esc(scenario.owner)))
    if scenario.capabilities:
        facts.append(("capabilities", esc(", ".join(c.value for c in scenario.capabilities))))
    tags = tags_of(result)
    if tags:
        facts.append(("tags", ", ".join(f"<code>{esc(t)}</code>" for t in tags)))
    log = app_log_href(result)
    if log:
        facts.append(("app log", f'<a href="{esc(log)}">{esc(result.app_log or "")}</a>'))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def _objectives_table(result: RunResult, report_dir: Path | None) -> str:
    href = runbook_href(result, report_dir)
    rows = []
    for o in result.objectives:
        if o.met:
            follow = ""
        elif href is None:
            follow = '<span class="muted">no runbook</span>'
        else:
            follow = f'<a class="runbook" href="{esc(href)}">runbook</a>'
        detail = o.detail if o.met else f"{miss_message(o)}. {o.detail}"
        rows.append(
            [*cells(objective_cells(o), OBJECTIVE_NUMERIC), td(detail), f"<td>{follow}</td>"]
        )
    row_css = ["" if o.met else "miss" for o in result.objectives]
    return _table([*OBJECTIVE_HEAD, "detail", ""], rows, "objectives", row_css)


def _score_block(result: RunResult) -> str:
    grade = result.grade.value if result.grade else None
    parts = ["<h3>Score</h3>", _score_html(result.score, grade)]
    formula = score_formula(result)
    if formula is not None:
        parts.append(f'<p class="formula">{esc(formula)}</p>')
    parts += [f'<p class="banner">{esc(cap)}</p>' for cap in result.caps]
    return "".join(parts)


def _faults_table(result: RunResult) -> str:
    rows = [cells(fault_cells(f), FAULT_NUMERIC) for f in result.faults]
    return _table(FAULT_HEAD, rows, "faults")


# Timeline geometry, in SVG user units (the SVG scales to the page width). Rows from the top:
# the RTO/TTD span row, then alerts and lost markers, then the latency bars down to the
# baseline, missed ticks under it, and the time axis.
_WIDTH, _HEIGHT = 960.0, 136.0
_LEFT, _RIGHT = 64.0, 944.0
_SPAN_Y, _DOTS_Y = 14.0, 32.0
_BAND_TOP, _BASE, _BAR_MAX = 24.0, 100.0, 58.0
_AXIS_Y = 112.0
_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def _x(at_s: float, end_s: float) -> float:
    return _LEFT + (_RIGHT - _LEFT) * min(max(at_s, 0.0), end_s) / end_s


def _axis(end_s: float) -> str:
    step = next((s for s in _STEPS_S if end_s / s <= 10), end_s / 10)
    ticks = []
    count = int(end_s // step)
    for i in range(count + 1):
        x = _x(i * step, end_s)
        ticks.append(
            f'<line x1="{x:.1f}" y1="{_AXIS_Y - 4}" x2="{x:.1f}" y2="{_AXIS_Y + 2}"/>'
            f'<text x="{x:.1f}" y="{_AXIS_Y + 15}" text-anchor="middle">{i * step:g}s</text>'
        )
    return (
        f'<g class="axis"><line x1="{_LEFT}" y1="{_AXIS_Y}" x2="{_RIGHT}" y2="{_AXIS_Y}"/>'
        f"{''.join(ticks)}</g>"
    )


def _fault_rects(result: RunResult, end_s: float) -> str:
    rects = []
    for fault in result.faults:
        if fault.injected_at is None:
            continue
        still_on = fault.removed_at is None
        until = end_s if fault.removed_at is None else fault.removed_at
        x1, x2 = _x(fault.injected_at, end_s), _x(until, end_s)
        label = (
            f"{fault.fault}: {fault.kind} {fault.mode} on "
            f"{', '.join(fault.services) or 'every service'} in {', '.join(fault.regions)}, "
            f"{fault.injected_at:.2f}s to "
            + ("the end (never removed)" if still_on else f"{fault.removed_at:.2f}s")
        )
        css = "fault-window open" if still_on else "fault-window"
        rects.append(
            f'<rect class="{css}" x="{x1:.1f}" y="{_BAND_TOP}" width="{max(x2 - x1, 1.0):.1f}" '
            f'height="{_BASE - _BAND_TOP + 6}"><title>{esc(label)}</title></rect>'
        )
    return "".join(rects)


def _group(name: str, items: Sequence[str]) -> str:
    return (
        f'<g class="series {name}" data-series="{name}" data-count="{len(items)}">'
        f"{''.join(items)}</g>"
    )


def _sample_series(probe: ProbeRecord, end_s: float) -> list[str]:
    """The ok, failed and missed series, always all three (a series may be empty)."""
    latencies = [lat for _, ok, lat in probe.samples if ok and lat is not None]
    top = max(latencies, default=0.0) or 1.0
    width = max(1.0, 0.7 * (_RIGHT - _LEFT) * probe.interval_s / end_s)
    details = dict(probe.failures)
    ok_bars, failed_bars = [], []
    for offset, ok, latency in probe.samples:
        x = _x(offset, end_s)
        if ok:
            height = max(2.0, _BAR_MAX * min(1.0, (latency or 0.0) / top))
            ok_bars.append(
                f'<rect x="{x:.1f}" y="{_BASE - height:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}"/>'
            )
        else:
            title = f"{offset:.2f}s: {details.get(offset, 'unhealthy')}"
            failed_bars.append(
                f'<rect x="{x:.1f}" y="{_BASE - _BAR_MAX:.1f}" width="{width:.1f}" '
                f'height="{_BAR_MAX}"><title>{esc(title)}</title></rect>'
            )
    missed = [
        f'<rect x="{_x(at, end_s):.1f}" y="{_BASE + 1}" width="{width:.1f}" height="6">'
        f"<title>{at:.2f}s: missed tick</title></rect>"
        for at in probe.missed
    ]
    scale = ""
    if probe.samples:  # an alert probe has no samples, so no latency scale
        scale = f'<text x="4" y="{_BASE - _BAR_MAX + 8:.0f}">{top:.3g}s</text>'
        scale += f'<text x="4" y="{_BASE:.0f}">0s</text>'
    return [scale, _group("ok", ok_bars), _group("failed", failed_bars), _group("missed", missed)]


def _extra_series(probe: ProbeRecord, end_s: float) -> list[str]:
    """Alerts received (alert probes), lost markers and unverified ones (data probes), when
    the probe has any."""
    series = []
    if probe.alerts:
        dots = [
            f'<circle cx="{_x(at, end_s):.1f}" cy="{_DOTS_Y}" r="{4 if matched else 2.5}">'
            f"<title>{at:.2f}s: alert{'' if matched else ' (did not match the filter)'}</title>"
            "</circle>"
            for at, matched in probe.alerts
        ]
        series.append(_group("alerts", dots))
    if probe.markers:
        crosses = []
        for seq, written_at, acknowledged, found in probe.markers:
            if acknowledged and found is False:
                x, y = _x(written_at, end_s), _DOTS_Y
                crosses.append(
                    f'<path d="M{x - 3:.1f},{y - 3}L{x + 3:.1f},{y + 3}M{x - 3:.1f},{y + 3}'
                    f'L{x + 3:.1f},{y - 3}"><title>marker {seq} written at {written_at:.2f}s '
                    "lost</title></path>"
                )
        series.append(_group("lost-markers", crosses))
        unread = [
            f'<circle cx="{_x(written_at, end_s):.1f}" cy="{_DOTS_Y}" r="3"><title>marker {seq} '
            f"written at {written_at:.2f}s unverified: not read back by the deadline</title>"
            "</circle>"
            for seq, written_at, acknowledged, found in probe.markers
            if acknowledged and found is None
        ]
        if unread:
            series.append(_group("unverified-markers", unread))
    return series


def _span(css: str, start_s: float, stop_s: float, end_s: float, label: str) -> str:
    x1, x2 = _x(start_s, end_s), _x(stop_s, end_s)
    y = _SPAN_Y
    return (
        f'<g class="{css}"><line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}"/>'
        f'<line x1="{x1:.1f}" y1="{y - 4}" x2="{x1:.1f}" y2="{y + 4}"/>'
        f'<line x1="{x2:.1f}" y1="{y - 4}" x2="{x2:.1f}" y2="{y + 4}"/>'
        f'<text x="{(x1 + x2) / 2:.1f}" y="{y - 4}" text-anchor="middle">{esc(label)}</text></g>'
    )


def _vline(css: str, at_s: float, end_s: float, title: str) -> str:
    x = _x(at_s, end_s)
    return (
        f'<line class="{css}" x1="{x:.1f}" y1="{_BAND_TOP - 4}" x2="{x:.1f}" y2="{_BASE + 8}">'
        f"<title>{esc(title)}</title></line>"
    )


def _objective_marks(result: RunResult, probe: ProbeRecord, end_s: float) -> str:
    """Impact start and recovery lines, the RTO span and the TTD span of this probe."""
    marks: dict[tuple[str, float], str] = {}
    spans = []
    for o in result.objectives:
        if o.probe != probe.name:
            continue
        if o.impact_start is not None:
            marks[("impact", o.impact_start)] = _vline(
                "impact", o.impact_start, end_s, f"impact start {o.impact_start:.2f}s"
            )
        if o.recovered_at is not None:
            marks[("recovery", o.recovered_at)] = _vline(
                "recovery", o.recovered_at, end_s, f"recovered at {o.recovered_at:.2f}s"
            )
        if o.kind is ObjectiveKind.RTO and o.impact_start is not None:
            stop = o.recovered_at if o.recovered_at is not None else end_s
            css = "rto-span" if o.recovered_at is not None else "rto-span open"
            label = f"{o.name}: RTO {format_measured(o)}"
            spans.append(_span(css, o.impact_start, stop, end_s, label))
        if o.kind is ObjectiveKind.TTD and result.t0 is not None and o.measured is not None:
            label = f"{o.name}: TTD {format_measured(o)}"
            spans.append(_span("ttd-span", result.t0, result.t0 + o.measured, end_s, label))
    return "".join(marks.values()) + "".join(spans)


def _people_marks(result: RunResult, end_s: float) -> str:
    """People's marks as vertical lines from the span row to the baseline, one per mark,
    classed by kind (``mark mark-detected``), each with a tooltip naming who marked what when."""
    if not result.marks:
        return ""
    lines = [
        f'<line class="mark mark-{esc(mark.kind.value)}" x1="{_x(mark.at, end_s):.1f}" '
        f'y1="{_SPAN_Y - 8}" x2="{_x(mark.at, end_s):.1f}" y2="{_BASE + 8}">'
        f"<title>{esc(mark_title(result, mark))}</title></line>"
        for mark in result.marks
    ]
    return f'<g class="marks" data-count="{len(lines)}">{"".join(lines)}</g>'


def timeline_svg(result: RunResult, probe: ProbeRecord) -> str:
    """One probe's timeline: samples, fault windows shaded, impact, recovery and RTO marked,
    and in a facilitated run a line for each mark people made."""
    end_s = timeline_end(result)
    body = [
        f"<title>{esc(probe.name)}: samples over time, fault windows shaded</title>",
        _fault_rects(result, end_s),
        *_sample_series(probe, end_s),
        *_extra_series(probe, end_s),
        _objective_marks(result, probe, end_s),
        _people_marks(result, end_s),
        _axis(end_s),
    ]
    return (
        f'<svg class="timeline" data-probe="{esc(probe.name)}" viewBox="0 0 {_WIDTH:g} '
        f'{_HEIGHT:g}" role="img" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def _probe_block(result: RunResult, probe: ProbeRecord) -> str:
    summary = probe_summary(probe)
    parts = [f"<h4>{esc(probe.name)}</h4>", f'<p class="muted">{esc(summary)}</p>']
    parts.append(timeline_svg(result, probe))
    if probe.failures:
        rows = [[td(f"{at:.2f}s", num=True), td(detail)] for at, detail in probe.failures[:50]]
        more = len(probe.failures) - len(rows)
        parts.append(
            f"<details><summary>unhealthy samples ({len(probe.failures)})</summary>"
            f"{_table(['at', 'detail'], rows)}"
            + (f'<p class="muted">and {more} more</p>' if more > 0 else "")
            + "</details>"
        )
    return "".join(parts)


def _marks_table(result: RunResult) -> str:
    if not result.marks:
        return '<p class="muted">nobody marked the timeline</p>'
    rows = []
    for mark in result.marks:
        row = cells(mark_cells(result, mark), MARK_NUMERIC)
        kind = esc(mark.kind.value)
        row[2] = f'<td><span class="mark-kind mark-{kind}">{kind}</span></td>'
        rows.append(row)
    return f'<p class="muted">{esc(MARKS_CAPTION)}</p>' + _table(MARK_HEAD, rows, "marks")


def _people_block(result: RunResult) -> str:
    """A facilitated run's facts, its marks and its runbook checklist; '' when unattended."""
    if result.facilitation is None:
        return ""
    facts = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facilitation_facts(result)
    )
    parts = [
        f'<h3>Facilitation</h3><table class="facts facilitation"><tbody>{facts}</tbody></table>',
        "<h4>Marks</h4>" + _marks_table(result),
    ]
    steps = result.facilitation.steps
    if steps:
        rows = [cells(step_cells(result, step), STEP_NUMERIC) for step in steps]
        row_css = ["" if step.ticked_at is not None else "unticked" for step in steps]
        parts.append("<h4>Runbook checklist</h4>")
        parts.append(_table(STEP_HEAD, rows, "checklist", row_css))
    return "".join(parts)


def _gateway_block(result: RunResult) -> str:
    head, rows = gateway_table(result)
    parts = [f"<h3>What the gateway saw</h3><p>{result.gateway.total} call(s)</p>"]
    if not rows:
        return parts[0]
    numeric = frozenset(range(1, len(head)))
    parts.append(_table(head, [cells(row, numeric) for row in rows], "gateway"))
    detail = [
        [td(t.service), td(operation), td(outcome), td(count, num=True)]
        for t in gateway_by_service(result)
        for operation, outcome, count in t.by_operation
    ]
    parts.append(
        "<details><summary>by operation</summary>"
        f"{_table(['service', 'operation', 'outcome', 'calls'], detail)}</details>"
    )
    return "".join(parts)


def _app_calls_block(result: RunResult) -> str:
    if not counted(result):
        return ""
    html = f"<h3>{esc(APP_CALLS_HEADING)}</h3><p>{esc(summary_line(result))}</p>"
    rows = [cells(destructive_cells(call), frozenset({0})) for call in result.calls.destructive]
    if rows:
        html += _table(DESTRUCTIVE_HEAD, rows, "destructive")
    probes = probe_line(result)
    return html + (f"<p>{esc(probes)}</p>" if probes else "")


def _egress_block(result: RunResult) -> str:
    items = "".join(f"<li>{esc(line)}</li>" for line in egress_lines(result))
    return f'<h3>{esc(EGRESS_HEADING)}</h3><ul class="egress">{items}</ul>' if items else ""


def _events_block(result: RunResult) -> str:
    rows = [[td(f"{ev.at:.2f}s", num=True), td(ev.kind), td(ev.detail)] for ev in result.events]
    return (
        f"<details><summary>timeline events ({len(rows)})</summary>"
        f"{_table(['at', 'event', 'detail'], rows)}</details>"
    )


def _left_behind(results: Sequence[RunResult]) -> str:
    """The page's first element when a rollback failed: every fault left, and how to remove it."""
    failed = left_behind(results)
    if not failed:
        return ""
    items = "".join(
        f'<li><span class="name">{esc(r.scenario.name)}</span> (run <code>{esc(r.run_id)}</code>): '
        f"{esc(problem)}</li>"
        for r in failed
        for problem in rollback_problems(r)
    )
    return (
        f'<section class="rollback-failed" id="rollback-failed" role="alert">'
        f"<h2>{esc(ROLLBACK_FAILED)}</h2><p>{esc(left_behind_count(results))}:</p>"
        f"<ul>{items}</ul></section>"
    )


def _scenario_section(
    result: RunResult, index: int, report_dir: Path | None, page_rules: list[str], several: bool
) -> str:
    status = result.status.value
    parts = [
        f'<section class="scenario" id="s-{index}" data-status="{esc(status)}">',
        f"<h2>{esc(result.scenario.name)} "
        f'<span class="badge {esc(status)}">{esc(status)}</span></h2>',
    ]
    if several:  # a page of one run says it once, at the top
        parts += [
            f'<p class="banner rollback">{esc(ROLLBACK_FAILED)}: {esc(problem)}</p>'
            for problem in rollback_problems(result)
        ]
    if result.scenario.description:
        parts.append(f"<p>{esc(result.scenario.description)}</p>")
    parts.append(_facts(result))
    if result.status in RUN_FAILED or result.reason:
        parts.append(f'<p class="banner">{esc(headline(result))}: {esc(result.reason or "")}</p>')
    parts.append(_score_block(result))
    if result.objectives:
        parts.append("<h3>Objectives</h3>" + _objectives_table(result, report_dir))
    elif result.status in NOT_RUN:
        parts.append('<p class="muted">no objective was measured: the run could not start</p>')
    if result.faults:
        parts.append("<h3>Faults</h3>" + _faults_table(result))
    if result.probes:
        parts.append("<h3>Timeline</h3>")
        parts += [_probe_block(result, probe) for probe in result.probes]
    parts.append(_people_block(result))
    parts.append(_app_calls_block(result))
    parts.append(_gateway_block(result))
    parts.append(_egress_block(result))
    parts.append(_events_block(result))
    rules = rules_of(result)
    if rules != page_rules:
        parts.append("<h3>Scoring rules of this run</h3>" + rules_list(rules))
    parts.append("</section>")
    return "".join(parts)


_LEGEND = (
    '<p class="legend">'
    '<span><i class="swatch sw-ok"></i>healthy sample (height: latency)</span>'
    '<span><i class="swatch sw-failed"></i>unhealthy sample</span>'
    '<span><i class="swatch sw-missed"></i>missed tick</span>'
    '<span><i class="swatch sw-fault"></i>fault in force</span>'
    '<span><i class="swatch sw-impact"></i>impact start (dashed line)</span>'
    '<span><i class="swatch sw-recovery"></i>recovery; RTO is the span between them</span></p>'
)
_MARKS_LEGEND = (
    '<p class="legend">people\'s marks: '
    + "".join(
        f'<span><i class="swatch sw-mark mark-{kind.value}"></i>{kind.value}</span>'
        for kind in MarkKind
    )
    + "</p>"
)
"""Shown only when a run of the page was facilitated (an unattended report stays as it was)."""


def render_html(
    results: Sequence[RunResult],
    trend: Trend | None = None,
    *,
    report_dir: Path | None = None,
    title: str = "GameDay drill report",
) -> str:
    """The whole report as one HTML document.

    One section per result (in the order given), preceded by the suite section (overall score,
    roll-up per capability, trend of the last runs from ``trend``) when there is more than one
    scenario. Runbook links are relative to ``report_dir`` when it is given, absolute
    ``file://`` URIs otherwise (see ``runbook_href``).
    """
    if not results:
        raise ValueError("a report needs at least one result")
    page_rules = rules_of(results[0])
    body = [_left_behind(results), f"<h1>{esc(title)}</h1>"]
    body.append(f'<p class="muted">{len(results)} run(s); scores are out of 100.</p>')
    if len(latest_per_scenario(results)) > 1:
        body.append(_suite_section(results, trend))
    elif trend:
        points = trend.get(results[0].scenario.name, ())
        if points:
            delta = format_delta(trend_delta(points))
            body.append(f"<p>trend of the last runs: {_sparkline(points)} {esc(delta)}</p>")
    body.append(_LEGEND)
    if any(r.marks for r in results):
        body.append(_MARKS_LEGEND)
    several = len(results) > 1
    body += [
        _scenario_section(r, i, report_dir, page_rules, several) for i, r in enumerate(results)
    ]
    body.append('<section id="rules"><h2>How the score is computed</h2>')
    body.append(rules_list(page_rules) + "</section>")
    return document(title, body, _STYLE)
