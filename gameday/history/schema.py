"""The history store's tables, and the migrations that bring an older store up to date.

One migration path, two dialects: a step is written once in SQLite's spelling and runs on
PostgreSQL too (``gameday.history.postgresql`` reads it) unless it needs what only SQLite has
(a table rebuild, its JSON functions): then ``MIGRATIONS_POSTGRESQL`` holds its PostgreSQL
spelling. In PostgreSQL the version lives in the one-row table ``gameday_schema``; a
PostgreSQL store never had version 0.

In SQLite the version lives in ``PRAGMA user_version``. A new store is created at the latest version
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
Version 4 lets a run's status be ``inconclusive`` (a drill whose fault matched no call): the
status is a CHECK constraint, which SQLite cannot alter, so the runs table is rebuilt.
Version 5 adds each run's owner (the scenario's ``metadata.owner``) and capabilities (what its
faults take away, comma-separated), for the posture report; filled in from each run's result
JSON for the rows an older version wrote.
Version 6 takes the score and grade away from a run aborted by anything but a guardrail (a
signal, a runner that died, a v0 row left running): such a stop says nothing about the app, so
the run is kept out of every mean. Older versions stored it as 0 / F, in the columns and in
its result JSON; both lose them, and its measurements stay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from gameday.errors import InvalidInputError
from gameday.grading import GUARDRAIL_PREFIX
from gameday.history.database import Database, Dialect

LATEST_VERSION = 6

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

# The runs table as version 4 has it: version 1's, with 'inconclusive' among the statuses.
_RUNS_V4 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (
        status IN ('running', 'passed', 'failed', 'aborted', 'error', 'not-steady',
                   'inconclusive')
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

_RUN_COLUMNS = (
    "run_id, scenario, environment, status, started_at, ended_at, score, grade, reason, "
    "writer_host, writer_boot, writer_pid, writer_start, writer_pid_namespace, result"
)

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


_RUN_LABELS_V5 = (
    "ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE runs ADD COLUMN capabilities TEXT NOT NULL DEFAULT ''",
)


def capabilities_text(names: Iterable[str]) -> str:
    """How a run's capabilities are stored: sorted, comma-separated ('' for none)."""
    return ",".join(sorted(names))


def _create_latest(db: Database) -> None:
    db.execute(_RUNS_V4)
    for statement in _RUN_LABELS_V5:
        db.execute(statement)
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


def _migrate_0_to_1(db: Database) -> None:
    """Schema 0 -> 1: new columns read from each run's result JSON, measurements split out.

    A v0 row still ``running`` has no recorded writer, so nobody could ever tell whether it
    died: it becomes ``aborted`` with that reason, scored 0 / F as every abort then was (step
    5 -> 6 takes that score away again).
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


def _migrate_1_to_2(db: Database) -> None:
    """Schema 1 -> 2: the scheduler's skipped fire times join the schema."""
    db.execute(_SKIPS_V2)
    for statement in _INDEXES_V2:
        db.execute(statement)


def _migrate_2_to_3(db: Database) -> None:
    """Schema 2 -> 3: weight, critical and detail per measurement, from each result's JSON."""
    for statement in _MEASUREMENT_COLUMNS_V3:
        db.execute(statement)
    db.execute(_FILL_MEASUREMENTS_V3)


def _migrate_3_to_4(db: Database) -> None:
    """Schema 3 -> 4: the runs table rebuilt with 'inconclusive' allowed, rows kept.

    SQLite cannot alter a constraint (https://www.sqlite.org/lang_altertable.html): the old
    table is set aside, the new one created under its name and filled, the old one dropped.
    ``legacy_alter_table`` keeps the measurements' reference on the name ``runs`` (a modern
    rename would follow the old table), and ``migrate`` turns foreign keys off around it, so
    that dropping the old table does not cascade into the measurements.
    """
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        db.execute("ALTER TABLE runs RENAME TO runs_v3")
    finally:
        db.execute("PRAGMA legacy_alter_table = OFF")
    db.execute(_RUNS_V4)
    db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) SELECT {_RUN_COLUMNS} FROM runs_v3")
    db.execute("DROP TABLE runs_v3")
    # Indexes last: the old ones moved with the renamed table and went with it.
    for statement in _INDEXES_V1:
        db.execute(statement)


