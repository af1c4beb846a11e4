"""The posture report as one self-contained HTML page: no script, nothing fetched, inline SVG.

The page carries the same Content-Security-Policy as the drill report (``default-src 'none'``,
inline styles only), so a store string that slipped through unescaped could not run; every
store string (scenario, owner) goes through ``_e`` on its way into text or an attribute.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from gameday.grading import display_score
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

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_WIDTH, _HEIGHT, _PAD = 200.0, 40.0, 4.0

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:19px;margin:0 0 8px}h3{font-size:15px;
margin:16px 0 4px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 20px 16px;
margin:16px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e5e8ec;padding:4px 10px;text-align:left;vertical-align:middle}
th{background:#f0f2f5;font-weight:600}
td{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.stale td{background:#fff4e5}.muted{color:#5f6b7a}
.banner{background:#fff4e5;border-left:4px solid #ef6c00;padding:6px 10px;margin:8px 0}
.g-A{color:#2e7d32}.g-B{color:#558b2f}.g-C{color:#f9a825}.g-D{color:#ef6c00}.g-F{color:#c62828}
svg.trend{width:200px;height:40px;background:#fbfcfd;border:1px solid #e5e8ec;display:block}
svg.trend polyline{fill:none;stroke:#1565c0;stroke-width:1.5}svg.trend circle{fill:#1565c0}
svg.trend line.mid{stroke:#c5ccd6;stroke-dasharray:3 3}
ul.rules{font-size:13px;color:#39424e}
"""


def _e(text: object) -> str:
    """Escape for HTML text and quoted attributes; C0 controls become U+FFFD (HTML forbids
    them in text)."""
    return escape(_CONTROL.sub("\ufffd", str(text)), quote=True)


def _row(cells: Sequence[str], numeric: frozenset[int]) -> str:
    return "".join(
        f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
        for i, c in enumerate(cells)
    )


def _table(head: Sequence[str], rows: Sequence[str], css: str) -> str:
    heading = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(rows)
    return f'<table class="{css}"><thead><tr>{heading}</tr></thead><tbody>{body}</tbody></table>'


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
        f'<circle cx="{x(i):.1f}" cy="{y(s):.1f}" r="2.2"><title>{_e(format_when(start))}: '
        f"{_e(display_score(s))}</title></circle>"
        for i, start, s in points
    )
    middle = y(50.0)
    return (
        f'<svg class="trend" data-points="{len(points)}" viewBox="0 0 {_WIDTH:g} {_HEIGHT:g}" '
        f'role="img" aria-label="{_e(group.name)} score trend">'
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
            f'<tr data-name="{_e(g.name)}" data-stale="{str(g.stale).lower()}"'
            + (' class="stale">' if g.stale else ">")
            + f"<td>{_e(g.name)}</td>"
            + _row(cells[:-1], GROUP_NUMERIC)
            + f'<td class="g-{_e(grade)}">{_e(grade)}</td>'
            + f"<td>{_e(trend_text(g))}</td><td>{trend_svg(g, posture)}</td></tr>"
        )
    per = f"mean score per {format_age(posture.rules.trend_bucket)}"
    parts = [
        f'<section id="{slug}"><h2>{_e(title)}</h2>',
        _table([noun, *GROUP_HEAD, "trend", per], rows, f"groups {slug}"),
    ]
    for kind in POSTURE_KINDS:
        kind_rows = [
            f'<tr data-name="{_e(g.name)}"><td>{_e(g.name)}</td>'
            + _row(kind_cells(g.figures(kind)), KIND_NUMERIC)
            + "</tr>"
            for g in groups
        ]
        parts.append(f"<h3>{_e(kind.value)} against target</h3>")
        parts.append(_table([noun, *KIND_HEAD], kind_rows, f"kind {slug}-{kind.value}"))
    parts.append("</section>")
    return "".join(parts)


def render_posture_html(posture: Posture, title: str = "GameDay posture") -> str:
    """The whole posture report as one HTML document."""
    body = [f"<h1>{_e(title)}</h1>", f'<p class="muted">{_e(period_text(posture))}</p>']
    stale = [g.name for g in posture.capabilities if g.stale]
    if stale:
        body.append(f'<p class="banner">Stale capabilities: {_e(", ".join(stale))}.</p>')
    body.append(_groups("Capabilities", "capability", posture.capabilities, posture))
    body.append(_groups("Owners", "owner", posture.owners, posture))
    scenario_rows = [
        f'<tr data-name="{_e(s.name)}"'
        + (' class="stale">' if s.stale else ">")
        + f"{_row(scenario_cells(s), SCENARIO_NUMERIC)}</tr>"
        for s in posture.scenarios
    ]
    body.append(
        '<section id="scenarios"><h2>Scenarios</h2>'
        + _table(SCENARIO_HEAD, scenario_rows, "scenarios")
        + "</section>"
    )
    rules = "".join(f"<li>{_e(rule)}</li>" for rule in describe_posture_rules(posture.rules))
    body.append(
        f'<section id="rules"><h2>How the posture is computed</h2><ul class="rules">{rules}'
        "</ul></section>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
