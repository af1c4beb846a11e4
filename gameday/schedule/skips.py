"""Fire times that did not run, kept in the scheduler's own table of the history's SQLite file.

The history's ``runs`` table holds runs, and a skipped fire time is not a run (its status
check allows only the statuses of runs), so the scheduler keeps its own table beside it::

    with SkipLog(store_path) as skips:
        skips.record([Skip("identity-loss", due_at, skipped_at, SkipReason.BUSY, detail)])
        skips.counts()  # {("identity-loss", SkipReason.BUSY): 1}
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from gameday.errors import InvalidInputError
from gameday.history import iso_utc

_TABLE = """
CREATE TABLE IF NOT EXISTS schedule_skips (
    scenario TEXT NOT NULL,
    due_at TEXT NOT NULL,
    skipped_at TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('busy', 'late')),
    detail TEXT NOT NULL
)
"""
_INDEX = (
    "CREATE INDEX IF NOT EXISTS schedule_skips_by_scenario ON schedule_skips (scenario, due_at)"
)


class SkipReason(StrEnum):
    """Why a fire time did not run."""

    BUSY = "busy"
    """Another drill was running when it fell due (never two drills at once)."""
    LATE = "late"
    """The scheduler was not looking when it fell due (the machine slept, the clock jumped)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """One fire time that did not run; times as ``iso_utc`` text."""

    scenario: str
    due_at: str
    skipped_at: str
    reason: SkipReason
    detail: str


class SkipLog:
    """The ``schedule_skips`` table of the SQLite file at ``path`` (created when missing)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
            self._db.execute(_TABLE)
            self._db.execute(_INDEX)
        except sqlite3.Error as error:
            raise InvalidInputError(
                f"{path}: cannot keep the scheduler's skipped runs: {error}",
                hint="give a writable history store with --store or GAMEDAY_STORE",
            ) from None

    def close(self) -> None:
        """Close the connection; the table stays."""
        self._db.close()

    def __enter__(self) -> SkipLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def record(self, skips: Sequence[Skip]) -> None:
        """Add ``skips`` in one transaction."""
        if not skips:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO schedule_skips (scenario, due_at, skipped_at, reason, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (s.scenario, iso_utc(s.due_at), iso_utc(s.skipped_at), s.reason.value, s.detail)
                    for s in skips
                ],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def skips(self, scenario: str | None = None) -> list[Skip]:
        """Skipped fire times, oldest first, of one scenario or all."""
        rows = self._db.execute(
            "SELECT scenario, due_at, skipped_at, reason, detail FROM schedule_skips "
            "WHERE (:scenario IS NULL OR scenario = :scenario) ORDER BY due_at, rowid",
            {"scenario": scenario},
        )
        return [
            Skip(name, due, at, SkipReason(reason), detail)
            for name, due, at, reason, detail in rows
        ]

    def counts(self) -> dict[tuple[str, SkipReason], int]:
        """Skipped fire times per (scenario, reason), all time: the skipped counter."""
        rows = self._db.execute(
            "SELECT scenario, reason, COUNT(*) FROM schedule_skips GROUP BY scenario, reason"
        )
        return {(name, SkipReason(reason)): count for name, reason, count in rows}
