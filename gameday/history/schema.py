"""The history store's tables, and the migrations that bring an older store up to date.

The version lives in ``PRAGMA user_version``. A new store is created at the latest version
directly; an older one is migrated step by step, each step in the same transaction as the
version bump, so a store is never left half-migrated. A store from a newer gameday is refused
rather than guessed at.

Version 0 is the prototype layout (one ``runs`` table: run_id, scenario, status, score,
started_at, result JSON; no writer, no measurements). Version 1 adds the environment, end
time, grade, reason, the writer of a running row, and one row per objective measurement.
Version 2 adds ``schedule_skips``: the scheduler's fire times that did not run (a skipped fire
time is not a run, so it has a table of its own; ``gameday schedule run`` kept it there before,
outside the versioned schema, and a store that has it keeps its rows).
Version 3 adds each measurement's weight, critical flag and detail, so that the store reads
back the result's own record of an objective (``ObjectiveResult``), filled in from each run's
result JSON for the rows an older version wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from gameday.errors import InvalidInputError

LATEST_VERSION = 3

_RUNS_V1 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (
        status IN ('running', 'passed', 'failed', 'aborted', 'error', 'not-steady')
    ),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    score REAL,
    grade TEXT,
    reason TEXT,
    writer_host TEXT,
    writer_boot TEXT,
    writer_pid INTEGER,
    writer_start TEXT,
    writer_pid_namespace TEXT,
    result TEXT
)
"""

_MEASUREMENTS_V1 = """
CREATE TABLE measurements (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    objective TEXT NOT NULL,
    kind TEXT NOT NULL,
    probe TEXT NOT NULL,
    target REAL NOT NULL,
    measured REAL,
    met INTEGER NOT NULL,
    credit REAL NOT NULL,
    PRIMARY KEY (run_id, position)
)
"""

_INDEXES_V1 = (
    "CREATE INDEX runs_by_scenario ON runs (scenario, started_at)",
    "CREATE INDEX runs_by_time ON runs (started_at)",
    # Opening a store looks for running rows to finalise; the partial index keeps that cheap.
    "CREATE INDEX runs_running ON runs (status) WHERE status = 'running'",
)


# IF NOT EXISTS: before version 2 the scheduler created this very table itself, in stores
# still at version 1; migrating such a store keeps the skips it recorded.
_SKIPS_V2 = """
CREATE TABLE IF NOT EXISTS schedule_skips (
    scenario TEXT NOT NULL,
    due_at TEXT NOT NULL,
    skipped_at TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('busy', 'late')),
    detail TEXT NOT NULL
)
"""

_INDEXES_V2 = (
    "CREATE INDEX IF NOT EXISTS schedule_skips_by_scenario ON schedule_skips (scenario, due_at)",
)


_MEASUREMENT_COLUMNS_V3 = (
    "ALTER TABLE measurements ADD COLUMN weight REAL NOT NULL DEFAULT 1.0",
    "ALTER TABLE measurements ADD COLUMN critical INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE measurements ADD COLUMN detail TEXT NOT NULL DEFAULT ''",
)

_FILL_MEASUREMENTS_V3 = """
UPDATE measurements AS m
SET weight = COALESCE(json_extract(o.value, '$.weight'), 1.0),
    critical = COALESCE(json_extract(o.value, '$.critical'), 0),
    detail = COALESCE(json_extract(o.value, '$.detail'), '')
FROM runs AS r, json_each(r.result, '$.objectives') AS o
WHERE r.run_id = m.run_id AND o.key = m.position
  AND r.result IS NOT NULL AND json_valid(r.result)
"""


def _create_latest(db: sqlite3.Connection) -> None:
    db.execute(_RUNS_V1)
    db.execute(_MEASUREMENTS_V1)
    for statement in _MEASUREMENT_COLUMNS_V3:
        db.execute(statement)
    for statement in _INDEXES_V1:
        db.execute(statement)
    db.execute(_SKIPS_V2)
    for statement in _INDEXES_V2:
        db.execute(statement)


_COPY_RUNS_FROM_V0 = """
INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at, score, grade,
                  reason, result)
SELECT run_id, scenario,
       COALESCE(json_extract(result, '$.environment'), 'unknown'),
       CASE status WHEN 'running' THEN 'aborted' ELSE status END,
       started_at,
       json_extract(result, '$.ended_at'),
       CASE status WHEN 'running' THEN 0.0 ELSE score END,
       CASE status WHEN 'running' THEN 'F' ELSE json_extract(result, '$.grade') END,
       CASE status
           WHEN 'running' THEN 'still running when the store was migrated from schema 0, '
                               || 'which did not record its writer'
           ELSE json_extract(result, '$.reason')
       END,
       result
FROM runs_v0
"""

_COPY_MEASUREMENTS_FROM_V0 = """
INSERT INTO measurements (run_id, position, objective, kind, probe, target, measured, met,
                          credit)
SELECT r.run_id, o.key,
       json_extract(o.value, '$.name'), json_extract(o.value, '$.kind'),
       json_extract(o.value, '$.probe'), json_extract(o.value, '$.target'),
       json_extract(o.value, '$.measured'), json_extract(o.value, '$.met'),
       json_extract(o.value, '$.credit')
FROM runs_v0 AS r, json_each(r.result, '$.objectives') AS o
WHERE r.result IS NOT NULL AND json_valid(r.result)
"""


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    """Schema 0 -> 1: new columns read from each run's result JSON, measurements split out.

    A v0 row still ``running`` has no recorded writer, so nobody could ever tell whether it
    died: it becomes ``aborted`` (an F with score 0, as a guardrail abort) with that reason.
    """
    db.execute("ALTER TABLE runs RENAME TO runs_v0")
    db.execute(_RUNS_V1)
    db.execute(_MEASUREMENTS_V1)
    db.execute(_COPY_RUNS_FROM_V0)
    db.execute(_COPY_MEASUREMENTS_FROM_V0)
    db.execute("DROP TABLE runs_v0")
    # Indexes last: a v0 index moved with the renamed table and might share a name.
    for statement in _INDEXES_V1:
        db.execute(statement)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the scheduler's skipped fire times join the schema."""
    db.execute(_SKIPS_V2)
    for statement in _INDEXES_V2:
        db.execute(statement)


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3: weight, critical and detail per measurement, from each result's JSON."""
    for statement in _MEASUREMENT_COLUMNS_V3:
        db.execute(statement)
    db.execute(_FILL_MEASUREMENTS_V3)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}
"""Step ``n -> n + 1`` for every version below ``LATEST_VERSION``."""


def _has_runs_table(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
    return found.fetchone() is not None


def migrate(db: sqlite3.Connection, where: str) -> int:
    """Bring the store to ``LATEST_VERSION`` in one write transaction; the version found.

    ``db`` is in autocommit mode (isolation_level None); ``where`` names the store in errors.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > LATEST_VERSION:
            raise InvalidInputError(
                f"{where}: history schema version {version} is newer than this gameday's "
                f"({LATEST_VERSION})",
                hint="upgrade gameday, or give another store with --store / GAMEDAY_STORE",
            )
        if version == 0 and not _has_runs_table(db):
            _create_latest(db)
        else:
            for step in range(version, LATEST_VERSION):
                MIGRATIONS[step](db)
        db.execute(f"PRAGMA user_version = {LATEST_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return version
