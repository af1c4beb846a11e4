"""``gameday history``: stored runs as a table for people or JSON for machines.

Rows in, text out: the caller reads the rows from the history store (``HistoryStore.runs``)
and hands them over. The rows are described here by what is read of them (``RunRow``), so
this module needs nothing of the store; the store's ``HistoryRow`` is one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from gameday.grading import display_score, is_cut_short
from gameday.kinds import Grade, RunStatus
from gameday.reports.suite import format_delta, measured_text
from gameday.result import ObjectiveResult

_WHY_FIRST = frozenset(
    {
        RunStatus.ABORTED.value,
        RunStatus.ERROR.value,
        RunStatus.NOT_STEADY.value,
        RunStatus.INCONCLUSIVE.value,
    }
)


class HistoryFormat(StrEnum):
    """``gameday history --format``."""

    TABLE = "table"
    JSON = "json"


class RunRow(Protocol):
    """One stored run; ``status`` is a run status or ``running``, ``delta`` the score change
    against the previous scored run of the same scenario."""

    @property
    def run_id(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> str: ...
    @property
    def ended_at(self) -> str | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def grade(self) -> Grade | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def measurements(self) -> Sequence[ObjectiveResult]: ...
    @property
    def previous_score(self) -> float | None: ...
    @property
    def delta(self) -> float | None: ...


def _measurements(row: RunRow) -> str:
    """The key measurements; for a run that did not complete, why first."""
    parts = []
    if row.reason and str(row.status) in _WHY_FIRST:
        parts.append(row.reason)
    for m in row.measurements:
        text = f"{m.name} {measured_text(m)}"
        parts.append(text if m.met or is_cut_short(m) else f"{text} (missed)")
    return ", ".join(parts)


def render_history_table(rows: Sequence[RunRow]) -> str:
    """The runs as an aligned text table, newest first as given; the change is the score
    against the previous scored run of the same scenario."""
    if not rows:
        return "no runs recorded\n"
    table = [["started (UTC)", "run", "scenario", "env", "status", "score", "grade", "change"]]
    for row in rows:
        table.append(
            [
                row.started_at.replace("T", " ")[:19],
                row.run_id,
                row.scenario,
                row.environment,
                str(row.status),
                display_score(row.score),
                row.grade.value if row.grade else "-",
                format_delta(row.delta),
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = []
    for index, line in enumerate(table):
        cells = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        note = "measurements" if index == 0 else _measurements(rows[index - 1])
        lines.append(f"{cells}  {note}".rstrip())
    return "\n".join(lines) + "\n"


def _as_dict(row: RunRow) -> dict[str, object]:
    return {
        "run_id": row.run_id,
        "scenario": row.scenario,
        "environment": row.environment,
        "status": str(row.status),
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "score": row.score,
        "grade": row.grade.value if row.grade else None,
        "previous_score": row.previous_score,
        "delta": row.delta,
        "reason": row.reason,
        "objectives": [
            {
                "name": m.name,
                "kind": m.kind.value,
                "probe": m.probe,
                "target": m.target,
                "measured": m.measured,
                "met": m.met,
                "credit": m.credit,
            }
            for m in row.measurements
        ],
    }


def render_history_json(rows: Sequence[RunRow]) -> str:
    """The runs as a JSON array, newest first, with the score delta and every measurement."""
    return json.dumps([_as_dict(row) for row in rows], indent=2) + "\n"


def render_history(rows: Sequence[RunRow], fmt: HistoryFormat = HistoryFormat.TABLE) -> str:
    """``gameday history``: the text to print for ``rows`` in ``fmt``."""
    if fmt is HistoryFormat.JSON:
        return render_history_json(rows)
    return render_history_table(rows)
