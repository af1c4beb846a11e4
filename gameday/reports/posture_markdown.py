"""The posture report as Markdown: the tables of the HTML page, the trend as a text line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from gameday.reports.posture import (
    GROUP_HEAD,
    KIND_HEAD,
    POSTURE_KINDS,
    SCENARIO_HEAD,
    GroupPosture,
    Posture,
    describe_posture_rules,
    format_age,
    group_cells,
    kind_cells,
    period_text,
    scenario_cells,
    trend_text,
)

_INLINE = re.compile(r"([\\`*_\[\]|~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BARS = "▁▂▃▄▅▆▇█"
_GAP = "·"


def _md(text: object) -> str:
    """Escape a store string (a scenario, an owner) for a table cell."""
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INLINE.sub(r"\\\1", flat)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def spark_text(line: Sequence[tuple[datetime, float]], posture: Posture) -> str:
    """One character per bucket of the period, oldest first: a bar for the mean drill score
    (0 to 100 in eight steps), a dot for a bucket without a drill."""
    bucket, since = posture.rules.trend_bucket, posture.since
    count = int((posture.now - since) // bucket) + 1
    scores = {int((start - since) // bucket): score for start, score in line}
    return "".join(
        _BARS[min(7, int(scores[i] / 100 * 8))] if i in scores else _GAP for i in range(count)
    )


def _groups(title: str, noun: str, groups: Sequence[GroupPosture], posture: Posture) -> list[str]:
    lines = [f"## {title}", ""]
    rows = [[g.name, *group_cells(g), trend_text(g), spark_text(g.line, posture)] for g in groups]
    per = f"mean score per {format_age(posture.rules.trend_bucket)}"
    lines += _table([noun, *GROUP_HEAD, "trend", per], rows)
    for kind in POSTURE_KINDS:
        lines += [f"### {title}: {kind.value} against target", ""]
        rows = [[g.name, *kind_cells(g.figures(kind))] for g in groups]
        lines += _table([noun, *KIND_HEAD], rows)
    return lines


def render_posture_markdown(posture: Posture) -> str:
    """The whole posture report as one Markdown document."""
    lines = ["# GameDay posture", "", period_text(posture), ""]
    stale = [g.name for g in posture.capabilities if g.stale]
    if stale:
        lines += [f"**Stale capabilities: {_md(', '.join(stale))}.**", ""]
    lines += _groups("Capabilities", "capability", posture.capabilities, posture)
    lines += _groups("Owners", "owner", posture.owners, posture)
    lines += ["## Scenarios", ""]
    lines += _table(SCENARIO_HEAD, [scenario_cells(s) for s in posture.scenarios])
    lines += ["## How the posture is computed", ""]
    lines += [f"- {rule}" for rule in describe_posture_rules(posture.rules)]
    return "\n".join(lines) + "\n"
