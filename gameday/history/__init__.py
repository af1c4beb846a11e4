"""The history of runs: a SQLite store (WAL) that reads and writes results only.

``HistoryStore`` records a run when it starts and finalises it when it ends; a run whose
process died is finalised as ``aborted`` by the next open. ``show_history`` is what
``gameday history`` prints.
"""

from __future__ import annotations

from gameday.history.schema import LATEST_VERSION
from gameday.history.store import (
    DEFAULT_STORE,
    HistoryRow,
    HistoryStatus,
    HistoryStore,
    Measurement,
    default_store_path,
    iso_utc,
)
from gameday.history.table import (
    HistoryFormat,
    parse_since,
    render_history_json,
    render_history_table,
    show_history,
)

__all__ = [
    "DEFAULT_STORE",
    "LATEST_VERSION",
    "HistoryFormat",
    "HistoryRow",
    "HistoryStatus",
    "HistoryStore",
    "Measurement",
    "default_store_path",
    "iso_utc",
    "parse_since",
    "render_history_json",
    "render_history_table",
    "show_history",
]
