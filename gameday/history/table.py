"""``gameday history``: the runs in the store as a table for people or JSON for machines."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.grading import display_score
from gameday.history.store import (
    HistoryRow,
    HistoryStatus,
    HistoryStore,
    Measurement,
    default_store_path,
)
from gameday.reports.suite import format_delta
from gameday.reports.terminal import format_measured
from gameday.result import ObjectiveResult

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WHY_FIRST = frozenset({HistoryStatus.ABORTED, HistoryStatus.ERROR, HistoryStatus.NOT_STEADY})


class HistoryFormat(StrEnum):
    """``gameday history --format``."""

    TABLE = "table"
    JSON = "json"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or time (UTC unless it says otherwise), or an age such as
    ``30m``, ``12h``, ``7d``, ``2w`` counted back from ``now``."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"--since: cannot read {text!r} as a date",
            hint="give 2026-11-01, 2026-11-01T08:00, 2026-11-01T08:00+01:00, or an age: "
            "30m, 12h, 7d, 2w",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _objective(m: Measurement) -> ObjectiveResult:
    # The terminal's wording needs an ObjectiveResult; weight and detail do not affect it.
    return ObjectiveResult(
        name=m.objective,
        kind=m.kind,
        probe=m.probe,
        target=m.target,
        measured=m.measured,
        met=m.met,
        credit=m.credit,
        weight=1.0,
        critical=False,
        detail="",
    )


def _measurements(row: HistoryRow) -> str:
    """The key measurements; for a run that did not complete, why first."""
    parts = []
    if row.reason and row.status in _WHY_FIRST:
        parts.append(row.reason)
    for m in row.measurements:
        text = f"{m.objective} {format_measured(_objective(m))}"
        parts.append(text if m.met else f"{text} (missed)")
    return ", ".join(parts)


def render_history_table(rows: Sequence[HistoryRow]) -> str:
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
                row.status.value,
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


def _as_dict(row: HistoryRow) -> dict[str, object]:
    return {
        "run_id": row.run_id,
        "scenario": row.scenario,
        "environment": row.environment,
        "status": row.status.value,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "score": row.score,
        "grade": row.grade.value if row.grade else None,
        "previous_score": row.previous_score,
        "delta": row.delta,
        "reason": row.reason,
        "objectives": [
            {
                "name": m.objective,
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


def render_history_json(rows: Sequence[HistoryRow]) -> str:
    """The runs as a JSON array, newest first, with the score delta and every measurement."""
    return json.dumps([_as_dict(row) for row in rows], indent=2) + "\n"


def show_history(
    store: Path | None = None,
    scenario: str | None = None,
    since: str | None = None,
    fmt: HistoryFormat = HistoryFormat.TABLE,
) -> str:
    """``gameday history``: the text to print. A store that does not exist yet is not
    created; it simply has no runs."""
    moment = None if since is None else parse_since(since)
    path = store or default_store_path()
    rows: list[HistoryRow] = []
    if path.is_file():
        with HistoryStore(path) as history:
            rows = history.runs(scenario=scenario, since=moment)
    if fmt is HistoryFormat.JSON:
        return render_history_json(rows)
    return render_history_table(rows)
