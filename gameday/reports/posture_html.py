"""The posture report as one self-contained HTML page: no script, nothing fetched, inline SVG.

The page shell (Content-Security-Policy, base styles, escaping) is the drill report's too:
``gameday.reports.page``. Every store string (scenario, owner) goes through its ``esc`` on its
way into text or an attribute.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.grading import display_score
from gameday.reports.page import cells, document, esc, rules_list, table
from gameday.reports.posture import (
    GROUP_HEAD,
    GROUP_NUMERIC,
    KIND_HEAD,
    KIND_NUMERIC,
    POSTURE_KINDS,
    SCENARIO_HEAD,
    SCENARIO_NUMERIC,
    GroupPosture,
    Posture,
    describe_posture_rules,
    format_age,
    format_when,
    group_cells,
    kind_cells,
    period_text,
    scenario_cells,
    trend_text,
)

_WIDTH, _HEIGHT, _PAD = 200.0, 40.0, 4.0

_STYLE = """
main{max-width:1200px}
h2{font-size:19px;margin:0 0 8px}h3{font-size:15px;margin:16px 0 4px}
section{padding:12px 20px 16px}
th,td{vertical-align:middle}
td{white-space:nowrap}
tr.stale td{background:#fff4e5}
svg.trend{width:200px;height:40px;border:1px solid #e5e8ec;display:block}
svg.trend line.mid{stroke:#c5ccd6;stroke-dasharray:3 3}
"""
"""The posture page's own styles, after the shell's (gameday/reports/page.py)."""


def _row(values: Sequence[str], numeric: frozenset[int]) -> str:
    return "".join(cells(values, numeric))


def trend_svg(group: GroupPosture, posture: Posture) -> str:
    """The mean drill score of each bucket of the period, on a 0..100 scale, at its place in
    the period (a gap where no drill ran); the dashed line is 50."""
    if not group.line:
        return '<span class="muted">no drill in the period</span>'
    bucket, since = posture.rules.trend_bucket, posture.since
    last = max(1, int((posture.now - since) // bucket))

    def x(index: int) -> float:
        return _PAD + (_WIDTH - 2 * _PAD) * min(index, last) / last

    def y(score: float) -> float:
        return _HEIGHT - _PAD - (_HEIGHT - 2 * _PAD) * score / 100.0

    points = [(int((start - since) // bucket), start, score) for start, score in group.line]
    line = " ".join(f"{x(i):.1f},{y(s):.1f}" for i, _, s in points)
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(s):.1f}" r="2.2"><title>{esc(format_when(start))}: '
        f"{esc(display_score(s))}</title></circle>"
        for i, start, s in points
    )
    middle = y(50.0)
    return (
        f'<svg class="trend" data-points="{len(points)}" viewBox="0 0 {_WIDTH:g} {_HEIGHT:g}" '
        f'role="img" aria-label="{esc(group.name)} score trend">'
        f'<line class="mid" x1="{_PAD:g}" y1="{middle:.1f}" x2="{_WIDTH - _PAD:g}" '
        f'y2="{middle:.1f}"/><polyline points="{line}"/>{dots}</svg>'
    )


def _groups(title: str, noun: str, groups: Sequence[GroupPosture], posture: Posture) -> str:
    slug = title.lower()
    rows = []
    for g in groups:
        cells = group_cells(g)
        grade = cells[-1]
        rows.append(
            f'<tr data-name="{esc(g.name)}" data-stale="{str(g.stale).lower()}"'
            + (' class="stale">' if g.stale else ">")
            + f"<td>{esc(g.name)}</td>"
            + _row(cells[:-1], GROUP_NUMERIC)
            + f'<td class="g-{esc(grade)}">{esc(grade)}</td>'
            + f"<td>{esc(trend_text(g))}</td><td>{trend_svg(g, posture)}</td></tr>"
        )
    per = f"mean score per {format_age(posture.rules.trend_bucket)}"
    parts = [
        f'<section id="{slug}"><h2>{esc(title)}</h2>',
        table([noun, *GROUP_HEAD, "trend", per], rows, f"groups {slug}"),
    ]
    for kind in POSTURE_KINDS:
        kind_rows = [
            f'<tr data-name="{esc(g.name)}"><td>{esc(g.name)}</td>'
            + _row(kind_cells(g.figures(kind)), KIND_NUMERIC)
            + "</tr>"
            for g in groups
        ]
        parts.append(f"<h3>{esc(kind.value)} against target</h3>")
        parts.append(table([noun, *KIND_HEAD], kind_rows, f"kind {slug}-{kind.value}"))
    parts.append("</section>")
    return "".join(parts)


def render_posture_html(posture: Posture, title: str = "GameDay posture") -> str:
    """The whole posture report as one HTML document."""
    body = [f"<h1>{esc(title)}</h1>", f'<p class="muted">{esc(period_text(posture))}</p>']
    stale = [g.name for g in posture.capabilities if g.stale]
    if stale:
        body.append(f'<p class="banner">Stale capabilities: {esc(", ".join(stale))}.</p>')
    body.append(_groups("Capabilities", "capability", posture.capabilities, posture))
    body.append(_groups("Owners", "owner", posture.owners, posture))
    scenario_rows = [
        f'<tr data-name="{esc(s.name)}"'
        + (' class="stale">' if s.stale else ">")
        + f"{_row(scenario_cells(s), SCENARIO_NUMERIC)}</tr>"
        for s in posture.scenarios
    ]
    body.append(
        '<section id="scenarios"><h2>Scenarios</h2>'
        + table(SCENARIO_HEAD, scenario_rows, "scenarios")
        + "</section>"
    )
    rules = rules_list(describe_posture_rules(posture.rules))
    body.append(f'<section id="rules"><h2>How the posture is computed</h2>{rules}</section>')
    return document(title, body, _STYLE)