def _labels(result: str) -> tuple[str, str]:
    """(owner, capabilities text) from a stored result JSON; empty when it has none."""
    try:
        scenario = json.loads(result).get("scenario") or {}
    except (ValueError, AttributeError):
        return "", ""
    owner = scenario.get("owner")
    capabilities = scenario.get("capabilities")
    return (
        owner if isinstance(owner, str) else "",
        capabilities_text(c for c in capabilities or () if isinstance(c, str)),
    )


def _migrate_4_to_5(db: Database) -> None:
    """Schema 4 -> 5: each run's owner and capabilities, from its result JSON.

    Read in Python rather than with SQLite's JSON functions, so that the step is the same
    plain SQL in every dialect; the updates follow the read (a table is not updated while a
    cursor walks it).
    """
    for statement in _RUN_LABELS_V5:
        db.execute(statement)
    found = db.execute("SELECT run_id, result FROM runs WHERE result IS NOT NULL")
    labels = [(*_labels(result), run_id) for run_id, result in found]
    db.executemany(
        "UPDATE runs SET owner = ?, capabilities = ? WHERE run_id = ?",
        [label for label in labels if label[:2] != ("", "")],
    )


# What the writer stores (``RunResult.model_dump_json()``): compact, UTF-8 left as it is. The
# rewritten JSON matches it byte for byte but for the two values cleared and, rarely, the
# spelling of a tiny float's exponent (1e-7 is written 1e-07): the same number.
_RESULT_SEPARATORS = (",", ":")


def _unscored_result(result: str | None) -> str | None:
    """``result`` with its ``score`` and ``grade`` set to null; None when it needs no change
    (no JSON, not an object, or already without them), so that it is left as stored."""
    if result is None:
        return None
    try:
        parsed = json.loads(result)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    scored = [key for key in ("score", "grade") if parsed.get(key) is not None]
    if not scored:
        return None
    parsed.update(dict.fromkeys(scored))
    return json.dumps(parsed, separators=_RESULT_SEPARATORS, ensure_ascii=False)


def _migrate_5_to_6(db: Database) -> None:
    """Schema 5 -> 6: an abort that was not a guardrail's loses its score and grade.

    The reason is tested in Python, as ``grading.is_guardrail_abort`` does (SQLite's LIKE
    ignores case, PostgreSQL's does not); the result JSON is rewritten in Python too, as in
    step 4 -> 5, so that the step is the same plain SQL in every dialect.
    """
    found = db.execute("SELECT run_id, reason, result FROM runs WHERE status = 'aborted'")
    unscored = [
        (run_id, result)
        for run_id, reason, result in found.fetchall()
        if reason is None or not reason.startswith(GUARDRAIL_PREFIX)
    ]
    db.executemany(
        "UPDATE runs SET score = NULL, grade = NULL WHERE run_id = ?",
        [(run_id,) for run_id, _ in unscored],
    )
    rewritten = [(_unscored_result(result), run_id) for run_id, result in unscored]
    db.executemany(
        "UPDATE runs SET result = ? WHERE run_id = ?",
        [(result, run_id) for result, run_id in rewritten if result is not None],
    )


MIGRATIONS: dict[int, Callable[[Database], None]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
    5: _migrate_5_to_6,
}
"""Step ``n -> n + 1`` for every version below ``LATEST_VERSION``."""


def _has_runs_table(db: Database) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
    return found.fetchone() is not None


def _check_references(db: Database, where: str) -> None:
    """What foreign keys would have enforced during a migration, checked before it commits."""
    broken = db.execute("PRAGMA foreign_key_check").fetchone()
    if broken is not None:
        raise InvalidInputError(
            f"{where}: migrating the history store would break a reference ({broken[0]} row "
            f"{broken[1]} -> {broken[2]}); the store was left as it was",
            hint="keep a copy of the store and report this",
        )


def migrate(db: Database, where: str) -> int:
    """Bring the store to ``LATEST_VERSION`` in one write transaction; the version found.

    ``db`` is in autocommit mode (isolation_level None); ``where`` names the store in errors.
    SQLite: foreign keys are off while it migrates (a rebuilt table must not cascade) and
    checked before it commits. PostgreSQL: see ``_migrate_postgresql``.
    """
    if db.dialect is Dialect.POSTGRESQL:
        return _migrate_postgresql(db, where)
    # The pragma is a no-op inside a transaction: set it before BEGIN, restore it after.
    enforced = bool(db.execute("PRAGMA foreign_keys").fetchone()[0])
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        return _migrate(db, where)
    finally:
        if enforced:
            db.execute("PRAGMA foreign_keys = ON")


