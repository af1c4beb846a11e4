"""Moving a store's rows to another store, of either kind (``gameday history copy``).

Rows are read and written by column name, so a SQLite store and a PostgreSQL one (the same
schema, columns in another order after migrations) exchange them as they are: nothing is
re-derived from the result JSON, and a run that died without one keeps its ``aborted`` row.
A run still ``running`` is left behind: only its own writer can finish it, in its own store.
Writing skips what the target has already (a run by its id, a skipped fire time by all of its
fields), so a copy made twice adds nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.history.database import Database

Row = dict[str, Any]

_SKIP_FIELDS = ("scenario", "due_at", "skipped_at", "reason", "detail")


@dataclass(frozen=True)
class Archive:
    """A store's finished runs, their measurements and its skipped fire times, as rows."""

    runs: list[Row]
    measurements: list[Row]
    skips: list[Row]
    running: int
    """Runs left out because they are still running."""


@dataclass(frozen=True)
class CopyCounts:
    """What a copy did: runs and skipped fire times added, runs the target had already,
    and runs left out because they were still running."""

    runs: int
    present: int
    skips: int
    running: int


def _rows(db: Database, sql: str) -> list[Row]:
    found = db.execute(sql)
    names = [column[0] for column in found.description]
    return [dict(zip(names, values, strict=True)) for values in found.fetchall()]


def read_archive(db: Database) -> Archive:
    """Every finished run of the store (oldest first), its measurements, and every skip."""
    runs = _rows(db, "SELECT * FROM runs WHERE status != 'running' ORDER BY started_at, run_id")
    measurements = _rows(
        db,
        "SELECT m.* FROM measurements AS m JOIN runs AS r ON r.run_id = m.run_id "
        "WHERE r.status != 'running' ORDER BY m.run_id, m.position",
    )
    skips = _rows(db, f"SELECT {', '.join(_SKIP_FIELDS)} FROM schedule_skips ORDER BY due_at")
    running = int(db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0])
    return Archive(runs, measurements, skips, running)


def _insert(db: Database, table: str, rows: Sequence[Row], conflict: str = "") -> None:
    if not rows:
        return
    names = list(rows[0])
    db.executemany(
        f"INSERT INTO {table} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + name for name in names)}){conflict}",
        rows,
    )


def write_archive(db: Database, archive: Archive) -> CopyCounts:
    """Add what the target lacks of ``archive``; inside the caller's write transaction."""
    present = {row[0] for row in db.execute("SELECT run_id FROM runs").fetchall()}
    runs = [row for row in archive.runs if row["run_id"] not in present]
    new = {row["run_id"] for row in runs}
    # ON CONFLICT: a runner may record the same run id between the read above and here.
    _insert(db, "runs", runs, " ON CONFLICT (run_id) DO NOTHING")
    _insert(
        db,
        "measurements",
        [m for m in archive.measurements if m["run_id"] in new],
        " ON CONFLICT (run_id, position) DO NOTHING",
    )
    fields = ", ".join(_SKIP_FIELDS)
    known = {tuple(row) for row in db.execute(f"SELECT {fields} FROM schedule_skips")}
    skips = [s for s in archive.skips if tuple(s[f] for f in _SKIP_FIELDS) not in known]
    _insert(db, "schedule_skips", skips)
    return CopyCounts(len(runs), len(archive.runs) - len(runs), len(skips), archive.running)
