"""Reading the store for ``gameday history`` and ``gameday report``, never creating it.

A store that does not exist yet simply has no runs: these readers open a SQLite store only
when the file is there, and hand back rows, results and counts (the reports render them). A
PostgreSQL store is a database that exists already: opening it is reading it (gameday's
tables are created in it on the first open, empty).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.history.location import StoreLocation, store_location
from gameday.history.store import FinishedRun, HistoryRow, HistoryStore
from gameday.kinds import ObjectiveKind, RunStatus
from gameday.result import RunResult

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str, option: str) -> timedelta:
    """An age for ``option`` (``--stale-after``): ``30m``, ``12h``, ``7d``, ``2w``, above 0."""
    relative = _RELATIVE.match(text.strip())
    if relative is None or int(relative.group(1)) == 0:
        raise InvalidInputError(
            f"{option}: cannot read {text!r} as an age above 0",
            hint="give a number and a unit: 30m, 12h, 30d, 2w",
        )
    return timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})


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


def _missing(location: StoreLocation) -> bool:
    return location.path is not None and not location.path.is_file()


def read_runs(
    store: str | Path | None = None, scenario: str | None = None, since: str | None = None
) -> list[HistoryRow]:
    """``gameday history``: the runs of the store (default ``store_location()``), newest
    first, of one scenario or all, since ``since`` (see ``parse_since``)."""
    moment = None if since is None else parse_since(since)
    location = store_location(store)
    if _missing(location):
        return []
    with HistoryStore(location) as history:
        return history.runs(scenario=scenario, since=moment)


def read_finished_runs(
    store: str | Path | None, kinds: Sequence[ObjectiveKind]
) -> list[FinishedRun]:
    """``gameday report --posture``: every finished run of the store, with its measurements
    of ``kinds`` (see ``HistoryStore.finished_runs``); none when the store does not exist."""
    location = store_location(store)
    if _missing(location):
        return []
    with HistoryStore(location) as history:
        return history.finished_runs(kinds)


def stored_result(run_id: str, store: str | Path | None = None) -> RunResult:
    """``gameday report RUN_ID``: the result of a finished run in the store.

    ``gameday report`` looks for a file and a folder first, so the errors say the source was
    none of the three.
    """
    location = store_location(store)
    if _missing(location):
        raise InvalidInputError(
            f"{run_id!r} is not a file, a folder or a run id in the history store "
            f"({location} does not exist)",
            hint="give a result.json, a report folder, or a run id shown by `gameday history`",
        )
    with HistoryStore(location) as history:
        result = history.get(run_id)
    if result is None:
        raise InvalidInputError(
            f"{run_id!r} is not a file, a folder or a finished run in {location}",
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


def past_runs(store: str | Path | None, scenarios: Sequence[str], limit: int) -> PastRuns:
    """The trend (last ``limit`` runs of each of ``scenarios``) and the run counts of the
    store; empty when the store does not exist."""
    location = store_location(store)
    if _missing(location):
        return PastRuns()
    with HistoryStore(location) as history:
        return PastRuns(history.trend(scenarios, limit=limit), history.outcome_counts())