def _migrate(db: Database, where: str) -> int:
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
        if version != LATEST_VERSION:
            _check_references(db, where)
        db.execute(f"PRAGMA user_version = {LATEST_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return version


# PostgreSQL keeps the version in a table of its own: it has no user_version.
_VERSION_TABLE_POSTGRESQL = "CREATE TABLE gameday_schema (version INTEGER NOT NULL)"

_FILL_MEASUREMENTS_V3_POSTGRESQL = """
UPDATE measurements AS m
SET weight = COALESCE((o.value ->> 'weight')::double precision, 1.0),
    critical = COALESCE((o.value ->> 'critical')::boolean::integer, 0),
    detail = COALESCE(o.value ->> 'detail', '')
FROM runs AS r,
     jsonb_array_elements(r.result::jsonb -> 'objectives') WITH ORDINALITY AS o (value, n)
WHERE r.run_id = m.run_id AND o.n - 1 = m.position AND r.result IS NOT NULL
"""


def _migrate_2_to_3_postgresql(db: Database) -> None:
    """Schema 2 -> 3 in PostgreSQL: as in SQLite, with PostgreSQL's JSON functions."""
    for statement in _MEASUREMENT_COLUMNS_V3:
        db.execute(statement)
    db.execute(_FILL_MEASUREMENTS_V3_POSTGRESQL)


def _migrate_3_to_4_postgresql(db: Database) -> None:
    """Schema 3 -> 4 in PostgreSQL: the status constraint is replaced in place (PostgreSQL
    names a column's CHECK ``<table>_<column>_check``)."""
    db.execute("ALTER TABLE runs DROP CONSTRAINT runs_status_check")
    db.execute(
        "ALTER TABLE runs ADD CONSTRAINT runs_status_check CHECK (status IN ('running', "
        "'passed', 'failed', 'aborted', 'error', 'not-steady', 'inconclusive'))"
    )


FIRST_POSTGRESQL_VERSION = 1
"""Gameday never wrote schema 0 (the prototype's) to PostgreSQL."""

MIGRATIONS_POSTGRESQL: dict[int, Callable[[Database], None]] = {
    step: {2: _migrate_2_to_3_postgresql, 3: _migrate_3_to_4_postgresql}.get(step, forward)
    for step, forward in MIGRATIONS.items()
    if step >= FIRST_POSTGRESQL_VERSION
}
"""The same steps: those written in plain SQL are shared; SQLite's JSON functions and table
rebuilds have their PostgreSQL spelling."""


def _postgresql_version(db: Database, where: str) -> int | None:
    """The store's version; None for an empty schema. A ``runs`` table without gameday's
    version table is someone else's: refused."""
    has_version, has_runs = db.execute(
        "SELECT to_regclass('gameday_schema') IS NOT NULL, to_regclass('runs') IS NOT NULL"
    ).fetchone()
    if has_version:
        row = db.execute("SELECT version FROM gameday_schema").fetchone()
        return 0 if row is None else int(row[0])
    if has_runs:
        raise InvalidInputError(
            f"{where}: not a gameday history store: a runs table without gameday's "
            "schema version (gameday_schema)",
            hint="give another database or schema with --store or GAMEDAY_STORE",
        )
    return None


def _migrate_postgresql(db: Database, where: str) -> int:
    """Schema changes are transactional in PostgreSQL: a step that fails leaves the store as
    it was. A transaction-level advisory lock (keyed by the store's schema) makes runners
    that open a new or older store at once migrate it one after another."""
    db.execute(db.begin)
    try:
        db.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('gameday:migrate:' || "
            "current_schema(), 0))"
        )
        version = _postgresql_version(db, where)
        if version is not None and version > LATEST_VERSION:
            raise InvalidInputError(
                f"{where}: history schema version {version} is newer than this gameday's "
                f"({LATEST_VERSION})",
                hint="upgrade gameday, or give another store with --store / GAMEDAY_STORE",
            )
        if version is None:
            _create_latest(db)
            db.execute(_VERSION_TABLE_POSTGRESQL)
            db.execute("INSERT INTO gameday_schema (version) VALUES (?)", (LATEST_VERSION,))
        elif version < FIRST_POSTGRESQL_VERSION:
            raise InvalidInputError(
                f"{where}: history schema version {version} was never written to PostgreSQL",
                hint="give another database or schema with --store or GAMEDAY_STORE",
            )
        else:
            for step in range(version, LATEST_VERSION):
                MIGRATIONS_POSTGRESQL[step](db)
            db.execute("UPDATE gameday_schema SET version = ?", (LATEST_VERSION,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return 0 if version is None else version
