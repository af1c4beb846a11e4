"""Reading the store for ``gameday history`` and ``gameday report``, never creating it.

A store that does not exist yet simply has no runs: these readers open it only when the file
is there, and hand back rows, results and counts (the reports render them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.history.store import HistoryRow, HistoryStore, default_store_path
from gameday.kinds import RunStatus
from gameday.result import RunResult

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


def read_runs(
    store: Path | None = None, scenario: str | None = None, since: str | None = None
) -> list[HistoryRow]:
    """``gameday history``: the runs of the store (default ``default_store_path()``), newest
    first, of one scenario or all, since ``since`` (see ``parse_since``)."""
    moment = None if since is None else parse_since(since)
    path = store or default_store_path()
    if not path.is_file():
        return []
    with HistoryStore(path) as history:
        return history.runs(scenario=scenario, since=moment)


def stored_result(run_id: str, store: Path | None = None) -> RunResult:
    """``gameday report RUN_ID``: the result of a finished run in the store.

    ``gameday report`` looks for a file and a folder first, so the errors say the source was
    none of the three.
    """
    path = store or default_store_path()
    if not path.is_file():
        raise InvalidInputError(
            f"{run_id!r} is not a file, a folder or a run id in the history store "
            f"({path} does not exist)",
            hint="give a result.json, a report folder, or a run id shown by `gameday history`",
        )
    with HistoryStore(path) as history:
        result = history.get(run_id)
    if result is None:
        raise InvalidInputError(
            f"{run_id!r} is not a file, a folder or a finished run in {path}",
            hint="`gameday history` lists the run ids; a run that died has no result to report",
        )
    return result


@dataclass(frozen=True)
class PastRuns:
    """What a report shows beside its results: the trend of each scenario (``trend``: the
    last runs as (started_at, score), oldest first) and all-time run counts per (scenario,
    status); None when there is no store."""

    trend: dict[str, list[tuple[str, float | None]]] | None = None
    run_counts: dict[tuple[str, RunStatus], int] | None = None


def past_runs(store: Path | None, scenarios: Sequence[str], limit: int) -> PastRuns:
    """The trend (last ``limit`` runs of each of ``scenarios``) and the run counts of the
    store; empty when the store does not exist."""
    path = store or default_store_path()
    if not path.is_file():
        return PastRuns()
    with HistoryStore(path) as history:
        return PastRuns(history.trend(scenarios, limit=limit), history.outcome_counts())
