"""The history of runs: a SQLite store (WAL) on one machine, or a PostgreSQL store for a
fleet (``--store postgresql://...``), that reads and writes results only.

``HistoryStore`` records a run when it starts and finalises it when it ends; a run whose
process died is finalised as ``aborted`` by the next open. It also keeps the scheduler's
skipped fire times. ``read_runs``, ``stored_result`` and ``past_runs`` read a store without
creating it, for ``gameday history`` and ``gameday report`` (``gameday.reports`` renders what
they return).
"""

from __future__ import annotations

from gameday.history.location import DEFAULT_STORE, StoreLocation, store_location
from gameday.history.query import (
    PastRuns,
    parse_age,
    parse_since,
    past_runs,
    read_finished_runs,
    read_runs,
    stored_result,
)
from gameday.history.schema import LATEST_VERSION
from gameday.history.store import (
    FinishedRun,
    HistoryRow,
    HistoryStatus,
    HistoryStore,
    Skip,
    SkipReason,
    iso_utc,
)

__all__ = [
    "DEFAULT_STORE",
    "LATEST_VERSION",
    "FinishedRun",
    "HistoryRow",
    "HistoryStatus",
    "HistoryStore",
    "PastRuns",
    "Skip",
    "SkipReason",
    "StoreLocation",
    "iso_utc",
    "parse_age",
    "parse_since",
    "past_runs",
    "read_finished_runs",
    "read_runs",
    "store_location",
    "stored_result",
]
